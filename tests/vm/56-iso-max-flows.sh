#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# race: max_flows written at run time against the packet path's check
#
# max_flows raised at run time (issue 10, item 7): the bucket count is
# chosen at load (max_flows / 2), so a write asking for more than 16
# flows a bucket on average is refused with -EINVAL, a log line that
# says why, and the old value kept; a write within that bound is taken.
. "$(dirname "$0")/lib.sh"

P=/sys/module/tcpstate/parameters
KO_SMALL=$T/tcpstate.ko
strip --strip-debug -o "$KO_SMALL" "$TCPSTATE_KO"

insmod "$KO_SMALL" max_flows=1024
at_exit rmmod tcpstate
buckets=$(stat_value table_buckets)
assert_eq "$buckets" 512 "table_buckets at max_flows=1024"

# Far beyond the buckets: refused, said, unchanged.
before=$(dmesg | wc -l)
if echo 16777216 >$P/max_flows 2>"$T/err"; then
	fail "max_flows=16777216 accepted with $buckets buckets"
fi
assert_grep "Invalid argument" "$T/err" "the write's error"
assert_eq "$(cat $P/max_flows)" 1024 "max_flows after a refused write"
dmesg | tail -n +"$((before + 1))" >"$T/log"
assert_grep "tcpstate: max_flows=16777216 refused: the table has 512 buckets" \
	"$T/log" "kernel log"
# Just past the bound, refused; at it, taken.
if echo $((buckets * 16 + 1)) >$P/max_flows 2>/dev/null; then
	fail "max_flows=$((buckets * 16 + 1)) accepted with $buckets buckets"
fi
echo $((buckets * 16)) >$P/max_flows
assert_eq "$(cat $P/max_flows)" $((buckets * 16)) "max_flows at the bound"
assert_eq "$(stat_value flows_max)" $((buckets * 16)) "flows_max"
# Lowering is always fine.
echo 100 >$P/max_flows
assert_eq "$(cat $P/max_flows)" 100 "max_flows lowered"
info "max_flows bounded at $((buckets * 16)) for $buckets buckets"
