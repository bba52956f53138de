/* SPDX-License-Identifier: MIT */
/*
 * Keyspace commands: Redis 7.0's generic family (DEL, EXISTS, KEYS,
 * SCAN, the EXPIRE and TTL families, TYPE, RENAME, OBJECT, MEMORY ...),
 * whatever the value's type, with Redis's replies and error texts.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "glob.h"
#include "object.h"
#include "resp.h"
#include "settings.h"
#include "state.h"

static command_proc cmd_expire, cmd_pexpire, cmd_expireat, cmd_pexpireat,
    cmd_ttl, cmd_pttl, cmd_expiretime, cmd_pexpiretime, cmd_persist,
    cmd_type, cmd_touch, cmd_unlink, cmd_randomkey, cmd_rename,
    cmd_renamenx, cmd_scan, cmd_object_encoding, cmd_object_freq,
    cmd_object_idletime, cmd_object_refcount, cmd_object_help,
    cmd_memory_usage, cmd_memory_help;

/* OBJECT's subcommands (rows as in the family tables, commands.c). */
static struct command keyspace_object_sub[] = {
	{ "encoding", 3, CMD_READONLY, cmd_object_encoding, 2, 2, 1,
	  "@keyspace @read @slow", NULL, "object", 0 },
	{ "freq", 3, CMD_READONLY, cmd_object_freq, 2, 2, 1,
	  "@keyspace @read @slow", NULL, "object", 0 },
	{ "idletime", 3, CMD_READONLY, cmd_object_idletime, 2, 2, 1,
	  "@keyspace @read @slow", NULL, "object", 0 },
	{ "refcount", 3, CMD_READONLY, cmd_object_refcount, 2, 2, 1,
	  "@keyspace @read @slow", NULL, "object", 0 },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_object_help, 0, 0, 0,
	  "@keyspace @slow", NULL, "object", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* MEMORY's subcommands: USAGE and HELP of Redis 7.0's six. */
static struct command keyspace_memory_sub[] = {
	{ "usage", -3, CMD_READONLY, cmd_memory_usage, 2, 2, 1,
	  "@read @slow", NULL, "memory", 0 },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_memory_help, 0, 0, 0,
	  "@slow", NULL, "memory", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* The keyspace family's rows (see commands.c for the fields). */
struct command keyspace_commands[] = {
	{ "del", -2, CMD_WRITE, cmd_del, 1, -1, 1,
	  "@keyspace @write @slow", NULL, NULL, 0 },
	{ "unlink", -2, CMD_WRITE | CMD_FAST, cmd_unlink, 1, -1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "exists", -2, CMD_READONLY | CMD_FAST, cmd_exists, 1, -1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "touch", -2, CMD_READONLY | CMD_FAST, cmd_touch, 1, -1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "type", 2, CMD_READONLY | CMD_FAST, cmd_type, 1, 1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "keys", 2, CMD_READONLY, cmd_keys, 0, 0, 0,
	  "@keyspace @read @slow @dangerous", NULL, NULL, 0 },
	{ "scan", -2, CMD_READONLY, cmd_scan, 0, 0, 0,
	  "@keyspace @read @slow", NULL, NULL, 0 },
	{ "randomkey", 1, CMD_READONLY, cmd_randomkey, 0, 0, 0,
	  "@keyspace @read @slow", NULL, NULL, 0 },
	{ "dbsize", 1, CMD_READONLY | CMD_FAST, cmd_dbsize, 0, 0, 0,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "rename", 3, CMD_WRITE, cmd_rename, 1, 2, 1,
	  "@keyspace @write @slow", NULL, NULL, 0 },
	{ "renamenx", 3, CMD_WRITE | CMD_FAST, cmd_renamenx, 1, 2, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "expire", -3, CMD_WRITE | CMD_FAST, cmd_expire, 1, 1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "pexpire", -3, CMD_WRITE | CMD_FAST, cmd_pexpire, 1, 1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "expireat", -3, CMD_WRITE | CMD_FAST, cmd_expireat, 1, 1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "pexpireat", -3, CMD_WRITE | CMD_FAST, cmd_pexpireat, 1, 1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "ttl", 2, CMD_READONLY | CMD_FAST, cmd_ttl, 1, 1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "pttl", 2, CMD_READONLY | CMD_FAST, cmd_pttl, 1, 1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "expiretime", 2, CMD_READONLY | CMD_FAST, cmd_expiretime, 1, 1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "pexpiretime", 2, CMD_READONLY | CMD_FAST, cmd_pexpiretime, 1, 1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "persist", 2, CMD_WRITE | CMD_FAST, cmd_persist, 1, 1, 1,
	  "@keyspace @write @fast", NULL, NULL, 0 },
	{ "object", -2, 0, NULL, 0, 0, 0, "@slow", keyspace_object_sub, NULL,
	  0 },
	{ "memory", -2, 0, NULL, 0, 0, 0, "@slow", keyspace_memory_sub, NULL,
	  0 },
	{ "flushdb", -1, CMD_WRITE, cmd_flushdb, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL, 0 },
	{ "flushall", -1, CMD_WRITE, cmd_flushall, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* ---- Existence, deletion, type ---- */

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

/* UNLINK key [key ...]: DEL here. Redis frees large values in a
 * background thread; we free every value synchronously, which is what
 * UNLINK promises at the keyspace level (the keys are gone at once). */
static void
cmd_unlink(struct client *c)
{
	cmd_del(c);
}

/* EXISTS key [key ...]: a key named twice counts twice, as in Redis. */
void
cmd_exists(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len,
		    DB_NOTOUCH) != NULL;
	resp_add_int(&c->reply, n);
}

/* TOUCH key [key ...]: how many of the keys exist (a key named twice
 * counts twice); each lookup updates the key's access clock. */
static void
cmd_touch(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len,
		    0) != NULL;
	resp_add_int(&c->reply, n);
}

/* TYPE key: the value's type as a status reply, "none" if absent. */
static void
cmd_type(struct client *c)
{
	dbkey *k = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    DB_NOTOUCH);

