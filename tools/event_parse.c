// SPDX-License-Identifier: GPL-2.0
/*
 * The reader's parsers and filters (see event_parse.h).
 *
 * A line is first copied into the output's own buffer, checked to be
 * printable ASCII, and split at spaces in place; every later step looks at
 * NUL-terminated tokens of that copy.  Known keys must come in the module's
 * order; whatever key=value tokens follow them are kept as extras.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event_parse.h"

static const char *const err_names[TS_NR_ERRS] = {
	[TS_OK]		= "ok",
	[TS_E_LONG]	= "line too long",
	[TS_E_BYTE]	= "unprintable byte",
	[TS_E_KEY]	= "missing or misplaced key",
	[TS_E_VALUE]	= "bad value",
	[TS_E_EXTRA]	= "bad trailing token",
	[TS_E_HEADER]	= "table header",
};

/* Keys of an event line, in order; extras may not reuse them. */
static const char *const event_keys[] = {
	"id", "ts", "lost", "netns", "family", "client", "server", "side",
	"old", "new", "flags", "seq", "ack", "reason",
};

/* Columns every table has, in order. */
static const char *const table_cols[TS_TABLE_COLS] = {
	"netns", "family", "client", "server", "client_state",
	"server_state", "age_ms", "rtt_us", "history", "flags",
};


/* The core's names, read back. */
int ts_state_from_name(const char *s, size_t len)
{
	unsigned int i;

	for (i = 0; i < TCPSTATE_NR_STATES; i++) {
		const char *name = tcpstate_state_name(i);

		if (strlen(name) == len && !memcmp(name, s, len))
			return i;
	}
	return -1;
}

int ts_side_from_name(const char *s)
{
	unsigned int i;

	for (i = TCPSTATE_CLIENT; i <= TCPSTATE_SERVER; i++)
		if (!strcmp(s, tcpstate_side_name(i)))
			return i;
	return -1;
}

const char *ts_err_name(unsigned int err)
{
	return err < TS_NR_ERRS ? err_names[err] : NULL;
}

int ts_parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	uint64_t x;

	if (ts_parse_u64(s, strlen(s), &x) || x > UINT32_MAX)
		return -1;
	*v = x;
	return 0;
}

int ts_parse_port(const char *s, int *port)
{
	uint64_t x;

	if (!s || ts_parse_u64(s, strlen(s), &x) || x > 65535)
		return -1;
	*port = x;
	return 0;
}

static int parse_family(const char *s, uint8_t *family)
{
	if (!strcmp(s, "ipv4"))
		*family = 4;
	else if (!strcmp(s, "ipv6"))
		*family = 6;
	else
		return -1;
	return 0;
}

/* Copy [s, s + len) into a NUL-terminated buffer of @n bytes. */
static int copy_str(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int ts_endpoint_parse(const char *s, size_t len, unsigned int family,
		      struct ts_endpoint *ep)
{
	char addr[INET6_ADDRSTRLEN + 1], port[8];
	const char *colon;
	int p;

	if (len == 0)
		return -1;
	memset(ep, 0, sizeof(*ep));
	colon = NULL;
	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	if (!colon)
		return -1;
	if (copy_str(port, sizeof(port), colon + 1, s + len - colon - 1) ||
	    ts_parse_port(port, &p))
		return -1;
	ep->port = p;
	if (family == 4) {
		if (copy_str(addr, sizeof(addr), s, colon - s) ||
		    inet_pton(AF_INET, addr, ep->addr) != 1)
			return -1;
	} else if (family == 6) {
		if (colon - s < 2 || s[0] != '[' || colon[-1] != ']')
			return -1;
		if (copy_str(addr, sizeof(addr), s + 1, colon - s - 2) ||
		    inet_pton(AF_INET6, addr, ep->addr) != 1)
			return -1;
	} else {
		return -1;
	}
	ep->family = family;
	return 0;
}

/*
 * Copy a line into @buf, dropping one trailing newline, and check that it
 * is printable ASCII.
 */
static enum ts_err load_line(const char *line, size_t len, char *buf)
{
	size_t i;

	if (len && line[len - 1] == '\n')
		len--;
	if (len > TS_LINE_MAX)
		return TS_E_LONG;
	for (i = 0; i < len; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return TS_E_BYTE;
	memcpy(buf, line, len);
	buf[len] = '\0';
	return TS_OK;
}

/* The next space-separated token, NUL-terminated in place, or NULL. */
static inline char *next_token(char **cursor)
{
	char *p = *cursor, *tok;

	while (*p == ' ')
		p++;
	if (!*p) {
		*cursor = p;
		return NULL;
	}
	tok = p;
	while (*p && *p != ' ')
		p++;
	if (*p)
		*p++ = '\0';
	*cursor = p;
	return tok;
}

/* The value of the next token if it is "@key=value", else NULL. */
static inline char *next_value(char **cursor, const char *key)
{
	char *tok = next_token(cursor);
	size_t klen = strlen(key);

	if (!tok || strncmp(tok, key, klen) || tok[klen] != '=')
		return NULL;
	return tok + klen + 1;
}

/* The next token's value if it is "@key=value"; TS_E_KEY if not. */
static inline enum ts_err want(char **cursor, const char *key, char **v)
{
	*v = next_value(cursor, key);
	return *v ? TS_OK : TS_E_KEY;
}

static bool is_known_key(const char *key)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(event_keys); i++)
		if (!strcmp(key, event_keys[i]))
			return true;
	return false;
}

