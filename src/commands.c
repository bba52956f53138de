/* SPDX-License-Identifier: MIT */
/*
 * The command table, central dispatch (lookup, arity, Redis's error texts)
 * and the handlers for the keyspace and connection commands.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "glob.h"
#include "mem.h"
#include "resp.h"
#include "state.h"

/*
 * One row per command: name, arity, flags, handler, first key, last key,
 * key step, ACL categories, subcommands, parent. Arity counts the command
 * name; a negative arity -N means "at least N arguments". Flags and ACL
 * categories are those Redis 7 reports, so COMMAND INFO reads the same.
 */
const struct command command_table[] = {
	{ "get", 2, CMD_READONLY | CMD_FAST, cmd_get, 1, 1, 1,
	  "@read @string @fast", NULL, NULL },
	{ "set", -3, CMD_WRITE | CMD_DENYOOM, cmd_set, 1, 1, 1,
	  "@write @string @slow", NULL, NULL },
	{ "mget", -2, CMD_READONLY | CMD_FAST, cmd_mget, 1, -1, 1,
	  "@read @string @fast", NULL, NULL },
	{ "mset", -3, CMD_WRITE | CMD_DENYOOM, cmd_mset, 1, -1, 2,
	  "@write @string @slow", NULL, NULL },
	{ "getdel", 2, CMD_WRITE | CMD_FAST, cmd_getdel, 1, 1, 1,
	  "@write @string @fast", NULL, NULL },
	{ "del", -2, CMD_WRITE, cmd_del, 1, -1, 1,
	  "@keyspace @write @slow", NULL, NULL },
	{ "exists", -2, CMD_READONLY | CMD_FAST, cmd_exists, 1, -1, 1,
	  "@keyspace @read @fast", NULL, NULL },
	{ "keys", 2, CMD_READONLY, cmd_keys, 0, 0, 0,
	  "@keyspace @read @slow @dangerous", NULL, NULL },
	{ "dbsize", 1, CMD_READONLY | CMD_FAST, cmd_dbsize, 0, 0, 0,
	  "@keyspace @read @fast", NULL, NULL },
	{ "ping", -1, CMD_FAST | CMD_SENTINEL, cmd_ping, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ "echo", 2, CMD_LOADING | CMD_STALE | CMD_FAST, cmd_echo, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ "quit", -1, CMD_ALLOWBUSY | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE |
	  CMD_FAST | CMD_NOAUTH, cmd_quit, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ "select", 2, CMD_LOADING | CMD_STALE | CMD_FAST, cmd_select, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ "flushdb", -1, CMD_WRITE, cmd_flushdb, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL },
	{ "flushall", -1, CMD_WRITE, cmd_flushall, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL },
	{ "shutdown", -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE |
	  CMD_NOMULTI | CMD_SENTINEL | CMD_ALLOWBUSY, cmd_shutdown, 0, 0, 0,
	  "@admin @slow @dangerous", NULL, NULL },
	{ "info", -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, cmd_info,
	  0, 0, 0, "@slow @dangerous", NULL, NULL },
	{ "command", -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, cmd_command,
	  0, 0, 0, "@slow @connection", command_command_sub, NULL },
	{ "config", -2, 0, NULL, 0, 0, 0, "@slow", command_config_sub, NULL },
	{ "client", -2, CMD_SENTINEL, NULL, 0, 0, 0, "@slow",
	  command_client_sub, NULL },
	{ "auth", -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_NOAUTH | CMD_ALLOWBUSY, cmd_auth, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ "hello", -1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_NOAUTH | CMD_SENTINEL | CMD_ALLOWBUSY, cmd_hello, 0, 0, 0,
	  "@fast @connection", NULL, NULL },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
};

/* ---- Lookup and dispatch ---- */

const struct command *
command_find(const struct command *table, const char *name, size_t len)
{
	const struct command *cmd;

	if (len == 0)
		return NULL;
	/* Names are lower-case letters: a first-byte check (folding ASCII
	 * case with 0x20) rules out almost every row before strlen. */
	for (cmd = table; cmd->name != NULL; cmd++) {
		if (cmd->name[0] == (name[0] | 0x20) &&
		    strlen(cmd->name) == len &&
		    strncasecmp(cmd->name, name, len) == 0)
			return cmd;
	}
	return NULL;
}

