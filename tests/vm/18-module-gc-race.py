#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: the GC, preempted, against a live flow
#
# The GC against a live flow (issue 9, item 1).  The fault-injection build
# makes every GC run sleep 300 ms right after it starts, as a worker
# preempted on PREEMPT_RT would, while a loopback connection streams data
# (a segment every few ms) and a second one sits idle.  Each run sees the
# stream's last segment stamped after the moment the GC started; a GC that
# took its clock once before the walk sees a negative idle time, which
# wraps and expires the live flow (reason=timer), then picks it up again.
# The scenario fails on any timer event, expiry or pickup of either flow,
# and needs at least 10 GC runs (TIME_WAIT timers of finished probe
# connections) to have happened meanwhile, so it cannot pass by the GC
# never running.
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

PORT = 7318
SECONDS = 6


def stream(cli, stop):
    chunk = b"x" * 512
    while not stop.is_set():
        cli.sendall(chunk)
        time.sleep(0.002)


def drain(conn):
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


# time_wait_ms=400: the whole table is swept by every run (100 ms apart).
with Module(ko=KO_FAULT, time_wait_ms=400, linger_ms=100,
            fault_gc_stall_ms=300):
    with EventTail() as ev:
        srv = listen_tcp("127.0.0.1", PORT)
        cli = socket.create_connection(("127.0.0.1", PORT))
        conn, _ = srv.accept()
        idle = socket.create_connection(("127.0.0.1", PORT))
        iconn, _ = srv.accept()
        ports = {cli.getsockname()[1], idle.getsockname()[1]}
        stop = threading.Event()
        reader = threading.Thread(target=drain, args=(conn,), daemon=True)
        writer = threading.Thread(target=stream, args=(cli, stop),
                                  daemon=True)
        reader.start()
        writer.start()
        # Short connections that reach TIME_WAIT: the GC's timer moves
        # prove it ran.
        t0 = time.monotonic()
        probes = 0
        while time.monotonic() - t0 < SECONDS:
            client_first_close(srv)
            probes += 1
            time.sleep(0.2)
        stop.set()
        writer.join(10)
        ev.poll()
        stats = read_stats()
        cli.close()
        conn.close()
        idle.close()
        iconn.close()
        srv.close()

    ours = [e for e in ev.events if "client" in e and
            int(e["client"].rsplit(":", 1)[1]) in ports]
    bad = [e for e in ours if e.get("reason") == "timer" or
           (e.get("old") == "CLOSED" and e.get("new") == "ESTABLISHED")]
    info("%d probe connections; %d events of the two long flows; "
         "flows_expired=%d pickups=%d time_wait_timers=%d"
         % (probes, len(ours), stats["flows_expired"], stats["pickups"],
            stats["time_wait_timers"]))
    if bad:
        fail("the live flows were expired by a stalled GC: %r" % bad[:4])
    if stats["flows_expired"] or stats["pickups"]:
        fail("flows_expired=%d pickups=%d, want 0"
             % (stats["flows_expired"], stats["pickups"]))
    if stats["time_wait_timers"] < 10:
        fail("only %d TIME_WAIT timers ran: the GC did not run"
             % stats["time_wait_timers"])
