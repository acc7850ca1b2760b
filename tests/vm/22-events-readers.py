#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: several readers' cursors against one writer
#
# Several readers of /proc/tcpstate_events, each with its own cursor:
# two readers blocked in read() in two threads while connections run both
# get every event, byte for byte the same; a reader opened later starts
# at the oldest buffered event; lseek(fd, 0, SEEK_END) starts from now and
# lseek(fd, 0, SEEK_SET) goes back to the oldest.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
PORT = 7221
LAST_CPORT = 7229	# the client port of the last connection
CONNS = 20


def exchange(srv, cport=0):
    return client_first_close(srv, data=b"x", cport=cport)


def ids(lines):
    return [int(parse_event(x)["id"]) for x in lines]


def last_closed(lines, cport):
    return any("client=127.0.0.1:%d " % cport in x and
               "side=server old=LAST_ACK new=CLOSED" in x for x in lines)


class Blocked:
    """A thread that reads FD with blocking read()s until it has seen the
    end of the connection from LAST_CPORT."""

    def __init__(self, fd):
        self.fd, self.lines, self.error = fd, [], None
        self.partial = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while not last_closed(self.lines, LAST_CPORT):
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    self.error = "end of file"
                    return
                if not chunk.endswith(b"\n"):
                    self.partial += 1
                self.lines += chunk.decode().splitlines()
        except OSError as e:
            self.error = e


with Module():
    srv = listen_tcp("127.0.0.1", PORT, backlog=64)

    # Two readers asleep in read() from now on; connections run.
    fds = [os.open(EVENTS, os.O_RDONLY) for _ in range(2)]
    readers = [Blocked(fd) for fd in fds]
    cports = [exchange(srv) for _ in range(CONNS - 1)]
    cports.append(exchange(srv, LAST_CPORT))
    for r in readers:
        r.thread.join(30)
        if r.thread.is_alive():
            fail("a blocked reader never saw the last connection's end")
        if r.error or r.partial:
            fail("blocked reader: %s, %d partial lines" % (r.error, r.partial))
    a, b = readers[0].lines, readers[1].lines
    if a != b:
        fail("two readers got different streams:\n%s\n---\n%s"
             % ("\n".join(a[:5]), "\n".join(b[:5])))
    got = ids(a)
    if got != list(range(1, len(got) + 1)):
        fail("the readers' ids are not 1, 2, 3...: %r" % got[:40])
    for cport in cports:
        if not last_closed(a, cport):
            fail("no end for the connection from port %d" % cport)
    info("two blocked readers: %d identical lines, %d connections"
         % (len(a), len(cports)))

    # A reader opened now starts at the oldest buffered event (the ring
    # holds 8192: all of them).
    late = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    old = read_lines(late)
    if old != a:
        fail("a new reader got %d lines starting %r, want the %d above"
             % (len(old), old[:1], len(a)))

    # SEEK_END: nothing old, then only what comes after.
    fresh = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    os.lseek(fresh, 0, os.SEEK_END)
    if read_lines(fresh):
        fail("lseek(SEEK_END) still returns old events")
    cport = exchange(srv)
    now = wait_until(lambda: (lambda x: x if last_closed(x, cport) else None)(
        read_lines(fresh)), 15, what="the new connection's events")
    if ids(now)[0] != got[-1] + 1 or \
            ids(now) != list(range(got[-1] + 1, got[-1] + 1 + len(now))):
        fail("after SEEK_END: ids %r, want %d onwards" % (ids(now), got[-1] + 1))
    if any("client=127.0.0.1:%d " % cport not in x for x in now):
        fail("after SEEK_END: events of other connections: %r" % now)
    if read_lines(late) != now:
        fail("the older reader did not get the same new events")

    # SEEK_SET 0: back to the oldest.
    os.lseek(fresh, 0, os.SEEK_SET)
    again = read_lines(fresh)
    if again != a + now:
        fail("after SEEK_SET 0: %d lines from id %r, want all %d from 1"
             % (len(again), ids(again[:1]), len(a) + len(now)))
    for fd in fds + [late, fresh]:
        os.close(fd)
    srv.close()