/* The unknown key=value tokens after the known keys. */
static enum ts_err parse_extras(char **cursor, struct ts_event *ev)
{
	char *tok;

	ev->nextra = 0;
	while ((tok = next_token(cursor))) {
		char *eq = strchr(tok, '='), *k;

		if (!eq || eq == tok)
			return TS_E_EXTRA;
		*eq = '\0';
		for (k = tok; *k; k++)
			if (!((*k >= 'a' && *k <= 'z') || *k == '_' ||
			      (k > tok && *k >= '0' && *k <= '9')))
				return TS_E_EXTRA;
		if (is_known_key(tok))
			return TS_E_EXTRA;
		if (ev->nextra < TS_MAX_EXTRA) {
			ev->extra[ev->nextra].key = tok - ev->buf;
			ev->extra[ev->nextra].val = eq + 1 - ev->buf;
			ev->nextra++;
		}
	}
	return TS_OK;
}

static int parse_state(const char *s, uint8_t *state)
{
	int st = ts_state_from_name(s, strlen(s));

	if (st < 0)
		return -1;
	*state = st;
	return 0;
}

static int parse_reason(const char *s, uint8_t *reason)
{
	unsigned int i;

	for (i = 0; i < TCPSTATE_REASON_NR; i++) {
		if (!strcmp(s, tcpstate_reason_name(i))) {
			*reason = i;
			return 0;
		}
	}
	return -1;
}

static int parse_flags(const char *s, char *flags)
{
	size_t len = strlen(s);

	if (len == 0 || len >= TS_FLAGS_LEN)
		return -1;
	memcpy(flags, s, len + 1);
	return 0;
}

enum ts_err ts_event_parse(const char *line, size_t len, struct ts_event *ev)
{
	char *cur = ev->buf, *v;
	enum ts_err err;
	int side;

	ev->lost = false;
	ev->nlost = 0;
	ev->nextra = 0;
	err = load_line(line, len, ev->buf);
	if (err)
		return err;

	err = want(&cur, "id", &v);
	if (err)
		return err;
	if (ts_parse_u64(v, strlen(v), &ev->id))
		return TS_E_VALUE;
	err = want(&cur, "ts", &v);
	if (err)
		return err;
	if (ts_parse_u64(v, strlen(v), &ev->ts))
		return TS_E_VALUE;

	/* Either lost=N or the transition's keys. */
	while (*cur == ' ')
		cur++;
	if (!strncmp(cur, "lost=", 5)) {
		err = want(&cur, "lost", &v);
		if (err)
			return err;
		if (ts_parse_u64(v, strlen(v), &ev->nlost))
			return TS_E_VALUE;
		ev->lost = true;
		return parse_extras(&cur, ev);
	}

