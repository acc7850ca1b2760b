# SPDX-License-Identifier: GPL-2.0
#
# Helpers for VM scenario tests written in bash.  Source it first:
#
#   #!/bin/bash
#   . "$(dirname "$0")/lib.sh"
#   netns_pair a b                  # 10.99.0.1 (a) <-veth-> 10.99.0.2 (b)
#   load_tcpstate
#   ...drive traffic, assert on /proc/tcpstate*...
#   unload_tcpstate
#
# tests/vm/run runs each scenario as root inside the VM with TCPSTATE_KO,
# TCPSTATE_ROOT and TCPSTATE_KVER set.  A scenario passes by exiting 0;
# `fail` (or any failing command, under set -e) fails it.  Cleanups
# registered with at_exit run in reverse order when the script exits.

set -eu

TCPSTATE_ROOT=${TCPSTATE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TCPSTATE_KVER=${TCPSTATE_KVER:-$(uname -r)}
TCPSTATE_KO=${TCPSTATE_KO:-$TCPSTATE_ROOT/build/$TCPSTATE_KVER/module/tcpstate.ko}
TCPSTATE_KO_FAULT=${TCPSTATE_KO_FAULT:-$TCPSTATE_ROOT/build/$TCPSTATE_KVER-fault/module/tcpstate.ko}
# The tree's version (scripts/version), worked out on the host by tests/run
# (git may refuse a checkout another user owns, as the guest sees it) or
# by make (build/version).
TCPSTATE_VERSION=${TCPSTATE_VERSION:-$(cat "$TCPSTATE_ROOT/build/version" 2>/dev/null || true)}
# shellcheck disable=SC2034 # used by the scenarios that source this
PY=/usr/bin/python3
TRACEFS=/sys/kernel/tracing
# A scratch directory that goes away with the test.
T=$(mktemp -d /tmp/tcpstate-test.XXXXXX)

# Never print lines that start with "PASS:" or "FAIL:": the runner's
# counters read those.
fail() {
	echo "error: $*" >&2
	exit 1
}

info() {
	echo "# $*"
}

_AT_EXIT=()
at_exit() {	# at_exit COMMAND...: run at exit (last registered runs first)
	_AT_EXIT+=("$*")
}
_run_at_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_AT_EXIT[$i]}" >/dev/null 2>&1
	done
	rm -rf "$T"
	exit "$rc"
}
trap _run_at_exit EXIT

need() {	# need TOOL...: a missing tool fails the test, never skips it
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found"
	done
}

# wait_until SECONDS COMMAND...: poll COMMAND every 50 ms until it
# succeeds; fail the test if it never does.
wait_until() {
	local limit=$1 deadline
	shift
	deadline=$(($(date +%s%N) + limit * 1000000000))
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			fail "timed out after ${limit}s waiting for: $*"
		fi
		sleep 0.05
	done
}

assert_eq() {	# assert_eq GOT WANT WHAT
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', want '$2'"
}

assert_grep() {	# assert_grep EXTENDED-REGEX FILE [WHAT]
	grep -q -E -- "$1" "$2" ||
		{ echo "--- $2:" >&2; head -n 50 "$2" >&2; fail "${3:-$2} has no line matching /$1/"; }
}

assert_no_grep() {	# assert_no_grep EXTENDED-REGEX FILE [WHAT]
	if grep -E -- "$1" "$2" >&2; then
		fail "${3:-$2} has a line matching /$1/"
	fi
}

# netns_pair A B [V4PREFIX [V6PREFIX]]: namespaces A and B joined by a veth
# pair, A=PREFIX.1 and B=PREFIX.2 (default 10.99.0.x/24 and fd99::x/64),
# loopback up in both.  Removed at exit.
netns_pair() {
	local a=$1 b=$2 v4=${3:-10.99.0} v6=${4:-fd99:}
	need ip
	ip netns add "$a"
	at_exit ip netns del "$a"
	ip netns add "$b"
	at_exit ip netns del "$b"
	ip link add "veth-$a" netns "$a" type veth peer name "veth-$b" netns "$b"
	ip -n "$a" link set lo up
	ip -n "$b" link set lo up
	ip -n "$a" addr add "$v4.1/24" dev "veth-$a"
	ip -n "$b" addr add "$v4.2/24" dev "veth-$b"
	ip -n "$a" addr add "$v6:1/64" dev "veth-$a" nodad
	ip -n "$b" addr add "$v6:2/64" dev "veth-$b" nodad
	ip -n "$a" link set "veth-$a" up
	ip -n "$b" link set "veth-$b" up
	wait_until 10 _link_up "$a" "veth-$a"
	wait_until 10 _link_up "$b" "veth-$b"
}
_link_up() {	# _link_up NS DEV: the device's carrier is up
	ip -n "$1" -br link show dev "$2" | grep -q ' UP '
}

