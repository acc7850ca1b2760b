#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
Ladders from crafted captures: the exchanges the textbook figures draw,
with what goes wrong in them (a SYN sent again, a third ACK lost seen from
either end, a FIN sent again, a simultaneous open and close), written as
captures at test time (seed.py's writers, python's struct only) and run
through tools/tcpstate-pcap --ladder and --retransmits.

Each scenario's ladder is compared line by line with the drawing below it,
and the --retransmits lines with the retransmissions it must report: a
segment sent again is drawn as an arrow from its sender marked
"(retransmitted)", on a row where no state moves.

Usage: ladder.py [path/to/tcpstate-pcap].  Prints PASS:/FAIL: per scenario
and exits non-zero on any failure.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import seed  # noqa: E402  (the capture writers)

SYN, FIN, RST, ACK = seed.SYN, seed.FIN, seed.RST, seed.ACK
C, S = seed.V4
CPORT, SPORT = 51323, 80
CI, SI = 1000, 5000                 # the ISNs: short numbers, short arrows
T0 = 1732170000 * 10**6             # microseconds

# name: (segments as (ms, from client?, flags, seq, ack), the ladder,
#        the --retransmits lines as (side, state, flags)).  Each drawing is
# the whole expected output, so the handshake's rows repeat from one to
# the next: a failure then shows one full drawing against another.
SCENARIOS = {
    # The first SYN is lost: the client sends it again after its RTO.
    'syn-retransmitted': ([
        (0, True, SYN, CI, 0),
        (1000, True, SYN, CI, 0),
        (1010, False, SYN | ACK, SI, CI + 1),
        (1020, True, ACK, CI + 1, SI + 1),
        (1100, True, FIN | ACK, CI + 1, SI + 1),
        (1110, False, FIN | ACK, SI + 1, CI + 2),
        (1120, True, ACK, CI + 2, SI + 2),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
 +1000.000               --- S seq=1000 ----------------------------> (retransmitted)
 +1010.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
 +1020.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
 +1100.000  FIN_WAIT_1   --- F. seq=1001 ack=5001 ------------------> CLOSE_WAIT
 +1110.000  TIME_WAIT    <-- F. seq=5001 ack=1002 ------------------- LAST_ACK
 +1120.000               --- . seq=1002 ack=5002 -------------------> CLOSED
+61110.000  CLOSED       (timer)
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 10.000 ms
""", [('client', 'SYN_SENT', 'S')]),

    # The third ACK is lost, captured at the server: the server, still
    # SYN_RCVD, sends its SYN/ACK again and the client's second ACK
    # completes the handshake.
    'lost-third-ack-at-server': ([
        (0, True, SYN, CI, 0),
        (10, False, SYN | ACK, SI, CI + 1),
        (1010, False, SYN | ACK, SI, CI + 1),
        (1020, True, ACK, CI + 1, SI + 1),
        (1100, True, RST | ACK, CI + 1, SI + 1),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
   +10.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
 +1010.000               <-- S. seq=5000 ack=1001 ------------------- (retransmitted)
 +1020.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
 +1100.000  CLOSED       --- R. seq=1001 ack=5001 ------------------> CLOSED
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 1010.000 ms
""", [('server', 'SYN_RCVD', 'S.')]),

    # The same loss captured at the client: the lost ACK is on the
    # capture, so the observer takes the server as ESTABLISHED on it and
    # the SYN/ACK that follows as sent again.  The client's answer is one
    # more ACK between ESTABLISHED ends, no control segment sent again:
    # like the data, it is not drawn.
    'lost-third-ack-at-client': ([
        (0, True, SYN, CI, 0),
        (10, False, SYN | ACK, SI, CI + 1),
        (11, True, ACK, CI + 1, SI + 1),
        (1010, False, SYN | ACK, SI, CI + 1),
        (1011, True, ACK, CI + 1, SI + 1),
        (1100, True, RST | ACK, CI + 1, SI + 1),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
   +10.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
   +11.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
 +1010.000               <-- S. seq=5000 ack=1001 ------------------- (retransmitted)
 +1100.000  CLOSED       --- R. seq=1001 ack=5001 ------------------> CLOSED
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 1.000 ms
""", [('server', 'ESTABLISHED', 'S.')]),

    # The client's FIN is lost once; its ACK comes after the second.
    # TIME_WAIT's 2MSL runs from the server's FIN.
    'fin-retransmitted': ([
        (0, True, SYN, CI, 0),
        (10, False, SYN | ACK, SI, CI + 1),
        (20, True, ACK, CI + 1, SI + 1),
        (100, True, FIN | ACK, CI + 1, SI + 1),
        (400, True, FIN | ACK, CI + 1, SI + 1),
        (410, False, ACK, SI + 1, CI + 2),
        (500, False, FIN | ACK, SI + 1, CI + 2),
        (510, True, ACK, CI + 2, SI + 2),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
   +10.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
   +20.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
  +100.000  FIN_WAIT_1   --- F. seq=1001 ack=5001 ------------------> CLOSE_WAIT
  +400.000               --- F. seq=1001 ack=5001 ------------------> (retransmitted)
  +410.000  FIN_WAIT_2   <-- . seq=5001 ack=1002 --------------------
  +500.000  TIME_WAIT    <-- F. seq=5001 ack=1002 ------------------- LAST_ACK
  +510.000               --- . seq=1002 ack=5002 -------------------> CLOSED
+60500.000  CLOSED       (timer)
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 10.000 ms
""", [('client', 'FIN_WAIT_1', 'F.')]),

    # Both SYNs cross, then both SYN/ACKs (RFC 793 figure 8).
    'simultaneous-open': ([
        (0, True, SYN, CI, 0),
        (1, False, SYN, SI, 0),
        (10, True, SYN | ACK, CI, SI + 1),
        (11, False, SYN | ACK, SI, CI + 1),
        (100, True, RST | ACK, CI + 1, SI + 1),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
    +1.000               <-- S seq=5000 ----------------------------- SYN_SENT
   +10.000  SYN_RCVD     --- S. seq=1000 ack=5001 ------------------>
   +11.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- ESTABLISHED
  +100.000  CLOSED       --- R. seq=1001 ack=5001 ------------------> CLOSED
""", []),

    # Both FINs cross (RFC 793 figure 14): both ends pass CLOSING, and
    # 2MSL after the first ACK one timer closes both.
    'simultaneous-close': ([
        (0, True, SYN, CI, 0),
        (10, False, SYN | ACK, SI, CI + 1),
        (20, True, ACK, CI + 1, SI + 1),
        (100, True, FIN | ACK, CI + 1, SI + 1),
        (101, False, FIN | ACK, SI + 1, CI + 1),
        (110, True, ACK, CI + 2, SI + 2),
        (111, False, ACK, SI + 2, CI + 2),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
   +10.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
   +20.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
  +100.000  FIN_WAIT_1   --- F. seq=1001 ack=5001 ------------------> CLOSE_WAIT
  +101.000  CLOSING      <-- F. seq=5001 ack=1001 ------------------- CLOSING
  +110.000               --- . seq=1002 ack=5002 -------------------> TIME_WAIT
  +111.000  TIME_WAIT    <-- . seq=5002 ack=1002 --------------------
+60110.000  CLOSED       (timer)                                      CLOSED
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 10.000 ms
""", []),

    # Keep-alive: a probe (seq one below the next, no data) answered,
    # then two unanswered and the prober gives up with a RST.
    'keepalive-gave-up': ([
        (0, True, SYN, CI, 0),
        (10, False, SYN | ACK, SI, CI + 1),
        (20, True, ACK, CI + 1, SI + 1),
        (1020, True, ACK, CI, SI + 1),
        (1030, False, ACK, SI + 1, CI + 1),
        (2030, True, ACK, CI, SI + 1),
        (3030, True, ACK, CI, SI + 1),
        (4030, True, RST | ACK, CI + 1, SI + 1),
    ], """\
10.0.2.2:51323 -> 10.0.2.15:80  ipv4 netns 0
        ms  client                                                    server
            CLOSED                                                    LISTEN
    +0.000  SYN_SENT     --- S seq=1000 ---------------------------->
   +10.000  ESTABLISHED  <-- S. seq=5000 ack=1001 ------------------- SYN_RCVD
   +20.000               --- . seq=1001 ack=5001 -------------------> ESTABLISHED
 +1020.000               --- . seq=1000 ack=5001 -------------------> (keep-alive)
 +1030.000               <-- . seq=5001 ack=1001 -------------------- (keep-alive ACK)
 +2030.000               --- . seq=1000 ack=5001 -------------------> (keep-alive)
 +3030.000               --- . seq=1000 ack=5001 -------------------> (keep-alive)
 +4030.000  CLOSED       --- R. seq=1001 ack=5001 ------------------> CLOSED
                         (keep-alive probes unanswered, gave up)
            handshake RTT: SYN -> SYN/ACK 10.000 ms, SYN/ACK -> ACK 10.000 ms
""", []),
}


def capture(path, segments):
    seed.write_segments(path, T0, [
        (ms, C, S, CPORT, SPORT, fl, seq, ack) if fromc else
        (ms, S, C, SPORT, CPORT, fl, seq, ack)
        for ms, fromc, fl, seq, ack in segments])


def run(tool, *args):
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if p.returncode or p.stderr:
        return None, 'exit %d: %s' % (p.returncode, p.stderr.strip())
    return p.stdout, None


def check(tool, tmp, name, segments, ladder, retransmits):
    path = os.path.join(tmp, name + '.pcap')
    capture(path, segments)
    errors = []
    out, err = run(tool, '--ladder', path)
    if err:
        errors.append('--ladder: ' + err)
    elif out.rstrip('\n') != ladder.rstrip('\n'):
        errors.append('--ladder drew:\n%s\nwant:\n%s' % (out, ladder))
    out, err = run(tool, '--events-only', '--retransmits', path)
    if err:
        errors.append('--retransmits: ' + err)
    else:
        got = []
        for line in out.splitlines():
            kv = dict(w.split('=', 1) for w in line.split())
            if kv['reason'] == 'retransmit':
                if kv['old'] != kv['new']:
                    errors.append('a retransmission moved: ' + line)
                got.append((kv['side'], kv['new'], kv['flags']))
        if got != retransmits:
            errors.append('retransmissions %s, want %s' % (got, retransmits))
        # without the option, the lines are the transitions alone
        plain, err = run(tool, '--events-only', path)
        if err or 'retransmit' in plain:
            errors.append('a retransmit line without --retransmits')
    return errors


def check_long(tool, tmp):
    """A flow kept alive for hours (100 probes answered) still has its
    close drawn: the rows that move nothing have a share of their own."""
    segs = [(0, True, SYN, CI, 0), (10, False, SYN | ACK, SI, CI + 1),
            (20, True, ACK, CI + 1, SI + 1)]
    for i in range(100):
        t = 75000 * (i + 1)
        segs += [(t, True, ACK, CI, SI + 1), (t + 1, False, ACK, SI + 1,
                                               CI + 1)]
    t = 75000 * 101
    segs += [(t, True, FIN | ACK, CI + 1, SI + 1),
             (t + 1, False, FIN | ACK, SI + 1, CI + 2),
             (t + 2, True, ACK, CI + 2, SI + 2)]
    path = os.path.join(tmp, 'keepalive-long.pcap')
    capture(path, segs)
    out, err = run(tool, '--ladder', path)
    if err:
        return ['--ladder: ' + err]
    rows = out.splitlines()
    errors = []
    want = ['FIN_WAIT_1   --- F.', 'TIME_WAIT    <-- F.', '> CLOSED',
            'CLOSED       (timer)',
            '(156 more retransmissions or keep-alives not drawn)']
    for w in want:
        if not any(w in r for r in rows):
            errors.append('no row with %r in:\n%s' % (w, out))
    # 64 steps, 16 kept for state changes, 4 taken by the handshake
    if sum('(keep-alive' in r for r in rows) != 44:
        errors.append('%d keep-alive rows, want 44' % sum(
            '(keep-alive' in r for r in rows))
    return errors


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else seed.TOOL
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (segments, ladder, retrans) in SCENARIOS.items():
            failed += seed.report('ladder/' + name, check(
                tool, tmp, name, segments, ladder, retrans))
        failed += seed.report('ladder/keepalive-long', check_long(tool, tmp))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
