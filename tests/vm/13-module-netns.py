#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a namespace's flush at its exit against its last packets
#
# Network namespaces: flows are kept per namespace; a reader of
# /proc/tcpstate (and of the event stream) in another namespace sees only
# that namespace's flows, an unprivileged reader in the initial namespace
# nothing (Permission denied), root there all of them.  A namespace
# created after the module loaded is watched too, and when a namespace
# goes, its flows go with it, each endpoint still open reported closing
# with reason=evict.
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

INIT = str(os.stat("/proc/1/ns/net").st_ino)
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
          "--inh-caps=-all"]


# Everything buffered in the event stream, for a reader in another netns.
READ_EVENTS = """
import os, sys
fd = os.open("/proc/tcpstate_events", os.O_RDONLY | os.O_NONBLOCK)
while True:
    try:
        b = os.read(fd, 65536)
    except BlockingIOError:
        break
    if not b:
        break
    sys.stdout.write(b.decode())
"""


def ino(ns):
    return str(os.stat("/run/netns/" + ns).st_ino)


def talk(mk_cli, mk_srv, addr, port, close=True):
    srv = mk_srv()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1)
    cli = mk_cli()
    cli.connect((addr, port))
    acc, _ = srv.accept()
    srv.close()
    cli.sendall(b"x")
    acc.recv(1)
    if close:
        cli.close()
        acc.close()
        return None
    return cli, acc


def table_netns(text):
    rows = text.splitlines()[1:]
    return sorted(set(r.split()[0] for r in rows if r.strip()))


def events_netns(text):
    return sorted(set(parse_event(l)["netns"] for l in text.splitlines()
                      if l.strip() and "lost=" not in l))


need("setpriv")
run("ip", "link", "set", "lo", "up")
with Module(time_wait_ms=60000, linger_ms=600000):
    # Namespaces made after the load: pernet init must hook them.
    with NetnsPair("na", "nb") as net:
        na, nb = ino("na"), ino("nb")
        talk(lambda: net.socket("na"), lambda: net.socket("nb"),
             net.addr4["nb"], 7100)
        # One flow left established in nb's view, for the teardown below.
        kept = talk(lambda: net.socket("na"), lambda: net.socket("nb"),
                    net.addr4["nb"], 7101, close=False)
        talk(socket.socket, socket.socket, "127.0.0.1", 7102)

        everything = table_netns(run("cat", "/proc/tcpstate"))
        if everything != sorted([INIT, na, nb]):
            fail("root in the initial namespace sees namespaces %r, want %r"
                 % (everything, sorted([INIT, na, nb])))
        for ns, want in (("na", na), ("nb", nb)):
            got = table_netns(run("cat", "/proc/tcpstate", ns=ns))
            if got != [want]:
                fail("root in %s sees namespaces %r of /proc/tcpstate, want [%s]"
                     % (ns, got, want))
            got = events_netns(run(sys.executable, "-c", READ_EVENTS, ns=ns))
            if got != [want]:
                fail("root in %s sees namespaces %r of the events, want [%s]"
                     % (ns, got, want))
        out = run(*NOBODY, "cat", "/proc/tcpstate", check=False)
        if "Permission denied" not in out:
            fail("an unprivileged reader in the initial namespace got %r, "
                 "want Permission denied" % out[:200])
        info("namespace rule holds: root/init %d namespaces, na and nb "
             "their own, nobody none" % len(everything))

        # Tear the namespaces down: the last flow's client is left in
        # TIME_WAIT (time_wait_ms is a minute), not yet CLOSED.
        flushed0 = read_stats()["flows_flushed"]
        kept[0].close()
        kept[1].close()
    # NetnsPair deleted them; the kernel frees them asynchronously.

    def gone():
        left = table_netns(run("cat", "/proc/tcpstate"))
        return na not in left and nb not in left
    wait_until(gone, timeout=60, what="flows of deleted namespaces to go")
    st = read_stats()
    if st["flows_flushed"] - flushed0 < 3:
        fail("flows_flushed grew by %d, want >= 3 (2 flows in nb, 1+ in na)"
             % (st["flows_flushed"] - flushed0))
    evs = read_events()
    ev = [e for e in evs if e.get("reason") == "evict" and
          e.get("netns") in (na, nb)]
    if not ev:
        fail("no reason=evict transition for the flows of deleted namespaces")
    for e in ev:
        if e["new"] != "CLOSED" or e["old"] == "CLOSED":
            fail("bad teardown transition %r" % e)
    info("teardown: %d flows flushed, %d evict transitions"
         % (st["flows_flushed"] - flushed0, len(ev)))
    left = table_netns(run("cat", "/proc/tcpstate"))
    if left != [INIT]:
        fail("after teardown the table lists namespaces %r" % left)
