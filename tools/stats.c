// SPDX-License-Identifier: GPL-2.0
/* tcpstate stats: /proc/tcpstate_stats, or its rates with --watch. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

#define MAX_STATS 256

struct stat_line {
	char name[64];
	char value[64];
	bool numeric;
	uint64_t v;
};

static int read_stats(struct stat_line *st, int max)
{
	FILE *fp = fopen_proc("tcpstate_stats");
	char line[256];
	int n = 0;

	while (n < max && fgets(line, sizeof(line), fp)) {
		char name[64], value[64];

		if (sscanf(line, "%63s %63s", name, value) != 2)
			continue;
		snprintf(st[n].name, sizeof(st[n].name), "%s", name);
		snprintf(st[n].value, sizeof(st[n].value), "%s", value);
		st[n].numeric = !ts_parse_u64(value, strlen(value), &st[n].v);
		n++;
	}
	fclose_proc(fp, "tcpstate_stats");
	return n;
}

static void json_stats(const struct stat_line *st, int n, const char *key)
{
	int i;

	if (key)
		printf("\"%s\":{", key);
	for (i = 0; i < n; i++) {
		printf("%s\"%s\":", i ? "," : "", st[i].name);
		if (st[i].numeric)
			printf("%" PRIu64, st[i].v);
		else
			printf("\"%s\"", st[i].value);
	}
	if (key)
		printf("}");
}

/*
 * Prometheus' text exposition format (0.0.4).  Everything counts up but
 * the gauges below: a counter becomes tcpstate_<name>_total, a gauge
 * keeps its name, and the endpoints per state (client_<STATE>,
 * server_<STATE>) become one gauge, tcpstate_endpoints{side,state}.  The
 * version becomes tcpstate_build_info{version="..."} 1, the convention
 * for a build's facts; any other value that is not a number is left out.
 */
static const char *const gauge_prefixes[] = {
	"flows_active", "flows_max", "entry_bytes_", "table_buckets",
};

static bool stat_is_gauge(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gauge_prefixes); i++)
		if (!strncmp(name, gauge_prefixes[i],
			     strlen(gauge_prefixes[i])))
			return true;
	return false;
}

/* "client_ESTABLISHED" -> side "client", state ESTABLISHED; else -1. */
static int stat_endpoint_state(const char *name, const char **side)
{
	unsigned int i;
	size_t len;

	for (i = TCPSTATE_CLIENT; i <= TCPSTATE_SERVER; i++) {
		*side = tcpstate_side_name(i);
		len = strlen(*side);
		if (strncmp(name, *side, len) || name[len] != '_')
			continue;
		return ts_state_from_name(name + len + 1,
					  strlen(name + len + 1));
	}
	return -1;
}

static bool stat_value(const char *v, uint64_t *out)
{
	return !ts_parse_u64(v, strlen(v), out);
}

/* A label value: backslash, double quote and newline escaped. */
static void prometheus_label(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

void stats_prometheus(FILE *out, const char *const *names,
		      const char *const *values, int n)
{
	bool endpoints = false;
	const char *side;
	uint64_t v;
	int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(names[i], "version")) {
			fprintf(out,
				"# HELP tcpstate_build_info The module's version, in /proc/tcpstate_stats.\n"
				"# TYPE tcpstate_build_info gauge\n"
				"tcpstate_build_info{version=\"");
			prometheus_label(out, values[i]);
			fprintf(out, "\"} 1\n");
			continue;
		}
		if (!stat_value(values[i], &v))
			continue;
		if (stat_endpoint_state(names[i], &side) >= 0)
			endpoints = true;
		else if (stat_is_gauge(names[i]))
			fprintf(out,
				"# HELP tcpstate_%s %s in /proc/tcpstate_stats.\n"
				"# TYPE tcpstate_%s gauge\ntcpstate_%s %" PRIu64 "\n",
				names[i], names[i], names[i], names[i], v);
		else
			fprintf(out,
				"# HELP tcpstate_%s_total %s in /proc/tcpstate_stats.\n"
				"# TYPE tcpstate_%s_total counter\ntcpstate_%s_total %" PRIu64 "\n",
				names[i], names[i], names[i], names[i], v);
	}
	if (!endpoints)
		return;
	/* One family's samples stand together. */
	fprintf(out,
		"# HELP tcpstate_endpoints Tracked endpoints by side and state.\n"
		"# TYPE tcpstate_endpoints gauge\n");
	for (i = 0; i < n; i++)
		if (stat_value(values[i], &v) &&
		    stat_endpoint_state(names[i], &side) >= 0)
			fprintf(out,
				"tcpstate_endpoints{side=\"%s\",state=\"%s\"} %" PRIu64 "\n",
				side, strchr(names[i], '_') + 1, v);
}