	resp_add_simple(&c->reply, k != NULL ? obj_type_name(db_key_type(k)) :
	    "none");
}

/* ---- Listing ---- */

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

/* DBSIZE: every key, counting those whose time has passed but that no
 * lookup or expiry cycle has removed yet, as Redis's DBSIZE does. */
void
cmd_dbsize(struct client *c)
{
	resp_add_int(&c->reply, (long long)db_size(&c->srv->db));
}

/* RANDOMKEY: a random live key, or nil if the keyspace is empty. */
static void
cmd_randomkey(struct client *c)
{
	dbkey *k = db_random(&c->srv->db);
	const char *key;
	size_t klen;

	if (k == NULL) {
		resp_add_null(&c->reply);
		return;
	}
	key = db_key_name(k, &klen);
	resp_add_bulk(&c->reply, key, klen);
}

/* ---- SCAN ---- */

#define SCAN_COUNT_DEFAULT 10        /* Redis's default COUNT */
#define SCAN_STEPS_PER_KEY 10        /* cursor steps per key asked for at
                                      * most (Redis's maxiterations) */

/* What one SCAN call gathers. */
struct scan_ctx {
	struct resp_buf out;             /* the keys kept, as bulk strings */
	long long kept;                  /* keys in out */
	long long met;                   /* keys visited: COUNT counts
	                                  * these, before filtering, as
	                                  * Redis does */
	const struct resp_arg *pat;      /* MATCH pattern; NULL: any key */
	size_t prefix;                   /* "prefix*": its literal length */
	int fast;                        /* 1: pat is "prefix*" */
	const struct resp_arg *type;     /* TYPE name; NULL: any type */
};

/*
 * Parse a SCAN cursor as Redis's parseScanCursorOrReply does with
 * strtoul: the argument up to its first NUL byte, not starting with
 * white space, an optional sign and decimal digits that fit 64 bits
 * ("-1" wraps around, and the empty string is cursor 0). Returns 0 with
 * *cursor, or -1 after replying "invalid cursor".
 */
static int
scan_cursor(struct client *c, const struct resp_arg *a,
    unsigned long long *cursor)
{
	size_t n = (size_t)arg_cstrlen(a), i = 0, digits = 0;
	unsigned long long v = 0;
	int neg = 0, range = 0;
	unsigned d;

	if (n > 0 && isspace((unsigned char)a->ptr[0]))
		goto bad;
	if (n > 0 && (a->ptr[0] == '+' || a->ptr[0] == '-')) {
		neg = a->ptr[0] == '-';
		i++;
	}
	for (; i < n && a->ptr[i] >= '0' && a->ptr[i] <= '9'; i++, digits++) {
		d = (unsigned)(a->ptr[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			range = 1;
		else
			v = v * 10 + d;
	}
	if (range || i != n || (digits == 0 && n != 0))
		goto bad;
	*cursor = neg ? 0 - v : v;
	return 0;
bad:
	resp_add_error(&c->reply, "invalid cursor", 14);
	return -1;
}

/* Whether key passes SCAN's MATCH pattern (if any). */
static int
scan_matches(const struct scan_ctx *s, const char *key, size_t klen)
{
	if (s->pat == NULL)
		return 1;
	if (s->fast)
		return klen >= s->prefix &&
		    memcmp(key, s->pat->ptr, s->prefix) == 0;
	return glob_match(s->pat->ptr, s->pat->len, key, klen, 0);
}

/* db_scan's callback: count the key, keep it if it passes the filters
 * (TYPE's name compared as Redis's strcasecmp would). */
static void
scan_visit(const dbkey *k, void *arg)
{
	struct scan_ctx *s = arg;
	size_t klen;
	const char *key = db_key_name(k, &klen);

	s->met++;
	if (!scan_matches(s, key, klen) || (s->type != NULL &&
	    !arg_is_word(s->type, obj_type_name(db_key_type(k)))))
		return;
	resp_add_bulk(&s->out, key, klen);
	s->kept++;
}

/*
 * Parse SCAN's options as Redis 7.0's scanGenericCommand: each word read
 * as a C string, any case, and each needs its value; COUNT must be a
 * positive integer. A repeated option takes its last value. Returns 0,
 * or -1 after replying.
 */
static int
scan_options(struct client *c, struct scan_ctx *s, long long *count)
{
	int i, left;

	*count = SCAN_COUNT_DEFAULT;
	for (i = 2; i < c->argc; i += 2) {
		left = c->argc - i;
		if (arg_is_word(&c->argv[i], "count") && left >= 2) {
			if (arg_ll(c, &c->argv[i + 1], count) == -1)
				return -1;
			if (*count < 1) {
				reply_syntax_error(c);
				return -1;
			}
		} else if (arg_is_word(&c->argv[i], "match") && left >= 2) {
			s->pat = &c->argv[i + 1];
		} else if (arg_is_word(&c->argv[i], "type") && left >= 2) {
			s->type = &c->argv[i + 1];
		} else {
			reply_syntax_error(c);
			return -1;
		}
	}
	/* "*" matches everything: no filter at all, as in Redis. */
	if (s->pat != NULL && s->pat->len == 1 && s->pat->ptr[0] == '*')
		s->pat = NULL;
	if (s->pat != NULL)
		s->fast = glob_is_prefix(s->pat->ptr, s->pat->len, &s->prefix);
	return 0;
}

/*
 * SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: cursor steps
 * (each visits every key at one position of both tables) until about
 * COUNT keys were met or the cursor is back to 0, at most COUNT * 10
 * steps, as Redis bounds a sparse table's cost; the stale keys met are
 * reclaimed after the last step, as Redis does. MATCH and TYPE filter
 * what was met, so a reply may hold fewer keys than COUNT, or none, with
 * the scan still going on. A TYPE no value has (or "none") selects
 * nothing, as in Redis 7.0. Keys whose time has passed are never
 * returned. Replies [cursor, [keys]], the cursor as a bulk string.
 */
static void
cmd_scan(struct client *c)
{
	struct scan_ctx s;
	struct db_scan_state st = { NULL, 0, 0 };
	unsigned long long cursor;
	long long count, steps;

	memset(&s, 0, sizeof(s));
	if (scan_cursor(c, &c->argv[1], &cursor) == -1 ||
	    scan_options(c, &s, &count) == -1)
		return;
	steps = count > LLONG_MAX / SCAN_STEPS_PER_KEY ? LLONG_MAX :
	    count * SCAN_STEPS_PER_KEY;
	do {
		cursor = db_scan_step(&c->srv->db, &st, (size_t)cursor,
		    scan_visit, &s);
	} while (cursor != 0 && steps-- > 0 && s.met < count);
	db_scan_end(&c->srv->db, &st);
	resp_add_array_len(&c->reply, 2);
	resp_add_bulk_ll(&c->reply, (long long)cursor);
	resp_add_array_len(&c->reply, s.kept);
	if (s.out.len != 0)
		resp_buf_append(&c->reply, s.out.data, s.out.len);
	resp_buf_free(&s.out);
}

/* ---- Expire times ---- */

#define EXPIRE_NX (1 << 0)             /* only if the key has no TTL */
#define EXPIRE_XX (1 << 1)             /* only if it has one */
#define EXPIRE_GT (1 << 2)             /* only if later than the TTL */
#define EXPIRE_LT (1 << 3)             /* only if earlier */

/*
 * Parse the options after EXPIRE's time (argv[3] on) as Redis 7.0's
 * parseExtendedExpireArgumentsOrReply: NX, XX, GT, LT in any case and
 * number, each read as a C string; an unknown word is refused at once,
 * incompatible ones after all were read. Returns 0 with *flags, or -1
 * after replying.
 */
static int
expire_options(struct client *c, int *flags)
{
	int i;

	*flags = 0;
	for (i = 3; i < c->argc; i++) {
		const struct resp_arg *a = &c->argv[i];

		if (arg_is_word(a, "nx"))
			*flags |= EXPIRE_NX;
		else if (arg_is_word(a, "xx"))
			*flags |= EXPIRE_XX;
		else if (arg_is_word(a, "gt"))
			*flags |= EXPIRE_GT;
		else if (arg_is_word(a, "lt"))
			*flags |= EXPIRE_LT;
		else {
			resp_add_errorf(&c->reply, "Unsupported option %.*s",
			    arg_cstrlen(a), a->ptr);
			return -1;
		}
	}
	if ((*flags & EXPIRE_NX) && (*flags & ~EXPIRE_NX)) {
		resp_add_errorf(&c->reply, "NX and XX, GT or LT options at the "
		    "same time are not compatible");
		return -1;
	}
	if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
		resp_add_errorf(&c->reply, "GT and LT options at the same time "
		    "are not compatible");
		return -1;
	}
	return 0;
}

/* Whether the options let a key whose expire time is cur (-1: none, an
 * infinite TTL for GT and LT, as in Redis 7.0) take when. */
static int
expire_allowed(int flags, long long cur, long long when)
{
	if ((flags & EXPIRE_NX) && cur != -1)
		return 0;
	if ((flags & EXPIRE_XX) && cur == -1)
		return 0;
	if ((flags & EXPIRE_GT) && (cur == -1 || when <= cur))
		return 0;
	if ((flags & EXPIRE_LT) && cur != -1 && when >= cur)
		return 0;
	return 1;
}

/* Make the running command propagate as "name key [ms]". */
static void
expire_rewrite(struct client *c, const char *name, const long long *ms)
{
	char num[24];
	const char *w[3] = { name, c->argv[1].ptr, num };
	size_t l[3] = { strlen(name), c->argv[1].len, 0 };

	if (ms == NULL) {
		command_rewrite(c, 2, w, l);
		return;
	}
	l[2] = resp_ll_to_str(num, *ms);
	command_rewrite(c, 3, w, l);
}

/*
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT], as
 * Redis 7.0's expireGenericCommand: options first, then the time, in
 * seconds (seconds != 0) or ms, after base (now, or 0 for the *AT forms);
 * a time that overflows in ms is refused. Replies 0 if the key is absent
 * or the options forbid the change, else 1. A time not after now deletes
 * the key (propagated as DEL); any other propagates as PEXPIREAT key
 * <absolute ms>, so a replay gives the same keyspace whenever it runs.
 */
static void
expire_generic(struct client *c, long long base, int seconds)
{
	struct db *db = &c->srv->db;
	long long when;
	int flags;
	char name[64];
	dbkey *k;

	if (expire_options(c, &flags) == -1 ||
	    arg_ll(c, &c->argv[2], &when) == -1)
		return;
	if (seconds && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000))
		goto overflow;
	if (seconds)
		when *= 1000;
	if (when > LLONG_MAX - base)
		goto overflow;
	when += base;
	k = db_find(db, c->argv[1].ptr, c->argv[1].len, DB_NOSTATS);
	if (k == NULL || !expire_allowed(flags, db_key_expire(k), when)) {
		resp_add_int(&c->reply, 0);
		return;
	}
	if (db_past(db, when)) {
		db_delete(db, c->argv[1].ptr, c->argv[1].len);
		expire_rewrite(c, "DEL", NULL);
	} else {
		db_set_expire(db, k, when);
		expire_rewrite(c, "PEXPIREAT", &when);
	}
	resp_add_int(&c->reply, 1);
	return;
overflow:
	resp_add_errorf(&c->reply, "invalid expire time in '%s' command",
	    command_fullname(c->lastcmd, name));
}

/* EXPIRE key seconds [NX | XX | GT | LT] */
static void
cmd_expire(struct client *c)
{
	expire_generic(c, c->srv->db.now, 1);
}

/* PEXPIRE key milliseconds [NX | XX | GT | LT] */
static void
cmd_pexpire(struct client *c)
{
	expire_generic(c, c->srv->db.now, 0);
}

/* EXPIREAT key unix-time-seconds [NX | XX | GT | LT] */
static void
cmd_expireat(struct client *c)
{
	expire_generic(c, 0, 1);
}

/* PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] */
static void
cmd_pexpireat(struct client *c)
{
	expire_generic(c, 0, 0);
}

/*
 * TTL, PTTL, EXPIRETIME, PEXPIRETIME key: -2 if the key does not exist,
 * -1 if it has no expire time, else the time left (never below 0) or
 * the absolute time (absolute != 0), in ms or in seconds rounded to the
 * nearest as Redis rounds ((ms + 500) / 1000).
 */
static void
ttl_generic(struct client *c, int ms, int absolute)
{
	dbkey *k = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    DB_NOTOUCH);
	long long when;

	if (k == NULL) {
		resp_add_int(&c->reply, -2);
		return;
	}
	when = db_key_expire(k);
	if (when < 0) {
		resp_add_int(&c->reply, -1);
		return;
	}
	if (!absolute)
		when = when > c->srv->db.now ? when - c->srv->db.now : 0;
	/* Unsigned, so that a time near LLONG_MAX rounds as Redis's build
	 * does (PEXPIREAT k 9223372036854775807: EXPIRETIME is
	 * 9223372036854776). */
	resp_add_int(&c->reply, ms ? when :
	    (long long)(((unsigned long long)when + 500) / 1000));
}

/* TTL key */
static void
cmd_ttl(struct client *c)
{
	ttl_generic(c, 0, 0);
}

/* PTTL key */
static void
cmd_pttl(struct client *c)
{
	ttl_generic(c, 1, 0);
}

/* EXPIRETIME key */
static void
cmd_expiretime(struct client *c)
{
	ttl_generic(c, 0, 1);
}

/* PEXPIRETIME key */
static void
cmd_pexpiretime(struct client *c)
{
	ttl_generic(c, 1, 1);
}

/* PERSIST key: 1 if the key had an expire time and lost it, else 0. */
static void
cmd_persist(struct client *c)
{
	dbkey *k = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
	    DB_NOSTATS);

