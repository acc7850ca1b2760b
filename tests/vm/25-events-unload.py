#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: rmmod against blocked readers and live connections
#
# rmmod and the event stream, three times over, with connections opening
# and closing the whole time and one connection left established:
#  - a reader blocked in read() in a namespace without traffic gets end
#    of file (read returns 0), and so does a reader blocked in poll();
#  - a reader following everything drains the live flow's unload
#    transitions (flags=- seq=0 ack=0 reason=unload), whole lines with
#    no id missing, and then gets end of file;
#  - rmmod returns without waiting for any reader, and the file is
#    gone; the traffic never notices.  The runner fails the test on any kernel splat.
# The last cycle also keeps a file open that is never read: rmmod waits
# for it at most its grace period (about 2 s; a wait for the close would
# never end, as the file is closed after rmmod), and a read after the
# unload fails with EIO from procfs.
import errno
import os
import select
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
PORT = 7251


class Thread(threading.Thread):
    """Runs FN, keeping its result or exception."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None
        self.start()

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: B902 - reported by the test
            self.error = e

    def outcome(self, what, timeout=15):
        self.join(timeout)
        if self.is_alive():
            fail("%s: still blocked %ds after rmmod" % (what, timeout))
        if self.error:
            fail("%s: %r" % (what, self.error))
        return self.result


def follow(fd):
    """Blocking reads until end of file; the lines."""
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode().splitlines()
        if not chunk.endswith(b"\n"):
            raise AssertionError("partial line %r" % chunk[-80:])
        data += chunk


def poll_then_read(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    revents = p.poll(60000)
    return revents, os.read(fd, 4096)


stop = threading.Event()
made = [0]


def traffic():
    while not stop.is_set():
        cli = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        cli.sendall(b"x")
        cli.close()
        made[0] += 1
        time.sleep(0.02)


def handle(conn):
    conn.settimeout(120)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    conn.close()


def serve(srv):
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


run("ip", "netns", "add", "quiet")
try:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT))
    srv.listen(128)
    srv.settimeout(0.2)
    workers = [Thread(lambda: serve(srv)), Thread(traffic)]

    for cycle in (1, 2, 3):
        if module_loaded():
            fail("tcpstate is already loaded")
        run("insmod", KO, "time_wait_ms=600000")
        # The live flow, established before anyone reads.
        live = socket.socket()
        live.bind(("127.0.0.1", 0))
        live_port = live.getsockname()[1]
        live.connect(("127.0.0.1", PORT))
        live_client = "client=127.0.0.1:%d " % live_port

        with netns("quiet"):
            quiet_fd = os.open(EVENTS, os.O_RDONLY)
            poll_fd = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
        all_fd = os.open(EVENTS, os.O_RDONLY)
        idle_fd = os.open(EVENTS, os.O_RDONLY) if cycle == 3 else None
        blocked = Thread(lambda: os.read(quiet_fd, 4096))
        poller = Thread(lambda: poll_then_read(poll_fd))
        follower = Thread(lambda: follow(all_fd))
        wait_until(lambda: read_stats()["events_emitted"] > 50, 30,
                   what="traffic to make 50 events")
        time.sleep(0.5)
        if not (blocked.is_alive() and poller.is_alive()):
            fail("the quiet namespace's readers did not block: %r %r"
                 % (blocked.result, poller.result))

        before = made[0]
        t0 = time.monotonic()
        # rmmod must not wait for the readers: proc_remove() waits for
        # every read() in flight, so a reader that is never woken, or a
        # file that must be closed first (cycle 3), hangs it for good.
        # 60 s tells such a hang from a slow kernel (the debug kernel
        # takes 8 s); how long it took is reported, not judged.
        rc = subprocess.run(["timeout", "60", "rmmod", "tcpstate"]).returncode
        took = time.monotonic() - t0
        if rc == 124:
            fail("rmmod did not return in 60s with readers blocked%s"
                 % (" and one idle" if idle_fd is not None else ""))
        if rc:
            fail("rmmod exited %d" % rc)
        if os.path.exists(EVENTS):
            fail("%s still exists after rmmod" % EVENTS)

        if blocked.outcome("the blocked read()") != b"":
            fail("the blocked read() returned %r, want end of file"
                 % blocked.result)
        revents, data = poller.outcome("the blocked poll()")
        if not revents or not revents[0][1] & select.POLLIN or data != b"":
            fail("poll() gave %r then read %r, want POLLIN and end of file"
                 % (revents, data))
        lines = follower.outcome("the following reader")
        evs = [parse_event(x) for x in lines]
        ids = [int(e["id"]) for e in evs]
        if ids != list(range(ids[0], ids[0] + len(ids))) or \
                any("lost" in e for e in evs):
            fail("the follower's ids have holes or losses")
        unload = [x for x in lines if live_client in x and
                  "reason=unload" in x]
        sides = sorted(parse_event(x)["side"] for x in unload)
        if sides != ["client", "server"] or \
                any(" old=ESTABLISHED new=CLOSED flags=- seq=0 ack=0 "
                    "reason=unload" not in x for x in unload):
            fail("the live flow's unload events: %r" % unload)
        first = next(i for i, x in enumerate(lines) if "reason=unload" in x)
        if any("reason=unload" not in x for x in lines[first:]):
            fail("other events among the unload transitions")

        if idle_fd is not None:
            try:
                got = os.read(idle_fd, 4096)
                fail("a read after rmmod returned %r, want EIO" % got)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
            os.close(idle_fd)
        for fd in (quiet_fd, poll_fd, all_fd):
            os.close(fd)
        live.close()
        wait_until(lambda: made[0] > before + 3, 15,
                   what="connections to go on after rmmod")
        info("cycle %d: rmmod took %.2fs; the follower drained %d lines, "
             "%d unload events, then end of file"
             % (cycle, took, len(lines),
                sum("reason=unload" in x for x in lines)))
    stop.set()
    for w in workers:
        w.outcome("traffic", 20)
    srv.close()
finally:
    stop.set()
    run("ip", "netns", "del", "quiet", check=False)
