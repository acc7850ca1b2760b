// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate: the reader beside the module.
 *
 *   tcpstate [watch]   tail /proc/tcpstate_events, one line per transition
 *   tcpstate list      /proc/tcpstate through the same filters
 *   tcpstate stats     /proc/tcpstate_stats, or rates with --watch
 *
 * Every option lives in one table (options[] below): getopt_long's array,
 * the short-option string and --help are all built from it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event_parse.h"

#define PROGRAM		"tcpstate"
#define VERSION		"0.1"

/* Exit statuses. */
#define EXIT_USAGE	1
#define EXIT_NOMODULE	2
#define EXIT_PERM	3


enum command {
	CMD_WATCH = 1,
	CMD_LIST = 2,
	CMD_STATS = 4,
};

#define CMD_ALL (CMD_WATCH | CMD_LIST | CMD_STATS)

/* Long-only options get keys above any character. */
enum {
	OPT_SPORT = 256,
	OPT_DPORT,
	OPT_SIDE,
	OPT_NETNS,
	OPT_TS,
	OPT_NO_COLOR,
	OPT_PROC,
};

struct option_def {
	const char *name;
	int key;		/* the short option, or OPT_* */
	int has_arg;
	const char *arg;	/* the argument's name in --help */
	unsigned int cmds;	/* the commands it applies to */
	const char *help;
};

static const struct option_def options[] = {
	{ "all", 'a', no_argument, NULL, CMD_WATCH,
	  "start at the oldest buffered event, not at now" },
	{ "count", 'n', required_argument, "N", CMD_WATCH | CMD_STATS,
	  "stop after N transitions (stats --watch: N samples)" },
	{ "ipv4", '4', no_argument, NULL, CMD_WATCH | CMD_LIST,
	  "IPv4 flows only" },
	{ "ipv6", '6', no_argument, NULL, CMD_WATCH | CMD_LIST,
	  "IPv6 flows only" },
	{ "port", 'p', required_argument, "PORT", CMD_WATCH | CMD_LIST,
	  "flows with PORT at either end" },
	{ "sport", OPT_SPORT, required_argument, "PORT", CMD_WATCH | CMD_LIST,
	  "flows whose client (the end that sent the first SYN) uses PORT" },
	{ "dport", OPT_DPORT, required_argument, "PORT", CMD_WATCH | CMD_LIST,
	  "flows whose server (the end that answered it) uses PORT" },
	{ "host", 'H', required_argument, "ADDR[/LEN]", CMD_WATCH | CMD_LIST,
	  "flows with an end in ADDR or the prefix ADDR/LEN (v4 or v6; repeat to OR)" },
	{ "state", 's', required_argument, "STATE", CMD_WATCH | CMD_LIST,
	  "transitions into STATE (list: flows with an end in it); STATE is a state name (ESTABLISHED, syn-recv...) or a group: handshake, synchronized, closing, connected, bucket, big, all; comma-separated or repeated to OR" },
	{ "side", OPT_SIDE, required_argument, "client|server", CMD_WATCH | CMD_LIST,
	  "transitions of that end only (list: with --state, that end's state)" },
	{ "netns", OPT_NETNS, required_argument, "ID", CMD_WATCH | CMD_LIST,
	  "flows of the network namespace with inode number ID" },
	{ "json", 'j', no_argument, NULL, CMD_ALL,
	  "one JSON object per line (stats: per sample)" },
	{ "ladder", 'l', no_argument, NULL, CMD_WATCH,
	  "when a flow finishes, draw its ladder diagram instead of lines" },
	{ "ts", OPT_TS, required_argument, "abs|rel|ns", CMD_WATCH,
	  "time as local clock time with ms (abs, the default), seconds since the first line (rel), or ns since the epoch (ns)" },
	{ "watch", 'w', no_argument, NULL, CMD_STATS,
	  "print the counters and their rates every second" },
	{ "no-color", OPT_NO_COLOR, no_argument, NULL, CMD_ALL,
	  "no colour, even on a terminal (so does NO_COLOR=1)" },
	{ "proc", OPT_PROC, required_argument, "DIR", CMD_ALL,
	  "read DIR/tcpstate* instead of /proc/tcpstate* (for tests)" },
	{ "help", 'h', no_argument, NULL, CMD_ALL, "this help" },
	{ "version", 'V', no_argument, NULL, CMD_ALL, "the version" },
};

static const struct {
	const char *name;
	enum command cmd;
	const char *help;
} commands[] = {
	{ "watch", CMD_WATCH, "tail the transitions as they happen (the default)" },
	{ "list", CMD_LIST, "the flow table, /proc/tcpstate" },
	{ "stats", CMD_STATS, "the counters, /proc/tcpstate_stats" },
};

enum ts_mode { TS_ABS, TS_REL, TS_NS };

