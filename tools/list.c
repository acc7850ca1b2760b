// SPDX-License-Identifier: GPL-2.0
/* tcpstate list: /proc/tcpstate through the filters. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "reader.h"

static int list_main(void)
{
	char path[PATH_MAX], line[TS_LINE_MAX + 2];
	static struct ts_header hdr;
	static struct ts_row row;
	static char js[8 * TS_LINE_MAX];
	bool have_hdr = false;
	FILE *fp = fopen_proc("tcpstate");

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
	fclose_proc(fp, "tcpstate");
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
static const struct option list_longopts[] = {
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

#define LIST_SHORTOPTS "46p:H:s:jhV"

static enum parse_result list_parse(int argc, char **argv,
				    struct reader_cfg *c)
{
	enum parse_result r = PARSE_OK;
	int ch;

	while (r == PARSE_OK &&
	       (ch = getopt_long(argc, argv, LIST_SHORTOPTS, list_longopts,
				 NULL)) != -1)
		r = parse_shared_option(c, ch, argv);
	return r;
}

const struct command list_command = {
	.name = "list",
	.help = "the flow table, /proc/tcpstate",
	.shortopts = LIST_SHORTOPTS,
	.longopts = list_longopts,
	.parse = list_parse,
	.main = list_main,
};
