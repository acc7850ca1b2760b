#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness sanity: lib.sh's namespace pair carries TCP both ways over IPv4
# and IPv6, and the kernel's own socket-state tracepoint records it.
. "$(dirname "$0")/lib.sh"

netns_pair ha hb
trace_start
in_ns hb "$PY" -c '
import socket
for fam, addr in ((socket.AF_INET, "10.99.0.2"), (socket.AF_INET6, "fd99::2")):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 7000)); s.listen()
    c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close(); s.close()
' &
srv=$!
wait_listen hb 7000
got=$(in_ns ha "$PY" -c '
import socket
s = socket.create_connection(("10.99.0.2", 7000)); s.sendall(b"hello"); print(s.recv(100).decode()); s.close()')
assert_eq "$got" HELLO "IPv4 echo"
wait_until 10 sh -c "ip netns exec hb ss -Htln6 'sport = :7000' | grep -q ."
got=$(in_ns ha "$PY" -c '
import socket
s = socket.create_connection(("fd99::2", 7000)); s.sendall(b"v6"); print(s.recv(100).decode()); s.close()')
assert_eq "$got" V6 "IPv6 echo"
wait "$srv" || fail "server exited non-zero"
trace_stop "$T/trace"
assert_grep 'oldstate=TCP_SYN_SENT newstate=TCP_ESTABLISHED' "$T/trace" "socket trace"
assert_grep 'saddr=10.99.0.1 daddr=10.99.0.2' "$T/trace" "socket trace"
