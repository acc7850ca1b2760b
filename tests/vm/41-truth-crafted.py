#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Truth, part 2: crafted segments for what sockets will not do on demand.

Segments are built with scapy and sent with AF_PACKET from namespace "ca"
over a veth pair into namespace "cb"; tcpstate's events of cb are checked
exactly (side, old, new, flags, seq, ack, reason) with the counters that
must move.

Two set-ups:
  - both ends crafted: addresses 10.98.0.1 and 10.98.0.2 exist nowhere, so
    cb sees each segment at PRE_ROUTING and then drops it (not local, no
    forwarding): what reaches the observer is exactly what was sent, and
    nothing answers;
  - a real socket in cb (10.99.0.2) against a crafted end "at" 10.99.0.1:
    ca's own stack is silenced by a tc ingress drop on its veth (the
    AF_PACKET tap that reads cb's answers runs before it), cb has a
    static neighbour entry for 10.99.0.1.  There the kernel's own view
    (ss, the tracepoint) is checked to agree.
The process is pinned to one CPU so the segments reach cb in order.
"""
import os
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "truth"))
from lib import NetnsPair, Module, EventTail, netns, run, fail, info  # noqa
from lib import read_stats  # noqa: E402
import truth  # noqa: E402

import logging  # noqa: E402
logging.getLogger("scapy").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw  # noqa: E402

A, B = "ca", "cb"
X, Y = 84689409, 1893430205          # the seeds' ISNs
FAKE_C, FAKE_S = "10.98.0.1", "10.98.0.2"
ETH_P_ALL = 3
PACKET_OUTGOING = 4


class Wire:
    def __init__(self):
        with netns(A):
            self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            self.tx.bind(("veth-" + A, 0))
            self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                    socket.htons(ETH_P_ALL))
            self.rx.bind(("veth-" + A, 0))
        self.smac = run("ip", "-n", A, "-br", "link", "show",
                        "veth-" + A).split()[2]
        self.dmac = run("ip", "-n", B, "-br", "link", "show",
                        "veth-" + B).split()[2]
        self.sent = 0

    def send(self, src, dst, sport, dport, flags, seq, ack=0, data=b"",
             opts=None):
        p = Ether(src=self.smac, dst=self.dmac) / IP(src=src, dst=dst) / \
            TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack,
                window=65535, options=opts or [])
        if data:
            p = p / Raw(data)
        self.tx.send(bytes(p))
        self.sent += 1

    def expect_reply(self, sport, dport, timeout=5.0):
        """The next TCP segment cb sends from SPORT to DPORT."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.rx], [], [], 0.1)
            if not r:
                continue
            data, addr = self.rx.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            p = Ether(data)
            if TCP in p and p[TCP].sport == sport and p[TCP].dport == dport:
                return p[TCP]
        fail("no segment %d -> %d from cb" % (sport, dport))


class Flow:
    """A crafted flow: c() sends client -> server, s() the reverse."""

    def __init__(self, wire, cport, sport=80, caddr=FAKE_C, saddr=FAKE_S):
        self.w, self.cport, self.sport = wire, cport, sport
        self.caddr, self.saddr = caddr, saddr
        self.client = "%s:%d" % (caddr, cport)
        self.server = "%s:%d" % (saddr, sport)

    def c(self, flags, seq, ack=0, data=b"", opts=None):
        self.w.send(self.caddr, self.saddr, self.cport, self.sport, flags,
                    seq, ack, data, opts)

    def s(self, flags, seq, ack=0, data=b"", opts=None):
        self.w.send(self.saddr, self.caddr, self.sport, self.cport, flags,
                    seq, ack, data, opts)


def handshake(f):
    f.c("S", X)
    f.s("SA", Y, X + 1)
    f.c("A", X + 1, Y + 1)


