/* SPDX-License-Identifier: MIT */
/*
 * tiny-mp-cache-server: the command line around server.h. Parses options
 * into a server_config, stops the server cleanly on SIGINT and SIGTERM.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "server.h"

#define EXIT_USAGE 2

static struct server *running;     /* for the signal handler */

/* Ask the server to stop (async-signal-safe). */
static void
on_signal(int sig)
{
	(void)sig;
	if (running != NULL)
		server_stop(running);
}

/* Print the usage text to f. */
static void
usage(FILE *f)
{
	const char *const *b;

	fprintf(f,
"Usage: tiny-mp-cache-server [OPTION]...\n"
"A small, fast cache server that speaks the Redis protocol (RESP2).\n"
"\n"
"  --port N                TCP port to listen on (default %d; 0 picks a free\n"
"                          port, shown in the ready line; -1 disables TCP)\n"
"  --bind ADDR             address to listen on (default %s; IPv6 works,\n"
"                          e.g. ::1; 0.0.0.0 exposes the cache to the network)\n"
"  --unixsocket PATH       also listen on a Unix socket at PATH\n"
"  --unixsocketperm MODE   octal permissions of the Unix socket (default 700)\n"
"  --maxclients N          most simultaneous clients (default %d)\n"
"  --proto-max-bulk-len N  largest bulk argument in bytes; k, kb, m, mb, g, gb\n"
"                          suffixes allowed (default 512mb; at least 1mb)\n"
"  --client-output-buffer-limit N\n"
"                          disconnect a client whose unsent replies exceed N\n"
"                          bytes (same suffixes; default 1gb; 0: no limit)\n"
"  --requirepass PASSWORD  clients must AUTH with PASSWORD first\n"
"  --busy-poll-us N        after serving requests, poll N microseconds for\n"
"                          more before sleeping (default %d; 0: off)\n"
"  --loglevel LEVEL        debug, verbose, notice (default), warning, nothing\n"
"  --logfile PATH          append log lines to PATH instead of standard error\n"
"  --event-backend NAME    event loop backend:",
	    SERVER_PORT_DEFAULT, SERVER_BIND_DEFAULT,
	    SERVER_MAXCLIENTS_DEFAULT, SERVER_BUSY_POLL_DEFAULT);
	for (b = event_backend_names(); *b != NULL; b++)
		fprintf(f, " %s%s", *b, b == event_backend_names() ?
		    " (default)" : "");
	fprintf(f, "\n"
"  -h, --help              show this help and exit\n"
"  -v, --version           show the version and exit\n"
"\n"
"The server stops cleanly on SIGINT, SIGTERM or the SHUTDOWN command.\n");
}

/* Report a bad option value and exit. */
static void
bad_value(const char *opt, const char *value, const char *expected)
{
	fprintf(stderr, "tiny-mp-cache-server: invalid %s '%s': expected %s\n"
	    "Try 'tiny-mp-cache-server --help' for more information.\n",
	    opt, value, expected);
	exit(EXIT_USAGE);
}

/* Parse a whole decimal integer in [min, max] or exit. */
static long long
parse_int(const char *opt, const char *s, long long min, long long max,
    const char *expected)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		bad_value(opt, s, expected);
	return v;
}

/* Parse a byte count with an optional Redis-style unit suffix or exit. */
static long long
parse_bytes(const char *opt, const char *s)
{
	static const struct {
		const char *unit;
		long long mul;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1024 },
		{ "m", 1000000 }, { "mb", 1024 * 1024 },
		{ "g", 1000000000 }, { "gb", 1024LL * 1024 * 1024 },
	};
	const char *expected = "a byte count such as 536870912 or 512mb";
	char *end;
	long long v;
	size_t i;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		bad_value(opt, s, expected);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) == 0) {
			if (v > LLONG_MAX / units[i].mul)
				bad_value(opt, s, expected);
			return v * units[i].mul;
		}
	}
	bad_value(opt, s, expected);
	return 0;
}

