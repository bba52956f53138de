/* SPDX-License-Identifier: MIT */
/*
 * String commands: Redis 7.0's string family (GET, SET and its variants,
 * MGET, MSET, MSETNX, GETDEL, GETEX, GETSET, the INCR family,
 * INCRBYFLOAT, APPEND, STRLEN, GETRANGE, SETRANGE) with Redis's replies,
 * errors and encodings, and DELEX, Redis 8.4's compare-and-delete.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "object.h"
#include "resp.h"
#include "state.h"

/* Redis's MAX_LONG_DOUBLE_CHARS: INCRBYFLOAT reads numbers shorter than
 * this, and any finite long double it prints fits in it. */
#define STRING_LD_CHARS (5 * 1024)

static command_proc cmd_setnx, cmd_setex, cmd_psetex, cmd_getex,
    cmd_getset, cmd_incr, cmd_decr, cmd_incrby, cmd_decrby,
    cmd_incrbyfloat, cmd_append, cmd_strlen, cmd_getrange, cmd_setrange,
    cmd_msetnx, cmd_delex;

/* The string family's rows (see commands.c for the fields). SUBSTR is
 * GETRANGE's old name, still listed by Redis 7.0. DELEX is Redis 8.4's
 * (its flags and categories are 8.4's). */
struct command string_commands[] = {
	{ "get", 2, CMD_READONLY | CMD_FAST, cmd_get, 1, 1, 1,
	  "@read @string @fast", NULL, NULL, 0 },
	{ "set", -3, CMD_WRITE | CMD_DENYOOM, cmd_set, 1, 1, 1,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "setnx", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_setnx, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "setex", 4, CMD_WRITE | CMD_DENYOOM, cmd_setex, 1, 1, 1,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "psetex", 4, CMD_WRITE | CMD_DENYOOM, cmd_psetex, 1, 1, 1,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "mget", -2, CMD_READONLY | CMD_FAST, cmd_mget, 1, -1, 1,
	  "@read @string @fast", NULL, NULL, 0 },
	{ "mset", -3, CMD_WRITE | CMD_DENYOOM, cmd_mset, 1, -1, 2,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "msetnx", -3, CMD_WRITE | CMD_DENYOOM, cmd_msetnx, 1, -1, 2,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "getdel", 2, CMD_WRITE | CMD_FAST, cmd_getdel, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "getex", -2, CMD_WRITE | CMD_FAST, cmd_getex, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "getset", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_getset, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "incr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_incr, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "decr", 2, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_decr, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "incrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_incrby, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "decrby", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_decrby, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "incrbyfloat", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST,
	  cmd_incrbyfloat, 1, 1, 1, "@write @string @fast", NULL, NULL, 0 },
	{ "append", 3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_append, 1, 1, 1,
	  "@write @string @fast", NULL, NULL, 0 },
	{ "strlen", 2, CMD_READONLY | CMD_FAST, cmd_strlen, 1, 1, 1,
	  "@read @string @fast", NULL, NULL, 0 },
	{ "getrange", 4, CMD_READONLY, cmd_getrange, 1, 1, 1,
	  "@read @string @slow", NULL, NULL, 0 },
	{ "substr", 4, CMD_READONLY, cmd_getrange, 1, 1, 1,
	  "@read @string @slow", NULL, NULL, 0 },
	{ "setrange", 4, CMD_WRITE | CMD_DENYOOM, cmd_setrange, 1, 1, 1,
	  "@write @string @slow", NULL, NULL, 0 },
	{ "delex", -2, CMD_WRITE | CMD_FAST, cmd_delex, 1, 1, 1,
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

/* ---- SETNX, SETEX, PSETEX, GETSET ---- */

/* SETNX key value: 1 if set, 0 if the key exists (of any type). */
static void
cmd_setnx(struct client *c)
{
	if (db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    DB_NOSTATS) != NULL) {
		resp_add_int(&c->reply, 0);
		return;
	}
	set_string(c, &c->argv[1], &c->argv[2], DB_EXPIRE_NONE);
	resp_add_int(&c->reply, 1);
}

/* SETEX key seconds value, PSETEX key ms value (flag SETOPT_EX or
 * SETOPT_PX): SET with a time, propagated as SET ... PXAT <ms>; any
 * old value of any type is replaced. */
static void
setex_generic(struct client *c, int flag)
{
	long long when;

	if (string_expire_ms(c, &c->argv[2], flag, &when) == -1)
		return;
	set_string(c, &c->argv[1], &c->argv[3], when);
	rewrite_set_pxat(c, &c->argv[1], &c->argv[3], when);
	resp_add_ok(&c->reply);
}

static void
cmd_setex(struct client *c)
{
	setex_generic(c, SETOPT_EX);
}

static void
cmd_psetex(struct client *c)
{
	setex_generic(c, SETOPT_PX);
}

/* Propagate the running command as NAME key [arg] (arg NULL: none),
 * key being its argv[1]. */
static void
rewrite_key_command(struct client *c, const char *name, const char *arg,
    size_t alen)
{
	const char *w[3] = { name, c->argv[1].ptr, arg };
	size_t l[3] = { strlen(name), c->argv[1].len, alen };

	command_rewrite(c, arg != NULL ? 3 : 2, w, l);
}

/* GETSET key value: the old value (WRONGTYPE for another type), then
 * the new one without a TTL; propagated as SET key value. */
static void
cmd_getset(struct client *c)
{
	dbkey *k;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &k) == -1)
		return;
	reply_string(c, k);
	set_string(c, &c->argv[1], &c->argv[2], DB_EXPIRE_NONE);
	rewrite_key_command(c, "SET", c->argv[2].ptr, c->argv[2].len);
}