def handshake_events(y, x=X, synack="S."):
    """The handshake's events: the client's ISN X, the server's Y, the
    SYN/ACK's flags SYNACK."""
    return [("client", "CLOSED", "SYN_SENT", "S", x, 0),
            ("server", "LISTEN", "SYN_RCVD", synack, y, x + 1),
            ("client", "SYN_SENT", "ESTABLISHED", synack, y, x + 1),
            ("server", "SYN_RCVD", "ESTABLISHED", ".", x + 1, y + 1)]


def simopen_events(x, y):
    """Both SYNs cross: the client's ISN X, the server's Y."""
    return [("client", "CLOSED", "SYN_SENT", "S", x, 0),
            ("server", "LISTEN", "SYN_SENT", "S", y, 0),
            ("client", "SYN_SENT", "SYN_RCVD", "S.", x, y + 1),
            ("server", "SYN_SENT", "SYN_RCVD", "S.", y, x + 1),
            ("server", "SYN_RCVD", "ESTABLISHED", "S.", y, x + 1),
            ("client", "SYN_RCVD", "ESTABLISHED", "S.", y, x + 1)]


HS = handshake_events(Y)
# The client's RST ends a half-open handshake on both sides.
STALE_RST = [("client", "ESTABLISHED", "CLOSED", "R", X + 1, 0),
             ("server", "SYN_RCVD", "CLOSED", "R", X + 1, 0)]
# The client's FIN after the handshake.
CLIENT_FIN = [("client", "ESTABLISHED", "FIN_WAIT_1", "F.", X + 1, Y + 1),
              ("server", "ESTABLISHED", "CLOSE_WAIT", "F.", X + 1, Y + 1)]


def ev(side, old, new, flags, seq, ack, reason="segment"):
    return (side, old, new, flags, seq, ack, reason)


class Checker:
    def __init__(self, wire, tail, inode):
        self.w, self.tail, self.inode = wire, tail, inode
        self.results = []

    def start(self):
        self.stats0 = read_stats()
        self.seg0 = self.stats0["segments_ipv4"]
        self.sent0 = self.w.sent
        self.mark = len(self.tail.poll())

    def finish(self, name, flow, want, stats=None, extra_segments=0,
               state=None):
        truth.settle(lambda: read_stats()["segments_ipv4"] >=
                     self.seg0 + self.w.sent - self.sent0 + extra_segments,
                     timeout=10)
        time.sleep(0.1)
        evs = [e for e in self.tail.poll()[self.mark:]
               if "lost" not in e and int(e["netns"]) == self.inode and
               e["client"] == flow.client and e["server"] == flow.server]
        self.last_events = evs
        got = [ev(e["side"], e["old"], e["new"], e["flags"], int(e["seq"]),
                  int(e["ack"]), e["reason"]) for e in evs]
        want = [w if len(w) == 7 else w + ("segment",) for w in want]
        errs = []
        for side in ("client", "server"):
            g = [x for x in got if x[0] == side]
            w = [x for x in want if x[0] == side]
            if g != w:
                errs.append("%s: want %s, got %s" % (side, w, g))
        if len(got) != len(want):
            errs.append("%d events, want %d" % (len(got), len(want)))
        now = read_stats()
        for k, d in (stats or {}).items():
            if now[k] - self.stats0[k] != d:
                errs.append("stat %s moved by %d, want %d" % (
                    k, now[k] - self.stats0[k], d))
        if state:
            rows = [r for r in table_rows(self.inode)
                    if r["client"] == flow.client and
                    r["server"] == flow.server]
            have = rows and {k: rows[-1].get(k) for k in state}
            if have != state:
                errs.append("table: want %s, got %s" % (state, have))
        self.record(name, errs)

    def record(self, name, errs):
        """One row of the summary: NAME agreed unless ERRS."""
        self.results.append((name, errs))
        info("%-44s %s" % (name, "agreed" if not errs else
                           "DISAGREED: " + "; ".join(errs)))