const char *
command_fullname(const struct command *cmd, char *buf)
{
	if (cmd->parent != NULL)
		snprintf(buf, 64, "%s|%s", cmd->parent, cmd->name);
	else
		snprintf(buf, 64, "%s", cmd->name);
	return buf;
}

/* Length of an argument as a C string sees it (Redis formats error texts
 * with %s, which stops at the first NUL byte). */
static int
arg_cstrlen(const struct resp_arg *a)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	size_t n = nul != NULL ? (size_t)(nul - a->ptr) : a->len;

	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

/* Reply Redis's error for a command name nobody knows. */
static void
reply_unknown_command(struct client *c)
{
	char args[256];
	size_t alen = 0;
	int i, n;

	/* Like Redis: quote arguments while fewer than 128 characters are
	 * listed, each cut so the list stays within 128. */
	args[0] = '\0';
	for (i = 1; i < c->argc && alen < 128; i++) {
		n = arg_cstrlen(&c->argv[i]);
		if (n > (int)(128 - alen))
			n = (int)(128 - alen);
		alen += (size_t)snprintf(args + alen, sizeof(args) - alen,
		    "'%.*s' ", n, c->argv[i].ptr);
	}
	n = arg_cstrlen(&c->argv[0]);
	resp_add_errorf(&c->reply,
	    "unknown command '%.*s', with args beginning with: %s",
	    n > 128 ? 128 : n, c->argv[0].ptr, args);
}