/* ---- GETEX ---- */

/*
 * GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST], in Redis 7.0's
 * order: options (syntax), the key (nil if missing, WRONGTYPE), then the
 * time. The value is replied before the TTL changes. An absolute time
 * already past deletes the key (propagated as DEL); a time propagates as
 * PEXPIREAT key <ms>; PERSIST, when the key had a TTL, as PERSIST key.
 */
static void
cmd_getex(struct client *c)
{
	const struct resp_arg *expire;
	struct db *db = &c->srv->db;
	long long when = 0;
	char num[24];
	int flags;
	dbkey *k;

	if (string_options(c, 0, &flags, &expire) == -1 ||
	    lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &k) == -1)
		return;
	if (k == NULL) {
		resp_add_null(&c->reply);
		return;
	}
	if (expire != NULL && string_expire_ms(c, expire, flags, &when) == -1)
		return;
	reply_string(c, k);
	if ((flags & (SETOPT_EXAT | SETOPT_PXAT)) && db_past(db, when)) {
		db_delete(db, c->argv[1].ptr, c->argv[1].len);
		rewrite_key_command(c, "DEL", NULL, 0);
	} else if (expire != NULL) {
		db_set_expire(db, k, when);
		rewrite_key_command(c, "PEXPIREAT", num,
		    resp_ll_to_str(num, when));
	} else if ((flags & SETOPT_PERSIST) && db_key_expire(k) >= 0) {
		db_persist(db, k);
		rewrite_key_command(c, "PERSIST", NULL, 0);
	}
}

/* ---- MGET, MSET, MSETNX, GETDEL ---- */

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

/*
 * MSET key value [key value ...] (nx 0) and MSETNX (nx 1): all set at
 * once (no other command runs in between), replacing values of any
 * type. MSETNX sets nothing and replies 0 if any key exists. A missing
 * value is an arity error, as in Redis.
 */
static void
mset_generic(struct client *c, int nx)
{
	char name[64];
	int i;

	if (c->argc % 2 == 0) {
		resp_add_errorf(&c->reply,
		    "wrong number of arguments for '%s' command",
		    command_fullname(c->lastcmd, name));
		return;
	}
	for (i = 1; nx && i < c->argc; i += 2)
		if (db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len,
		    DB_NOSTATS) != NULL) {
			resp_add_int(&c->reply, 0);
			return;
		}
	for (i = 1; i < c->argc; i += 2)
		set_string(c, &c->argv[i], &c->argv[i + 1], DB_EXPIRE_NONE);
	if (nx)
		resp_add_int(&c->reply, 1);
	else
		resp_add_ok(&c->reply);
}