	err = want(&cur, "netns", &v);
	if (err)
		return err;
	if (ts_parse_u64(v, strlen(v), &ev->netns))
		return TS_E_VALUE;
	err = want(&cur, "family", &v);
	if (err)
		return err;
	if (parse_family(v, &ev->family))
		return TS_E_VALUE;
	err = want(&cur, "client", &v);
	if (err)
		return err;
	if (ts_endpoint_parse(v, strlen(v), ev->family, &ev->client))
		return TS_E_VALUE;
	err = want(&cur, "server", &v);
	if (err)
		return err;
	if (ts_endpoint_parse(v, strlen(v), ev->family, &ev->server))
		return TS_E_VALUE;
	err = want(&cur, "side", &v);
	if (err)
		return err;
	side = ts_side_from_name(v);
	if (side < 0)
		return TS_E_VALUE;
	ev->side = side;
	err = want(&cur, "old", &v);
	if (err)
		return err;
	if (parse_state(v, &ev->old_state))
		return TS_E_VALUE;
	err = want(&cur, "new", &v);
	if (err)
		return err;
	if (parse_state(v, &ev->new_state))
		return TS_E_VALUE;
	err = want(&cur, "flags", &v);
	if (err)
		return err;
	if (parse_flags(v, ev->flags))
		return TS_E_VALUE;
	err = want(&cur, "seq", &v);
	if (err)
		return err;
	if (parse_u32(v, &ev->seq))
		return TS_E_VALUE;
	err = want(&cur, "ack", &v);
	if (err)
		return err;
	if (parse_u32(v, &ev->ack))
		return TS_E_VALUE;
	err = want(&cur, "reason", &v);
	if (err)
		return err;
	if (parse_reason(v, &ev->reason))
		return TS_E_VALUE;
	return parse_extras(&cur, ev);
}

const char *ts_event_extra_key(const struct ts_event *ev, unsigned int i)
{
	return i < ev->nextra ? ev->buf + ev->extra[i].key : NULL;
}

const char *ts_event_extra_val(const struct ts_event *ev, unsigned int i)
{
	return i < ev->nextra ? ev->buf + ev->extra[i].val : NULL;
}

const char *ts_event_extra(const struct ts_event *ev, const char *key)
{
	unsigned int i;

	for (i = 0; i < ev->nextra; i++)
		if (!strcmp(ts_event_extra_key(ev, i), key))
			return ts_event_extra_val(ev, i);
	return NULL;
}

/* A bounded string builder: once it overflows, every later call is a no-op. */
struct sbuf {
	char *p;
	size_t n;
	size_t len;
	bool over;
};

static void sb_init(struct sbuf *sb, char *p, size_t n)
{
	sb->p = p;
	sb->n = n;
	sb->len = 0;
	sb->over = n == 0;
	if (n)
		p[0] = '\0';
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (sb->over)
		return;
	va_start(ap, fmt);
	r = vsnprintf(sb->p + sb->len, sb->n - sb->len, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= sb->n - sb->len) {
		sb->over = true;
		return;
	}
	sb->len += r;
}

/*
 * The appenders below do what sb_printf() would with "%s", "%c" and
 * "%llu" without a trip through vsnprintf(): a reader formats every event
 * that passes by, and vsnprintf() per field was most of its time.  They and
 * the key helpers below are inline so that a literal key's strlen() folds
 * away (a quarter of a --json reader's instructions, with print_json()'s
 * single fwrite()).
 */
static inline void sb_putn(struct sbuf *sb, const char *s, size_t len)
{
	if (sb->over)
		return;
	if (len >= sb->n - sb->len) {
		sb->over = true;
		return;
	}
	memcpy(sb->p + sb->len, s, len);
	sb->len += len;
	sb->p[sb->len] = '\0';
}

