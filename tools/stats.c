// SPDX-License-Identifier: GPL-2.0
/* tcpstate stats: /proc/tcpstate_stats, or its rates with --watch. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
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

static int stats_main(void)
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
		default:
			r = parse_shared_option(c, ch, argv);
			break;
		}
	}
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