void
cmd_mset(struct client *c)
{
	mset_generic(c, 0);
}

static void
cmd_msetnx(struct client *c)
{
	mset_generic(c, 1);
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
	/* Logged as a DEL, as Redis does. */
	if (k != NULL)
		rewrite_key_command(c, "DEL", NULL, 0);
	reply_string(c, k);
	db_key_free(k);
}

/* ---- INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT ---- */

/*
 * Store a computed string value (len bytes of v, with encoding enc) in
 * k, or in a new key if k is NULL; an existing key keeps its TTL, as
 * Redis's dbOverwrite keeps it.
 */
static void
store_result(struct client *c, dbkey *k, const char *v, size_t len, int enc)
{
	struct db *db = &c->srv->db;

	if (k == NULL) {
		db_set(db, c->argv[1].ptr, c->argv[1].len, OBJ_STRING, enc, v,
		    len, DB_EXPIRE_NONE);
		return;
	}
	k = db_resize(db, k, v, len);
	db_key_set_encoding(k, enc);
}

/*
 * Add incr to the integer in key (0 if missing), as Redis's
 * incrDecrCommand: the value must be a canonical 64-bit integer and the
 * sum must not overflow. The result is "int" encoded; the TTL stays.
 */
static void
incr_generic(struct client *c, long long incr)
{
	long long v = 0;
	char num[24];
	size_t len;
	dbkey *k;
	const char *s;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, DB_NOSTATS, &k) == -1)
		return;
	if (k != NULL) {
		s = db_key_value(k, &len);
		if (!resp_str_to_ll(s, len, &v)) {
			resp_add_error(&c->reply,
			    "value is not an integer or out of range", 39);
			return;
		}
	}
	if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
	    (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
		resp_add_errorf(&c->reply,
		    "increment or decrement would overflow");
		return;
	}
	v += incr;
	len = resp_ll_to_str(num, v);
	store_result(c, k, num, len, OBJ_ENC_INT);
	resp_add_int(&c->reply, v);
}

static void
cmd_incr(struct client *c)
{
	incr_generic(c, 1);
}

static void
cmd_decr(struct client *c)
{
	incr_generic(c, -1);
}

/* INCRBY key increment: the increment is checked before the key. */
static void
cmd_incrby(struct client *c)
{
	long long incr;

	if (arg_ll(c, &c->argv[2], &incr) == 0)
		incr_generic(c, incr);
}

/* DECRBY key decrement: LLONG_MIN cannot be negated. */
static void
cmd_decrby(struct client *c)
{
	long long incr;

	if (arg_ll(c, &c->argv[2], &incr) == -1)
		return;
	if (incr == LLONG_MIN) {
		resp_add_errorf(&c->reply, "decrement would overflow");
		return;
	}
	incr_generic(c, -incr);
}

/*
 * Format v as Redis's ld2string in "human" mode: %.17Lf, then trailing
 * zeros and a trailing '.' removed, and "-0" written "0". buf holds
 * STRING_LD_CHARS bytes, enough for any finite v. Returns the length.
 */
static size_t
string_ld_human(char *buf, long double v)
{
	int n = snprintf(buf, STRING_LD_CHARS, "%.17Lf", v);
	size_t l = n > 0 && n < STRING_LD_CHARS ? (size_t)n : 0;

	if (memchr(buf, '.', l) != NULL) {
		while (buf[l - 1] == '0')
			l--;
		if (buf[l - 1] == '.')
			l--;
	}
	if (l == 2 && buf[0] == '-' && buf[1] == '0') {
		buf[0] = '0';
		l = 1;
	}
	return l;
}