static struct config {
	enum command cmd;
	struct ts_filter filter;
	bool all;
	long long count;	/* -1: no limit */
	bool json;
	bool ladder;
	bool watch;
	bool color;
	enum ts_mode ts_mode;
	const char *proc;
} cfg;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

__attribute__((format(printf, 1, 2), noreturn))
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROGRAM ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROGRAM " --help'.\n");
	exit(EXIT_USAGE);
}

/* Output. */

/* A write to a closed pipe ends the program quietly, with status 0. */
static void out_check(void)
{
	if (ferror(stdout) || fflush(stdout) == EOF) {
		if (errno == EPIPE)
			_exit(0);
		fprintf(stderr, PROGRAM ": write: %s\n", strerror(errno));
		_exit(1);
	}
}

/* ANSI colours, or nothing. */
#define C_RESET		"\033[0m"
#define C_DIM		"\033[2m"
#define C_BOLD		"\033[1m"
#define C_RED		"\033[31m"
#define C_GREEN		"\033[32m"
#define C_YELLOW	"\033[33m"
#define C_BLUE		"\033[34m"
#define C_MAGENTA	"\033[35m"
#define C_CYAN		"\033[36m"
#define C_LOST		"\033[1;33;7m"

static const char *col(const char *c)
{
	return cfg.color ? c : "";
}

static const char *state_color(unsigned int st)
{
	switch (st) {
	case TCPSTATE_ESTABLISHED:
		return C_GREEN;
	case TCPSTATE_SYN_SENT:
	case TCPSTATE_SYN_RCVD:
		return C_CYAN;
	case TCPSTATE_CLOSED:
		return C_RED;
	case TCPSTATE_LISTEN:
		return C_BLUE;
	default:
		return C_YELLOW;
	}
}

static void print_colored(const char *c, int width, const char *text)
{
	printf("%s%-*s%s", col(c), width, text, col(C_RESET));
}

/* "06:02:35.123" */
static void format_abs_time(uint64_t ts, char *buf, size_t n)
{
	time_t sec = ts / 1000000000u;
	struct tm tm;

	if (!localtime_r(&sec, &tm)) {
		snprintf(buf, n, "%" PRIu64, ts);
		return;
	}
	snprintf(buf, n, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (unsigned int)(ts / 1000000 % 1000));
}

static void format_time(uint64_t ts, char *buf, size_t n)
{
	static bool have_first;
	static uint64_t first;
	uint64_t d;

	switch (cfg.ts_mode) {
	case TS_NS:
		snprintf(buf, n, "%" PRIu64, ts);
		break;
	case TS_REL:
		if (!have_first) {
			first = ts;
			have_first = true;
		}
		d = ts >= first ? ts - first : 0;
		snprintf(buf, n, "%6" PRIu64 ".%03u", (uint64_t)(d / 1000000000u),
			 (unsigned int)(d / 1000000 % 1000));
		break;
	default:
		format_abs_time(ts, buf, n);
		break;
	}
}

/* The reader's own namespace: others are named on each line. */
static uint64_t own_netns;

static void init_own_netns(void)
{
	struct stat st;

	if (!stat("/proc/self/ns/net", &st))
		own_netns = st.st_ino;
}

static bool flags_have(const char *flags, char c)
{
	return strcmp(flags, "-") && strchr(flags, c);
}

/* The cause: "S. seq 1 ack 2", or the reason. */
static void format_cause(const struct ts_event *ev, char *buf, size_t n)
{
	if (ev->reason != TS_REASON_SEGMENT) {
		snprintf(buf, n, "%s", ts_reason_name(ev->reason));
		return;
	}
	if (flags_have(ev->flags, '.'))
		snprintf(buf, n, "%-3s seq %u ack %u", ev->flags, ev->seq,
			 ev->ack);
	else
		snprintf(buf, n, "%-3s seq %u", ev->flags, ev->seq);
}

static int client_width = 21, server_width = 21;	/* grow, never shrink */

static void print_lost(const struct ts_event *ev)
{
	char when[32];

	format_time(ev->ts, when, sizeof(when));
	printf("%s%s  *** lost %" PRIu64 " event%s: this reader fell behind ***%s\n",
	       col(C_LOST), when, ev->nlost, ev->nlost == 1 ? "" : "s",
	       col(C_RESET));
}

