#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/tcpstate against live traffic: a client-first close between two
# namespaces, watched at once by five readers (plain, --json, --ladder,
# -n 4, and a filter that matches nothing), then IPv6 over loopback with
# -6/--host, --all versus from-now, list and stats, and the end of the
# stream when the module goes away.
import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

TOOL = os.path.join(ROOT, "tools", "tcpstate")
TMP = "/tmp/tcpstate-reader-%d" % os.getpid()
PPOLL = 271			# x86_64 syscall number: the reader is waiting
os.makedirs(TMP, exist_ok=True)
atexit.register(shutil.rmtree, TMP, True)

if not os.access(TOOL, os.X_OK):
    fail("%s is not built (make tools)" % TOOL)


class Reader:
    """tools/tcpstate ARGS with stdout and stderr in files."""

    count = 0

    def __init__(self, *args, wait=True):
        Reader.count += 1
        self.name = "%s/r%d" % (TMP, Reader.count)
        self.out = open(self.name + ".out", "w")
        self.err = open(self.name + ".err", "w")
        self.args = args
        self.p = subprocess.Popen([TOOL, *args], stdout=self.out,
                                  stderr=self.err)
        if wait:
            self.wait_blocked()

    def wait_blocked(self):
        """Until the reader sits in ppoll(): it has opened and seeked."""
        def blocked():
            if self.p.poll() is not None:
                fail("%s %s exited early (%d): %s" % (
                    TOOL, " ".join(self.args), self.p.returncode,
                    self.stderr()))
            try:
                with open("/proc/%d/syscall" % self.p.pid) as f:
                    return f.read().split()[0] == str(PPOLL)
            except (OSError, IndexError):
                return False
        wait_until(blocked, what="tcpstate %s to wait for events"
                   % " ".join(self.args))

    def text(self):
        with open(self.name + ".out") as f:
            return f.read()

    def lines(self):
        return self.text().splitlines()

    def stderr(self):
        with open(self.name + ".err") as f:
            return f.read()

    def running(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGINT):
        """Signal it; it must exit 0 promptly."""
        if self.running():
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail("tcpstate %s ignored signal %d" % (" ".join(self.args), sig))
        if rc != 0:
            fail("tcpstate %s exited %d on signal %d: %s"
                 % (" ".join(self.args), rc, sig, self.stderr()))
        return self.text()


# The transitions a client-first close must show in one namespace: the
# handshake, each side's first closing step, the server's last ACK and the
# client's 2MSL timer.  (Whether the server's ACK of the client's FIN
# rides on its own FIN depends on timing, so FIN_WAIT_2 is not required.)
def expected(cport, port, srv="10.99.0.2", cli="10.99.0.1"):
    c = r"%s:%d +-> %s:%d +" % (re.escape(cli), cport, re.escape(srv), port)
    return [
        c + r"client +CLOSED +-> SYN_SENT +S +seq \d+ ",
        c + r"server +LISTEN +-> SYN_RCVD +S\. +seq \d+ ack \d+ ",
        c + r"client +SYN_SENT +-> ESTABLISHED +S\. +seq \d+ ack \d+ ",
        c + r"server +SYN_RCVD +-> ESTABLISHED +\S+ +seq \d+ ack \d+ ",
        c + r"client +ESTABLISHED +-> FIN_WAIT_1 +F\S* +seq \d+ ack \d+ ",
        c + r"server +ESTABLISHED +-> CLOSE_WAIT +F\S* +seq \d+ ack \d+ ",
        c + r"server +LAST_ACK +-> CLOSED +\S+ +seq \d+ ack \d+ ",
        c + r"client +TIME_WAIT +-> CLOSED +timer ",
    ]


PORT = 8030
JSON_KEYS = {"id": int, "ts": int, "netns": int, "family": str,
             "client": str, "server": str, "side": str, "old": str,
             "new": str, "flags": str, "seq": int, "ack": int,
             "reason": str}