/*
 * INCRBYFLOAT key increment, as Redis 7.0: the key's value, then the
 * increment, must read as long doubles; a NaN or infinite sum is
 * refused. The result is stored as Redis prints it ("embstr", or "raw"
 * past 44 bytes), the TTL kept, and the command propagated as SET key
 * <result> KEEPTTL, so that a replay cannot round differently.
 */
static void
cmd_incrbyfloat(struct client *c)
{
	char buf[STRING_LD_CHARS];
	const char *w[4] = { "SET", c->argv[1].ptr, buf, "KEEPTTL" };
	size_t l[4] = { 3, c->argv[1].len, 0, 7 };
	long double v = 0, incr;
	const char *s = NULL;
	size_t len = 0;
	dbkey *k;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, DB_NOSTATS, &k) == -1)
		return;
	if (k != NULL)
		s = db_key_value(k, &len);
	if ((k != NULL && !str_to_ld(s, len, &v)) ||
	    !str_to_ld(c->argv[2].ptr, c->argv[2].len, &incr)) {
		resp_add_error(&c->reply, "value is not a valid float", 26);
		return;
	}
	v += incr;
	if (isnan(v) || isinf(v)) {
		resp_add_errorf(&c->reply,
		    "increment would produce NaN or Infinity");
		return;
	}
	l[2] = string_ld_human(buf, v);
	store_result(c, k, buf, l[2],
	    l[2] <= OBJ_EMBSTR_MAX ? OBJ_ENC_EMBSTR : OBJ_ENC_RAW);
	resp_add_bulk(&c->reply, buf, l[2]);
	command_rewrite(c, 4, w, l);
}

/* ---- APPEND, STRLEN, GETRANGE, SETRANGE ---- */

/*
 * Whether a string of size bytes may grow by add bytes: the result must
 * not exceed proto-max-bulk-len (Redis's checkStringLength), checked
 * before anything is allocated. Returns 0, or -1 after replying.
 */
static int
string_check_length(struct client *c, unsigned long long size,
    unsigned long long add)
{
	if (size + add > (unsigned long long)c->srv->cfg.proto_max_bulk_len) {
		resp_add_errorf(&c->reply, "string exceeds maximum allowed "
		    "size (proto-max-bulk-len)");
		return -1;
	}
	return 0;
}

/* APPEND key value: the new length. A new key stores the value as
 * sent; an existing one grows in place, "raw", keeping its TTL. */
static void
cmd_append(struct client *c)
{
	const struct resp_arg *a = &c->argv[2];
	size_t olen;
	char *v;
	dbkey *k;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, DB_NOSTATS, &k) == -1)
		return;
	if (k == NULL) {
		set_string(c, &c->argv[1], a, DB_EXPIRE_NONE);
		resp_add_int(&c->reply, (long long)a->len);
		return;
	}
	db_key_value(k, &olen);
	if (string_check_length(c, olen, a->len) == -1)
		return;
	k = db_resize(&c->srv->db, k, NULL, olen + a->len);
	v = db_key_value(k, &olen);
	memcpy(v + olen - a->len, a->ptr, a->len);
	db_key_set_encoding(k, OBJ_ENC_RAW);
	resp_add_int(&c->reply, (long long)olen);
}

/* STRLEN key: the value's length, 0 for a missing key. */
static void
cmd_strlen(struct client *c)
{
	size_t len = 0;
	dbkey *k;

	if (lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &k) == -1)
		return;
	if (k != NULL)
		db_key_value(k, &len);
	resp_add_int(&c->reply, (long long)len);
}

/*
 * GETRANGE key start end (and SUBSTR): the bytes from start to end
 * inclusive, negative offsets counting from the end, clamped to the
 * value, as Redis 7.0 computes them; an empty string when the range is
 * empty or the key missing. The numbers are checked before the key.
 */
