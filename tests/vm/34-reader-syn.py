#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/tcpstate stats --syn and SYN cookies against the kernel (issue 13,
# SYN floods).  Namespace a floods a listener in b with SYNs from spoofed
# addresses of their subnet, so b's SYN/ACKs go nowhere and the flows stay
# half-open:
#   1. tcp_syncookies=0, backlog 4: the kernel answers the first SYNs and
#      drops the rest.  The tool must count every SYN's flow half-open at
#      that listener, the unanswered ones apart, the answered ones exactly
#      the kernel's SYN-RECV request sockets (ss); within a second of the
#      flood they are the last second's, 1.2 s later none is.
#   2. tcp_syncookies=2 (cookies always): every SYN is answered and the
#      kernel keeps nothing (no SYN-RECV in ss); the tool still counts each
#      half-open flow, none unanswered.  Then real connections over IPv4
#      and IPv6 to a cookie listener must be traced like any other: both
#      ends ESTABLISHED while open, the server LISTEN -> SYN_RCVD ->
#      ESTABLISHED in the events, and after a client-first close the
#      states ss gives (client TIME_WAIT, server gone).
import json
import os
import random
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

from scapy.all import IP, TCP, Ether, raw  # noqa: E402

TOOL = os.path.join(ROOT, "tools", "tcpstate")
A, B = "sa", "sb"
SYNS = 200