in_ns() {	# in_ns NS COMMAND...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# wait_listen [NS] PORT: until a TCP socket listens on PORT (in NS).
_listening() {
	local ns=$1 port=$2
	if [ -n "$ns" ]; then
		ip netns exec "$ns" ss -Htln "sport = :$port" | grep -q .
	else
		ss -Htln "sport = :$port" | grep -q .
	fi
}
wait_listen() {
	if [ $# -eq 2 ]; then
		wait_until 10 _listening "$1" "$2"
	else
		wait_until 10 _listening "" "$1"
	fi
}

# load_tcpstate [PARAM=VALUE...]: insmod the module under test.
load_tcpstate() {
	[ -r "$TCPSTATE_KO" ] || fail "module not built: $TCPSTATE_KO"
	if grep -q '^tcpstate ' /proc/modules; then
		fail "tcpstate is already loaded"
	fi
	insmod "$TCPSTATE_KO" "$@" || fail "insmod $TCPSTATE_KO $* failed"
	[ -e /proc/tcpstate ] || fail "/proc/tcpstate missing after insmod"
}

# unload_tcpstate: rmmod, and check the /proc files went with it.
unload_tcpstate() {
	rmmod tcpstate || fail "rmmod tcpstate failed"
	! grep -q '^tcpstate ' /proc/modules || fail "tcpstate still loaded after rmmod"
	[ ! -e /proc/tcpstate ] || fail "/proc/tcpstate still exists after rmmod"
	[ ! -e /proc/tcpstate_events ] || fail "/proc/tcpstate_events still exists after rmmod"
}

# events_start FILE: tail /proc/tcpstate_events into FILE in the
# background until events_stop (or exit).
_EVENTS_PID=
events_start() {
	cat /proc/tcpstate_events >"$1" &
	_EVENTS_PID=$!
	at_exit "kill $_EVENTS_PID"
}
events_stop() {
	[ -n "$_EVENTS_PID" ] || return 0
	kill "$_EVENTS_PID" 2>/dev/null || true
	wait "$_EVENTS_PID" 2>/dev/null || true
	_EVENTS_PID=
}

# wait_events FILE COUNT REGEX: until FILE has COUNT lines matching REGEX.
_count_at_least() {
	[ "$(grep -c -E -- "$3" "$1" 2>/dev/null || true)" -ge "$2" ]
}
wait_events() {
	wait_until "${4:-10}" _count_at_least "$1" "$2" "$3"
}

# stat_value NAME: one value from /proc/tcpstate_stats.
stat_value() {
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' \
		/proc/tcpstate_stats || fail "no '$1' in /proc/tcpstate_stats"
}

# The kernel's own view of socket states, for comparison: trace_start
# enables sock:inet_sock_set_state in a private tracefs instance,
# trace_stop FILE writes what it recorded to FILE.
_TRACE_INST=
trace_start() {
	[ -d "$TRACEFS/instances" ] || fail "tracefs is not mounted at $TRACEFS"
	_TRACE_INST=$TRACEFS/instances/tcpstate-$$
	mkdir "$_TRACE_INST"
	at_exit "rmdir $_TRACE_INST"
	echo 1 >"$_TRACE_INST/events/sock/inet_sock_set_state/enable"
	echo 1 >"$_TRACE_INST/tracing_on"
}
trace_stop() {
	[ -n "$_TRACE_INST" ] || fail "trace_stop without trace_start"
	echo 0 >"$_TRACE_INST/tracing_on"
	grep -v '^#' "$_TRACE_INST/trace" >"$1" || true
	echo 0 >"$_TRACE_INST/events/sock/inet_sock_set_state/enable"
}
