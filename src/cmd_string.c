/* SPDX-License-Identifier: MIT */
/*
 * String commands: GET, SET, MGET, MSET, GETDEL and the rest of Redis
 * 7.0's string family, with Redis's replies and errors.
 */
#include "config.h"

#include <limits.h>
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

/* ---- SET's options (shared with GETEX, as in Redis) ---- */

#define SETOPT_NX      (1 << 0)
#define SETOPT_XX      (1 << 1)
#define SETOPT_GET     (1 << 2)
#define SETOPT_KEEPTTL (1 << 3)
#define SETOPT_PERSIST (1 << 4)      /* GETEX only */
#define SETOPT_EX      (1 << 5)
#define SETOPT_PX      (1 << 6)
#define SETOPT_EXAT    (1 << 7)
#define SETOPT_PXAT    (1 << 8)
#define SETOPT_EXPIRE  (SETOPT_EX | SETOPT_PX | SETOPT_EXAT | SETOPT_PXAT)

/*
 * Parse the options of SET (set != 0, from argv[3]) or GETEX (from
 * argv[2]) as Redis 7.0's parseExtendedStringArgumentsOrReply does: each
 * word read as a C string, any case; an option that conflicts with one
 * already given (NX with XX, two kinds of expiry, KEEPTTL or PERSIST with
 * an expiry) or a missing time is a syntax error; the same option twice
 * is fine (the last time wins). Returns 0 with *flags and *expire (the
 * time argument, or NULL), or -1 after replying.
 */
static int
string_options(struct client *c, int set, int *flags,
    const struct resp_arg **expire)
{
	static const struct {
		const char *word;
		int flag;
		int conflicts;
	} times[] = {
		{ "ex", SETOPT_EX, SETOPT_EXPIRE & ~SETOPT_EX },
		{ "px", SETOPT_PX, SETOPT_EXPIRE & ~SETOPT_PX },
		{ "exat", SETOPT_EXAT, SETOPT_EXPIRE & ~SETOPT_EXAT },
		{ "pxat", SETOPT_PXAT, SETOPT_EXPIRE & ~SETOPT_PXAT },
	};
	int j, t;

	*flags = 0;
	*expire = NULL;
	for (j = set ? 3 : 2; j < c->argc; j++) {
		const struct resp_arg *a = &c->argv[j];
		int last = j == c->argc - 1;

		if (set && arg_is_word(a, "nx") && !(*flags & SETOPT_XX)) {
			*flags |= SETOPT_NX;
			continue;
		}
		if (set && arg_is_word(a, "xx") && !(*flags & SETOPT_NX)) {
			*flags |= SETOPT_XX;
			continue;
		}
		if (set && arg_is_word(a, "get")) {
			*flags |= SETOPT_GET;
			continue;
		}
		if (set && arg_is_word(a, "keepttl") &&
		    !(*flags & (SETOPT_PERSIST | SETOPT_EXPIRE))) {
			*flags |= SETOPT_KEEPTTL;
			continue;
		}
		if (!set && arg_is_word(a, "persist") &&
		    !(*flags & (SETOPT_KEEPTTL | SETOPT_EXPIRE))) {
			*flags |= SETOPT_PERSIST;
			continue;
		}
		for (t = 0; t < 4; t++)
			if (arg_is_word(a, times[t].word))
				break;
		if (t < 4 && !last && !(*flags & (times[t].conflicts |
		    SETOPT_KEEPTTL | SETOPT_PERSIST))) {
			*flags |= times[t].flag;
			*expire = &c->argv[++j];
			continue;
		}
		reply_syntax_error(c);
		return -1;
	}
	return 0;
}

/* Reply Redis's error for an expire time out of range. */
static void
reply_bad_expire(struct client *c)
{
	char name[64];

	resp_add_errorf(&c->reply, "invalid expire time in '%s' command",
	    command_fullname(c->lastcmd, name));
}

/*
 * The absolute expire time (ms) an EX/PX/EXAT/PXAT argument gives, as
 * Redis's getExpireMillisecondsOrReply: a positive integer; seconds that
 * would overflow in ms, or a relative time that overflows when added to
 * now, are refused. Returns 0, or -1 after replying.
 */
static int
string_expire_ms(struct client *c, const struct resp_arg *arg, int flags,
    long long *ms)
{
	long long v;

	if (arg_ll(c, arg, &v) == -1)
		return -1;
	if (v <= 0 || ((flags & (SETOPT_EX | SETOPT_EXAT)) &&
	    v > LLONG_MAX / 1000)) {
		reply_bad_expire(c);
		return -1;
	}
	if (flags & (SETOPT_EX | SETOPT_EXAT))
		v *= 1000;
	if (flags & (SETOPT_EX | SETOPT_PX)) {
		if (v > LLONG_MAX - c->srv->db.now) {
			reply_bad_expire(c);
			return -1;
		}
		v += c->srv->db.now;
	}
	*ms = v;
	return 0;
}

/* Propagate the running command as SET key value PXAT ms. */
static void
rewrite_set_pxat(struct client *c, const struct resp_arg *key,
    const struct resp_arg *val, long long ms)
{
	char num[24];
	const char *w[5] = { "SET", key->ptr, val->ptr, "PXAT", num };
	size_t l[5] = { 3, key->len, val->len, 4, 0 };

	l[4] = resp_ll_to_str(num, ms);
	command_rewrite(c, 5, w, l);
}

/*
 * SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms |
 * KEEPTTL], as Redis 7.0: the time is checked first, then GET's lookup
 * (WRONGTYPE there ends it), then NX/XX, which only ask whether the key
 * exists, whatever its type. A SET with a time propagates as SET ...
 * PXAT <absolute ms>.
 */
void
cmd_set(struct client *c)
{
	const struct resp_arg *expire;
	long long when = DB_EXPIRE_NONE;
	int flags;
	dbkey *old;

	if (string_options(c, 1, &flags, &expire) == -1 ||
	    (expire != NULL &&
	    string_expire_ms(c, expire, flags, &when) == -1))
		return;
	if (flags & SETOPT_GET) {
		if (lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &old) == -1)
			return;
		reply_string(c, old);
	}
	if (flags & (SETOPT_NX | SETOPT_XX)) {
		old = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
		    DB_NOSTATS);
		if (((flags & SETOPT_NX) && old != NULL) ||
		    ((flags & SETOPT_XX) && old == NULL)) {
			if (!(flags & SETOPT_GET))
				resp_add_null(&c->reply);
			return;
		}
	}
	set_string(c, &c->argv[1], &c->argv[2], (flags & SETOPT_KEEPTTL) ?
	    DB_EXPIRE_KEEP : when);
	if (expire != NULL)
		rewrite_set_pxat(c, &c->argv[1], &c->argv[2], when);
	if (!(flags & SETOPT_GET))
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
