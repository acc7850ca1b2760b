/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The reader's pieces: the command line (tcpstate.c), one file per command
 * (watch.c with ladder.c, list.c, stats.c), and what they share.
 */
#ifndef TCPSTATE_READER_H
#define TCPSTATE_READER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_parse.h"

#define PROGRAM		"tcpstate"

/* Exit statuses. */
#define EXIT_USAGE	1
#define EXIT_NOMODULE	2
#define EXIT_PERM	3

/* Long-only options get keys above any character. */
enum {
	OPT_SPORT = 256,
	OPT_DPORT,
	OPT_SIDE,
	OPT_NETNS,
	OPT_TS,
	OPT_NO_COLOR,
	OPT_PROC,
	OPT_PROMETHEUS,
	OPT_TIME_WAIT,
	OPT_SYN,
};

enum ts_mode { TS_ABS, TS_REL, TS_NS };

/* What a parser tells the caller. */
enum parse_result {
	PARSE_OK,
	PARSE_ERROR,		/* a usage error, said in cfg.err */
	PARSE_HELP,
	PARSE_VERSION,
};

struct command;

struct reader_cfg {
	const struct command *cmd;
	struct ts_filter filter;
	bool all;
	long long count;	/* -1: no limit */
	bool json;
	bool ladder;
	bool watch;
	bool prometheus;
	bool time_wait;
	bool syn;
	bool no_color;
	bool color;		/* decided after parsing */
	enum ts_mode ts_mode;
	const char *proc;
	char err[512];		/* the usage error, without "tcpstate: " */
};

struct option;

/*
 * A command: its name, its getopt_long tables, its parser and its main.
 * Each command spells out its tables; the filters (watch and list) and
 * the options every command takes (json, no-color, proc, help, version)
 * go to parse_shared_option().
 */
struct command {
	const char *name;
	const char *help;
	const char *shortopts;
	const struct option *longopts;
	enum parse_result (*parse)(int argc, char **argv,
				   struct reader_cfg *cfg);
	int (*main)(void);
};

extern const struct command watch_command, list_command, stats_command;

/*
 * stats --prometheus: the lines of /proc/tcpstate_stats (@names[i] has
 * the value @values[i]) in Prometheus' text format to @out.
 */
void stats_prometheus(FILE *out, const char *const *names,
		      const char *const *values, int n);

/*
 * stats --time-wait: count one TIME_WAIT endpoint of @row's flow (if it
 * has one) under (namespace, its address, the peer's address and port)
 * in @tw; the busiest first to @out.  Both pure, for the unit test.
 */
struct tw_count {
	uint64_t netns;
	char local[48];		/* address, without the port */
	char remote[56];	/* address:port */
	uint64_t n;
};

struct tw_table {
	struct tw_count *c;
	size_t nr, max;
	uint64_t dropped;	/* endpoints past max distinct keys */
};

void stats_tw_add(struct tw_table *tw, const struct ts_row *row);
void stats_tw_print(FILE *out, struct tw_table *tw, size_t top, bool json);

/*
 * stats --syn: count @row's flow under its server's (namespace,
 * address:port) in @syn if it is half-open; the busiest first to @out.
 * Both pure, for the unit test.
 */
struct syn_count {
	uint64_t netns;
	char listener[56];	/* address:port */
	uint64_t half_open;	/* SYN seen, handshake not finished */
	uint64_t recent;	/* of those, opened in the last second */
	uint64_t unanswered;	/* of those, no SYN/ACK seen */
};

/* As struct tw_table, for another kind of count. */
struct syn_table {
	struct syn_count *c;
	size_t nr, max;
	uint64_t dropped;	/* flows past max distinct listeners */
};

void stats_syn_add(struct syn_table *syn, const struct ts_row *row);
void stats_syn_print(FILE *out, struct syn_table *syn, size_t top, bool json);

/* The configuration the commands run with, set by main(). */
extern struct reader_cfg cfg;
extern volatile sig_atomic_t stop_signal;

/*
 * The whole command line into @c: the command (the first word that is
 * neither an option nor an option's argument; watch if none) and its
 * options.  No I/O, no exit: errors are left in c->err.
 */
enum parse_result tcpstate_parse(int argc, char **argv,
				 struct reader_cfg *c);
/* --help */
void tcpstate_help(void);

/* For a command's parser: a usage error in c->err. */
__attribute__((format(printf, 2, 3)))
enum parse_result parse_error(struct reader_cfg *c, const char *fmt, ...);
/* -n/--count */
enum parse_result parse_count(struct reader_cfg *c, const char *arg);
/*
 * The filters, the common options and getopt's errors; @ch is what
 * getopt_long returned.
 */
enum parse_result parse_shared_option(struct reader_cfg *c, int ch,
				      char **argv);

/* Output. */
void out_check(void);
const char *col(const char *c);
void print_colored(const char *c, int width, const char *text);
const char *state_color(unsigned int st);
void format_abs_time(uint64_t ts, char *buf, size_t n);

/* The /proc files: open or exit with the right status. */
void proc_path(const char *name, char *buf, size_t n);
int open_proc(const char *name);
__attribute__((noreturn)) void read_error(const char *name);
/* The same as a stdio stream; fclose_proc() exits on a read error. */
FILE *fopen_proc(const char *name);
void fclose_proc(FILE *fp, const char *name);

/* watch (watch.c) and its --ladder (ladder.c) */
void ladder_event(const struct ts_event *ev, bool selected);
/* A keepalive= value in words ("timeout": "keep-alive probes unanswered..."). */
const char *keepalive_words(const char *ka);
/* What a line that moved nothing is, in words: "retransmitted"... */
const char *ladder_note(unsigned int reason);
void ladder_flush(void);
void print_lost(const struct ts_event *ev);
bool flags_have(const char *flags, char c);
void format_time(uint64_t ts, char *buf, size_t n);

/* ANSI colours, or nothing (col()). */
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

#endif /* TCPSTATE_READER_H */
