#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: the ring's ids and records written from softirq and timers at once
#
# /proc/tcpstate_events, line by line: an IPv4 connection over loopback
# and an IPv6 one over a veth pair between two namespaces, then the
# TIME_WAIT timers.  Every line has the documented keys in the documented
# order; ids start at 1 and have no holes; ts is CLOCK_REALTIME; netns,
# family, client and server are those of the sockets; the handshake's
# seq/ack fields line up; timer events have flags=- seq=0 ack=0.
import errno
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
KEYS = ["id", "ts", "netns", "family", "client", "server", "side", "old",
        "new", "flags", "seq", "ack", "reason"]
STATES = {"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED",
          "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
          "TIME_WAIT"}
FLAGS_RE = re.compile(r"^(-|[SFRPUEW.]+)$")


class Lines:
    """A non-blocking reader of the stream that insists on whole lines."""

    def __init__(self):
        self.fd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
        self.lines = []

    def drain(self):
        self.lines += read_lines(self.fd)
        return self.lines

    def events(self):
        return [parse_event(line) for line in self.drain()]

    def wait(self, pred, what, timeout=15):
        return wait_until(lambda: pred(self.events()), timeout, what=what)


def closed(evs, client):
    return any(e["client"] == client and e["side"] == "server" and
               e["new"] == "CLOSED" for e in evs)


init_ino = netns_inode()

with Module(time_wait_ms=2000, linger_ms=60000), \
        NetnsPair("fa", "fb") as net:
    rd = Lines()
    t0 = time.time_ns()
    p4 = connect_once("127.0.0.1", 7201, data=b"x")
    c4, s4 = "127.0.0.1:%d" % p4, "127.0.0.1:7201"
    p6 = connect_once(net.addr6["fb"], 7202, "fa", "fb", data=b"x")
    c6 = "[%s]:%d" % (net.addr6["fa"], p6)
    s6 = "[%s]:7202" % net.addr6["fb"]
    rd.wait(lambda evs: closed(evs, c4) and
            len([e for e in evs if closed([e], c6)]) == 2,
            "both connections to end (the IPv6 one in both namespaces)")
    t1 = time.time_ns()

    evs = rd.events()
    info("%d segment events" % len(evs))
    for line, e in zip(rd.lines, evs):
        if list(e) != KEYS:
            fail("keys %r, want %r in: %s" % (list(e), KEYS, line))
        if not t0 <= int(e["ts"]) <= t1:
            fail("ts %s outside [%d, %d]: %s" % (e["ts"], t0, t1, line))
        if e["old"] not in STATES or e["new"] not in STATES or \
                e["old"] == e["new"]:
            fail("bad states: " + line)
        if e["side"] not in ("client", "server"):
            fail("bad side: " + line)
        if not FLAGS_RE.match(e["flags"]) or e["flags"] == "-":
            fail("a segment event without tcpdump flags: " + line)
        if not (0 <= int(e["seq"]) < 1 << 32 and 0 <= int(e["ack"]) < 1 << 32):
            fail("bad seq/ack: " + line)
        if e["reason"] != "segment":
            fail("want reason=segment: " + line)
        if e["family"] == "ipv4":
            ok = (e["netns"] == str(init_ino) and e["client"] == c4 and
                  e["server"] == s4)
        else:
            ok = (e["family"] == "ipv6" and e["client"] == c6 and
                  e["server"] == s6 and
                  e["netns"] in (str(netns_inode("fa")),
                                 str(netns_inode("fb"))))
        if not ok:
            fail("netns/family/client/server do not match the sockets: "
                 + line)

    ids = [int(e["id"]) for e in evs]
    if ids != list(range(1, len(ids) + 1)):
        fail("ids are not 1, 2, 3...: %r" % ids)

    # Each flow, in each namespace that saw it, carries the handshake's
    # numbers: the SYN (x, ack 0), the SYN/ACK (y, ack x+1) that puts the
    # server in SYN_RCVD, and the final ACK (x+1, ack y+1).
    for client, netns in ((c4, init_ino), (c6, netns_inode("fa")),
                          (c6, netns_inode("fb"))):
        check_handshake([e for e in evs if e["client"] == client and
                         e["netns"] == str(netns)],
                        "%s in %d" % (client, netns))

    # 2MSL is 2 s here: the clients' TIME_WAIT ends on a timer.
    rd.wait(lambda evs: len([e for e in evs if e["reason"] == "timer"]) >= 3,
            "three TIME_WAIT -> CLOSED timer events", timeout=20)
    evs = rd.events()
    for e in evs:
        if e["reason"] != "timer":
            continue
        if list(e) != KEYS or e["flags"] != "-" or e["seq"] != "0" or \
                e["ack"] != "0" or e["side"] != "client" or \
                e["old"] != "TIME_WAIT" or e["new"] != "CLOSED":
            fail("timer event: %r" % e)
    ids = [int(e["id"]) for e in evs]
    if ids != list(range(1, len(ids) + 1)):
        fail("ids are not contiguous after the timers: %r" % ids)

    # A write is refused even for root, who ignores the 0444 mode.
    if os.stat(EVENTS).st_mode & 0o777 != 0o444:
        fail("mode %o, want 0444" % (os.stat(EVENTS).st_mode & 0o777))
    for mode in (os.O_WRONLY, os.O_RDWR):
        wfd = os.open(EVENTS, mode)
        try:
            os.write(wfd, b"id=1\n")
            fail("a write to %s succeeded" % EVENTS)
        except OSError as e:
            if e.errno != errno.EINVAL:
                fail("write gave %s, want EINVAL" % errno.errorcode[e.errno])
        finally:
            os.close(wfd)
    os.close(rd.fd)
    info("format ok: %d events, ids 1..%d" % (len(evs), len(evs)))