static void print_line(const struct ts_event *ev)
{
	char when[32], client[64], server[64], cause[64];
	int w;

	if (ev->lost) {
		print_lost(ev);
		return;
	}
	format_time(ev->ts, when, sizeof(when));
	ts_endpoint_format(&ev->client, client, sizeof(client));
	ts_endpoint_format(&ev->server, server, sizeof(server));
	w = strlen(client);
	if (w > client_width)
		client_width = w;
	w = strlen(server);
	if (w > server_width)
		server_width = w;
	format_cause(ev, cause, sizeof(cause));

	print_colored(C_DIM, 0, when);
	printf("  %-*s -> %-*s  ", client_width, client, server_width, server);
	print_colored(ev->side == TCPSTATE_CLIENT ? C_CYAN : C_MAGENTA, 6,
		      tcpstate_side_name(ev->side));
	printf("  ");
	print_colored(state_color(ev->old_state), 11,
		      tcpstate_state_name(ev->old_state));
	printf(" -> ");
	print_colored(state_color(ev->new_state), 11,
		      tcpstate_state_name(ev->new_state));
	printf("  ");
	if (flags_have(ev->flags, 'R'))
		print_colored(C_BOLD C_RED, 0, cause);
	else
		printf("%s", cause);
	if (ev->netns != own_netns)
		printf("  %snetns %" PRIu64 "%s", col(C_DIM), ev->netns,
		       col(C_RESET));
	printf("\n");
}

static void print_json(const struct ts_event *ev)
{
	char buf[8 * TS_LINE_MAX];

	if (ts_event_json(ev, buf, sizeof(buf)) > 0)
		printf("%s\n", buf);
}

/* Opening the /proc files. */

static void proc_path(const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", cfg.proc, name);
}

