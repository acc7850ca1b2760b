#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Truth, part 1: tcpstate against the kernel's own socket states.

Real sockets over loopback (in a namespace of their own) and over a veth
pair between two namespaces, IPv4 and IPv6; the kernel's transitions from
the tracepoint sock:inet_sock_set_state, tcpstate's from
/proc/tcpstate_events, compared per connection and endpoint after the
mapping documented in tests/truth/truth.py.  Every seed scenario, then a
randomised mix (TCPSTATE_TRUTH_SEED, TCPSTATE_TRUTH_CONNS), then the
same kinds of connection run by PAR_WORKERS threads at once
(TCPSTATE_TRUTH_PARALLEL connections in all), so that segments of
different flows, and the GC, meet on different CPUs (issue 9).  Prints a
summary table; anything below 100% fails.
"""
import functools
import os
import random
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "truth"))
from lib import NetnsPair, Module, EventTail, netns, run, fail, info  # noqa
import truth  # noqa: E402

SEED = int(os.environ.get("TCPSTATE_TRUTH_SEED", "20261121"))
MIX = int(os.environ.get("TCPSTATE_TRUTH_CONNS", "1000"))
PARALLEL = int(os.environ.get("TCPSTATE_TRUTH_PARALLEL", "400"))
# Which parts run: tests/run gives "seed,mix" to the suite's boot and
# "parallel" to a boot with more vCPUs of its own.
SECTIONS = set(os.environ.get("TCPSTATE_TRUTH_SECTIONS",
                              "seed,mix,parallel").split(","))
PAR_WORKERS = 8
BATCH = 50
TCPI_OPT_SYN_DATA = 32

LO = "tl"
NSA, NSB = "ta", "tb"
# name, family, client ns, client addr, server ns, server addr
TRANSPORTS = [
    ("lo4", socket.AF_INET, LO, "127.0.0.1", LO, "127.0.0.1"),
    ("lo6", socket.AF_INET6, LO, "::1", LO, "::1"),
    ("veth4", socket.AF_INET, NSA, "10.99.0.1", NSB, "10.99.0.2"),
    ("veth6", socket.AF_INET6, NSA, "fd99::1", NSB, "fd99::2"),
]

_next_port = [20000]
_next_srv = [8000]
_ports_lock = threading.Lock()


def client_port():
    with _ports_lock:
        _next_port[0] += 1
        return _next_port[0]


def server_port():
    with _ports_lock:
        _next_srv[0] += 1
        return _next_srv[0]


def sock(ns, fam):
    with netns(ns):
        return socket.socket(fam, socket.SOCK_STREAM)


def listener(tr, port, fastopen=False):
    _, fam, _, _, sns, saddr = tr
    s = sock(sns, fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fastopen:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 64)
    s.bind((saddr, port))
    s.listen(512)
    return s


def observers(tr):
    return sorted({truth.netns_inode(tr[2]), truth.netns_inode(tr[4])})


def conn_of(name, tr, c, a):
    cl = c.getsockname()
    sv = a.getsockname()
    return truth.Conn(name, truth.ep(cl[0], cl[1]), truth.ep(sv[0], sv[1]),
                      observers(tr))


def refused_conn(name, tr, c, port):
    """The truth.Conn of client C to PORT, where nobody listens."""
    cl = c.getsockname()
    return truth.Conn(name, truth.ep(cl[0], cl[1]), truth.ep(tr[5], port),
                      observers(tr))


def bound_client(tr):
    """A client socket bound to the next client port."""
    _, fam, cns, caddr, _, _ = tr
    c = sock(cns, fam)
    c.bind((caddr, client_port()))
    return c


def open_pair(tr, lst, port, bind=False):
    """A connected (client, accepted server) pair."""
    c = bound_client(tr) if bind else sock(tr[2], tr[1])
    c.connect((tr[5], port))
    a, _ = lst.accept()
    return c, a


def pairs(name, tr, n, body):
    """N connections to a listener of their own: body(i, c, a) runs on
    each connected (client, accepted server) pair.  Returns their
    truth.Conns."""
    port = server_port()
    lst = listener(tr, port)
    conns = []
    for i in range(n):
        c, a = open_pair(tr, lst, port)
        conns.append(conn_of(name, tr, c, a))
        body(i, c, a)
    lst.close()
    return conns


def drain(s, timeout=10.0):
    """Read until EOF; returns the bytes."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            return data
        if not d:
            return data
        data += d


def read_ready(s):
    """Read what a non-blocking socket has now, without waiting."""
    try:
        while s.recv(65536):
            pass
    except (BlockingIOError, ConnectionResetError):
        pass


