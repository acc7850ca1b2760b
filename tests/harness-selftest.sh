#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prove that the test harness can fail.  Builds a throwaway module (named
# tcpstate, so the runner's leftover check applies to it) whose init warns
# or oopses on request, then checks that:
#   - scripts/vm passes a clean load/unload and returns the command's status;
#   - tests/vm/run fails a scenario that WARNs (splat shown) or leaves the
#     module loaded, passes a clean one, fails one whose task SIGKILL cannot
#     end (its kernel stack shown) and goes on to the next, and scripts/vm
#     fails the run;
#   - scripts/vm fails on an oops and shows it, on a panic (no status
#     comes back), on a timeout, and on a wedge (--stall: the heartbeat
#     stops), saying where the vCPUs were;
#   - on the debug kernel (scripts/debug-kernel) also: a use-after-free is
#     a KASAN report that fails the run, and a leak from the module fails
#     tests/vm/run's closing kmemleak test while a clean scenario passes.
# Six short boots of one kernel (TCPSTATE_SELFTEST_KERNEL, default 6.1),
# eight on the debug kernel.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VM=$ROOT/scripts/vm
KVER=$("$VM" --resolve "${TCPSTATE_SELFTEST_KERNEL:-6.1}")
# The debug kernel boots in about 100 s and loads a module in about 15 s
# under TCG: its runner timeout and VM timeout must clear those.
DEBUG=
[ "$KVER" != "$("$VM" --resolve debug 2>/dev/null)" ] || DEBUG=1
# KVER in the patterns below, as an extended regex ("6.12.117+deb12"
# has a '+').
KRE=$(printf '%s' "$KVER" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
RUNNER_TIMEOUT=${DEBUG:+60}
RUNNER_TIMEOUT=${RUNNER_TIMEOUT:-4}
HOLD=$((RUNNER_TIMEOUT * 3 + 20))
HANG_AFTER=${DEBUG:+240}
HANG_AFTER=${HANG_AFTER:-20}
STALL_AFTER=${DEBUG:+120}
STALL_AFTER=${STALL_AFTER:-15}
W=$(mktemp -d /tmp/tcpstate-selftest.XXXXXX)
trap '[ -n "${TCPSTATE_SELFTEST_KEEP:-}" ] || rm -rf "$W"' EXIT

failures=0
ok() { echo "ok: $*"; }
bad() { echo "not ok: $*"; failures=$((failures + 1)); }

# check NAME WANT-RC GREP-REGEX... -- VM-ARGS...: run scripts/vm, expect its
# exit status WANT-RC ("nonzero" for any failure) and every regex in its
# output.
check() {
	local name=$1 want=$2 rc re out=$W/$1.out
	shift 2
	local res=()
	while [ "$1" != "--" ]; do
		res+=("$1")
		shift
	done
	shift
	set +e
	"$VM" --kernel "$KVER" "$@" >"$out" 2>&1
	rc=$?
	set -e
	if [ "$want" = nonzero ]; then
		[ "$rc" -ne 0 ] || { bad "$name: exit 0, want a failure"; cat "$out"; return; }
	elif [ "$rc" -ne "$want" ]; then
		bad "$name: exit $rc, want $want"
		cat "$out"
		return
	fi
	for re in ${res[@]+"${res[@]}"}; do
		if ! grep -q -E -- "$re" "$out"; then
			bad "$name: output lacks /$re/"
			cat "$out"
			return
		fi
	done
	ok "$name (exit $rc)"
}

mkdir -p "$W/mod" "$W/scen"
cat >"$W/mod/tcpstate.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
/*
 * Harness self-test: mode=1 warns, mode=2 oopses in init, mode=3 reads
 * freed memory (a KASAN report), mode=4 leaks (kmemleak, after rmmod),
 * mode=5 sleeps uninterruptibly in init for hold seconds (insmod ignores
 * SIGKILL meanwhile), mode=6 wedges every CPU for good (one spins in
 * stop_machine(), the others wait for it with interrupts off).
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stop_machine.h>

static int mode;
module_param(mode, int, 0444);
static int hold;
module_param(hold, int, 0444);
static void *kept;

static int selftest_wedge(void *unused)
{
	for (;;)
		cpu_relax();
	return 0;
}

static int __init selftest_init(void)
{
	if (mode == 1)
		WARN(1, "harness self-test warning");
	if (mode == 2)
		*(volatile int *)NULL = 1;
	if (mode == 3) {
		char *volatile p = kmalloc(16, GFP_KERNEL);

		kfree(p);
		pr_info("harness self-test: read after free: %d\n", p ? p[3] : 0);
	}
	if (mode == 4)
		kept = kmalloc(96, GFP_KERNEL);	/* never freed */
	if (mode == 5)
		ssleep(hold);
	if (mode == 6)
		stop_machine(selftest_wedge, NULL, NULL);
	return 0;
}

static void __exit selftest_exit(void)
{
}

