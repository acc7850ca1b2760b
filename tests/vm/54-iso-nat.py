#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# NAT (issue 10, item 5): a connection through a NAT router is one flow
# in the router's namespace, seen with one tuple in both directions, its
# ends' final states right, and never a pickup.  Client nc, router nr
# (forwarding, nftables), server ns; for each of masquerade, SNAT, DNAT
# and REDIRECT (to a listener in the router itself), in IPv4 and IPv6,
# the client connects, sends, and closes first: the router's flow must
# end with the client in TIME_WAIT and the server CLOSED.
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

A4 = {"c": "10.71.1.2", "r1": "10.71.1.1", "r2": "10.71.2.1",
      "s": "10.71.2.2"}
A6 = {"c": "fd71:1::2", "r1": "fd71:1::1", "r2": "fd71:2::1",
      "s": "fd71:2::2"}

RULES = {
    "masquerade": "chain post { type nat hook postrouting priority 100; "
                  "oifname \"r-s\" masquerade; }",
    "snat": "chain post { type nat hook postrouting priority 100; "
            "oifname \"r-s\" ip saddr 10.71.1.2 snat ip to 10.71.2.1; "
            "oifname \"r-s\" ip6 saddr fd71:1::2 snat ip6 to fd71:2::1; }",
    "dnat": "chain pre { type nat hook prerouting priority -100; "
            "tcp dport 8080 ip daddr 10.71.1.1 dnat ip to 10.71.2.2:80; "
            "tcp dport 8080 ip6 daddr fd71:1::1 dnat ip6 to [fd71:2::2]:80; }",
    "redirect": "chain pre { type nat hook prerouting priority -100; "
                "tcp dport 8081 redirect to :80; }",
}


def setup():
    for ns in ("nc", "nr", "ns"):
        run("ip", "netns", "add", ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
    run("ip", "link", "add", "c-r", "netns", "nc", "type", "veth", "peer",
        "name", "r-c", "netns", "nr")
    run("ip", "link", "add", "r-s", "netns", "nr", "type", "veth", "peer",
        "name", "s-r", "netns", "ns")
    for ns, dev, key, plen4, plen6 in (
            ("nc", "c-r", "c", 24, 64), ("nr", "r-c", "r1", 24, 64),
            ("nr", "r-s", "r2", 24, 64), ("ns", "s-r", "s", 24, 64)):
        run("ip", "-n", ns, "addr", "add", "%s/%d" % (A4[key], plen4),
            "dev", dev)
        run("ip", "-n", ns, "addr", "add", "%s/%d" % (A6[key], plen6),
            "dev", dev, "nodad")
        run("ip", "-n", ns, "link", "set", dev, "up")
    run("ip", "-n", "nc", "route", "add", "default", "via", A4["r1"])
    run("ip", "-n", "nc", "-6", "route", "add", "default", "via", A6["r1"])
    run("ip", "-n", "ns", "route", "add", "default", "via", A4["r2"])
    run("ip", "-n", "ns", "-6", "route", "add", "default", "via", A6["r2"])
    run("sysctl", "-qw", "net.ipv4.ip_forward=1", ns="nr")
    run("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns="nr")


def connection(fam, dst, port, srv, cport):
    """Client in nc to DST:PORT, accepted on SRV: data, client closes."""
    cli = tcp_socket("nc", fam)
    cli.settimeout(10)
    cli.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", cport))
    cli.connect((dst, port))
    conn, _ = srv.accept()
    conn.settimeout(10)
    cli.sendall(b"hello")
    if conn.recv(5) != b"hello":
        fail("the server did not get the data")
    cli.close()
    if conn.recv(16) != b"":
        fail("the server did not see the FIN")
    conn.close()


need("nft")
with Module(time_wait_ms=600000):
    try:
        setup()
        router = str(netns_inode("nr"))
        cport = 41000
        results = []
        for case, rule in RULES.items():
            with tempfile.NamedTemporaryFile("w", suffix=".nft") as f:
                f.write("flush ruleset\ntable inet t {\n%s\n}\n"
                        % rule.replace("; ", ";\n"))
                f.flush()
                run("nft", "-f", f.name, ns="nr")
            for fam, A in ((socket.AF_INET, A4), (socket.AF_INET6, A6)):
                cport += 1
                if case == "redirect":
                    srv = listen_tcp(A["r1"], 80, "nr")
                    dst, port = A["s"], 8081
                else:
                    srv = listen_tcp(A["s"], 80, "ns")
                    dst, port = (A["r1"], 8080) if case == "dnat" else \
                        (A["s"], 80)
                connection(fam, dst, port, srv, cport)
                srv.close()

                def rows():
                    return [r for r in read_table()
                            if r["netns"] == router and
                            (r["client"].endswith(":%d" % cport) or
                             r["server"].endswith(":%d" % cport))]

                def settled():
                    rs = rows()
                    return rs if (len(rs) == 1 and
                                  rs[0]["client_state"] == "TIME_WAIT" and
                                  rs[0]["server_state"] == "CLOSED") \
                        else None
                try:
                    wait_until(settled, 5)
                except TestFailure:
                    fail("%s %s: the router's flows for client port %d: "
                         "%r, want one, TIME_WAIT/CLOSED"
                         % (case, "v6" if fam == socket.AF_INET6 else "v4",
                            cport, rows()))
                r = rows()[0]
                if "pickup" in r["flags"]:
                    fail("%s: the router's flow is a pickup: %r" % (case, r))
                results.append("%s/%s %s->%s %s"
                               % (case, "v6" if fam == socket.AF_INET6
                                  else "v4", r["client"], r["server"],
                                  r["history"]))
        for x in results:
            info(x)
    finally:
        for ns in ("nc", "nr", "ns"):
            run("ip", "netns", "del", ns, check=False)
