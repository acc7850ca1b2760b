/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reader's parsers and filters: one /proc/tcpstate_events line into a
 * struct ts_event, one /proc/tcpstate line into a struct ts_row, and the
 * ss/conntrack-like filters over both.  No I/O and no allocation, so the
 * unit tests and the fuzzer link this file alone.
 *
 * Every parser takes a byte range (not a C string), may be handed any
 * bytes at all, and either fills its output completely or returns an
 * error and leaves the output unusable.  Accepted lines are printable
 * ASCII only, so nothing parsed ever needs escaping beyond '"' and '\'.
 */
#ifndef TCPSTATE_EVENT_PARSE_H
#define TCPSTATE_EVENT_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fsm.h"

/* The longest line either parser accepts, newline excluded. */
#define TS_LINE_MAX	1024
/* Unknown trailing keys (events) or columns (table) kept per line. */
#define TS_MAX_EXTRA	16
/* --host may be given this many times; the hosts are ORed. */
#define TS_MAX_HOSTS	16
/* The longest flags token kept ("FP." is typical). */
#define TS_FLAGS_LEN	16

/* Why a line was refused. */
enum ts_err {
	TS_OK,
	TS_E_LONG,		/* longer than TS_LINE_MAX */
	TS_E_BYTE,		/* a byte that is not printable ASCII */
	TS_E_KEY,		/* a key missing, misplaced or misspelt */
	TS_E_VALUE,		/* a value that does not parse */
	TS_E_EXTRA,		/* a trailing token that is not key=value */
	TS_E_HEADER,		/* a table line that is the header */
	TS_NR_ERRS
};

/* One end of a connection; @family is 4 or 6. */
struct ts_endpoint {
	uint8_t family;
	uint16_t port;
	uint8_t addr[16];	/* network order; IPv4 uses the first 4 */
};

/* An unknown key=value token, as offsets into the owner's buf. */
struct ts_extra {
	uint16_t key;
	uint16_t val;
};

struct ts_event {
	uint64_t id;
	uint64_t ts;		/* CLOCK_REALTIME, ns */
	bool lost;		/* a lost=N line: only id, ts, nlost are set */
	uint64_t nlost;
	uint64_t netns;
	uint8_t family;		/* 4 or 6 */
	uint8_t side;		/* enum tcpstate_side */
	uint8_t old_state;	/* enum tcpstate_state */
	uint8_t new_state;
	uint8_t reason;		/* enum ts_reason */
	struct ts_endpoint client, server;
	char flags[TS_FLAGS_LEN];	/* tcpdump notation, "-" for none */
	uint32_t seq, ack;
	unsigned int nextra;
	struct ts_extra extra[TS_MAX_EXTRA];
	char buf[TS_LINE_MAX + 1];	/* the NUL-split copy extras point at */
};

/* The table's header: the column names, in order. */
struct ts_header {
	unsigned int ncols;
	uint16_t name[TS_LINE_MAX / 2];
	char buf[TS_LINE_MAX + 1];
};

/* The columns every table has, in order; more may follow. */
#define TS_TABLE_COLS	10

struct ts_row {
	uint64_t netns;
	uint8_t family;
	uint8_t state[2];	/* [TCPSTATE_CLIENT], [TCPSTATE_SERVER] */
	struct ts_endpoint client, server;
	uint64_t age_ms;
	bool has_rtt;		/* rtt_us was a number, not "-" */
	uint64_t rtt_us;
	const char *history;	/* into buf */
	const char *flags;	/* into buf: "-" or "pickup,guessed" */
	unsigned int nextra;	/* columns after the known ten */
	uint16_t extra[TS_MAX_EXTRA];	/* offsets into buf */
	char buf[TS_LINE_MAX + 1];
};

struct ts_host {
	uint8_t family;
	uint8_t prefix;		/* bits */
	uint8_t addr[16];
};

/*
 * All conditions are ANDed; the hosts and the states are each ORed.  An
 * unset condition matches everything.
 */
