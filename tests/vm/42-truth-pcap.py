#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Truth, part 3: real captures through the core and through the module.

For every capture tests/pcap/expect.txt covers (Zeek's and suricata-verify's
own test captures in ${TCPSTATE_SHARED:-<repo>/../shared}/pcaps, never
copied into the repository):
  - tools/tcpstate-pcap runs the core over the file;
  - tcpreplay sends it, at top speed, from namespace "pr" over a veth pair
    into namespace "pm", where the module sees it at PRE_ROUTING (the
    capture's addresses are not local there, so nothing answers and
    nothing is forwarded; the frames are rewritten byte for byte to the
    receiving veth's MAC address and without VLAN tags, or the stack would
    drop them as for another host before the hook; tcpreplay is pinned to
    one CPU so that the two CPUs' backlogs cannot reorder the frames);
and the two must give the same events, flow by flow and in order (id, ts
and netns aside).  Both run with 2MSL = 600 s so that no TIME_WAIT timer
fires during a replay that takes a second for what took the capture
minutes: the timers run on capture time in the core's tool and on the
clock in the module, so timer events are compared only when both have them.
Then the module's own events and table are checked against the capture's
block in expect.txt (the upstream result, mapped) with tests/pcap/run's own
checker; blocks with tool options (--flush, --verify-checksum, another
2MSL), timer expectations or --stats counters are the tool's and are left
to tests/pcap/run.  Skips only when the shared directory is absent.
"""
import importlib.machinery
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "truth"))
from lib import NetnsPair, Module, EventTail, run, fail, info, ROOT  # noqa
import truth  # noqa: E402

SHARED = os.environ.get("TCPSTATE_SHARED", os.path.join(ROOT, "..", "shared"))
PCAPS = os.path.join(SHARED, "pcaps")
TOOL = os.path.join(ROOT, "tools", "tcpstate-pcap")
TW_MS = 600000
KEYS = ("family", "client", "server", "side", "old", "new", "flags", "seq",
        "ack", "reason")

pcaprun = importlib.machinery.SourceFileLoader(
    "pcaprun", os.path.join(ROOT, "tests", "pcap", "run")).load_module()


def by_flow(events):
    out = {}
    for e in events:
        if e.get("reason") == "timer":
            continue
        out.setdefault((e["client"], e["server"]), []).append(
            tuple(e.get(k) for k in KEYS))
    return out


def tool_events(path, verify=True):
    # --verify-checksum: the module, as the receiver would, takes no
    # segment with a bad checksum (captures taken before checksum offload
    # have them).
    argv = [TOOL, "--events-only", "--time-wait-ms", str(TW_MS), path]
    if verify:
        argv.insert(1, "--verify-checksum")
    p = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if p.returncode:
        fail("%s: tcpstate-pcap exited %d" % (path, p.returncode))
    return [dict(w.split("=", 1) for w in line.split())
            for line in p.stdout.splitlines() if line.startswith("id=")]


def ether_rewrite(path, dmac, out):
    """Copy the Ethernet frames of PATH to OUT (pcap) byte for byte, but
    for the destination MAC (set to DMAC, or the stack drops them as for
    another host before the hook) and 802.1Q/802.1ad tags (removed).  Not
    tcprewrite: it rewrites the IP length of a frame with Ethernet padding
    to cover the padding, which turns a pure ACK into 6 bytes of data."""
    from scapy.utils import RawPcapReader, RawPcapNgReader
    with open(path, "rb") as fh:
        ng = fh.read(4) == b"\x0a\x0d\x0d\x0a"
    reader = (RawPcapNgReader if ng else RawPcapReader)(path)
    if not ng and reader.linktype != 1:
        fail("%s: link type %d, not Ethernet" % (path, reader.linktype))
    mac = bytes.fromhex(dmac.replace(":", ""))
    with open(out, "wb") as w:
        w.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, (data, _meta) in enumerate(reader):
            f = bytearray(data)
            while len(f) >= 18 and bytes(f[12:14]) in (b"\x81\x00",
                                                        b"\x88\xa8"):
                del f[12:16]
            f[0:6] = mac
            w.write(struct.pack("<IIII", i // 1000000, i % 1000000,
                                len(f), len(f)))
            w.write(f)
    reader.close()


def module_replay(path, dmac, tmp, inode):
    """Replay PATH into pm with the module loaded; return (events lines,
    table text) of pm's namespace."""
    fixed = os.path.join(tmp, "replay.pcap")
    ether_rewrite(path, dmac, fixed)
    with Module(ring_size=262144, time_wait_ms=TW_MS), EventTail() as tail:
        run("tcpreplay", "-q", "-t", "-i", "veth-pr", fixed, ns="pr")
        # the veth's backlog drains asynchronously: wait until quiet
        last, still = -1, 0
        while still < 5:
            n = len(tail.poll())
            still = still + 1 if n == last else 0
            last = n
            time.sleep(0.05)
        table = run("cat", "/proc/tcpstate")
        events = [e for e in tail.events if "lost" in e or
                  int(e.get("netns", -1)) == inode]
        if any("lost" in e for e in events):
            fail("%s: events lost" % path)
    lines = table.splitlines()
    rows = [ln for ln in lines[1:] if ln.split() and
            int(ln.split()[0]) == inode]
    return events, "\n".join(lines[:1] + rows)


def checkable(block):
    """Can the module's output be held to this expect.txt block?"""
    if block.args:
        return False
    for _, kw, words, _ in block.directives:
        if kw == "stat" or any("timer" in w for w in words):
            return False
    return True


def main():
    # veth hands each frame to the backlog of the sending CPU: tcpreplay
    # must stay on one CPU or two backlogs could reorder the capture.
    os.sched_setaffinity(0, {0})
    if not os.path.isdir(PCAPS):
        info("SKIP: %s absent: real captures not checked" % PCAPS)
        return
    for t in ("tcpreplay",):
        if not subprocess.run(["which", t], stdout=subprocess.DEVNULL
                              ).returncode == 0:
            fail("required tool %s not found" % t)
    blocks = pcaprun.parse_expect(os.path.join(ROOT, "tests", "pcap",
                                               "expect.txt"))
    table = truth.Table("truth: real captures, core (tcpstate-pcap) vs "
                        "module (tcpreplay) vs expect.txt")
    problems = []
    seen = set()
    with NetnsPair("pr", "pm", v4="10.97.0", v6="fd97:"), \
            tempfile.TemporaryDirectory() as tmp:
        inode = truth.netns_inode("pm")
        dmac = run("ip", "-n", "pm", "-br", "link", "show", "veth-pm"
                   ).split()[2]
        for b in blocks:
            path = os.path.join(PCAPS, b.path)
            if b.path in seen:
                continue
            seen.add(b.path)
            if not os.path.exists(path):
                fail("capture missing: " + path)
            core = by_flow(tool_events(path))
            mevents, mtable = module_replay(path, dmac, tmp, inode)
            mod = by_flow(mevents)
            agreed = disagreed = 0
            for flow in sorted(set(core) | set(mod)):
                if core.get(flow) == mod.get(flow):
                    agreed += 1
                else:
                    disagreed += 1
                    problems.append("%s flow %s %s:\n    core   %s\n    "
                                    "module %s" % (
                                        b.path, flow[0], flow[1],
                                        core.get(flow), mod.get(flow)))
            expect = "-"
            # expect.txt's plain blocks describe the capture with its
            # checksums unverified; where verifying them changes the
            # events, the module (which verifies) is held to the core only.
            if by_flow(tool_events(path, verify=False)) != core:
                expect = "n/a: bad checksums"
            for blk in blocks:
                if (blk.path != b.path or not checkable(blk) or
                        expect != "-"):
                    continue
                out = "\n".join(" ".join("%s=%s" % kv for kv in e.items())
                                for e in mevents) + "\n" + mtable + "\n"
                errs = pcaprun.check(blk, out, "")
                expect = "ok" if not errs else "FAILED"
                if errs:
                    disagreed += 1
                    problems.append("%s: module vs expect.txt:%d: %s" % (
                        b.path, blk.lineno, "; ".join(errs)))
            name = "%s (expect %s)" % (b.path, expect)
            table.add(name, agreed + disagreed, agreed, disagreed)
            info("%s: %d flows agree, %d disagree, expect.txt %s" % (
                b.path, agreed, disagreed, expect))
    for p in problems:
        info(p)
    table.print()
    if table.failed():
        fail("core and module disagree on real captures")


main()
