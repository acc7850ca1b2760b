// SPDX-License-Identifier: GPL-2.0
/* tcpstate's main(): parse the command line, then run the command. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

static void on_signal(int sig)
{
	stop_signal = sig;
}

int main(int argc, char **argv)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	struct sigaction sa;

	switch (tcpstate_parse(argc, argv, &cfg)) {
	case PARSE_OK:
		break;
	case PARSE_HELP:
		tcpstate_help();
		out_check();
		return 0;
	case PARSE_VERSION:
		printf(PROGRAM " " TCPSTATE_VERSION "\n");
		return 0;
	default:
		fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n",
			cfg.err);
		return EXIT_USAGE;
	}
	cfg.color = !cfg.no_color && isatty(STDOUT_FILENO) && !cfg.json &&
		    !(nc && *nc) && !(term && !strcmp(term, "dumb"));
	setvbuf(stdout, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake the wait */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return cfg.cmd->main();
}
