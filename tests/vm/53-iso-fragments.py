#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# IPv4 fragments that nothing reassembled are skipped, the first one too
# (issue 10, item 4).  A Fast Open SYN with 1000 bytes of data is sent
# (scapy, from namespace fa) in two fragments to a Fast Open server in
# fb; no conntrack, so the hooks see the fragments, not the datagram.
# The first fragment (offset 0, MF set) holds the TCP header: taken for a
# whole segment, its SYN would claim 480 bytes, and the server's SYN/ACK,
# acknowledging all 1000, would be an invalid ACK.  Both fragments must be
# counted in fragments_ignored, and no ACK found invalid.
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

from scapy.all import IP, TCP, Ether, fragment, sendp  # noqa: E402

PORT = 7531
TCP_FASTOPEN = 23

with Module(), NetnsPair("ga", "gb") as net:
    # Fast Open server in gb that needs no cookie.
    run("sysctl", "-qw", "net.ipv4.tcp_fastopen=515", ns="gb")
    srv = listen_tcp(net.addr4["gb"], PORT, "gb")
    srv.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
    mac = {ns: run("cat", "/sys/class/net/veth-%s/address" % ns, ns=ns)
           .strip() for ns in ("ga", "gb")}
    st0 = read_stats()
    syn = (IP(src=net.addr4["ga"], dst=net.addr4["gb"]) /
           TCP(sport=40000, dport=PORT, flags="S", seq=1000,
               options=[("TFO", b"")]) / (b"d" * 1000))
    frags = fragment(syn, fragsize=512)
    if len(frags) != 2 or not frags[0].flags.MF or frags[0].frag != 0:
        fail("scapy did not make a first fragment and a last one: %r"
             % frags)
    with netns("ga"):
        sendp([Ether(dst=mac["gb"], src=mac["ga"]) / f for f in frags],
              iface="veth-ga", verbose=False)
    # The server got the whole SYN and acknowledged its data.
    conn, _ = srv.accept()
    conn.settimeout(5)
    got = conn.recv(2000)
    if len(got) != 1000:
        fail("the server got %d bytes of the SYN's 1000" % len(got))
    wait_until(lambda: read_stats()["segments_ipv4"] >
               st0["segments_ipv4"], 5, what="the SYN/ACK to be seen")
    st = read_stats()
    d = {k: st[k] - st0[k] for k in ("fragments_ignored", "invalid_ack",
                                     "segments_ipv4")}
    info("after the fragmented SYN: %r" % d)
    if d["fragments_ignored"] < 2:
        fail("%d fragments ignored, want both" % d["fragments_ignored"])
    if d["invalid_ack"]:
        fail("%d invalid ACKs: a fragment was taken for the whole SYN"
             % d["invalid_ack"])
    conn.close()
    srv.close()
