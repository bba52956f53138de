/* SPDX-License-Identifier: MIT */
/*
 * The keyspace (see db.h): two tables, lazy expiry on every lookup, the
 * access clock, and the counters INFO reports.
 */
#include "config.h"

#include <string.h>

#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include "db.h"
#include "dict.h"
#include "glob.h"
#include "list.h"
#include "mem.h"
#include "object.h"

#define DB_BUCKET_BYTES 8          /* a table slot, for MEMORY USAGE */

/* What db_keys hands its dict_foreach callback. */
struct db_keys_ctx {
	const char	*pat;           /* the pattern */
	size_t		 plen;          /* its length */
	size_t		 prefix;        /* literal prefix length (fast path) */
	int		 fast;          /* 1: "prefix*", match with memcmp */
	long long	 now;           /* keys expiring before are skipped */
	void		(*fn)(const char *, size_t, void *);
	void		*arg;           /* fn's argument */
};

/* The table's free callback: release what the value owns. */
static void
db_free_value(dict_entry *e)
{
	uint32_t meta = dict_entry_meta(e);
	size_t vlen;
	char *v = dict_entry_val(e, &vlen);

	obj_free_value(obj_meta_type(meta), obj_meta_encoding(meta), v, vlen);
}

void
db_init(struct db *db)
{
	memset(db, 0, sizeof(*db));
	db->keys = dict_create(db_free_value);
	db->expires = dict_create(db_free_value);
	db->lfu_log_factor = 10;
	db->lfu_decay_time = 1;
	db->rng = 0x9e3779b97f4a7c15ULL;
}

void
db_free(struct db *db)
{
	dict_free(db->keys);
	dict_free(db->expires);
	db->keys = db->expires = NULL;
}

void
db_avoid_resize(struct db *db, int on)
{
	dict_avoid_resize(db->keys, on);
	dict_avoid_resize(db->expires, on);
}

/* The table that holds k (by whether it has an expire time). */
static dict *
db_table_of(const struct db *db, const dbkey *k)
{
	return (dict_entry_meta(k) & DICT_META_EXPIRE) ? db->expires : db->keys;
}

/* 1 if an entry with expire time when is stale at db->now (Redis: a key
 * lives through its expire millisecond and is gone after it). */
static inline int
db_stale(const struct db *db, long long when)
{
	return when >= 0 && !db->loading && db->now > when;
}

/* A new key's access clock. */
static unsigned
db_new_clock(const struct db *db)
{
	return db->lfu ? obj_lfu_new(db->now) : obj_lru_clock(db->now);
}

/* Update k's access clock for a use now. */
static void
db_touch(struct db *db, dbkey *k)
{
	uint32_t meta = dict_entry_meta(k);
	unsigned c;

	if (db->lfu)
		c = obj_lfu_touch(obj_meta_clock(meta), db->now,
		    db->lfu_log_factor, db->lfu_decay_time, &db->rng);
	else
		c = obj_lru_clock(db->now);
	dict_entry_set_meta(k, obj_meta_with_clock(meta, c));
}

void
db_changed(struct db *db, const char *key, size_t klen,
    unsigned long long changes)
{
	db->dirty += changes;
	if (db->on_change != NULL)
		db->on_change(db->hook_arg, key, klen);
}

/* A change by this module to the key of k. */
static void
db_changed_k(struct db *db, const dbkey *k)
{
	size_t klen;
	const char *key = dict_entry_key(k, &klen);

	db_changed(db, key, klen, 1);
}

/* A list now at key (it held none before): tell on_list. */
static void
db_list_appeared(struct db *db, const char *key, size_t klen)
{
	if (db->on_list != NULL)
		db->on_list(db->hook_arg, key, klen);
}

void
db_remove(struct db *db, dbkey *k, enum db_removal why)
{
	dict *d = db_table_of(db, k);
	size_t klen;
	const char *key = dict_entry_key(k, &klen);
	dict_entry *e;

	if (db->on_remove != NULL)
		db->on_remove(db->on_remove_arg, key, klen, why);
	if (db->on_change != NULL)
		db->on_change(db->hook_arg, key, klen);
	if (why == DB_REMOVED_EXPIRED)
		db->expired++;
	else
		db->evicted++;
	e = dict_unlink(d, key, klen);
	if (e != NULL) {
		db_free_value(e);
		dict_entry_free(e);
	}
}

int
db_expire_if_due(struct db *db, dbkey *k)
{
	if (!db_stale(db, dict_entry_expire(k)))
		return 0;
	db_remove(db, k, DB_REMOVED_EXPIRED);
	return 1;
}

/* Find key (whose hash goes to *hp) without counting or touching;
 * stale keys are expired. */
