# SPDX-License-Identifier: GPL-2.0
"""tests/truth/truth.py: compare tcpstate with judges nobody on the project
wrote - the kernel's own socket states (tracepoint sock:inet_sock_set_state)
and real captures.  Used by tests/vm/4*-truth-*.py inside the test VM (run
with /usr/bin/python3).

THE KERNEL-TO-TCPSTATE MAPPING (lives here only, never in the module)
=====================================================================
tcpstate is an observer: it reports each endpoint's transitions on the
segment that proves them.  The kernel reports its own sockets' state
changes as its code makes them.  We compare, per connection and per
endpoint, the ORDERED SEQUENCE of (old, new) states, never timing.  The
kernel's records are attached to an endpoint by the record's local
address:port (saddr/saddr_v6 + sport) and to a connection by the remote
one; the tracepoint has no network namespace, so every scenario uses
addresses that are unique while it runs.  Before comparing:

 K1 Names: TCP_SYN_SENT -> SYN_SENT, TCP_SYN_RECV and TCP_NEW_SYN_RECV ->
    SYN_RCVD, TCP_FIN_WAIT1 -> FIN_WAIT_1, TCP_FIN_WAIT2 -> FIN_WAIT_2,
    TCP_CLOSE -> CLOSED, the others by dropping "TCP_".
 K2 Self-transitions X -> X (e.g. CLOSE -> CLOSE when an already closed
    socket is closed) are dropped.
 K3 The client's CLOSE -> SYN_SENT is traced before connect() has picked
    the source port (sport 0).  Such records are pooled per (family,
    daddr, dport); a client endpoint whose first record leaves SYN_SENT
    takes one of them as its CLOSED -> SYN_SENT.  Running out of pool
    entries is a disagreement.
 K4 A passive open's request socket is not traced.  The child socket's
    LISTEN -> SYN_RECV is traced when it is cloned from the listener - at
    the third ACK, or at the SYN with TCP Fast Open - and still carries
    the listener's addresses (dport 0).  Such records are pooled per
    (family, listening port); a server endpoint whose first record leaves
    SYN_RCVD takes one as its LISTEN -> SYN_RCVD.  Other records of
    listening sockets (dport 0) are not any connection's.
 K5 With two CPUs the kernel may clone a second child for the same
    connection and discard it (tcp_done: SYN_RECV -> CLOSE on the same
    4-tuple).  A SYN_RCVD -> CLOSED of an endpoint that also has
    SYN_RCVD -> ESTABLISHED is such a discarded twin and is dropped (its
    surplus LISTEN -> SYN_RECV stays unused in the K4 pool).
 K6 TIME_WAIT is handed to a separate timewait socket that the tracepoint
    does not see: the socket's last record is FIN_WAIT_2 -> CLOSE or
    CLOSING -> CLOSE.  Three kprobe events follow the timewait socket by
    its ports and family (struct sock_common's, which it shares):
    tcp_time_wait(sk, state, timeo), the hand-over, whose state
    TIME_WAIT turns that last record into X -> TIME_WAIT, and whose state
    FIN_WAIT2 (an orphaned socket handed over before the peer's FIN came)
    drops it, the endpoint staying in FIN_WAIT_2;
    __inet_twsk_schedule(tw, timeo, rearm) with rearm set, which the
    timewait code does only once the socket is in TIME_WAIT (a FIN_WAIT_2
    one that took the peer's FIN: FIN_WAIT_2 -> TIME_WAIT);
    inet_twsk_deschedule_put(tw), an end before the timer's (an RST, new
    data after close, a reused 4-tuple): its state -> CLOSED.
    With no hand-over the record is a real close.  (Looking for timewait
    sockets with `ss` once a scenario settled, as this did before, missed
    those an RST had already ended.)  The timer's end of a timewait socket
    is not followed, so tcpstate's timer events (reason=timer, TIME_WAIT
    -> CLOSED) are left out.
 K7 Stateless RSTs (a refused port) are sent by no socket: the refusing
    side has no record, and tcpstate's server has no event either (it
    never leaves CLOSED).  Nothing to map; listed for completeness.
 K8 One segment, two kernel steps: a FIN that also acks our FIN is
    processed by the kernel as the ACK (FIN_WAIT_1 -> FIN_WAIT_2) and
    then the FIN (FIN_WAIT_2 -> TIME_WAIT).  tcpstate, like RFC 793's
    diagram, makes one step (FIN_WAIT_1 -> TIME_WAIT).  The kernel's pair
    matches tcpstate's single step only if tcpstate's event was caused by
    a segment with F and ACK.  (A FIN that completes a handshake is two
    steps in both: SYN_RCVD -> ESTABLISHED -> CLOSE_WAIT.)
 K9 Observation point in a simultaneous close: an observer next to one
    end sees that end's FIN reach the far end before the far end's own
    FIN (sent before ours arrived) comes back, so tcpstate first takes the
    far end to be closing passively (ESTABLISHED -> CLOSE_WAIT) and then,
    when the far end's FIN does not ack ours, moves it CLOSE_WAIT ->
    CLOSING.  The kernel's ESTABLISHED -> FIN_WAIT_1, FIN_WAIT_1 -> CLOSING
    matches that pair, and only that pair.
K10 States a socket never had, and the model's choice.  tcpstate reports
    the ESTABLISHED of the SYN/ACK's receiver on the SYN/ACK (and the
    server's on the third ACK), as the ladder diagrams draw it: an
    observer cannot know there whether that end still has a socket.  A
    client closed in SYN_SENT (kernel: SYN_SENT -> CLOSE at close(), no
    segment) answers the SYN/ACK with a bare RST from no socket, seq =
    the SYN/ACK's ack; a Fast Open server whose pending child an ICMP
    error dropped (kernel: SYN_RECV -> CLOSE; tcpstate reads no ICMP)
    answers the third ACK the same way.  So tcpstate's pair
    (S, ESTABLISHED) caused by a segment acking A, then (ESTABLISHED,
    CLOSED) caused by flags exactly "R" with seq A, stands for the
    kernel's single (S, CLOSED), S being SYN_SENT or SYN_RCVD; only that
    pair, only with that RST (an end with a socket resets with R.).
K11 A FIN and the peer's RST crossing.  close() moves a socket to
    FIN_WAIT_1 (or CLOSE_WAIT -> LAST_ACK) before its FIN leaves; if the
    peer's RST is hooked on another CPU in between, the wire shows the
    RST first, and the socket, which takes the RST from its backlog after
    close() returns, goes on to CLOSE.  tcpstate's single step (X,
    CLOSED), caused by a segment with R, stands for the kernel's (X, Y),
    (Y, CLOSED) with (X, Y) = (ESTABLISHED, FIN_WAIT_1) or (CLOSE_WAIT,
    LAST_ACK), and only for that.  An abort by the socket itself goes to
    CLOSE without the FIN state, so it cannot match.
Everything else must be identical.  A connection agrees when, for every
observer namespace that sees it, both endpoints' sequences agree.
"""

