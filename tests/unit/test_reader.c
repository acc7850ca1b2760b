// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for the reader's parsers and filters (tools/event_parse.c):
 * event lines, lost lines, unknown trailing keys, malformed lines, table
 * lines, JSON, and every filter and state group; and the command line
 * (tools/tcpstate.c and the commands' parsers), without running a command.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "event_parse.h"
#include "reader.h"


#define V4LINE "id=1042 ts=1732170000123456789 netns=4026531840 family=ipv4 " \
	"client=10.0.2.2:51323 server=10.0.2.15:80 side=server old=SYN_RCVD " \
	"new=ESTABLISHED flags=. seq=84689410 ack=1893430206 reason=segment"

#define V6LINE "id=7 ts=1 netns=4026532000 family=ipv6 " \
	"client=[fd00::2]:40000 server=[fd00::1]:443 side=client " \
	"old=CLOSED new=SYN_SENT flags=S seq=4294967295 ack=0 reason=segment"

#define TIMERLINE "id=9 ts=2 netns=1 family=ipv4 client=1.2.3.4:5 " \
	"server=5.6.7.8:22 side=client old=TIME_WAIT new=CLOSED flags=- " \
	"seq=0 ack=0 reason=timer"
#define RETRANSLINE "id=10 ts=3 netns=1 family=ipv4 client=1.2.3.4:5 " \
	"server=5.6.7.8:22 side=client old=SYN_SENT new=SYN_SENT flags=S " \
	"seq=7 ack=0 reason=retransmit"

static struct ts_event ev;

static enum ts_err parse(const char *s)
{
	return ts_event_parse(s, strlen(s), &ev);
}

static const char *fmt(void)
{
	static char buf[2048];

	return ts_event_format(&ev, buf, sizeof(buf)) < 0 ? NULL : buf;
}

static const char *json(void)
{
	static char buf[2048];

	return ts_event_json(&ev, buf, sizeof(buf)) < 0 ? NULL : buf;
}

TEST(event_v4)
{
	CHECK_EQ(parse(V4LINE), TS_OK);
	CHECK(!ev.lost);
	CHECK_EQ(ev.id, 1042);
	CHECK(ev.ts == 1732170000123456789ull);
	CHECK_EQ(ev.netns, 4026531840u);
	CHECK_EQ(ev.family, 4);
	CHECK_EQ(ev.client.family, 4);
	CHECK_EQ(ev.client.port, 51323);
	CHECK(!memcmp(ev.client.addr, "\x0a\x00\x02\x02", 4));
	CHECK_EQ(ev.server.port, 80);
	CHECK(!memcmp(ev.server.addr, "\x0a\x00\x02\x0f", 4));
	CHECK_EQ(ev.side, TCPSTATE_SERVER);
	CHECK_EQ(ev.old_state, TCPSTATE_SYN_RCVD);
	CHECK_EQ(ev.new_state, TCPSTATE_ESTABLISHED);
	CHECK_STR(ev.flags, ".");
	CHECK_EQ(ev.seq, 84689410u);
	CHECK_EQ(ev.ack, 1893430206u);
	CHECK_EQ(ev.reason, TCPSTATE_REASON_SEGMENT);
	CHECK_EQ(ev.nextra, 0);
	/* Printing it gives back exactly the module's line. */
	CHECK_STR(fmt(), V4LINE);
}

TEST(event_trailing_newline)
{
	CHECK_EQ(parse(V4LINE "\n"), TS_OK);
	CHECK_STR(fmt(), V4LINE);
	/* One newline only: a second is an unprintable byte. */
	CHECK_EQ(parse(V4LINE "\n\n"), TS_E_BYTE);
}

TEST(event_v6)
{
	static const uint8_t fd01[16] = { 0xfd, [15] = 1 };

	CHECK_EQ(parse(V6LINE), TS_OK);
	CHECK_EQ(ev.family, 6);
	CHECK_EQ(ev.server.family, 6);
	CHECK(!memcmp(ev.server.addr, fd01, 16));
	CHECK_EQ(ev.server.port, 443);
	CHECK_EQ(ev.client.port, 40000);
	CHECK_EQ(ev.side, TCPSTATE_CLIENT);
	CHECK_EQ(ev.old_state, TCPSTATE_CLOSED);
	CHECK_EQ(ev.new_state, TCPSTATE_SYN_SENT);
	CHECK_EQ(ev.seq, 4294967295u);
	CHECK_STR(fmt(), V6LINE);
}

TEST(event_timer)
{
	CHECK_EQ(parse(TIMERLINE), TS_OK);
	CHECK_EQ(ev.reason, TCPSTATE_REASON_TIMER);
	CHECK_STR(ev.flags, "-");
	CHECK_EQ(ev.seq, 0);
	CHECK_STR(fmt(), TIMERLINE);
}

TEST(event_reasons)
{
	static const char *const r[] = { "segment", "timer", "evict", "unload",
					 "retransmit", "keepalive",
					 "keepalive_ack" };
	char line[512];
	unsigned int i;

	CHECK_EQ(ARRAY_SIZE(r), TCPSTATE_REASON_NR);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		snprintf(line, sizeof(line),
			 "id=1 ts=1 netns=1 family=ipv4 client=1.1.1.1:1 server=2.2.2.2:2 side=server old=LAST_ACK new=CLOSED flags=- seq=0 ack=0 reason=%s",
			 r[i]);
		CHECK_EQ(parse(line), TS_OK);
		CHECK_EQ(ev.reason, i);
	}
	CHECK_EQ(parse("id=1 ts=1 netns=1 family=ipv4 client=1.1.1.1:1 server=2.2.2.2:2 side=server old=LAST_ACK new=CLOSED flags=- seq=0 ack=0 reason=magic"),
		 TS_E_VALUE);
}

TEST(event_every_state)
{
	char line[512];
	unsigned int i;

	for (i = 0; i < TCPSTATE_NR_STATES; i++) {
		snprintf(line, sizeof(line),
			 "id=1 ts=1 netns=1 family=ipv4 client=1.1.1.1:1 server=2.2.2.2:2 side=client old=%s new=%s flags=F. seq=1 ack=2 reason=segment",
			 tcpstate_state_name(i), tcpstate_state_name(TCPSTATE_NR_STATES - 1 - i));
		CHECK_EQ(parse(line), TS_OK);
		CHECK_EQ(ev.old_state, i);
		CHECK_EQ(ev.new_state, TCPSTATE_NR_STATES - 1 - i);
	}
	/* Names come from the core; the reader reads every one back. */
	for (i = 0; i < TCPSTATE_NR_STATES; i++)
		CHECK_EQ(ts_state_from_name(tcpstate_state_name(i),
					    strlen(tcpstate_state_name(i))), i);
	CHECK_EQ(ts_state_from_name("?", 1), -1);
	CHECK_EQ(ts_side_from_name(tcpstate_side_name(TCPSTATE_CLIENT)),
		 TCPSTATE_CLIENT);
	CHECK_EQ(ts_side_from_name(tcpstate_side_name(TCPSTATE_SERVER)),
		 TCPSTATE_SERVER);
}

/*
 * The grammar is one writer, tcpstate_event_line(), that the module and
 * tcpstate-pcap both print with, in the format TCPSTATE_EVENT_LINE names:
 * every state, side, reason, flag notation and keep-alive ending it can
 * write, IPv4 and IPv6, is what that printf format gives, parses into the
 * right fields and prints back the same line.
 */
