// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate [watch]: tail /proc/tcpstate_events, one line per transition
 * (or a ladder per flow, ladder.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader.h"

void format_time(uint64_t ts, char *buf, size_t n)
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

bool flags_have(const char *flags, char c)
{
	return strcmp(flags, "-") && strchr(flags, c);
}

const char *keepalive_words(const char *ka)
{
	if (!ka)
		return NULL;
	if (!strcmp(ka, "peer_reset"))
		return "the peer reset on a keep-alive probe";
	if (!strcmp(ka, "timeout"))
		return "keep-alive probes unanswered, gave up";
	return ka;
}

/*
 * The cause: "S. seq 1 ack 2", or the reason; a reset after keep-alive
 * probes says which end gave up, a segment that moved nothing what it is.
 */
static void format_cause(const struct ts_event *ev, char *buf, size_t n)
{
	const char *ka = keepalive_words(ts_event_extra(ev, "keepalive"));
	int len;

	if (ev->reason == TCPSTATE_REASON_RETRANSMIT ||
	    ev->reason == TCPSTATE_REASON_KEEPALIVE ||
	    ev->reason == TCPSTATE_REASON_KEEPALIVE_ACK) {
		ka = ladder_note(ev->reason);
	} else if (ev->reason != TCPSTATE_REASON_SEGMENT) {
		snprintf(buf, n, "%s", tcpstate_reason_name(ev->reason));
		return;
	}
	if (flags_have(ev->flags, '.'))
		len = snprintf(buf, n, "%-3s seq %u ack %u", ev->flags,
			       ev->seq, ev->ack);
	else
		len = snprintf(buf, n, "%-3s seq %u", ev->flags, ev->seq);
	if (!ka || len < 0 || (size_t)len >= n)
		return;
	snprintf(buf + len, n - len, " (%s)", ka);
}

static int client_width = 21, server_width = 21;	/* grow, never shrink */

void print_lost(const struct ts_event *ev)
{
	char when[32];

	format_time(ev->ts, when, sizeof(when));
	printf("%s%s  *** lost %" PRIu64 " event%s: this reader fell behind ***%s\n",
	       col(C_LOST), when, ev->nlost, ev->nlost == 1 ? "" : "s",
	       col(C_RESET));
}

static void print_line(const struct ts_event *ev)
{
	char when[32], client[64], server[64], cause[128];
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
	int len = ts_event_json(ev, buf, sizeof(buf) - 1);

	/* One copy into stdout's buffer: a reader does this for every event. */
	if (len > 0) {
		buf[len++] = '\n';
		fwrite(buf, 1, len, stdout);
	}
}


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

/* Whether the loaded module's boolean parameter @name is off. */
static bool param_off(const char *name)
{
	char path[PATH_MAX], val[8] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/module/tcpstate/parameters/%s",
		 name);
	fp = fopen(path, "re");
	if (!fp)
		return false;
	if (!fgets(val, sizeof(val), fp))
		val[0] = '\0';
	fclose(fp);
	return val[0] == 'N';
}

/*
 * A live ladder draws the segments that moved nothing only when the module
 * writes them: say so once, and how, when it does not.
 */
static void ladder_hint(void)
{
	bool rt = param_off("retransmits"), ka = param_off("keepalives");

	if (!cfg.ladder || strcmp(cfg.proc, "/proc") || (!rt && !ka))
		return;
	fprintf(stderr, PROGRAM ": the ladders show no %s%s%s: the module writes them only when 1 is written to /sys/module/tcpstate/parameters/%s%s%s\n",
		rt ? "retransmissions" : "", rt && ka ? " or " : "",
		ka ? "keep-alives" : "", rt ? "retransmits" : "",
		rt && ka ? " and " : "", ka ? "keepalives" : "");
}

static int watch_main(void)
{
	static char buf[65536 + TS_LINE_MAX + 2];
	size_t have = 0;
	long long seen = 0;
	sigset_t block, orig;
	struct pollfd pfd;
	bool more = true;
	int fd;

	init_own_netns();
	fd = open_proc("tcpstate_events");
	ladder_hint();
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


/*
 * getopt_long wants one table per command, so the filter options (watch,
 * list) and the common ones (every command) stand in each command's
 * table; a multi-entry initializer macro would not pass checkpatch.
 * tests/unit/test_reader.c checks that the filters mean the same in watch
 * and list, that every command takes the common ones and that --help
 * names each option once.
 */
static const struct option watch_longopts[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "count", required_argument, NULL, 'n' },
	{ "ladder", no_argument, NULL, 'l' },
	{ "ts", required_argument, NULL, OPT_TS },
	{ "ipv4", no_argument, NULL, '4' },
	{ "ipv6", no_argument, NULL, '6' },
	{ "port", required_argument, NULL, 'p' },
	{ "sport", required_argument, NULL, OPT_SPORT },
	{ "dport", required_argument, NULL, OPT_DPORT },
	{ "host", required_argument, NULL, 'H' },
	{ "state", required_argument, NULL, 's' },
	{ "side", required_argument, NULL, OPT_SIDE },
	{ "netns", required_argument, NULL, OPT_NETNS },
	{ "json", no_argument, NULL, 'j' },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "proc", required_argument, NULL, OPT_PROC },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

#define WATCH_SHORTOPTS "an:l46p:H:s:jhV"

static enum parse_result watch_parse(int argc, char **argv,
				     struct reader_cfg *c)
{
	enum parse_result r = PARSE_OK;
	int ch;

	while (r == PARSE_OK &&
	       (ch = getopt_long(argc, argv, WATCH_SHORTOPTS, watch_longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'a':
			c->all = true;
			break;
		case 'n':
			r = parse_count(c, optarg);
			break;
		case 'l':
			c->ladder = true;
			break;
		case OPT_TS:
			if (!strcmp(optarg, "abs"))
				c->ts_mode = TS_ABS;
			else if (!strcmp(optarg, "rel"))
				c->ts_mode = TS_REL;
			else if (!strcmp(optarg, "ns"))
				c->ts_mode = TS_NS;
			else
				r = parse_error(c, "--ts: '%s' is not abs, rel or ns",
						optarg);
			break;
		default:
			r = parse_shared_option(c, ch, argv);
			break;
		}
	}
	return r;
}

const struct command watch_command = {
	.name = "watch",
	.help = "tail the transitions as they happen (the default)",
	.shortopts = WATCH_SHORTOPTS,
	.longopts = watch_longopts,
	.parse = watch_parse,
	.main = watch_main,
};
