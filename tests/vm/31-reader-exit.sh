#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/tcpstate's exit statuses and its edges: no module (2, one line with
# the insmod hint), usage errors (1), a closed pipe (0, nothing on stderr),
# --help names every option, the man page renders, and loss: a reader
# stopped while a 16-event ring overflows gets a highlighted lost line in
# plain output and {"lost": N} in JSON.
. "$(dirname "$0")/lib.sh"

TOOL=$TCPSTATE_ROOT/tools/tcpstate
[ -x "$TOOL" ] || fail "$TOOL is not built (make tools)"
need man

# No module: status 2 and exactly the one line, for every command.
for cmd in "" list stats; do
	set +e
	# shellcheck disable=SC2086
	"$TOOL" $cmd >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	assert_eq "$rc" 2 "status of 'tcpstate $cmd' without the module"
	assert_eq "$(cat "$T/err")" \
		"tcpstate: module not loaded (try: sudo insmod module/tcpstate.ko)" \
		"stderr of 'tcpstate $cmd' without the module"
	assert_eq "$(wc -c <"$T/out")" 0 "stdout of 'tcpstate $cmd' without the module"
done

# Permission denied: status 3.  (The module's files are 0444, so the
# refusal is staged with --proc and a file only root may read.)
need setpriv
mkdir -p "$T/p"
cp "$TOOL" "$T/p/tcpstate"
: >"$T/p/tcpstate_events"
chmod 600 "$T/p/tcpstate_events"
chmod 755 "$T" "$T/p" "$T/p/tcpstate"
set +e
setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$T/p/tcpstate" --proc "$T/p" >"$T/out" 2>"$T/err"
rc=$?
set -e
assert_eq "$rc" 3 "status of tcpstate on an unreadable events file"
assert_grep "Permission denied" "$T/err"

# Usage errors: status 1, said on stderr.
for args in "--port 70000" "--state bogus" "--side both" "--host 10.0.0.0/33" \
	"-n 0" "--ts=utc" "frob" "stats --port 80" "list --ladder" "--json --ladder"; do
	set +e
	# shellcheck disable=SC2086
	"$TOOL" $args >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	assert_eq "$rc" 1 "status of 'tcpstate $args'"
	assert_grep "^tcpstate: " "$T/err" "stderr of 'tcpstate $args'"
done

# --help names every option, once.
"$TOOL" --help >"$T/help"
for o in all count ipv4 ipv6 port sport dport host state side netns json \
	ladder ts watch no-color proc help version; do
	assert_eq "$(grep -c -E -- "^  (-., )?--${o}[ =]|^  (-., )?--$o\$|^      --${o}[ =]|^      --$o\$" "$T/help")" 1 \
		"--$o lines in --help"
done
assert_grep "client \(the end that sent the first" "$T/help"
MANWIDTH=80 man -l "$TCPSTATE_ROOT/tools/tcpstate.8" >"$T/man" 2>"$T/manerr"
assert_grep "^NAME" "$T/man" "man -l tools/tcpstate.8"
assert_grep "tcpstate - watch the TCP state" "$T/man" "man -l tools/tcpstate.8"
assert_eq "$(cat "$T/manerr")" "" "man's warnings"

# Traffic on loopback in a namespace of its own.
ip netns add rx
at_exit ip netns del rx
ip -n rx link set lo up
connections() {	# connections N PORT: N client-first closes to 127.0.0.1:PORT
	ip netns exec rx "$PY" - "$1" "$2" <<'EOF'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
for _ in range(n):
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = srv.accept()
    c.close()
    s.recv(1)
    s.close()
EOF
}

load_tcpstate ring_size=16 time_wait_ms=100000
at_exit rmmod tcpstate

# A closed pipe: quiet, status 0.  head takes one line and exits; the
# next transitions make the reader write into the closed pipe.
connections 2 8031
( "$TOOL" --all 2>"$T/err"; echo $? >"$T/rc" ) | head -n 1 >"$T/out" &
wait_until 10 test -s "$T/out"
connections 2 8034
wait_until 10 test -s "$T/rc"
assert_eq "$(cat "$T/rc")" 0 "status of 'tcpstate --all | head -n 1'"
assert_eq "$(wc -l <"$T/out")" 1 "lines through head -n 1"
assert_eq "$(cat "$T/err")" "" "stderr after a closed pipe"

# Loss: stop two readers, overflow the ring, let them go on.
"$TOOL" >"$T/plain" 2>"$T/plain.err" &
plain=$!
at_exit "kill $plain"
"$TOOL" --json >"$T/json" 2>"$T/json.err" &
js=$!
at_exit "kill $js"
blocked() {	# blocked PID: it waits in ppoll (x86_64 syscall 271)
	[ "$(cut -d' ' -f1 "/proc/$1/syscall")" = 271 ]
}
wait_until 10 blocked "$plain"
wait_until 10 blocked "$js"
kill -STOP "$plain" "$js"
connections 6 8032
kill -CONT "$plain" "$js"
wait_until 10 grep -q lost "$T/plain"
wait_until 10 grep -q lost "$T/json"
# A few more transitions after the loss are still printed.
connections 1 8033
wait_until 10 grep -q ":8033 " "$T/plain"
wait_until 10 grep -q ":8033\"" "$T/json"
kill -INT "$plain" "$js"
wait "$plain" || fail "the plain reader exited $? on SIGINT"
wait "$js" || fail "the JSON reader exited $? on SIGINT"
info "plain output:"
cat "$T/plain"

assert_grep '^[0-9:.]{12}  \*\*\* lost [0-9]+ events?: this reader fell behind \*\*\*$' \
	"$T/plain" "the plain lost line"
"$PY" - "$T/json" <<'EOF' || fail "the JSON lost object"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1])]
lost = [o for o in objs if "lost" in o]
assert lost, "no lost object"
for o in lost:
    assert set(o) == {"id", "ts", "lost"}, o
    assert all(type(o[k]) is int for k in o), o
    assert o["lost"] > 0, o
assert any(o.get("server", "").endswith(":8033") for o in objs), "nothing after the loss"
EOF