TEST(event_line_format_round_trip)
{
	static const char *const addr[2][2] = {
		{ "10.0.2.2:51323", "10.0.2.15:80" },
		{ "[fd00::2]:40000", "[2001:db8::f]:443" },
	};
	static const char *const bare[2][2] = {
		{ "10.0.2.2", "10.0.2.15" }, { "fd00::2", "2001:db8::f" },
	};
	static const u16 port[2][2] = { { 51323, 80 }, { 40000, 443 } };
	char mine[TCPSTATE_EVENT_LINE_MAX];
	u8 a[2][2][16];
	static const u8 tcpflags[] = {
		TCPSTATE_TCP_SYN, TCPSTATE_TCP_SYN | TCPSTATE_TCP_ACK,
		TCPSTATE_TCP_ACK, TCPSTATE_TCP_FIN | TCPSTATE_TCP_PSH |
		TCPSTATE_TCP_ACK, TCPSTATE_TCP_RST, TCPSTATE_TCP_ECE |
		TCPSTATE_TCP_CWR | TCPSTATE_TCP_SYN | TCPSTATE_TCP_URG,
		0,	/* a timer's line: flags=- */
	};
	unsigned int fam, st, side, reason, ka, n = 0;
	char line[512], fl[TCPSTATE_TCPFLAGS_LEN];

	for (fam = 0; fam < 2; fam++)
		for (side = 0; side < 2; side++)
			CHECK_EQ(inet_pton(fam ? AF_INET6 : AF_INET,
					   bare[fam][side], a[fam][side]), 1);
	for (fam = 0; fam < 2; fam++)
	for (st = 0; st < TCPSTATE_NR_STATES; st++)
	for (side = 0; side < 2; side++)
	for (reason = 0; reason < TCPSTATE_REASON_NR; reason++)
	for (ka = 0; ka < TCPSTATE_KA_END_NR; ka++) {
		const char *kname = tcpstate_ka_end_name(ka);
		unsigned int next = tcpstate_reason_moves(reason) ?
				    (st + 1) % TCPSTATE_NR_STATES : st;

		if (tcpflags[n % ARRAY_SIZE(tcpflags)])
			tcpstate_tcpflags_format(tcpflags[n % ARRAY_SIZE(tcpflags)],
						 fl);
		else
			strcpy(fl, "-");
		snprintf(line, sizeof(line), TCPSTATE_EVENT_LINE,
			 1000ull + n, 1732170000123456789ull, 4026531840u,
			 fam ? "ipv6" : "ipv4", addr[fam][0], addr[fam][1],
			 tcpstate_side_name(side), tcpstate_state_name(st),
			 tcpstate_state_name(next), fl, 4294967295u - n, n,
			 tcpstate_reason_name(reason),
			 kname ? " keepalive=" : "", kname ? kname : "");
		{
			struct tcpstate_line l = {
				.id = 1000ull + n,
				.ts_ns = 1732170000123456789ull,
				.client = a[fam][0], .server = a[fam][1],
				.netns = 4026531840u,
				.seq = 4294967295u - n, .ack = n,
				.cport = port[fam][0], .sport = port[fam][1],
				.alen = fam ? 16 : 4, .side = side,
				.old_state = st, .new_state = next,
				.tcpflags = tcpflags[n % ARRAY_SIZE(tcpflags)],
				.reason = reason, .ka_end = ka,
			};

			CHECK_EQ(tcpstate_event_line(&l, mine), strlen(line));
			CHECK_STR(mine, line);
		}
		line[strcspn(line, "\n")] = '\0';
		CHECK_EQ(parse(line), TS_OK);
		CHECK_EQ(ev.id, 1000 + n);
		CHECK_EQ(ev.family, fam ? 6 : 4);
		CHECK_EQ(ev.side, side);
		CHECK_EQ(ev.old_state, st);
		CHECK_EQ(ev.new_state, next);
		CHECK_EQ(ev.reason, reason);
		CHECK_STR(ev.flags, fl);
		CHECK_EQ(ev.seq, 4294967295u - n);
		CHECK_EQ(ev.ack, n);
		if (kname)
			CHECK_STR(ts_event_extra(&ev, "keepalive"), kname);
		else
			CHECK(!ts_event_extra(&ev, "keepalive"));
		CHECK_STR(fmt(), line);
		n++;
	}
	CHECK_EQ(n, 2 * TCPSTATE_NR_STATES * 2 * TCPSTATE_REASON_NR *
		    TCPSTATE_KA_END_NR);
}

TEST(event_lost)
{
	CHECK_EQ(parse("id=1043 ts=1732170000123457000 lost=12"), TS_OK);
	CHECK(ev.lost);
	CHECK_EQ(ev.id, 1043);
	CHECK_EQ(ev.nlost, 12);
	CHECK_STR(fmt(), "id=1043 ts=1732170000123457000 lost=12");
	CHECK_STR(json(), "{\"id\":1043,\"ts\":1732170000123457000,\"lost\":12}");
	CHECK_EQ(parse("id=1 ts=2 lost=x"), TS_E_VALUE);
	CHECK_EQ(parse("id=1 ts=2 lost="), TS_E_VALUE);
	/* Keys after lost= are extras like any other. */
	CHECK_EQ(parse("id=1 ts=2 lost=3 why=slow"), TS_OK);
	CHECK_EQ(ev.nextra, 1);
	CHECK_STR(json(), "{\"id\":1,\"ts\":2,\"lost\":3,\"why\":\"slow\"}");
}

TEST(event_unknown_trailing_keys)
{
	CHECK_EQ(parse(V4LINE " rtt_us=812 cpu=1 comm=curl empty= zero=007"),
		 TS_OK);
	CHECK_EQ(ev.new_state, TCPSTATE_ESTABLISHED);
	CHECK_EQ(ev.nextra, 5);
	CHECK_STR(ts_event_extra_key(&ev, 0), "rtt_us");
	CHECK_STR(ts_event_extra_val(&ev, 0), "812");
	CHECK_STR(ts_event_extra_key(&ev, 2), "comm");
	CHECK_STR(ts_event_extra_val(&ev, 2), "curl");
	CHECK_STR(ts_event_extra_val(&ev, 3), "");
	CHECK(ts_event_extra_key(&ev, 5) == NULL);
	/* Numbers stay numbers; "007" is not a JSON number, so a string. */
	CHECK(strstr(json(), ",\"reason\":\"segment\",\"rtt_us\":812,\"cpu\":1,\"comm\":\"curl\",\"empty\":\"\",\"zero\":\"007\"}"));
	CHECK_STR(fmt(), V4LINE " rtt_us=812 cpu=1 comm=curl empty= zero=007");
}

TEST(event_many_extras_kept_to_limit)
{
	char line[TS_LINE_MAX + 1];
	int n, i;

	n = snprintf(line, sizeof(line), "%s", V4LINE);
	for (i = 0; i < TS_MAX_EXTRA + 4; i++)
		n += snprintf(line + n, sizeof(line) - n, " k%d=%d", i, i);
	CHECK_EQ(parse(line), TS_OK);
	CHECK_EQ(ev.nextra, TS_MAX_EXTRA);
}

