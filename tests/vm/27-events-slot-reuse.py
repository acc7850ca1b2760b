#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: the in-place writer over slots a reader may be copying
#
# Every field of an event written over an older one.  The ring writes
# each record in place in its slot (tcpstate_event_claim() and
# tcpstate_event_publish()), so a field the writer left alone would show
# what the slot's previous event held.  With ring_size=16: IPv6
# connections between two namespaces, closed by RST (no TIME_WAIT, so no
# timer events), fill every slot with IPv6 segment events; an IPv4
# connection over loopback in the initial namespace is written over them,
# then more IPv6 connections, so that the IPv4 client's TIME_WAIT timer
# event lands in a slot whose last event was an IPv6 segment event (seq,
# ack and flags set).  Each event read back must be exactly its own:
# family, namespace, client and server of its connection, the
# handshake's seq/ack, a ts from when it happened, and flags=- seq=0
# ack=0 on the timer event.
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
KEYS = ["id", "ts", "netns", "family", "client", "server", "side", "old",
        "new", "flags", "seq", "ack", "reason"]
RING = 16
TW_MS = 8000		# long enough for steps 2 and 3 to end before it
A, B = "ra", "rb"
PORT4 = 7290


def ring_now():
    """What a fresh reader sees: the RING newest events, in id order."""
    fd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    try:
        lines = read_lines(fd)
    finally:
        os.close(fd)
    evs = [parse_event(x) for x in lines]
    for line, e in zip(lines, evs):
        if list(e) != KEYS:
            fail("keys %r, want %r in: %s" % (list(e), KEYS, line))
    return evs


def ids(evs):
    return [int(e["id"]) for e in evs]


class Conns:
    """The IPv6 connections made so far, closed by the client's RST."""

    def __init__(self, net):
        self.net, self.port, self.clients = net, 7270, {}

    def one(self):
        net, port = self.net, self.port
        self.port += 1
        srv = listen_tcp(net.addr6[B], port, B)
        cli = tcp_socket(A, socket.AF_INET6)
        cli.settimeout(10)
        cli.connect((net.addr6[B], port))
        conn, _ = srv.accept()
        conn.settimeout(10)
        cli.sendall(b"x")
        if conn.recv(1) != b"x":
            fail("the IPv6 server did not get the client's byte")
        cport = cli.getsockname()[1]
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
        cli.close()
        try:
            if conn.recv(1) != b"":
                fail("data after the client's RST")
        except ConnectionResetError:
            pass
        conn.close()
        srv.close()
        self.clients["[%s]:%d" % (net.addr6[A], cport)] = \
            "[%s]:%d" % (net.addr6[B], port)

    def until(self, n):
        """Connections until events_emitted reaches N."""
        while read_stats()["events_emitted"] < n:
            self.one()

    def check(self, e, line):
        """E must be a segment event of one of these connections."""
        if e["family"] != "ipv6" or \
                self.clients.get(e["client"]) != e["server"] or \
                e["netns"] not in (str(netns_inode(A)), str(netns_inode(B))) \
                or e["reason"] != "segment" or e["flags"] == "-" or \
                e["side"] not in ("client", "server"):
            fail("not an event of the IPv6 connections: %s" % line)


init_ino = netns_inode()