/* Parse a log level name or exit. */
static enum server_loglevel
parse_loglevel(const char *s)
{
	static const char *const names[] = {
		"debug", "verbose", "notice", "warning", "nothing",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (enum server_loglevel)i;
	bad_value("--loglevel", s,
	    "one of debug, verbose, notice, warning, nothing");
	return SERVER_LOG_NOTICE;
}

/* Check that name is a compiled-in event backend or exit. */
static const char *
parse_backend(const char *name)
{
	const char *const *b;
	char list[128] = "";

	for (b = event_backend_names(); *b != NULL; b++) {
		if (strcmp(name, *b) == 0)
			return name;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", list[0] != '\0' ? ", " : "", *b);
	}
	bad_value("--event-backend", name, list);
	return NULL;
}

int
main(int argc, char **argv)
{
	enum {
		OPT_PORT = 256, OPT_BIND, OPT_UNIXSOCKET, OPT_UNIXSOCKETPERM,
		OPT_MAXCLIENTS, OPT_BULK, OPT_LOGLEVEL, OPT_LOGFILE,
		OPT_BACKEND, OPT_OBUF, OPT_REQUIREPASS, OPT_BUSY_POLL,
	};
	static const struct option options[] = {
		{ "port", required_argument, NULL, OPT_PORT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "unixsocket", required_argument, NULL, OPT_UNIXSOCKET },
		{ "unixsocketperm", required_argument, NULL, OPT_UNIXSOCKETPERM },
		{ "maxclients", required_argument, NULL, OPT_MAXCLIENTS },
		{ "proto-max-bulk-len", required_argument, NULL, OPT_BULK },
		{ "loglevel", required_argument, NULL, OPT_LOGLEVEL },
		{ "logfile", required_argument, NULL, OPT_LOGFILE },
		{ "event-backend", required_argument, NULL, OPT_BACKEND },
		{ "client-output-buffer-limit", required_argument, NULL,
		  OPT_OBUF },
		{ "requirepass", required_argument, NULL, OPT_REQUIREPASS },
		{ "busy-poll-us", required_argument, NULL, OPT_BUSY_POLL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct server_config cfg;
	struct sigaction sa;
	struct server *srv;
	char err[SERVER_ERR_LEN], *end;
	unsigned long perm;
	int opt, r;

	server_config_init(&cfg);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hv", options, NULL)) != -1) {
		switch (opt) {
		case OPT_PORT:
			cfg.port = (int)parse_int("--port", optarg, -1, 65535,
			    "a port number 0-65535 (or -1 for no TCP)");
			break;
		case OPT_BIND:
			cfg.bind = optarg;
			break;
		case OPT_UNIXSOCKET:
			cfg.unixsocket = optarg;
			break;
		case OPT_UNIXSOCKETPERM:
			errno = 0;
			perm = strtoul(optarg, &end, 8);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    perm > 0777)
				bad_value("--unixsocketperm", optarg,
				    "an octal mode such as 700 or 770");
			cfg.unixsocketperm = (mode_t)perm;
			break;
		case OPT_MAXCLIENTS:
			cfg.maxclients = (int)parse_int("--maxclients", optarg,
			    1, 1000000, "a number of clients 1-1000000");
			break;
		case OPT_BULK:
			cfg.proto_max_bulk_len = parse_bytes(
			    "--proto-max-bulk-len", optarg);
			break;
		case OPT_OBUF:
			cfg.client_obuf_limit = parse_bytes(
			    "--client-output-buffer-limit", optarg);
			break;
		case OPT_REQUIREPASS:
			cfg.requirepass = optarg;
			break;
		case OPT_BUSY_POLL:
			cfg.busy_poll_us = (long)parse_int("--busy-poll-us",
			    optarg, 0, SERVER_BUSY_POLL_MAX,
			    "microseconds 0-100000 (0: off)");
			break;
		case OPT_LOGLEVEL:
			cfg.loglevel = parse_loglevel(optarg);
			break;
		case OPT_LOGFILE:
			cfg.logfile = optarg;
			break;
		case OPT_BACKEND:
			cfg.event_backend = parse_backend(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			printf("tiny-mp-cache-server %s\n", server_version());
			return 0;
		case ':':
			fprintf(stderr, "tiny-mp-cache-server: option '%s' "
			    "needs a value\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "tiny-mp-cache-server: unknown option "
			    "'%s'\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tiny-mp-cache-server: unexpected argument "
		    "'%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	srv = server_create(&cfg, err);
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