static inline void sb_puts(struct sbuf *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

static inline void sb_putc(struct sbuf *sb, char c)
{
	sb_putn(sb, &c, 1);
}

static void sb_u64(struct sbuf *sb, uint64_t v)
{
	char buf[20];
	size_t i = sizeof(buf);

	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	sb_putn(sb, buf + i, sizeof(buf) - i);
}

static int sb_done(struct sbuf *sb)
{
	return sb->over ? -1 : (int)sb->len;
}

/* A JSON string: parsed lines are printable ASCII, so only " and \ need it. */
static void sb_json_str(struct sbuf *sb, const char *s)
{
	const char *run;

	sb_putc(sb, '"');
	while (*s) {
		/* The longest run that needs no escape, in one copy. */
		for (run = s; *s && *s != '"' && *s != '\\' &&
		     (unsigned char)*s >= 0x20 && (unsigned char)*s <= 0x7e; s++)
			;
		sb_putn(sb, run, s - run);
		if (!*s)
			break;
		if (*s == '"' || *s == '\\') {
			sb_putc(sb, '\\');
			sb_putc(sb, *s);
		} else {
			sb_printf(sb, "\\u%04x", (unsigned char)*s);
		}
		s++;
	}
	sb_putc(sb, '"');
}

/* A decimal that fits a u64 without a leading zero is a JSON number. */
static bool is_json_number(const char *s)
{
	uint64_t v;
	size_t len = strlen(s);

	if (!len || (s[0] == '0' && len > 1))
		return false;
	return !ts_parse_u64(s, len, &v);
}

static void sb_json_value(struct sbuf *sb, const char *s)
{
	if (is_json_number(s))
		sb_puts(sb, s);
	else
		sb_json_str(sb, s);
}

/* As the module writes it (tcpstate_endpoint_format()). */
static void sb_endpoint(struct sbuf *sb, const struct ts_endpoint *ep)
{
	char buf[TCPSTATE_ENDPOINT_LEN];

	if (ep->family != 4 && ep->family != 6) {
		sb->over = true;
		return;
	}
	sb_putn(sb, buf, tcpstate_endpoint_format(ep->addr,
						  ep->family == 4 ? 4 : 16,
						  ep->port, buf));
}

int ts_endpoint_format(const struct ts_endpoint *ep, char *out, size_t n)
{
	struct sbuf sb;

	sb_init(&sb, out, n);
	sb_endpoint(&sb, ep);
	return sb_done(&sb);
}

/* Whether every name an event line prints has a value in range. */
static bool event_names_valid(const struct ts_event *ev)
{
	return ev->old_state < TCPSTATE_NR_STATES &&
	       ev->new_state < TCPSTATE_NR_STATES &&
	       ev->side <= TCPSTATE_SERVER && tcpstate_reason_name(ev->reason);
}

/* " key=value", or ",\"key\":" before a JSON value. */
static inline void sb_key(struct sbuf *sb, const char *key, bool json)
{
	if (json) {
		sb_puts(sb, ",\"");
		sb_puts(sb, key);
		sb_puts(sb, "\":");
	} else {
		sb_putc(sb, ' ');
		sb_puts(sb, key);
		sb_putc(sb, '=');
	}
}

/* A name, quoted in JSON. */
static inline void sb_name(struct sbuf *sb, const char *key,
			   const char *name, bool json)
{
	sb_key(sb, key, json);
	if (json)
		sb_putc(sb, '"');
	sb_puts(sb, name);
	if (json)
		sb_putc(sb, '"');
}

static inline void sb_number(struct sbuf *sb, const char *key, uint64_t v,
			     bool json)
{
	sb_key(sb, key, json);
	sb_u64(sb, v);
}

static void sb_endpoint_key(struct sbuf *sb, const char *key,
			    const struct ts_endpoint *ep, bool json)
{
	sb_key(sb, key, json);
	if (json)
		sb_putc(sb, '"');
	sb_endpoint(sb, ep);
	if (json)
		sb_putc(sb, '"');
}

/* The line (TCPSTATE_EVENT_LINE) or its JSON object: one walk for both. */
static int event_out(const struct ts_event *ev, char *out, size_t n,
		     bool json)
{
	char family[] = "ipv4";
	struct sbuf sb;
	unsigned int i;

	sb_init(&sb, out, n);
	sb_puts(&sb, json ? "{\"id\":" : "id=");
	sb_u64(&sb, ev->id);
	sb_number(&sb, "ts", ev->ts, json);
	if (ev->lost) {
		sb_number(&sb, "lost", ev->nlost, json);
	} else {
		if (!event_names_valid(ev) ||
		    (ev->family != 4 && ev->family != 6))
			return -1;
		family[3] = '0' + ev->family;
		sb_number(&sb, "netns", ev->netns, json);
		sb_name(&sb, "family", family, json);
		sb_endpoint_key(&sb, "client", &ev->client, json);
		sb_endpoint_key(&sb, "server", &ev->server, json);
		sb_name(&sb, "side", tcpstate_side_name(ev->side), json);
		sb_name(&sb, "old", tcpstate_state_name(ev->old_state), json);
		sb_name(&sb, "new", tcpstate_state_name(ev->new_state), json);
		sb_key(&sb, "flags", json);
		if (json)
			sb_json_str(&sb, ev->flags);
		else
			sb_puts(&sb, ev->flags);
		sb_number(&sb, "seq", ev->seq, json);
		sb_number(&sb, "ack", ev->ack, json);
		sb_name(&sb, "reason", tcpstate_reason_name(ev->reason), json);
	}
	for (i = 0; i < ev->nextra; i++) {
		if (json) {
			sb_putc(&sb, ',');
			sb_json_str(&sb, ts_event_extra_key(ev, i));
			sb_putc(&sb, ':');
			sb_json_value(&sb, ts_event_extra_val(ev, i));
		} else {
			sb_key(&sb, ts_event_extra_key(ev, i), false);
			sb_puts(&sb, ts_event_extra_val(ev, i));
		}
	}
	if (json)
		sb_putc(&sb, '}');
	return sb_done(&sb);
}

int ts_event_format(const struct ts_event *ev, char *out, size_t n)
{
	return event_out(ev, out, n, false);
}

int ts_event_json(const struct ts_event *ev, char *out, size_t n)
{
	return event_out(ev, out, n, true);
}

/* The table. */

bool ts_table_is_header(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && line[i] == ' ')
		i++;
	return len - i >= 5 && !memcmp(line + i, "netns", 5) &&
	       (len - i == 5 || line[i + 5] == ' ' || line[i + 5] == '\n');
}