	if (k == NULL || db_key_expire(k) < 0) {
		resp_add_int(&c->reply, 0);
		return;
	}
	db_persist(&c->srv->db, k);
	resp_add_int(&c->reply, 1);
}

/* ---- RENAME ---- */

/*
 * RENAME / RENAMENX key newkey (nx != 0): the value moves with its
 * expire time and access clock; "ERR no such key" if key is absent.
 * RENAME replaces newkey's value (and expire time); RENAMENX replies 0
 * if newkey exists, or if it is key itself. The source's lookup touches
 * its access clock, as Redis's lookupKeyWrite does.
 */
static void
rename_generic(struct client *c, int nx)
{
	struct db *db = &c->srv->db;
	int r;

	if (db_find(db, c->argv[1].ptr, c->argv[1].len, DB_NOSTATS) == NULL) {
		resp_add_error(&c->reply, "no such key", 11);
		return;
	}
	r = db_rename(db, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
	    c->argv[2].len, nx);
	if (nx)
		resp_add_int(&c->reply, r);
	else
		resp_add_ok(&c->reply);
}

/* RENAME key newkey */
static void
cmd_rename(struct client *c)
{
	rename_generic(c, 0);
}

/* RENAMENX key newkey */
static void
cmd_renamenx(struct client *c)
{
	rename_generic(c, 1);
}