TEST(event_json_keys)
{
	CHECK_EQ(parse(V4LINE), TS_OK);
	CHECK_STR(json(),
		  "{\"id\":1042,\"ts\":1732170000123456789,\"netns\":4026531840,"
		  "\"family\":\"ipv4\",\"client\":\"10.0.2.2:51323\","
		  "\"server\":\"10.0.2.15:80\",\"side\":\"server\","
		  "\"old\":\"SYN_RCVD\",\"new\":\"ESTABLISHED\",\"flags\":\".\","
		  "\"seq\":84689410,\"ack\":1893430206,\"reason\":\"segment\"}");
	CHECK_EQ(parse(V6LINE), TS_OK);
	CHECK(strstr(json(), "\"client\":\"[fd00::2]:40000\""));
	/* A buffer too small is refused, never overrun. */
	{
		char small[40];

		memset(small, 'x', sizeof(small));
		CHECK_EQ(ts_event_json(&ev, small, sizeof(small)), -1);
	}
}

TEST(event_extra_json_escapes)
{
	CHECK_EQ(parse(V4LINE " note=a\"b\\c"), TS_OK);
	CHECK(strstr(json(), ",\"note\":\"a\\\"b\\\\c\"}"));
}

static void reject(const char *line, enum ts_err want)
{
	CHECK_EQ(parse(line), want);
}

TEST(event_malformed)
{
	reject("", TS_E_KEY);
	reject("\n", TS_E_KEY);
	reject("id=1", TS_E_KEY);
	reject("ts=1 id=1 lost=2", TS_E_KEY);
	reject("id= ts=1 lost=2", TS_E_VALUE);
	reject("id=-1 ts=1 lost=2", TS_E_VALUE);
	reject("id=+1 ts=1 lost=2", TS_E_VALUE);
	reject("id=18446744073709551616 ts=1 lost=2", TS_E_VALUE);
	reject("id=1 ts=1 lost=2 junk", TS_E_EXTRA);
	reject("id=1 ts=1 lost=2 =x", TS_E_EXTRA);
	reject("id=1 ts=1 lost=2 Key=x", TS_E_EXTRA);
	reject("id=1 ts=1 lost=2 id=3", TS_E_EXTRA);
	reject("id=1\tts=1 lost=2", TS_E_BYTE);
	reject("id=1 ts=1 lost=2\r", TS_E_BYTE);
	reject("id=1 ts=1 lost=2 x=\xc3\xa9", TS_E_BYTE);
	/* Truncated after every key. */
	{
		static const char *const cut[] = {
			" netns=", " family=", " client=", " server=", " side=",
			" old=", " new=", " flags=", " seq=", " ack=", " reason=",
		};
		char line[512];
		unsigned int i;

		for (i = 0; i < ARRAY_SIZE(cut); i++) {
			const char *at = strstr(V4LINE, cut[i]);

			snprintf(line, sizeof(line), "%.*s",
				 (int)(at - V4LINE), V4LINE);
			CHECK_EQ(parse(line), TS_E_KEY);
		}
	}
}

TEST(event_malformed_values)
{
	static const char *const bad[][2] = {
		{ "family=ipv4", "family=ipv5" },
		{ "client=10.0.2.2:51323", "client=10.0.2.2" },
		{ "client=10.0.2.2:51323", "client=10.0.2.2:65536" },
		{ "client=10.0.2.2:51323", "client=10.0.2.256:1" },
		{ "client=10.0.2.2:51323", "client=[::1]:1" },
		{ "client=10.0.2.2:51323", "client=10.0.2.2:" },
		{ "client=10.0.2.2:51323", "client=:80" },
		{ "server=10.0.2.15:80", "server=10.0.2.15:-80" },
		{ "side=server", "side=both" },
		{ "old=SYN_RCVD", "old=syn_rcvd" },
		{ "new=ESTABLISHED", "new=ESTAB" },
		{ "flags=.", "flags=" },
		{ "flags=.", "flags=SSSSSSSSSSSSSSSSSSSS" },
		{ "seq=84689410", "seq=4294967296" },
		{ "ack=1893430206", "ack=0x10" },
		{ "reason=segment", "reason=" },
	};
	char line[512];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *at = strstr(V4LINE, bad[i][0]);

		CHECK(at != NULL);
		snprintf(line, sizeof(line), "%.*s%s%s", (int)(at - V4LINE),
			 V4LINE, bad[i][1], at + strlen(bad[i][0]));
		if (parse(line) != TS_E_VALUE) {
			fprintf(stderr, "  accepted: %s\n", line);
			CHECK(0);
		}
	}
	/* IPv6 addresses need brackets and the right family. */
	reject("id=7 ts=1 netns=1 family=ipv6 client=fd00::2:40000 server=[fd00::1]:443 side=client old=CLOSED new=SYN_SENT flags=S seq=1 ack=0 reason=segment",
	       TS_E_VALUE);
	reject("id=7 ts=1 netns=1 family=ipv6 client=[fd00::2]:40000 server=1.2.3.4:443 side=client old=CLOSED new=SYN_SENT flags=S seq=1 ack=0 reason=segment",
	       TS_E_VALUE);
	reject("id=7 ts=1 netns=1 family=ipv6 client=[fd00::2%eth0]:40000 server=[fd00::1]:443 side=client old=CLOSED new=SYN_SENT flags=S seq=1 ack=0 reason=segment",
	       TS_E_VALUE);
}

TEST(event_too_long)
{
	char line[TS_LINE_MAX + 64];
	int n = snprintf(line, sizeof(line), "%s x=", V4LINE);

	memset(line + n, 'a', sizeof(line) - n - 1);
	line[sizeof(line) - 1] = '\0';
	CHECK_EQ(parse(line), TS_E_LONG);
	/* Exactly TS_LINE_MAX is fine. */
	line[TS_LINE_MAX] = '\0';
	CHECK_EQ(parse(line), TS_OK);
}

TEST(event_not_nul_terminated)
{
	/* The parser reads only the bytes it is given. */
	char *p = malloc(strlen(V4LINE));

	memcpy(p, V4LINE, strlen(V4LINE));
	CHECK_EQ(ts_event_parse(p, strlen(V4LINE), &ev), TS_OK);
	CHECK_STR(ev.flags, ".");
	CHECK_EQ(ts_event_parse(p, strlen(V4LINE) - 3, &ev), TS_E_VALUE);
	CHECK_EQ(ts_event_parse(p, strlen(V4LINE) - 9, &ev), TS_E_KEY);
	free(p);
}

/* The table. */

#define HEADER "netns       family client                 server                 client_state  server_state  age_ms   rtt_us  history   flags"
#define ROW4 "4026531840  ipv4   10.0.2.2:51323         10.0.2.15:80           TIME_WAIT     CLOSED        1523     812     ShADadFf  -"
#define ROW6 "4026532000  ipv6   [fd00::2]:40000        [fd00::1]:443          SYN_SENT      LISTEN        3        -       S         pickup,guessed"

static struct ts_row row;
static struct ts_header hdr;

