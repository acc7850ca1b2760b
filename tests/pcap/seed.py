#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
A self-contained capture test: the seeds' tcpdump example (client
10.0.2.2:51323, server 10.0.2.15:80, ISNs 84689409 and 1893430205), carried on
to a client-first close, is written as a capture at test time (python's struct
only) in every link layer and file format tcpstate-pcap reads, then run
through tools/tcpstate-pcap and checked line by line: every event, the table,
and the skip counters for the malformed packets mixed in.

Usage: seed.py [path/to/tcpstate-pcap]   (default: tools/tcpstate-pcap next
to this tests/ directory).  Prints PASS:/FAIL: per variant and exits non-zero
on any failure.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, '..', '..', 'tools', 'tcpstate-pcap')

SYN, FIN, RST, PSH, ACK, ECE, CWR = 0x02, 0x01, 0x04, 0x08, 0x10, 0x40, 0x80
T0 = 1732170000 * 10**6 + 123456          # microseconds
CPORT, SPORT = 51323, 80
C_ISN, S_ISN = 84689409, 1893430205

# (time offset us, from client?, flags, seq, ack, payload length, options)
MSS = struct.pack('!BBH', 2, 4, 1460)
WS7 = struct.pack('!BBBB', 1, 3, 3, 7)     # nop + window scale 7
CONVERSATION = [
    (0, True, SYN, C_ISN, 0, 0, MSS + WS7),
    (500, False, SYN | ACK, S_ISN, C_ISN + 1, 0, MSS),
    (812, True, ACK, C_ISN + 1, S_ISN + 1, 0, b''),
    (1000, True, PSH | ACK, C_ISN + 1, S_ISN + 1, 752, b''),
    (1300, False, ACK, S_ISN + 1, C_ISN + 753, 0, b''),
    (1500, False, PSH | ACK, S_ISN + 1, C_ISN + 753, 100, b''),
    (1700, True, ACK, C_ISN + 753, S_ISN + 101, 0, b''),
    (2000, True, FIN | ACK, C_ISN + 753, S_ISN + 101, 0, b''),
    (2300, False, ACK, S_ISN + 101, C_ISN + 754, 0, b''),
    (2500, False, FIN | ACK, S_ISN + 101, C_ISN + 754, 0, b''),
    (2800, True, ACK, C_ISN + 754, S_ISN + 102, 0, b''),
]
# A lone SYN from another client 2 s after the server's FIN: the client's
# TIME_WAIT (1 s in this test) must expire, stamped at its own time, first.
LATE_SYN = (2500 + 2000000, 40000, 1000)


