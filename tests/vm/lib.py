# SPDX-License-Identifier: GPL-2.0
"""Helpers for VM scenario tests written in Python (run with /usr/bin/python3).

    #!/usr/bin/python3
    import os, sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from lib import *

    with NetnsPair("a", "b") as net, Module():
        with EventTail() as ev:
            srv = net.socket("b"); srv.bind(("10.99.0.2", 8000)); srv.listen()
            cli = net.socket("a"); cli.connect(("10.99.0.2", 8000))
            ...
            ev.wait_for(lambda e: e.get("new") == "ESTABLISHED", count=2)
        rows = read_table()

tests/vm/run runs each scenario as root inside the VM with TCPSTATE_KO,
TCPSTATE_ROOT and TCPSTATE_KVER set.  A scenario passes by exiting 0; an
uncaught exception or fail() fails it.  Never print lines starting with
"PASS:" or "FAIL:" - the runner counts those.
"""

import ctypes
import os
import socket
import subprocess
import sys
import time

ROOT = os.environ.get("TCPSTATE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KVER = os.environ.get("TCPSTATE_KVER") or os.uname().release
KO = os.environ.get("TCPSTATE_KO") or os.path.join(
    ROOT, "build", KVER, "module", "tcpstate.ko")
# The fault-injection build (scripts/build-module with TCPSTATE_FAULT=1).
KO_FAULT = os.environ.get("TCPSTATE_KO_FAULT") or os.path.join(
    ROOT, "build", KVER + "-fault", "module", "tcpstate.ko")
TRACEFS = "/sys/kernel/tracing"
CLONE_NEWNET = 0x40000000
# The debug kernel (KASAN, lockdep, kmemleak under TCG) runs everything 3
# to 12 times slower: a bound on how late something may come is widened
# by this much there (never a bound on how early).
PACE = 3 if KVER.endswith("-tcpstate-debug") else 1

__all__ = ["ROOT", "KVER", "KO", "KO_FAULT", "PACE", "TestFailure", "fail",
           "info",
           "run",
           "wait_until", "need", "NetnsPair", "netns", "Module",
           "module_loaded", "read_table", "read_stats", "events_settle",
           "check_handshake", "parse_event",
           "read_events", "read_text", "read_lines", "netns_inode",
           "tcp_socket", "listen_tcp", "client_first_close", "connect_once",
           "keepalive_client", "LadderReader", "EventTail", "SockTrace"]


class TestFailure(Exception):
    pass


def fail(msg):
    raise TestFailure(msg)


def info(msg):
    print("# " + str(msg), flush=True)


def run(*cmd, check=True, ns=None, capture=True):
    """Run a command (optionally inside netns NS); return its stdout."""
    argv = list(cmd)
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    p = subprocess.run(argv, stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None,
                       text=True)
    if check and p.returncode != 0:
        fail("command %r exited %d: %s" % (argv, p.returncode,
                                           (p.stdout or "").strip()))
    return p.stdout if capture else ""


def wait_until(pred, timeout=10.0, what=None, interval=0.02):
    """Poll pred() until it returns something true; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("timed out after %.1fs waiting for %s"
                 % (timeout, what or getattr(pred, "__name__", "condition")))
        time.sleep(interval)


def need(*tools):
    """A missing tool fails the test; nothing skips silently."""
    import shutil
    for t in tools:
        if not shutil.which(t):
            fail("required tool %r not found" % t)


_libc = ctypes.CDLL(None, use_errno=True)


class netns:
    """Context manager: switch this thread into network namespace NAME.

    Sockets created inside keep that namespace after the block ends, so
    one process can drive both ends of a connection in two namespaces."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.saved = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                fail("setns(%s): %s" % (self.name, os.strerror(e)))
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        _libc.setns(self.saved, CLONE_NEWNET)
        os.close(self.saved)
        return False


class NetnsPair:
    """Two namespaces A and B joined by a veth pair.

    A has V4.1 and V6::1, B has V4.2 and V6::2 (default 10.99.0.0/24 and
    fd99::/64); loopback is up in both.  Removed on exit."""

    def __init__(self, a="a", b="b", v4="10.99.0", v6="fd99:"):
        self.a, self.b = a, b
        self.addr4 = {a: v4 + ".1", b: v4 + ".2"}
        self.addr6 = {a: v6 + ":1", b: v6 + ":2"}
        self.v4, self.v6 = v4, v6

    def __enter__(self):
        a, b = self.a, self.b
        run("ip", "netns", "add", a)
        run("ip", "netns", "add", b)
        run("ip", "link", "add", "veth-" + a, "netns", a, "type", "veth",
            "peer", "name", "veth-" + b, "netns", b)
        for ns in (a, b):
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", self.addr4[ns] + "/24",
                "dev", "veth-" + ns)
            run("ip", "-n", ns, "addr", "add", self.addr6[ns] + "/64",
                "dev", "veth-" + ns, "nodad")
            run("ip", "-n", ns, "link", "set", "veth-" + ns, "up")
        for ns in (a, b):
            wait_until(lambda: " UP " in run("ip", "-n", ns, "-br", "link",
                                             "show", "dev", "veth-" + ns),
                       what="veth-%s to come up" % ns)
        return self

    def __exit__(self, *exc):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns],
                           stderr=subprocess.DEVNULL)
        return False

    def socket(self, ns, family=socket.AF_INET, type=socket.SOCK_STREAM):
        """A socket that lives in namespace NS."""
        with netns(ns):
            return socket.socket(family, type)


