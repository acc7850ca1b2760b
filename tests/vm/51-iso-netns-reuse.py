#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a namespace's flush against the next namespace with its inode
#
# A dead namespace stays invisible to the namespace that gets its inode
# number (issue 10, item 2).  A connection over loopback in namespace A;
# A goes (its flows are flushed, with events); a new namespace B is
# created, and gets A's inode number, which the kernel hands out again
# at once.  A reader in B must see none of A's events or flows: the
# module names namespaces by an id of its own, never reused.
#
# The namespaces are made with unshare() in this process, not with ip
# netns: ip -n and ip netns exec make mount namespaces, whose numbers
# come from the same pool and would take A's first.
import ctypes
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

PORT = 7511
CLONE_NEWNET = 0x40000000
CLONE_NEWUTS = 0x04000000
libc = ctypes.CDLL(None, use_errno=True)


def enter_new_netns():
    if libc.unshare(CLONE_NEWNET) != 0:
        fail("unshare: %s" % os.strerror(ctypes.get_errno()))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return netns_inode()


def back(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        fail("setns: %s" % os.strerror(ctypes.get_errno()))


def mine(evs):
    return [e for e in evs if e["server"].endswith(":%d" % PORT)]


with Module(time_wait_ms=600000):
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    ino = enter_new_netns()
    connect_once("127.0.0.1", PORT)
    back(home)
    # A is gone once nothing refers to it; its flows go with it.
    wait_until(lambda: len(mine(read_events())) >= 4 and
               not [r for r in read_table()
                    if r["server"].endswith(":%d" % PORT)],
               30, what="A's connection's events, then its flows' flush")
    info("A (inode %d): %d events for its connection"
         % (ino, len(mine(read_events()))))

    # Namespace numbers and /proc entries come from one allocator (the
    # proc inode IDA), which hands out the lowest free number.  A new
    # network namespace takes one number for its /proc/net/stat entry
    # (setup_net() makes /proc/net before it numbers the namespace),
    # then its own, then one per /proc/net entry.  A's number is freed by
    # the kernel's netns cleanup work, after the module's flush; numbers
    # below it that other namespaces free later (the scenario before
    # this one made some) would take A's place, and the new namespace's
    # /proc/net entries would then take A's number.  So every free number
    # below A's is held with a UTS namespace (one number each, freed at
    # once when let go) until the allocator hands out A's own; that one
    # and the highest held are let go, and the next network namespace
    # gets A's number.  If it does not (the kernel numbers a different
    # count of entries first), the count is adjusted and it goes again.
    home_uts = os.open("/proc/self/ns/uts", os.O_RDONLY)
    held = []           # (number, fd) of UTS namespaces below A's
    before = 1          # numbers setup_net() takes before the namespace's
    tries = 0
    deadline = time.monotonic() + 30
    got = None
    try:
        while True:
            if time.monotonic() > deadline:
                fail("in 30 s and %d new namespaces, none got A's inode "
                     "%d (last %s, %d numbers below it held)"
                     % (tries, ino, got, len(held)))
            if libc.unshare(CLONE_NEWUTS) != 0:
                fail("unshare(CLONE_NEWUTS): %s"
                     % os.strerror(ctypes.get_errno()))
            fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
            if libc.setns(home_uts, CLONE_NEWUTS) != 0:
                fail("setns(uts): %s" % os.strerror(ctypes.get_errno()))
            u = os.fstat(fd).st_ino
            if u < ino:
                held.append((u, fd))
                continue
            os.close(fd)
            if u > ino:
                time.sleep(0.1)     # A's number is not free yet
                continue
            # A's number is the lowest free one: make room for what
            # setup_net() numbers before the namespace itself.
            held.sort()
            for _ in range(min(before, len(held))):
                os.close(held.pop()[1])
            tries += 1
            got = enter_new_netns()
            if got == ino:
                break
            back(home)
            before += 1 if got > ino else -1
            before = max(0, min(before, 4))
            time.sleep(0.1)
        info("B got A's inode %d (try %d)" % (ino, tries))
        fd = os.open("/proc/tcpstate_events", os.O_RDONLY | os.O_NONBLOCK)
        with open("/proc/tcpstate") as f:
            table = f.read().splitlines()[1:]
        stats = read_stats()
        back(home)
        evs = [parse_event(x) for x in read_lines(fd)]
        os.close(fd)
    finally:
        back(home)
        for _, fd in held:
            os.close(fd)
        os.close(home_uts)
    info("the reader in B: %d events, %d flows, flows_active %d"
         % (len(evs), len(table), stats["flows_active"]))
    if evs:
        fail("the reader in B saw %d events of the dead A, first %r"
             % (len(evs), evs[0]))
    if table or stats["flows_active"]:
        fail("the reader in B saw flows: %r" % table)