def csum(data):
    if len(data) & 1:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def tcp(src, dst, sport, dport, flags, seq, ack, plen, opts, v6):
    opts += b'\0' * (-len(opts) % 4)
    hdr = struct.pack('!HHIIBBHHH', sport, dport, seq, ack,
                      (5 + len(opts) // 4) << 4, flags, 65535, 0, 0) + opts
    seg = hdr + b'x' * plen
    if v6:
        pseudo = src + dst + struct.pack('!IxxxB', len(seg), 6)
    else:
        pseudo = src + dst + struct.pack('!xBH', 6, len(seg))
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def ipv4(src, dst, payload, proto=6, frag=0x4000):
    hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 1, frag,
                      64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, payload):
    # hop-by-hop and destination options (8 bytes each, PadN) before TCP
    hbh = struct.pack('!BBBB4x', 60, 0, 1, 4)
    dopt = struct.pack('!BBBB4x', 6, 0, 1, 4)
    ext = hbh + dopt
    return struct.pack('!IHBB16s16s', 6 << 28, len(ext) + len(payload), 0,
                       64, src, dst) + ext + payload


V4 = (bytes([10, 0, 2, 2]), bytes([10, 0, 2, 15]))
V4B = bytes([10, 0, 2, 3])
V6 = (bytes.fromhex('20010db8' + '00' * 11 + '02'),
      bytes.fromhex('20010db8' + '00' * 11 + '0f'))
V6B = bytes.fromhex('20010db8' + '00' * 11 + '03')


def packets(v6):
    """[(time us, IP packet)] for the conversation and the late SYN."""
    c, s = V6 if v6 else V4
    ip = ipv6 if v6 else ipv4
    out = []
    for dt, fromc, flags, seq, ack, plen, opts in CONVERSATION:
        src, dst = (c, s) if fromc else (s, c)
        sp, dp = (CPORT, SPORT) if fromc else (SPORT, CPORT)
        out.append((T0 + dt, ip(src, dst, tcp(src, dst, sp, dp, flags, seq,
                                              ack, plen, opts, v6))))
    dt, port, isn = LATE_SYN
    b = V6B if v6 else V4B
    out.append((T0 + dt, ip(b, s, tcp(b, s, port, SPORT, SYN, isn, 0, 0, MSS,
                                      v6))))
    return out


def junk():
    """Malformed or irrelevant IPv4 packets: (skip reason, IP packet)."""
    c, s = V4
    good = tcp(c, s, CPORT, SPORT, ACK, C_ISN + 1, S_ISN + 1, 0, b'', False)
    bad_doff = bytearray(good)
    bad_doff[12] = 15 << 4                  # 60-byte header in 20 bytes
    return [
        ('truncated', ipv4(c, s, good)),     # written cut short
        ('fragment', ipv4(c, s, good, frag=0x0010)),
        ('not_tcp', ipv4(c, s, b'\0' * 8, proto=17)),
        ('bad_tcp', ipv4(c, s, bytes(bad_doff))),
        ('bad_ip', ipv4(c, s, good)[:19] + b'\0'),
    ]


def ether(ip, vlan=False):
    et = 0x86dd if ip[0] >> 4 == 6 else 0x0800
    tag = struct.pack('!HH', 0x8100, 42) if vlan else b''
    return b'\x02' * 6 + b'\x04' * 6 + tag + struct.pack('!H', et) + ip


def sll(ip):
    et = 0x86dd if ip[0] >> 4 == 6 else 0x0800
    return struct.pack('!HHH8sH', 0, 1, 6, b'\x02' * 6, et) + ip


def sll2(ip):
    et = 0x86dd if ip[0] >> 4 == 6 else 0x0800
    return struct.pack('!HHIHBB8s', et, 0, 2, 1, 0, 6, b'\x02' * 6) + ip


def null(ip):
    af = 30 if ip[0] >> 4 == 6 else 2       # BSD's AF_INET6 is fine too
    return struct.pack('<I', af) + ip


def loop(ip):
    af = 24 if ip[0] >> 4 == 6 else 2
    return struct.pack('!I', af) + ip


def write_pcap(path, linktype, frames, nano=False):
    magic = 0xa1b23c4d if nano else 0xa1b2c3d4
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', magic, 2, 4, 0, 0, 65535, linktype))
        for t, data, *wire in frames:
            sub = (t % 10**6) * (1000 if nano else 1)
            wirelen = wire[0] if wire else len(data)
            f.write(struct.pack('<IIII', t // 10**6, sub, len(data),
                                wirelen))
            f.write(data)


def write_segments(path, t0, segments):
    """An Ethernet capture of bare IPv4 segments, for the other scripts
    here: segments are (ms after t0, src, dst, sport, dport, flags, seq,
    ack), t0 in microseconds."""
    frames = []
    for ms, src, dst, sp, dp, flags, seq, ack in segments:
        seg = tcp(src, dst, sp, dp, flags, seq, ack, 0, b'', False)
        frames.append((t0 + ms * 1000, ether(ipv4(src, dst, seg))))
    write_pcap(path, 1, frames)


def report(label, errors):
    """A check's errors, then its PASS:/FAIL: line; 1 if it failed."""
    for e in errors:
        print('  ' + e)
    print('%s: %s' % ('FAIL' if errors else 'PASS', label))
    return int(bool(errors))


def write_pcapng(path, linktype, frames):
    def block(btype, body):
        body += b'\0' * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack('<II', btype, n) + body + struct.pack('<I', n)
    with open(path, 'wb') as f:
        f.write(block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1)))
        f.write(block(1, struct.pack('<HHI', linktype, 0, 65535)))
        for t, data in frames:
            f.write(block(6, struct.pack('<IIIII', 0, t >> 32,
                                         t & 0xffffffff, len(data),
                                         len(data)) + data))


def ap(addr, port):
    import ipaddress
    a = ipaddress.ip_address(addr)
    return ('[%s]:%d' if a.version == 6 else '%s:%d') % (a.compressed, port)