def kernel_view(ck, name, trace, flow, side, want):
    """The kernel's transitions of the real socket at SIDE of FLOW (the
    tracepoint, mapped by truth.py's rules) must be WANT, and agree with
    tcpstate's events of that side in the last ck.finish()."""
    time.sleep(0.2)
    recs = trace.take()
    loc, rem = truth.ep_parse(flow.client), truth.ep_parse(flow.server)
    if side == "server":
        loc, rem = rem, loc
    seqs, syn_pool, lst_pool = truth._kernel_sequences(recs)
    seq, err = truth._map_endpoint(seqs.get((loc, rem), []), loc, rem,
                                   side == "client", (syn_pool, lst_pool),
                                   {})
    mine = [e for e in ck.last_events if e["side"] == side]
    errs = [err] if err else []
    if not err and seq != want:
        errs.append("kernel %s, want %s" % (truth.fmt_seq(seq),
                                            truth.fmt_seq(want)))
    if not err and not truth.sequences_agree(seq, mine):
        errs.append("kernel %s | tcpstate %s" % (
            truth.fmt_seq(seq),
            truth.fmt_seq((e["old"], e["new"]) for e in mine)))
    ck.record(name, errs)


def ts_option(tcp):
    """(TSval, TSecr) of a scapy TCP header, or None."""
    for k, v in tcp.options:
        if k == "Timestamp":
            return v
    return None


def table_rows(inode):
    with open("/proc/tcpstate") as f:
        lines = f.read().splitlines()
    cols = lines[0].split()
    return [r for r in (dict(zip(cols, ln.split())) for ln in lines[1:])
            if r and int(r["netns"]) == inode]


