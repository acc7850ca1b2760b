#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
tcpstate-pcap --policy and --max-flows: the module's flow policy (the
core's tcpstate_fsm_idle_expired(), tcpstate_fsm_evict_class(), the linger
of a finished flow) run in capture time, on crafted captures (seed.py's
writers):
  idle:    a SYN never answered; a segment of another flow 121 s later
           moves the clock past the SYN timeout (120 s): both ends go
           CLOSED with reason=timer at that sweep, and only with --policy;
  linger:  a connection closes (TIME_WAIT 1 s), and 20 s later its 4-tuple
           opens again: with --policy the first flow had left the table
           (linger 10 s), so the second is a new flow, not "reused";
           without it, one flow and the flag "reused";
  evict:   --max-flows 1 and two half-open connections: the second SYN
           evicts the first (reason=evict), and a third while an
           established flow fills the table is not tracked (table_full).
Prints PASS:/FAIL: per check; exits non-zero on any failure.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import seed  # noqa: E402

SYN, FIN, ACK = seed.SYN, seed.FIN, seed.ACK
C, S = seed.V4
T0 = 1732170000 * 10**6


def capture(path, segments):
    """segments: (ms, client port, from client?, flags, seq, ack)"""
    seed.write_segments(path, T0, [
        (ms, C, S, cport, 80, fl, seq, ack) if fromc else
        (ms, S, C, 80, cport, fl, seq, ack)
        for ms, cport, fromc, fl, seq, ack in segments])


def run(tool, path, *args):
    p = subprocess.run([tool, '--stats', *args, path], capture_output=True,
                       text=True)
    events = [dict(w.split('=', 1) for w in line.split())
              for line in p.stdout.splitlines() if line.startswith('id=')]
    rows = [line.split() for line in p.stdout.splitlines()
            if line.startswith('0 ')]
    stats = dict(line.split() for line in p.stderr.splitlines()
                 if len(line.split()) == 2)
    return p.returncode, events, rows, stats


def closes(events, reason):
    return sorted((e['side'], e['old'], e['ts']) for e in events
                  if e['reason'] == reason)


def handshake(ms, port, isn=1000):
    return [(ms, port, True, SYN, isn, 0),
            (ms + 1, port, False, SYN | ACK, 5000, isn + 1),
            (ms + 2, port, True, ACK, isn + 1, 5001)]


def close(ms, port, isn=1000):
    return [(ms, port, True, FIN | ACK, isn + 1, 5001),
            (ms + 1, port, False, FIN | ACK, 5001, isn + 2),
            (ms + 2, port, True, ACK, isn + 2, 5002)]


def check_idle(tool, tmp):
    path = os.path.join(tmp, 'idle.pcap')
    capture(path, [(0, 40000, True, SYN, 1000, 0)] + handshake(121000, 40001))
    errors = []
    rc, ev, rows, st = run(tool, path, '--policy')
    sweep = str((T0 + 121000 * 1000) * 1000)
    want = [('client', 'SYN_SENT', sweep), ('server', 'LISTEN', sweep)]
    if rc or closes(ev, 'timer') != want:
        errors.append('--policy: timer closes %s, want %s'
                      % (closes(ev, 'timer'), want))
    if st.get('flows_expired') != '1':
        errors.append('--policy: flows_expired %s' % st.get('flows_expired'))
    rc, ev, rows, st = run(tool, path)
    if rc or closes(ev, 'timer'):
        errors.append('without --policy: %s' % closes(ev, 'timer'))
    return errors


def check_linger(tool, tmp):
    path = os.path.join(tmp, 'linger.pcap')
    capture(path, handshake(0, 40000) + close(100, 40000) +
            handshake(20000, 40000, isn=90000) + close(20100, 40000,
                                                       isn=90000))
    errors = []
    rc, ev, rows, st = run(tool, path, '--policy', '-w', '1000', '--flush')
    flags = [r[9] for r in rows]
    if rc or flags != ['-', '-'] or st.get('flows_freed') != '1':
        errors.append('--policy: rows %s, flows_freed %s, want two flows '
                      'without flags, one freed' % (rows,
                                                    st.get('flows_freed')))
    rc, ev, rows, st = run(tool, path, '-w', '1000', '--flush')
    if rc or [r[9] for r in rows] != ['reused']:
        errors.append('without --policy: rows %s, want one, reused' % rows)
    return errors


def check_evict(tool, tmp):
    path = os.path.join(tmp, 'evict.pcap')
    capture(path, [(0, 40000, True, SYN, 1000, 0),
                   (10, 40001, True, SYN, 2000, 0)] +
            handshake(20, 40001, isn=2000)[1:] +
            [(30, 40002, True, SYN, 3000, 0)])
    errors = []
    rc, ev, rows, st = run(tool, path, '--max-flows', '1')
    want = [('client', 'SYN_SENT', str((T0 + 10000) * 1000)),
            ('server', 'LISTEN', str((T0 + 10000) * 1000))]
    if rc or closes(ev, 'evict') != want:
        errors.append('evictions %s, want %s' % (closes(ev, 'evict'), want))
    if st.get('flows_evicted') != '1' or st.get('skipped_table_full') != '1':
        errors.append('flows_evicted %s, skipped_table_full %s, want 1 and '
                      '1' % (st.get('flows_evicted'),
                             st.get('skipped_table_full')))
    return errors


def main():
    tool = sys.argv[1] if len(sys.argv) > 1 else seed.TOOL
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (('idle', check_idle), ('linger', check_linger),
                         ('evict', check_evict)):
            failed += seed.report('policy/' + name, fn(tool, tmp))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