static int open_proc(const char *name)
{
	char path[PATH_MAX];
	int fd;

	proc_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		fprintf(stderr, PROGRAM ": module not loaded (try: sudo insmod module/tcpstate.ko)\n");
		exit(EXIT_NOMODULE);
	case EACCES:
	case EPERM:
		fprintf(stderr, PROGRAM ": %s: %s\n", path, strerror(errno));
		exit(EXIT_PERM);
	default:
		fprintf(stderr, PROGRAM ": %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void read_error(const char *name)
{
	int err = errno;

	fprintf(stderr, PROGRAM ": %s/%s: %s\n", cfg.proc, name,
		strerror(err));
	exit(err == EACCES || err == EPERM ? EXIT_PERM : 1);
}

/*
 * The ladder: the events of each flow kept until it finishes, then drawn.
 */

#define LADDER_MAX_FLOWS	4096
#define LADDER_MAX_STEPS	64
#define LADDER_BUCKETS		1024

struct flow_key {
	uint64_t netns;
	struct ts_endpoint client, server;
};

struct step {
	uint64_t ts;
	uint32_t seq, ack;
	uint8_t side, old_state, new_state, reason;
	char flags[TS_FLAGS_LEN];
};

struct flow {
	struct flow_key key;
	struct flow *hnext;		/* hash chain */
	struct flow *older, *newer;	/* age list */
	int state[2];			/* last known, -1 if none seen */
	bool reset;			/* a RST, an eviction or an unload */
	bool selected;			/* an event matched every filter */
	unsigned int nsteps;
	unsigned int dropped;		/* steps beyond LADDER_MAX_STEPS */
	struct step steps[LADDER_MAX_STEPS];
};

static struct flow *buckets[LADDER_BUCKETS];
static struct flow *oldest, *newest;
static unsigned int nflows;

static unsigned int key_hash(const struct flow_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % LADDER_BUCKETS;
}

static void flow_unlink(struct flow *f)
{
	struct flow **pp = &buckets[key_hash(&f->key)];

	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	if (f->older)
		f->older->newer = f->newer;
	else
		oldest = f->newer;
	if (f->newer)
		f->newer->older = f->older;
	else
		newest = f->older;
	nflows--;
	free(f);
}

static struct flow *flow_get(const struct ts_event *ev)
{
	struct flow_key k;
	struct flow *f;
	unsigned int h;

	memset(&k, 0, sizeof(k));
	k.netns = ev->netns;
	k.client = ev->client;
	k.server = ev->server;
	h = key_hash(&k);
	for (f = buckets[h]; f; f = f->hnext)
		if (!memcmp(&f->key, &k, sizeof(k)))
			return f;
	if (nflows >= LADDER_MAX_FLOWS)
		flow_unlink(oldest);
	f = calloc(1, sizeof(*f));
	if (!f) {
		fprintf(stderr, PROGRAM ": out of memory\n");
		exit(1);
	}
	f->key = k;
	f->state[0] = f->state[1] = -1;
	f->hnext = buckets[h];
	buckets[h] = f;
	f->older = newest;
	if (newest)
		newest->newer = f;
	else
		oldest = f;
	newest = f;
	nflows++;
	return f;
}

/* Closed, or a listener that never left LISTEN. */
static bool side_done(int st)
{
	return st < 0 || st == TCPSTATE_CLOSED || st == TCPSTATE_LISTEN;
}

static bool flow_finished(const struct flow *f)
{
	if (f->state[0] == TCPSTATE_CLOSED && f->state[1] == TCPSTATE_CLOSED)
		return true;
	return f->reset && side_done(f->state[0]) && side_done(f->state[1]);
}

/* Steps from one segment: same flags, seq and ack, caused by a segment. */
static bool same_segment(const struct step *a, const struct step *b)
{
	return a->reason == TS_REASON_SEGMENT &&
	       b->reason == TS_REASON_SEGMENT && a->seq == b->seq &&
	       a->ack == b->ack && !strcmp(a->flags, b->flags);
}

/* Transitions an endpoint makes by sending, not by receiving. */
static bool sender_move(const struct step *s)
{
	switch (s->new_state) {
	case TCPSTATE_SYN_SENT:
	case TCPSTATE_FIN_WAIT_1:
	case TCPSTATE_LAST_ACK:
		return true;
	case TCPSTATE_SYN_RCVD:
		return flags_have(s->flags, '.');	/* it sent the S. */
	case TCPSTATE_CLOSING:
		return s->old_state == TCPSTATE_CLOSE_WAIT;
	case TCPSTATE_ESTABLISHED:
		/* The split handshake: its own ACK moved it. */
		return s->old_state == TCPSTATE_SYN_SENT && !flags_have(s->flags, 'S');
	default:
		return false;
	}
}

static uint32_t seq_dist(uint32_t a, uint32_t b)
{
	return a - b;
}

/* Who sent the segment behind steps[i..j): the client or the server. */
static int segment_sender(const struct step *s, unsigned int n,
			  const bool isn_known[2], const uint32_t isn[2])
{
	unsigned int i;

	if (flags_have(s->flags, 'S'))
		return flags_have(s->flags, '.') ? TCPSTATE_SERVER : TCPSTATE_CLIENT;
	if (isn_known[0] && isn_known[1]) {
		uint64_t as_client = seq_dist(s->seq, isn[TCPSTATE_CLIENT]);
		uint64_t as_server = seq_dist(s->seq, isn[TCPSTATE_SERVER]);

		if (flags_have(s->flags, '.')) {
			as_client += seq_dist(s->ack, isn[TCPSTATE_SERVER]);
			as_server += seq_dist(s->ack, isn[TCPSTATE_CLIENT]);
		}
		return as_client <= as_server ? TCPSTATE_CLIENT : TCPSTATE_SERVER;
	}
	for (i = 0; i < n; i++)
		if (sender_move(&s[i]))
			return s[i].side;
	/* Only receivers moved: the other end sent it. */
	return s[0].side == TCPSTATE_CLIENT ? TCPSTATE_SERVER : TCPSTATE_CLIENT;
}

#define LADDER_STATE_W	12
#define LADDER_ARROW_W	44

/* One row: the client's new state, the middle, the server's new state. */
static void ladder_row(const char *offset, int cst, const char *middle,
		       int sst)
{
	printf("%s%10s%s  ", col(C_DIM), offset, col(C_RESET));
	if (cst >= 0)
		print_colored(state_color(cst),
			      sst >= 0 || *middle ? LADDER_STATE_W : 0,
			      tcpstate_state_name(cst));
	else
		printf("%-*s", LADDER_STATE_W, "");
	if (sst >= 0) {
		printf(" %-*s ", LADDER_ARROW_W, middle);
		print_colored(state_color(sst), 0, tcpstate_state_name(sst));
	} else if (*middle) {
		printf(" %s", middle);
	}
	printf("\n");
}

static void ladder_arrow(char *buf, size_t n, bool to_server,
			 const struct step *s)
{
	char label[64];
	int len, i, pos = 0;

	if (flags_have(s->flags, '.'))
		snprintf(label, sizeof(label), " %s seq=%u ack=%u ", s->flags,
			 s->seq, s->ack);
	else
		snprintf(label, sizeof(label), " %s seq=%u ", s->flags,
			 s->seq);
	len = strlen(label);
	if (n < LADDER_ARROW_W + 1)
		return;
	buf[pos++] = to_server ? '-' : '<';
	buf[pos++] = '-';
	buf[pos++] = '-';
	for (i = 0; i < len && pos < LADDER_ARROW_W - 2; i++)
		buf[pos++] = label[i];
	while (pos < LADDER_ARROW_W - (to_server ? 1 : 0))
		buf[pos++] = '-';
	if (to_server)
		buf[pos++] = '>';
	buf[pos] = '\0';
}

static void format_offset(uint64_t ts, uint64_t t0, char *buf, size_t n)
{
	uint64_t d = ts >= t0 ? ts - t0 : 0;

	snprintf(buf, n, "+%" PRIu64 ".%03u", d / 1000000,
		 (unsigned int)(d / 1000 % 1000));
}

static void format_us(uint64_t ns, char *buf, size_t n)
{
	snprintf(buf, n, "%" PRIu64 ".%03u ms", ns / 1000000,
		 (unsigned int)(ns / 1000 % 1000));
}

/* The table's rtt_us for a flow, or -1. */
static long long table_rtt(const struct flow_key *k)
{
	char path[PATH_MAX], line[TS_LINE_MAX + 2];
	static struct ts_row row;
	long long rtt = -1;
	FILE *fp;

	proc_path("tcpstate", path, sizeof(path));
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (ts_row_parse(line, strlen(line), &row) != TS_OK)
			continue;
		if (row.netns == k->netns &&
		    !memcmp(&row.client, &k->client, sizeof(row.client)) &&
		    !memcmp(&row.server, &k->server, sizeof(row.server)) &&
		    row.has_rtt)
			rtt = row.rtt_us;
	}
	fclose(fp);
	return rtt;
}

static void ladder_print(const struct flow *f, bool finished)
{
	const struct step *s = f->steps;
	char client[64], server[64], middle[128], offset[32], a[32], b[32];
	uint64_t t0 = f->nsteps ? s[0].ts : 0;
	uint64_t t_syn = 0, t_synack = 0, t_ack = 0;
	bool isn_known[2] = { false, false };
	uint32_t isn[2] = { 0, 0 };
	int first[2] = { -1, -1 };
	unsigned int i, j, k;
	long long rtt;

	ts_endpoint_format(&f->key.client, client, sizeof(client));
	ts_endpoint_format(&f->key.server, server, sizeof(server));
	for (i = 0; i < f->nsteps; i++)
		if (first[s[i].side] < 0)
			first[s[i].side] = s[i].old_state;

	printf("%s%s -> %s%s  ipv%u netns %" PRIu64 "%s\n", col(C_BOLD),
	       client, server, col(C_RESET), f->key.client.family,
	       f->key.netns, finished ? "" : "  (unfinished)");
	printf("%10s  %-*s %-*s %s\n", "ms", LADDER_STATE_W, "client",
	       LADDER_ARROW_W, "", "server");
	ladder_row("", first[TCPSTATE_CLIENT], "", first[TCPSTATE_SERVER]);

	for (i = 0; i < f->nsteps; i = j) {
		int moved[2] = { -1, -1 }, sender;

		for (j = i + 1; j < f->nsteps && same_segment(&s[i], &s[j]); j++)
			;
		for (k = i; k < j; k++)
			moved[s[k].side] = s[k].new_state;
		format_offset(s[i].ts, t0, offset, sizeof(offset));

		if (s[i].reason != TS_REASON_SEGMENT) {
			snprintf(middle, sizeof(middle), "(%s)",
				 ts_reason_name(s[i].reason));
			ladder_row(offset, moved[TCPSTATE_CLIENT], middle,
				   moved[TCPSTATE_SERVER]);
			continue;
		}
		sender = segment_sender(&s[i], j - i, isn_known, isn);
		if (flags_have(s[i].flags, 'S')) {
			isn[sender] = s[i].seq;
			isn_known[sender] = true;
			if (sender == TCPSTATE_CLIENT && !t_syn)
				t_syn = s[i].ts;
			else if (sender == TCPSTATE_SERVER && !t_synack)
				t_synack = s[i].ts;
		}
		for (k = i; k < j; k++)
			if (s[k].side == TCPSTATE_SERVER &&
			    s[k].old_state == TCPSTATE_SYN_RCVD &&
			    s[k].new_state == TCPSTATE_ESTABLISHED && !t_ack)
				t_ack = s[k].ts;
		ladder_arrow(middle, sizeof(middle), sender == TCPSTATE_CLIENT,
			     &s[i]);
		/* The sender's change on the arrow's row, the receiver's too. */
		ladder_row(offset, moved[TCPSTATE_CLIENT], middle, moved[TCPSTATE_SERVER]);
	}
	if (f->dropped)
		printf("%10s  (%u more transitions not drawn)\n", "",
		       f->dropped);

	if (t_syn && t_synack && t_synack >= t_syn) {
		format_us(t_synack - t_syn, a, sizeof(a));
		if (t_ack && t_ack >= t_synack)
			format_us(t_ack - t_synack, b, sizeof(b));
		else
			snprintf(b, sizeof(b), "?");
		printf("%10s  handshake RTT: SYN -> SYN/ACK %s, SYN/ACK -> ACK %s\n",
		       "", a, b);
	} else {
		rtt = table_rtt(&f->key);
		if (rtt >= 0)
			printf("%10s  handshake RTT: %lld.%03lld ms (from /proc/tcpstate)\n",
			       "", rtt / 1000, rtt % 1000);
	}
	printf("\n");
	out_check();
}

static void ladder_event(const struct ts_event *ev, bool selected)
{
	struct flow *f;
	struct step *s;

	if (ev->lost) {
		print_lost(ev);
		return;
	}
	if (!ts_filter_flow(&cfg.filter, ev->netns, &ev->client, &ev->server))
		return;
	f = flow_get(ev);
	if (f->nsteps < LADDER_MAX_STEPS) {
		s = &f->steps[f->nsteps++];
		s->ts = ev->ts;
		s->seq = ev->seq;
		s->ack = ev->ack;
		s->side = ev->side;
		s->old_state = ev->old_state;
		s->new_state = ev->new_state;
		s->reason = ev->reason;
		memcpy(s->flags, ev->flags, sizeof(s->flags));
	} else {
		f->dropped++;
	}
	f->state[ev->side] = ev->new_state;
	if (flags_have(ev->flags, 'R') || ev->reason == TS_REASON_EVICT ||
	    ev->reason == TS_REASON_UNLOAD)
		f->reset = true;
	if (selected)
		f->selected = true;
	if (flow_finished(f)) {
		if (f->selected)
			ladder_print(f, true);
		flow_unlink(f);
	}
}

/* On the way out: what is still open, marked unfinished. */
static void ladder_flush(void)
{
	while (oldest) {
		if (oldest->selected)
			ladder_print(oldest, false);
		flow_unlink(oldest);
	}
}

/* watch */

static bool handle_line(const char *line, size_t len, long long *seen)
{
	static struct ts_event ev;
	bool selected;
	enum ts_err err;

	err = ts_event_parse(line, len, &ev);
	if (err) {
		static bool warned;

		if (!warned)
			fprintf(stderr, PROGRAM ": skipping a line I cannot read (%s): %.*s\n",
				ts_err_name(err), (int)(len && line[len - 1] == '\n' ? len - 1 : len),
				line);
		warned = true;
		return true;
	}
	selected = ts_filter_event(&cfg.filter, &ev);
	if (cfg.ladder)
		ladder_event(&ev, selected && !ev.lost);
	else if (selected && cfg.json)
		print_json(&ev);
	else if (selected)
		print_line(&ev);
	if (selected && !ev.lost)
		(*seen)++;
	if (!cfg.ladder && selected)
		out_check();
	return cfg.count < 0 || *seen < cfg.count;
}

/* Whether /proc/tcpstate_events went away with the module. */
static bool events_gone(void)
{
	char path[PATH_MAX];
	struct stat st;

	proc_path("tcpstate_events", path, sizeof(path));
	return stat(path, &st) < 0 && errno == ENOENT;
}

static int do_watch(void)
{
	static char buf[65536 + TS_LINE_MAX + 2];
	size_t have = 0;
	long long seen = 0;
	sigset_t block, orig;
	struct pollfd pfd;
	bool more = true;
	int fd;

	fd = open_proc("tcpstate_events");
	if (!cfg.all && lseek(fd, 0, SEEK_END) < 0 && errno != ESPIPE)
		read_error("tcpstate_events");

	/* SIGINT and SIGTERM are let in only while waiting in ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	pfd.fd = fd;
	pfd.events = POLLIN;

	while (more && !stop_signal) {
		ssize_t n;
		char *p, *nl;

		if (ppoll(&pfd, 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			read_error("tcpstate_events");
		}
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* A read after the module removed the file: EIO. */
			if (errno != EIO || !events_gone())
				read_error("tcpstate_events");
			n = 0;
		}
		if (n == 0) {
			if (isatty(STDERR_FILENO) && !cfg.json)
				fprintf(stderr, PROGRAM ": end of the stream (module unloaded)\n");
			break;
		}
		have += n;
		p = buf;
		while (more && (nl = memchr(p, '\n', buf + have - p))) {
			more = handle_line(p, nl - p + 1, &seen);
			p = nl + 1;
		}
		have -= p - buf;
		memmove(buf, p, have);
		/* A line longer than any the module writes: drop it. */
		if (have >= sizeof(buf) - 1 - TS_LINE_MAX)
			have = 0;
	}
	if (cfg.ladder)
		ladder_flush();
	close(fd);
	out_check();
	return 0;
}