static dbkey *
db_lookup_h(struct db *db, const char *key, size_t klen, uint64_t *hp)
{
	dict_entry *e = NULL;
	uint64_t h;

	*hp = h = dict_key_hash(db->keys, key, klen);
	if (dict_size(db->keys) != 0)
		e = dict_find_h(db->keys, key, klen, h);
	if (e == NULL && dict_size(db->expires) != 0) {
		e = dict_find_h(db->expires, key, klen, h);
		if (e != NULL && db_expire_if_due(db, e))
			e = NULL;
	}
	return e;
}

/* db_lookup_h without the hash. */
static dbkey *
db_lookup(struct db *db, const char *key, size_t klen)
{
	uint64_t h;

	if (dict_size(db->keys) == 0 && dict_size(db->expires) == 0)
		return NULL;
	return db_lookup_h(db, key, klen, &h);
}

dbkey *
db_find(struct db *db, const char *key, size_t klen, int flags)
{
	dbkey *k = db_lookup(db, key, klen);

	if (!(flags & DB_NOSTATS)) {
		if (k == NULL)
			db->misses++;
		else
			db->hits++;
	}
	if (k != NULL && !(flags & DB_NOTOUCH))
		db_touch(db, k);
	return k;
}

int
db_key_type(const dbkey *k)
{
	return obj_meta_type(dict_entry_meta(k));
}

int
db_key_encoding(const dbkey *k)
{
	return obj_meta_encoding(dict_entry_meta(k));
}

void
db_key_set_encoding(dbkey *k, int enc)
{
	dict_entry_set_meta(k, obj_meta_with_encoding(dict_entry_meta(k), enc));
}

const char *
db_key_name(const dbkey *k, size_t *len)
{
	return dict_entry_key(k, len);
}

char *
db_key_value(const dbkey *k, size_t *len)
{
	return dict_entry_val(k, len);
}

long long
db_key_expire(const dbkey *k)
{
	return dict_entry_expire(k);
}

unsigned
db_key_clock(const dbkey *k)
{
	return obj_meta_clock(dict_entry_meta(k));
}

size_t
db_key_memory(const dbkey *k)
{
	uint32_t meta = dict_entry_meta(k);
	size_t n = dict_entry_size(k) + DB_BUCKET_BYTES;
	struct list *l;

	/* A heap list's value is its pointer: count what it holds. */
	if (obj_meta_type(meta) == OBJ_LIST &&
	    obj_meta_encoding(meta) == OBJ_ENC_QUICKLIST) {
		memcpy(&l, dict_entry_val(k, NULL), sizeof(l));
		n += list_memory(l);
	}
	return n;
}

/* Unlink k from its table and free the entry, with its value's
 * belongings (free_value) or without (they moved elsewhere). */
static void
db_drop(struct db *db, dbkey *k, int free_value)
{
	size_t klen;
	const char *key = dict_entry_key(k, &klen);
	dict_entry *e = dict_unlink(db_table_of(db, k), key, klen);

	if (e == NULL)
		return;
	if (free_value)
		db_free_value(e);
	dict_entry_free(e);
}

dbkey *
db_set(struct db *db, const char *key, size_t klen, int type, int enc,
    const void *val, size_t vlen, long long expire)
{
	uint64_t h;
	dbkey *old = db_lookup_h(db, key, klen, &h), *k;
	uint32_t meta;
	unsigned clock = db_new_clock(db);
	int was_list = old != NULL && db_key_type(old) == OBJ_LIST;

	if (expire == DB_EXPIRE_KEEP)
		expire = old != NULL ? dict_entry_expire(old) : DB_EXPIRE_NONE;
	if (old != NULL) {
		/* LFU keeps the key's use count across overwrites (Redis). */
		if (db->lfu)
			clock = db_key_clock(old);
		if ((dict_entry_expire(old) >= 0) == (expire >= 0)) {
			/* Same table: replace the value in place. */
			db_free_value(old);
			k = dict_entry_set_val_h(db_table_of(db, old), old, h,
			    val, vlen);
			dict_entry_set_meta(k, obj_meta(type, enc, clock));
			if (expire >= 0)
				dict_entry_set_expire(k, expire);
			goto done;
		}
		db_drop(db, old, 1);
	}
	meta = obj_meta(type, enc, clock) | (expire >= 0 ? DICT_META_EXPIRE : 0);
	k = dict_add(expire >= 0 ? db->expires : db->keys, h, key, klen,
	    meta, expire, val, vlen);
done:
	db_changed(db, key, klen, 1);
	if (type == OBJ_LIST && !was_list)
		db_list_appeared(db, key, klen);
	return k;
}