enum ts_err ts_header_parse(const char *line, size_t len, struct ts_header *h)
{
	char *cur = h->buf, *tok;
	enum ts_err err;

	h->ncols = 0;
	err = load_line(line, len, h->buf);
	if (err)
		return err;
	while ((tok = next_token(&cur))) {
		if (h->ncols < TS_TABLE_COLS &&
		    strcmp(tok, table_cols[h->ncols]))
			return TS_E_KEY;
		h->name[h->ncols++] = tok - h->buf;
	}
	if (h->ncols < TS_TABLE_COLS)
		return TS_E_KEY;
	return TS_OK;
}

const char *ts_header_col(const struct ts_header *h, unsigned int i)
{
	return i < h->ncols ? h->buf + h->name[i] : NULL;
}

enum ts_err ts_row_parse(const char *line, size_t len, struct ts_row *row)
{
	char *cur = row->buf, *col[TS_TABLE_COLS], *tok;
	enum ts_err err;
	unsigned int i;
	int st;

	row->nextra = 0;
	if (ts_table_is_header(line, len))
		return TS_E_HEADER;
	err = load_line(line, len, row->buf);
	if (err)
		return err;
	for (i = 0; i < TS_TABLE_COLS; i++) {
		col[i] = next_token(&cur);
		if (!col[i])
			return TS_E_KEY;
	}
	while ((tok = next_token(&cur)))
		if (row->nextra < TS_MAX_EXTRA)
			row->extra[row->nextra++] = tok - row->buf;

	if (ts_parse_u64(col[0], strlen(col[0]), &row->netns) ||
	    parse_family(col[1], &row->family) ||
	    ts_endpoint_parse(col[2], strlen(col[2]), row->family,
			      &row->client) ||
	    ts_endpoint_parse(col[3], strlen(col[3]), row->family,
			      &row->server))
		return TS_E_VALUE;
	for (i = 0; i < 2; i++) {
		st = ts_state_from_name(col[4 + i], strlen(col[4 + i]));
		if (st < 0)
			return TS_E_VALUE;
		row->state[i] = st;
	}
	if (ts_parse_u64(col[6], strlen(col[6]), &row->age_ms))
		return TS_E_VALUE;
	row->has_rtt = strcmp(col[7], "-") != 0;
	row->rtt_us = 0;
	if (row->has_rtt && ts_parse_u64(col[7], strlen(col[7]), &row->rtt_us))
		return TS_E_VALUE;
	row->history = col[8];
	row->flags = col[9];
	return TS_OK;
}

