#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# A segment with a bad checksum moves no state (issue 10, item 6).  A
# connection from ha to hb, ESTABLISHED; then (scapy, a packet socket in
# ha) an in-window RST from the client with a bad TCP checksum: hb's
# kernel drops it, and hb's flow must stay ESTABLISHED, the segment
# counted in invalid_checksum.  The same RST with its checksum right
# resets the connection, and the flow shows it.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

from scapy.all import IP, TCP, Ether, sendp  # noqa: E402

PORT = 7551

with Module(time_wait_ms=600000), NetnsPair("ha", "hb") as net:
    ino = str(netns_inode("hb"))
    with EventTail() as ev:
        srv = listen_tcp(net.addr4["hb"], PORT, "hb")
        cli = net.socket("ha")
        cli.settimeout(5)
        cli.connect((net.addr4["hb"], PORT))
        conn, _ = srv.accept()
        cport = cli.getsockname()[1]
        # The client's ESTABLISHED in hb: caused by the SYN/ACK, whose
        # ack is the client's next sequence number.
        est = ev.wait_for(lambda e: e["netns"] == ino and
                          e["side"] == "client" and
                          e["new"] == "ESTABLISHED")[0]
    nxt = int(est["ack"])
    mac = {ns: run("cat", "/sys/class/net/veth-%s/address" % ns, ns=ns)
           .strip() for ns in ("ha", "hb")}

    def rst(chksum):
        p = (Ether(dst=mac["hb"], src=mac["ha"]) /
             IP(src=net.addr4["ha"], dst=net.addr4["hb"]) /
             TCP(sport=cport, dport=PORT, flags="R", seq=nxt))
        if chksum is not None:
            p[TCP].chksum = chksum
        with netns("ha"):
            sendp(p, iface="veth-ha", verbose=False)

    def row():
        rows = [r for r in read_table() if r["netns"] == ino and
                r["server"].endswith(":%d" % PORT)]
        if len(rows) != 1:
            fail("hb has %d flows for the connection" % len(rows))
        return rows[0]

    bad0 = read_stats().get("invalid_checksum", 0)
    rst(0xbad)
    # A byte from the client, behind the RST on the same veth: once the
    # server has it, hb has been through the RST.  hb's kernel dropped
    # the RST: the connection still carries data both ways.
    cli.sendall(b"y")
    if conn.recv(1) != b"y":
        fail("the connection did not survive the bad RST")
    conn.send(b"x")
    if cli.recv(1) != b"x":
        fail("the connection did not survive the bad RST")
    time.sleep(0.2)
    r = row()
    info("after the RST with a bad checksum: %s/%s"
         % (r["client_state"], r["server_state"]))
    if r["server_state"] != "ESTABLISHED" or r["client_state"] != \
            "ESTABLISHED":
        fail("a RST with a bad checksum moved hb's flow to %s/%s"
             % (r["client_state"], r["server_state"]))
    bad = read_stats().get("invalid_checksum", 0) - bad0
    if bad < 1:
        fail("invalid_checksum grew by %d, want the bad RST counted" % bad)

    # The client has sent one byte since the handshake: the right RST,
    # at its next sequence number, resets both ends.
    nxt += 1
    rst(None)
    r = wait_until(lambda: (lambda r: r if r["server_state"] == "CLOSED"
                            else None)(row()), 5,
                   what="the good RST to close the server end")
    info("after the good RST: %s/%s" % (r["client_state"],
                                        r["server_state"]))
    cli.close()
    conn.close()
    srv.close()
