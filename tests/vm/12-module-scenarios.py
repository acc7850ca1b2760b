#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: the TIME_WAIT and idle timers against the packet path, on real connections
#
# The core's scenarios with real sockets, over loopback (IPv4 and IPv6, in
# a namespace of their own) and over a veth pair between two namespaces
# (IPv4 and IPv6): client-first close, server-first close, refused, reset
# abort (SO_LINGER 0), half-close with data after the FIN, and a
# client-first close after a megabyte each way at once.  For each,
# every observing namespace must report exactly the expected per-endpoint
# transitions, with the handshake and FIN seq/ack arithmetic visible in
# the seq and ack fields, and /proc/tcpstate must show the expected final
# states.  The segment counters must count each segment exactly once per
# namespace (checked against the kernel's own Tcp OutSegs counters), and
# the TIME_WAIT -> CLOSED timer event must come time_wait_ms after the
# TIME_WAIT event, not before and not much later.  No segment of real
# sockets may count as invalid.
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

TW_MS = 1000            # time_wait_ms for this test
TW_SLACK_MS = 700 * PACE  # GC sweeps every 250 ms here; TCG is slow
LO_NS = "tl"

HANDSHAKE = [
    ("client", "CLOSED", "SYN_SENT", "S"),
    ("server", "LISTEN", "SYN_RCVD", "S."),
    ("client", "SYN_SENT", "ESTABLISHED", "S."),
    ("server", "SYN_RCVD", "ESTABLISHED", "."),
]


def closing(first, second):
    """The four-way close, FIRST closing: its FIN, the ACK, the peer's FIN,
    the final ACK, then the 2MSL timer."""
    return [
        (first, "ESTABLISHED", "FIN_WAIT_1", "F."),
        (second, "ESTABLISHED", "CLOSE_WAIT", "F."),
        (first, "FIN_WAIT_1", "FIN_WAIT_2", "."),
        (second, "CLOSE_WAIT", "LAST_ACK", "F."),
        (first, "FIN_WAIT_2", "TIME_WAIT", "F."),
        (second, "LAST_ACK", "CLOSED", "."),
        (first, "TIME_WAIT", "CLOSED", "-"),
    ]


def ep(fam, addr, port):
    return ("[%s]:%d" if fam == socket.AF_INET6 else "%s:%d") % (addr, port)