int ts_row_json(const struct ts_row *row, const struct ts_header *h,
		char *out, size_t n)
{
	struct sbuf sb;
	unsigned int i;

	sb_init(&sb, out, n);
	sb_printf(&sb, "{\"netns\":%llu,\"family\":\"ipv%u\",\"client\":\"",
		  (unsigned long long)row->netns, row->family);
	sb_endpoint(&sb, &row->client);
	sb_printf(&sb, "\",\"server\":\"");
	sb_endpoint(&sb, &row->server);
	sb_printf(&sb, "\",\"client_state\":\"%s\",\"server_state\":\"%s\",\"age_ms\":%llu,\"rtt_us\":",
		  tcpstate_state_name(row->state[TCPSTATE_CLIENT]),
		  tcpstate_state_name(row->state[TCPSTATE_SERVER]),
		  (unsigned long long)row->age_ms);
	if (row->has_rtt)
		sb_printf(&sb, "%llu", (unsigned long long)row->rtt_us);
	else
		sb_printf(&sb, "null");
	sb_printf(&sb, ",\"history\":");
	sb_json_str(&sb, row->history);
	sb_printf(&sb, ",\"flags\":[");
	if (strcmp(row->flags, "-")) {
		const char *p = row->flags;

		/* "pickup,guessed" becomes ["pickup","guessed"]. */
		for (i = 0; *p; i++) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			char word[TS_LINE_MAX + 1];

			memcpy(word, p, len);
			word[len] = '\0';
			sb_printf(&sb, i ? "," : "");
			sb_json_str(&sb, word);
			p += len;
			if (*p)
				p++;
		}
	}
	sb_printf(&sb, "]");
	for (i = 0; i < row->nextra; i++) {
		const char *name = h ? ts_header_col(h, TS_TABLE_COLS + i) : NULL;

		if (name)
			sb_printf(&sb, ",");
		else
			sb_printf(&sb, ",\"col%u\"", TS_TABLE_COLS + i + 1);
		if (name)
			sb_json_str(&sb, name);
		sb_printf(&sb, ":");
		sb_json_value(&sb, row->buf + row->extra[i]);
	}
	sb_printf(&sb, "}");
	return sb_done(&sb);
}

/* Filters. */

void ts_filter_init(struct ts_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->port = -1;
	f->sport = -1;
	f->dport = -1;
	f->side = -1;
}

int ts_filter_add_host(struct ts_filter *f, const char *s)
{
	char addr[INET6_ADDRSTRLEN + 3];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct ts_host h = { 0 };
	uint64_t prefix;

	if (f->nhost >= TS_MAX_HOSTS)
		return -1;
	if (alen >= 2 && s[0] == '[' && s[alen - 1] == ']') {
		s++;
		alen -= 2;
	}
	if (copy_str(addr, sizeof(addr), s, alen))
		return -1;
	if (inet_pton(AF_INET, addr, h.addr) == 1) {
		h.family = 4;
		h.prefix = 32;
	} else if (inet_pton(AF_INET6, addr, h.addr) == 1) {
		h.family = 6;
		h.prefix = 128;
	} else {
		return -1;
	}
	if (slash) {
		if (ts_parse_u64(slash + 1, strlen(slash + 1), &prefix) ||
		    prefix > h.prefix)
			return -1;
		h.prefix = prefix;
	}
	f->host[f->nhost++] = h;
	return 0;
}

#define S(x) (1u << TCPSTATE_##x)
#define ALL_STATES ((1u << TCPSTATE_NR_STATES) - 1)

static const struct {
	const char *name;
	unsigned int set;
} state_groups[] = {
	/* ss(8)'s groups. */
	{ "all",		ALL_STATES },
	{ "connected",		ALL_STATES & ~(S(LISTEN) | S(CLOSED)) },
	{ "synchronized",	ALL_STATES & ~(S(LISTEN) | S(CLOSED) |
					       S(SYN_SENT)) },
	{ "bucket",		S(SYN_RCVD) | S(TIME_WAIT) },
	{ "big",		ALL_STATES & ~(S(SYN_RCVD) | S(TIME_WAIT)) },
	/* tcpstate's own. */
	{ "handshake",		S(SYN_SENT) | S(SYN_RCVD) },
	{ "closing",		S(FIN_WAIT_1) | S(FIN_WAIT_2) | S(CLOSE_WAIT) |
				S(CLOSING) | S(LAST_ACK) | S(TIME_WAIT) },
};

