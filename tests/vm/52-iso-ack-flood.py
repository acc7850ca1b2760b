#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# race: a flood filling the table while the GC and eviction run
#
# An ACK spray must not keep real connections out (issue 10, item 3).
# max_flows=4096; namespace a sends 50,000 bare ACKs with spoofed sources
# over the veth pair to an address nobody answers for (10.99.0.77: b sees
# them in PRE_ROUTING and drops them, as a host behind a firewall would).
# Each is a pickup heard from one side only.  Then a real connection
# from a to b must be tracked (ESTABLISHED at both ends, not a pickup),
# and must survive a second spray, which evicts junk only; the junk must
# idle out after timeout_syn (lowered to 2 s at the end) rather than
# timeout_established (5 days).
#
# The frames are built once with scapy (its checksum checks ours) and
# sent from a packet socket: scapy's own send loop is too slow under TCG.
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

from scapy.all import IP, TCP, Ether, raw  # noqa: E402

JUNK = 50000
MAX_FLOWS = 4096
PORT = 7521


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ack_frame(eth, src, dst, sport, dport, seq, ack):
    """Ethernet + IPv4 + bare ACK, checksums right."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10,
                      502, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return eth + ip + tcp


def spray(sock, eth, n, base):
    dst = socket.inet_aton("10.99.0.77")
    rnd = random.Random(base)
    t0 = time.monotonic()
    for i in range(n):
        j = base + i
        src = bytes([172, 16 + (j >> 16 & 15), j >> 8 & 255, j & 255])
        sock.send(ack_frame(eth, src, dst, 1024 + rnd.randrange(60000), 80,
                            rnd.getrandbits(32), rnd.getrandbits(32)))
    return time.monotonic() - t0


def stat(name):
    return read_stats()[name]


with Module(max_flows=MAX_FLOWS), \
        NetnsPair("fa", "fb") as net:
    mac = {ns: run("cat", "/sys/class/net/veth-%s/address" % ns, ns=ns)
           .strip() for ns in ("fa", "fb")}
    eth = (bytes.fromhex(mac["fb"].replace(":", "")) +
           bytes.fromhex(mac["fa"].replace(":", "")) + b"\x08\x00")
    # Our frame builder agrees with scapy's.
    ours = ack_frame(eth, socket.inet_aton("172.16.0.1"),
                     socket.inet_aton("10.99.0.77"), 4000, 80, 1, 2)
    theirs = raw(Ether(dst=mac["fb"], src=mac["fa"]) /
                 IP(src="172.16.0.1", dst="10.99.0.77", flags="DF", id=0) /
                 TCP(sport=4000, dport=80, seq=1, ack=2, flags="A",
                     window=502))
    if ours != theirs:
        fail("the frame builder disagrees with scapy:\n%s\n%s"
             % (ours.hex(), theirs.hex()))
    with netns("fa"):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind(("veth-fa", 0))

    secs = spray(sock, eth, JUNK, 0)
    wait_until(lambda: stat("pickups") >= MAX_FLOWS, 20,
               what="the spray to fill the table")
    st = read_stats()
    info("spray: %d ACKs in %.1fs; flows_active %d of %d, pickups %d, "
         "flows_evicted %d, flows_not_placed %d"
         % (JUNK, secs, st["flows_active"], st["flows_max"], st["pickups"],
            st["flows_evicted"], st["flows_not_placed"]))
    if st["flows_active"] < MAX_FLOWS * 9 // 10:
        fail("the spray did not fill the table: %d flows"
             % st["flows_active"])

    # A real connection, kept open.
    srv = listen_tcp(net.addr4["fb"], PORT, "fb")
    cli = net.socket("fa")
    cli.settimeout(10)
    cli.connect((net.addr4["fb"], PORT))
    conn, _ = srv.accept()
    cli.sendall(b"x")
    conn.recv(1)

    def real():
        rows = [r for r in read_table()
                if r["server"] == "%s:%d" % (net.addr4["fb"], PORT)]
        return rows

    rows = wait_until(lambda: real(), 5, what="the real connection's flow")
    info("real connection after the spray: %r" % rows)
    for r in rows:
        if r["client_state"] != "ESTABLISHED" or \
                r["server_state"] != "ESTABLISHED" or "pickup" in r["flags"]:
            fail("the real connection is tracked wrong: %r" % r)
    if len(rows) != 2:
        fail("the real connection has %d flows, want one per namespace"
             % len(rows))

    # A second spray evicts junk, never the established connection.
    ev0 = stat("flows_evicted")
    secs = spray(sock, eth, JUNK // 5, JUNK)
    wait_until(lambda: stat("flows_evicted") >= ev0 + JUNK // 5 * 9 // 10,
               20, what="the second spray's evictions")
    if len(real()) != 2:
        fail("the second spray evicted the real connection: %r" % real())
    st = read_stats()
    info("second spray: %d ACKs in %.1fs; flows_evicted %d, "
         "flows_not_placed %d; the real connection is still tracked"
         % (JUNK // 5, secs, st["flows_evicted"], st["flows_not_placed"]))

    # The junk idles out after timeout_syn; the real flow stays.
    with open("/sys/module/tcpstate/parameters/timeout_syn", "w") as f:
        f.write("2")
    wait_until(lambda: read_stats()["flows_active"] <= 4, 60,
               what="the one-way pickups to idle out")
    if len(real()) != 2:
        fail("the real connection idled out with the junk")
    info("after the idle timeout: flows_active %d, flows_expired %d"
         % (stat("flows_active"), stat("flows_expired")))
    cli.close()
    conn.close()
    srv.close()
    sock.close()