def linger0(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def close_first(first, second):
    """FIRST closes; SECOND reads to end-of-file, then closes too."""
    first.close()
    drain(second)
    second.close()


# ---------------------------------------------------------------- scenarios

def sc_client_first(name, tr, n=3):
    def body(i, c, a):
        c.sendall(b"request")
        a.recv(100)
        a.sendall(b"response")
        c.recv(100)
        close_first(c, a)
    return pairs(name, tr, n, body)


def sc_server_first(name, tr, n=3):
    def body(i, c, a):
        c.sendall(b"request")
        a.recv(100)
        close_first(a, c)
    return pairs(name, tr, n, body)


def sc_simultaneous(name, tr, n=3):
    """Both ends shutdown(SHUT_WR) at once, released by a barrier, with
    100 ms of netem delay each way so that the FINs cross."""
    dev = "lo" if tr[2] == tr[4] else None
    nss = [tr[2]] if dev else [tr[2], tr[4]]
    for ns in nss:
        run("tc", "qdisc", "add", "dev", dev or "veth-" + ns, "root",
            "netem", "delay", "100ms", ns=ns)

    def body(i, c, a):
        bar = threading.Barrier(2)

        def fin(s):
            bar.wait()
            s.shutdown(socket.SHUT_WR)
        th = [threading.Thread(target=fin, args=(s,)) for s in (c, a)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        drain(c)
        drain(a)
        c.close()
        a.close()
    try:
        conns = pairs(name, tr, n, body)
        time.sleep(0.5)
    finally:
        for ns in nss:
            run("tc", "qdisc", "del", "dev", dev or "veth-" + ns, "root",
                ns=ns)
    return conns


def sc_refused(name, tr, n=3):
    port = server_port()            # nobody listens there
    conns = []
    for _ in range(n):
        c = bound_client(tr)
        try:
            c.connect((tr[5], port))
            fail("%s: connect to a closed port succeeded" % name)
        except ConnectionRefusedError:
            pass
        conns.append(refused_conn(name, tr, c, port))
        c.close()
    return conns


def sc_abort(name, tr, n=3):
    """SO_LINGER 0: the client aborts (twice), then the server (once)."""
    def body(i, c, a):
        c.sendall(b"x")
        a.recv(10)
        first, second = (c, a) if i % 3 != 2 else (a, c)
        linger0(first)
        close_first(first, second)
    return pairs(name, tr, n, body)


def sc_halfclose(name, tr, n=3):
    """Client sends and shuts down its side; the server keeps sending
    after the FIN, then closes."""
    def body(i, c, a):
        c.sendall(b"a" * 3000)
        c.shutdown(socket.SHUT_WR)
        got = drain(a)
        if len(got) != 3000:
            fail("%s: server read %d bytes" % (name, len(got)))
        for _ in range(3):
            a.sendall(b"b" * 2000)
            time.sleep(0.01)
        a.close()
        got = drain(c)
        if len(got) != 6000:
            fail("%s: client read %d bytes after its FIN" % (name, len(got)))
        c.close()
    return pairs(name, tr, n, body)


def sc_fastopen(name, tr, n=3):
    """TFO with data on the SYN: the first connection fetches the cookie,
    the next ones carry data on their SYN (checked with TCP_INFO)."""
    _, fam, cns, caddr, sns, saddr = tr
    port = server_port()
    lst = listener(tr, port, fastopen=True)
    conns = []
    for i in range(n):
        c = sock(cns, fam)
        c.sendto(b"GET / with the SYN", socket.MSG_FASTOPEN, (saddr, port))
        a, _ = lst.accept()
        conns.append(conn_of(name, tr, c, a))
        a.recv(100)
        a.sendall(b"ok")
        c.recv(100)
        opts = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
        if i > 0 and not opts & TCPI_OPT_SYN_DATA:
            fail("%s: connection %d did not carry data on its SYN" % (name, i))
        c.close()
        drain(a)
        a.close()
    lst.close()
    return conns


def sc_mix(name, tr_list, rng, total):
    """TOTAL connections in batches of BATCH over random transports, each
    with random data and a random close: client first, server first, both
    at once, an abort by either end (SO_LINGER 0), a half-close with data
    after the FIN, a close with unread data (RST), or a refused port.  The
    actions of all connections of a batch are interleaved at random."""
    conns = []
    kinds = ["client", "server", "both", "abort_c", "abort_s", "half",
             "unread", "refused"]
    done = 0
    while done < total:
        n = min(BATCH, total - done)
        lsts = {}
        plan = []
        for _ in range(n):
            tr = rng.choice(tr_list)
            kind = rng.choice(kinds)
            if tr[0] not in lsts:
                p = server_port()
                lsts[tr[0]] = (listener(tr, p), p)
            lst, port = lsts[tr[0]]
            if kind == "refused":
                c = bound_client(tr)
                c.setblocking(False)
                try:
                    c.connect((tr[5], port + 5000))
                except BlockingIOError:
                    pass
                conns.append(refused_conn(name, tr, c, port + 5000))
                plan.append([c.close])
                continue
            c, a = open_pair(tr, lst, port, bind=True)
            conns.append(conn_of(name, tr, c, a))
            c.setblocking(False)
            a.setblocking(False)
            acts = []
            if rng.random() < 0.7:
                acts.append(functools.partial(
                    c.send, b"q" * rng.randint(1, 3000)))
            if rng.random() < 0.7:
                acts.append(functools.partial(
                    a.send, b"r" * rng.randint(1, 3000)))

            def cl(s):
                read_ready(s)
                s.close()

            def ab(s):
                linger0(s)
                s.close()

            def shut(s):
                read_ready(s)
                s.shutdown(socket.SHUT_WR)
            P = functools.partial
            if kind == "client":
                acts += [P(cl, c), P(cl, a)]
            elif kind == "server":
                acts += [P(cl, a), P(cl, c)]
            elif kind == "both":
                acts += [P(shut, c), P(shut, a), P(cl, c), P(cl, a)]
            elif kind == "abort_c":
                acts += [P(ab, c), P(cl, a)]
            elif kind == "abort_s":
                acts += [P(ab, a), P(cl, c)]
            elif kind == "half":
                acts += [P(shut, c), P(a.send, b"h" * 1000), P(cl, a),
                         P(cl, c)]
            else:                       # unread: the client closes on data
                acts += [P(a.send, b"u" * 500), P(time.sleep, 0.005),
                         c.close, P(cl, a)]
            plan.append(acts)
        # interleave: repeatedly run the next action of a random conn
        live = [p for p in plan if p]
        while live:
            p = rng.choice(live)
            try:
                p.pop(0)()
            except (BlockingIOError, BrokenPipeError, ConnectionResetError,
                    OSError):
                pass
            live = [p for p in live if p]
        for lst, _ in lsts.values():
            lst.close()
        done += n
        wait_quiet()
    return conns


def sc_parallel(name, tr_list, rng, total):
    """TOTAL connections run by PAR_WORKERS threads at once, each thread
    one connection after another with its own listeners: random transport,
    data both ways in a few pieces with short pauses (so each flow lives
    across several GC runs), and a random close as in sc_mix."""
    kinds = ["client", "server", "both", "abort_c", "abort_s", "half",
             "unread"]
    conns, errors = [], []
    lock = threading.Lock()
    seeds = [rng.getrandbits(32) for _ in range(PAR_WORKERS)]

    def worker(w):
        r = random.Random(seeds[w])
        lsts = {}
        for _ in range(w, total, PAR_WORKERS):
            tr = r.choice(tr_list)
            if tr[0] not in lsts:
                p = server_port()
                lsts[tr[0]] = (listener(tr, p), p)
            lst, port = lsts[tr[0]]
            c, a = open_pair(tr, lst, port, bind=True)
            with lock:
                conns.append(conn_of(name, tr, c, a))
            c.setblocking(False)
            a.setblocking(False)
            for _ in range(r.randint(1, 4)):
                (c if r.random() < 0.5 else a).send(
                    b"p" * r.randint(1, 1500))
                time.sleep(r.uniform(0, 0.03))
            kind = r.choice(kinds)
            first, second = (a, c) if kind in ("server", "abort_s") \
                else (c, a)
            try:
                if kind in ("abort_c", "abort_s"):
                    linger0(first)
                elif kind == "both":
                    read_ready(c)
                    read_ready(a)
                    c.shutdown(socket.SHUT_WR)
                    a.shutdown(socket.SHUT_WR)
                    time.sleep(0.01)
                elif kind == "half":
                    read_ready(c)
                    c.shutdown(socket.SHUT_WR)
                    time.sleep(0.01)
                    a.send(b"h" * 1000)
                    first, second = a, c
                elif kind == "unread":
                    a.send(b"u" * 500)
                    time.sleep(0.005)
                if kind != "unread":
                    read_ready(first)
                first.close()
                time.sleep(r.uniform(0, 0.01))
                read_ready(second)
                second.close()
            except (BlockingIOError, BrokenPipeError, ConnectionResetError,
                    OSError):
                c.close()
                a.close()
        for lst, _ in lsts.values():
            lst.close()

    def run_worker(w):
        try:
            worker(w)
        except Exception as e:  # noqa: B902 - reported below
            errors.append("worker %d: %r" % (w, e))

    threads = [threading.Thread(target=run_worker, args=(w,))
               for w in range(PAR_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        fail("parallel connections: %s" % errors[:3])
    return conns


# ---------------------------------------------------------------- driver

def busy_sockets():
    """Sockets of our namespaces not yet LISTEN, closed or timewait."""
    out = []
    for ns in (LO, NSA, NSB):
        txt = run("ss", "-Htan", "state", "connected", ns=ns)
        out += [line for line in txt.splitlines()
                if line.split() and line.split()[0] != "TIME-WAIT"]
    return out


def wait_quiet():
    left = truth.settle(lambda: not busy_sockets(), timeout=30)
    if not left:
        fail("sockets still busy: %s" % busy_sockets()[:5])
    time.sleep(0.2)


def main():
    rng = random.Random(SEED)
    info("seed %d, %d mixed connections" % (SEED, MIX))
    table = truth.Table("truth: kernel sockets vs tcpstate")
    failures = []
    run("ip", "netns", "add", LO)
    try:
        run("ip", "-n", LO, "link", "set", "lo", "up")
        with NetnsPair(NSA, NSB):
            for ns in (LO, NSA, NSB):
                run("sysctl", "-qw", "net.ipv4.tcp_fastopen=3", ns=ns)
            with Module(ring_size=1048576, time_wait_ms=600000), \
                    EventTail() as tail, truth.KernelTrace() as trace:
                scenarios = [
                    ("client-first close", sc_client_first),
                    ("server-first close", sc_server_first),
                    ("simultaneous close", sc_simultaneous),
                    ("refused", sc_refused),
                    ("reset abort (SO_LINGER 0)", sc_abort),
                    ("half-close, data both ways", sc_halfclose),
                    ("TCP Fast Open, data on SYN", sc_fastopen),
                ]
                if "seed" not in SECTIONS:
                    scenarios = []
                for sname, fn in scenarios:
                    for tr in TRANSPORTS:
                        name = "%s %s" % (sname, tr[0])
                        mark = len(tail.poll())
                        t0 = time.monotonic()
                        conns = fn(name, tr)
                        wait_quiet()
                        check(table, failures, name, conns, tail, mark,
                              trace, t0)
                        if fn is sc_simultaneous:
                            check_crossed(tail.events[mark:], conns, name)
                if "mix" in SECTIONS:
                    mark = len(tail.poll())
                    t0 = time.monotonic()
                    conns = sc_mix("mix", TRANSPORTS, rng, MIX)
                    wait_quiet()
                    check(table, failures, "random mix (seed %d)" % SEED,
                          conns, tail, mark, trace, t0)
                if "parallel" in SECTIONS:
                    mark = len(tail.poll())
                    t0 = time.monotonic()
                    conns = sc_parallel("parallel", TRANSPORTS, rng,
                                        PARALLEL)
                    wait_quiet()
                    check(table, failures, "%d threads at once on %d CPUs "
                          "(seed %d)" % (PAR_WORKERS, os.cpu_count(), SEED),
                          conns, tail, mark, trace, t0)
                if not table.rows:
                    fail("no section of %s ran" % sorted(SECTIONS))
    finally:
        run("ip", "netns", "del", LO, check=False)
    for f in failures[:40]:
        info(f)
    table.print()
    if table.failed():
        fail("tcpstate disagrees with the kernel (%d connections)"
             % len(failures))


def check_crossed(events, conns, name):
    """The simultaneous close is only one if the FINs crossed: each side
    must have reached CLOSING (tcpstate's view, checked against the
    kernel's by the comparison)."""
    for c in conns:
        for side in ("client", "server"):
            if not any(e.get("side") == side and e.get("new") == "CLOSING"
                       and truth.ep_parse(e["client"]) == c.client
                       for e in events if "client" in e):
                fail("%s: the FINs did not cross for %s (%s never CLOSING)"
                     % (name, truth.ep_str(c.client), side))


def check(table, failures, name, conns, tail, mark, trace, t0):
    events = tail.poll()[mark:]
    records = trace.take()
    tw = trace.tw_for(conns)
    agreed, disagreed = truth.compare(conns, records, events, tw)
    table.add(name, len(conns), agreed, disagreed)
    info("%-40s %4d connections, %4d agreed (%.1fs)" % (
        name, len(conns), agreed, time.monotonic() - t0))
    for c in conns:
        if c.detail:
            failures.append("%s %s -> %s: %s" % (
                name, truth.ep_str(c.client), truth.ep_str(c.server),
                c.detail))


main()