/* ---- OBJECT ---- */

#define OBJECT_SHARED_INTS 10000       /* Redis shares the integers
                                        * 0-9999 (OBJ_SHARED_INTEGERS) */
#define OBJECT_SHARED_REFCOUNT INT_MAX /* and reports this count for
                                        * them (OBJ_SHARED_REFCOUNT) */

/* Look up OBJECT's key (argv[2]) without touching its access clock, as
 * Redis's objectCommandLookup; NULL after replying nil if absent. */
static dbkey *
object_lookup(struct client *c)
{
	dbkey *k = db_find(&c->srv->db, c->argv[2].ptr, c->argv[2].len,
	    DB_NOTOUCH);

	if (k == NULL)
		resp_add_null(&c->reply);
	return k;
}

/* OBJECT ENCODING key */
static void
cmd_object_encoding(struct client *c)
{
	dbkey *k = object_lookup(c);

	/* Redis 7.0 calls every list "quicklist", inline ones too. */
	if (k != NULL)
		resp_add_bulk_str(&c->reply, obj_encoding_name(
		    db_key_type(k) == OBJ_LIST ? OBJ_ENC_QUICKLIST :
		    db_key_encoding(k)));
}

/* OBJECT FREQ key: the decayed LFU counter; refused unless an LFU
 * policy is selected (the key is looked up first, as in Redis). */