dbkey *
db_resize(struct db *db, dbkey *k, const void *val, size_t vlen)
{
	k = dict_entry_set_val(db_table_of(db, k), k, val, vlen);
	db_changed_k(db, k);
	return k;
}

/* Rebuild k in the other table, with an expire time (when >= 0) or
 * without; the value's belongings move with it. */
static dbkey *
db_move(struct db *db, dbkey *k, long long when)
{
	uint32_t meta = dict_entry_meta(k) & ~DICT_META_EXPIRE;
	size_t klen, vlen;
	const char *key = dict_entry_key(k, &klen);
	const char *val = dict_entry_val(k, &vlen);
	dbkey *n;

	if (when >= 0)
		meta |= DICT_META_EXPIRE;
	n = dict_entry_new(key, klen, meta, when, val, vlen);
	db_drop(db, k, 0);
	key = dict_entry_key(n, &klen);
	dict_link(when >= 0 ? db->expires : db->keys, n,
	    dict_key_hash(db->keys, key, klen));
	return n;
}

dbkey *
db_set_expire(struct db *db, dbkey *k, long long when)
{
	if (dict_entry_expire(k) >= 0)
		dict_entry_set_expire(k, when);
	else
		k = db_move(db, k, when);
	db_changed_k(db, k);
	return k;
}

dbkey *
db_persist(struct db *db, dbkey *k)
{
	if (dict_entry_expire(k) < 0)
		return k;
	k = db_move(db, k, DB_EXPIRE_NONE);
	db_changed_k(db, k);
	return k;
}

int
db_delete(struct db *db, const char *key, size_t klen)
{
	dbkey *k = db_lookup(db, key, klen);

	if (k == NULL)
		return 0;
	db_drop(db, k, 1);
	db_changed(db, key, klen, 1);
	return 1;
}

dbkey *
db_take(struct db *db, const char *key, size_t klen, int type,
    int *wrongtype)
{
	dbkey *k = db_lookup(db, key, klen);
	dict_entry *e;

	*wrongtype = 0;
	if (k == NULL) {
		db->misses++;
		return NULL;
	}
	db->hits++;
	if (db_key_type(k) != type) {
		*wrongtype = 1;
		return NULL;
	}
	db_changed(db, key, klen, 1);
	e = dict_unlink(db_table_of(db, k), key, klen);
	return e;
}

void
db_key_free(dbkey *k)
{
	if (k == NULL)
		return;
	db_free_value(k);
	dict_entry_free(k);
}

int
db_rename(struct db *db, const char *src, size_t slen, const char *dst,
    size_t dlen, int nx)
{
	dbkey *s = db_lookup(db, src, slen), *n;
	uint32_t meta;
	long long when;
	size_t vlen;
	const char *val;

	if (s == NULL)
		return -1;
	if (slen == dlen && memcmp(src, dst, slen) == 0)
		return nx ? 0 : 1;
	if (db_lookup(db, dst, dlen) != NULL) {
		if (nx)
			return 0;
		db_delete(db, dst, dlen);
		/* The delete may have moved s's table around, not s. */
	}
	meta = dict_entry_meta(s);
	when = dict_entry_expire(s);
	val = dict_entry_val(s, &vlen);
	n = dict_entry_new(dst, dlen, meta, when, val, vlen);
	db_drop(db, s, 0);
	dict_link(when >= 0 ? db->expires : db->keys, n,
	    dict_key_hash(db->keys, dst, dlen));
	db_changed(db, src, slen, 1);
	db_changed(db, dst, dlen, 0);
	if (obj_meta_type(meta) == OBJ_LIST)
		db_list_appeared(db, dst, dlen);
	return 1;
}

int
db_presence(struct db *db, const char *key, size_t klen)
{
	dict_entry *e;

	if (dict_size(db->keys) != 0 && dict_find(db->keys, key, klen) != NULL)
		return DB_LIVE;
	if (dict_size(db->expires) == 0 ||
	    (e = dict_find(db->expires, key, klen)) == NULL)
		return DB_ABSENT;
	return db_stale(db, dict_entry_expire(e)) ? DB_STALE : DB_LIVE;
}

size_t
db_size(const struct db *db)
{
	return dict_size(db->keys) + dict_size(db->expires);
}

size_t
db_expires_size(const struct db *db)
{
	return dict_size(db->expires);
}

/* Empty the keyspace; the hit and miss counters stay, as in Redis, where
 * only CONFIG RESETSTAT clears them. */
void
db_flush(struct db *db)
{
	db_changed(db, NULL, 0, db_size(db));
	dict_clear(db->keys);
	dict_clear(db->expires);
#ifdef HAVE_MALLOC_TRIM
	/* Every entry just went back to malloc at once, as small chunks it
	 * keeps for reuse; hand the pages back to the OS so RSS falls. */
	malloc_trim(0);
#endif
}