/*
 * TIME_WAIT pressure (issue 13): each TIME_WAIT end holds its local port
 * for 2MSL, so what runs out is the ports between one local address and
 * one remote address:port.  Counted per namespace, each its own port
 * space.
 */
static void endpoint_key(const struct ts_endpoint *ep, bool port, char *out,
		   size_t n)
{
	char *colon;

	if (ts_endpoint_format(ep, out, n) < 0) {
		snprintf(out, n, "?");
		return;
	}
	colon = strrchr(out, ':');
	if (!port && colon)
		*colon = '\0';
}

void stats_tw_add(struct tw_table *tw, const struct ts_row *row)
{
	char local[sizeof(tw->c->local)], remote[sizeof(tw->c->remote)];
	const struct ts_endpoint *me, *peer;
	struct tw_count *c;
	unsigned int side;
	size_t i;

	for (side = TCPSTATE_CLIENT; side <= TCPSTATE_SERVER; side++) {
		if (row->state[side] != TCPSTATE_TIME_WAIT)
			continue;
		me = side == TCPSTATE_CLIENT ? &row->client : &row->server;
		peer = side == TCPSTATE_CLIENT ? &row->server : &row->client;
		endpoint_key(me, false, local, sizeof(local));
		endpoint_key(peer, true, remote, sizeof(remote));
		for (i = 0; i < tw->nr; i++) {
			c = &tw->c[i];
			if (c->netns == row->netns && !strcmp(c->local, local) &&
			    !strcmp(c->remote, remote))
				break;
		}
		if (i == tw->nr) {
			if (tw->nr == tw->max) {
				tw->dropped++;
				continue;
			}
			c = &tw->c[tw->nr++];
			c->netns = row->netns;
			snprintf(c->local, sizeof(c->local), "%s", local);
			snprintf(c->remote, sizeof(c->remote), "%s", remote);
			c->n = 0;
		}
		tw->c[i].n++;
	}
}

static int tw_cmp(const void *a, const void *b)
{
	const struct tw_count *x = a, *y = b;
	int r;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	r = strcmp(x->local, y->local);
	return r ? r : strcmp(x->remote, y->remote);
}

void stats_tw_print(FILE *out, struct tw_table *tw, size_t top, bool json)
{
	size_t i, n;

	qsort(tw->c, tw->nr, sizeof(*tw->c), tw_cmp);
	n = tw->nr < top ? tw->nr : top;
	if (json) {
		fprintf(out, "{\"time_wait\":[");
		for (i = 0; i < n; i++)
			fprintf(out, "%s{\"netns\":%" PRIu64 ",\"local\":\"%s\","
				"\"remote\":\"%s\",\"count\":%" PRIu64 "}",
				i ? "," : "", tw->c[i].netns, tw->c[i].local,
				tw->c[i].remote, tw->c[i].n);
		fprintf(out, "],\"pairs\":%zu,\"uncounted\":%" PRIu64 "}\n",
			tw->nr, tw->dropped);
		return;
	}
	fprintf(out, "%-10s  %-12s  %-40s  %s\n", "time_wait", "netns",
		"local", "remote");
	for (i = 0; i < n; i++)
		fprintf(out, "%10" PRIu64 "  %-12" PRIu64 "  %-40s  %s\n",
			tw->c[i].n, tw->c[i].netns, tw->c[i].local,
			tw->c[i].remote);
	if (tw->nr > n)
		fprintf(out, "(%zu more pairs)\n", tw->nr - n);
	if (tw->dropped)
		fprintf(out, "(%" PRIu64 " endpoints in more pairs than counted)\n",
			tw->dropped);
}

/*
 * SYN floods (issue 13): a flow is half-open from its SYN until the
 * handshake's last ACK, while the server is still LISTEN (no SYN/ACK
 * seen: the SYN went unanswered, as a flood's mostly do once the backlog
 * is full) or SYN_RCVD (the SYN/ACK went out, the ACK did not come, as
 * with spoofed sources).  The table's age is the time since the SYN, so
 * the half-open flows younger than a second are the last second's rate,
 * from a single read.
 */
