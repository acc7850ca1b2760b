#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Harness sanity: lib.py's helpers work - netns sockets in one process,
# polling, the socket-state trace, and the /proc parsers on sample text.
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

with NetnsPair("pa", "pb") as net, SockTrace() as tr:
    srv = net.socket("pb")
    srv.bind((net.addr4["pb"], 7100))
    srv.listen()
    cli = net.socket("pa")
    cli.connect((net.addr4["pb"], 7100))
    conn, peer = srv.accept()
    if peer[0] != net.addr4["pa"]:
        fail("accepted from %s, want %s" % (peer[0], net.addr4["pa"]))
    cli.sendall(b"ping")
    if conn.recv(10) != b"ping":
        fail("data did not arrive")
    cli.close()
    conn.close()
    srv.close()
    tr.stop()
    states = [(o, n) for o, n, _ in tr.transitions]
    for want in (("TCP_SYN_SENT", "TCP_ESTABLISHED"),
                 ("TCP_FIN_WAIT1", "TCP_FIN_WAIT2")):
        if want not in states:
            fail("trace lacks %s -> %s: %r" % (want + (states,)))

with tempfile.NamedTemporaryFile("w", delete=False) as f:
    f.write("netns family client server client_state server_state\n"
            "1 ipv4 10.0.0.1:1 10.0.0.2:2 TIME_WAIT CLOSED\n")
rows = read_table(f.name)
os.unlink(f.name)
if rows != [{"netns": "1", "family": "ipv4", "client": "10.0.0.1:1",
             "server": "10.0.0.2:2", "client_state": "TIME_WAIT",
             "server_state": "CLOSED"}]:
    fail("read_table parsed %r" % rows)
ev = parse_event("id=7 ts=1 side=client old=SYN_SENT new=ESTABLISHED")
if list(ev) != ["id", "ts", "side", "old", "new"] or ev["new"] != "ESTABLISHED":
    fail("parse_event gave %r" % ev)
n = [0]


def third():
    n[0] += 1
    return n[0] >= 3


wait_until(third, 1)
info("lib.py ok")
