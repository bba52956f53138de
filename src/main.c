/* SPDX-License-Identifier: MIT */
/*
 * tiny-mp-cache-server: the command line (cli.h) around server.h; the
 * server stops cleanly on SIGINT and SIGTERM.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "server.h"

static struct server *running;     /* for the signal handler */

/* Ask the server to stop (async-signal-safe). */
static void
on_signal(int sig)
{
	(void)sig;
	if (running != NULL)
		server_stop(running);
}

int
main(int argc, char **argv)
{
	struct server_config cfg;
	struct sigaction sa;
	struct server *srv;
	char err[SERVER_ERR_LEN];
	enum cli_status st;
	int r;

	server_config_init(&cfg);
	st = cli_parse(&cfg, "tiny-mp-cache-server", argc - 1, argv + 1,
	    stdout, stderr);
	if (st != CLI_RUN) {
		server_config_free(&cfg);
		return st == CLI_EXIT ? 0 : CLI_EXIT_USAGE;
	}
	srv = server_create(&cfg, err);
	server_config_free(&cfg);
	if (srv == NULL) {
		fprintf(stderr, "tiny-mp-cache-server: %s\n", err);
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	running = srv;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	r = server_run(srv);
	running = NULL;
	server_free(srv);
	return r == 0 ? 0 : 1;
}