static void
cmd_object_freq(struct client *c)
{
	dbkey *k = object_lookup(c);

	if (k == NULL)
		return;
	if (!c->srv->db.lfu) {
		resp_add_errorf(&c->reply, "An LFU maxmemory policy is not "
		    "selected, access frequency not tracked. Please note that "
		    "when switching between policies at runtime LRU and LFU "
		    "data will take some time to adjust.");
		return;
	}
	resp_add_int(&c->reply, (long long)obj_lfu_decayed(db_key_clock(k),
	    c->srv->db.now, c->srv->db.lfu_decay_time));
}

/* OBJECT IDLETIME key: seconds since the key was last used, from the
 * LRU clock; refused under an LFU policy. */
static void
cmd_object_idletime(struct client *c)
{
	dbkey *k = object_lookup(c);

	if (k == NULL)
		return;
	if (c->srv->db.lfu) {
		resp_add_errorf(&c->reply, "An LFU maxmemory policy is "
		    "selected, idle time not tracked. Please note that when "
		    "switching between policies at runtime LRU and LFU data "
		    "will take some time to adjust.");
		return;
	}
	resp_add_int(&c->reply, obj_lru_idle_ms(db_key_clock(k),
	    c->srv->db.now) / 1000);
}

/*
 * OBJECT REFCOUNT key. Our values are never shared, so the truth is 1;
 * but Redis stores the integers 0-9999 as shared objects (unless
 * maxmemory is set with an LRU or LFU policy) and reports INT_MAX for
 * them, and clients compare. We answer as Redis would for a value stored
 * under the settings in force now: INT_MAX for an "int" string of
 * 0-9999 when sharing applies, else 1. (Redis decides when the value is
 * stored; if the settings changed since, the two may differ.)
 */