class Transport:
    def __init__(self, name, fam, cns, sns, caddr, saddr, observers):
        self.name, self.fam = name, fam
        self.cns, self.sns, self.caddr, self.saddr = cns, sns, caddr, saddr
        self.observers = observers

    def sock(self, ns):
        with netns(ns):
            s = socket.socket(self.fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(10)
        return s


def ns_inode(ns):
    return os.stat("/run/netns/" + ns).st_ino


def out_segs(ns):
    """TCP segments the namespace sent: OutSegs leaves out retransmissions
    (RFC 1213's tcpOutSegs), which the wire, and tcpstate, see too."""
    rows = [l.split() for l in run("cat", "/proc/net/snmp", ns=ns).splitlines()
            if l.startswith("Tcp:")]
    mib = dict(zip(rows[0][1:], map(int, rows[1][1:])))
    return mib["OutSegs"] + mib["RetransSegs"]


class Flow:
    """One scenario run: its tuple and what it must produce."""

    def __init__(self, tr, scenario, cport, sport):
        self.tr, self.scenario = tr, scenario
        self.client = ep(tr.fam, tr.caddr, cport)
        self.server = ep(tr.fam, tr.saddr, sport)
        self.cport, self.sport = cport, sport
        self.cdata = self.sdata = 0     # payload bytes sent before the FINs
        self.after_fin = 0              # server bytes after the client's FIN

    def events(self, tail, ino):
        return [e for e in tail.events
                if e.get("netns") == str(ino) and
                e.get("client") == self.client and
                e.get("server") == self.server]

    def wait(self, tail, n):
        """Until every observer has reported N transitions of this flow."""
        for ns in self.tr.observers:
            ino = ns_inode(ns)
            def enough():
                tail.poll()
                return len(self.events(tail, ino)) >= n
            wait_until(enough, what="%d events of %s %s in %s"
                       % (n, self.tr.name, self.scenario, ns))


def connect(tr, f):
    srv = tr.sock(tr.sns)
    srv.bind((tr.saddr, f.sport))
    srv.listen(4)
    cli = tr.sock(tr.cns)
    cli.bind((tr.caddr, f.cport))
    cli.connect((tr.saddr, f.sport))
    acc, _ = srv.accept()
    acc.settimeout(10)
    srv.close()
    return cli, acc


def exchange(cli, acc, f):
    cli.sendall(b"hello")
    if acc.recv(100) != b"hello":
        fail("server did not get the client's data")
    acc.sendall(b"HELLO!")
    if cli.recv(100) != b"HELLO!":
        fail("client did not get the server's data")
    f.cdata, f.sdata = 5, 6


def recv_eof(s):
    if s.recv(100) != b"":
        fail("expected end-of-file")


def close_first(f, tail, first, second):
    """After the handshake, FIRST closes; once SECOND has read its FIN,
    SECOND closes too."""
    f.wait(tail, 4)
    first.close()
    recv_eof(second)
    f.wait(tail, 7)             # the FIN's ACK came on its own
    second.close()
    f.wait(tail, 10)


def sc_client_first(tr, f, tail):
    cli, acc = connect(tr, f)
    exchange(cli, acc, f)
    close_first(f, tail, cli, acc)
    return HANDSHAKE + closing("client", "server")


def sc_server_first(tr, f, tail):
    cli, acc = connect(tr, f)
    exchange(cli, acc, f)
    # Established through three sweeps: the GC has looked at the flow's
    # bucket and put its next look days away (timeout_established).  The
    # close must bring it back, or the 2MSL timer checked at the end
    # never comes.
    time.sleep(3 * TW_MS / 4 / 1000.0 * PACE)
    close_first(f, tail, acc, cli)
    return HANDSHAKE + closing("server", "client")


def sc_refused(tr, f, tail):
    cli = tr.sock(tr.cns)
    cli.bind((tr.caddr, f.cport))
    try:
        cli.connect((tr.saddr, f.sport))
        fail("connect to a closed port succeeded")
    except ConnectionRefusedError:
        pass
    cli.close()
    f.wait(tail, 2)
    return [("client", "CLOSED", "SYN_SENT", "S"),
            ("client", "SYN_SENT", "CLOSED", "R.")]


def sc_reset(tr, f, tail):
    cli, acc = connect(tr, f)
    exchange(cli, acc, f)
    f.wait(tail, 4)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    cli.close()
    try:
        acc.recv(100)
        fail("the server's recv after the RST did not fail")
    except ConnectionResetError:
        pass
    acc.close()
    f.wait(tail, 6)
    return HANDSHAKE + [("client", "ESTABLISHED", "CLOSED", "R."),
                        ("server", "ESTABLISHED", "CLOSED", "R.")]


def sc_half_close(tr, f, tail):
    cli, acc = connect(tr, f)
    exchange(cli, acc, f)
    f.wait(tail, 4)
    cli.shutdown(socket.SHUT_WR)
    recv_eof(acc)
    f.wait(tail, 7)
    # Data keeps flowing from the CLOSE_WAIT side: no transition.
    late = b"data after your FIN" * 3
    acc.sendall(late)
    got = b""
    while len(got) < len(late):
        chunk = cli.recv(1000)
        if not chunk:
            fail("half-closed client lost data after its FIN")
        got += chunk
    f.after_fin = len(late)
    acc.close()
    recv_eof(cli)
    cli.close()
    f.wait(tail, 10)
    return HANDSHAKE + closing("client", "server")


def sc_bulk(tr, f, tail):
    """Client-first close after a megabyte each way at once: GSO/GRO
    super-segments, both directions on both CPUs."""
    cli, acc = connect(tr, f)
    n = 1 << 20
    errors = []

    def pump(s):
        try:
            s.sendall(b"z" * n)
        except OSError as e:
            errors.append(e)

    def drain(s):
        got = 0
        try:
            while got < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += len(chunk)
        except OSError as e:
            errors.append(e)
        if got != n:
            errors.append("received %d of %d bytes" % (got, n))
    threads = [threading.Thread(target=fn, args=(s,))
               for fn in (pump, drain) for s in (cli, acc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        fail("bulk transfer: %r" % errors)
    f.cdata = f.sdata = n
    close_first(f, tail, cli, acc)
    return HANDSHAKE + closing("client", "server")


SCENARIOS = [("client-first", sc_client_first),
             ("server-first", sc_server_first),
             ("refused", sc_refused),
             ("reset", sc_reset),
             ("half-close", sc_half_close),
             ("bulk", sc_bulk)]


def check_arith(f, evs):
    """The seeds' seq/ack arithmetic, on the events of one observer."""
    def num(e, k):
        return int(e[k])

    def same_segment(a, b):
        return all(a[k] == b[k] for k in ("flags", "seq", "ack"))

    syn = evs[0]
    if f.scenario == "refused":
        if num(evs[1], "ack") != (num(syn, "seq") + 1) % 2**32:
            fail("%s: RST/ACK ack %s is not the SYN's seq %s + 1"
                 % (f.scenario, evs[1]["ack"], syn["seq"]))
        return
    synack, third = evs[1], evs[3]
    if not same_segment(evs[1], evs[2]):
        fail("the SYN/ACK's two transitions disagree: %r %r" % (evs[1], evs[2]))
    cisn, sisn = num(syn, "seq"), num(synack, "seq")
    if num(synack, "ack") != (cisn + 1) % 2**32:
        fail("SYN/ACK ack %d != client ISN %d + 1" % (num(synack, "ack"), cisn))
    if num(third, "ack") != (sisn + 1) % 2**32 or \
            num(third, "seq") != (cisn + 1) % 2**32:
        fail("third ACK seq/ack %s/%s, want %d/%d"
             % (third["seq"], third["ack"], cisn + 1, sisn + 1))
    if f.scenario == "reset":
        rst = evs[4]
        if not same_segment(evs[4], evs[5]):
            fail("the RST's two transitions disagree")
        if num(rst, "seq") != (cisn + 1 + f.cdata) % 2**32:
            fail("RST seq %s, want client ISN + 1 + %d" % (rst["seq"], f.cdata))
        return
    if f.scenario == "server-first":
        first_isn, first_data, second_isn, second_data = \
            sisn, f.sdata, cisn, f.cdata
    else:
        first_isn, first_data = cisn, f.cdata
        second_isn, second_data = sisn, f.sdata + f.after_fin
    fin1, ack1, fin2, ack2 = evs[4], evs[6], evs[7], evs[9]
    for a, b in ((evs[4], evs[5]), (evs[7], evs[8])):
        if not same_segment(a, b):
            fail("a FIN's two transitions disagree: %r %r" % (a, b))
    if num(fin1, "seq") != (first_isn + 1 + first_data) % 2**32:
        fail("first FIN seq %s, want ISN %d + 1 + %d"
             % (fin1["seq"], first_isn, first_data))
    if num(ack1, "ack") != (num(fin1, "seq") + 1) % 2**32:
        fail("ACK of the first FIN acks %s, want FIN seq %s + 1"
             % (ack1["ack"], fin1["seq"]))
    if num(fin2, "seq") != (second_isn + 1 + second_data) % 2**32:
        fail("second FIN seq %s, want ISN %d + 1 + %d"
             % (fin2["seq"], second_isn, second_data))
    if num(fin2, "ack") != (num(fin1, "seq") + 1) % 2**32:
        fail("second FIN acks %s, want %s + 1" % (fin2["ack"], fin1["seq"]))
    if num(ack2, "ack") != (num(fin2, "seq") + 1) % 2**32:
        fail("final ACK acks %s, want FIN seq %s + 1"
             % (ack2["ack"], fin2["seq"]))


def check_events(f, tail, want, final_only=False):
    for ns in f.tr.observers:
        evs = f.events(tail, ns_inode(ns))
        got = [(e["side"], e["old"], e["new"], e["flags"]) for e in evs]
        n = len(want) if final_only else len([w for w in want if w[3] != "-"])
        exp = want[:n]
        if got[:n] != exp or (not final_only and len(got) != n):
            fail("%s %s seen from %s:\n got  %r\n want %r"
                 % (f.tr.name, f.scenario, ns, got, exp))
        for e, w in zip(evs, exp):
            wr = "timer" if w[3] == "-" else "segment"
            if e["reason"] != wr:
                fail("%s %s: %r has reason %s, want %s"
                     % (f.tr.name, f.scenario, e, e["reason"], wr))
            if wr == "timer" and (e["seq"], e["ack"]) != ("0", "0"):
                fail("timer event with seq/ack: %r" % e)
        if final_only:
            continue
        check_arith(f, evs)


def table_states(f, ns):
    rows = [r for r in read_table()
            if r["netns"] == str(ns_inode(ns)) and r["client"] == f.client
            and r["server"] == f.server]
    if len(rows) != 1:
        fail("%d rows for %s %s in %s" % (len(rows), f.client, f.server, ns))
    return rows[0]["client_state"], rows[0]["server_state"], rows[0]


def final_states(want):
    """Both ends' states once the segments (not the timer) are done."""
    st = {"client": "CLOSED", "server": "LISTEN"}
    for side, old, new, flags in want:
        if flags != "-":
            st[side] = new
    if st["server"] == "LISTEN":
        st["server"] = "CLOSED"     # a refused server never left CLOSED
    return st["client"], st["server"]


def check_counts(tr, nss, out0, st0):
    """Each segment counted once per namespace that saw it."""
    time.sleep(0.3)     # let delayed ACKs, if any, go out
    st1 = read_stats()
    sent = sum(out_segs(ns) - out0[ns] for ns in nss)
    key = "segments_ipv6" if tr.fam == socket.AF_INET6 else "segments_ipv4"
    got = st1[key] - st0[key]
    want = sent * len(tr.observers)
    if got != want:
        fail("%s: %s grew by %d, the sockets sent %d segments, "
             "want %d (once per observing namespace)"
             % (tr.name, key, got, sent, want))
    info("%s: %d segments sent, %d counted" % (tr.name, sent, got))


def main():
    run("ip", "netns", "add", LO_NS)
    try:
        run("ip", "-n", LO_NS, "link", "set", "lo", "up")
        with NetnsPair("ta", "tb") as net, \
                Module(time_wait_ms=TW_MS, linger_ms=600000), EventTail() as tail:
            transports = [
                Transport("loopback-ipv4", socket.AF_INET, LO_NS, LO_NS,
                          "127.0.0.1", "127.0.0.1", [LO_NS]),
                Transport("loopback-ipv6", socket.AF_INET6, LO_NS, LO_NS,
                          "::1", "::1", [LO_NS]),
                Transport("veth-ipv4", socket.AF_INET, "ta", "tb",
                          net.addr4["ta"], net.addr4["tb"], ["ta", "tb"]),
                Transport("veth-ipv6", socket.AF_INET6, "ta", "tb",
                          net.addr6["ta"], net.addr6["tb"], ["ta", "tb"]),
            ]
            flows = []
            for t, tr in enumerate(transports):
                nss = sorted(set([tr.cns, tr.sns]))
                out0 = {ns: out_segs(ns) for ns in nss}
                st0 = read_stats()
                for s, (name, fn) in enumerate(SCENARIOS):
                    if name == "bulk":
                        # GSO: the kernel counts MSS segments, we see
                        # super-segments.  Count up to here.
                        check_counts(tr, nss, out0, st0)
                    f = Flow(tr, name, 30000 + t * 100 + s, 20000 + t * 100 + s)
                    f.want = fn(tr, f, tail)
                    check_events(f, tail, f.want)
                    cs, ss = final_states(f.want)
                    for ns in tr.observers:
                        got = table_states(f, ns)
                        # TW_MS is short: on a slow run an end's 2MSL
                        # may be over before the table is read.  Then it
                        # says CLOSED, and its timer event (written with
                        # that change) says so: in the stream already, or
                        # soon, when an older event of another CPU's that
                        # the reader must see first is still being copied.
                        def timed():
                            tail.poll()
                            return {e["side"] for e in
                                    f.events(tail, ns_inode(ns))
                                    if e["reason"] == "timer"}
                        for side, st, g in (("client", cs, got[0]),
                                            ("server", ss, got[1])):
                            if st == "TIME_WAIT" and g == "CLOSED":
                                try:
                                    wait_until(lambda: side in timed(),
                                               timeout=5)
                                except TestFailure:
                                    pass
                            if g != st and not (st == "TIME_WAIT" and
                                                g == "CLOSED" and
                                                side in timed()):
                                fail("%s %s in %s: table says %s/%s, want %s/%s;"
                                     " its events: %s"
                                     % (tr.name, name, ns, got[0], got[1], cs, ss,
                                        ["%s %s>%s %s %s" % (
                                            e["side"], e["old"], e["new"],
                                            e["flags"], e["reason"])
                                         for e in f.events(tail,
                                                           ns_inode(ns))]))
                        # A refusal is not an abort (issue 13, item 5).
                        want_flags = {"refused": "refused",
                                      "reset": "reset"}.get(name)
                        if want_flags and got[2]["flags"] != want_flags:
                            fail("%s %s in %s: table flags %s, want %s"
                                 % (tr.name, name, ns, got[2]["flags"],
                                    want_flags))
                    flows.append(f)
                    info("%s %s: %d transitions per observer, as expected"
                         % (tr.name, name, len(f.events(tail, ns_inode(tr.observers[0])))))

            # The 2MSL timer of every flow that reached TIME_WAIT.
            time.sleep((TW_MS + TW_SLACK_MS) / 1000.0)
            tail.poll()
            timers = 0
            for f in flows:
                check_events(f, tail, f.want, final_only=True)
                for ns in f.tr.observers:
                    evs = f.events(tail, ns_inode(ns))
                    tw = [e for e in evs if e["new"] == "TIME_WAIT"]
                    tm = [e for e in evs if e["reason"] == "timer"]
                    if len(tw) != len(tm):
                        fail("%s %s in %s: %d TIME_WAIT, %d timer events"
                             % (f.tr.name, f.scenario, ns, len(tw), len(tm)))
                    for a, b in zip(tw, tm):
                        dt = (int(b["ts"]) - int(a["ts"])) / 1e6
                        if not TW_MS <= dt <= TW_MS + TW_SLACK_MS:
                            fail("%s %s: TIME_WAIT->CLOSED came after %.0f ms, "
                                 "want %d..%d" % (f.tr.name, f.scenario, dt,
                                                  TW_MS, TW_MS + TW_SLACK_MS))
                        timers += 1
                        info("%s %s in %s: timer after %.0f ms"
                             % (f.tr.name, f.scenario, ns, dt))
                    cs, ss = table_states(f, ns)[:2]
                    if (cs, ss) != ("CLOSED", "CLOSED"):
                        fail("%s %s in %s: finally %s/%s, want CLOSED/CLOSED"
                             % (f.tr.name, f.scenario, ns, cs, ss))
            if timers < 12:
                fail("only %d timer events checked" % timers)
            st = read_stats()
            info("handshakes %d refused %d resets %d time_wait_timers %d"
                 % (st["handshakes"], st["refused"], st["resets"],
                    st["time_wait_timers"]))
            if st["refused"] != 6 or st["resets"] < 6:
                fail("refused %d (want 6), resets %d (want >= 6)"
                     % (st["refused"], st["resets"]))
            bad = dict((k, v) for k, v in st.items()
                       if k.startswith("invalid_") and v)
            if bad:
                fail("real sockets produced invalid segments: %r" % bad)
    finally:
        subprocess.run(["ip", "netns", "del", LO_NS])


main()
