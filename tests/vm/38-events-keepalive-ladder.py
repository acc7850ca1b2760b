#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Keep-alive in the events and the ladder (issue 13, item 1), with
# keepalives=1 and real sockets, IPv4 and IPv6: a client with
# SO_KEEPALIVE (TCP_KEEPIDLE and TCP_KEEPINTVL 1 s, TCP_KEEPCNT 2) probes a
# server that answers, then the server's veth goes down and the client's
# kernel gives up (ETIMEDOUT).  Every probe is a reason=keepalive event of
# the client's unchanged ESTABLISHED and every answer a keepalive_ack of
# the server's, exactly as many as keepalive_probes and keepalive_answers
# count (both namespaces, each its own flow); and the reader's live
# --ladder in the client's namespace draws the probes, the answers and
# the reset that ended it, "(keep-alive probes unanswered, gave up)".
import errno
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

A, B = "la", "lb"


def name_of(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


with Module(keepalives=1, time_wait_ms=300), EventTail() as tail:
    for family, port in ((socket.AF_INET, 7900), (socket.AF_INET6, 7901)):
        fam = "ipv4" if family == socket.AF_INET else "ipv6"
        with NetnsPair(A, B) as net:
            ia, ib = netns_inode(A), netns_inode(B)
            addr = net.addr4[B] if family == socket.AF_INET else net.addr6[B]
            server = name_of(addr, port)
            ladder = LadderReader(A, port)
            before = read_stats()

            srv = listen_tcp(addr, port, B)
            cli = keepalive_client(A, family, addr, port)
            cli.settimeout(30)
            conn, _ = srv.accept()

            def ka(ino, reason):
                return [e for e in tail.poll() if e.get("server") == server
                        and e["netns"] == str(ino) and e["reason"] == reason]
            tail.wait_for(lambda e: e.get("server") == server and
                          e["netns"] == str(ia) and
                          e["reason"] == "keepalive_ack", count=2,
                          timeout=20)
            run("ip", "-n", B, "link", "set", "veth-" + B, "down")
            try:
                data = cli.recv(16)
                fail("%s: recv() returned %r, want ETIMEDOUT" % (fam, data))
            except OSError as e:
                if e.errno != errno.ETIMEDOUT:
                    fail("%s: recv() failed with %s, want ETIMEDOUT"
                         % (fam, errno.errorcode.get(e.errno, e.errno)))
            tail.wait_for(lambda e: e.get("server") == server and
                          e["netns"] == str(ia) and e["new"] == "CLOSED",
                          count=2)
            cli.close()
            conn.close()
            srv.close()
            after = read_stats()

            probes = ka(ia, "keepalive") + ka(ib, "keepalive")
            answers = ka(ia, "keepalive_ack") + ka(ib, "keepalive_ack")
            for e in probes + answers:
                side = "client" if e["reason"] == "keepalive" else "server"
                if (e["side"], e["old"], e["new"], e["flags"]) != \
                        (side, "ESTABLISHED", "ESTABLISHED", "."):
                    fail("%s: %r, want side=%s ESTABLISHED flags=." %
                         (fam, e, side))
            n_probes = after["keepalive_probes"] - before["keepalive_probes"]
            n_answers = after["keepalive_answers"] - \
                before["keepalive_answers"]
            if (len(probes), len(answers)) != (n_probes, n_answers):
                fail("%s: %d keepalive and %d keepalive_ack events, the "
                     "counters %d probes and %d answers" % (
                         fam, len(probes), len(answers), n_probes,
                         n_answers))
            # A saw each probe leave, B each one that arrived: B missed
            # those sent after its veth went down.
            if len(ka(ia, "keepalive")) < 4 or \
                    len(ka(ia, "keepalive")) - len(ka(ib, "keepalive")) < 2:
                fail("%s: probes in A %d, in B %d" % (
                    fam, len(ka(ia, "keepalive")), len(ka(ib, "keepalive"))))
            info("%s: %d keepalive, %d keepalive_ack events = the counters"
                 % (fam, len(probes), len(answers)))

            out = ladder.wait("gave up)")
            if "tcpstate: the ladders show no retransmissions: " not in out \
                    or "no keep-alives" in out:
                fail("%s: the reader did not say that retransmits=0 hides "
                     "retransmissions, and only that" % fam)
            rows = out.splitlines()
            for what, n in (("--> (keep-alive)", len(ka(ia, "keepalive"))),
                            ("- (keep-alive ACK)",
                             len(ka(ia, "keepalive_ack")))):
                if sum(r.endswith(what) for r in rows) != n:
                    fail("%s: the ladder has not %d rows ending %r" % (
                        fam, n, what))
            if not any("--- R" in r and r.endswith("> CLOSED")
                       for r in rows) or \
                    "(keep-alive probes unanswered, gave up)" not in out:
                fail("%s: no reset row saying the prober gave up" % fam)
