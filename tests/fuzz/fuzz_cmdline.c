// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for tools/tcpstate's command line: the input, split at
 * NUL bytes and newlines, is the argument list after argv[0].  It goes
 * through tcpstate_parse() (the command word, each command's getopt_long,
 * the shared options and filters), never through a command's I/O.
 *
 * Whatever the words, the parse must stay inside its buffers, end in one of
 * its four results, give the same result and the same configuration when
 * run again on a fresh copy (no getopt state left behind), and leave a
 * configuration a command can run with.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)							\
	do {								\
		if (!(c)) {						\
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
				__FILE__, __LINE__, #c);		\
			abort();					\
		}							\
	} while (0)

#define MAX_ARGS	256

/* Split @data into words at NUL and '\n'; argv[0] is the program. */
static int make_argv(const uint8_t *data, size_t size, char *buf,
		     char **argv)
{
	int argc = 0;
	size_t i, start = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "tcpstate";
	for (i = 0; i <= size && argc < MAX_ARGS; i++) {
		if (i < size && buf[i] != '\0' && buf[i] != '\n')
			continue;
		buf[i] = '\0';
		argv[argc++] = buf + start;
		start = i + 1;
	}
	argv[argc] = NULL;
	return argc;
}

static void check_cfg(const struct reader_cfg *c)
{
	const struct ts_filter *f = &c->filter;

	ASSERT(c->cmd == &watch_command || c->cmd == &list_command ||
	       c->cmd == &stats_command);
	ASSERT(c->count == -1 || c->count > 0);
	ASSERT(!(c->json && c->ladder));
	ASSERT(c->ts_mode == TS_ABS || c->ts_mode == TS_REL ||
	       c->ts_mode == TS_NS);
	ASSERT(c->proc);
	ASSERT(f->port >= -1 && f->port <= 65535);
	ASSERT(f->sport >= -1 && f->sport <= 65535);
	ASSERT(f->dport >= -1 && f->dport <= 65535);
	ASSERT(f->side >= -1 && f->side <= TCPSTATE_SERVER);
	ASSERT(f->nhost <= TS_MAX_HOSTS);
	ASSERT(f->states < (1u << TCPSTATE_NR_STATES));
	ASSERT(!(f->families & ~(TS_FAM_V4 | TS_FAM_V6)));
	/* Options of one command only. */
	if (c->cmd != &watch_command)
		ASSERT(!c->all && !c->ladder && c->ts_mode == TS_ABS);
	if (c->cmd == &stats_command)
		ASSERT(!ts_filter_any(f));
	else
		ASSERT(!c->watch);
	if (c->cmd == &list_command)
		ASSERT(c->count == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *argv[2][MAX_ARGS + 1];
	static struct reader_cfg c[2];
	static char buf[2][4096];
	enum parse_result r[2];
	int argc, i;

	if (size >= sizeof(buf[0]))
		return 0;
	for (i = 0; i < 2; i++) {
		argc = make_argv(data, size, buf[i], argv[i]);
		r[i] = tcpstate_parse(argc, argv[i], &c[i]);
		ASSERT(r[i] == PARSE_OK || r[i] == PARSE_ERROR ||
		       r[i] == PARSE_HELP || r[i] == PARSE_VERSION);
	}
	ASSERT(r[0] == r[1]);
	ASSERT(!strcmp(c[0].err, c[1].err));
	if (r[0] == PARSE_ERROR)
		ASSERT(c[0].err[0] && memchr(c[0].err, '\0', sizeof(c[0].err)));
	if (r[0] != PARSE_OK)
		return 0;
	ASSERT(!c[0].err[0]);
	check_cfg(&c[0]);
	ASSERT(c[0].cmd == c[1].cmd);
	ASSERT(!strcmp(c[0].proc, c[1].proc));
	ASSERT(!memcmp(&c[0].filter, &c[1].filter, sizeof(c[0].filter)));
	ASSERT(c[0].count == c[1].count && c[0].json == c[1].json &&
	       c[0].all == c[1].all && c[0].ladder == c[1].ladder &&
	       c[0].watch == c[1].watch && c[0].ts_mode == c[1].ts_mode &&
	       c[0].no_color == c[1].no_color);
	return 0;
}
