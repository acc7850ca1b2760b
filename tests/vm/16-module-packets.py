#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Hand-made packets (scapy, sent from namespace pa onto the veth, so only
# namespace pb's hooks see them): an IPv6 SYN behind hop-by-hop and
# destination-options headers is parsed like any SYN; IPv4 and IPv6
# fragments, the first ones included, are ignored and counted (nothing
# reassembles them before the hooks: no conntrack); a TCP header longer than its
# datagram is counted as a bad length and changes nothing; a first segment
# with SYN+FIN opens no flow; a SYN whose option list runs past the
# header is counted in invalid_tcp_options and still opens its flow (the
# kernel, too, stops reading its options and takes the segment).
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F401,F403

SEND = r"""
import sys
from scapy.all import (Ether, IP, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, TCP, Raw, fragment, fragment6, sendp)
dst = sys.argv[1]
eth = Ether(dst=dst)
pkts = []
# 1. IPv6 SYN behind two extension headers.
pkts.append(eth / IPv6(src="fd99::1", dst="fd99::2") / IPv6ExtHdrHopByHop() /
            IPv6ExtHdrDestOpt() /
            TCP(sport=1111, dport=2222, flags="S", seq=1000,
                options=[("MSS", 1460), ("WScale", 7)]))
# 2. IPv4 SYN with 3000 bytes of data in three fragments.
syn4 = IP(src="10.99.0.1", dst="10.99.0.2") / TCP(sport=3333, dport=4444,
          flags="S", seq=5000) / Raw(b"x" * 3000)
pkts += [eth / f for f in fragment(syn4, fragsize=1200)]
# 3. IPv6 SYN with 3000 bytes of data in three fragments.
syn6 = IPv6(src="fd99::1", dst="fd99::2") / IPv6ExtHdrFragment() / TCP(
    sport=5555, dport=6666, flags="S", seq=7000) / Raw(b"y" * 3000)
pkts += [eth / f for f in fragment6(syn6, 1280)]
# 4. A TCP header claiming 60 bytes in a datagram with room for 20.
bad = IP(src="10.99.0.1", dst="10.99.0.2") / TCP(sport=7777, dport=8888,
         flags="S", seq=9000, dataofs=15)
bad = IP(bytes(bad)[:40])
pkts.append(eth / bad)
# 5. SYN+FIN: no flow.
pkts.append(eth / IP(src="10.99.0.1", dst="10.99.0.2") /
            TCP(sport=9999, dport=1010, flags="SF", seq=1))
# 6. A SYN whose 8 option bytes hold a window scale, then a timestamp
# option claiming 10 bytes where 5 are left.
pkts.append(eth / IP(src="10.99.0.1", dst="10.99.0.2") /
            TCP(sport=1212, dport=1313, flags="S", seq=11000, dataofs=7) /
            Raw(b"\x03\x03\x05\x08\x0a\x00\x00\x00"))
sendp(pkts, iface="veth-pa", verbose=False)
print(len(pkts))
"""


def ino(ns):
    return str(os.stat("/run/netns/" + ns).st_ino)


with NetnsPair("pa", "pb"), Module(), EventTail() as tail:
    pb = ino("pb")
    mac = run("cat", "/sys/class/net/veth-pb/address", ns="pb").strip()
    st0 = read_stats()
    p = subprocess.run(["ip", "netns", "exec", "pa", "/usr/bin/python3", "-c",
                        SEND, mac], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode:
        fail("scapy sender failed: " + p.stdout)
    info("sent %s frames" % p.stdout.strip().splitlines()[-1])

    # 1: the extension headers were skipped: SYN, then pb's RST/ACK.
    def v6syn():
        return [e for e in tail.poll() if e["netns"] == pb and
                e["client"] == "[fd99::1]:1111"]
    evs = wait_until(lambda: len(v6syn()) >= 2 and v6syn(),
                     what="the IPv6 SYN behind extension headers")
    got = [(e["side"], e["old"], e["new"], e["flags"], e["seq"], e["ack"])
           for e in evs]
    want = [("client", "CLOSED", "SYN_SENT", "S", "1000", "0"),
            ("client", "SYN_SENT", "CLOSED", "R.", "0", "1001")]
    if got != want:
        fail("IPv6 SYN with extension headers: got %r, want %r" % (got, want))

    # 2, 3: every fragment is counted, none taken for a segment.
    def counted():
        st = read_stats()
        return st if st["fragments_ignored"] - st0["fragments_ignored"] >= 6 \
            else None
    st = wait_until(counted, what="6 fragments counted")
    if st["fragments_ignored"] - st0["fragments_ignored"] != 6:
        fail("fragments_ignored grew by %d, want 6"
             % (st["fragments_ignored"] - st0["fragments_ignored"]))
    for client in ("10.99.0.1:3333", "[fd99::1]:5555"):
        syn = [e for e in tail.poll() if e["client"] == client and
               e["new"] == "SYN_SENT"]
        if syn:
            fail("a fragment was taken for a SYN: %r" % syn[0])

    # 4: the bad header length.
    if st["invalid_tcp_length"] - st0["invalid_tcp_length"] != 1:
        fail("invalid_tcp_length grew by %d, want 1"
             % (st["invalid_tcp_length"] - st0["invalid_tcp_length"]))
    # 4, 5: neither opened a flow.
    for port in (":7777", ":9999"):
        if any(r["client"].endswith(port) or r["server"].endswith(port)
               for r in read_table()):
            fail("a flow was made for the segment from port %s" % port[1:])
    if st["segments_without_flow"] <= st0["segments_without_flow"]:
        fail("the SYN+FIN segment was not counted as without flow")
    # 6: counted, and the SYN still opened its flow.
    st = wait_until(lambda: read_stats() if read_stats()["invalid_tcp_options"]
                    > st0["invalid_tcp_options"] else None,
                    what="the bad option list counted")
    if st["invalid_tcp_options"] - st0["invalid_tcp_options"] != 1:
        fail("invalid_tcp_options grew by %d, want 1"
             % (st["invalid_tcp_options"] - st0["invalid_tcp_options"]))
    syn = [e for e in tail.poll() if e["netns"] == pb and
           e["client"] == "10.99.0.1:1212" and e["new"] == "SYN_SENT"]
    if not syn:
        fail("the SYN with a malformed option list opened no flow")
    info("extension headers parsed; 6 fragments, 1 bad length, "
         "1 bad option list counted")
