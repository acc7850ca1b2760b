// SPDX-License-Identifier: GPL-2.0
/*
 * tcpstate: the reader beside the module.
 *
 *   tcpstate [watch]   tail /proc/tcpstate_events, one line per transition
 *   tcpstate list      /proc/tcpstate through the same filters
 *   tcpstate stats     /proc/tcpstate_stats, or rates with --watch
 *
 * This file holds the command table and what the commands share: the
 * options common to all of them, the filters, the help, the output and the
 * /proc files.  Each command parses its own options with getopt_long
 * (watch.c, list.c, stats.c); main() is in main.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reader.h"

struct reader_cfg cfg;
volatile sig_atomic_t stop_signal;

static const struct command *const commands[] = {
	&watch_command,
	&list_command,
	&stats_command,
};

/* Options. */

enum parse_result parse_error(struct reader_cfg *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return PARSE_ERROR;
}

enum parse_result parse_count(struct reader_cfg *c, const char *arg)
{
	uint64_t v;

	if (ts_parse_u64(arg, strlen(arg), &v) || v == 0 || v > LLONG_MAX)
		return parse_error(c, "-n: '%s' is not a count", arg);
	c->count = v;
	return PARSE_OK;
}

/* Any command's option with key @key (a character or OPT_*), or NULL. */
static const struct option *option_by_key(int key)
{
	const struct option *o;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		for (o = commands[i]->longopts; o->name; o++)
			if (o->val == key)
				return o;
	return NULL;
}

/*
 * Any command's long option called @name (up to '=' or the end), or the
 * one it abbreviates, as getopt_long would read it; NULL if none or
 * ambiguous.
 */
static const struct option *option_by_name(const char *name)
{
	const struct option *o, *found = NULL;
	size_t len = strcspn(name, "=");
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		for (o = commands[i]->longopts; o->name; o++) {
			if (strncmp(o->name, name, len))
				continue;
			if (strlen(o->name) == len)
				return o;
			if (found && found->val != o->val)
				return NULL;
			found = o;
		}
	}
	return found;
}

/*
 * The index of the command word: the first word that is neither an option
 * nor an option's argument, as getopt_long's reordering would leave it;
 * argc if none.
 */
static int find_command_word(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *w = argv[i];
		const struct option *o;

		if (!strcmp(w, "--"))
			return i + 1;
		if (w[0] != '-' || !w[1])
			return i;
		if (w[1] == '-') {
			/* Unknown or ambiguous: the parser will say so. */
			o = option_by_name(w + 2);
			if (!o)
				return argc;
			if (o->has_arg == required_argument && !strchr(w, '='))
				i++;
			continue;
		}
		/* A cluster: an option needing an argument ends it. */
		for (w++; *w; w++) {
			o = option_by_key((unsigned char)*w);
			if (o && o->has_arg == required_argument) {
				if (!w[1])
					i++;
				break;
			}
		}
	}
	return argc;
}

static void cfg_init(struct reader_cfg *c)
{
	memset(c, 0, sizeof(*c));
	ts_filter_init(&c->filter);
	c->count = -1;
	c->proc = "/proc";
	c->cmd = &watch_command;
}

enum parse_result tcpstate_parse(int argc, char **argv,
				 struct reader_cfg *c)
{
	enum parse_result r;
	unsigned int i;
	int w;

	cfg_init(c);
	w = find_command_word(argc, argv);
	for (i = 0; w < argc && i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[w], commands[i]->name))
			break;
	/* The command's parser sees the words around it. */
	if (w < argc && i < ARRAY_SIZE(commands)) {
		c->cmd = commands[i];
		memmove(&argv[w], &argv[w + 1], (argc - w) * sizeof(*argv));
		argc--;
	}
	optind = 0;	/* glibc: start afresh */
	opterr = 0;
	r = c->cmd->parse(argc, argv, c);
	if (r != PARSE_OK)
		return r;
	/* An unknown command word is left for after the options' errors. */
	if (optind < argc && c->cmd == &watch_command && w < argc &&
	    i == ARRAY_SIZE(commands))
		return parse_error(c, "unknown command '%s'", argv[optind]);
	if (optind < argc)
		return parse_error(c, "unexpected argument '%s'", argv[optind]);
	if (c->json && c->ladder)
		return parse_error(c, "--json and --ladder do not go together");
	return PARSE_OK;
}