import ipaddress
import os
import re
import time

TRACEFS = "/sys/kernel/tracing"

KSTATE = {
    "TCP_ESTABLISHED": "ESTABLISHED", "TCP_SYN_SENT": "SYN_SENT",
    "TCP_SYN_RECV": "SYN_RCVD", "TCP_NEW_SYN_RECV": "SYN_RCVD",
    "TCP_FIN_WAIT1": "FIN_WAIT_1", "TCP_FIN_WAIT2": "FIN_WAIT_2",
    "TCP_TIME_WAIT": "TIME_WAIT", "TCP_CLOSE": "CLOSED",
    "TCP_CLOSE_WAIT": "CLOSE_WAIT", "TCP_LAST_ACK": "LAST_ACK",
    "TCP_LISTEN": "LISTEN", "TCP_CLOSING": "CLOSING",
}

def ep(addr, port):
    """An endpoint: (normalised address string, port)."""
    return (ipaddress.ip_address(addr).compressed, int(port))


def ep_parse(s):
    """'1.2.3.4:80' or '[fd99::1]:80' -> ep."""
    host, _, port = s.rpartition(":")
    return ep(host.strip("[]"), port)


def ep_str(e):
    a = e[0]
    return ("[%s]:%d" if ":" in a else "%s:%d") % (a, e[1])


def netns_inode(name):
    return os.stat("/run/netns/" + name).st_ino