/* Report e's key to the caller's fn if it is live and matches. */
static int
db_keys_visit(const dict_entry *e, void *arg)
{
	struct db_keys_ctx *ctx = arg;
	size_t klen;
	const char *key = dict_entry_key(e, &klen);
	long long when = dict_entry_expire(e);

	if (when >= 0 && ctx->now > when)
		return 0;
	if (ctx->fast) {
		if (klen < ctx->prefix || (ctx->prefix != 0 &&
		    memcmp(key, ctx->pat, ctx->prefix) != 0))
			return 0;
	} else if (!glob_match(ctx->pat, ctx->plen, key, klen, 0))
		return 0;
	ctx->fn(key, klen, ctx->arg);
	return 0;
}

/*
 * Call fn for every live key matching pat. "prefix*" (and "*" alone,
 * which like Redis's KEYS * also matches the empty key) is matched with
 * memcmp; anything else goes through glob_match. Stale keys are skipped,
 * not removed (fn must not change the keyspace).
 */
void
db_keys(struct db *db, const char *pat, size_t plen,
    void (*fn)(const char *key, size_t klen, void *arg), void *arg)
{
	struct db_keys_ctx ctx;

	ctx.pat = pat;
	ctx.plen = plen;
	ctx.prefix = 0;
	ctx.fast = glob_is_prefix(pat, plen, &ctx.prefix);
	ctx.now = db->now;
	ctx.fn = fn;
	ctx.arg = arg;
	dict_foreach(db->keys, db_keys_visit, &ctx);
	dict_foreach(db->expires, db_keys_visit, &ctx);
}

/* What db_scan_step hands dict_scan's callback. */
struct db_scan_ctx {
	long long now;
	void (*fn)(const dbkey *k, void *arg);
	void *arg;
	struct db_scan_state *st;
};

static void
db_scan_visit(const dict_entry *e, void *arg)
{
	struct db_scan_ctx *ctx = arg;
	struct db_scan_state *st = ctx->st;
	long long when = dict_entry_expire(e);

	if (when >= 0 && ctx->now > when) {
		if (st->nstale == st->cap) {
			st->cap = st->cap == 0 ? 16 : st->cap * 2;
			st->stale = mem_realloc(st->stale,
			    st->cap * sizeof(*st->stale));
		}
		st->stale[st->nstale++] = (dbkey *)(uintptr_t)e;
		return;
	}
	ctx->fn(e, ctx->arg);
}

size_t
db_scan_step(struct db *db, struct db_scan_state *st, size_t cursor,
    void (*fn)(const dbkey *k, void *arg), void *arg)
{
	dict *ds[2] = { db->keys, db->expires };
	struct db_scan_ctx ctx;

	ctx.now = db->now;
	ctx.fn = fn;
	ctx.arg = arg;
	ctx.st = st;
	return dict_scan(ds, 2, cursor, db_scan_visit, &ctx);
}

/*
 * The stale keys the steps met are reclaimed only now, as Redis's SCAN
 * expires what it met after the whole call: a removal may start a shrink,
 * and a table that changes size between two steps of one call could hand
 * the same key to the reply twice.
 */
void
db_scan_end(struct db *db, struct db_scan_state *st)
{
	size_t i;

	for (i = 0; i < st->nstale; i++)
		db_expire_if_due(db, st->stale[i]);
	mem_free(st->stale);
	st->stale = NULL;
	st->nstale = st->cap = 0;
}

size_t
db_scan(struct db *db, size_t cursor, void (*fn)(const dbkey *k, void *arg),
    void *arg)
{
	struct db_scan_state st = { NULL, 0, 0 };
	size_t next;

	next = db_scan_step(db, &st, cursor, fn, arg);
	db_scan_end(db, &st);
	return next;
}

dbkey *
db_random(struct db *db)
{
	dbkey *k;
	size_t n;

	for (;;) {
		n = db_size(db);
		if (n == 0)
			return NULL;
		if ((size_t)(dict_rand(&db->rng) % n) < dict_size(db->keys))
			return dict_random(db->keys, &db->rng);
		k = dict_random(db->expires, &db->rng);
		/* Each stale key met is removed, so this ends. */
		if (!db_expire_if_due(db, k))
			return k;
	}
}

size_t
db_memory(const struct db *db)
{
	return dict_mem(db->keys) + dict_mem(db->expires);
}

/* Spend about ms milliseconds of idle time on rehashing. */
void
db_cron(struct db *db, int ms)
{
	dict_rehash_ms(db->keys, ms);
	dict_rehash_ms(db->expires, ms);
}