/* Reply Redis's error for an unknown subcommand of a container. */
static void
reply_unknown_subcommand(struct client *c)
{
	char upper[64];
	int i, n = arg_cstrlen(&c->argv[0]);
	int sn = arg_cstrlen(&c->argv[1]);

	if (n > (int)sizeof(upper) - 1)
		n = (int)sizeof(upper) - 1;
	for (i = 0; i < n; i++)
		upper[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
	upper[n] = '\0';
	resp_add_errorf(&c->reply, "unknown subcommand '%.*s'. Try %s HELP.",
	    sn > 128 ? 128 : sn, c->argv[1].ptr, upper);
}

void
command_dispatch(struct client *c)
{
	const struct command *cmd, *sub;
	char name[64];

	cmd = command_find(command_table, c->argv[0].ptr, c->argv[0].len);
	if (cmd == NULL) {
		reply_unknown_command(c);
		return;
	}
	/* A container with arguments runs its subcommand; alone, it is
	 * judged by its own arity, as Redis's lookupCommand does. */
	if (cmd->sub != NULL && c->argc >= 2) {
		sub = command_find(cmd->sub, c->argv[1].ptr, c->argv[1].len);
		if (sub == NULL) {
			reply_unknown_subcommand(c);
			return;
		}
		cmd = sub;
	}
	if ((cmd->arity > 0 && cmd->arity != c->argc) ||
	    (c->argc < -cmd->arity)) {
		resp_add_errorf(&c->reply,
		    "wrong number of arguments for '%s' command",
		    command_fullname(cmd, name));
		return;
	}
	if (!c->authenticated && !(cmd->flags & CMD_NOAUTH)) {
		resp_add_errorf(&c->reply, "-NOAUTH Authentication required.");
		return;
	}
	c->lastcmd = cmd;
	c->srv->stat_commands++;
	cmd->proc(c);
}

/* ---- Helpers ---- */

/* Case-insensitive comparison of an argument with a literal. */
static int
arg_is(const struct resp_arg *a, const char *word)
{
	size_t n = strlen(word);

	return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* ---- Keyspace commands ---- */

/* GET key */
void
cmd_get(struct client *c)
{
	size_t vlen;
	const char *v = db_get(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    &vlen);

	if (v == NULL)
		resp_add_null(&c->reply);
	else
		resp_add_bulk(&c->reply, v, vlen);
}

/*
 * SET key value [NX | XX] [GET]
 * Expiry options (EX, PX, EXAT, PXAT, KEEPTTL) are not supported yet and
 * get an error naming the option.
 */
void
cmd_set(struct client *c)
{
	struct db *db = &c->srv->db;
	int nx = 0, xx = 0, get = 0, i;
	const char *old;
	size_t oldlen;

	for (i = 3; i < c->argc; i++) {
		const struct resp_arg *a = &c->argv[i];

		if (arg_is(a, "nx") && !xx)
			nx = 1;
		else if (arg_is(a, "xx") && !nx)
			xx = 1;
		else if (arg_is(a, "get"))
			get = 1;
		else if (arg_is(a, "ex") || arg_is(a, "px") ||
		    arg_is(a, "exat") || arg_is(a, "pxat") ||
		    arg_is(a, "keepttl")) {
			resp_add_errorf(&c->reply,
			    "SET option '%.*s' is not supported: "
			    "tiny-mp-cache has no key expiry yet",
			    (int)a->len, a->ptr);
			return;
		} else {
			resp_add_error(&c->reply, "syntax error", 12);
			return;
		}
	}

	if (nx || xx || get) {
		int exists;

		old = db_get(db, c->argv[1].ptr, c->argv[1].len, &oldlen);
		exists = old != NULL;
		if (get) {
			if (old == NULL)
				resp_add_null(&c->reply);
			else
				resp_add_bulk(&c->reply, old, oldlen);
		}
		if ((nx && exists) || (xx && !exists)) {
			if (!get)
				resp_add_null(&c->reply);
			return;
		}
		db_set(db, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
		    c->argv[2].len);
		if (!get)
			resp_add_ok(&c->reply);
		return;
	}
	db_set(db, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
	    c->argv[2].len);
	resp_add_ok(&c->reply);
}

/* MGET key [key ...]: an array of values, nil for missing keys. */
void
cmd_mget(struct client *c)
{
	struct db *db = &c->srv->db;
	size_t vlen;
	const char *v;
	int i;

	resp_add_array_len(&c->reply, c->argc - 1);
	for (i = 1; i < c->argc; i++) {
		v = db_get(db, c->argv[i].ptr, c->argv[i].len, &vlen);
		if (v == NULL)
			resp_add_null(&c->reply);
		else
			resp_add_bulk(&c->reply, v, vlen);
	}
}

/* MSET key value [key value ...]: all set at once (no other command
 * runs in between). A missing value is an arity error, as in Redis. */
void
cmd_mset(struct client *c)
{
	int i;

	if (c->argc % 2 == 0) {
		resp_add_errorf(&c->reply,
		    "wrong number of arguments for '%s' command", "mset");
		return;
	}
	for (i = 1; i < c->argc; i += 2)
		db_set(&c->srv->db, c->argv[i].ptr, c->argv[i].len,
		    c->argv[i + 1].ptr, c->argv[i + 1].len);
	resp_add_ok(&c->reply);
}

/* GETDEL key: the value goes to exactly one caller, since commands run
 * one at a time to completion. */
void
cmd_getdel(struct client *c)
{
	dict_entry *e = db_take(&c->srv->db, c->argv[1].ptr, c->argv[1].len);
	const char *v;
	size_t vlen;

	if (e == NULL) {
		resp_add_null(&c->reply);
		return;
	}
	v = dict_entry_val(e, &vlen);
	resp_add_bulk(&c->reply, v, vlen);
	dict_entry_free(e);
}

/* DEL key [key ...] */
void
cmd_del(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_delete(&c->srv->db, c->argv[i].ptr, c->argv[i].len);
	resp_add_int(&c->reply, n);
}

/* EXISTS key [key ...]: a key named twice counts twice, as in Redis. */
void
cmd_exists(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_exists(&c->srv->db, c->argv[i].ptr, c->argv[i].len);
	resp_add_int(&c->reply, n);
}

struct keys_ctx {
	struct resp_buf *out;
	long long n;
};

/* Add one matching key to the KEYS reply. */
static void
keys_add(const char *key, size_t klen, void *arg)
{
	struct keys_ctx *k = arg;

	resp_add_bulk(k->out, key, klen);
	k->n++;
}

/* KEYS pattern: the count is known only at the end, so the array header
 * is inserted in front of the elements afterwards. */
void
cmd_keys(struct client *c)
{
	struct keys_ctx k = { &c->reply, 0 };
	size_t off = c->reply.len;

	db_keys(&c->srv->db, c->argv[1].ptr, c->argv[1].len, keys_add, &k);
	resp_insert_array_len(&c->reply, off, k.n);
}

/* DBSIZE */
void
cmd_dbsize(struct client *c)
{
	resp_add_int(&c->reply, (long long)db_size(&c->srv->db));
}

/* FLUSHDB / FLUSHALL [ASYNC | SYNC]: both run synchronously here. */
static void
flush_generic(struct client *c)
{
	if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "sync") &&
	    !arg_is(&c->argv[1], "async"))) {
		resp_add_error(&c->reply, "syntax error", 12);
		return;
	}
	db_flush(&c->srv->db);
	resp_add_ok(&c->reply);
}

