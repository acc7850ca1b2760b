// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for the reader's parsers and filters.
 *
 * The first four bytes choose a filter; the rest is split at newlines and
 * every piece is fed to the event parser, the table-row parser, the header
 * parser and the option parsers.  Whatever parses must survive the round
 * trip (format, parse again, same fields, same text), print as JSON that a
 * strict checker accepts, and obey the filter it was matched against.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

/* A strict JSON checker: returns the end of one value, or NULL. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = *p++;

		if (c == '"')
			return p;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			c = *p++;
			if (c == 'u') {
				for (int i = 0; i < 4; i++, p++)
					if (!((*p >= '0' && *p <= '9') ||
					      (*p >= 'a' && *p <= 'f') ||
					      (*p >= 'A' && *p <= 'F')))
						return NULL;
			} else if (!strchr("\"\\/bfnrt", c) || !c) {
				return NULL;
			}
		}
	}
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	return p;		/* the reader prints integers only */
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 8)
		return NULL;
	p = json_ws(p);
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "null", 4))
		return p + 4;
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = json_string(json_ws(p));
				if (!p)
					return NULL;
				p = json_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = json_value(p, depth + 1);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	return json_number(p);
}

static void check_json(const char *s)
{
	const char *end = json_value(s, 0);

	ASSERT(end && *end == '\0');
	ASSERT(s[0] == '{');
}

static void check_filter_event(const struct ts_filter *f,
			       const struct ts_event *ev)
{
	bool m = ts_filter_event(f, ev);

	if (ev->lost) {
		ASSERT(m);
		return;
	}
	if (!m)
		return;
	if (f->families)
		ASSERT(f->families & (ev->family == 4 ? TS_FAM_V4 : TS_FAM_V6));
	if (f->port >= 0)
		ASSERT(ev->client.port == f->port || ev->server.port == f->port);
	if (f->sport >= 0)
		ASSERT(ev->client.port == f->sport);
	if (f->dport >= 0)
		ASSERT(ev->server.port == f->dport);
	if (f->states)
		ASSERT(f->states & (1u << ev->new_state));
	if (f->side >= 0)
		ASSERT(ev->side == f->side);
	if (f->has_netns)
		ASSERT(ev->netns == f->netns);
	/* An empty filter matches everything. */
}

static void fuzz_event(const char *line, size_t len, const struct ts_filter *f)
{
	static struct ts_event ev, again;
	static char text[4 * TS_LINE_MAX], text2[4 * TS_LINE_MAX];
	static char js[8 * TS_LINE_MAX];
	struct ts_filter none;
	int n;

	if (ts_event_parse(line, len, &ev) != TS_OK)
		return;
	ASSERT(ev.nextra <= TS_MAX_EXTRA);
	if (!ev.lost) {
		ASSERT(ev.family == 4 || ev.family == 6);
		ASSERT(ev.client.family == ev.family);
		ASSERT(ev.server.family == ev.family);
		ASSERT(ev.old_state < TCPSTATE_NR_STATES);
		ASSERT(ev.new_state < TCPSTATE_NR_STATES);
		ASSERT(ev.side <= TCPSTATE_SERVER);
		ASSERT(tcpstate_reason_name(ev.reason));
		ASSERT(ev.flags[0] && strlen(ev.flags) < TS_FLAGS_LEN);
	}

	/* Round trip: the canonical line parses to the same event. */
	n = ts_event_format(&ev, text, sizeof(text));
	ASSERT(n > 0 && (size_t)n == strlen(text));
	ASSERT(ts_event_parse(text, n, &again) == TS_OK);
	ASSERT(again.lost == ev.lost && again.id == ev.id && again.ts == ev.ts);
	if (ev.lost) {
		ASSERT(again.nlost == ev.nlost);
	} else {
		ASSERT(again.netns == ev.netns && again.family == ev.family);
		ASSERT(!memcmp(&again.client, &ev.client, sizeof(ev.client)));
		ASSERT(!memcmp(&again.server, &ev.server, sizeof(ev.server)));
		ASSERT(again.side == ev.side && again.reason == ev.reason);
		ASSERT(again.old_state == ev.old_state);
		ASSERT(again.new_state == ev.new_state);
		ASSERT(!strcmp(again.flags, ev.flags));
		ASSERT(again.seq == ev.seq && again.ack == ev.ack);
	}
	ASSERT(again.nextra == ev.nextra);
	for (unsigned int i = 0; i < ev.nextra; i++) {
		ASSERT(!strcmp(ts_event_extra_key(&ev, i),
			       ts_event_extra_key(&again, i)));
		ASSERT(!strcmp(ts_event_extra_val(&ev, i),
			       ts_event_extra_val(&again, i)));
	}
	ASSERT(ts_event_format(&again, text2, sizeof(text2)) == n);
	ASSERT(!strcmp(text, text2));

	n = ts_event_json(&ev, js, sizeof(js));
	ASSERT(n > 0);
	check_json(js);

	check_filter_event(f, &ev);
	ts_filter_init(&none);
	ASSERT(ts_filter_event(&none, &ev));
}