void stats_syn_add(struct syn_table *syn, const struct ts_row *row)
{
	char listener[sizeof(syn->c->listener)];
	u8 cst = row->state[TCPSTATE_CLIENT];
	u8 sst = row->state[TCPSTATE_SERVER];
	struct syn_count *c;
	size_t i;

	if ((sst != TCPSTATE_LISTEN && sst != TCPSTATE_SYN_RCVD) ||
	    (cst != TCPSTATE_SYN_SENT && cst != TCPSTATE_ESTABLISHED))
		return;
	endpoint_key(&row->server, true, listener, sizeof(listener));
	for (i = 0; i < syn->nr; i++)
		if (syn->c[i].netns == row->netns &&
		    !strcmp(syn->c[i].listener, listener))
			break;
	if (i == syn->nr) {
		if (syn->nr == syn->max) {
			syn->dropped++;
			return;
		}
		c = &syn->c[syn->nr++];
		memset(c, 0, sizeof(*c));
		c->netns = row->netns;
		snprintf(c->listener, sizeof(c->listener), "%s", listener);
	}
	c = &syn->c[i];
	c->half_open++;
	c->recent += row->age_ms < 1000;
	c->unanswered += sst == TCPSTATE_LISTEN;
}

static int syn_cmp(const void *a, const void *b)
{
	const struct syn_count *x = a, *y = b;

	if (x->half_open != y->half_open)
		return x->half_open > y->half_open ? -1 : 1;
	if (x->netns != y->netns)
		return x->netns < y->netns ? -1 : 1;
	return strcmp(x->listener, y->listener);
}

void stats_syn_print(FILE *out, struct syn_table *syn, size_t top, bool json)
{
	const struct syn_count *c;
	size_t i, n;

	qsort(syn->c, syn->nr, sizeof(*syn->c), syn_cmp);
	n = syn->nr < top ? syn->nr : top;
	if (json) {
		fprintf(out, "{\"syn\":[");
		for (i = 0, c = syn->c; i < n; i++, c++)
			fprintf(out, "%s{\"netns\":%" PRIu64 ",\"listener\":\"%s\","
				"\"half_open\":%" PRIu64 ",\"last_second\":%" PRIu64
				",\"unanswered\":%" PRIu64 "}",
				i ? "," : "", c->netns, c->listener,
				c->half_open, c->recent, c->unanswered);
		fprintf(out, "],\"listeners\":%zu,\"uncounted\":%" PRIu64 "}\n",
			syn->nr, syn->dropped);
		return;
	}
	fprintf(out, "%10s  %10s  %10s  %5s  %-12s  %s\n", "half_open",
		"last_1s", "unanswered", "share", "netns", "listener");
	for (i = 0, c = syn->c; i < n; i++, c++)
		fprintf(out, "%10" PRIu64 "  %10" PRIu64 "  %10" PRIu64
			"  %4" PRIu64 "%%  %-12" PRIu64 "  %s\n",
			c->half_open, c->recent, c->unanswered,
			c->unanswered * 100 / c->half_open, c->netns,
			c->listener);
	if (syn->nr > n)
		fprintf(out, "(%zu more listeners)\n", syn->nr - n);
	if (syn->dropped)
		fprintf(out, "(%" PRIu64 " half-open flows at more listeners than counted)\n",
			syn->dropped);
}

#define TW_PAIRS_MAX	65536
#define TW_TOP		20

/* --time-wait and --syn: one read of /proc/tcpstate, counted per key. */
static int stats_table(void)
{
	static struct tw_count pairs[TW_PAIRS_MAX];
	static struct syn_count listeners[TW_PAIRS_MAX];
	struct tw_table tw = { .c = pairs, .max = TW_PAIRS_MAX };
	struct syn_table syn = { .c = listeners, .max = TW_PAIRS_MAX };
	FILE *fp = fopen_proc("tcpstate");
	char line[TS_LINE_MAX + 2];
	static struct ts_row row;

	while (fgets(line, sizeof(line), fp)) {
		if (ts_row_parse(line, strlen(line), &row) != TS_OK)
			continue;
		if (cfg.syn)
			stats_syn_add(&syn, &row);
		else
			stats_tw_add(&tw, &row);
	}
	fclose_proc(fp, "tcpstate");
	if (cfg.syn)
		stats_syn_print(stdout, &syn, TW_TOP, cfg.json);
	else
		stats_tw_print(stdout, &tw, TW_TOP, cfg.json);
	out_check();
	return 0;
}