/* ss's spellings that are not just ours in lower case. */
static const struct {
	const char *name;
	int state;
} state_aliases[] = {
	{ "SYN_RECV",		TCPSTATE_SYN_RCVD },
	{ "SYN_RECEIVED",	TCPSTATE_SYN_RCVD },
	{ "LISTENING",		TCPSTATE_LISTEN },
};

unsigned int ts_state_set(const char *s, size_t len)
{
	char up[32];
	unsigned int i;
	int st;

	/* Groups are lower case; "closing" is the group, "CLOSING" the state. */
	for (i = 0; i < ARRAY_SIZE(state_groups); i++)
		if (strlen(state_groups[i].name) == len &&
		    !memcmp(state_groups[i].name, s, len))
			return state_groups[i].set;
	if (len == 0 || len >= sizeof(up))
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		else if (c == '-')
			c = '_';
		up[i] = c;
	}
	up[len] = '\0';
	st = ts_state_from_name(up, len);
	if (st >= 0)
		return 1u << st;
	for (i = 0; i < ARRAY_SIZE(state_aliases); i++)
		if (!strcmp(up, state_aliases[i].name))
			return 1u << state_aliases[i].state;
	return 0;
}

int ts_filter_add_states(struct ts_filter *f, const char *s)
{
	unsigned int set = 0;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		unsigned int one = ts_state_set(s, len);

		if (!one)
			return -1;
		set |= one;
		if (!comma)
			break;
		s = comma + 1;
	}
	f->states |= set;
	return 0;
}

bool ts_filter_any(const struct ts_filter *f)
{
	return f->families || f->port >= 0 || f->sport >= 0 ||
	       f->dport >= 0 || f->nhost || f->states || f->side >= 0 ||
	       f->has_netns;
}

static bool host_match(const struct ts_host *h, const struct ts_endpoint *ep)
{
	unsigned int full = h->prefix / 8, rest = h->prefix % 8;

	if (h->family != ep->family)
		return false;
	if (memcmp(h->addr, ep->addr, full))
		return false;
	if (rest) {
		uint8_t mask = 0xff << (8 - rest);

		if ((h->addr[full] ^ ep->addr[full]) & mask)
			return false;
	}
	return true;
}

bool ts_filter_flow(const struct ts_filter *f, uint64_t netns,
		    const struct ts_endpoint *client,
		    const struct ts_endpoint *server)
{
	unsigned int i;

	if (f->families) {
		unsigned int fam = client->family == 4 ? TS_FAM_V4 :
				   client->family == 6 ? TS_FAM_V6 : 0;

		if (!(f->families & fam))
			return false;
	}
	if (f->port >= 0 && client->port != f->port && server->port != f->port)
		return false;
	if (f->sport >= 0 && client->port != f->sport)
		return false;
	if (f->dport >= 0 && server->port != f->dport)
		return false;
	if (f->has_netns && netns != f->netns)
		return false;
	if (f->nhost) {
		for (i = 0; i < f->nhost; i++)
			if (host_match(&f->host[i], client) ||
			    host_match(&f->host[i], server))
				break;
		if (i == f->nhost)
			return false;
	}
	return true;
}

bool ts_filter_event(const struct ts_filter *f, const struct ts_event *ev)
{
	if (ev->lost)
		return true;
	if (!ts_filter_flow(f, ev->netns, &ev->client, &ev->server))
		return false;
	if (f->side >= 0 && ev->side != f->side)
		return false;
	/* --state picks transitions into a state: a retransmission is none */
	if (f->states && (!tcpstate_reason_moves(ev->reason) ||
			  !(f->states & (1u << ev->new_state))))
		return false;
	return true;
}

bool ts_filter_row(const struct ts_filter *f, const struct ts_row *row)
{
	unsigned int mask;

	if (!ts_filter_flow(f, row->netns, &row->client, &row->server))
		return false;
	if (!f->states)
		return true;
	if (f->side >= 0)
		return f->states & (1u << row->state[f->side]);
	mask = (1u << row->state[TCPSTATE_CLIENT]) | (1u << row->state[TCPSTATE_SERVER]);
	return f->states & mask;
}
