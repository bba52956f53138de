/* SPDX-License-Identifier: MIT */
/* Administration: SHUTDOWN, BGREWRITEAOF. */
#include "config.h"

#include "client.h"
#include "commands.h"
#include "event.h"
#include "log.h"
#include "resp.h"
#include "state.h"

/* The administration family's rows (see commands.c for the fields). */
struct command admin_commands[] = {
	{ "bgrewriteaof", 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING,
	  cmd_bgrewriteaof, 0, 0, 0, "@admin @slow @dangerous", NULL, NULL, 0 },
	{ "shutdown", -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE |
	  CMD_NOMULTI | CMD_SENTINEL | CMD_ALLOWBUSY, cmd_shutdown, 0, 0, 0,
	  "@admin @slow @dangerous", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/*
 * SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
 * There is nothing to save, so SAVE and NOSAVE both stop the server; the
 * connection is closed without a reply, as Redis does.
 */
void
cmd_shutdown(struct client *c)
{
	int i, abort_flag = 0, save = 0, nosave = 0;

	for (i = 1; i < c->argc; i++) {
		if (arg_is(&c->argv[i], "nosave"))
			nosave = 1;
		else if (arg_is(&c->argv[i], "save"))
			save = 1;
		else if (arg_is(&c->argv[i], "now") ||
		    arg_is(&c->argv[i], "force"))
			continue;
		else if (arg_is(&c->argv[i], "abort"))
			abort_flag = 1;
		else {
			reply_syntax_error(c);
			return;
		}
	}
	if ((abort_flag && c->argc != 2) || (save && nosave)) {
		reply_syntax_error(c);
		return;
	}
	if (abort_flag) {
		resp_add_error(&c->reply, "No shutdown in progress.", 24);
		return;
	}
	log_write(&c->srv->log, LL_WARNING,
	    "User requested shutdown...");
	c->srv->shutdown_asap = 1;
	c->flags |= CLIENT_CLOSE_ASAP;
	event_stop(c->srv->el);
}

/* BGREWRITEAOF: a new base in the background (aof.h), as Redis 7.0
 * does, also with appendonly no. */
void
cmd_bgrewriteaof(struct client *c)
{
	char err[SETTING_ERR_LEN];

	if (c->srv->aof.child > 0) {
		resp_add_errorf(&c->reply, "Background append only file "
		    "rewriting already in progress");
		return;
	}
	/* Why it failed is in the log (and err), as Redis has it. */
	if (aof_rewrite_start(c->srv, err) == -1) {
		resp_add_errorf(&c->reply, "Can't execute an AOF background "
		    "rewriting. Please check the server logs for more "
		    "information.");
		return;
	}
	resp_add_simple(&c->reply, "Background append only file rewriting "
	    "started");
}