def crafted(ck, w):
    """Both ends crafted."""
    port = [41000]

    def flow(hs=True):
        """A new flow, the checker started, through the handshake if HS."""
        port[0] += 1
        f = Flow(w, port[0])
        ck.start()
        if hs:
            handshake(f)
        return f

    f = flow(hs=False)
    f.c("S", X)
    f.s("S", Y)
    f.c("SA", X, Y + 1)
    f.s("SA", Y, X + 1)
    ck.finish("simultaneous open", f, simopen_events(X, Y),
              {"simultaneous_opens": 1, "handshakes": 1},
              state={"client_state": "ESTABLISHED",
                     "server_state": "ESTABLISHED", "flags": "simopen"})

    f = flow()
    f.c("FA", X + 1, Y + 1)
    f.s("FA", Y + 1, X + 1)         # crossed: does not ack the client's FIN
    f.c("A", X + 2, Y + 2)
    f.s("A", Y + 2, X + 2)
    ck.finish("simultaneous close", f, HS + CLIENT_FIN + [
        ("server", "CLOSE_WAIT", "CLOSING", "F.", Y + 1, X + 1),
        ("client", "FIN_WAIT_1", "CLOSING", "F.", Y + 1, X + 1),
        ("server", "CLOSING", "TIME_WAIT", ".", X + 2, Y + 2),
        ("client", "CLOSING", "TIME_WAIT", ".", Y + 2, X + 2)],
        {"simultaneous_closes": 1},
        state={"client_state": "TIME_WAIT", "server_state": "TIME_WAIT",
               "flags": "simclose"})

    f = flow(hs=False)
    f.c("S", X)
    f.s("SA", Y, X + 1)
    f.c("R", X + 1)                 # the client knows no such connection
    ck.finish("stale SYN answered by the client's RST", f,
              HS[:3] + STALE_RST, {"resets": 1})

    f = flow()
    f.c("R", X + 1 + 100000000)
    f.s("RA", Y + 1 - 200000, X + 1)
    ck.finish("out-of-window RST (both ways)", f, HS,
              {"invalid_rst": 2, "resets": 0},
              state={"client_state": "ESTABLISHED",
                     "server_state": "ESTABLISHED"})

    f = flow()
    f.s("RA", Y + 1, X + 1, b"rst with data")
    ck.finish("RST carrying data", f, HS + [
        ("server", "ESTABLISHED", "CLOSED", "R.", Y + 1, X + 1),
        ("client", "ESTABLISHED", "CLOSED", "R.", Y + 1, X + 1)],
        {"resets": 1})

    f = flow(hs=False)
    f.c("S", X)
    f.c("S", X)
    f.s("SA", Y, X + 1)
    f.s("SA", Y, X + 1)
    f.c("A", X + 1, Y + 1)
    f.c("FA", X + 1, Y + 1)
    f.c("FA", X + 1, Y + 1)
    f.s("A", Y + 1, X + 2)
    f.s("FA", Y + 1, X + 2)
    f.c("A", X + 2, Y + 2)
    ck.finish("retransmitted SYN, SYN/ACK and FIN", f, HS + CLIENT_FIN + [
        ("client", "FIN_WAIT_1", "FIN_WAIT_2", ".", Y + 1, X + 2),
        ("server", "CLOSE_WAIT", "LAST_ACK", "F.", Y + 1, X + 2),
        ("client", "FIN_WAIT_2", "TIME_WAIT", "F.", Y + 1, X + 2),
        ("server", "LAST_ACK", "CLOSED", ".", X + 2, Y + 2)],
        {"retransmissions": 3})

    f = flow(hs=False)
    f.c("S", X)
    f.s("SA", Y, X + 1)
    # the third ACK is lost; the client's first data acks the SYN/ACK
    f.c("PA", X + 1, Y + 1, b"GET / HTTP/1.0\r\n\r\n")
    ck.finish("lost third ACK", f, HS[:3] + [
        ("server", "SYN_RCVD", "ESTABLISHED", "P.", X + 1, Y + 1)],
        {"handshakes": 1})

    f = flow()
    f.c("FA", X + 1, Y + 1)
    f.s("FA", Y + 1, X + 2)
    f.c("A", X + 2, Y + 2)
    f.c("S", X + 1000000)
    ck.finish("new SYN on a 4-tuple in TIME_WAIT", f, HS + CLIENT_FIN + [
        ("server", "CLOSE_WAIT", "LAST_ACK", "F.", Y + 1, X + 2),
        ("client", "FIN_WAIT_1", "TIME_WAIT", "F.", Y + 1, X + 2),
        ("server", "LAST_ACK", "CLOSED", ".", X + 2, Y + 2),
        ("client", "TIME_WAIT", "CLOSED", "S", X + 1000000, 0),
        ("client", "CLOSED", "SYN_SENT", "S", X + 1000000, 0)],
        {"new_generations": 1},
        state={"client_state": "SYN_SENT", "server_state": "LISTEN"})

    f = flow(hs=False)
    f.s("PA", Y + 5000, X + 300, b"HTTP/1.0 200 OK\r\n")
    f.c("A", X + 300, Y + 5017)
    ck.finish("mid-stream pickup", f, [
        ("client", "CLOSED", "ESTABLISHED", "P.", Y + 5000, X + 300),
        ("server", "LISTEN", "ESTABLISHED", "P.", Y + 5000, X + 300)],
        {"pickups": 1},
        state={"client_state": "ESTABLISHED",
               "server_state": "ESTABLISHED", "flags": "pickup,guessed"})

    f = flow()
    f.c("SF", X + 1, Y + 1)
    f.c("SR", X + 1, Y + 1)
    f.c("", X + 1, Y + 1)
    f.c("F", X + 1)
    f.s("FR", Y + 1, X + 1)
    f.s("U", Y + 1, X + 1)
    ck.finish("SYN+FIN and other invalid flag sets", f, HS,
              {"invalid_flags": 6},
              state={"client_state": "ESTABLISHED",
                     "server_state": "ESTABLISHED"})


