#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: rmmod against every way of waiting on the events file
#
# Every way of waiting on /proc/tcpstate_events, across rmmod (issue 9,
# item 2).  A child process opens the file seven times and waits on it:
# epoll level-triggered, epoll edge-triggered, epoll with EPOLLEXCLUSIVE,
# a file in an epoll set nobody waits on, poll(), select() and a read()
# blocked in the kernel.  rmmod runs while they all wait; then the child
# reports what each wait returned, closes every descriptor (the epoll sets
# first for half of them, the files first for the rest) and exits.
#
# The waiters sit on a wait queue in the module's memory.  Without
# POLLFREE at unload, epoll keeps its entry on that queue and closing the
# descriptor faults in remove_wait_queue() (the runner catches the splat)
# and leaves the child hung; here the child must exit 0 within its
# timeout, every wait must have returned and the file read to its end (end
# of file, or EIO once procfs has removed it), and each close must work.
# Three rounds; the last with traffic, so the waiters are woken by events
# as well as by the unload.
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
PORT = 7262

CHILD = r'''
import errno, json, os, select, sys, threading
EVENTS = "/proc/tcpstate_events"
res, threads = {}, []

def waiter(name, fn):
    def body():
        try:
            res[name] = fn()
        except BaseException as e:
            res[name] = "error %r" % e
    t = threading.Thread(target=body, daemon=True)
    t.start()
    threads.append((name, t))

def epoll_set(flags):
    fd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN | flags)
    return fd, ep

fds, eps = {}, {}
for name, flags in (("epoll-lt", 0), ("epoll-et", select.EPOLLET),
                    ("epoll-excl", select.EPOLLEXCLUSIVE),
                    ("epoll-idle", 0)):
    fds[name], eps[name] = epoll_set(flags)
    os.lseek(fds[name], 0, os.SEEK_END)
for name in ("poll", "select", "read"):
    fds[name] = os.open(EVENTS, os.O_RDONLY)
    os.lseek(fds[name], 0, os.SEEK_END)

def drain(fd):
    """Read what is there: "ended" at end of file (the module is going)
    or EIO (the file is gone), None when there is nothing more yet."""
    try:
        while True:
            if os.read(fd, 65536) == b"":
                return "ended"
            if not os.get_blocking(fd):
                continue
            return None
    except BlockingIOError:
        return None
    except OSError as e:
        if e.errno == errno.EIO:
            return "ended"
        raise

def ep_wait(name):
    # Edge-triggered needs the file drained before each wait.
    while True:
        if not eps[name].poll(60):
            return "timeout"
        done = drain(fds[name])
        if done:
            return done

def poll_wait():
    p = select.poll()
    p.register(fds["poll"], select.POLLIN)
    while True:
        got = p.poll(60000)
        if not got:
            return "timeout"
        if got[0][1] & (select.POLLHUP | select.POLLNVAL):
            return "ended"
        done = drain(fds["poll"])
        if done:
            return done

def select_wait():
    while True:
        r, _, _ = select.select([fds["select"]], [], [], 60)
        if not r:
            return "timeout"
        done = drain(fds["select"])
        if done:
            return done

def read_wait():
    while True:
        done = drain(fds["read"])
        if done:
            return done

for name in ("epoll-lt", "epoll-et", "epoll-excl"):
    waiter(name, lambda n=name: ep_wait(n))
waiter("poll", poll_wait)
waiter("select", select_wait)
waiter("read", read_wait)
print("ready", flush=True)
sys.stdin.readline()                    # rmmod is done
for name, t in threads:
    t.join(20)
    if t.is_alive():
        res[name] = "still blocked"
order = sys.argv[1]
for name in fds:
    try:
        if order == "sets-first" and name in eps:
            eps[name].close()
        os.close(fds[name])
        if name in eps and not eps[name].closed:
            eps[name].close()
        res.setdefault(name, "closed")
        res[name + ".close"] = "ok"
    except OSError as e:
        res[name + ".close"] = "error %r" % e
print(json.dumps(res), flush=True)
'''

WANT = {"epoll-lt": "ended", "epoll-et": "ended", "epoll-excl": "ended",
        "epoll-idle": "closed", "poll": "ended", "select": "ended",
        "read": "ended"}

stop = threading.Event()


def traffic():
    srv = listen_tcp("127.0.0.1", PORT)
    srv.settimeout(0.5)
    while not stop.is_set():
        try:
            client_first_close(srv)
        except (OSError, TestFailure):
            pass
        time.sleep(0.01)
    srv.close()


for rnd, order in ((1, "sets-first"), (2, "files-first"),
                   (3, "sets-first")):
    run("insmod", KO)
    t = None
    if rnd == 3:
        t = threading.Thread(target=traffic, daemon=True)
        t.start()
    child = subprocess.Popen([sys.executable, "-c", CHILD, order],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    if child.stdout.readline().strip() != "ready":
        fail("round %d: the child did not start" % rnd)
    time.sleep(1)
    if rnd == 3:
        wait_until(lambda: read_stats()["events_emitted"] > 20, 20,
                   what="traffic to make events")
    t0 = time.monotonic()
    run("rmmod", "tcpstate")
    took = time.monotonic() - t0
    stop.set()
    if t:
        t.join(20)
    stop.clear()
    if os.path.exists(EVENTS):
        fail("round %d: %s still exists after rmmod" % (rnd, EVENTS))
    try:
        out, _ = child.communicate("go\n", timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        fail("round %d: the child did not exit after rmmod (hung closing "
             "its descriptors?)" % rnd)
    if child.returncode != 0:
        fail("round %d: the child exited %d" % (rnd, child.returncode))
    res = json.loads(out.strip().splitlines()[-1])
    for name, want in WANT.items():
        if res.get(name) != want:
            fail("round %d: %s gave %r, want %r (all: %r)"
                 % (rnd, name, res.get(name), want, res))
        if res.get(name + ".close") != "ok":
            fail("round %d: closing %s: %r" % (rnd, name,
                                               res.get(name + ".close")))
    info("round %d (%s): rmmod took %.2fs; every waiter returned, every "
         "descriptor closed, the child exited" % (rnd, order, took))