/*
 * getopt_long refused an option: optopt is its character or its key, or 0
 * for a long option it does not know (then argv[optind - 1] is that word).
 */
static enum parse_result option_error(struct reader_cfg *c, char **argv)
{
	const char *word = argv[optind - 1];
	const struct option *o = NULL, *own;

	if (optopt)
		o = option_by_key(optopt);
	else if (word[0] == '-' && word[1] == '-')
		o = option_by_name(word + 2);
	if (o) {
		for (own = c->cmd->longopts; own->name; own++)
			if (own->val == o->val)
				break;
		if (!own->name)
			return parse_error(c, "--%s does not apply to '%s'",
					   o->name, c->cmd->name);
	}
	if (optopt && optopt < 256)
		return parse_error(c, o ? "option -%c needs an argument" :
				   "unknown option -%c", optopt);
	return parse_error(c, "unknown option or missing argument: %s", word);
}

enum parse_result parse_shared_option(struct reader_cfg *c, int ch,
				      char **argv)
{
	struct ts_filter *f = &c->filter;

	switch (ch) {
	case '4':
		f->families |= TS_FAM_V4;
		break;
	case '6':
		f->families |= TS_FAM_V6;
		break;
	case 'p':
		if (ts_parse_port(optarg, &f->port))
			return parse_error(c, "--port: '%s' is not a port", optarg);
		break;
	case OPT_SPORT:
		if (ts_parse_port(optarg, &f->sport))
			return parse_error(c, "--sport: '%s' is not a port", optarg);
		break;
	case OPT_DPORT:
		if (ts_parse_port(optarg, &f->dport))
			return parse_error(c, "--dport: '%s' is not a port", optarg);
		break;
	case 'H':
		if (ts_filter_add_host(f, optarg))
			return parse_error(c, "--host: '%s' is not ADDR or ADDR/PREFIX (at most %d hosts)",
					   optarg, TS_MAX_HOSTS);
		break;
	case 's':
		if (ts_filter_add_states(f, optarg))
			return parse_error(c, "--state: '%s' is not a state or a group", optarg);
		break;
	case OPT_SIDE:
		f->side = ts_side_from_name(optarg);
		if (f->side < 0)
			return parse_error(c, "--side: '%s' is not client or server", optarg);
		break;
	case OPT_NETNS:
		if (ts_parse_u64(optarg, strlen(optarg), &f->netns))
			return parse_error(c, "--netns: '%s' is not a namespace inode number", optarg);
		f->has_netns = true;
		break;
	case 'j':
		c->json = true;
		break;
	case OPT_NO_COLOR:
		c->no_color = true;
		break;
	case OPT_PROC:
		c->proc = optarg;
		break;
	case 'h':
		return PARSE_HELP;
	case 'V':
		return PARSE_VERSION;
	default:
		return option_error(c, argv);
	}
	return PARSE_OK;
}