def with_sockets(ck, w, trace, inode):
    """A real socket in cb against a crafted end at 10.99.0.1."""
    peer, me = "10.99.0.1", "10.99.0.2"

    # the seeds' stale SYN to a real listener, answered by the RST
    lst = None
    with netns(B):
        lst = socket.socket()
        lst.bind((me, 7000))
        lst.listen(8)
    trace.take()
    f = Flow(w, 47000, 7000, peer, me)
    ck.start()
    f.c("S", X)
    sa = w.expect_reply(7000, 47000)
    y = sa.seq
    if sa.ack != X + 1 or sa.flags != "SA":
        fail("cb's answer to the SYN: %s ack %d" % (sa.flags, sa.ack))
    synrecv = run("ss", "-Htan", "state", "syn-recv", ns=B)
    f.c("R", X + 1)
    ck.finish("stale SYN to a real listener", f,
              handshake_events(y)[:3] + STALE_RST, {"resets": 1},
              extra_segments=1)
    time.sleep(0.2)
    after = run("ss", "-Htan", "state", "syn-recv", ns=B)
    recs = [r for r in trace.take() if r["dport"] == 47000]
    errs = []
    if "%s:47000" % peer not in synrecv:
        errs.append("ss showed no SYN-RECV before the RST: %r" % synrecv)
    if "%s:47000" % peer in after:
        errs.append("ss still shows SYN-RECV after the RST: %r" % after)
    if recs:
        errs.append("the request socket was traced: %s" % recs)
    ck.record("stale SYN: kernel view (ss, tracepoint)", errs)
    lst.close()

    # simultaneous open with a real connect()
    ck.start()
    with netns(B):
        s = socket.socket()
        s.bind((me, 7100))
        s.setblocking(False)
        try:
            s.connect((peer, 7101))
        except BlockingIOError:
            pass
    f = Flow(w, 7100, 7101, me, peer)       # the kernel's end is the client
    syn = w.expect_reply(7100, 7101)
    x = syn.seq
    f.s("S", Y)                             # our SYN crosses the kernel's
    sa = w.expect_reply(7100, 7101)
    if sa.flags != "SA" or sa.ack != Y + 1:
        fail("cb's answer to the crossing SYN: %s ack %d" % (sa.flags,
                                                             sa.ack))
    f.s("SA", Y, x + 1)
    ck.finish("simultaneous open with a real socket", f,
              simopen_events(x, Y), {"simultaneous_opens": 1},
              extra_segments=2)
    time.sleep(0.3)
    est = run("ss", "-Htan", "state", "established", ns=B)
    recs = [r for r in trace.take() if r["sport"] == 7100]
    kseq = [(r["old"], r["new"]) for r in recs]
    want = [("CLOSED", "SYN_SENT"), ("SYN_SENT", "SYN_RCVD"),
            ("SYN_RCVD", "ESTABLISHED")]
    errs = []
    if kseq != want:
        errs.append("tracepoint: %s" % truth.fmt_seq(kseq))
    if "%s:7100" % me not in est:
        errs.append("ss shows no ESTABLISHED socket: %r" % est)
    ck.record("simultaneous open: kernel view", errs)
    linger = __import__("struct").pack("ii", 1, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.close()


def bound_client(me, port):
    """A non-blocking TCP socket in cb bound to ME:PORT."""
    with netns(B):
        s = socket.socket()
        s.bind((me, port))
        s.setblocking(False)
    return s


def abort(s):
    """close() with SO_LINGER 0: the kernel sends R."""
    linger = __import__("struct").pack("ii", 1, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.close()


def connect_nb(s, addr):
    try:
        s.connect(addr)
    except BlockingIOError:
        pass


def fastopen_send(s, data, addr):
    try:
        s.sendto(data, socket.MSG_FASTOPEN, addr)
    except BlockingIOError:
        pass


EDGE_PEER, EDGE_ME = "10.99.0.1", "10.99.0.2"


def new_case(ck, trace, w, port):
    """One case of edges(): the trace and the counters start afresh; a
    non-blocking socket in cb bound to port PORT, and the crafted flow
    from it to the peer's PORT + 1."""
    trace.take()
    ck.start()
    return bound_client(EDGE_ME, port), Flow(w, port, port + 1, EDGE_ME,
                                             EDGE_PEER)


def edges(ck, w, trace, inode):
    """Issue 15: the edges an independent judge found, each against a
    real socket in cb, with the kernel's own view."""
    peer, me = EDGE_PEER, EDGE_ME
    ES, CL = "ESTABLISHED", "CLOSED"

    # 1. A FIN that acks data never sent: RFC 793 and Linux drop it and
    # the socket stays ESTABLISHED; the valid FIN that follows counts
    s, f = new_case(ck, trace, w, 7200)
    connect_nb(s, (peer, 7201))
    x = w.expect_reply(7200, 7201).seq
    f.s("SA", Y, x + 1)
    w.expect_reply(7200, 7201)                  # the third ACK
    f.s("FA", Y + 1, x + 1 + 9999)
    time.sleep(0.3)
    if not run("ss", "-Htn", "state", "established", "sport", "= :7200",
               ns=B).strip():
        fail("the kernel took the FIN acking data never sent")
    f.s("FA", Y + 1, x + 1)
    time.sleep(0.3)                             # the kernel acks it
    abort(s)
    ck.finish("FIN acking data never sent, then a valid one", f,
              handshake_events(Y, x) + [
        ("server", ES, "FIN_WAIT_1", "F.", Y + 1, x + 1),
        ("client", ES, "CLOSE_WAIT", "F.", Y + 1, x + 1),
        ("server", "FIN_WAIT_1", "FIN_WAIT_2", ".", x + 1, Y + 2),
        ("client", "CLOSE_WAIT", CL, "R.", x + 1, Y + 2),
        ("server", "FIN_WAIT_2", CL, "R.", x + 1, Y + 2)],
        {"invalid_ack": 1, "resets": 1}, extra_segments=4)
    kernel_view(ck, "FIN acking data never sent: kernel view", trace, f,
                "client", [(CL, "SYN_SENT"), ("SYN_SENT", ES),
                           (ES, "CLOSE_WAIT"), ("CLOSE_WAIT", CL)])

    # 2a. Simultaneous open of a Fast Open client: the SYN/ACK of the
    # crossing SYN acks the data of the kernel's SYN
    run("sysctl", "-qw", "net.ipv4.tcp_fastopen=5", ns=B)
    run("sysctl", "-qw", "net.ipv4.tcp_fastopen_blackhole_timeout_sec=0",
        ns=B)
    s, f = new_case(ck, trace, w, 7300)
    fastopen_send(s, b"t" * 1000, (peer, 7301))
    syn = w.expect_reply(7300, 7301)
    x = syn.seq
    if len(syn.payload) != 1000:
        fail("the Fast Open SYN carries %d bytes" % len(syn.payload))
    f.s("S", Y)
    sa = w.expect_reply(7300, 7301)
    if sa.flags != "SA" or sa.seq != x or sa.ack != Y + 1:
        fail("cb's answer to the crossing SYN: %s %d %d" % (
            sa.flags, sa.seq, sa.ack))
    f.s("SA", Y, x + 1001)
    time.sleep(0.2)
    abort(s)
    ck.finish("simultaneous Fast Open", f, [
        ("client", CL, "SYN_SENT", "S", x, 0),
        ("server", "LISTEN", "SYN_SENT", "S", Y, 0),
        ("client", "SYN_SENT", "SYN_RCVD", "S.", x, Y + 1),
        ("server", "SYN_SENT", "SYN_RCVD", "S.", Y, x + 1001),
        ("server", "SYN_RCVD", ES, "S.", Y, x + 1001),
        ("client", "SYN_RCVD", ES, "S.", Y, x + 1001),
        ("client", ES, CL, "R.", x + 1001, Y + 1),
        ("server", ES, CL, "R.", x + 1001, Y + 1)],
        {"simultaneous_opens": 1, "invalid_ack": 0}, extra_segments=3)
    kernel_view(ck, "simultaneous Fast Open: kernel view", trace, f,
                "client", [(CL, "SYN_SENT"), ("SYN_SENT", "SYN_RCVD"),
                           ("SYN_RCVD", ES), (ES, CL)])

    # 2b. A Fast Open SYN retransmitted without its data, then the
    # SYN/ACK that acks the data of the first
    s, f = new_case(ck, trace, w, 7310)
    fastopen_send(s, b"t" * 1000, (peer, 7311))
    syn = w.expect_reply(7310, 7311)
    x = syn.seq
    again = w.expect_reply(7310, 7311)       # after the SYN's RTO
    if len(syn.payload) != 1000 or len(again.payload) or again.seq != x:
        fail("Fast Open SYN %d bytes, again %d bytes seq %d" % (
            len(syn.payload), len(again.payload), again.seq))
    f.s("SA", Y, x + 1001)
    ack = w.expect_reply(7310, 7311)
    abort(s)
    ck.finish("Fast Open SYN retransmitted without its data", f, [
        ("client", CL, "SYN_SENT", "S", x, 0),
        ("server", "LISTEN", "SYN_RCVD", "S.", Y, x + 1001),
        ("client", "SYN_SENT", ES, "S.", Y, x + 1001),
        ("server", "SYN_RCVD", ES, ".", ack.seq, Y + 1),
        ("client", ES, CL, "R.", x + 1001, Y + 1),
        ("server", ES, CL, "R.", x + 1001, Y + 1)],
        {"invalid_ack": 0, "retransmissions": 1}, extra_segments=4)
    kernel_view(ck, "Fast Open SYN again: kernel view", trace, f,
                "client", [(CL, "SYN_SENT"), ("SYN_SENT", ES), (ES, CL)])
    run("sysctl", "-qw", "net.ipv4.tcp_fastopen=1", ns=B)

    # 3. SYN/ACK with data and FIN: Linux takes the SYN/ACK, drops the
    # data and FIN, and closes passively when they come again
    s, f = new_case(ck, trace, w, 7400)
    connect_nb(s, (peer, 7401))
    x = w.expect_reply(7400, 7401).seq
    f.s("FSPA", Y, x + 1, b"hello")
    a = w.expect_reply(7400, 7401)
    if a.ack != Y + 1:
        fail("the kernel took the SYN/ACK's data or FIN: ack %d" % a.ack)
    f.s("FPA", Y + 1, x + 1, b"hello")
    w.expect_reply(7400, 7401)
    if s.recv(100) != b"hello":                 # unread data: close = RST
        fail("the client did not get the data again")
    s.close()
    w.expect_reply(7400, 7401)
    f.s("A", Y + 7, x + 2)
    ck.finish("SYN/ACK with data and FIN", f,
              handshake_events(Y, x, "FSP.") + [
        ("server", ES, "FIN_WAIT_1", "FP.", Y + 1, x + 1),
        ("client", ES, "CLOSE_WAIT", "FP.", Y + 1, x + 1),
        ("server", "FIN_WAIT_1", "FIN_WAIT_2", ".", x + 1, Y + 7),
        ("client", "CLOSE_WAIT", "LAST_ACK", "F.", x + 1, Y + 7),
        ("server", "FIN_WAIT_2", "TIME_WAIT", "F.", x + 1, Y + 7),
        ("client", "LAST_ACK", CL, ".", Y + 7, x + 2)],
        {"invalid_flags": 0}, extra_segments=4)
    kernel_view(ck, "SYN/ACK with data and FIN: kernel view", trace, f,
                "client", [(CL, "SYN_SENT"), ("SYN_SENT", ES),
                           (ES, "CLOSE_WAIT"), ("CLOSE_WAIT", "LAST_ACK"),
                           ("LAST_ACK", CL)])

    # 4. PAWS: a SYN/ACK whose echo is older than the SYN is answered by
    # RST and the client stays SYN_SENT; the valid one that follows counts
    s, f = new_case(ck, trace, w, 7500)
    connect_nb(s, (peer, 7501))
    syn = w.expect_reply(7500, 7501)
    x, ts = syn.seq, ts_option(syn)
    if not ts:
        fail("the kernel's SYN has no timestamp option")
    f.s("SA", Y, x + 1, opts=[("Timestamp", (1000, ts[0] - 1000))])
    rst = w.expect_reply(7500, 7501)
    if rst.flags != "R" or rst.seq != x + 1:
        fail("the kernel's answer to the bad echo: %s seq %d" % (
            rst.flags, rst.seq))
    f.s("SA", Y, x + 1, opts=[("Timestamp", (1001, ts[0]))])
    w.expect_reply(7500, 7501)
    abort(s)
    ck.finish("PAWS: SYN/ACK with a wrong echo, then a valid one", f,
              handshake_events(Y, x) + [
        ("client", ES, CL, "R.", x + 1, Y + 1),
        ("server", ES, CL, "R.", x + 1, Y + 1)],
        {"invalid_ack": 1, "resets": 1}, extra_segments=4)
    kernel_view(ck, "PAWS: kernel view", trace, f, "client",
                [(CL, "SYN_SENT"), ("SYN_SENT", ES), (ES, CL)])

    # 5. A client closed in SYN_SENT answers the SYN/ACK with a bare RST:
    # tcpstate's ESTABLISHED of the SYN/ACK, then CLOSED, stand for the
    # kernel's SYN_SENT>CLOSED (truth.py K10)
    s, f = new_case(ck, trace, w, 7600)
    connect_nb(s, (peer, 7601))
    x = w.expect_reply(7600, 7601).seq
    s.close()
    f.s("SA", Y, x + 1)
    rst = w.expect_reply(7600, 7601)
    if rst.flags != "R" or rst.seq != x + 1:
        fail("the closed client's answer: %s seq %d" % (rst.flags,
                                                         rst.seq))
    ck.finish("client closed in SYN_SENT, then the SYN/ACK", f, [
        ("client", CL, "SYN_SENT", "S", x, 0),
        ("server", "LISTEN", "SYN_RCVD", "S.", Y, x + 1),
        ("client", "SYN_SENT", ES, "S.", Y, x + 1),
        ("client", ES, CL, "R", x + 1, 0),
        ("server", "SYN_RCVD", CL, "R", x + 1, 0)],
        {"resets": 1}, extra_segments=2)
    kernel_view(ck, "closed in SYN_SENT: kernel view", trace, f, "client",
                [(CL, "SYN_SENT"), ("SYN_SENT", CL)])


def main():
    os.sched_setaffinity(0, {0})
    with NetnsPair(A, B):
        run("tc", "qdisc", "add", "dev", "veth-" + A, "ingress", ns=A)
        run("tc", "filter", "add", "dev", "veth-" + A, "parent", "ffff:",
            "matchall", "action", "drop", ns=A)
        amac = run("ip", "-n", A, "-br", "link", "show", "veth-" + A
                   ).split()[2]
        run("ip", "-n", B, "neigh", "replace", "10.99.0.1", "lladdr", amac,
            "dev", "veth-" + B, "nud", "permanent")
        inode = truth.netns_inode(B)
        w = Wire()
        with Module(ring_size=65536), EventTail() as tail, \
                truth.KernelTrace("tcpstate-crafted") as trace:
            ck = Checker(w, tail, inode)
            crafted(ck, w)
            with_sockets(ck, w, trace, inode)
            edges(ck, w, trace, inode)
    table = truth.Table("truth: crafted segments (exact events, counters, "
                        "kernel view)")
    for name, errs in ck.results:
        table.add(name, 1, 0 if errs else 1, 1 if errs else 0)
    table.print()
    if table.failed():
        fail("crafted sequences disagree")


main()
