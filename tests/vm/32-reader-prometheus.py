#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# tools/tcpstate stats --prometheus against the live module: with one
# connection open and one closed, the output passes promtool's checker
# and is read by the Prometheus client library's own parser into exactly
# what /proc/tcpstate_stats says: counters as tcpstate_<name>_total, the
# gauges by name, the endpoints per state as tcpstate_endpoints{side,
# state}, and the module's version as tcpstate_build_info{version} 1.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import *  # noqa: E402,F403
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

TOOL = os.path.join(ROOT, "tools", "tcpstate")
GAUGES = ("flows_active", "flows_max", "entry_bytes_", "table_buckets")
need("promtool")


def tool(*args):
    return subprocess.run([TOOL, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


with NetnsPair("pa", "pb") as net, Module():
    srv = listen_tcp(net.addr4["pb"], 7300, "pb")
    client_first_close(srv, "pa", b"one")       # client TIME_WAIT
    cli = tcp_socket("pa")
    cli.connect((net.addr4["pb"], 7300))
    conn, _ = srv.accept()                      # both ESTABLISHED
    wait_until(lambda: read_stats().get("client_ESTABLISHED", 0) >= 1,
               what="the open connection in the table")

    before = read_stats()
    r = tool("stats", "--prometheus")
    after = read_stats()
    if r.returncode:
        fail("stats --prometheus: exit %d: %s" % (r.returncode, r.stderr))
    text = r.stdout

    chk = subprocess.run(["promtool", "check", "metrics"], input=text,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    if chk.returncode or chk.stdout.strip():
        fail("promtool check metrics (exit %d): %s\n%s" % (
            chk.returncode, chk.stdout, text))

    samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in samples:
                fail("sample %r twice" % (key,))
            samples[key] = (fam.type, s.value)

    want = {("tcpstate_build_info",
             (("version", os.environ["TCPSTATE_VERSION"]),))}
    if samples.get(next(iter(want))) != ("gauge", 1):
        fail("no tcpstate_build_info{version=%r} 1:\n%s" % (
            os.environ["TCPSTATE_VERSION"], text))
    for name, v in before.items():
        if not isinstance(v, int):
            continue
        side, _, state = name.partition("_")
        if side in ("client", "server") and state.isupper():
            key = ("tcpstate_endpoints",
                   (("side", side), ("state", state)))
            kind = "gauge"
        elif name.startswith(GAUGES):
            key, kind = ("tcpstate_" + name, ()), "gauge"
        else:
            key, kind = ("tcpstate_%s_total" % name, ()), "counter"
        want.add(key)
        if key not in samples:
            fail("%s (%s %d in /proc) is missing:\n%s" % (key, name, v, text))
        got_kind, got = samples[key]
        if got_kind != kind:
            fail("%s is a %s, want %s" % (key, got_kind, kind))
        if not before[name] <= got <= after[name] and \
                not after[name] <= got <= before[name]:
            fail("%s = %s, /proc said %d then %d" % (key, got, before[name],
                                                     after[name]))
    extra = set(samples) - want
    if extra:
        fail("samples /proc/tcpstate_stats does not have: %s" % sorted(extra))
    for state in ("ESTABLISHED", "TIME_WAIT"):
        key = ("tcpstate_endpoints", (("side", "client"), ("state", state)))
        if samples[key][1] < 1:
            fail("no client endpoint in %s: %r" % (state, samples[key]))
    info("%d samples, promtool clean, %d endpoint states" % (
        len(samples), sum(k[0] == "tcpstate_endpoints" for k in samples)))

    r = tool("stats", "--prometheus", "--watch")
    if r.returncode != 1 or "--prometheus" not in r.stderr:
        fail("--prometheus --watch: exit %d, %r" % (r.returncode, r.stderr))
    cli.close()
    conn.close()
    srv.close()