/* list */

static int do_list(void)
{
	char path[PATH_MAX], line[TS_LINE_MAX + 2];
	static struct ts_header hdr;
	static struct ts_row row;
	static char js[8 * TS_LINE_MAX];
	bool have_hdr = false;
	FILE *fp;
	int fd;

	fd = open_proc("tcpstate");
	fp = fdopen(fd, "r");
	if (!fp)
		read_error("tcpstate");
	proc_path("tcpstate", path, sizeof(path));
	errno = 0;
	while (fgets(line, sizeof(line), fp)) {
		size_t len = strlen(line);

		if (ts_table_is_header(line, len)) {
			have_hdr = ts_header_parse(line, len, &hdr) == TS_OK;
			if (!cfg.json)
				fputs(line, stdout);
			continue;
		}
		if (ts_row_parse(line, len, &row) != TS_OK) {
			/* Unfiltered plain output shows what it cannot read. */
			if (!cfg.json && !ts_filter_any(&cfg.filter))
				fputs(line, stdout);
			continue;
		}
		if (!ts_filter_row(&cfg.filter, &row))
			continue;
		if (cfg.json) {
			if (ts_row_json(&row, have_hdr ? &hdr : NULL, js,
					sizeof(js)) > 0)
				printf("%s\n", js);
		} else {
			fputs(line, stdout);
		}
		out_check();
	}
	if (ferror(fp))
		read_error("tcpstate");
	fclose(fp);
	out_check();
	return 0;
}