with NetnsPair("ra", "rb") as net, \
        Module(time_wait_ms=700, linger_ms=30000):
    ns_a = netns_inode("ra")
    ns_b = netns_inode("rb")
    A = "--netns=%d" % ns_a

    plain = Reader(A)
    js = Reader(A, "--json")
    ladder = Reader(A, "--ladder")
    first4 = Reader(A, "-n", "4")
    nothing = Reader("--dport", "9", "-n", "1")
    both = Reader("--port", str(PORT))

    cport = connect_once(net.addr4["rb"], PORT, "ra", "rb", data=b"hello")
    info("client port %d; namespaces a=%d b=%d" % (cport, ns_a, ns_b))

    # The client's TIME_WAIT -> CLOSED comes from the timer, 700 ms later.
    wait_until(lambda: "timer" in plain.text(), timeout=10,
               what="the TIME_WAIT timer transition in plain output")

    # Plain: every expected transition exactly once, nothing from the
    # other namespace.
    text = plain.text()
    for rx in expected(cport, PORT):
        hits = [l for l in text.splitlines() if re.search(rx, l + " ")]
        if len(hits) != 1:
            fail("plain output has %d lines matching /%s/:\n%s"
                 % (len(hits), rx, text))
    for l in text.splitlines():
        if "netns %d" % ns_a not in l:
            fail("a line without netns %d: %r" % (ns_a, l))
        if not re.match(r"\d\d:\d\d:\d\d\.\d{3}  ", l):
            fail("a line without a local time with ms: %r" % l)
    if "\033[" in text:
        fail("colour escapes in piped output")
    info("plain: %d lines" % len(text.splitlines()))

    # Both namespaces see the connection: the unfiltered --port reader
    # has each transition twice, once per namespace.
    wait_until(lambda: both.text().count(" timer ") >= 2, timeout=10,
               what="both namespaces' timer transitions")
    for ns in (ns_a, ns_b):
        if not any(l.endswith("netns %d" % ns) for l in both.lines()):
            fail("no transition from namespace %d in:\n%s" % (ns, both.text()))

    # -n 4: the handshake, then it exits 0 on its own.
    try:
        rc = first4.p.wait(5)
    except subprocess.TimeoutExpired:
        fail("tcpstate -n 4 is still running after 4 transitions")
    if rc != 0 or len(first4.lines()) != 4:
        fail("-n 4: status %d, %d lines:\n%s" % (rc, len(first4.lines()),
                                                  first4.text()))
    for rx in expected(cport, PORT)[:4]:
        if not any(re.search(rx, l + " ") for l in first4.lines()):
            fail("-n 4 printed no line matching /%s/:\n%s"
                 % (rx, first4.text()))

    # A filter that matches nothing prints nothing, and -n 1 does not stop
    # it: the excluded transitions do not count.
    if not nothing.running():
        fail("--dport 9 -n 1 stopped although nothing matched: %s"
             % nothing.text())
    if nothing.stop(signal.SIGTERM) != "":
        fail("--dport 9 printed something: %r" % nothing.text())

    # JSON: one object per line with every key, numbers as numbers.
    wait_until(lambda: '"reason":"timer"' in js.text(), timeout=5,
               what="the timer transition in JSON")
    objs = [json.loads(l) for l in js.lines()]
    if len(objs) != len(plain.lines()):
        fail("JSON has %d objects, plain %d lines" % (len(objs),
                                                      len(plain.lines())))
    for o in objs:
        if set(o) != set(JSON_KEYS):
            fail("JSON keys %s, want %s" % (sorted(o), sorted(JSON_KEYS)))
        for k, t in JSON_KEYS.items():
            if type(o[k]) is not t:
                fail("JSON %s is %r, want a %s" % (k, o[k], t.__name__))
        if o["netns"] != ns_a or o["server"] != "10.99.0.2:%d" % PORT:
            fail("JSON object for the wrong flow: %r" % o)
    ids = [o["id"] for o in objs]
    if ids != sorted(ids) or len(set(ids)) != len(ids):
        fail("JSON ids not increasing: %r" % ids)
    hs = [o for o in objs if o["new"] == "SYN_SENT"][0]
    if hs["flags"] != "S" or hs["side"] != "client" or hs["reason"] != "segment":
        fail("the SYN's JSON: %r" % hs)
    synack = [o for o in objs if o["new"] == "SYN_RCVD"][0]
    if synack["ack"] != (hs["seq"] + 1) % 2**32:
        fail("SYN/ACK acks %d, want the SYN's seq + 1 = %d"
             % (synack["ack"], hs["seq"] + 1))

    # The ladder is printed when the flow finishes, without a signal.
    wait_until(lambda: "handshake RTT" in ladder.text(), timeout=5,
               what="the ladder diagram")
    lad = ladder.text()
    info("ladder:\n" + lad)
    # With both parameters off it says once what the ladders leave out.
    hint = ("tcpstate: the ladders show no retransmissions or keep-alives: "
            "the module writes them only when 1 is written to "
            "/sys/module/tcpstate/parameters/retransmits and keepalives\n")
    if ladder.stderr() != hint:
        fail("the ladder reader's stderr %r, want %r" % (ladder.stderr(),
                                                        hint))
    head = "10.99.0.1:%d -> 10.99.0.2:%d  ipv4 netns %d" % (cport, PORT, ns_a)
    if head not in lad or "(unfinished)" in lad:
        fail("ladder header %r missing or unfinished" % head)
    rows = lad.splitlines()
    want = [
        r"SYN_SENT +--- S seq=%d -+>$" % hs["seq"],
        r"ESTABLISHED +<-- S\. seq=%d ack=%d -+ SYN_RCVD$"
        % (synack["seq"], synack["ack"]),
        r"^ +\+[\d.]+ +--- \.? ?.*-> ESTABLISHED$",
        r"FIN_WAIT_1 +--- F\S* seq=\d+ ack=\d+ -+> CLOSE_WAIT$",
        r"<-- F\S* seq=\d+ ack=\d+ -+ LAST_ACK$",
        r"--- \S+ seq=\d+ ack=\d+ -+> CLOSED$",
        r"^ +\+[\d.]+ +CLOSED +\(timer\)$",
        r"handshake RTT: SYN -> SYN/ACK \d+\.\d{3} ms, SYN/ACK -> ACK \d+\.\d{3} ms",
    ]
    for rx in want:
        if not any(re.search(rx, r) for r in rows):
            fail("ladder has no row matching /%s/" % rx)
    if lad.count(" -> 10.99.0.2:%d " % PORT) != 1:
        fail("the ladder was drawn more than once")

    # list: the finished flow is still in the table (linger_ms).
    out = run(TOOL, "list", A, "--dport", str(PORT))
    lines = out.splitlines()
    if not lines[0].startswith("netns ") or len(lines) != 2:
        fail("list --dport %d:\n%s" % (PORT, out))
    if "10.99.0.1:%d" % cport not in lines[1]:
        fail("list row for another flow: %r" % lines[1])
    rows = [json.loads(l) for l in
            run(TOOL, "list", "--json", A, "-4").splitlines()]
    row = [r for r in rows if r["client"] == "10.99.0.1:%d" % cport]
    if len(row) != 1 or row[0]["server_state"] != "CLOSED" or \
            row[0]["client_state"] != "CLOSED" or row[0]["netns"] != ns_a:
        fail("list --json rows: %r" % rows)
    if run(TOOL, "list", A, "-6").splitlines()[1:]:
        fail("list -6 shows IPv4 flows")
    if run(TOOL, "list", A, "--state", "handshake").splitlines()[1:]:
        fail("list --state handshake shows finished flows")

    stats = json.loads(run(TOOL, "stats", "--json"))
    if not isinstance(stats.get("events_emitted"), int) or \
            stats["events_emitted"] < 16:
        fail("stats --json: %r" % stats)
    if stats.get("version") != os.environ["TCPSTATE_VERSION"]:
        fail("stats --json: version %r, want %r" % (
            stats.get("version"), os.environ["TCPSTATE_VERSION"]))
    if "events_emitted" not in run(TOOL, "stats"):
        fail("plain stats lack events_emitted")

    for r in (plain, js, ladder, both):
        r.stop()

    # IPv6 over the veth: -6 and --host with a prefix pick it, -4 does not.
    v6 = Reader(A, "-6", "--host", "fd99::/64")
    v4only = Reader(A, "-4", "-n", "1")
    cport6 = connect_once(net.addr6["rb"], PORT + 1, "ra", "rb",
                          data=b"hello")
    wait_until(lambda: "timer" in v6.text(), timeout=10,
               what="the IPv6 flow's timer transition")
    for rx in expected(cport6, PORT + 1, "[fd99::2]", "[fd99::1]"):
        if not any(re.search(rx, l + " ") for l in v6.lines()):
            fail("-6 output lacks /%s/:\n%s" % (rx, v6.text()))
    if v4only.stop() != "":
        fail("-4 printed IPv6 transitions: %r" % v4only.text())
    v6.stop()

    # --all starts at the oldest buffered event; the default starts now.
    old = Reader(A, "--all", "-n", "3", "--ts=ns", wait=False)
    try:
        old.p.wait(5)
    except subprocess.TimeoutExpired:
        fail("--all -n 3 did not find 3 buffered transitions")
    if len(old.lines()) != 3 or \
            not re.match(r"\d{19}  10\.99\.0\.1:%d " % cport, old.lines()[0]):
        fail("--all -n 3 --ts=ns:\n%s" % old.text())
    now = Reader(A)
    time.sleep(0.3)
    if now.text():
        fail("a reader from now printed old transitions: %r" % now.text())

    # The end of the stream: rmmod gives the blocked reader end-of-file.
    run("rmmod", "tcpstate")
    try:
        rc = now.p.wait(5)
    except subprocess.TimeoutExpired:
        fail("the reader did not end when the module was unloaded")
    if rc != 0:
        fail("the reader exited %d at the end of the stream: %s"
             % (rc, now.stderr()))
    run("insmod", KO)	# for Module's own rmmod and checks

info("reader checks passed")