module_init(selftest_init);
module_exit(selftest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpstate harness self-test");
EOF
echo 'obj-m := tcpstate.o' >"$W/mod/Kbuild"
if ! make -s -C "$("$VM" --kdir "$KVER")" M="$W/mod" modules >"$W/build.log" 2>&1; then
	cat "$W/build.log"
	echo "not ok: cannot build the self-test module for $KVER"
	exit 1
fi
KO=$W/mod/tcpstate.ko

# 1. A clean load and unload; the command's own status comes back.
check clean-status 3 -- -- sh -c "insmod $KO && rmmod tcpstate && exit 3"

# 2. The runner: a warning scenario, a leftover module, a clean pass.
cat >"$W/scen/10-warns.sh" <<EOF
#!/bin/sh
insmod $KO mode=1 && rmmod tcpstate
EOF
cat >"$W/scen/20-leaves-loaded.sh" <<EOF
#!/bin/sh
insmod $KO
EOF
cat >"$W/scen/30-clean.sh" <<EOF
#!/bin/sh
insmod $KO && rmmod tcpstate
EOF
cat >"$W/scen/40-unkillable.sh" <<EOF
#!/bin/sh
exec insmod $KO mode=5 hold=$HOLD
EOF
cat >"$W/scen/50-after.sh" <<EOF
#!/bin/sh
exit 0
EOF
chmod +x "$W/scen/"*.sh
TCPSTATE_SCENARIOS=$W/scen TCPSTATE_KVER=$KVER TCPSTATE_LOGDIR=/tmp/selftest-logs \
	TCPSTATE_TEST_TIMEOUT=$RUNNER_TIMEOUT \
	check runner nonzero \
	"FAIL: $KRE 10-warns.sh \(kernel splat" \
	'WARNING: .*tcpstate' \
	'harness self-test warning' \
	"FAIL: $KRE 20-leaves-loaded.sh \(left tcpstate loaded" \
	"PASS: $KRE 30-clean.sh" \
	"FAIL: $KRE 40-unkillable.sh \\(hung: tasks left that SIGKILL does not end" \
	'insmod .*mode=5' \
	'State:.*D \(disk sleep\)' \
	'ssleep|msleep|selftest_init' \
	"(PASS|FAIL): $KRE 50-after.sh" \
	'tainted .*W=warning' \
	-- -- "$ROOT/tests/vm/run"

# 3. An oops on load fails the run and is shown.
# (KASAN's inline checks turn the NULL write into a general protection
# fault on the shadow's address.)
check oops nonzero 'BUG: kernel NULL pointer dereference|Oops: general protection fault' \
	'Oops' 'tainted .*D=oops' \
	-- -- sh -c "insmod $KO mode=2; exit 0"

# 4. A panic: no status comes back.
check panic nonzero 'no exit status came back' 'Kernel panic' \
	-- -- sh -c 'echo c >/proc/sysrq-trigger; sleep 30'

# 5. A hang: the timeout kills the VM and says where its vCPUs were.
check timeout nonzero TIMEOUT "vCPU 0 at [0-9a-f]+ \\([a-z_]+\\+0x" "sysrq: Show Blocked State" -- --timeout "$HANG_AFTER" -- sleep 1000

# 6. A wedged guest: its heartbeat stops, and --stall kills it long
# before the timeout, naming what the vCPUs were running.
check stall nonzero STALLED "vCPU [01] at [0-9a-f]+ \\([a-z_]+\\+0x" \
	'on its stack: .*(multi_cpu_stop|cpu_stopper_thread)' \
	-- --stall "$STALL_AFTER" --timeout $((STALL_AFTER * 4 + 60)) \
	-- sh -c "insmod $KO mode=6; sleep 1000"

# 7, 8. The debug kernel's checkers: KASAN, and kmemleak after unload.
if [ -n "$DEBUG" ]; then
	check kasan nonzero 'BUG: KASAN: .*use-after-free' 'tcpstate' \
		-- -- sh -c "insmod $KO mode=3; rmmod tcpstate; exit 0"
	mkdir -p "$W/leak"
	cat >"$W/leak/10-leaks.sh" <<EOF
#!/bin/sh
insmod $KO mode=4 && rmmod tcpstate
EOF
	cat >"$W/leak/20-clean.sh" <<EOF
#!/bin/sh
insmod $KO && rmmod tcpstate
EOF
	chmod +x "$W/leak/"*.sh
	TCPSTATE_SCENARIOS=$W/leak TCPSTATE_KVER=$KVER TCPSTATE_LOGDIR=/tmp/selftest-logs \
		check kmemleak nonzero \
		"PASS: $KRE 10-leaks.sh" \
		"PASS: $KRE 20-clean.sh" \
		"FAIL: $KRE kmemleak \\(1 leak\\(s\\) from tcpstate" \
		'unreferenced object .*\(size 96\)' \
		-- -- "$ROOT/tests/vm/run"
fi

if [ "$failures" -ne 0 ]; then
	echo "harness-selftest: $failures check(s) failed"
	exit 1
fi
echo "harness-selftest: all checks passed on $KVER"
