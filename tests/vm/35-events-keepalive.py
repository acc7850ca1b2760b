#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# TCP keep-alive (issue 13, item 1), with real sockets over a veth pair,
# IPv4 and IPv6.  The client sets SO_KEEPALIVE with TCP_KEEPIDLE and
# TCP_KEEPINTVL of 1 s and TCP_KEEPCNT 2; the three outcomes:
#   alive:      the server answers every probe: the flow's keepalives
#               column counts them, keepalive_probes and keepalive_answers
#               go up, both ends stay ESTABLISHED and no event is emitted;
#   peer reset: the server "reboots" (its socket dropped in TCP_REPAIR
#               mode, which sends nothing, and its listener closed), so
#               its kernel answers the next probe with a RST: both ends
#               go CLOSED with keepalive=peer_reset, the client's recv()
#               fails with ECONNRESET;
#   peer gone:  the server's veth goes down: the probes go unanswered and
#               the client's kernel resets the connection itself: both
#               ends go CLOSED with keepalive=timeout, recv() fails with
#               ETIMEDOUT.
# Each namespace keeps a flow of its own (the client's sees the probes
# leave, the server's sees them arrive), so the counters move twice, and
# a gone peer's namespace sees nothing.  The reader's text line says so
# too.
import errno
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

TOOL = os.path.join(ROOT, "tools", "tcpstate")
TCP_REPAIR = getattr(socket, "TCP_REPAIR", 19)
A, B = "ka", "kb"


def connected(net, family, port):
    """A keep-alive client in A connected to a listener in B: (listener,
    client, server's socket, the table's server name)."""
    addr = net.addr4[B] if family == socket.AF_INET else net.addr6[B]
    srv = listen_tcp(addr, port, B)
    cli = keepalive_client(A, family, addr, port)
    conn, _ = srv.accept()
    cli.sendall(b"hi")
    if conn.recv(2) != b"hi":
        fail("no data")
    name = ("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (addr,
                                                                      port)
    return srv, cli, conn, name


def row_of(name, cport, ino):
    rows = [r for r in read_table() if r["server"] == name and
            r["client"].endswith(":%d" % cport) and r["netns"] == str(ino)]
    return rows[0] if rows else None


def flow_events(tail, name, cport, ino):
    return [e for e in tail.poll() if e.get("server") == name and
            e["client"].endswith(":%d" % cport) and e["netns"] == str(ino)]


def recv_error(cli):
    try:
        data = cli.recv(16)
    except OSError as e:
        return e.errno
    fail("recv() returned %r, want an error" % data)


def ended(tail, name, cport, ino, want_ka, what):
    """The flow as namespace INO saw it ends on a RST with
    keepalive=WANT_KA at both ends."""
    evs = wait_until(lambda: (lambda x: len([e for e in x if e["new"] ==
                                             "CLOSED"]) == 2 and x)(
        flow_events(tail, name, cport, ino)),
        what="%s: both ends CLOSED" % what)
    resets = [e for e in evs if e["new"] == "CLOSED"]
    for e in resets:
        if "R" not in e["flags"] or e.get("keepalive") != want_ka or \
                e["old"] != "ESTABLISHED":
            fail("%s: %r, want ESTABLISHED -> CLOSED on a RST with "
                 "keepalive=%s" % (what, e, want_ka))
    for e in evs:
        if e not in resets and "keepalive" in e:
            fail("%s: keepalive= on another event: %r" % (what, e))
    info("%s: %s" % (what, "; ".join(
        "%s %s>%s %s keepalive=%s" % (e["side"], e["old"], e["new"],
                                      e["flags"], e["keepalive"])
        for e in resets)))


def kernel_error(cli, want_errno, what):
    err = recv_error(cli)
    if err != want_errno:
        fail("%s: recv() failed with %s, want %s" % (
            what, errno.errorcode.get(err, err),
            errno.errorcode[want_errno]))


