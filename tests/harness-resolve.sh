#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/vm's kernel aliases, checked against fake /boot directories
# (TCPSTATE_BOOT_DIR): a series alias names the newest non-RT kernel of
# its series even when older point releases and -rt builds sit next to
# it, "-rt" the newest PREEMPT_RT one, a full version itself; a series
# with nothing of the wanted kind is an error.  No VM is booted.
# One PASS:/FAIL: line per case.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VM=$ROOT/scripts/vm
W=$(mktemp -d /tmp/tcpstate-resolve.XXXXXX)
trap 'rm -rf "$W"' EXIT

fake_boot() {	# fake_boot DIR VER...: empty vmlinuz-VER files in DIR
	local dir=$1 v
	shift
	mkdir -p "$dir"
	for v in "$@"; do
		: >"$dir/vmlinuz-$v"
		: >"$dir/config-$v"
	done
}

# Two upgrades' worth of kernels: old point releases kept, both flavours,
# a cloud build, and sort orders where text order and version order differ.
fake_boot "$W/full" 6.1.0-9-amd64 6.1.0-57-amd64 6.1.0-10-amd64 \
	6.1.0-57-rt-amd64 6.1.0-10-rt-amd64 6.1.0-58-cloud-amd64 \
	6.12.9+deb12-amd64 6.12.117+deb12-amd64 6.12.117+deb12-rt-amd64 \
	6.12.120+deb12-rt-amd64
fake_boot "$W/rt-only" 6.1.0-57-rt-amd64
fake_boot "$W/plain-only" 6.12.117+deb12-amd64

expect() {	# expect BOOTDIR ALIAS WANT (WANT "error": must fail)
	local boot=$1 alias=$2 want=$3 got rc
	got=$(TCPSTATE_BOOT_DIR=$W/$boot "$VM" --resolve "$alias" 2>"$W/err")
	rc=$?
	if [ "$want" = error ]; then
		if [ "$rc" -ne 0 ] && [ -s "$W/err" ]; then
			echo "PASS: resolve $alias in $boot: an error ($(head -n 1 "$W/err"))"
		else
			echo "FAIL: resolve $alias in $boot: got '$got' (exit $rc), want an error"
		fi
	elif [ "$rc" -eq 0 ] && [ "$got" = "$want" ]; then
		echo "PASS: resolve $alias in $boot: $got"
	else
		echo "FAIL: resolve $alias in $boot: got '$got' (exit $rc: $(head -n 1 "$W/err")), want $want"
	fi
}

expect full 6.1 6.1.0-57-amd64
expect full 6.1-rt 6.1.0-57-rt-amd64
expect full 6.12 6.12.117+deb12-amd64
expect full 6.12-rt 6.12.120+deb12-rt-amd64
expect full 6.1.0-9-amd64 6.1.0-9-amd64
expect full 6.1.0-58-cloud-amd64 6.1.0-58-cloud-amd64
expect full 6.12.117+deb12-rt-amd64 6.12.117+deb12-rt-amd64
expect full 6.13 error
expect rt-only 6.1 error
expect rt-only 6.1-rt 6.1.0-57-rt-amd64
expect plain-only 6.12-rt error
expect plain-only 6.1 error