void
cmd_flushdb(struct client *c)
{
	flush_generic(c);
}

void
cmd_flushall(struct client *c)
{
	flush_generic(c);
}

/* ---- Connection commands ---- */

/*
 * Compare a password with the configured one without stopping at the
 * first difference, so the time taken does not tell how much of it was
 * right (only the longer of the two lengths shows).
 */
static int
password_equal(const struct resp_arg *pass, const char *want)
{
	size_t wlen = strlen(want);
	size_t n = pass->len > wlen ? pass->len : wlen, i;
	unsigned char diff = pass->len != wlen;

	for (i = 0; i < n; i++) {
		unsigned char a = i < pass->len ? (unsigned char)pass->ptr[i] : 0;
		unsigned char b = i < wlen ? (unsigned char)want[i] : 0;

		diff |= (unsigned char)(a ^ b);
	}
	return diff == 0;
}

int
command_authenticate(struct client *c, const struct resp_arg *user,
    const struct resp_arg *pass)
{
	const char *want = c->srv->requirepass;
	int user_ok = user == NULL || (user->len == 7 &&
	    memcmp(user->ptr, "default", 7) == 0);

	/* Without requirepass the default user takes any password. */
	if (user_ok && (want == NULL || password_equal(pass, want))) {
		c->authenticated = 1;
		c->parser.unauthenticated = 0;
		return 0;
	}
	resp_add_errorf(&c->reply, "-WRONGPASS invalid username-password pair "
	    "or user is disabled.");
	return -1;
}

/* AUTH [username] password */
void
cmd_auth(struct client *c)
{
	if (c->argc > 3) {
		resp_add_error(&c->reply, "syntax error", 12);
		return;
	}
	if (c->argc == 2 && c->srv->requirepass == NULL) {
		resp_add_errorf(&c->reply, "AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return;
	}
	if (command_authenticate(c, c->argc == 3 ? &c->argv[1] : NULL,
	    &c->argv[c->argc - 1]) == 0)
		resp_add_ok(&c->reply);
}

/* PING [message] */
void
cmd_ping(struct client *c)
{
	if (c->argc > 2) {
		resp_add_errorf(&c->reply,
		    "wrong number of arguments for '%s' command", "ping");
		return;
	}
	if (c->argc == 1)
		resp_add_simple(&c->reply, "PONG");
	else
		resp_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
}

/* ECHO message */
void
cmd_echo(struct client *c)
{
	resp_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
}

/* QUIT: reply, then close once the reply is written. */
void
cmd_quit(struct client *c)
{
	resp_add_ok(&c->reply);
	c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* SELECT index: only database 0 exists. */
void
cmd_select(struct client *c)
{
	long long idx;

	if (!resp_str_to_ll(c->argv[1].ptr, c->argv[1].len, &idx) ||
	    idx < -2147483648LL || idx > 2147483647LL) {
		resp_add_error(&c->reply,
		    "value is not an integer or out of range", 39);
		return;
	}
	if (idx != 0) {
		resp_add_error(&c->reply, "DB index is out of range", 24);
		return;
	}
	resp_add_ok(&c->reply);
}

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
			resp_add_error(&c->reply, "syntax error", 12);
			return;
		}
	}
	if ((abort_flag && c->argc != 2) || (save && nosave)) {
		resp_add_error(&c->reply, "syntax error", 12);
		return;
	}
	if (abort_flag) {
		resp_add_error(&c->reply, "No shutdown in progress.", 24);
		return;
	}
	server_log(c->srv, SERVER_LOG_WARNING,
	    "User requested shutdown...");
	c->srv->shutdown_asap = 1;
	c->flags |= CLIENT_CLOSE_ASAP;
	event_stop(c->srv->el);
}