static void fuzz_row(const char *line, size_t len, const struct ts_filter *f,
		     const struct ts_header *h)
{
	static struct ts_row row;
	static char js[8 * TS_LINE_MAX];
	bool m;

	if (ts_row_parse(line, len, &row) != TS_OK)
		return;
	ASSERT(row.family == 4 || row.family == 6);
	ASSERT(row.client.family == row.family);
	ASSERT(row.state[0] < TCPSTATE_NR_STATES &&
	       row.state[1] < TCPSTATE_NR_STATES);
	ASSERT(row.history && row.flags && row.nextra <= TS_MAX_EXTRA);
	ASSERT(ts_row_json(&row, h, js, sizeof(js)) > 0);
	check_json(js);

	m = ts_filter_row(f, &row);
	if (m && f->states && f->side >= 0)
		ASSERT(f->states & (1u << row.state[f->side]));
	if (m && f->dport >= 0)
		ASSERT(row.server.port == f->dport);
	if (m)
		ASSERT(ts_filter_flow(f, row.netns, &row.client, &row.server));
}

static void fuzz_options(const char *line, size_t len)
{
	char s[TS_LINE_MAX + 1];
	struct ts_filter f;
	int port;

	if (len > TS_LINE_MAX)
		return;
	memcpy(s, line, len);
	s[len] = '\0';
	ts_filter_init(&f);
	if (ts_filter_add_host(&f, s) == 0) {
		ASSERT(f.nhost == 1);
		ASSERT(f.host[0].family == 4 || f.host[0].family == 6);
		ASSERT(f.host[0].prefix <= (f.host[0].family == 4 ? 32 : 128));
	} else {
		ASSERT(f.nhost == 0);
	}
	if (ts_filter_add_states(&f, s) == 0)
		ASSERT(f.states && f.states < (1u << TCPSTATE_NR_STATES));
	else
		ASSERT(f.states == 0);
	if (ts_parse_port(s, &port) == 0)
		ASSERT(port >= 0 && port <= 65535);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ts_header hdr;
	const struct ts_header *h = NULL;
	struct ts_filter f;
	const char *p, *end;

	if (size < 4)
		return 0;

	/* Four bytes of filter. */
	ts_filter_init(&f);
	f.families = data[0] & 3;
	if (data[0] & 4)
		f.port = data[1];
	if (data[0] & 8)
		f.sport = data[1] | 0x8000;
	if (data[0] & 16)
		f.dport = data[2];
	if (data[0] & 32)
		f.side = data[0] >> 7;
	if (data[0] & 64) {
		f.has_netns = true;
		f.netns = data[3];
	}
	f.states = ((unsigned int)data[2] << 8 | data[3]) &
		   ((1u << TCPSTATE_NR_STATES) - 1);
	if (data[1] & 1) {
		struct ts_host *hst = &f.host[f.nhost++];

		memset(hst, 0, sizeof(*hst));
		hst->family = data[1] & 2 ? 6 : 4;
		hst->prefix = data[2] % (hst->family == 4 ? 33 : 129);
		hst->addr[0] = data[3];
	}
	data += 4;
	size -= 4;

	p = (const char *)data;
	end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t len = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);

		fuzz_event(p, len, &f);
		if (ts_table_is_header(p, len)) {
			if (ts_header_parse(p, len, &hdr) == TS_OK) {
				ASSERT(hdr.ncols >= TS_TABLE_COLS);
				h = &hdr;
			}
		}
		fuzz_row(p, len, &f, h);
		fuzz_options(p, nl ? len - 1 : len);
		p += len;
	}
	return 0;
}