TEST(table_header)
{
	CHECK(ts_table_is_header(HEADER, strlen(HEADER)));
	CHECK(!ts_table_is_header(ROW4, strlen(ROW4)));
	CHECK(!ts_table_is_header("netnsx", 6));
	CHECK_EQ(ts_header_parse(HEADER "\n", strlen(HEADER) + 1, &hdr), TS_OK);
	CHECK_EQ(hdr.ncols, 10);
	CHECK_STR(ts_header_col(&hdr, 4), "client_state");
	CHECK_EQ(ts_header_parse(HEADER " cpu", strlen(HEADER) + 4, &hdr),
		 TS_OK);
	CHECK_STR(ts_header_col(&hdr, 10), "cpu");
	CHECK_EQ(ts_header_parse("netns family", 12, &hdr), TS_E_KEY);
	{
		static const char swapped[] = "netns family server client client_state server_state age_ms rtt_us history flags";

		CHECK_EQ(ts_header_parse(swapped, strlen(swapped), &hdr),
			 TS_E_KEY);
	}
	CHECK_EQ(ts_row_parse(HEADER, strlen(HEADER), &row), TS_E_HEADER);
}

TEST(table_row_v4)
{
	char buf[1024];

	CHECK_EQ(ts_row_parse(ROW4 "\n", strlen(ROW4) + 1, &row), TS_OK);
	CHECK_EQ(row.netns, 4026531840u);
	CHECK_EQ(row.family, 4);
	CHECK_EQ(row.client.port, 51323);
	CHECK_EQ(row.server.port, 80);
	CHECK_EQ(row.state[TCPSTATE_CLIENT], TCPSTATE_TIME_WAIT);
	CHECK_EQ(row.state[TCPSTATE_SERVER], TCPSTATE_CLOSED);
	CHECK_EQ(row.age_ms, 1523);
	CHECK(row.has_rtt);
	CHECK_EQ(row.rtt_us, 812);
	CHECK_STR(row.history, "ShADadFf");
	CHECK_STR(row.flags, "-");
	CHECK_EQ(row.nextra, 0);
	CHECK(ts_row_json(&row, NULL, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "{\"netns\":4026531840,\"family\":\"ipv4\",\"client\":\"10.0.2.2:51323\",\"server\":\"10.0.2.15:80\",\"client_state\":\"TIME_WAIT\",\"server_state\":\"CLOSED\",\"age_ms\":1523,\"rtt_us\":812,\"history\":\"ShADadFf\",\"flags\":[]}");
}

TEST(table_row_v6_and_extras)
{
	char buf[1024];

	CHECK_EQ(ts_row_parse(ROW6 "  77 x", strlen(ROW6) + 6, &row), TS_OK);
	CHECK_EQ(row.family, 6);
	CHECK_EQ(row.server.port, 443);
	CHECK(!row.has_rtt);
	CHECK_STR(row.flags, "pickup,guessed");
	CHECK_EQ(row.nextra, 2);
	CHECK_EQ(ts_header_parse(HEADER " cpu", strlen(HEADER) + 4, &hdr),
		 TS_OK);
	CHECK(ts_row_json(&row, &hdr, buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "\"rtt_us\":null,\"history\":\"S\",\"flags\":[\"pickup\",\"guessed\"],\"cpu\":77,\"col12\":\"x\"}"));
}

TEST(table_row_malformed)
{
	static const char *const bad[] = {
		"",
		"4026531840  ipv4   10.0.2.2:51323",
		"x  ipv4   10.0.2.2:1 10.0.2.15:80 CLOSED CLOSED 1 2 S -",
		"1  ipv7   10.0.2.2:1 10.0.2.15:80 CLOSED CLOSED 1 2 S -",
		"1  ipv6   10.0.2.2:1 10.0.2.15:80 CLOSED CLOSED 1 2 S -",
		"1  ipv4   10.0.2.2:1 10.0.2.15:80 CLOSED OPEN 1 2 S -",
		"1  ipv4   10.0.2.2:1 10.0.2.15:80 CLOSED CLOSED -1 2 S -",
		"1  ipv4   10.0.2.2:1 10.0.2.15:80 CLOSED CLOSED 1 2x S -",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECK(ts_row_parse(bad[i], strlen(bad[i]), &row) != TS_OK);
}

/* Filters. */

static struct ts_filter flt;

static bool match(const char *line)
{
	if (parse(line) != TS_OK) {
		CHECK(0);
		return false;
	}
	return ts_filter_event(&flt, &ev);
}

TEST(filter_none)
{
	ts_filter_init(&flt);
	CHECK(!ts_filter_any(&flt));
	CHECK(match(V4LINE));
	CHECK(match(V6LINE));
}

TEST(filter_family)
{
	ts_filter_init(&flt);
	flt.families = TS_FAM_V4;
	CHECK(ts_filter_any(&flt));
	CHECK(match(V4LINE));
	CHECK(!match(V6LINE));
	flt.families = TS_FAM_V6;
	CHECK(!match(V4LINE));
	CHECK(match(V6LINE));
	flt.families = TS_FAM_V4 | TS_FAM_V6;
	CHECK(match(V4LINE));
	CHECK(match(V6LINE));
}

TEST(filter_ports)
{
	int p = -1;

	CHECK_EQ(ts_parse_port("80", &p), 0);
	CHECK_EQ(p, 80);
	CHECK_EQ(ts_parse_port("65535", &p), 0);
	CHECK_EQ(ts_parse_port("65536", &p), -1);
	CHECK_EQ(ts_parse_port("http", &p), -1);
	CHECK_EQ(ts_parse_port("", &p), -1);
	CHECK_EQ(ts_parse_port(NULL, &p), -1);

	ts_filter_init(&flt);
	flt.port = 80;			/* either end */
	CHECK(match(V4LINE));
	flt.port = 51323;
	CHECK(match(V4LINE));
	flt.port = 443;
	CHECK(!match(V4LINE));

	ts_filter_init(&flt);
	flt.sport = 51323;		/* the client's port */
	CHECK(match(V4LINE));
	flt.sport = 80;
	CHECK(!match(V4LINE));

	ts_filter_init(&flt);
	flt.dport = 80;			/* the server's port */
	CHECK(match(V4LINE));
	flt.dport = 51323;
	CHECK(!match(V4LINE));
	flt.dport = 443;
	CHECK(match(V6LINE));

	/* ANDed. */
	ts_filter_init(&flt);
	flt.sport = 51323;
	flt.dport = 443;
	CHECK(!match(V4LINE));
}

TEST(filter_host)
{
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.15"), 0);
	CHECK(match(V4LINE));		/* the server */
	CHECK(!match(V6LINE));

	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.2"), 0);
	CHECK(match(V4LINE));		/* the client */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.3"), 0);
	CHECK(!match(V4LINE));

	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.0.0/8"), 0);
	CHECK(match(V4LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.0/31"), 0);
	CHECK(!match(V4LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.14/31"), 0);
	CHECK(match(V4LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "0.0.0.0/0"), 0);
	CHECK(match(V4LINE));
	CHECK(!match(V6LINE));		/* a v4 prefix never matches v6 */

	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "fd00::/8"), 0);
	CHECK(match(V6LINE));
	CHECK(!match(V4LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "[fd00::1]"), 0);
	CHECK(match(V6LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "fd00::3/127"), 0);
	CHECK(match(V6LINE));		/* fd00::2, the client */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "fd00::4/127"), 0);
	CHECK(!match(V6LINE));

	/* Several hosts are ORed. */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "192.168.0.1"), 0);
	CHECK(!match(V4LINE));
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.15"), 0);
	CHECK(match(V4LINE));

	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.15/33"), -1);
	CHECK_EQ(ts_filter_add_host(&flt, "fd00::/129"), -1);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.15/"), -1);
	CHECK_EQ(ts_filter_add_host(&flt, "example.com"), -1);
	CHECK_EQ(ts_filter_add_host(&flt, ""), -1);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2"), -1);
	CHECK_EQ(flt.nhost, 0);
}