static void
cmd_getrange(struct client *c)
{
	long long start, end, len;
	const char *v;
	size_t vlen;
	dbkey *k;

	if (arg_ll(c, &c->argv[2], &start) == -1 ||
	    arg_ll(c, &c->argv[3], &end) == -1 ||
	    lookup_typed(c, &c->argv[1], OBJ_STRING, 0, &k) == -1)
		return;
	if (k == NULL || (start < 0 && end < 0 && start > end)) {
		resp_add_bulk(&c->reply, "", 0);
		return;
	}
	v = db_key_value(k, &vlen);
	len = (long long)vlen;
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (start > end || len == 0)
		resp_add_bulk(&c->reply, "", 0);
	else
		resp_add_bulk(&c->reply, v + start, (size_t)(end - start + 1));
}

/*
 * SETRANGE key offset value, as Redis 7.0: the offset is checked first
 * (an integer, not negative), then the key's type; an empty value
 * changes nothing and replies the length (0 for a missing key); the
 * result may not exceed proto-max-bulk-len. The gap past the old end is
 * zero bytes; the value becomes "raw" and keeps its TTL.
 */
static void
cmd_setrange(struct client *c)
{
	const struct resp_arg *a = &c->argv[3];
	size_t olen = 0, nlen;
	long long off;
	char *v;
	dbkey *k;

	if (arg_ll(c, &c->argv[2], &off) == -1)
		return;
	if (off < 0) {
		resp_add_errorf(&c->reply, "offset is out of range");
		return;
	}
	if (lookup_typed(c, &c->argv[1], OBJ_STRING, DB_NOSTATS, &k) == -1)
		return;
	if (k != NULL)
		db_key_value(k, &olen);
	if (a->len == 0) {
		resp_add_int(&c->reply, (long long)olen);
		return;
	}
	if (string_check_length(c, (unsigned long long)off, a->len) == -1)
		return;
	nlen = (size_t)off + a->len;
	if (nlen < olen)
		nlen = olen;
	if (k == NULL)
		k = db_set(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
		    OBJ_STRING, OBJ_ENC_RAW, NULL, nlen, DB_EXPIRE_NONE);
	else {
		k = db_resize(&c->srv->db, k, NULL, nlen);
		db_key_set_encoding(k, OBJ_ENC_RAW);
	}
	v = db_key_value(k, &nlen);
	if ((size_t)off > olen)
		memset(v + olen, 0, (size_t)off - olen);
	memcpy(v + off, a->ptr, a->len);
	resp_add_int(&c->reply, (long long)nlen);
}

/* ---- DELEX (Redis 8.4) ---- */

/*
 * DELEX key [IFEQ value | IFNE value]: delete the key (of any type)
 * alone, or only if its value equals (IFEQ) or differs from (IFNE) the
 * one given, in one step: a lock's owner releases it only while it still
 * holds its token. 1 if deleted, 0 if not (missing, or the condition
 * false); WRONGTYPE for a condition on a value that is not a string; a
 * syntax error for anything else. A deletion propagates as DEL key.
 */
static void
cmd_delex(struct client *c)
{
	const struct resp_arg *want = &c->argv[c->argc - 1];
	int ifeq = 0, deleted;
	const char *v;
	size_t vlen;
	dbkey *k;

	if (c->argc != 2) {
		if (c->argc == 4 && arg_is_word(&c->argv[2], "ifeq"))
			ifeq = 1;
		else if (c->argc != 4 || !arg_is_word(&c->argv[2], "ifne")) {
			reply_syntax_error(c);
			return;
		}
		if (lookup_typed(c, &c->argv[1], OBJ_STRING, DB_NOSTATS,
		    &k) == -1)
			return;
		if (k == NULL) {
			resp_add_int(&c->reply, 0);
			return;
		}
		v = db_key_value(k, &vlen);
		if ((vlen == want->len && memcmp(v, want->ptr, vlen) == 0) !=
		    ifeq) {
			resp_add_int(&c->reply, 0);
			return;
		}
	}
	deleted = db_delete(&c->srv->db, c->argv[1].ptr, c->argv[1].len);
	if (deleted)
		rewrite_key_command(c, "DEL", NULL, 0);
	resp_add_int(&c->reply, deleted);
}