static uint64_t now_ns(int clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int stats_main(void)
{
	static struct stat_line cur[MAX_STATS], prev[MAX_STATS];
	int n, nprev = 0, i, w = 0;
	uint64_t t, tprev = 0;
	long long samples = 0;
	sigset_t block, orig;

	if (cfg.time_wait || cfg.syn)
		return stats_table();
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	for (;;) {
		char when[32];

		n = read_stats(cur, MAX_STATS);
		t = now_ns(CLOCK_MONOTONIC);
		if (cfg.prometheus) {
			const char *names[MAX_STATS], *values[MAX_STATS];

			for (i = 0; i < n; i++) {
				names[i] = cur[i].name;
				values[i] = cur[i].value;
			}
			stats_prometheus(stdout, names, values, n);
			out_check();
			break;
		}
		for (i = 0; i < n; i++)
			if ((int)strlen(cur[i].name) > w)
				w = strlen(cur[i].name);
		format_abs_time(now_ns(CLOCK_REALTIME), when, sizeof(when));

		if (cfg.json) {
			printf("{");
			if (cfg.watch) {
				printf("\"ts\":%" PRIu64 ",",
				       now_ns(CLOCK_REALTIME));
				json_stats(cur, n, "counters");
			} else {
				json_stats(cur, n, NULL);
			}
			if (cfg.watch && nprev) {
				const char *sep = "";

				printf(",\"rates\":{");
				for (i = 0; i < n && i < nprev; i++) {
					double dt = (t - tprev) / 1e9;

					if (!cur[i].numeric || !prev[i].numeric)
						continue;
					printf("%s\"%s\":%.1f", sep,
					       cur[i].name,
					       ((double)cur[i].v - prev[i].v) / dt);
					sep = ",";
				}
				printf("}");
			}
			printf("}\n");
		} else {
			if (cfg.watch && isatty(STDOUT_FILENO))
				printf("\033[H\033[2J");
			if (cfg.watch)
				printf("%s%s%s\n", col(C_BOLD), when,
				       col(C_RESET));
			for (i = 0; i < n; i++) {
				printf("%-*s  %12s", w, cur[i].name,
				       cur[i].value);
				if (cfg.watch && i < nprev &&
				    !strcmp(cur[i].name, prev[i].name) &&
				    cur[i].numeric && prev[i].numeric) {
					double dt = (t - tprev) / 1e9;
					double r = ((double)cur[i].v -
						    prev[i].v) / dt;

					printf("  %s%10.1f/s%s",
					       r ? col(C_YELLOW) : "", r,
					       r ? col(C_RESET) : "");
				}
				printf("\n");
			}
			if (cfg.watch && !isatty(STDOUT_FILENO))
				printf("\n");
		}
		out_check();
		samples++;
		if (!cfg.watch || (cfg.count >= 0 && samples >= cfg.count))
			break;
		memcpy(prev, cur, sizeof(cur));
		nprev = n;
		tprev = t;

		{
			struct timespec one = { 1, 0 };

			if (ppoll(NULL, 0, &one, &orig) < 0 && errno != EINTR)
				break;
		}
		if (stop_signal)
			break;
	}
	return 0;
}

/*
 * getopt_long wants one table per command, so the filter options (watch,
 * list) and the common ones (every command) stand in each command's
 * table; a multi-entry initializer macro would not pass checkpatch.
 * tests/unit/test_reader.c checks that the filters mean the same in watch
 * and list, that every command takes the common ones and that --help
 * names each option once.
 */
static const struct option stats_longopts[] = {
	{ "count", required_argument, NULL, 'n' },
	{ "watch", no_argument, NULL, 'w' },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "time-wait", no_argument, NULL, OPT_TIME_WAIT },
	{ "syn", no_argument, NULL, OPT_SYN },
	{ "json", no_argument, NULL, 'j' },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "proc", required_argument, NULL, OPT_PROC },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

#define STATS_SHORTOPTS "n:wjhV"

static enum parse_result stats_parse(int argc, char **argv,
				     struct reader_cfg *c)
{
	enum parse_result r = PARSE_OK;
	int ch;

	while (r == PARSE_OK &&
	       (ch = getopt_long(argc, argv, STATS_SHORTOPTS, stats_longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'n':
			r = parse_count(c, optarg);
			break;
		case 'w':
			c->watch = true;
			break;
		case OPT_PROMETHEUS:
			c->prometheus = true;
			break;
		case OPT_TIME_WAIT:
			c->time_wait = true;
			break;
		case OPT_SYN:
			c->syn = true;
			break;
		default:
			r = parse_shared_option(c, ch, argv);
			break;
		}
	}
	if (r == PARSE_OK && c->prometheus && (c->watch || c->json))
		r = parse_error(c, "--prometheus goes without --watch and --json");
	if (r == PARSE_OK && c->time_wait && (c->watch || c->prometheus))
		r = parse_error(c, "--time-wait goes without --watch and --prometheus");
	if (r == PARSE_OK && c->syn &&
	    (c->watch || c->prometheus || c->time_wait))
		r = parse_error(c, "--syn goes without --watch, --prometheus and --time-wait");
	return r;
}

const struct command stats_command = {
	.name = "stats",
	.help = "the counters, /proc/tcpstate_stats",
	.shortopts = STATS_SHORTOPTS,
	.longopts = stats_longopts,
	.parse = stats_parse,
	.main = stats_main,
};
