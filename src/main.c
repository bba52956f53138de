/* SPDX-License-Identifier: MIT */
/*
 * tiny-mp-cache-server: the command line around server.h. Every setting
 * of the settings table is an option (--name value), validated there;
 * the server stops cleanly on SIGINT and SIGTERM.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "server.h"
#include "settings.h"

#define EXIT_USAGE 2
#define HELP_WIDTH 78              /* wrap --help text here */
#define HELP_INDENT 26             /* where descriptions start */

static struct server *running;     /* for the signal handler */
static struct server_config cfg;   /* what the options set */

/* Ask the server to stop (async-signal-safe). */
static void
on_signal(int sig)
{
	(void)sig;
	if (running != NULL)
		server_stop(running);
}

/* Print text wrapped at HELP_WIDTH, starting at column col, continuing
 * lines at HELP_INDENT. */
static void
usage_wrap(FILE *f, const char *text, int col)
{
	const char *p = text, *end;
	int len;

	while (*p != '\0') {
		end = p;
		while (*end != '\0' && *end != ' ')
			end++;
		len = (int)(end - p);
		if (col + len + 1 > HELP_WIDTH && col > HELP_INDENT) {
			fprintf(f, "\n%*s", HELP_INDENT, "");
			col = HELP_INDENT;
		}
		if (col > HELP_INDENT)
			col += fprintf(f, " ");
		col += fprintf(f, "%.*s", len, p);
		p = *end == ' ' ? end + 1 : end;
	}
	fprintf(f, "\n");
}

/* Print the usage text to f: one line or more per setting. */
static void
usage(FILE *f)
{
	const struct setting *s;
	const char *const *b;
	int col;

	fprintf(f,
"Usage: tiny-mp-cache-server [OPTION]...\n"
"A small, fast cache server that speaks the Redis protocol (RESP2).\n"
"Every option is also a CONFIG GET parameter of the same name; values are\n"
"checked as CONFIG SET checks them.\n"
"\n");
	for (s = settings_table; s->name != NULL; s++) {
		if (s->help == NULL)
			continue;
		col = fprintf(f, "  --%s %s", s->name, s->metavar);
		if (col >= HELP_INDENT - 1) {
			fprintf(f, "\n%*s", HELP_INDENT - 1, "");
			col = HELP_INDENT - 1;
		}
		fprintf(f, "%*s", HELP_INDENT - col, "");
		usage_wrap(f, s->help, HELP_INDENT);
	}
	fprintf(f, "%*s(event backends compiled in:", HELP_INDENT, "");
	for (b = event_backend_names(); *b != NULL; b++)
		fprintf(f, " %s", *b);
	fprintf(f, ")\n"
"  -h, --help              show this help and exit\n"
"  -v, --version           show the version and exit\n"
"\n"
"The server stops cleanly on SIGINT, SIGTERM or the SHUTDOWN command.\n");
}

/* Report a bad option value and exit. */
static void
bad_value(const char *opt, const char *value, const char *why)
{
	fprintf(stderr, "tiny-mp-cache-server: invalid --%s '%s': %s\n"
	    "Try 'tiny-mp-cache-server --help' for more information.\n",
	    opt, value, why);
	server_config_free(&cfg);
	exit(EXIT_USAGE);
}

/* Check that name is a compiled-in event backend or exit. */
static void
check_backend(const char *name)
{
	const char *const *b;
	char list[128] = "";

	if (strcmp(name, "auto") == 0)
		return;
	for (b = event_backend_names(); *b != NULL; b++) {
		if (strcmp(name, *b) == 0)
			return;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", list[0] != '\0' ? ", " : "", *b);
	}
	bad_value("event-backend", name, list);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct server *srv;
	char err[SERVER_ERR_LEN], why[SETTING_ERR_LEN];
	const char *name, *eq, *value;
	char opt[64];
	int i, r;

	server_config_init(&cfg);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			server_config_free(&cfg);
			return 0;
		}
		if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--version") == 0) {
			printf("tiny-mp-cache-server %s\n", server_version());
			server_config_free(&cfg);
			return 0;
		}
		if (strncmp(argv[i], "--", 2) != 0) {
			fprintf(stderr, "tiny-mp-cache-server: unexpected "
			    "argument '%s'\n", argv[i]);
			usage(stderr);
			server_config_free(&cfg);
			return EXIT_USAGE;
		}
		/* --name value, or --name=value */
		name = argv[i] + 2;
		eq = strchr(name, '=');
		if ((eq != NULL ? (size_t)(eq - name) : strlen(name)) >=
		    sizeof(opt) ||
		    settings_find(name, eq != NULL ? (size_t)(eq - name) :
		    strlen(name)) == NULL) {
			fprintf(stderr, "tiny-mp-cache-server: unknown option "
			    "'%s'\n", argv[i]);
			usage(stderr);
			server_config_free(&cfg);
			return EXIT_USAGE;
		}
		snprintf(opt, sizeof(opt), "%.*s", eq != NULL ?
		    (int)(eq - name) : (int)strlen(name), name);
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "tiny-mp-cache-server: option '--%s' "
			    "needs a value\n", opt);
			usage(stderr);
			server_config_free(&cfg);
			return EXIT_USAGE;
		}
		if (server_config_set(&cfg, opt, value, strlen(value),
		    why) == -1)
			bad_value(opt, value, why);
		if (strcmp(opt, "event-backend") == 0)
			check_backend(value);
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