# --------------------------------------------------------------------------
# The kernel's view: sock:inet_sock_set_state in a private tracefs instance.

_LINE = re.compile(r"\s(\d+\.\d+): inet_sock_set_state: (.*)$")
_PROBE_LINE = re.compile(r"\s(\d+\.\d+): \w+: \((\w+)\+[^)]*\) (.*)$")
# K6's kprobes, at the functions' entry: the first argument is the socket
# (%di), whose struct sock_common holds skc_dport (offset 12, network
# order), skc_num (14) and skc_family (16), laid out alike in 6.1 and
# 6.12; tcp_time_wait's second is the state (TCP_TIME_WAIT 6 or
# TCP_FIN_WAIT2 5), __inet_twsk_schedule's third is rearm.
_SK_PORTS = "dport=+12(%di):u16 sport=+14(%di):u16 family=+16(%di):u16"
_TW_PROBES = {
    "handover": "tcp_time_wait state=%si:s32 " + _SK_PORTS,
    "rearm": "__inet_twsk_schedule rearm=%dx:u8 " + _SK_PORTS,
    "kill": "inet_twsk_deschedule_put " + _SK_PORTS,
}
_TW_STATE = {6: "TIME_WAIT", 5: "FIN_WAIT_2"}


def _tw_fate(evs):
    """One timewait socket's kprobe records, in time order -> (the state
    it was handed over in, [its later (old, new) steps])."""
    sub, steps = None, []
    for kind, arg in evs:
        if kind == "handover":
            sub, cur, steps = arg, arg, []
        elif sub is None:
            continue
        elif kind == "rearm" and arg and cur == "FIN_WAIT_2":
            steps.append((cur, "TIME_WAIT"))
            cur = "TIME_WAIT"
        elif kind == "kill" and cur != "CLOSED":
            steps.append((cur, "CLOSED"))
            cur = "CLOSED"
    return sub, steps


def parse_trace_line(line):
    m = _LINE.search(line)
    if not m:
        return None
    f = dict(t.split("=", 1) for t in m.group(2).split() if "=" in t)
    v6 = f["family"] == "AF_INET6"
    return {
        "ts": float(m.group(1)),
        "v6": v6,
        "sport": int(f["sport"]), "dport": int(f["dport"]),
        "saddr": ipaddress.ip_address(
            f["saddrv6"] if v6 else f["saddr"]).compressed,
        "daddr": ipaddress.ip_address(
            f["daddrv6"] if v6 else f["daddr"]).compressed,
        "old": KSTATE.get(f["oldstate"], f["oldstate"]),
        "new": KSTATE.get(f["newstate"], f["newstate"]),
        "line": line,
    }