#define S(x) (1u << TCPSTATE_##x)

TEST(state_names_and_groups)
{
	CHECK_EQ(ts_state_set("ESTABLISHED", 11), S(ESTABLISHED));
	CHECK_EQ(ts_state_set("established", 11), S(ESTABLISHED));
	CHECK_EQ(ts_state_set("syn-recv", 8), S(SYN_RCVD));
	CHECK_EQ(ts_state_set("syn-rcvd", 8), S(SYN_RCVD));
	CHECK_EQ(ts_state_set("SYN_RCVD", 8), S(SYN_RCVD));
	CHECK_EQ(ts_state_set("fin-wait-1", 10), S(FIN_WAIT_1));
	CHECK_EQ(ts_state_set("time-wait", 9), S(TIME_WAIT));
	CHECK_EQ(ts_state_set("listening", 9), S(LISTEN));
	CHECK_EQ(ts_state_set("closed", 6), S(CLOSED));
	CHECK_EQ(ts_state_set("CLOSING", 7), S(CLOSING));
	CHECK_EQ(ts_state_set("bogus", 5), 0);
	CHECK_EQ(ts_state_set("", 0), 0);

	/* ss(8)'s groups. */
	CHECK_EQ(ts_state_set("all", 3), (1u << TCPSTATE_NR_STATES) - 1);
	CHECK_EQ(ts_state_set("connected", 9),
		 S(SYN_SENT) | S(SYN_RCVD) | S(ESTABLISHED) | S(FIN_WAIT_1) |
		 S(FIN_WAIT_2) | S(CLOSE_WAIT) | S(CLOSING) | S(LAST_ACK) |
		 S(TIME_WAIT));
	CHECK_EQ(ts_state_set("synchronized", 12),
		 S(SYN_RCVD) | S(ESTABLISHED) | S(FIN_WAIT_1) |
		 S(FIN_WAIT_2) | S(CLOSE_WAIT) | S(CLOSING) | S(LAST_ACK) |
		 S(TIME_WAIT));
	CHECK_EQ(ts_state_set("bucket", 6), S(SYN_RCVD) | S(TIME_WAIT));
	CHECK_EQ(ts_state_set("big", 3),
		 S(CLOSED) | S(LISTEN) | S(SYN_SENT) | S(ESTABLISHED) |
		 S(FIN_WAIT_1) | S(FIN_WAIT_2) | S(CLOSE_WAIT) | S(CLOSING) |
		 S(LAST_ACK));
	/* tcpstate's own. */
	CHECK_EQ(ts_state_set("handshake", 9), S(SYN_SENT) | S(SYN_RCVD));
	CHECK_EQ(ts_state_set("closing", 7),
		 S(FIN_WAIT_1) | S(FIN_WAIT_2) | S(CLOSE_WAIT) | S(CLOSING) |
		 S(LAST_ACK) | S(TIME_WAIT));

	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "handshake,CLOSED"), 0);
	CHECK_EQ(flt.states, S(SYN_SENT) | S(SYN_RCVD) | S(CLOSED));
	CHECK_EQ(ts_filter_add_states(&flt, "established,nope"), -1);
	CHECK_EQ(flt.states, S(SYN_SENT) | S(SYN_RCVD) | S(CLOSED));
	CHECK_EQ(ts_filter_add_states(&flt, "established,"), -1);
	CHECK_EQ(ts_filter_add_states(&flt, "time-wait"), 0);
	CHECK_EQ(flt.states, S(SYN_SENT) | S(SYN_RCVD) | S(CLOSED) |
		 S(TIME_WAIT));
}

TEST(filter_state_is_the_new_state)
{
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "ESTABLISHED"), 0);
	CHECK(match(V4LINE));		/* SYN_RCVD -> ESTABLISHED */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "SYN_RCVD"), 0);
	CHECK(!match(V4LINE));		/* the old state does not count */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "handshake"), 0);
	CHECK(match(V6LINE));		/* -> SYN_SENT */
	CHECK(!match(V4LINE));
	CHECK(!match(TIMERLINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "closing"), 0);
	CHECK(!match(TIMERLINE));	/* -> CLOSED */
	CHECK(!match(V4LINE));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "synchronized"), 0);
	CHECK(match(V4LINE));
	CHECK(!match(V6LINE));
	/* a segment sent again (tcpstate-pcap --retransmits) moves nothing */
	ts_filter_init(&flt);
	CHECK(match(RETRANSLINE));
	CHECK_EQ(ts_filter_add_states(&flt, "SYN_SENT"), 0);
	CHECK(!match(RETRANSLINE));
	CHECK(match(V6LINE));
}

TEST(filter_side_and_netns)
{
	ts_filter_init(&flt);
	flt.side = ts_side_from_name("server");
	CHECK_EQ(flt.side, TCPSTATE_SERVER);
	CHECK(match(V4LINE));
	CHECK(!match(V6LINE));
	flt.side = ts_side_from_name("client");
	CHECK(!match(V4LINE));
	CHECK(match(V6LINE));
	CHECK_EQ(ts_side_from_name("both"), -1);

	ts_filter_init(&flt);
	flt.has_netns = true;
	flt.netns = 4026531840u;
	CHECK(match(V4LINE));
	CHECK(!match(V6LINE));
}

TEST(filter_lost_always_passes)
{
	ts_filter_init(&flt);
	flt.families = TS_FAM_V6;
	flt.port = 1;
	flt.states = S(LISTEN);
	flt.side = TCPSTATE_CLIENT;
	CHECK(match("id=5 ts=6 lost=7"));
}

static bool match_row(const char *line)
{
	if (ts_row_parse(line, strlen(line), &row) != TS_OK) {
		CHECK(0);
		return false;
	}
	return ts_filter_row(&flt, &row);
}

TEST(filter_rows)
{
	ts_filter_init(&flt);
	CHECK(match_row(ROW4));
	CHECK(match_row(ROW6));
	flt.families = TS_FAM_V6;
	CHECK(!match_row(ROW4));
	CHECK(match_row(ROW6));

	/* --state matches either side's state, or --side's. */
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "TIME_WAIT"), 0);
	CHECK(match_row(ROW4));
	CHECK(!match_row(ROW6));
	flt.side = TCPSTATE_SERVER;
	CHECK(!match_row(ROW4));
	flt.side = TCPSTATE_CLIENT;
	CHECK(match_row(ROW4));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_states(&flt, "CLOSED"), 0);
	CHECK(match_row(ROW4));
	flt.side = TCPSTATE_CLIENT;
	CHECK(!match_row(ROW4));

	ts_filter_init(&flt);
	flt.dport = 443;
	CHECK(!match_row(ROW4));
	CHECK(match_row(ROW6));
	ts_filter_init(&flt);
	CHECK_EQ(ts_filter_add_host(&flt, "10.0.2.0/24"), 0);
	CHECK(match_row(ROW4));
	CHECK(!match_row(ROW6));
}