/* stats */

#define MAX_STATS 256

struct stat_line {
	char name[64];
	char value[64];
	bool numeric;
	uint64_t v;
};

static int read_stats(struct stat_line *st, int max)
{
	char line[256];
	int fd, n = 0;
	FILE *fp;

	fd = open_proc("tcpstate_stats");
	fp = fdopen(fd, "r");
	if (!fp)
		read_error("tcpstate_stats");
	while (n < max && fgets(line, sizeof(line), fp)) {
		char name[64], value[64];

		if (sscanf(line, "%63s %63s", name, value) != 2)
			continue;
		snprintf(st[n].name, sizeof(st[n].name), "%s", name);
		snprintf(st[n].value, sizeof(st[n].value), "%s", value);
		st[n].numeric = !ts_parse_u64(value, strlen(value), &st[n].v);
		n++;
	}
	if (ferror(fp))
		read_error("tcpstate_stats");
	fclose(fp);
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

static uint64_t now_ns(int clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static int do_stats(void)
{
	static struct stat_line cur[MAX_STATS], prev[MAX_STATS];
	int n, nprev = 0, i, w = 0;
	uint64_t t, tprev = 0;
	long long samples = 0;
	sigset_t block, orig;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);

	for (;;) {
		char when[32];

		n = read_stats(cur, MAX_STATS);
		t = now_ns(CLOCK_MONOTONIC);
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

/* Options. */

static void print_help(void)
{
	unsigned int i, c;

	printf("Usage: " PROGRAM " [COMMAND] [OPTION]...\n"
	       "Watch the TCP state of both ends of every connection, as the tcpstate module\n"
	       "reconstructs it.\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].help);
	printf("\nOptions:\n");
	for (i = 0; i < ARRAY_SIZE(options); i++) {
		const struct option_def *o = &options[i];
		char left[64], cmds[32] = "";
		int n;

		if (o->key < 256)
			n = snprintf(left, sizeof(left), "  -%c, --%s", o->key,
				     o->name);
		else
			n = snprintf(left, sizeof(left), "      --%s",
				     o->name);
		if (o->arg)
			snprintf(left + n, sizeof(left) - n, "%s%s",
				 o->has_arg == required_argument ? " " : "=",
				 o->arg);
		if (o->cmds != CMD_ALL) {
			for (c = 0; c < ARRAY_SIZE(commands); c++) {
				if (!(o->cmds & commands[c].cmd))
					continue;
				strcat(cmds, cmds[0] ? "," : " [");
				strcat(cmds, commands[c].name);
			}
			strcat(cmds, "]");
		}
		if (strlen(left) > 28)
			printf("%s\n%-30s", left, "");
		else
			printf("%-30s", left);
		/* Wrap the help at 79 columns. */
		{
			const char *h = o->help;
			char text[512];
			int col_at = 30;

			snprintf(text, sizeof(text), "%s%s", h, cmds);
			h = text;
			while (*h) {
				const char *sp = h;
				int wl;

				while (*sp && *sp != ' ')
					sp++;
				wl = sp - h;
				if (col_at > 30 && col_at + 1 + wl > 79) {
					printf("\n%-30s", "");
					col_at = 30;
				} else if (col_at > 30) {
					printf(" ");
					col_at++;
				}
				printf("%.*s", wl, h);
				col_at += wl;
				h = *sp ? sp + 1 : sp;
			}
			printf("\n");
		}
	}
	printf("\nA transition line reads: time, client -> server, the side that moved,\n"
	       "OLD -> NEW, and the cause: the segment's flags (tcpdump notation), seq and\n"
	       "ack, or timer/evict/unload.  Filters are ANDed; a lost=N line always shows.\n"
	       "\nExit status: 0 ok (also on SIGINT, SIGTERM and a closed pipe), 1 usage or\n"
	       "I/O error, 2 module not loaded, 3 permission denied.\n"
	       "See " PROGRAM "(8).\n");
}

static void build_getopt(struct option *longopts, char *shortopts)
{
	unsigned int i, n = 0;
	char *s = shortopts;

	for (i = 0; i < ARRAY_SIZE(options); i++) {
		longopts[n].name = options[i].name;
		longopts[n].has_arg = options[i].has_arg;
		longopts[n].flag = NULL;
		longopts[n].val = options[i].key;
		n++;
		if (options[i].key < 256) {
			*s++ = options[i].key;
			if (options[i].has_arg == required_argument)
				*s++ = ':';
			else if (options[i].has_arg == optional_argument) {
				*s++ = ':';
				*s++ = ':';
			}
		}
	}
	memset(&longopts[n], 0, sizeof(longopts[n]));
	*s = '\0';
}

static const struct option_def *find_option(int key)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(options); i++)
		if (options[i].key == key)
			return &options[i];
	return NULL;
}

static void parse_args(int argc, char **argv)
{
	struct option longopts[ARRAY_SIZE(options) + 1];
	char shortopts[3 * ARRAY_SIZE(options) + 2];
	const struct option_def *seen[ARRAY_SIZE(options)];
	unsigned int nseen = 0, i;
	bool no_color = false;
	uint64_t v;
	int c;

	memset(&cfg, 0, sizeof(cfg));
	ts_filter_init(&cfg.filter);
	cfg.count = -1;
	cfg.proc = "/proc";
	cfg.cmd = CMD_WATCH;
	build_getopt(longopts, shortopts);

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct option_def *o = find_option(c);

		if (c == '?' || c == ':' || !o) {
			if (optopt && optopt < 256 && find_option(optopt))
				usage_error("option -%c needs an argument",
					    optopt);
			if (optopt && optopt < 256)
				usage_error("unknown option -%c", optopt);
			usage_error("unknown option or missing argument: %s",
				    argv[optind - 1]);
		}
		seen[nseen++] = o;
		switch (c) {
		case 'a':
			cfg.all = true;
			break;
		case 'n':
			if (ts_parse_u64(optarg, strlen(optarg), &v) ||
			    v == 0 || v > LLONG_MAX)
				usage_error("-n: '%s' is not a count", optarg);
			cfg.count = v;
			break;
		case '4':
			cfg.filter.families |= TS_FAM_V4;
			break;
		case '6':
			cfg.filter.families |= TS_FAM_V6;
			break;
		case 'p':
			if (ts_parse_port(optarg, &cfg.filter.port))
				usage_error("--port: '%s' is not a port", optarg);
			break;
		case OPT_SPORT:
			if (ts_parse_port(optarg, &cfg.filter.sport))
				usage_error("--sport: '%s' is not a port", optarg);
			break;
		case OPT_DPORT:
			if (ts_parse_port(optarg, &cfg.filter.dport))
				usage_error("--dport: '%s' is not a port", optarg);
			break;
		case 'H':
			if (ts_filter_add_host(&cfg.filter, optarg))
				usage_error("--host: '%s' is not ADDR or ADDR/PREFIX (at most %d hosts)",
					    optarg, TS_MAX_HOSTS);
			break;
		case 's':
			if (ts_filter_add_states(&cfg.filter, optarg))
				usage_error("--state: '%s' is not a state or a group", optarg);
			break;
		case OPT_SIDE:
			cfg.filter.side = ts_side_from_name(optarg);
			if (cfg.filter.side < 0)
				usage_error("--side: '%s' is not client or server", optarg);
			break;
		case OPT_NETNS:
			if (ts_parse_u64(optarg, strlen(optarg), &cfg.filter.netns))
				usage_error("--netns: '%s' is not a namespace inode number", optarg);
			cfg.filter.has_netns = true;
			break;
		case 'j':
			cfg.json = true;
			break;
		case 'l':
			cfg.ladder = true;
			break;
		case OPT_TS:
			if (!strcmp(optarg, "abs"))
				cfg.ts_mode = TS_ABS;
			else if (!strcmp(optarg, "rel"))
				cfg.ts_mode = TS_REL;
			else if (!strcmp(optarg, "ns"))
				cfg.ts_mode = TS_NS;
			else
				usage_error("--ts: '%s' is not abs, rel or ns", optarg);
			break;
		case 'w':
			cfg.watch = true;
			break;
		case OPT_NO_COLOR:
			no_color = true;
			break;
		case OPT_PROC:
			cfg.proc = optarg;
			break;
		case 'h':
			print_help();
			out_check();
			exit(0);
		case 'V':
			printf(PROGRAM " " VERSION "\n");
			exit(0);
		}
	}

	if (optind < argc) {
		for (i = 0; i < ARRAY_SIZE(commands); i++)
			if (!strcmp(argv[optind], commands[i].name))
				break;
		if (i == ARRAY_SIZE(commands))
			usage_error("unknown command '%s'", argv[optind]);
		cfg.cmd = commands[i].cmd;
		optind++;
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	for (i = 0; i < nseen; i++) {
		if (seen[i]->cmds & cfg.cmd)
			continue;
		for (c = 0; c < (int)ARRAY_SIZE(commands); c++)
			if (commands[c].cmd == cfg.cmd)
				break;
		usage_error("--%s does not apply to '%s'", seen[i]->name,
			    commands[c].name);
	}
	if (cfg.json && cfg.ladder)
		usage_error("--json and --ladder do not go together");

	cfg.color = !no_color && isatty(STDOUT_FILENO) && !cfg.json;
	{
		const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

		if ((nc && *nc) || (term && !strcmp(term, "dumb")))
			cfg.color = false;
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the wait */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	init_own_netns();

	switch (cfg.cmd) {
	case CMD_LIST:
		return do_list();
	case CMD_STATS:
		return do_stats();
	default:
		return do_watch();
	}
}