def syn_stats(ino, port):
    """stats --syn --json's entry for B's listener on PORT (or None), and
    the whole document."""
    r = subprocess.run([TOOL, "stats", "--syn", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode:
        fail("stats --syn: exit %d: %s" % (r.returncode, r.stderr))
    doc = json.loads(r.stdout)
    want = "%s:%d" % (net.addr4[B], port)
    mine = [e for e in doc["syn"]
            if e["netns"] == ino and e["listener"] == want]
    return (mine[0] if mine else None), doc


def wait_syn(ino, port, pred, what, timeout=10.0):
    """stats --syn until PRED holds for B's listener on PORT; fails with
    what it said last."""
    deadline = time.monotonic() + timeout
    while True:
        got, doc = syn_stats(ino, port)
        if got and pred(got):
            return got, doc
        if time.monotonic() > deadline:
            fail("timed out waiting for %s at :%d; stats --syn said %r, "
                 "the table has %d rows"
                 % (what, port, doc, len(read_table())))
        time.sleep(0.05)


def syn_recv(port):
    """The kernel's SYN-RECV request sockets of B's listener on PORT."""
    out = run("ss", "-Htan", "state", "syn-recv", "sport", "= :%d" % port,
              ns=B)
    return len([ln for ln in out.splitlines() if ln.strip()])


def flood(sock, eth, port, seed):
    """SYNS SYNs to B's PORT from spoofed addresses .100-.199 of the
    subnet; returns the monotonic time of the last."""
    rnd = random.Random(seed)
    frames = [raw(Ether(dst=eth[0], src=eth[1]) /
                  IP(src="%s.%d" % (net.v4, 100 + i % 100),
                     dst=net.addr4[B]) /
                  TCP(sport=20000 + i, dport=port, flags="S",
                      seq=rnd.getrandbits(32), window=64240,
                      options=[("MSS", 1460)]))
              for i in range(SYNS)]
    for f in frames:
        sock.send(f)
    return time.monotonic()


def sysctl(ns, key, value):
    run("sysctl", "-q", "-w", "%s=%s" % (key, value), ns=ns)


with Module(), NetnsPair(A, B) as net:
    ino = netns_inode(B)
    mac = {ns: run("cat", "/sys/class/net/veth-%s/address" % ns,
                   ns=ns).strip() for ns in (A, B)}
    eth = (mac[B], mac[A])
    with netns(A):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind(("veth-" + A, 0))

    # 1. No cookies: a full backlog drops SYNs.
    sysctl(B, "net.ipv4.tcp_syncookies", 0)
    srv = listen_tcp(net.addr4[B], 7400, B, backlog=4)
    last = flood(sock, eth, 7400, 1)
    got, doc = wait_syn(ino, 7400, lambda g: g["half_open"] == SYNS,
                        "a half-open flow per SYN")
    soon = time.monotonic() - last
    answered = got["half_open"] - got["unanswered"]
    kernel = syn_recv(7400)
    if not 0 < answered < SYNS or answered != kernel:
        fail("%d answered, the kernel has %d SYN-RECV request sockets: %r"
             % (answered, kernel, got))
    if soon < 0.9:
        if got["last_second"] != SYNS:
            fail("read %.2f s after the flood, last_second %d, want %d"
                 % (soon, got["last_second"], SYNS))
    else:
        info("stats --syn took %.2f s: last_second (%d) not judged"
             % (soon, got["last_second"]))
    if doc["syn"][0] != got:
        fail("the flooded listener is not the busiest: %r" % doc["syn"])
    time.sleep(max(0, last + 1.2 - time.monotonic()))
    later, _ = syn_stats(ino, 7400)
    if later is None or later["last_second"] != 0 or \
            later["half_open"] != SYNS:
        fail("1.2 s after the flood: %r, want %d half-open, none recent"
             % (later, SYNS))
    info("no cookies, backlog 4: %d half-open, %d answered (ss: %d "
         "SYN-RECV), %d unanswered, %d in the last second"
         % (got["half_open"], answered, kernel, got["unanswered"],
            got["last_second"]))
    srv.close()

    # 2. Cookies always: every SYN answered, nothing kept by the kernel.
    sysctl(B, "net.ipv4.tcp_syncookies", 2)
    srv = listen_tcp(net.addr4[B], 7401, B, backlog=4)
    flood(sock, eth, 7401, 2)
    got, doc = wait_syn(ino, 7401, lambda g: g["half_open"] == SYNS and
                        not g["unanswered"], "every cookie SYN/ACK")
    kernel = syn_recv(7401)
    if kernel:
        fail("with cookies the kernel kept %d SYN-RECV sockets" % kernel)
    info("cookies: %d half-open, %d unanswered, ss SYN-RECV %d"
         % (got["half_open"], got["unanswered"], kernel))
    srv.close()

    srv6 = listen_tcp(net.addr6[B], 7402, B, backlog=4)
    srv4 = listen_tcp(net.addr4[B], 7403, B, backlog=4)
    with EventTail(from_now=True) as tail:
        for srv in (srv4, srv6):
            cli = tcp_socket(A, srv.family)
            cli.settimeout(10)
            cli.connect(srv.getsockname()[:2])
            conn, _ = srv.accept()
            cport = cli.getsockname()[1]
            cli.sendall(b"cookie")
            if conn.recv(6) != b"cookie":
                fail("no data over the cookie connection")
            name = "%s:%d" % (("[%s]" % net.addr6[B]) if
                              srv.family == socket.AF_INET6 else
                              net.addr4[B], srv.getsockname()[1])

            def row():
                """The flow as the server's namespace has it."""
                rows = [r for r in read_table() if r["server"] == name and
                        r["client"].endswith(":%d" % cport) and
                        r["netns"] == str(ino)]
                return rows[0] if rows else None
            r = wait_until(lambda: (lambda x: x and x["server_state"] ==
                                    "ESTABLISHED" and x)(row()),
                           what="the open cookie connection to " + name)
            if r["client_state"] != "ESTABLISHED" or r["flags"] != "-":
                fail("open cookie connection: %r" % r)
            cli.close()
            if conn.recv(16) != b"":
                fail("the server did not see the FIN")
            conn.close()
            tw = run("ss", "-Htan", "state", "time-wait", "dport",
                     "= :%d" % srv.getsockname()[1], ns=A)
            if len(tw.splitlines()) != 1:
                fail("the kernel's client is not in TIME_WAIT: %r" % tw)
            r = wait_until(lambda: (lambda x: x and x["server_state"] ==
                                    "CLOSED" and x)(row()),
                           what="the closed cookie connection")
            if r["client_state"] != "TIME_WAIT":
                fail("closed cookie connection: %r" % r)
            tail.poll()
            want = [("LISTEN", "SYN_RCVD"), ("SYN_RCVD", "ESTABLISHED"),
                    ("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                    ("LAST_ACK", "CLOSED")]
            # each namespace's flow, the client's and the server's
            for ns_ino in (netns_inode(A), ino):
                seen = [(e["old"], e["new"]) for e in tail.events
                        if e.get("server") == name and
                        e["side"] == "server" and
                        e["client"].endswith(":%d" % cport) and
                        e["netns"] == str(ns_ino)]
                if seen != want:
                    fail("server events of the cookie connection to %s in "
                         "netns %d: %r" % (name, ns_ino, seen))
            info("cookie connection to %s: %s" % (
                name, " > ".join(["LISTEN"] + [n for _, n in seen])))
    srv4.close()
    srv6.close()
