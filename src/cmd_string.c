/* SPDX-License-Identifier: MIT */
/*
 * String commands: GET, SET, MGET, MSET, GETDEL and the rest of Redis
 * 7.0's string family, with Redis's replies and errors.
 */
#include "config.h"

#include <string.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "object.h"
#include "resp.h"
#include "state.h"

/* The string family's rows (see commands.c for the fields). */
struct command string_commands[] = {
	{ "get", 2, CMD_READONLY | CMD_FAST, cmd_get, 1, 1, 1,
	  "@read @string @fast", NULL, NULL, 0 },
	{ "set", -3, CMD_WRITE | CMD_DENYOOM, cmd_set, 1, 1, 1,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "mget", -2, CMD_READONLY | CMD_FAST, cmd_mget, 1, -1, 1,
	  "@read @string @fast", NULL, NULL, 0 },
	{ "mset", -3, CMD_WRITE | CMD_DENYOOM, cmd_mset, 1, -1, 2,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "getdel", 2, CMD_WRITE | CMD_FAST, cmd_getdel, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* Reply a string key's value, or nil. */
static void
reply_string(struct client *c, const dbkey *k)
{
	size_t vlen;
	const char *v;

	if (k == NULL) {
		resp_add_null(&c->reply);
		return;
	}
	v = db_key_value(k, &vlen);
	resp_add_bulk(&c->reply, v, vlen);
}

/* Store a string value sent by the client (encoded as Redis would). */
static dbkey *
set_string(struct client *c, const struct resp_arg *key,
    const struct resp_arg *val, long long expire)
{
	return db_set(&c->srv->db, key->ptr, key->len, OBJ_STRING,
	    obj_string_encoding(val->ptr, val->len), val->ptr, val->len,
	    expire);
}

/* GET key */
void
cmd_get(struct client *c)
{
	dbkey *k;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &k) == 0)
		reply_string(c, k);
}

/*
 * SET key value [NX | XX] [GET]
 * Expiry options (EX, PX, EXAT, PXAT, KEEPTTL) come with the expiry
 * commands.
 */
void
cmd_set(struct client *c)
{
	int nx = 0, xx = 0, get = 0, i;
	dbkey *old;

	for (i = 3; i < c->argc; i++) {
		const struct resp_arg *a = &c->argv[i];

		if (arg_is(a, "nx") && !xx)
			nx = 1;
		else if (arg_is(a, "xx") && !nx)
			xx = 1;
		else if (arg_is(a, "get"))
			get = 1;
		else {
			reply_syntax_error(c);
			return;
		}
	}
	/* As Redis: GET's lookup decides WRONGTYPE; NX and XX only ask
	 * whether the key exists, whatever its type. */
	if (get) {
		if (lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &old) == -1)
			return;
		reply_string(c, old);
	}
	if (nx || xx) {
		old = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
		    DB_NOSTATS);
		if ((nx && old != NULL) || (xx && old == NULL)) {
			if (!get)
				resp_add_null(&c->reply);
			return;
		}
	}
	set_string(c, &c->argv[1], &c->argv[2], DB_EXPIRE_NONE);
	if (!get)
		resp_add_ok(&c->reply);
}

/* MGET key [key ...]: an array of values, nil for missing keys and for
 * keys that hold another type. */
void
cmd_mget(struct client *c)
{
	dbkey *k;
	int i;

	resp_add_array_len(&c->reply, c->argc - 1);
	for (i = 1; i < c->argc; i++) {
		k = db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len, 0);
		reply_string(c, k != NULL && db_key_type(k) == OBJ_STRING ?
		    k : NULL);
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
		set_string(c, &c->argv[i], &c->argv[i + 1], DB_EXPIRE_NONE);
	resp_add_ok(&c->reply);
}

/* GETDEL key: the value goes to exactly one caller, since commands run
 * one at a time to completion. */
void
cmd_getdel(struct client *c)
{
	int wrongtype;
	dbkey *k = db_take(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    OBJ_STRING, &wrongtype);

	if (wrongtype) {
		reply_wrongtype(c);
		return;
	}
	reply_string(c, k);
	db_key_free(k);
}
