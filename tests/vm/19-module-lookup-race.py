#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a flow freed between a segment's lookup and its bucket lock
#
# The packet path finds a flow under RCU, then takes its bucket's lock; the
# GC, an eviction or a namespace flush may unlink that flow in between.
# The entry's memory stays valid (the hook is still inside its RCU read
# section, the entry is freed after a grace period), but it is no longer
# in the table: the segment must see that (its netns id reads 0 under the
# lock), count it (lookup_restarts) and look again, not step the dead
# entry.  Stepped, a SYN on a finished flow starts a new generation in an
# entry nobody can see any more (new_generations goes up and the
# connection is only found later, if its next segment opens a flow anew).
#
# Forced, not waited for: the fault-injection build spins in the hook just
# after the lookup on a SYN to a marked port.  A first connection is
# aborted with a RST, so its flow is finished and lingers (linger_ms is
# long).  The same 4-tuple connects again; while its SYN spins, holding
# the finished flow it found, linger_ms is cut to 1 ms and the GC frees the
# flow (it leaves /proc/tcpstate).  Then the SYN goes on.  It must restart
# its lookup, open a fresh flow (not "reused"), and the connection must
# show ESTABLISHED at both ends.  With the check under the lock taken
# out (the found entry stepped whatever its netns id), this failed on 6.1:
# lookup_restarts +0, new_generations +1, and the connection was listed
# only as a pickup from its SYN/ACK (history "hA", no rtt), its SYN lost.
#
# Where each runs is forced too.  The spinning SYN holds its CPU (Debian's
# stock kernels do not preempt it), so the GC must be free to run on the
# other one.  Everything runs on CPU 0 until the SYN, so the GC is armed
# there; the SYN then spins on CPU 0 and the test watches from CPU 1.
# With the GC on a per-CPU workqueue it stayed queued behind the spin on
# CPU 0 (6.12.118, in CI: "timed out waiting for the GC to free the old
# flow", whenever the GC happened to be armed on the SYN's CPU); on an
# unbound one it runs on CPU 1.
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

PORT = 7319
CPORT = 47319
STALL_MS = 3000
PARAMS = "/sys/module/tcpstate/parameters/"


def set_param(name, value):
    with open(PARAMS + name, "w") as f:
        f.write(str(value))


def rows():
    """The rows of our 4-tuple in /proc/tcpstate."""
    want = ("127.0.0.1:%d" % CPORT, "127.0.0.1:%d" % PORT)
    return [r for r in read_table()
            if (r.get("client"), r.get("server")) == want]


def client():
    c = tcp_socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.settimeout(30)
    c.bind(("127.0.0.1", CPORT))
    return c


if len(os.sched_getaffinity(0)) < 2:
    fail("needs two CPUs: the GC must run beside the spinning SYN")
os.sched_setaffinity(0, {0})

with Module(ko=KO_FAULT, time_wait_ms=400, linger_ms=600000,
            fault_syn_stall_port=PORT, fault_syn_stall_ms=0):
    srv = listen_tcp("127.0.0.1", PORT)
    srv.settimeout(30)

    # A connection aborted by its client: both ends CLOSED, the flow
    # finished and listed while it lingers.
    cli = client()
    cli.connect(("127.0.0.1", PORT))
    conn, _ = srv.accept()
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack("ii", 1, 0))
    cli.close()
    wait_until(lambda: [r for r in rows()
                        if (r["client_state"], r["server_state"]) ==
                        ("CLOSED", "CLOSED")],
               10, what="the aborted flow, CLOSED at both ends")
    conn.close()

    # The same 4-tuple again; its SYN spins just after its lookup.
    st0 = read_stats()
    set_param("fault_syn_stall_ms", STALL_MS)
    done = {}

    def reconnect():
        os.sched_setaffinity(0, {0})
        c = client()
        t = time.monotonic()
        try:
            c.connect(("127.0.0.1", PORT))
            done["sock"] = c
        except OSError as e:
            done["error"] = e
        done["took"] = time.monotonic() - t

    os.sched_setaffinity(0, {1})
    t0 = time.monotonic()
    th = threading.Thread(target=reconnect, daemon=True)
    th.start()
    time.sleep(0.3)
    found = rows()
    if len(found) != 1 or (found[0]["client_state"],
                           found[0]["server_state"]) != ("CLOSED", "CLOSED"):
        fail("with the SYN in flight, want the old flow alone and CLOSED: "
             "%r" % found)

    # Free it under the spinning SYN.
    set_param("linger_ms", 1)
    wait_until(lambda: not rows(), 2, what="the GC to free the old flow")
    freed_after = time.monotonic() - t0
    set_param("fault_syn_stall_ms", 0)
    if freed_after >= STALL_MS / 1000.0 or "took" in done:
        fail("the SYN's stall was over (%.2fs) before the flow was freed: "
             "nothing was forced" % freed_after)

    th.join(40)
    if th.is_alive() or "sock" not in done:
        fail("the second connect did not complete: %r" % done)
    conn2, _ = srv.accept()
    st = read_stats()
    now = rows()
    info("SYN stalled %.2fs; old flow freed %.2fs after it started; "
         "lookup_restarts +%d, new_generations +%d, flows_freed +%d; "
         "now %r"
         % (done["took"], freed_after,
            st["lookup_restarts"] - st0["lookup_restarts"],
            st["new_generations"] - st0["new_generations"],
            st["flows_freed"] - st0["flows_freed"], now))
    if done["took"] < STALL_MS / 1000.0 * 0.9:
        fail("connect took %.2fs: the SYN did not stall" % done["took"])
    if st["lookup_restarts"] - st0["lookup_restarts"] < 1:
        fail("lookup_restarts did not go up: the SYN did not notice that "
             "the flow it found was freed")
    if st["new_generations"] != st0["new_generations"]:
        fail("new_generations went up: the SYN was stepped on the freed "
             "flow")
    if st["flows_freed"] - st0["flows_freed"] < 1:
        fail("flows_freed did not go up: the GC did not free the old flow")
    if len(now) != 1 or (now[0]["client_state"], now[0]["server_state"],
                         now[0]["flags"]) != ("ESTABLISHED", "ESTABLISHED",
                                              "-"):
        fail("want one fresh flow, ESTABLISHED at both ends, flags -: %r"
             % now)
    done["sock"].close()
    conn2.close()
    srv.close()
