#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a writer overtaking a slow reader
#
# Loss is never silent.  With the smallest ring (ring_size=16), a reader
# that sleeps through more transitions than the ring holds gets one
# "id=<first lost> ts=... lost=N" line in place of what it missed - N
# exactly the overwritten ids - then the 16 newest events, the same ones
# a fresh reader sees, with ids contiguous after the gap; it carries on
# without loss afterwards.  events_overwritten in the stats counts the
# same N.  A reader that kept up loses nothing.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
PORT = 7231
RING = 16


def emitted():
    return read_stats()["events_emitted"]


def ids(lines):
    return [int(parse_event(x)["id"]) for x in lines]


# Long TIME_WAIT and linger: no timer event during the test.
with Module(ring_size=RING, time_wait_ms=600000, linger_ms=600000):
    size = int(open("/sys/module/tcpstate/parameters/ring_size").read())
    if size != RING:
        fail("ring_size reads %d, want %d" % (size, RING))
    srv = listen_tcp("127.0.0.1", PORT, backlog=64)

    # Some history first, fewer events than the ring holds.
    client_first_close(srv)
    e0 = events_settle()
    if not 0 < e0 < RING:
        fail("one connection made %d events; the test needs 1..%d"
             % (e0, RING - 1))

    # The laggard starts from now and then sleeps; the keeper reads along.
    lag = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(lag, 0, os.SEEK_END)
    keep = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(keep, 0, os.SEEK_END)
    kept = []
    conns = 0
    while emitted() - e0 <= 4 * RING:
        client_first_close(srv)
        conns += 1
        kept += read_lines(keep)
    e1 = events_settle()
    kept += read_lines(keep)
    info("%d connections: ids %d..%d, ring of %d" % (conns, e0 + 1, e1, RING))

    # What a fresh reader sees: exactly the newest RING events.
    fresh = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    newest = read_lines(fresh)
    if ids(newest) != list(range(e1 - RING + 1, e1 + 1)):
        fail("a fresh reader got ids %r, want %d..%d"
             % (ids(newest), e1 - RING + 1, e1))

    # The laggard: one lost line for ids e0+1 .. e1-RING, then the same.
    # A small buffer on purpose: the lost line is a whole line too.
    got = read_lines(lag, 200)
    want_lost = e1 - RING - e0
    head = parse_event(got[0])
    if list(head) != ["id", "ts", "lost"] or int(head["id"]) != e0 + 1 or \
            int(head["lost"]) != want_lost:
        fail("first line %r, want id=%d ts=... lost=%d"
             % (got[0], e0 + 1, want_lost))
    if abs(int(head["ts"]) - time.time_ns()) > 60 * 10**9:
        fail("the lost line's ts %s is not the realtime clock" % head["ts"])
    if got[1:] != newest:
        fail("after the lost line: %r, want the fresh reader's %d lines"
             % (ids(got[1:]), len(newest)))
    if int(head["id"]) + int(head["lost"]) != ids(got[1:])[0]:
        fail("ids not contiguous across the gap")

    # The reader that kept up saw everything, without a lost line.
    if ids(kept) != list(range(e0 + 1, e1 + 1)):
        fail("the keeping-up reader got %r" % ids(kept)[:40])

    # Every id from e0+1 to e1-RING was overwritten while the laggard
    # still wanted it, and nothing else was.
    over = read_stats()["events_overwritten"]
    if over != want_lost:
        fail("events_overwritten = %d, want %d" % (over, want_lost))

    # The laggard carries on: the next connection arrives whole.
    client_first_close(srv)
    e2 = events_settle()
    more = read_lines(lag)
    if ids(more) != list(range(e1 + 1, e2 + 1)) or \
            any("lost=" in x for x in more):
        fail("after the gap the laggard got %r, want ids %d..%d"
             % (more, e1 + 1, e2))
    info("lost=%d reported at id %d; overwritten=%d; then ids %d..%d intact"
         % (want_lost, e0 + 1, over, e1 + 1, e2))
    for fd in (lag, keep, fresh):
        os.close(fd)
    srv.close()