static void
cmd_object_refcount(struct client *c)
{
	const struct server_config *cfg = &c->srv->cfg;
	int p = cfg->maxmemory_policy;
	int lru_lfu = p == MM_VOLATILE_LRU || p == MM_VOLATILE_LFU ||
	    p == MM_ALLKEYS_LRU || p == MM_ALLKEYS_LFU;
	dbkey *k = object_lookup(c);
	long long v, count = 1;
	const char *val;
	size_t vlen;

	if (k == NULL)
		return;
	if (db_key_type(k) == OBJ_STRING &&
	    db_key_encoding(k) == OBJ_ENC_INT &&
	    (cfg->maxmemory == 0 || !lru_lfu)) {
		val = db_key_value(k, &vlen);
		if (resp_str_to_ll(val, vlen, &v) && v >= 0 &&
		    v < OBJECT_SHARED_INTS)
			count = OBJECT_SHARED_REFCOUNT;
	}
	resp_add_int(&c->reply, count);
}

/* OBJECT HELP */
static void
cmd_object_help(struct client *c)
{
	static const char *const lines[] = {
		"ENCODING <key>",
		"    Return the kind of internal representation used in order "
		"to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The "
		"returned integer is",
		"    proportional to the logarithm of the recent access "
		"frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the "
		"approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated "
		"with the specified",
		"    <key>.",
		NULL,
	};

	reply_help(c, "OBJECT", lines);
}