void tcpstate_help(void)
{
	unsigned int i;

	printf("Usage: " PROGRAM " [COMMAND] [OPTION]...\n"
	       "Watch the TCP state of both ends of every connection, as the tcpstate module\n"
	       "reconstructs it.\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-8s %s\n", commands[i]->name, commands[i]->help);
	printf("\nOptions:\n"
	       "  -a, --all                   start at the oldest buffered event, not at now\n"
	       "                              [watch]\n"
	       "  -n, --count N               stop after N transitions (stats --watch: N\n"
	       "                              samples) [watch,stats]\n"
	       "  -4, --ipv4                  IPv4 flows only [watch,list]\n"
	       "  -6, --ipv6                  IPv6 flows only [watch,list]\n"
	       "  -p, --port PORT             flows with PORT at either end [watch,list]\n"
	       "      --sport PORT            flows whose client (the end that sent the first\n"
	       "                              SYN) uses PORT [watch,list]\n"
	       "      --dport PORT            flows whose server (the end that answered it)\n"
	       "                              uses PORT [watch,list]\n"
	       "  -H, --host ADDR[/LEN]       flows with an end in ADDR or the prefix ADDR/LEN\n"
	       "                              (v4 or v6; repeat to OR) [watch,list]\n"
	       "  -s, --state STATE           transitions into STATE (list: flows with an end\n"
	       "                              in it); STATE is a state name (ESTABLISHED,\n"
	       "                              syn-recv...) or a group: handshake, synchronized,\n"
	       "                              closing, connected, bucket, big, all;\n"
	       "                              comma-separated or repeated to OR [watch,list]\n"
	       "      --side client|server    transitions of that end only (list: with --state,\n"
	       "                              that end's state) [watch,list]\n"
	       "      --netns ID              flows of the network namespace with inode number\n"
	       "                              ID [watch,list]\n"
	       "  -j, --json                  one JSON object per line (stats: per sample)\n"
	       "  -l, --ladder                when a flow finishes, draw its ladder diagram\n"
	       "                              instead of lines [watch]\n"
	       "      --ts abs|rel|ns         time as local clock time with ms (abs, the\n"
	       "                              default), seconds since the first line (rel), or\n"
	       "                              ns since the epoch (ns) [watch]\n"
	       "  -w, --watch                 print the counters and their rates every second\n"
	       "                              [stats]\n"
	       "      --prometheus            the counters in Prometheus' text format, for\n"
	       "                              node_exporter's textfile collector [stats]\n"
	       "      --time-wait             TIME_WAIT ends per namespace, local address and\n"
	       "                              remote address:port, the 20 busiest [stats]\n"
	       "      --syn                   half-open flows per listening address:port, the\n"
	       "                              20 busiest, with the last second's and the\n"
	       "                              unanswered ones [stats]\n"
	       "      --no-color              no colour, even on a terminal (so does\n"
	       "                              NO_COLOR=1)\n"
	       "      --proc DIR              read DIR/tcpstate* instead of /proc/tcpstate*\n"
	       "                              (for tests)\n"
	       "  -h, --help                  this help\n"
	       "  -V, --version               the version\n"
	       "\nA transition line reads: time, client -> server, the side that moved,\n"
	       "OLD -> NEW, and the cause: the segment's flags (tcpdump notation), seq and\n"
	       "ack, or timer/evict/unload.  Filters are ANDed; a lost=N line always shows.\n"
	       "\nExit status: 0 ok (also on SIGINT, SIGTERM and a closed pipe), 1 usage or\n"
	       "I/O error, 2 module not loaded, 3 permission denied.\n"
	       "See " PROGRAM "(8).\n");
}

/* Output. */

/* A write to a closed pipe ends the program quietly, with status 0. */
void out_check(void)
{
	if (ferror(stdout) || fflush(stdout) == EOF) {
		if (errno == EPIPE)
			_exit(0);
		fprintf(stderr, PROGRAM ": write: %s\n", strerror(errno));
		_exit(1);
	}
}

const char *col(const char *c)
{
	return cfg.color ? c : "";
}

void print_colored(const char *c, int width, const char *text)
{
	printf("%s%-*s%s", col(c), width, text, col(C_RESET));
}

const char *state_color(unsigned int st)
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

/* "06:02:35.123" */
void format_abs_time(uint64_t ts, char *buf, size_t n)
{
	/* Events come many a second: localtime_r() once for each second. */
	static time_t last_sec = -1;
	static struct tm tm;
	time_t sec = ts / 1000000000u;

	if (sec != last_sec) {
		last_sec = -1;
		if (!localtime_r(&sec, &tm)) {
			snprintf(buf, n, "%" PRIu64, ts);
			return;
		}
		last_sec = sec;
	}
	snprintf(buf, n, "%02d:%02d:%02d.%03u", tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (unsigned int)(ts / 1000000 % 1000));
}

/* The /proc files. */

void proc_path(const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", cfg.proc, name);
}

int open_proc(const char *name)
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

void read_error(const char *name)
{
	int err = errno;

	fprintf(stderr, PROGRAM ": %s/%s: %s\n", cfg.proc, name,
		strerror(err));
	exit(err == EACCES || err == EPERM ? EXIT_PERM : 1);
}

FILE *fopen_proc(const char *name)
{
	FILE *fp = fdopen(open_proc(name), "r");

	if (!fp)
		read_error(name);
	return fp;
}

void fclose_proc(FILE *fp, const char *name)
{
	if (ferror(fp))
		read_error(name);
	fclose(fp);
}