struct ts_filter {
	unsigned int families;	/* TS_FAM_V4 | TS_FAM_V6, 0 = any */
	int port;		/* either end, -1 = any */
	int sport;		/* the client's port, -1 = any */
	int dport;		/* the server's port, -1 = any */
	unsigned int nhost;
	struct ts_host host[TS_MAX_HOSTS];
	unsigned int states;	/* 1 << enum tcpstate_state, 0 = any */
	int side;		/* enum tcpstate_side, -1 = any */
	bool has_netns;
	uint64_t netns;
};

#define TS_FAM_V4	0x1
#define TS_FAM_V6	0x2

/*
 * Names.  States, sides and reasons are the core's (enum tcpstate_state
 * and tcpstate_state_name() in module/fsm.h...); these read them back.  NULL (or
 * -1) for an out-of-range value or an unknown name.
 */
int ts_state_from_name(const char *s, size_t len);
int ts_side_from_name(const char *s);
const char *ts_err_name(unsigned int err);

/* "10.0.2.2:51323" or "[fe80::1]:80", with the family checked. */
int ts_endpoint_parse(const char *s, size_t len, unsigned int family,
		      struct ts_endpoint *ep);
/* The same notation back; returns the length, or -1 if @n is too small. */
int ts_endpoint_format(const struct ts_endpoint *ep, char *out, size_t n);

/* One event line, with or without its trailing newline. */
enum ts_err ts_event_parse(const char *line, size_t len, struct ts_event *ev);
const char *ts_event_extra_key(const struct ts_event *ev, unsigned int i);
const char *ts_event_extra_val(const struct ts_event *ev, unsigned int i);
/* The value of the trailing key @key, or NULL. */
const char *ts_event_extra(const struct ts_event *ev, const char *key);
/* The canonical event line (no newline); the length or -1. */
int ts_event_format(const struct ts_event *ev, char *out, size_t n);
/* One JSON object (no newline) with every key; the length or -1. */
int ts_event_json(const struct ts_event *ev, char *out, size_t n);

/* Whether a table line is the header (its first column is "netns"). */
bool ts_table_is_header(const char *line, size_t len);
enum ts_err ts_header_parse(const char *line, size_t len, struct ts_header *h);
const char *ts_header_col(const struct ts_header *h, unsigned int i);
enum ts_err ts_row_parse(const char *line, size_t len, struct ts_row *row);
/* One JSON object for a row; @h names the extra columns (may be NULL). */
int ts_row_json(const struct ts_row *row, const struct ts_header *h,
		char *out, size_t n);

/*
 * Filters.  The parse helpers return 0, or -1 for a value a person typed
 * wrong; the filter is unchanged on error.
 */
void ts_filter_init(struct ts_filter *f);
int ts_parse_port(const char *s, int *port);
int ts_parse_u64(const char *s, size_t len, uint64_t *v);
/* ADDR or ADDR/PREFIX, IPv4 or IPv6; adds one host. */
int ts_filter_add_host(struct ts_filter *f, const char *s);
/* A comma-separated list of state names and groups; adds to the set. */
int ts_filter_add_states(struct ts_filter *f, const char *s);
/* The state set of a name or group; 0 if unknown. */
unsigned int ts_state_set(const char *s, size_t len);

bool ts_filter_any(const struct ts_filter *f);
/* Family, ports, hosts, netns: the conditions a flow has for life. */
bool ts_filter_flow(const struct ts_filter *f, uint64_t netns,
		    const struct ts_endpoint *client,
		    const struct ts_endpoint *server);
/* A transition: the flow, its side, and the state it moved into.  A
 * lost=N line always matches: loss is never hidden.
 */
bool ts_filter_event(const struct ts_filter *f, const struct ts_event *ev);
/* A table row: the flow, and the state of --side (either side if unset). */
bool ts_filter_row(const struct ts_filter *f, const struct ts_row *row);

#endif /* TCPSTATE_EVENT_PARSE_H */
