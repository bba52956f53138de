/* SPDX-License-Identifier: MIT */
/*
 * List commands (Redis 7.0's list family), over the compact list of
 * list.c.
 */
#include "config.h"

#include "commands.h"

/* The list family's rows (see commands.c for the fields). */
struct command list_commands[] = {
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};
