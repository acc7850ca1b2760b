#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Who may read the three files (issue 10, item 1): CAP_NET_ADMIN in the
# user namespace that owns the reader's network namespace, checked at
# open.  uid 65534 is refused all three (EACCES), and tools/tcpstate says
# "Permission denied" with status 3; so is root without CAP_NET_ADMIN.
# Root in a network namespace of its own may open them and sees that
# namespace only: its loopback connection, not the one made in the
# initial namespace, and no host-wide counters.
#
# Not covered here: root of a new user namespace (its namespaces owned
# by that user namespace).  The suite runs in a chroot, where the kernel
# refuses CLONE_NEWUSER even to root; the rule is the same function.
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

FILES = ["/proc/tcpstate", "/proc/tcpstate_events", "/proc/tcpstate_stats"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# Try to open each file; print {path: errno or 0}.
TRY_OPEN = r"""
import json, os
out = {}
for p in %r:
    try:
        os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK))
        out[p] = 0
    except OSError as e:
        out[p] = e.errno
print(json.dumps(out))
""" % FILES

need("setpriv")
tool = os.path.join(ROOT, "tools", "tcpstate")
if not os.access(tool, os.X_OK):
    fail("tools/tcpstate not built")

with Module(time_wait_ms=600000):
    init_port = connect_once("127.0.0.1", 7501)

    # 1. uid 65534 in the initial namespaces: refused everywhere.
    got = json.loads(run(*NOBODY, "/usr/bin/python3", "-c", TRY_OPEN))
    info("uid 65534 open errnos: %r" % got)
    for p in FILES:
        if got[p] not in (1, 13):     # EPERM, EACCES
            fail("uid 65534 opened %s (errno %r)" % (p, got[p]))

    # ... and the reader tool says so, with status 3.
    tmp = tempfile.mkdtemp()
    try:
        os.chmod(tmp, 0o755)
        shutil.copy(tool, tmp)
        p = subprocess.run(NOBODY + [os.path.join(tmp, "tcpstate"), "list"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    finally:
        shutil.rmtree(tmp)
    info("tcpstate list as uid 65534: status %d, %r"
         % (p.returncode, p.stderr.strip()))
    if p.returncode != 3 or "Permission denied" not in p.stderr:
        fail("tcpstate list as uid 65534: status %d, stderr %r, want 3 "
             "and Permission denied" % (p.returncode, p.stderr))

    # 2. Root without CAP_NET_ADMIN: refused too.
    got = json.loads(run("setpriv", "--inh-caps=-net_admin",
                         "--bounding-set=-net_admin", "/usr/bin/python3",
                         "-c", TRY_OPEN))
    info("root without CAP_NET_ADMIN, open errnos: %r" % got)
    for p in FILES:
        if got[p] not in (1, 13):
            fail("root without CAP_NET_ADMIN opened %s" % p)

    # 3. Root in a network namespace of its own sees only that one.
    run("ip", "netns", "add", "ua")
    try:
        run("ip", "-n", "ua", "link", "set", "lo", "up")
        ino = str(netns_inode("ua"))
        connect_once("127.0.0.1", 7502, "ua", "ua")
        with netns("ua"):
            fd = os.open("/proc/tcpstate_events", os.O_RDONLY | os.O_NONBLOCK)
            rows = read_table()
            stats = read_stats()
        evs = [parse_event(x) for x in read_lines(fd)]
        os.close(fd)
    finally:
        run("ip", "netns", "del", "ua")
    info("root in ua: %d events, %d rows, netns %s"
         % (len(evs), len(rows), ino))
    if not evs or not rows:
        fail("root in ua saw nothing of its own connection")
    for e in evs:
        if e["netns"] != ino or not e["server"].endswith(":7502"):
            fail("root in ua saw a foreign event: %r" % e)
    for r in rows:
        if r["netns"] != ino or not r["server"].endswith(":7502"):
            fail("root in ua saw a foreign flow: %r" % r)
    if stats.get("flows_active") != 1:
        fail("root in ua: flows_active %r, want its own 1"
             % stats.get("flows_active"))
    if "segments_ipv4" in stats:
        fail("root in ua got the host-wide counters")
    if stats.get("version") != os.environ["TCPSTATE_VERSION"]:
        fail("root in ua: version %r, want %r (it is no secret)"
             % (stats.get("version"), os.environ["TCPSTATE_VERSION"]))
    # The initial namespace's admin still sees both connections.
    mine = [r for r in read_table() if r["server"].endswith(":7501")]
    if len(mine) != 1 or "segments_ipv4" not in read_stats():
        fail("the init_net admin does not see its flow and counters: %r"
             % mine)
    if init_port <= 0:
        fail("no loopback connection in the initial namespace")