class KernelTrace:
    """Records the kernel's TCP socket state changes (filter protocol == 6)
    and its timewait sockets (K6) while the block runs; take() returns the
    state changes so far and clears the buffer, failing if the ring lost
    any; the timewait records collect in .tw, {(v6, local port, remote
    port): [(kind, arg)]}, until tw_for() takes them."""

    def __init__(self, name="tcpstate-truth", buffer_kb=16384):
        self.dir = os.path.join(TRACEFS, "instances", name)
        self.buffer_kb = buffer_kb
        tag = re.sub(r"\W", "_", name)
        self.probes = ["tcpstate_truth/%s_%s" % (k, tag) for k in _TW_PROBES]
        self.tw = {}

    def _probe_def(self, text):
        # O_APPEND adds to the list; no seek (tracefs refuses it).
        fd = os.open(os.path.join(TRACEFS, "kprobe_events"),
                     os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)

    def _w(self, rel, val):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(val)

    def __enter__(self):
        if not os.path.isdir(os.path.join(TRACEFS, "instances")):
            raise RuntimeError("tracefs is not mounted at " + TRACEFS)
        if os.path.isdir(self.dir):
            os.rmdir(self.dir)
        os.mkdir(self.dir)
        self._w("buffer_size_kb", str(self.buffer_kb))
        # The default clock, "local", is per CPU and not kept in step
        # across CPUs: one socket's records made on two CPUs (close() on
        # one, the peer's FIN in a softirq on another), or a timewait
        # socket's hand-over and its kill, could come out of the merged
        # trace in the wrong order.  "global" is one clock for all CPUs.
        self._w("trace_clock", "global")
        ev = "events/sock/inet_sock_set_state/"
        self._w(ev + "filter", "protocol == 6")
        self._w(ev + "enable", "1")
        for probe, fetch in zip(self.probes, _TW_PROBES.values()):
            try:
                self._probe_def("-:" + probe)
            except OSError:
                pass
            self._probe_def("p:%s %s" % (probe, fetch))
            self._w("events/%s/enable" % probe, "1")
        self._w("tracing_on", "1")
        return self

    def tw_for(self, conns):
        """The timewait sockets recorded so far, as {(local ep, remote ep):
        (hand-over state, [later steps])} (_tw_fate) for both endpoints of
        each of CONNS; clears them."""
        out = {}
        for c in conns:
            for loc, rem in ((c.client, c.server), (c.server, c.client)):
                k = (":" in loc[0], loc[1], rem[1])
                if k in self.tw:
                    out[(loc, rem)] = _tw_fate(self.tw[k])
        self.tw = {}
        return out

    def take(self):
        with open(os.path.join(self.dir, "trace")) as f:
            text = f.read()
        self._w("trace", "")
        m = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)", text)
        if m and m.group(1) != m.group(2):
            raise RuntimeError("trace ring overwrote records: %s/%s"
                               % (m.group(1), m.group(2)))
        recs, tws = [], []
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            r = parse_trace_line(line)
            if r:
                recs.append(r)
                continue
            m = _PROBE_LINE.search(line)
            if m:
                f = dict(t.split("=", 1) for t in m.group(3).split()
                         if "=" in t)
                d = int(f["dport"])
                key = (int(f["family"]) == 10, int(f["sport"]),
                       ((d & 0xff) << 8) | (d >> 8))
                if "state" in f:
                    ev = ("handover", _TW_STATE.get(int(f["state"]),
                                                    f["state"]))
                elif "rearm" in f:
                    ev = ("rearm", int(f["rearm"]))
                else:
                    ev = ("kill", None)
                tws.append((float(m.group(1)), key, ev))
        for _, key, ev in sorted(tws, key=lambda t: t[0]):
            self.tw.setdefault(key, []).append(ev)
        recs.sort(key=lambda r: r["ts"])
        return recs

    def __exit__(self, *exc):
        try:
            self._w("tracing_on", "0")
            self._w("events/sock/inet_sock_set_state/enable", "0")
            for probe in self.probes:
                self._w("events/%s/enable" % probe, "0")
            os.rmdir(self.dir)
            for probe in self.probes:
                self._probe_def("-:" + probe)
        except OSError:
            pass
        return False


# --------------------------------------------------------------------------
# The comparison.

class Conn:
    """One connection the driver made: CLIENT and SERVER are eps, OBSERVERS
    the netns inodes whose tcpstate view is compared."""

    def __init__(self, scenario, client, server, observers):
        self.scenario, self.client, self.server = scenario, client, server
        self.observers = observers
        self.detail = None


def _kernel_sequences(records):
    """Group records by (local ep, remote ep) after K1, K2; return the
    groups and the K3/K4 pools."""
    seqs, syn_pool, lst_pool = {}, {}, {}
    for r in records:
        if r["old"] == r["new"]:
            continue                                    # K2
        loc, rem = (r["saddr"], r["sport"]), (r["daddr"], r["dport"])
        if r["dport"] == 0:
            if r["old"] == "LISTEN" and r["new"] == "SYN_RCVD":
                k = (r["v6"], r["sport"])               # K4
                lst_pool[k] = lst_pool.get(k, 0) + 1
            continue
        if r["sport"] == 0:
            if r["old"] == "CLOSED" and r["new"] == "SYN_SENT":
                k = (r["v6"], rem)                      # K3
                syn_pool[k] = syn_pool.get(k, 0) + 1
            continue
        seqs.setdefault((loc, rem), []).append(r)
    return seqs, syn_pool, lst_pool