/* ---- MEMORY ---- */

/*
 * MEMORY USAGE key [SAMPLES count]: the bytes the key and its value take
 * here (db_key_memory: our entry, not Redis's objects), nil if absent.
 * SAMPLES is checked as Redis checks it (an integer, not negative) and
 * otherwise unused: we count values exactly. The lookup neither counts
 * nor touches, as in Redis; unlike Redis 7.0, which measures a key whose
 * time has passed until something reclaims it, it answers nil for one.
 */
static void
cmd_memory_usage(struct client *c)
{
	long long samples;
	dbkey *k;
	int i;

	for (i = 3; i < c->argc; i += 2) {
		if (!arg_is_word(&c->argv[i], "samples") || i + 1 >= c->argc) {
			reply_syntax_error(c);
			return;
		}
		if (arg_ll(c, &c->argv[i + 1], &samples) == -1)
			return;
		if (samples < 0) {
			reply_syntax_error(c);
			return;
		}
	}
	k = db_find(&c->srv->db, c->argv[2].ptr, c->argv[2].len,
	    DB_NOSTATS | DB_NOTOUCH);
	if (k == NULL)
		resp_add_null(&c->reply);
	else
		resp_add_int(&c->reply, (long long)db_key_memory(k));
}

/* MEMORY HELP: Redis's lines for the subcommands we have. */
static void
cmd_memory_help(struct client *c)
{
	static const char *const lines[] = {
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. "
		"Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample "
		"all).",
		NULL,
	};

	reply_help(c, "MEMORY", lines);
}

/* ---- Flushing ---- */

/* FLUSHDB / FLUSHALL [ASYNC | SYNC]: both run synchronously here. */
static void
flush_generic(struct client *c)
{
	/* The option is read as a C string, as Redis reads it. */
	if (c->argc > 2 || (c->argc == 2 &&
	    !arg_is_word(&c->argv[1], "sync") &&
	    !arg_is_word(&c->argv[1], "async"))) {
		reply_syntax_error(c);
		return;
	}
	db_flush(&c->srv->db);
	evict_reset(&c->srv->evictor);
	/* Propagated even when there was nothing to flush, as Redis does. */
	c->srv->db.dirty++;
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
