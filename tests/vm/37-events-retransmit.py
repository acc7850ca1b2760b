#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Segments sent again (issue 13, ladders with retransmissions), with real
# sockets whose kernels really retransmit: an nftables rule in the server's
# namespace, hooked before tcpstate (priority -300), drops one kind of
# segment for a moment, and the sending kernel's timer sends it again.
# With retransmits=1 each one is a reason=retransmit event of its sender's
# unchanged state, wherever tcpstate saw the segment before (the sender's
# namespace: the drop is at the receiver's), and nowhere else:
#   SYN      the client's first SYN is lost: in A, the client's SYN again
#            in SYN_SENT, as many as its socket's tcpi_total_retrans;
#   SYN/ACK  the client's third ACK is lost: in B, the server's SYN/ACK
#            again in SYN_RCVD, as many as B's TcpExt TCPSynRetrans; in
#            A, which saw that ACK, the server was ESTABLISHED already;
#   FIN      the client's FIN is lost: in A, the FIN again in FIN_WAIT_1,
#            as many as the socket's tcpi_total_retrans.
# Over IPv4 and IPv6; retransmits=0 (the default) writes none of them; and
# `tools/tcpstate --ladder`, running in A, draws the lost SYN's flow with
# its "(retransmitted)" row.
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

A, B = "xa", "xb"
PARAM = "/sys/module/tcpstate/parameters/retransmits"
TCPI_TOTAL_RETRANS = 100        # offset of tcpi_total_retrans in tcp_info


def total_retrans(sock):
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, TCPI_TOTAL_RETRANS)[0]


def syn_retrans(ns):
    """TcpExt TCPSynRetrans of namespace NS: SYNs and SYN/ACKs sent again."""
    with netns(ns):
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    for keys, vals in zip(lines[::2], lines[1::2]):
        if keys.startswith("TcpExt:"):
            return int(dict(zip(keys.split(), vals.split()))["TCPSynRetrans"])
    fail("no TcpExt in /proc/net/netstat")


class Drop:
    """Drop, in namespace B before tcpstate sees them, the TCP segments to
    PORT whose flags masked by MASK equal WANT; lift() ends it."""

    def __init__(self, port, mask, want):
        run("nft", "add table inet drop37", ns=B)
        run("nft", "add chain inet drop37 pre { type filter hook prerouting "
            "priority -300; }", ns=B)
        run("nft", "add rule inet drop37 pre tcp dport %d tcp flags & (%s) "
            "== %s counter drop" % (port, mask, want), ns=B)
        self.up = True

    def dropped(self):
        out = run("nft", "list", "table", "inet", "drop37", ns=B)
        return int(out.split("packets ")[1].split()[0])

    def lift(self):
        if self.up:
            n = self.dropped()
            run("nft", "delete", "table", "inet", "drop37", ns=B)
            self.up = False
            return n
        return 0


def ours(tail, ns_ino, server, reason=None):
    return [e for e in tail.poll() if e.get("server") == server and
            e.get("netns") == str(ns_ino) and
            (reason is None or e.get("reason") == reason)]