def _map_endpoint(recs, loc, rem, client, pools, tw):
    syn_pool, lst_pool = pools
    v6 = ":" in loc[0]
    seq = [(r["old"], r["new"]) for r in recs]
    if ("SYN_RCVD", "ESTABLISHED") in seq:              # K5
        seq = [t for t in seq if t != ("SYN_RCVD", "CLOSED")]
    if seq and seq[0][0] == "SYN_SENT" and client:      # K3
        k = (v6, rem)
        if syn_pool.get(k, 0) <= 0:
            return None, "no sport-0 CLOSE->SYN_SENT left for %s" % (
                ep_str(rem),)
        syn_pool[k] -= 1
        seq.insert(0, ("CLOSED", "SYN_SENT"))
    if seq and seq[0][0] == "SYN_RCVD" and not client:  # K4
        k = (v6, loc[1])
        if lst_pool.get(k, 0) <= 0:
            return None, "no LISTEN->SYN_RECV left for port %d" % loc[1]
        lst_pool[k] -= 1
        seq.insert(0, ("LISTEN", "SYN_RCVD"))
    if seq and seq[-1][1] == "CLOSED" and \
            seq[-1][0] in ("FIN_WAIT_2", "CLOSING"):    # K6
        sub, later = tw.get((loc, rem), (None, []))
        if sub == "TIME_WAIT":
            seq[-1] = (seq[-1][0], "TIME_WAIT")
            seq += later
        elif sub == "FIN_WAIT_2" and seq[-1][0] == "FIN_WAIT_2":
            seq.pop()
            seq += later
    return seq, None


# K8 and K9: (tcpstate's steps) -> (the kernel's steps) they may stand for
_ONE_SEGMENT = {
    ("FIN_WAIT_1", "TIME_WAIT"): [("FIN_WAIT_1", "FIN_WAIT_2"),
                                  ("FIN_WAIT_2", "TIME_WAIT")],
}
_SIMCLOSE_T = [("ESTABLISHED", "CLOSE_WAIT"), ("CLOSE_WAIT", "CLOSING")]
_SIMCLOSE_K = [("ESTABLISHED", "FIN_WAIT_1"), ("FIN_WAIT_1", "CLOSING")]
# K11: the state close() moves to before its FIN leaves
_CLOSE_STEP = {"ESTABLISHED": "FIN_WAIT_1", "CLOSE_WAIT": "LAST_ACK"}


def _no_socket_pair(evs):
    """K10: (S, ESTABLISHED) by a segment acking A, then (ESTABLISHED,
    CLOSED) by a bare RST with seq A."""
    if len(evs) != 2:
        return False
    a, b = evs
    return a["old"] in ("SYN_SENT", "SYN_RCVD") and \
        a["new"] == "ESTABLISHED" and b["old"] == "ESTABLISHED" and \
        b["new"] == "CLOSED" and b["flags"] == "R" and \
        "." in a["flags"] and int(b["seq"]) == int(a["ack"])


def sequences_agree(kseq, tevents):
    """kseq: mapped kernel [(old, new)]; tevents: tcpstate's events of
    that endpoint (dicts).  True if they agree under K8-K11."""
    i = j = 0
    while i < len(kseq) or j < len(tevents):
        t = (tevents[j]["old"], tevents[j]["new"]) if j < len(tevents) \
            else None
        if i < len(kseq) and t == kseq[i]:
            i, j = i + 1, j + 1
            continue
        if t in _ONE_SEGMENT and kseq[i:i + 2] == _ONE_SEGMENT[t] and \
                "F" in tevents[j]["flags"] and "." in tevents[j]["flags"]:
            i, j = i + 2, j + 1
            continue
        tpair = [(e["old"], e["new"]) for e in tevents[j:j + 2]]
        if tpair == _SIMCLOSE_T and kseq[i:i + 2] == _SIMCLOSE_K:
            i, j = i + 2, j + 2
            continue
        if t and t[1] == "CLOSED" and t[0] in _CLOSE_STEP and \
                "R" in tevents[j]["flags"] and kseq[i:i + 2] == [
                    (t[0], _CLOSE_STEP[t[0]]),
                    (_CLOSE_STEP[t[0]], "CLOSED")]:
            i, j = i + 2, j + 1                         # K11
            continue
        if _no_socket_pair(tevents[j:j + 2]) and \
                kseq[i:i + 1] == [(tpair[0][0], "CLOSED")]:
            i, j = i + 1, j + 2                         # K10
            continue
        return False
    return True