def reader_text(port, ino, n):
    r = subprocess.run([TOOL, "--all", "--no-color", "--port", str(port),
                        "--netns", str(ino), "-n", str(n)],
                       stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if r.returncode:
        fail("tcpstate --port %d: exit %d: %s" % (port, r.returncode,
                                                   r.stderr))
    return r.stdout


with Module(), EventTail() as tail:
    for family, base in ((socket.AF_INET, 7600), (socket.AF_INET6, 7610)):
        fam = "ipv4" if family == socket.AF_INET else "ipv6"
        with NetnsPair(A, B) as net:
            # Each namespace has a flow of its own: the client's sees
            # every probe leave, the server's sees them arrive.
            ia, ib = netns_inode(A), netns_inode(B)
            # 1. alive
            before = read_stats()
            srv, cli, conn, name = connected(net, family, base)
            cport = cli.getsockname()[1]
            n0 = len(flow_events(tail, name, cport, ia))
            r = wait_until(lambda: (lambda x: x and x["keepalives"] not in
                                    ("0", "1") and x)(
                row_of(name, cport, ia)), timeout=20,
                what="two keep-alive probes")
            after = read_stats()
            probes = after["keepalive_probes"] - before["keepalive_probes"]
            answers = after["keepalive_answers"] - \
                before["keepalive_answers"]
            if r["client_state"] != "ESTABLISHED" or \
                    r["server_state"] != "ESTABLISHED":
                fail("alive %s: %r" % (fam, r))
            # twice: the client's namespace and the server's
            if probes < 4 or not probes - 2 <= answers <= probes:
                fail("alive %s: %d probes, %d answers" % (fam, probes,
                                                          answers))
            if len(flow_events(tail, name, cport, ia)) != n0:
                fail("alive %s: events while probing: %r" % (
                    fam, flow_events(tail, name, cport, ia)[n0:]))
            info("alive %s: keepalives column %s, +%d probes, +%d answers"
                 % (fam, r["keepalives"], probes, answers))

            # 2. the peer reboots: its socket goes without a word
            conn.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
            conn.close()
            srv.close()
            resets = read_stats()["keepalive_peer_resets"]
            kernel_error(cli, errno.ECONNRESET, "peer reset " + fam)
            # the RST leaves B and reaches A: both namespaces see it
            for ino in (ia, ib):
                ended(tail, name, cport, ino, "peer_reset",
                      "peer reset %s, netns %d" % (fam, ino))
            cli.close()
            if read_stats()["keepalive_peer_resets"] != resets + 2:
                fail("peer reset %s: keepalive_peer_resets went from %d "
                     "to %d, want +2" % (
                         fam, resets,
                         read_stats()["keepalive_peer_resets"]))
            text = reader_text(base, ia, 6)
            if text.count("(the peer reset on a keep-alive probe)") != 2:
                fail("peer reset %s: the reader's lines:\n%s" % (fam, text))

            # 3. the peer is gone
            srv, cli, conn, name = connected(net, family, base + 1)
            cport = cli.getsockname()[1]
            timeouts = read_stats()["keepalive_timeouts"]
            run("ip", "-n", B, "link", "set", "veth-" + B, "down")
            kernel_error(cli, errno.ETIMEDOUT, "peer gone " + fam)
            # only A's namespace sees the probes and the RST go
            ended(tail, name, cport, ia, "timeout", "peer gone " + fam)
            cli.close()
            if read_stats()["keepalive_timeouts"] != timeouts + 1:
                fail("peer gone %s: keepalive_timeouts did not go up" % fam)
            r = row_of(name, cport, ia)
            if not r or r["keepalives"] not in ("2", "3"):
                fail("peer gone %s: %r, want 2 probes counted" % (fam, r))
            r = row_of(name, cport, ib)
            if not r or r["server_state"] != "ESTABLISHED":
                fail("peer gone %s: the server's namespace saw %r, want "
                     "it ESTABLISHED (nothing reached it)" % (fam, r))
            text = reader_text(base + 1, ia, 6)
            if text.count("(keep-alive probes unanswered, gave up)") != 2:
                fail("peer gone %s: the reader's lines:\n%s" % (fam, text))
            conn.close()
            srv.close()
