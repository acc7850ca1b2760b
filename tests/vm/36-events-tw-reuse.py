#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# A 4-tuple taken again while one of its ends is in TIME_WAIT (issue 13,
# TIME_WAIT pressure): the flow says "reused" and how the reuse was let
# in, with real sockets and the kernel's own answer:
#   tw_seq  the server closed first and waits in TIME_WAIT; the client
#           connects again from the same port: its new ISN is after all
#           the TIME_WAIT had received (RFC 793), the kernel takes it and
#           the connection opens (IPv4 and IPv6);
#   tw_own  the client closed first and waits in TIME_WAIT; a socket
#           bound to its port connects to the same server again, and its
#           kernel takes its own TIME_WAIT (Linux does so for a bound
#           port when timestamps were on, tcp_twsk_unique(); for an
#           unbound one only with net.ipv4.tcp_tw_reuse);
#   tw_ts   as tw_seq, but the client had no timestamps and a crafted SYN
#           comes with the old ISN, behind what the TIME_WAIT received,
#           and a timestamp: only RFC 6191's rule admits it, and the
#           server's kernel does answer it with a SYN/ACK.
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403

from scapy.all import IP, TCP, Ether, raw  # noqa: E402

A, B = "ra", "rb"


def row_of(server, cport, ino):
    rows = [r for r in read_table() if r["server"] == server and
            r["client"].endswith(":%d" % cport) and r["netns"] == str(ino)]
    return rows[0] if rows else None


def wait_flags(server, cport, ino, want, what):
    def ok():
        r = row_of(server, cport, ino)
        return r if r and r["flags"].split(",")[:2] == want.split(",") \
            else None
    try:
        return wait_until(ok, what=what)
    except TestFailure:
        fail("%s: the flow is %r, want flags %s" % (
            what, row_of(server, cport, ino), want))


def sysctl(ns, key, value):
    run("sysctl", "-q", "-w", "%s=%s" % (key, value), ns=ns)


def one_connection(srv, ns, family, server_first=True):
    """A connection from NS to SRV, closed first by the server (which then
    waits in TIME_WAIT) or by the client.  The client sets SO_REUSEADDR,
    so that its port may be bound again.  Returns the client's port."""
    cli = tcp_socket(ns, family)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.settimeout(10)
    cli.connect(srv.getsockname()[:2])
    conn, _ = srv.accept()
    conn.settimeout(10)
    port = cli.getsockname()[1]
    first, second = (conn, cli) if server_first else (cli, conn)
    first.sendall(b"bye")
    first.close()
    if second.recv(16) != b"bye" or second.recv(16) != b"":
        fail("no data and FIN from the end that closed first")
    second.close()
    return port


def reconnect(srv, family, cport):
    """A client in A bound to CPORT again connects to SRV; the kernel
    must take it.  (client, server's socket)"""
    cli = tcp_socket(A, family)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.settimeout(10)
    cli.bind(("", cport))
    cli.connect(srv.getsockname()[:2])
    conn, _ = srv.accept()
    return cli, conn


def name_of(addr, port):
    return ("[%s]:%d" if ":" in addr else "%s:%d") % (addr, port)


with Module(time_wait_ms=600000), NetnsPair(A, B) as net, \
        EventTail() as tail:
    ia, ib = netns_inode(A), netns_inode(B)
    for family, addr, port in ((socket.AF_INET, net.addr4[B], 7700),
                               (socket.AF_INET6, net.addr6[B], 7701)):
        fam = "ipv4" if family == socket.AF_INET else "ipv6"
        srv = listen_tcp(addr, port, B)
        server = name_of(addr, port)

        # tw_seq: the server's TIME_WAIT takes a SYN with a newer ISN.
        cport = one_connection(srv, A, family)
        wait_until(lambda: (row_of(server, cport, ib) or {}).get(
            "server_state") == "TIME_WAIT", what="the server in TIME_WAIT")
        cli, conn = reconnect(srv, family, cport)
        for ino in (ia, ib):
            r = wait_flags(server, cport, ino, "reused,tw_seq",
                           "tw_seq %s netns %d" % (fam, ino))
        if r["client_state"] != "ESTABLISHED" or \
                r["server_state"] != "ESTABLISHED":
            fail("tw_seq %s: %r" % (fam, r))
        info("tw_seq %s: %s -> %s %s" % (fam, r["client"], server,
                                         r["flags"]))
        conn.close()
        cli.close()

        # tw_own: the client's TIME_WAIT, taken again by its own kernel.
        cport = one_connection(srv, A, family, server_first=False)
        wait_until(lambda: (row_of(server, cport, ia) or {}).get(
            "client_state") == "TIME_WAIT", what="the client in TIME_WAIT")
        time.sleep(1.1)         # timestamps a second old, for tw_reuse
        cli, conn = reconnect(srv, family, cport)
        for ino in (ia, ib):
            r = wait_flags(server, cport, ino, "reused,tw_own",
                           "tw_own %s netns %d" % (fam, ino))
        info("tw_own %s: %s -> %s %s" % (fam, r["client"], server,
                                         r["flags"]))
        conn.close()
        cli.close()
        srv.close()

    # tw_ts: no timestamps on the first connection, then a crafted SYN
    # with the old ISN and a timestamp.
    sysctl(A, "net.ipv4.tcp_timestamps", 0)
    srv = listen_tcp(net.addr4[B], 7702, B)
    server = name_of(net.addr4[B], 7702)
    cport = one_connection(srv, A, socket.AF_INET)
    opened = [e for e in tail.wait_for(
        lambda e: e.get("server") == server and e["netns"] == str(ib) and
        e["client"].endswith(":%d" % cport) and e["new"] == "SYN_SENT")]
    isn = int(opened[0]["seq"])
    wait_until(lambda: (row_of(server, cport, ib) or {}).get(
        "server_state") == "TIME_WAIT", what="the server in TIME_WAIT")
    mac = {ns: run("cat", "/sys/class/net/veth-%s/address" % ns,
                   ns=ns).strip() for ns in (A, B)}
    with netns(A):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind(("veth-" + A, 0))
    sock.send(raw(Ether(dst=mac[B], src=mac[A]) /
                  IP(src=net.addr4[A], dst=net.addr4[B]) /
                  TCP(sport=cport, dport=7702, flags="S", seq=isn,
                      window=64240,
                      options=[("MSS", 1460), ("Timestamp", (12345, 0))])))
    synack = tail.wait_for(
        lambda e: e.get("server") == server and e["netns"] == str(ib) and
        e["client"].endswith(":%d" % cport) and e["side"] == "server" and
        e["new"] == "SYN_RCVD")[0]
    if synack["flags"] != "S." or int(synack["ack"]) != (isn + 1) % 2**32:
        fail("tw_ts: the server's answer %r, want a SYN/ACK of %d"
             % (synack, isn + 1))
    r = wait_flags(server, cport, ib, "reused,tw_ts", "tw_ts")
    info("tw_ts: SYN seq %d (the old ISN) with TSval 12345 answered by %s "
         "ack %s; flow flags %s" % (isn, synack["flags"], synack["ack"],
                                    r["flags"]))
    srv.close()
