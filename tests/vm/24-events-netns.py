#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: events of several namespaces in one ring
#
# The namespace rule on /proc/tcpstate_events: a reader sees the events
# of the network namespace it opened the file in; only a reader in the
# initial namespace with CAP_NET_ADMIN sees all of them.  Traffic: a
# connection over a veth pair between namespaces na and nb (seen in both),
# one over loopback inside na and one over loopback in the initial
# namespace.  Readers: root in init_net; root in na; root in nb (who has
# CAP_NET_ADMIN but not in init_net); root in init_net without
# CAP_NET_ADMIN (a separate process whose bounding set lacks it), who may
# not open the file at all (EACCES; see tests/vm/50).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

EVENTS = "/proc/tcpstate_events"
CAP_NET_ADMIN = 12

# The reader without CAP_NET_ADMIN: try to open, say what happened,
# then its effective capability mask.
CHILD = r"""
import os
try:
    os.close(os.open("/proc/tcpstate_events", os.O_RDONLY | os.O_NONBLOCK))
    print("opened")
except OSError as e:
    print("errno=%d" % e.errno)
for line in open("/proc/self/status"):
    if line.startswith("CapEff:"):
        print("capeff=" + line.split()[1])
"""


def read_all(fd):
    return [parse_event(x) for x in read_lines(fd)]


def ended(evs, cport):
    return [e for e in evs if e["client"].endswith(":%d" % cport) and
            e["side"] == "server" and e["new"] == "CLOSED"]


need("setpriv")
init = str(netns_inode())

with Module(time_wait_ms=600000), NetnsPair("na", "nb") as net:
    ino = {ns: str(netns_inode(ns)) for ns in ("na", "nb")}
    ino["init"] = init
    fds = {"all": os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)}
    for ns in ("na", "nb"):
        with netns(ns):
            fds[ns] = os.open(EVENTS, os.O_RDONLY | os.O_NONBLOCK)
    lines = run("setpriv", "--inh-caps=-net_admin",
                "--bounding-set=-net_admin", "/usr/bin/python3", "-c",
                CHILD).splitlines()
    capeff = int(lines[-1].split("=")[1], 16)
    if capeff & (1 << CAP_NET_ADMIN):
        fail("the child still has CAP_NET_ADMIN (CapEff %x)" % capeff)
    if lines[0] != "errno=13":
        fail("root without CAP_NET_ADMIN: %r, want errno=13 (EACCES)"
             % lines[0])

    veth = connect_once(net.addr4["nb"], 7241, "na", "nb")
    lo_na = connect_once("127.0.0.1", 7242, "na", "na")
    lo_init = connect_once("127.0.0.1", 7243)
    wait_until(lambda: (lambda evs: len(ended(evs, veth)) == 2 and
                        ended(evs, lo_na) and ended(evs, lo_init))(
                            read_events()),
               15, what="the three connections' last events")

    got = {name: read_all(fd) for name, fd in fds.items()}
    # The initial namespace's own events, as the privileged reader has them.
    got["init"] = [e for e in got["all"] if e["netns"] == init]

    def flows(evs):
        return {(e["netns"], e["client"]) for e in evs}

    for name in ("init", "na", "nb"):
        if not got[name]:
            fail("the reader in %s saw nothing" % name)
        other = [e for e in got[name] if e["netns"] != ino[name]]
        if other:
            fail("the reader in %s (netns %s) saw %d foreign events: %r"
                 % (name, ino[name], len(other), other[0]))
    want = {
        "init": {(init, "127.0.0.1:%d" % lo_init)},
        "na": {(ino["na"], "%s:%d" % (net.addr4["na"], veth)),
               (ino["na"], "127.0.0.1:%d" % lo_na)},
        "nb": {(ino["nb"], "%s:%d" % (net.addr4["na"], veth))},
    }
    for name, flowset in want.items():
        if flows(got[name]) != flowset:
            fail("the reader in %s saw flows %r, want %r"
                 % (name, flows(got[name]), flowset))
    # The privileged reader sees everything: exactly the union, in order.
    union = sorted(got["init"] + got["na"] + got["nb"],
                   key=lambda e: int(e["id"]))
    if got["all"] != union:
        fail("the init_net CAP_NET_ADMIN reader's %d events are not the "
             "union of the three namespaces' %d" % (len(got["all"]),
                                                    len(union)))
    ids = [int(e["id"]) for e in got["all"]]
    if ids != list(range(1, len(ids) + 1)):
        fail("the privileged reader's ids have holes: %r" % ids)
    info("init %d, na %d, nb %d events; privileged reader %d"
         % (len(got["init"]), len(got["na"]), len(got["nb"]),
            len(got["all"])))
    for fd in fds.values():
        os.close(fd)