with Module(ring_size=RING, time_wait_ms=TW_MS, linger_ms=600000), \
        NetnsPair(A, B) as net:
    size = int(open("/sys/module/tcpstate/parameters/ring_size").read())
    if size != RING:
        fail("ring_size reads %d, want %d" % (size, RING))
    v6 = Conns(net)

    # 1. Every slot holds an IPv6 segment event, each written twice over.
    v6.until(2 * RING + 1)
    e1 = events_settle()
    ring1 = ring_now()
    if ids(ring1) != list(range(e1 - RING + 1, e1 + 1)):
        fail("the ring holds ids %r, want %d..%d" % (ids(ring1),
                                                      e1 - RING + 1, e1))
    for e in ring1:
        v6.check(e, e)
    info("step 1: %d IPv6 connections, ids 1..%d" % (len(v6.clients), e1))

    # 2. The IPv4 connection, written over IPv6 events.
    t0 = time.time_ns()
    srv = listen_tcp("127.0.0.1", PORT4)
    c4 = "127.0.0.1:%d" % client_first_close(srv, data=b"y")
    s4 = "127.0.0.1:%d" % PORT4
    srv.close()
    t1 = time.time_ns()
    e2 = events_settle()
    if not 0 < e2 - e1 < RING:
        fail("the IPv4 connection made %d events; the test needs 1..%d"
             % (e2 - e1, RING - 1))
    ring2 = ring_now()
    if ids(ring2) != list(range(e2 - RING + 1, e2 + 1)):
        fail("the ring holds ids %r, want %d..%d" % (ids(ring2),
                                                      e2 - RING + 1, e2))
    mine = [e for e in ring2 if int(e["id"]) > e1]
    for e in ring2:
        if int(e["id"]) <= e1:
            v6.check(e, e)
            continue
        if e["family"] != "ipv4" or e["netns"] != str(init_ino) or \
                e["client"] != c4 or e["server"] != s4 or \
                e["reason"] != "segment" or e["flags"] == "-":
            fail("IPv4 segment event %r, want family=ipv4 netns=%d "
                 "client=%s server=%s reason=segment" % (e, init_ino, c4, s4))
        if not t0 <= int(e["ts"]) <= t1:
            fail("ts %s outside the connection's [%d, %d]: %r"
                 % (e["ts"], t0, t1, e))
    check_handshake(mine, "the IPv4 connection")
    tw = [e for e in mine if e["side"] == "client" and
          e["new"] == "TIME_WAIT"]
    if len(tw) != 1:
        fail("the IPv4 client did not reach TIME_WAIT: %r" % mine)
    info("step 2: IPv4 %s -> %s, ids %d..%d" % (c4, s4, e1 + 1, e2))

    # 3. IPv6 segment events in every slot again, before the timer.
    v6.until(e2 + RING)
    e3 = events_settle()
    ring3 = ring_now()
    for e in ring3:
        v6.check(e, e)
    info("step 3: IPv6 again, ids %d..%d" % (e2 + 1, e3))

    # 4. The IPv4 client's TIME_WAIT ends on a timer: one event, in the
    # slot of id e4 - RING, an IPv6 segment event of step 3.
    t3 = time.time_ns()
    wait_until(lambda: read_stats()["events_emitted"] > e3,
               TW_MS / 1000 + 20, what="the TIME_WAIT timer event")
    e4 = events_settle()
    t4 = time.time_ns()
    if e4 != e3 + 1:
        fail("%d events after step 3, want just the timer's" % (e4 - e3))
    if not e2 < e4 - RING <= e3:
        fail("slot of id %d last held id %d, not one of step 3's (%d..%d)"
             % (e4, e4 - RING, e2 + 1, e3))
    ring4 = ring_now()
    if ids(ring4) != list(range(e4 - RING + 1, e4 + 1)):
        fail("the ring holds ids %r, want %d..%d" % (ids(ring4),
                                                      e4 - RING + 1, e4))
    t = ring4[-1]
    want = {"id": str(e4), "netns": str(init_ino), "family": "ipv4",
            "client": c4, "server": s4, "side": "client",
            "old": "TIME_WAIT", "new": "CLOSED", "flags": "-", "seq": "0",
            "ack": "0", "reason": "timer"}
    if {k: v for k, v in t.items() if k != "ts"} != want:
        fail("timer event %r, want %r" % (t, want))
    if not t3 <= int(t["ts"]) <= t4:
        fail("the timer event's ts %s is outside [%d, %d]" % (t["ts"], t3, t4))
    for e in ring4[:-1]:
        v6.check(e, e)
    info("step 4: the timer event, id %d, over id %d: %r"
         % (e4, e4 - RING, t))