TEST(endpoint_roundtrip)
{
	static const char *const eps[][2] = {
		{ "4", "0.0.0.0:0" },
		{ "4", "255.255.255.255:65535" },
		{ "6", "[::]:1" },
		{ "6", "[::ffff:1.2.3.4]:80" },
		{ "6", "[2001:db8::8:800:200c:417a]:8080" },
	};
	struct ts_endpoint ep;
	char buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(eps); i++) {
		CHECK_EQ(ts_endpoint_parse(eps[i][1], strlen(eps[i][1]),
					   eps[i][0][0] - '0', &ep), 0);
		CHECK(ts_endpoint_format(&ep, buf, sizeof(buf)) > 0);
		CHECK_STR(buf, eps[i][1]);
	}
	CHECK_EQ(ts_endpoint_format(&ep, buf, 5), -1);
}

/* The command line. */

static struct reader_cfg pc;

/* Parse @line split at spaces, after argv[0]. */
static enum parse_result cmdline(const char *line)
{
	static char buf[65536];
	static char *argv[8192];
	int argc = 0;
	char *p;

	argv[argc++] = "tcpstate";
	snprintf(buf, sizeof(buf), "%s", line);
	for (p = strtok(buf, " "); p && argc < 8191; p = strtok(NULL, " "))
		argv[argc++] = p;
	argv[argc] = NULL;
	return tcpstate_parse(argc, argv, &pc);
}

/* @word repeated @n times, then @tail. */
static const char *repeat(const char *word, int n, const char *tail)
{
	static char buf[65536];
	size_t len = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s ", word);
	snprintf(buf + len, sizeof(buf) - len, "%s", tail);
	return buf;
}

TEST(cmdline_repeated_options)
{
	static const char *const opts[] = {
		"-4", "-6", "-j", "--json", "--no-color", "-p 80",
		"--port=80", "--sport 1", "--dport 2", "-s handshake",
		"--side client", "--netns 7", "--proc /x", "-46j",
	};
	static const int times[] = { 30, 100, 1000 };
	static char line[65536];
	unsigned int i, t;

	/* Any option, any number of times, before or after the command. */
	for (i = 0; i < ARRAY_SIZE(opts); i++) {
		for (t = 0; t < ARRAY_SIZE(times); t++) {
			CHECK_EQ(cmdline(repeat(opts[i], times[t], "list")),
				 PARSE_OK);
			CHECK_STR(pc.cmd->name, "list");
			snprintf(line, sizeof(line), "list %s",
				 repeat(opts[i], times[t], ""));
			CHECK_EQ(cmdline(line), PARSE_OK);
			CHECK_STR(pc.cmd->name, "list");
			CHECK_EQ(cmdline(repeat(opts[i], times[t], "")),
				 PARSE_OK);
			CHECK_STR(pc.cmd->name, "watch");
		}
	}
	CHECK_EQ(cmdline(repeat("-4", 30, "list")), PARSE_OK);
	CHECK_EQ(pc.filter.families, TS_FAM_V4);
	CHECK_EQ(cmdline(repeat("-a -l -n 3 --ts ns", 200, "")), PARSE_OK);
	CHECK(pc.all && pc.ladder && pc.count == 3 && pc.ts_mode == TS_NS);
	CHECK_EQ(cmdline(repeat("-w -n 2", 200, "stats")), PARSE_OK);
	CHECK(pc.watch && pc.count == 2);
	/* Hosts are kept, so they have a limit, said as an error. */
	CHECK_EQ(cmdline(repeat("-H 10.0.0.1", TS_MAX_HOSTS, "list")),
		 PARSE_OK);
	CHECK_EQ(pc.filter.nhost, TS_MAX_HOSTS);
	CHECK_EQ(cmdline(repeat("-H 10.0.0.1", TS_MAX_HOSTS + 1, "list")),
		 PARSE_ERROR);
	CHECK_EQ(cmdline(repeat("-H ::1", 1000, "")), PARSE_ERROR);
}

