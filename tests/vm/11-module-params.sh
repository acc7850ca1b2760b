#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Parameters: bad values (zero, negative, absurdly large, not a number)
# make insmod fail with a one-line reason in the kernel log naming the
# parameter; runtime writes are validated the same way and leave the old
# value; good runtime writes take effect; the port filter filters.
. "$(dirname "$0")/lib.sh"

P=/sys/module/tcpstate/parameters
# Loading 1.7 MB of debug info takes seconds under TCG; refused loads
# need none of it.
KO_SMALL=$T/tcpstate.ko
strip --strip-debug -o "$KO_SMALL" "$TCPSTATE_KO"

# insmod_refused PARAM=VALUE: insmod fails and the log says why.
insmod_refused() {
	local arg=$1 name=${1%%=*} before
	before=$(dmesg | wc -l)
	if insmod "$KO_SMALL" "$arg" 2>"$T/err"; then
		rmmod tcpstate
		fail "insmod with $arg succeeded"
	fi
	! grep -q '^tcpstate ' /proc/modules || fail "tcpstate loaded after a refused insmod $arg"
	dmesg | tail -n +"$((before + 1))" >"$T/log"
	assert_grep "tcpstate: $name=.* refused: expected" "$T/log" "kernel log after insmod $arg"
}

for bad in max_flows=0 max_flows=-1 max_flows=99999999999 max_flows=lots \
	time_wait_ms=0 time_wait_ms=600001 time_wait_ms=1s linger_ms=abc \
	ring_size=8 ring_size=1000000000 timeout_syn=0 \
	timeout_established=99999999 ipv6=maybe ports=0 ports=65536 \
	ports=http ports=80,,81 retransmits=2 keepalives=maybe; do
	insmod_refused "$bad"
done
info "every bad insmod value refused with a log line"

# Good values at insmod are taken as given.
load_tcpstate max_flows=1000 time_wait_ms=1500 linger_ms=200 ports=80,8080 \
	ipv6=0 ring_size=1024 retransmits=1 keepalives=1
at_exit rmmod tcpstate
assert_eq "$(cat $P/max_flows)" 1000 max_flows
assert_eq "$(cat $P/time_wait_ms)" 1500 time_wait_ms
assert_eq "$(cat $P/ports)" 80,8080 ports
assert_eq "$(cat $P/ipv6)" N ipv6
assert_eq "$(cat $P/ring_size)" 1024 ring_size
assert_eq "$(cat $P/retransmits)" Y retransmits
assert_eq "$(cat $P/keepalives)" Y keepalives

# write_refused FILE VALUE: the write fails and the value stays.
write_refused() {
	local f=$P/$1 old before
	old=$(cat "$f")
	before=$(dmesg | wc -l)
	if sh -c "echo '$2' > $f" 2>/dev/null; then
		fail "writing '$2' to $1 succeeded"
	fi
	assert_eq "$(cat "$f")" "$old" "$1 after refused write '$2'"
	dmesg | tail -n +"$((before + 1))" >"$T/log"
	assert_grep "tcpstate: $1=.* refused" "$T/log" "kernel log after writing $1=$2"
}
for kv in max_flows:0 max_flows:-3 max_flows:abc max_flows:4294967296 \
	time_wait_ms:0 time_wait_ms:9999999 linger_ms:-1 timeout_syn:0 \
	timeout_fin_wait:abc ports:0 ports:99999 ports:a,b ipv6:2 \
	retransmits:x keepalives:2; do
	write_refused "${kv%%:*}" "${kv#*:}"
done
# The ring is sized once, at load.
if sh -c "echo 4096 > $P/ring_size" 2>/dev/null; then
	fail "ring_size is writable at runtime"
fi

echo 5000 >$P/max_flows
assert_eq "$(cat $P/max_flows)" 5000 "max_flows after a good write"
echo 2000 >$P/time_wait_ms
assert_eq "$(cat $P/time_wait_ms)" 2000 "time_wait_ms after a good write"
echo 1 >$P/ipv6
assert_eq "$(cat $P/ipv6)" Y "ipv6 after a good write"
echo 0 >$P/retransmits
assert_eq "$(cat $P/retransmits)" N "retransmits after a good write"

# The port filter: only port 8080 is watched.
echo 8080 >$P/ports
assert_eq "$(cat $P/ports)" 8080 "ports after a good write"
ip link set lo up
"$PY" - <<'EOF'
import socket
for port in (8080, 9090):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen()
    c = socket.create_connection(("127.0.0.1", port)); a, _ = s.accept()
    c.close(); a.close(); s.close()
EOF
grep -q ':8080 ' /proc/tcpstate || fail "the flow to port 8080 is not listed"
! grep -q ':9090 ' /proc/tcpstate || fail "the flow to port 9090 is listed despite ports=8080"
[ "$(stat_value segments_filtered)" -gt 0 ] || fail "segments_filtered did not count"

# Empty list: every port again.
echo "" >$P/ports
assert_eq "$(cat $P/ports)" "" "ports after clearing"