def name_of(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


def connect_through_lost_syn(family, addr, port):
    """A client in A whose first SYN B drops; returns it connected."""
    cli = tcp_socket(A, family)
    cli.setblocking(False)
    drop = Drop(port, "syn | ack", "syn")
    err = cli.connect_ex((addr, port))
    if err not in (0, 115):                 # EINPROGRESS
        fail("connect: %s" % os.strerror(err))
    wait_until(lambda: drop.dropped() >= 1, what="the first SYN dropped")
    time.sleep(0.2)
    drop.lift()
    if not select.select([], [cli], [], 10)[1]:
        fail("no connection after the SYN was sent again")
    err = cli.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if err:
        fail("connect after a lost SYN: %s" % os.strerror(err))
    cli.setblocking(True)
    cli.settimeout(10)
    return cli


def close_both(cli, conn):
    cli.close()
    if conn.recv(16) != b"":
        fail("no FIN from the client")
    conn.close()


def check_count(what, got, want_n, side, state, flags):
    bad = [e for e in got if (e["side"], e["old"], e["new"], e["flags"]) !=
           (side, state, state, flags)]
    if bad:
        fail("%s: %r, want side=%s old=new=%s flags=%s" % (
            what, bad[0], side, state, flags))
    if len(got) != want_n:
        fail("%s: %d retransmit events, the kernel sent it again %d times"
             % (what, len(got), want_n))
    info("%s: %d retransmit event(s), the kernel's count %d"
         % (what, len(got), want_n))


with Module(time_wait_ms=300, linger_ms=100000), NetnsPair(A, B) as net, \
        EventTail() as tail:
    ia, ib = netns_inode(A), netns_inode(B)
    if open(PARAM).read().strip() != "N":
        fail("retransmits is not off by default")

    # Off: the same lost SYN makes no line.
    srv = listen_tcp(net.addr4[B], 7800, B)
    server = name_of(net.addr4[B], 7800)
    cli = connect_through_lost_syn(socket.AF_INET, net.addr4[B], 7800)
    conn, _ = srv.accept()
    if total_retrans(cli) < 1:
        fail("the kernel did not send the SYN again")
    close_both(cli, conn)
    srv.close()
    tail.wait_for(lambda e: e.get("server") == server and
                  e["netns"] == str(ia) and e["new"] == "CLOSED", count=2)
    if ours(tail, ia, server, "retransmit") + \
            ours(tail, ib, server, "retransmit"):
        fail("retransmit events with retransmits=0")
    info("retransmits=0: a lost SYN, no retransmit line")

    with open(PARAM, "w") as f:
        f.write("1")
    port = 7810
    for family in (socket.AF_INET, socket.AF_INET6):
        fam = "ipv4" if family == socket.AF_INET else "ipv6"
        addr = net.addr4[B] if family == socket.AF_INET else net.addr6[B]

        # The client's first SYN lost; the reader's ladder is drawing.
        port += 1
        server = name_of(addr, port)
        ladder = LadderReader(A, port)
        srv = listen_tcp(addr, port, B)
        cli = connect_through_lost_syn(family, addr, port)
        conn, _ = srv.accept()
        n = total_retrans(cli)
        close_both(cli, conn)
        srv.close()
        tail.wait_for(lambda e: e.get("server") == server and
                      e["netns"] == str(ia) and e["new"] == "CLOSED",
                      count=2)
        got = ours(tail, ia, server, "retransmit")
        check_count("%s lost SYN, in A" % fam, got, n, "client", "SYN_SENT",
                    "S")
        syn = [e for e in ours(tail, ia, server) if e["new"] == "SYN_SENT"]
        if got[0]["seq"] != syn[0]["seq"]:
            fail("the SYN sent again has seq %s, the first %s"
                 % (got[0]["seq"], syn[0]["seq"]))
        if ours(tail, ib, server, "retransmit"):
            fail("%s lost SYN: a retransmit in B, which never saw the "
                 "first" % fam)
        # Drawn once the flow is over: both ends CLOSED, TIME_WAIT's 300 ms.
        out = ladder.wait("handshake RTT")
        if "tcpstate: the ladders show no keep-alives: " not in out or \
                "no retransmissions" in out:
            fail("the reader did not say that keepalives=0 hides "
                 "keep-alives, and only that")
        rows = [r for r in out.splitlines() if "(retransmitted)" in r]
        if len(rows) != n or "--- S seq=%s " % syn[0]["seq"] not in rows[0]:
            fail("the ladder's retransmitted rows %r, want %d SYN arrow(s)"
                 " from the client" % (rows, n))

        # The client's third ACK lost: the server sends its SYN/ACK again.
        port += 1
        server = name_of(addr, port)
        srv = listen_tcp(addr, port, B)
        before = syn_retrans(B)
        drop = Drop(port, "syn | ack | fin | rst", "ack")
        cli = tcp_socket(A, family)
        cli.settimeout(10)
        cli.connect((addr, port))
        wait_until(lambda: drop.dropped() >= 1, what="the third ACK dropped")
        drop.lift()
        srv.settimeout(10)
        conn, _ = srv.accept()
        n = syn_retrans(B) - before
        if n < 1:
            fail("B's kernel did not send its SYN/ACK again")
        close_both(cli, conn)
        srv.close()
        tail.wait_for(lambda e: e.get("server") == server and
                      e["netns"] == str(ib) and e["new"] == "CLOSED",
                      count=2)
        check_count("%s lost third ACK, in B" % fam,
                    ours(tail, ib, server, "retransmit"), n, "server",
                    "SYN_RCVD", "S.")
        check_count("%s lost third ACK, in A" % fam,
                    ours(tail, ia, server, "retransmit"), n, "server",
                    "ESTABLISHED", "S.")

        # The client's FIN lost.
        port += 1
        server = name_of(addr, port)
        srv = listen_tcp(addr, port, B)
        cli = tcp_socket(A, family)
        cli.settimeout(10)
        cli.connect((addr, port))
        conn, _ = srv.accept()
        conn.settimeout(10)
        before = total_retrans(cli)
        drop = Drop(port, "fin", "fin")
        cli.shutdown(socket.SHUT_WR)
        wait_until(lambda: drop.dropped() >= 1, what="the FIN dropped")
        drop.lift()
        if conn.recv(16) != b"":
            fail("no FIN after it was sent again")
        n = total_retrans(cli) - before
        conn.close()
        if cli.recv(16) != b"":
            fail("no FIN from the server")
        cli.close()
        srv.close()
        tail.wait_for(lambda e: e.get("server") == server and
                      e["netns"] == str(ia) and e["new"] == "CLOSED",
                      count=2)
        check_count("%s lost FIN, in A" % fam,
                    ours(tail, ia, server, "retransmit"), n, "client",
                    "FIN_WAIT_1", "F.")
        if ours(tail, ib, server, "retransmit"):
            fail("%s lost FIN: a retransmit in B" % fam)