TEST(cmdline_command_word)
{
	CHECK_EQ(cmdline(""), PARSE_OK);
	CHECK_STR(pc.cmd->name, "watch");
	CHECK_STR(pc.proc, "/proc");
	CHECK_EQ(pc.count, -1);
	CHECK_EQ(cmdline("watch -a"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "watch");
	CHECK(pc.all);
	/* Options may come before the command, with their arguments. */
	CHECK_EQ(cmdline("--proc /tmp/x list"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "list");
	CHECK_STR(pc.proc, "/tmp/x");
	CHECK_EQ(cmdline("--proc=/tmp/x -j stats"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "stats");
	CHECK(pc.json);
	CHECK_EQ(cmdline("-n 5 stats -w"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "stats");
	CHECK_EQ(pc.count, 5);
	CHECK_EQ(cmdline("-jn2 stats"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "stats");
	CHECK_EQ(pc.count, 2);
	CHECK_EQ(cmdline("-4p 80 list"), PARSE_OK);
	CHECK_EQ(pc.filter.port, 80);
	CHECK_EQ(cmdline("--cou 3 stats"), PARSE_OK);
	CHECK_EQ(pc.count, 3);
	CHECK_EQ(cmdline("-- list"), PARSE_OK);
	CHECK_STR(pc.cmd->name, "list");
	CHECK_EQ(cmdline("-s closing --side client"), PARSE_OK);
	CHECK_EQ(pc.filter.side, TCPSTATE_CLIENT);
	/* "list" here is the port's argument, not the command. */
	CHECK_EQ(cmdline("-p list"), PARSE_ERROR);
	CHECK_STR(pc.err, "--port: 'list' is not a port");
}

TEST(cmdline_errors)
{
	static const struct {
		const char *line, *err;
	} bad[] = {
		{ "frob", "unknown command 'frob'" },
		{ "list list", "unexpected argument 'list'" },
		{ "stats --port 80", "--port does not apply to 'stats'" },
		{ "stats -p 80", "--port does not apply to 'stats'" },
		{ "list --ladder", "--ladder does not apply to 'list'" },
		{ "list -a", "--all does not apply to 'list'" },
		{ "-w", "--watch does not apply to 'watch'" },
		{ "--json --ladder", "--json and --ladder do not go together" },
		{ "--port 70000", "--port: '70000' is not a port" },
		{ "--state bogus", "--state: 'bogus' is not a state or a group" },
		{ "--side both", "--side: 'both' is not client or server" },
		{ "-n 0", "-n: '0' is not a count" },
		{ "-n 99999999999999999999", "-n: '99999999999999999999' is not a count" },
		{ "--ts=utc", "--ts: 'utc' is not abs, rel or ns" },
		{ "--netns x", "--netns: 'x' is not a namespace inode number" },
		{ "-x", "unknown option -x" },
		{ "-n", "option -n needs an argument" },
		{ "--bogus", "unknown option or missing argument: --bogus" },
		{ "--s client", "unknown option or missing argument: --s" },
		{ "--proc", "unknown option or missing argument: --proc" },
		{ "-- -4", "unknown command '-4'" },
		{ "stats --syn -w", "--syn goes without --watch, --prometheus and --time-wait" },
		{ "stats --time-wait --syn", "--syn goes without --watch, --prometheus and --time-wait" },
		{ "list --syn", "--syn does not apply to 'list'" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		CHECK_EQ(cmdline(bad[i].line), PARSE_ERROR);
		CHECK_STR(pc.err, bad[i].err);
	}
	CHECK_EQ(cmdline("-h"), PARSE_HELP);
	CHECK_EQ(cmdline("stats --help"), PARSE_HELP);
	CHECK_EQ(cmdline("stats --syn --json"), PARSE_OK);
	CHECK_EQ(cmdline("list -V"), PARSE_VERSION);
}

/* The commands' getopt tables agree with each other and with themselves. */
TEST(cmdline_tables)
{
	static const struct command *const cmds[] = {
		&watch_command, &list_command, &stats_command,
	};
	const struct option *o, *w;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		const char *sh = cmds[i]->shortopts;

		for (o = cmds[i]->longopts; o->name; o++) {
			const char *p = o->val < 256 ? strchr(sh, o->val) : NULL;

			/* A short form takes an argument as the long one does. */
			if (p)
				CHECK_EQ(p[1] == ':',
					 o->has_arg == required_argument);
			else
				CHECK(o->val >= 256);
		}
	}
	/* The filters mean the same in watch as in list. */
	for (o = list_command.longopts; o->name; o++) {
		for (w = watch_command.longopts; w->name; w++)
			if (!strcmp(w->name, o->name))
				break;
		CHECK(w->name && w->val == o->val && w->has_arg == o->has_arg);
	}
	/* Every command has --help, --json and --proc. */
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		CHECK_EQ(cmdline(cmds[i] == &watch_command ? "--help" :
				 cmds[i] == &list_command ? "list --help" :
				 "stats --help"), PARSE_HELP);
	}
	CHECK_EQ(cmdline("stats --json --proc=/p"), PARSE_OK);
	CHECK(pc.json && !strcmp(pc.proc, "/p"));
}

/* tcpstate_help() into a string. */
static const char *help_text(void)
{
	static char buf[16384];
	FILE *f = tmpfile();
	size_t n = 0;
	int saved;

	buf[0] = '\0';
	if (!f)
		return buf;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(f), STDOUT_FILENO);
	tcpstate_help();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * --help is written out, not generated: every option of every command is
 * on it once, with the commands it applies to ("[watch,list]"; none when
 * it applies to all of them).
 */
TEST(cmdline_help_names_every_option)
{
	static const struct command *const cmds[] = {
		&watch_command, &list_command, &stats_command,
	};
	const char *help = help_text();
	const struct option *o;
	unsigned int i, j;

	CHECK(strstr(help, "Usage: tcpstate [COMMAND] [OPTION]..."));
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		for (o = cmds[i]->longopts; o->name; o++) {
			char want[64], applies[64] = "", line[512];
			const char *at, *p;
			unsigned int n = 0;

			if (o->val < 256)
				snprintf(want, sizeof(want), "\n  -%c, --%s",
					 o->val, o->name);
			else
				snprintf(want, sizeof(want), "\n      --%s",
					 o->name);
			at = strstr(help, want);
			CHECK(at != NULL);
			if (!at)
				continue;
			CHECK(!strstr(at + 1, want));
			/* Its text runs to the next option or a blank line. */
			for (p = at + 1; *p; p++)
				if (p[0] == '\n' &&
				    (p[1] == '\n' || !strncmp(p + 1, "  -", 3) ||
				     !strncmp(p + 1, "      --", 8)))
					break;
			snprintf(line, sizeof(line), "%.*s", (int)(p - at), at);
			for (j = 0; j < ARRAY_SIZE(cmds); j++) {
				const struct option *q;

				for (q = cmds[j]->longopts; q->name; q++)
					if (q->val == o->val)
						break;
				if (!q->name)
					continue;
				n++;
				snprintf(applies + strlen(applies),
					 sizeof(applies) - strlen(applies),
					 "%s%s", applies[0] ? "," : "[",
					 cmds[j]->name);
			}
			if (n == ARRAY_SIZE(cmds)) {
				CHECK(!strchr(line, '['));
			} else {
				strcat(applies, "]");
				if (!strstr(line, applies))
					fprintf(stderr, "  --%s: no %s in:%s\n",
						o->name, applies, line);
				CHECK(strstr(line, applies));
			}
		}
	}
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

/* What a printer writes: out_open(), print, out_close(). */
static char *out_buf;
static size_t out_len;

static FILE *out_open(void)
{
	free(out_buf);
	out_buf = NULL;
	return open_memstream(&out_buf, &out_len);
}

static const char *out_close(FILE *f)
{
	if (!f)
		return "";
	fclose(f);
	return out_buf;
}

/* stats_prometheus() into a string. */
static const char *prometheus(const char *const *names,
			      const char *const *values, int n)
{
	FILE *f = out_open();

	if (f)
		stats_prometheus(f, names, values, n);
	return out_close(f);
}

/*
 * Counters get _total and TYPE counter, the gauges keep their names, the
 * endpoints per state are one labelled family whose samples stand
 * together even when the input interleaves them, and a value that is
 * not a number is left out.
 */
TEST(stats_prometheus_format)
{
	static const char *const names[] = {
		"client_ESTABLISHED", "segments_ipv4", "server_SYN_RCVD",
		"flows_active", "client_NOT_A_STATE", "table_buckets",
		"resets", "weird",
	};
	static const char *const values[] = {
		"3", "120", "1", "2", "5", "4096", "0", "n/a",
	};
	const char *out = prometheus(names, values, ARRAY_SIZE(names));
	const char *ep;

	CHECK(strstr(out, "# TYPE tcpstate_segments_ipv4_total counter\n"
			  "tcpstate_segments_ipv4_total 120\n"));
	CHECK(strstr(out, "# TYPE tcpstate_resets_total counter\n"
			  "tcpstate_resets_total 0\n"));
	CHECK(strstr(out, "# TYPE tcpstate_flows_active gauge\n"
			  "tcpstate_flows_active 2\n"));
	CHECK(strstr(out, "# TYPE tcpstate_table_buckets gauge\n"));
	/* Not a state: an ordinary counter. */
	CHECK(strstr(out, "tcpstate_client_NOT_A_STATE_total 5\n"));
	CHECK(!strstr(out, "weird"));
	ep = strstr(out, "# TYPE tcpstate_endpoints gauge\n");
	CHECK(ep);
	CHECK(ep && strstr(ep, "gauge\n"
			   "tcpstate_endpoints{side=\"client\",state=\"ESTABLISHED\"} 3\n"
			   "tcpstate_endpoints{side=\"server\",state=\"SYN_RCVD\"} 1\n") ==
	      ep + strlen("# TYPE tcpstate_endpoints "));
	/* One HELP and one TYPE per family: six families. */
	CHECK_EQ(count_of(out, "# HELP "), 6);
	CHECK_EQ(count_of(out, "# TYPE "), 6);
	CHECK(!strcmp(prometheus(names, values, 0), ""));
}

/*
 * The version line is the one string: a build_info gauge of 1 with the
 * version as its label, escaped as the format wants.
 */
TEST(stats_prometheus_build_info)
{
	static const char *const names[] = { "version", "resets" };
	static const char *const values[] = { "1.2-3-gabc+dirty", "7" };
	static const char *const odd[] = { "version" };
	static const char *const odd_value[] = { "a\"b\\c" };
	const char *out = prometheus(names, values, ARRAY_SIZE(names));

	CHECK(strstr(out, "# TYPE tcpstate_build_info gauge\n"
			  "tcpstate_build_info{version=\"1.2-3-gabc+dirty\"} 1\n"));
	CHECK(strstr(out, "tcpstate_resets_total 7\n"));
	CHECK_EQ(count_of(out, "# HELP "), 2);
	out = prometheus(odd, odd_value, 1);
	CHECK(strstr(out, "{version=\"a\\\"b\\\\c\"} 1\n"));
}

/* stats_tw_print() into a string. */
static const char *time_wait(struct tw_table *tw, size_t top, bool json)
{
	FILE *f = out_open();

	if (f)
		stats_tw_print(f, tw, top, json);
	return out_close(f);
}

/*
 * TIME_WAIT ends counted per namespace, local address and remote
 * address:port, whichever side is in TIME_WAIT; the busiest first; past
 * the table's room they are said to be uncounted, not lost silently.
 */
TEST(stats_time_wait_pairs)
{
	static const char *const rows[] = {
		"1 ipv4 10.0.0.1:40000 10.0.0.2:80 TIME_WAIT CLOSED 5 - ShAF -",
		"1 ipv4 10.0.0.1:40001 10.0.0.2:80 TIME_WAIT CLOSED 5 - ShAF -",
		"1 ipv4 10.0.0.1:40002 10.0.0.2:81 TIME_WAIT CLOSED 5 - ShAF -",
		"2 ipv4 10.0.0.1:40003 10.0.0.2:80 TIME_WAIT CLOSED 5 - ShAF -",
		"1 ipv4 10.0.0.3:40004 10.0.0.2:80 ESTABLISHED ESTABLISHED 5 - ShA -",
		"1 ipv6 [fd99::1]:40005 [fd99::2]:443 CLOSED TIME_WAIT 5 - ShAf -",
	};
	struct tw_count room[4];
	struct tw_table tw = { .c = room, .max = 4 };
	static struct ts_row r;
	const char *out;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		CHECK_EQ(ts_row_parse(rows[i], strlen(rows[i]), &r), TS_OK);
		stats_tw_add(&tw, &r);
	}
	CHECK_EQ(tw.nr, 4);
	CHECK_EQ(tw.dropped, 0);
	out = time_wait(&tw, 2, true);
	CHECK(!strcmp(out, "{\"time_wait\":["
		      "{\"netns\":1,\"local\":\"10.0.0.1\",\"remote\":\"10.0.0.2:80\",\"count\":2},"
		      "{\"netns\":1,\"local\":\"10.0.0.1\",\"remote\":\"10.0.0.2:81\",\"count\":1}"
		      "],\"pairs\":4,\"uncounted\":0}\n"));
	/* the server's end in TIME_WAIT: its address, the client's port */
	out = time_wait(&tw, 10, false);
	CHECK(strstr(out, "[fd99::2]"));
	CHECK(strstr(out, "[fd99::1]:40005\n"));
	CHECK(!strstr(out, "10.0.0.3"));
	CHECK(!strstr(out, "more pairs"));
	CHECK(strstr(time_wait(&tw, 1, false), "(3 more pairs)\n"));
	/* a fifth pair finds no room */
	CHECK_EQ(ts_row_parse(rows[4], strlen(rows[4]), &r), TS_OK);
	r.state[TCPSTATE_CLIENT] = TCPSTATE_TIME_WAIT;
	stats_tw_add(&tw, &r);
	CHECK_EQ(tw.dropped, 1);
	CHECK(strstr(time_wait(&tw, 10, false), "(1 endpoints in more pairs"));
}

/* stats_syn_print() into a string. */
static const char *syn_flood(struct syn_table *syn, size_t top, bool json)
{
	FILE *f = out_open();

	if (f)
		stats_syn_print(f, syn, top, json);
	return out_close(f);
}

/*
 * Half-open flows counted per namespace and server address:port: the
 * server LISTEN (unanswered) or SYN_RCVD, the client SYN_SENT or
 * ESTABLISHED; younger than a second is the last second's; everything
 * past the handshake, refused or closed is not counted.
 */
TEST(stats_syn_listeners)
{
	static const char *const rows[] = {
		"1 ipv4 10.0.0.1:40000 10.0.0.2:80 SYN_SENT LISTEN 5 - S -",
		"1 ipv4 10.0.0.3:40001 10.0.0.2:80 SYN_SENT LISTEN 999 - S -",
		"1 ipv4 10.0.0.4:40002 10.0.0.2:80 ESTABLISHED SYN_RCVD 1000 - Sh -",
		"1 ipv4 10.0.0.5:40003 10.0.0.2:80 ESTABLISHED ESTABLISHED 5 - ShA -",
		"1 ipv4 10.0.0.5:40004 10.0.0.2:80 CLOSED CLOSED 5 - Sr refused",
		"2 ipv4 10.0.0.1:40005 10.0.0.2:80 SYN_SENT LISTEN 5 - S -",
		"1 ipv6 [fd99::1]:40006 [fd99::2]:443 ESTABLISHED SYN_RCVD 5 - Sh -",
		"1 ipv4 10.0.0.6:40007 10.0.0.2:22 SYN_SENT SYN_RCVD 5 - Sh -",
		"1 ipv4 10.0.0.6:40008 10.0.0.2:80 FIN_WAIT_1 SYN_RCVD 5 - ShF -",
	};
	struct syn_count room[3];
	struct syn_table syn = { .c = room, .max = 3 };
	static struct ts_row r;
	const char *out;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		CHECK_EQ(ts_row_parse(rows[i], strlen(rows[i]), &r), TS_OK);
		stats_syn_add(&syn, &r);
	}
	/* the fourth listener, port 22, found no room */
	CHECK_EQ(syn.nr, 3);
	CHECK_EQ(syn.dropped, 1);
	out = syn_flood(&syn, 2, true);
	CHECK(!strcmp(out, "{\"syn\":["
		      "{\"netns\":1,\"listener\":\"10.0.0.2:80\",\"half_open\":3,"
		      "\"last_second\":2,\"unanswered\":2},"
		      "{\"netns\":1,\"listener\":\"[fd99::2]:443\",\"half_open\":1,"
		      "\"last_second\":1,\"unanswered\":0}"
		      "],\"listeners\":3,\"uncounted\":1}\n"));
	out = syn_flood(&syn, 10, false);
	CHECK(strstr(out, "         3           2           2    66%  1             10.0.0.2:80\n"));
	CHECK(strstr(out, "         1           1           1   100%  2             10.0.0.2:80\n"));
	CHECK(strstr(out, "(1 half-open flows at more listeners than counted)\n"));
	CHECK(!strstr(out, "more listeners)"));
	CHECK(strstr(syn_flood(&syn, 1, false), "(2 more listeners)\n"));
	CHECK(!strcmp(syn_flood(&syn, 0, true),
		      "{\"syn\":[],\"listeners\":3,\"uncounted\":1}\n"));
}

int main(int argc, char **argv)
{
	return unit_main(argc, argv);
}