def netns_inode(name=None):
    """The inode of network namespace NAME (default: this process's)."""
    return os.stat("/run/netns/" + name if name else
                   "/proc/self/ns/net").st_ino


def tcp_socket(ns=None, family=socket.AF_INET):
    """A TCP socket in namespace NS (default: this process's)."""
    if ns is None:
        return socket.socket(family, socket.SOCK_STREAM)
    with netns(ns):
        return socket.socket(family, socket.SOCK_STREAM)


def listen_tcp(addr, port, ns=None, backlog=None):
    """A TCP socket listening on ADDR:PORT with SO_REUSEADDR, in namespace
    NS; IPv6 if ADDR has a colon."""
    s = tcp_socket(ns, socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if backlog is None:
        s.listen()
    else:
        s.listen(backlog)
    return s


def client_first_close(srv, ns=None, data=b"", cport=0):
    """One connection to the listening socket SRV from a client in
    namespace NS (bound to port CPORT if not 0): the client sends DATA,
    which must arrive, and closes first; the server must see its FIN and
    closes too.  Returns the client's port."""
    cli = tcp_socket(ns, srv.family)
    cli.settimeout(10)
    if cport:
        cli.bind(("", cport))
    cli.connect(srv.getsockname()[:2])
    conn, _ = srv.accept()
    conn.settimeout(10)
    cport = cli.getsockname()[1]
    if data:
        cli.sendall(data)
        if conn.recv(len(data)) != data:
            fail("the server did not get the client's data")
    cli.close()
    if conn.recv(16) != b"":
        fail("the server did not see the client's FIN")
    conn.close()
    return cport


def connect_once(addr, port, client_ns=None, server_ns=None, data=b""):
    """client_first_close() to a listener of its own on ADDR:PORT in
    SERVER_NS, closed afterwards.  Returns the client's port."""
    srv = listen_tcp(addr, port, server_ns)
    try:
        return client_first_close(srv, client_ns, data)
    finally:
        srv.close()


def keepalive_client(ns, family, addr, port):
    """A client in namespace NS connected to ADDR:PORT with SO_KEEPALIVE,
    TCP_KEEPIDLE and TCP_KEEPINTVL 1 s, TCP_KEEPCNT 2."""
    cli = tcp_socket(ns, family)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
    cli.settimeout(20)
    cli.connect((addr, port))
    return cli


class LadderReader:
    """tools/tcpstate --all --ladder --dport PORT running in namespace NS,
    its output in a file; wait(text) waits until TEXT is in it, stops the
    reader and returns the whole output."""

    def __init__(self, ns, port):
        self.path = "/tmp/tcpstate-ladder-%d-%d" % (os.getpid(), port)
        self.out = open(self.path, "w+")
        self.p = subprocess.Popen(
            ["ip", "netns", "exec", ns, os.path.join(ROOT, "tools",
                                                     "tcpstate"),
             "--all", "--ladder", "--no-color", "--dport", str(port)],
            stdout=self.out, stderr=subprocess.STDOUT)

    def wait(self, text):
        try:
            wait_until(lambda: text in open(self.path).read(),
                       what="the reader's ladder")
        finally:
            self.p.kill()
            self.p.wait()
            out = open(self.path).read()
            self.out.close()
            os.unlink(self.path)
        info("ladder:\n" + out)
        return out


def module_loaded():
    with open("/proc/modules") as f:
        return any(line.split()[0] == "tcpstate" for line in f)


class Module:
    """Context manager: insmod tcpstate with PARAMS, rmmod on exit and
    check that the /proc files went with it.  ko=KO_FAULT loads the
    fault-injection build."""

    def __init__(self, ko=None, **params):
        self.ko = ko or KO
        self.params = ["%s=%s" % kv for kv in params.items()]

    def __enter__(self):
        if not os.path.exists(self.ko):
            fail("module not built: " + self.ko)
        if module_loaded():
            fail("tcpstate is already loaded")
        run("insmod", self.ko, *self.params)
        if not os.path.exists("/proc/tcpstate"):
            fail("/proc/tcpstate missing after insmod")
        return self

    def __exit__(self, tp, val, tb):
        if tp is not None:
            # The body failed already: unload quietly, keep its error.
            subprocess.run(["rmmod", "tcpstate"], stderr=subprocess.DEVNULL)
            return False
        run("rmmod", "tcpstate")
        for p in ("/proc/tcpstate", "/proc/tcpstate_events",
                  "/proc/tcpstate_stats"):
            if os.path.exists(p):
                fail(p + " still exists after rmmod")
        return False


def read_table(path="/proc/tcpstate"):
    """/proc/tcpstate as a list of dicts keyed by the header's columns."""
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines:
        fail(path + " is empty (no header)")
    cols = lines[0].split()
    return [dict(zip(cols, line.split())) for line in lines[1:] if line.strip()]


def read_stats(path="/proc/tcpstate_stats"):
    """/proc/tcpstate_stats as {name: int or str}."""
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    out[parts[0]] = parts[1]
    return out


def events_settle(quiet_s=1.0, timeout=30):
    """Waits until no event has been emitted for QUIET_S seconds and
    returns events_emitted then: the id of the newest event."""
    last = [read_stats()["events_emitted"], time.monotonic()]

    def quiet():
        now = read_stats()["events_emitted"]
        if now != last[0]:
            last[:] = [now, time.monotonic()]
            return None
        return now if time.monotonic() - last[1] >= quiet_s else None
    return wait_until(quiet, timeout, what="the event count to settle")


def check_handshake(evs, what):
    """EVS, the events of one flow in one namespace, carry its
    handshake's numbers: the SYN (x, ack 0), the SYN/ACK (y, ack x+1)
    that puts the server in SYN_RCVD, and the final ACK (x+1, ack y+1)
    that makes it ESTABLISHED.  WHAT names the flow in the failure."""
    syn = [e for e in evs if e["side"] == "client" and
           e["new"] == "SYN_SENT"]
    rcvd = [e for e in evs if e["side"] == "server" and
            e["new"] == "SYN_RCVD"]
    est = [e for e in evs if e["side"] == "server" and
           e["old"] == "SYN_RCVD" and e["new"] == "ESTABLISHED"]
    if len(syn) != 1 or len(rcvd) != 1 or len(est) != 1:
        fail("%s: want one each of client SYN_SENT, server SYN_RCVD and "
             "ESTABLISHED: %r" % (what, evs))
    x, y = int(syn[0]["seq"]), int(rcvd[0]["seq"])
    got = [(syn[0]["flags"], int(syn[0]["ack"])),
           (rcvd[0]["flags"], int(rcvd[0]["ack"])),
           (est[0]["flags"], int(est[0]["seq"]), int(est[0]["ack"]))]
    want = [("S", 0), ("S.", (x + 1) % (1 << 32)),
            (".", (x + 1) % (1 << 32), (y + 1) % (1 << 32))]
    if got != want:
        fail("%s: handshake flags/seq/ack %r, want %r" % (what, got, want))


def parse_event(line):
    """One key=value transition line as an ordered dict."""
    ev = {}
    for tok in line.split():
        k, sep, v = tok.partition("=")
        if not sep:
            fail("malformed event token %r in %r" % (tok, line))
        ev[k] = v
    return ev


def read_events(path="/proc/tcpstate_events"):
    """Every event buffered now (non-blocking read to the end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return [parse_event(l) for l in data.decode().splitlines() if l.strip()]


def read_text(fd, bufsize=65536):
    """Everything readable now from a non-blocking FD, with reads of
    BUFSIZE; each read must end on a whole line, and end-of-file (the
    module is loaded) fails."""
    out = b""
    while True:
        try:
            chunk = os.read(fd, bufsize)
        except BlockingIOError:
            return out.decode()
        if not chunk:
            fail("end of file while the module is loaded")
        if not chunk.endswith(b"\n"):
            fail("partial line from read(%d): %r" % (bufsize, chunk[-80:]))
        out += chunk


def read_lines(fd, bufsize=65536):
    """read_text() as a list of lines."""
    return read_text(fd, bufsize).splitlines()


class EventTail:
    """Collects /proc/tcpstate_events from open (or from now, with
    from_now=True) while the block runs; .events is the list so far."""

    def __init__(self, path="/proc/tcpstate_events", from_now=False):
        self.path, self.from_now = path, from_now
        self.events, self._buf = [], b""

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        if self.from_now:
            os.lseek(self.fd, 0, os.SEEK_END)
        return self

    def poll(self):
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        self.events += [parse_event(l.decode()) for l in lines if l.strip()]
        return self.events

    def wait_for(self, match, count=1, timeout=10.0):
        """Wait until COUNT events satisfy match(event); return them."""
        def enough():
            hits = [e for e in self.poll() if match(e)]
            return hits if len(hits) >= count else None
        return wait_until(enough, timeout, what="%d matching event(s)" % count)

    def __exit__(self, *exc):
        self.poll()
        os.close(self.fd)
        return False


class SockTrace:
    """The kernel's own socket state changes (sock:inet_sock_set_state)
    recorded in a private tracefs instance while the block runs; .lines
    are the trace lines, .transitions [(oldstate, newstate, text)]."""

    def __init__(self, name=None):
        self.dir = os.path.join(TRACEFS, "instances",
                                name or "tcpstate-%d" % os.getpid())
        self.lines, self.transitions = [], []

    def _write(self, rel, val):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(val)

    def __enter__(self):
        if not os.path.isdir(os.path.join(TRACEFS, "instances")):
            fail("tracefs is not mounted at " + TRACEFS)
        os.mkdir(self.dir)
        self._write("events/sock/inet_sock_set_state/enable", "1")
        self._write("tracing_on", "1")
        return self

    def stop(self):
        if not os.path.isdir(self.dir):
            return
        self._write("tracing_on", "0")
        with open(os.path.join(self.dir, "trace")) as f:
            self.lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
        self._write("events/sock/inet_sock_set_state/enable", "0")
        os.rmdir(self.dir)
        self.transitions = []
        for l in self.lines:
            fields = dict(t.split("=", 1) for t in l.split() if "=" in t)
            if "oldstate" in fields and "newstate" in fields:
                self.transitions.append((fields["oldstate"],
                                         fields["newstate"], l))

    def __exit__(self, *exc):
        self.stop()
        return False


def _excepthook(tp, val, tb):
    if tp is TestFailure:
        print("error: %s" % val, file=sys.stderr, flush=True)
        return
    sys.__excepthook__(tp, val, tb)


sys.excepthook = _excepthook
