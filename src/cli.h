/* SPDX-License-Identifier: MIT */
/*
 * The server program's command line: tiny-mp-cache-server's options, and
 * the same for the Python package's tiny-mp-cache-server console script
 * (python -m tiny_mp_cache), which parses them here too.
 */
#ifndef TMC_CLI_H
#define TMC_CLI_H

#include <stdio.h>

#include "settings.h"

#define CLI_EXIT_USAGE 2             /* the exit status of a bad option */

enum cli_status {
	CLI_RUN,                     /* cfg holds the options: start */
	CLI_EXIT,                    /* --help or --version printed to out:
	                              * exit with status 0 */
	CLI_USAGE                    /* a bad command line, said on err:
	                              * exit with CLI_EXIT_USAGE */
};

/*
 * Read the options args[0..n-1] (the program name not included) into
 * cfg, as prog: every setting of the settings table is an option,
 * "--name value" or "--name=value" (its alias too), its value checked as
 * CONFIG SET checks it; -h/--help and -v/--version. Messages and the
 * usage text name prog; --version names tiny-mp-cache-server.
 */
enum cli_status cli_parse(struct server_config *cfg, const char *prog,
    int n, char *const *args, FILE *out, FILE *err);

/* Print the --help text for prog to f. */
void cli_usage(FILE *f, const char *prog);

#endif