def expected(v6):
    c, s = V6 if v6 else V4
    b = V6B if v6 else V4B
    fam = 'ipv6' if v6 else 'ipv4'
    cl, sv = ap(c, CPORT), ap(s, SPORT)
    t = {dt: (T0 + dt) * 1000 for dt, *_ in CONVERSATION}
    ev = [
        (t[0], 'client', 'CLOSED', 'SYN_SENT', 'S', C_ISN, 0),
        (t[500], 'server', 'LISTEN', 'SYN_RCVD', 'S.', S_ISN, C_ISN + 1),
        (t[500], 'client', 'SYN_SENT', 'ESTABLISHED', 'S.', S_ISN, C_ISN + 1),
        (t[812], 'server', 'SYN_RCVD', 'ESTABLISHED', '.', C_ISN + 1,
         S_ISN + 1),
        (t[2000], 'client', 'ESTABLISHED', 'FIN_WAIT_1', 'F.', C_ISN + 753,
         S_ISN + 101),
        (t[2000], 'server', 'ESTABLISHED', 'CLOSE_WAIT', 'F.', C_ISN + 753,
         S_ISN + 101),
        (t[2300], 'client', 'FIN_WAIT_1', 'FIN_WAIT_2', '.', S_ISN + 101,
         C_ISN + 754),
        (t[2500], 'server', 'CLOSE_WAIT', 'LAST_ACK', 'F.', S_ISN + 101,
         C_ISN + 754),
        (t[2500], 'client', 'FIN_WAIT_2', 'TIME_WAIT', 'F.', S_ISN + 101,
         C_ISN + 754),
        (t[2800], 'server', 'LAST_ACK', 'CLOSED', '.', C_ISN + 754,
         S_ISN + 102),
        (t[2500] + 1000 * 10**6, 'client', 'TIME_WAIT', 'CLOSED', '-', 0, 0),
    ]
    lines = []
    for i, (ts, side, old, new, fl, seq, ack) in enumerate(ev, 1):
        lines.append('id=%d ts=%d netns=0 family=%s client=%s server=%s '
                     'side=%s old=%s new=%s flags=%s seq=%d ack=%d reason=%s'
                     % (i, ts, fam, cl, sv, side, old, new, fl, seq, ack,
                        'timer' if fl == '-' else 'segment'))
    dt, port, isn = LATE_SYN
    late = ap(b, port)
    lines.append('id=12 ts=%d netns=0 family=%s client=%s server=%s '
                 'side=client old=CLOSED new=SYN_SENT flags=S seq=%d ack=0 '
                 'reason=segment' % ((T0 + dt) * 1000, fam, late, sv, isn))
    fmt = '%-10s  %-6s %-22s %-22s %-13s %-13s %-8s %-7s %-9s %-9s %s'
    end_us = T0 + dt
    lines.append(fmt % ('netns', 'family', 'client', 'server',
                        'client_state', 'server_state', 'age_ms', 'rtt_us',
                        'history', 'flags', 'keepalives'))
    lines.append(fmt % ('0', fam, cl, sv, 'CLOSED', 'CLOSED',
                        str((end_us - T0) // 1000), '812', 'ShADadFf', '-',
                        '0'))
    lines.append(fmt % ('0', fam, late, sv, 'SYN_SENT', 'LISTEN', '0', '-',
                        'S', '-', '0'))
    return lines


def variants():
    """(name, writer, linktype, frame function, v6, with junk)"""
    return [
        ('ethernet-pcap', write_pcap, 1, ether, False, True),
        ('ethernet-vlan-pcap-nsec', 'nano', 1,
         lambda p: ether(p, vlan=True), False, False),
        ('ethernet-pcapng', write_pcapng, 1, ether, False, False),
        ('raw-ip-101', write_pcap, 101, lambda p: p, False, False),
        ('linux-sll', write_pcap, 113, sll, False, False),
        ('linux-sll2', write_pcap, 276, sll2, False, False),
        ('bsd-null', write_pcap, 0, null, False, False),
        ('bsd-loop', write_pcap, 108, loop, False, False),
        ('ethernet-ipv6-ext-headers', write_pcap, 1, ether, True, False),
        ('raw-ip-ipv6-pcapng', write_pcapng, 101, lambda p: p, True, False),
    ]


def run_variant(tool, tmp, name, writer, linktype, frame, v6, with_junk):
    frames = [(t, frame(p)) for t, p in packets(v6)]
    reasons = {}
    if with_junk:
        for i, (reason, p) in enumerate(junk()):
            # between the handshake and the data, same timestamps
            f = frame(p)
            if reason == 'truncated':       # cut by the snap length
                frames.insert(3 + i, (frames[2][0], f[:-10], len(f)))
            else:
                frames.insert(3 + i, (frames[2][0], f))
            reasons[reason] = reasons.get(reason, 0) + 1
        frames.insert(3, (frames[2][0], b'\xff' * 12 + b'\x08\x06' +
                          b'\0' * 28))         # ARP
        reasons['not_ip'] = 1
    path = os.path.join(tmp, name + ('.pcapng' if writer is write_pcapng
                                     else '.pcap'))
    if writer == 'nano':
        write_pcap(path, linktype, frames, nano=True)
    else:
        writer(path, linktype, frames)
    p = subprocess.run([tool, '--time-wait-ms', '1000', '--stats', path],
                       capture_output=True, text=True)
    got = p.stdout.splitlines()
    want = expected(v6)
    errors = []
    if p.returncode != 0:
        errors.append('exit status %d: %s' % (p.returncode, p.stderr.strip()))
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else '<missing>'
        w = want[i] if i < len(want) else '<none>'
        if g != w:
            errors.append('line %d:\n      want: %s\n      got:  %s'
                          % (i + 1, w, g))
    stats = dict(line.split(' ', 1) for line in p.stderr.splitlines()
                 if line.count(' ') == 1)
    skipped = {k[len('skipped_'):]: int(v) for k, v in stats.items()
               if k.startswith('skipped_') and v.isdigit() and int(v)}
    if skipped != reasons:
        errors.append('skipped counters: want %s, got %s' % (reasons, skipped))
    if stats.get('segments_v6' if v6 else 'segments_v4') != str(
            len(CONVERSATION) + 1):
        errors.append('segment counter: want %d, got %s'
                      % (len(CONVERSATION) + 1, stats))
    return errors


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else TOOL
    failed = 0
    with tempfile.TemporaryDirectory(prefix='tcpstate-seed.') as tmp:
        for v in variants():
            errors = run_variant(tool, tmp, *v)
            print('%s: seed/%s' % ('FAIL' if errors else 'PASS', v[0]))
            for e in errors[:12]:
                print('    ' + e)
            failed += bool(errors)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
