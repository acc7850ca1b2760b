#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/tcpstate stats --time-wait against real sockets (issue 13, TIME_WAIT
# pressure): clients in one namespace close first to two ports of a server
# in another, 5 and 2 times over IPv4 and 3 times over IPv6, and each
# client end waits in TIME_WAIT.  In the clients' namespace the tool must
# count exactly those, per local address and remote address:port, the
# busiest first, and agree with the kernel's own count of its timewait
# sockets there (ss).
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

TOOL = os.path.join(ROOT, "tools", "tcpstate")
A, B = "wa", "wb"


def tool(*args):
    r = subprocess.run([TOOL, "stats", "--time-wait", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode:
        fail("stats --time-wait %s: exit %d: %s" % (
            " ".join(args), r.returncode, r.stderr))
    return r.stdout


def kernel_time_waits(ns):
    """{(local address, remote address:port): n} from ss in NS."""
    out = {}
    for line in run("ss", "-Htan", "state", "time-wait", ns=ns).splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        local, remote = f[-2], f[-1]
        key = (local.rpartition(":")[0], remote)
        out[key] = out.get(key, 0) + 1
    return out


with NetnsPair(A, B) as net, Module(time_wait_ms=600000):
    a4, b4 = net.addr4[A], net.addr4[B]
    a6, b6 = net.addr6[A], net.addr6[B]
    for port, n, addr in ((7400, 5, b4), (7401, 2, b4), (7402, 3, b6)):
        srv = listen_tcp(addr, port, B)
        for _ in range(n):
            client_first_close(srv, A, b"x")
        srv.close()

    ino = netns_inode(A)
    want = {(a4, "%s:7400" % b4): 5, (a4, "%s:7401" % b4): 2,
            ("[%s]" % a6, "[%s]:7402" % b6): 3}
    kernel = kernel_time_waits(A)
    if kernel != want:
        fail("the kernel's timewait sockets in %s: %r, want %r"
             % (A, kernel, want))

    def mine():
        doc = json.loads(tool("--json"))
        return {(e["local"], e["remote"]): e["count"]
                for e in doc["time_wait"] if e["netns"] == ino}, doc
    got = wait_until(lambda: mine()[0] == want and mine(),
                     what="the TIME_WAIT counts")[1]
    counts = [e["count"] for e in got["time_wait"]]
    if counts != sorted(counts, reverse=True):
        fail("not the busiest first: %r" % counts)
    if got["uncounted"]:
        fail("uncounted endpoints: %r" % got)

    text = tool().splitlines()
    if text[0].split() != ["time_wait", "netns", "local", "remote"]:
        fail("header: %r" % text[0])
    rows = [ln.split() for ln in text[1:] if ln.split()[1] == str(ino)]
    if [(int(r[0]), r[2], r[3]) for r in rows] != \
            [(5, a4, "%s:7400" % b4), (3, "[%s]" % a6, "[%s]:7402" % b6),
             (2, a4, "%s:7401" % b4)]:
        fail("text rows for %s: %r" % (A, rows))
    info("TIME_WAIT per pair in %s: %s (ss agrees)" % (
        A, ", ".join("%s -> %s: %d" % (k[0], k[1], v)
                     for k, v in sorted(want.items()))))
