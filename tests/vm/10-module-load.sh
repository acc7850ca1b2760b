#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# race: the module loads, answers and unloads on this kernel at all
#
# The module loads and unloads and says its version, the tools' own; its
# /proc files have mode 0444, refuse
# writes even from root, print the documented header and every counter;
# the flow entries fit the budget (96 bytes IPv4, 128 IPv6) as the slab
# allocator really sizes them.
. "$(dirname "$0")/lib.sh"

load_tcpstate
at_exit rmmod tcpstate

# One version everywhere (scripts/version): the module's, as modinfo and
# /sys/module give it and as its load message says, and the tools'.
want=$TCPSTATE_VERSION
[ -n "$want" ] || fail "no TCPSTATE_VERSION (tests/run or make give it)"
assert_eq "$(modinfo -F version "$TCPSTATE_KO")" "$want" "modinfo version"
assert_eq "$(cat /sys/module/tcpstate/version)" "$want" "/sys/module/tcpstate/version"
assert_eq "$(head -n 1 /proc/tcpstate_stats)" "version $want" \
	"the first line of /proc/tcpstate_stats"
dmesg | grep -q "tcpstate: loaded: version $want, " ||
	fail "the load message does not give version $want"
assert_eq "$("$TCPSTATE_ROOT/tools/tcpstate" --version)" "tcpstate $want" "tcpstate --version"
assert_eq "$("$TCPSTATE_ROOT/tools/tcpstate-pcap" --version)" "tcpstate-pcap $want" \
	"tcpstate-pcap --version"

for f in /proc/tcpstate /proc/tcpstate_stats /proc/tcpstate_events; do
	[ -e "$f" ] || fail "$f missing"
	assert_eq "$(stat -c %a "$f")" 444 "mode of $f"
done

# Root bypasses the mode bits: the write itself must be refused.
for f in /proc/tcpstate /proc/tcpstate_stats; do
	err=$("$PY" -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, b"x\n")
    print("written")
except OSError as e:
    print(errno.errorcode[e.errno])
' "$f" 2>&1)
	case "$err" in
	EINVAL | EPERM) ;;
	*) fail "writing to $f as root: $err, want EINVAL or EPERM" ;;
	esac
done

want='netns       family client                 server                 client_state  server_state  age_ms   rtt_us  history   flags     keepalives'
assert_eq "$(head -n 1 /proc/tcpstate)" "$want" "/proc/tcpstate header"
assert_eq "$(wc -l </proc/tcpstate)" 1 "lines of an empty table"

cat /proc/tcpstate_stats >"$T/stats"
for name in segments_ipv4 segments_ipv6 flows_active flows_created \
	flows_evicted flows_expired handshakes refused resets \
	simultaneous_opens simultaneous_closes retransmissions pickups \
	invalid_flags invalid_ack invalid_rst invalid_unexpected \
	invalid_ip_length invalid_tcp_length fragments_ignored alloc_failures \
	flows_not_placed events_emitted events_overwritten entry_bytes_ipv4 \
	entry_bytes_ipv6 table_buckets client_ESTABLISHED server_TIME_WAIT \
	keepalive_probes keepalive_answers keepalive_peer_resets keepalive_timeouts; do
	assert_grep "^$name [0-9]+\$" "$T/stats" "/proc/tcpstate_stats"
done
assert_eq "$(stat_value flows_active)" 0 "flows_active after load"

b4=$(stat_value entry_bytes_ipv4)
b6=$(stat_value entry_bytes_ipv6)
info "entry bytes: ipv4 $b4, ipv6 $b6"
[ "$b4" -le 96 ] || fail "IPv4 entry is $b4 bytes, budget 96"
[ "$b6" -le 128 ] || fail "IPv6 entry is $b6 bytes, budget 128"
# What SLUB really carves per object (a merged cache is a symlink).  With
# SLUB debugging on (the debug kernel: red zones, poison, owner tracking)
# that includes the debugger's own bytes, so the object size is what
# counts there.
for c in tcpstate_flow4:96 tcpstate_flow6:128; do
	name=${c%:*} budget=${c#*:} dir=/sys/kernel/slab/${c%:*}
	if [ -e "$dir/slab_size" ]; then
		what=slab_size
		for d in red_zone poison store_user; do
			[ "$(cat "$dir/$d" 2>/dev/null)" != 1 ] || what=object_size
		done
		sz=$(cat "$dir/$what")
		info "$name $what $sz"
		[ "$sz" -le "$budget" ] || fail "$name $what $sz > $budget"
	fi
done

buckets=$(stat_value table_buckets)
[ $((buckets & (buckets - 1))) -eq 0 ] || fail "table_buckets $buckets is not a power of two"

unload_tcpstate
_AT_EXIT=()
assert_no_grep 'tcpstate' /proc/modules "/proc/modules"
