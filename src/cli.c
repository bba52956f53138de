/* SPDX-License-Identifier: MIT */
/*
 * The server program's command line (cli.h): options read into a
 * server_config through the settings table, and the --help text made
 * from it. Shared by tiny-mp-cache-server and the Python package's
 * console script, so both take the same options with the same messages.
 */
#include "config.h"

#include <string.h>

#include "cli.h"
#include "event.h"
#include "server.h"

#define HELP_WIDTH 78                /* wrap --help text here */
#define HELP_INDENT 26               /* where descriptions start */

/* Print text wrapped at HELP_WIDTH, starting at column col, continuing
 * lines at HELP_INDENT. */
static void
cli_usage_wrap(FILE *f, const char *text, int col)
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

void
cli_usage(FILE *f, const char *prog)
{
	const struct setting *s;
	const char *const *b;
	int col;

	fprintf(f,
"Usage: %s [OPTION]...\n"
"A small, fast cache server that speaks the Redis protocol (RESP2).\n"
"Every option is also a CONFIG GET parameter of the same name; values are\n"
"checked as CONFIG SET checks them.\n"
"\n", prog);
	for (s = settings_table; s->name != NULL; s++) {
		if (s->help == NULL)
			continue;
		col = fprintf(f, "  --%s %s", s->name, s->metavar);
		if (col >= HELP_INDENT - 1) {
			fprintf(f, "\n%*s", HELP_INDENT - 1, "");
			col = HELP_INDENT - 1;
		}
		fprintf(f, "%*s", HELP_INDENT - col, "");
		cli_usage_wrap(f, s->help, HELP_INDENT);
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

/* Say that --opt's value is bad, and why. */
static enum cli_status
cli_bad_value(FILE *err, const char *prog, const char *opt,
    const char *value, const char *why)
{
	fprintf(err, "%s: invalid --%s '%s': %s\n"
	    "Try '%s --help' for more information.\n", prog, opt, value, why,
	    prog);
	return CLI_USAGE;
}

/* Check that name is a compiled-in event backend (or "auto"). */
static enum cli_status
cli_check_backend(FILE *err, const char *prog, const char *name)
{
	const char *const *b;
	char list[128] = "";

	if (strcmp(name, "auto") == 0)
		return CLI_RUN;
	for (b = event_backend_names(); *b != NULL; b++) {
		if (strcmp(name, *b) == 0)
			return CLI_RUN;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s%s", list[0] != '\0' ? ", " : "", *b);
	}
	return cli_bad_value(err, prog, "event-backend", name, list);
}

enum cli_status
cli_parse(struct server_config *cfg, const char *prog, int n,
    char *const *args, FILE *out, FILE *err)
{
	char why[SETTING_ERR_LEN], opt[64];
	const char *name, *eq, *value;
	size_t len;
	int i;

	for (i = 0; i < n; i++) {
		if (strcmp(args[i], "-h") == 0 ||
		    strcmp(args[i], "--help") == 0) {
			cli_usage(out, prog);
			return CLI_EXIT;
		}
		if (strcmp(args[i], "-v") == 0 ||
		    strcmp(args[i], "--version") == 0) {
			/* The server's name, whatever runs it. */
			fprintf(out, "tiny-mp-cache-server %s\n",
			    server_version());
			return CLI_EXIT;
		}
		if (strncmp(args[i], "--", 2) != 0) {
			fprintf(err, "%s: unexpected argument '%s'\n", prog,
			    args[i]);
			cli_usage(err, prog);
			return CLI_USAGE;
		}
		/* --name value, or --name=value */
		name = args[i] + 2;
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		if (len >= sizeof(opt) || settings_find(name, len) == NULL) {
			fprintf(err, "%s: unknown option '%s'\n", prog,
			    args[i]);
			cli_usage(err, prog);
			return CLI_USAGE;
		}
		snprintf(opt, sizeof(opt), "%.*s", (int)len, name);
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < n)
			value = args[++i];
		else {
			fprintf(err, "%s: option '--%s' needs a value\n", prog,
			    opt);
			cli_usage(err, prog);
			return CLI_USAGE;
		}
		if (server_config_set(cfg, opt, value, strlen(value),
		    why) == -1)
			return cli_bad_value(err, prog, opt, value, why);
		if (strcmp(opt, "event-backend") == 0 &&
		    cli_check_backend(err, prog, value) != CLI_RUN)
			return CLI_USAGE;
	}
	return CLI_RUN;
}