def fmt_seq(seq):
    return " ".join("%s>%s" % (o, n) for o, n in seq) or "(none)"


def fmt_events(evs):
    """tcpstate's events of one endpoint, with what caused each (the
    flags, seq and ack of a segment, or the reason), for a failure."""
    out = []
    for e in evs:
        why = e.get("reason", "segment")
        if why == "segment" and "flags" in e:
            why = "%s seq=%s ack=%s" % (e["flags"], e.get("seq"),
                                        e.get("ack"))
        out.append("%s>%s(%s)" % (e["old"], e["new"], why))
    return " ".join(out) or "(none)"


def group_events(events, netns=None):
    """tcpstate events by (netns, client ep, server ep) -> list; timer
    events left out (K6).  Raises on a lost= line or an eviction."""
    out = {}
    for e in events:
        if "lost" in e:
            raise RuntimeError("event stream lost %s events" % e["lost"])
        if e.get("reason") == "timer":
            continue
        if e.get("reason") in ("evict", "unload"):
            raise RuntimeError("unexpected %s event: %r" % (e["reason"], e))
        ns = int(e["netns"])
        if netns is not None and ns not in netns:
            continue
        k = (ns, ep_parse(e["client"]), ep_parse(e["server"]))
        out.setdefault(k, []).append(e)
    return out


def compare(conns, records, events, tw):
    """Set conn.detail (None = agreed) for each conn; return (agreed,
    disagreed)."""
    seqs, syn_pool, lst_pool = _kernel_sequences(records)
    pools = (syn_pool, lst_pool)
    tev = group_events(events)
    agreed = 0
    for c in conns:
        problems = []
        mapped = {}
        for side, loc, rem in (("client", c.client, c.server),
                               ("server", c.server, c.client)):
            seq, err = _map_endpoint(seqs.get((loc, rem), []), loc, rem,
                                     side == "client", pools, tw)
            if err:
                problems.append("%s: %s" % (side, err))
            mapped[side] = seq or []
        for ns in c.observers:
            evs = tev.get((ns, c.client, c.server), [])
            for side in ("client", "server"):
                mine = [e for e in evs if e["side"] == side]
                if not sequences_agree(mapped[side], mine):
                    loc, rem = (c.client, c.server) if side == "client" \
                        else (c.server, c.client)
                    problems.append(
                        "netns %d %s: kernel %s (timewait %s) | tcpstate %s"
                        % (ns, side, fmt_seq(mapped[side]),
                           tw.get((loc, rem), "none"), fmt_events(mine)))
        c.detail = "; ".join(problems) or None
        agreed += c.detail is None
    return agreed, len(conns) - agreed


# --------------------------------------------------------------------------
# The summary table.

class Table:
    def __init__(self, title):
        self.title, self.rows = title, []

    def add(self, name, n, agreed, disagreed):
        self.rows.append((name, n, agreed, disagreed))

    def failed(self):
        return any(r[3] or r[2] != r[1] for r in self.rows)

    def render(self):
        w = max([len("scenario")] + [len(r[0]) for r in self.rows])
        lines = ["%s (kernel %s)" % (self.title, os.uname().release),
                 "%-*s  %11s  %6s  %9s  %7s" % (w, "scenario", "connections",
                                               "agreed", "disagreed",
                                               "percent")]
        tot = [0, 0, 0]
        for name, n, a, d in self.rows:
            lines.append("%-*s  %11d  %6d  %9d  %6.1f%%" % (
                w, name, n, a, d, 100.0 * a / n if n else 100.0))
            tot = [tot[0] + n, tot[1] + a, tot[2] + d]
        lines.append("%-*s  %11d  %6d  %9d  %6.1f%%" % (
            w, "total", tot[0], tot[1], tot[2],
            100.0 * tot[1] / tot[0] if tot[0] else 100.0))
        return "\n".join(lines)

    def print(self):
        print("\n" + self.render(), flush=True)
        summary = os.environ.get("TCPSTATE_TRUTH_SUMMARY",
                                 "/tmp/tcpstate-truth-summary.txt")
        with open(summary, "a") as f:
            f.write(self.render() + "\n\n")


def settle(pred, timeout=20.0, interval=0.05):
    """Wait until pred() is true (or the timeout passes); return it."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)
