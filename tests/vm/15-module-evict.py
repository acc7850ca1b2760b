#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: eviction of entries that another CPU's packet may be holding
#
# A full table: with max_flows=8, a new flow evicts a finished one, the
# one idle longest first, reported as reason=evict transitions and
# counted; once every entry is an established flow, a new one cannot be
# placed and is counted, and its traffic still flows.  Then idle expiry:
# with timeout_established lowered to 1 s, the established flows expire
# with reason=timer.  Finally linger: a finished flow stays listed for
# linger_ms, then goes.
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

NS = "te"
MAX = 8
P = "/sys/module/tcpstate/parameters/"


def sock():
    with netns(NS):
        s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(10)
    return s


def connect(port, cport):
    srv = sock()
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    cli = sock()
    cli.bind(("127.0.0.1", cport))
    cli.connect(("127.0.0.1", port))
    acc, _ = srv.accept()
    srv.close()
    cli.sendall(b"ping")
    if acc.recv(10) != b"ping":
        fail("data lost")
    return cli, acc


def rows():
    return [r for r in read_table() if r["netns"] == INO]


def write_param(name, val):
    with open(P + name, "w") as f:
        f.write(str(val))


run("ip", "netns", "add", NS)
try:
    run("ip", "-n", NS, "link", "set", "lo", "up")
    INO = str(os.stat("/run/netns/" + NS).st_ino)
    with Module(max_flows=MAX, time_wait_ms=60000, linger_ms=600000), \
            EventTail() as tail:
        st = read_stats()
        if st["table_buckets"] > 16:
            fail("table_buckets %d for max_flows=%d" % (st["table_buckets"], MAX))
        # Fill the table with finished flows (client in TIME_WAIT).
        for i in range(MAX):
            cli, acc = connect(41000 + i, 51000 + i)
            cli.close()
            acc.recv(10)
            acc.close()
            time.sleep(0.05)
        wait_until(lambda: len(rows()) == MAX, what="%d flows listed" % MAX)
        if read_stats()["flows_active"] != MAX:
            fail("flows_active is not %d" % MAX)

        # Established flows push the finished ones out, oldest first.
        kept = []
        for i in range(MAX):
            kept.append(connect(42000 + i, 52000 + i))
            evicted = [e for e in tail.poll() if e["reason"] == "evict"]
            if len(evicted) != i + 1:
                fail("after %d new flows, %d evict events, want %d: %r"
                     % (i + 1, len(evicted), i + 1, evicted))
            e = evicted[-1]
            want = "127.0.0.1:%d" % (51000 + i)
            if e["client"] != want or e["old"] != "TIME_WAIT" or \
                    e["new"] != "CLOSED" or e["side"] != "client":
                fail("eviction %d: %r, want %s TIME_WAIT->CLOSED (the "
                     "oldest)" % (i + 1, e, want))
        st = read_stats()
        if st["flows_evicted"] != MAX or st["flows_active"] != MAX:
            fail("flows_evicted %d flows_active %d, want %d and %d"
                 % (st["flows_evicted"], st["flows_active"], MAX, MAX))
        if any(r["client_state"] != "ESTABLISHED" for r in rows()):
            fail("the table is not all established: %r" % rows())
        info("%d finished flows evicted oldest first" % MAX)

        # Nothing left to evict: the next flow is counted, not placed.
        before = read_stats()["flows_not_placed"]
        extra = connect(43000, 53000)
        extra[1].sendall(b"pong")
        if extra[0].recv(10) != b"pong":
            fail("traffic of an unplaced flow did not pass")
        st = read_stats()
        if st["flows_not_placed"] <= before:
            fail("flows_not_placed did not grow")
        if any(r["server"].endswith(":43000") for r in rows()):
            fail("the unplaced flow is listed")
        if st["flows_evicted"] != MAX:
            fail("an established flow was evicted")
        info("unplaced flow counted (%d segments)"
             % (st["flows_not_placed"] - before))
        for s in extra:
            s.close()

        # Idle expiry.
        write_param("timeout_established", 1)
        t0 = time.monotonic()

        def expired():
            return read_stats()["flows_expired"] >= MAX
        wait_until(expired, timeout=15, what="established flows to expire")
        info("%d flows expired after %.1f s idle"
             % (MAX, time.monotonic() - t0))
        tail.poll()
        ex = [e for e in tail.events if e["reason"] == "timer" and
              e["old"] == "ESTABLISHED" and e["new"] == "CLOSED"]
        if len(ex) != 2 * MAX:
            fail("%d ESTABLISHED->CLOSED timer events, want %d"
                 % (len(ex), 2 * MAX))
        for c, a in kept:
            c.close()
            a.close()

        # Linger: a finished flow stays listed for linger_ms, then goes.
        write_param("time_wait_ms", 300)
        write_param("linger_ms", 1500)
        freed0 = read_stats()["flows_freed"]
        cli, acc = connect(44000, 54000)
        cli.close()
        acc.recv(10)
        acc.close()

        def row():
            return [r for r in rows() if r["server"].endswith(":44000")]
        wait_until(lambda: row() and row()[0]["client_state"] == "CLOSED",
                   what="the TIME_WAIT timer")
        t0 = time.monotonic()
        time.sleep(1.0)
        if not row():
            fail("a finished flow went before linger_ms")
        wait_until(lambda: not row(), timeout=10, what="the flow to go")
        dt = time.monotonic() - t0
        if read_stats()["flows_freed"] <= freed0:
            fail("flows_freed did not count the lingered flow")
        info("finished flow listed for %.1f s after its timer (linger 1.5 s)"
             % dt)
finally:
    run("ip", "netns", "del", NS, check=False)
