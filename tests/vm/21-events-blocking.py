#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a reader's sleep and wake-up against the writer
#
# /proc/tcpstate_events as a file to wait on: a blocking read sleeps until
# a new connection wakes it, O_NONBLOCK gives EAGAIN once drained, poll,
# select and epoll report readiness exactly when there is something to
# read, and a read returns whole lines only - EINVAL if the buffer cannot
# hold the next one, which stays for the next read.
import errno
import os
import select
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
PORT = 7211


def exchange():
    """One loopback connection, client closes first; the client's port."""
    return connect_once("127.0.0.1", PORT)


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return None


def in_thread(fn):
    box = {}

    def body():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: B902 - reported below
            box["error"] = e
        box["when"] = time.monotonic()
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, box


def settle(fd, cport):
    """Read from FD until the connection from CPORT has ended (server
    CLOSED): all of its segment events are out."""
    text = [""]

    def done():
        text[0] += read_text(fd)
        return ("client=127.0.0.1:%d " % cport in text[0] and
                "side=server old=LAST_ACK new=CLOSED" in text[0])
    wait_until(done, 15, what="the connection's last event")
    return text[0]


with Module():
    # 1. A blocking read sleeps until a connection wakes it.
    bfd = os.open(EVENTS, os.O_RDONLY)
    os.lseek(bfd, 0, os.SEEK_END)
    t, box = in_thread(lambda: os.read(bfd, 65536))
    time.sleep(1.0)
    if not t.is_alive():
        fail("read() on a drained stream returned %r instead of blocking"
             % box)
    started = time.monotonic()
    cport = exchange()
    t.join(10)
    if t.is_alive():
        fail("the blocked read() was not woken by a new connection")
    if "error" in box:
        raise box["error"]
    first = box["value"].decode()
    if not first.endswith("\n") or "client=127.0.0.1:%d " % cport not in first:
        fail("woken read returned %r" % first)
    info("blocked read woke %.3fs after the connect with %d line(s)"
         % (box["when"] - started, first.count("\n")))
    os.close(bfd)

    # 2. O_NONBLOCK: EAGAIN when drained, data after a connection.
    nfd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    backlog = read_text(nfd)
    if backlog.count("\n") < 9:
        fail("a new reader got %d old lines, want at least 9"
             % backlog.count("\n"))
    if errno_of(lambda: os.read(nfd, 65536)) != errno.EAGAIN:
        fail("a drained O_NONBLOCK read did not give EAGAIN")

    # 3. poll, select and epoll: not ready when drained, ready after a
    #    connection, not ready again once read.
    ep = select.epoll()
    ep.register(nfd, select.EPOLLIN)
    pl = select.poll()
    pl.register(nfd, select.POLLIN)
    if pl.poll(0) or ep.poll(0) or select.select([nfd], [], [], 0)[0]:
        fail("poll/epoll/select report a drained stream readable")
    t, box = in_thread(lambda: pl.poll(10000))
    time.sleep(0.5)
    if not t.is_alive():
        fail("poll() returned %r on a drained stream" % box)
    cport = exchange()
    t.join(10)
    if t.is_alive() or not box.get("value"):
        fail("poll() was not woken by a new connection: %r" % box)
    rev = box["value"][0][1]
    if not rev & select.POLLIN or rev & (select.POLLERR | select.POLLHUP):
        fail("poll() revents %#x, want POLLIN alone" % rev)
    if select.select([nfd], [], [], 5)[0] != [nfd]:
        fail("select() does not report the new events")
    evs = ep.poll(5)
    if not evs or not evs[0][1] & select.EPOLLIN:
        fail("epoll does not report the new events: %r" % evs)
    text = settle(nfd, cport)
    if pl.poll(0) or ep.poll(0) or select.select([nfd], [], [], 0)[0]:
        fail("still readable after reading everything")

    # 4. Whole lines: a buffer too small for the next line gets EINVAL
    #    and the line stays; a buffer of exactly one line gets that line.
    wfd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    whole = read_text(wfd)
    lines = whole.splitlines(keepends=True)
    os.lseek(wfd, 0, os.SEEK_SET)
    for small in (1, 16, len(lines[0]) - 1):
        got = errno_of(lambda: os.read(wfd, small))
        if got != errno.EINVAL:
            fail("read(%d) < one line gave %s, want EINVAL"
                 % (small, got and errno.errorcode[got]))
    one = os.read(wfd, len(lines[0])).decode()
    if one != lines[0]:
        fail("read(len(line)) gave %r, want %r" % (one, lines[0]))
    two = os.read(wfd, len(lines[1]) + len(lines[2]) - 1).decode()
    if two != lines[1]:
        fail("a buffer for 1.9 lines gave %r, want the one line %r"
             % (two, lines[1]))
    # Odd buffer sizes all the way: only whole lines, none lost or doubled.
    rest = read_text(wfd, 333)
    if lines[0] + lines[1] + rest != whole:
        fail("reading with a 333-byte buffer changed the stream")
    info("%d lines, longest %d bytes, whole with every buffer size"
         % (len(lines), max(len(x) for x in lines)))

    # 5. lseek: only to the oldest event or to now.
    if errno_of(lambda: os.lseek(wfd, 10, os.SEEK_SET)) != errno.ESPIPE:
        fail("lseek(10, SEEK_SET) was not refused with ESPIPE")
    if errno_of(lambda: os.lseek(wfd, 0, os.SEEK_CUR)) != errno.EINVAL:
        fail("lseek(0, SEEK_CUR) was not refused with EINVAL")
    for fd in (nfd, wfd):
        os.close(fd)
    ep.close()
