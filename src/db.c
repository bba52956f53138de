/* SPDX-License-Identifier: MIT */
/*
 * The keyspace (see db.h): string keys to string values over dict, with
 * the keyspace_hits / keyspace_misses counters INFO reports.
 */
#include "config.h"

#include <string.h>

#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include "db.h"
#include "dict.h"
#include "glob.h"

/* What db_keys hands its dict_foreach callback. */
struct db_keys_ctx {
	const char	*pat;           /* the pattern */
	size_t		 plen;          /* its length */
	size_t		 prefix;        /* literal prefix length (fast path) */
	int		 fast;          /* 1: "prefix*", match with memcmp */
	void		(*fn)(const char *, size_t, void *);
	void		*arg;           /* fn's argument */
};

/* Set up an empty keyspace with zeroed counters. */
void
db_init(struct db *db)
{
	db->keys = dict_create();
	db->hits = 0;
	db->misses = 0;
}

/* Free the keyspace's table and everything in it. */
void
db_free(struct db *db)
{
	dict_free(db->keys);
	db->keys = NULL;
}

/* Return key's value (and its length), counting a hit or a miss. */
const char *
db_get(struct db *db, const char *key, size_t klen, size_t *vlen)
{
	dict_entry *e = dict_find(db->keys, key, klen);

	if (e == NULL) {
		db->misses++;
		return NULL;
	}
	db->hits++;
	return dict_entry_val(e, vlen);
}

/* Set key to val; return 1 if the key is new, 0 if replaced. */
int
db_set(struct db *db, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	return dict_set(db->keys, key, klen, val, vlen);
}

/* Unlink key's entry for the caller, counting a hit or a miss. */
dict_entry *
db_take(struct db *db, const char *key, size_t klen)
{
	dict_entry *e = dict_unlink(db->keys, key, klen);

	if (e == NULL)
		db->misses++;
	else
		db->hits++;
	return e;
}

/* Delete key; return 1 if it existed, else 0 (no counting). */
int
db_delete(struct db *db, const char *key, size_t klen)
{
	return dict_delete(db->keys, key, klen);
}

/* Return 1 if key exists, else 0 (no counting). */
int
db_exists(struct db *db, const char *key, size_t klen)
{
	return dict_find(db->keys, key, klen) != NULL;
}

/* Return the number of keys. */
size_t
db_size(const struct db *db)
{
	return dict_size(db->keys);
}

/* Empty the keyspace; the hit and miss counters stay, as in Redis, where
 * only CONFIG RESETSTAT clears them. */
void
db_flush(struct db *db)
{
	dict_clear(db->keys);
#ifdef HAVE_MALLOC_TRIM
	/* Every entry just went back to malloc at once, as small chunks it
	 * keeps for reuse; hand the pages back to the OS so RSS falls. */
	malloc_trim(0);
#endif
}

/* Report e's key to the caller's fn if it matches the pattern. */
static int
db_keys_visit(const dict_entry *e, void *arg)
{
	struct db_keys_ctx *ctx = arg;
	size_t klen;
	const char *key = dict_entry_key(e, &klen);

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
 * Call fn for every key matching pat. "prefix*" (and "*" alone, which like
 * Redis's KEYS * also matches the empty key) is matched with memcmp;
 * anything else goes through glob_match. fn must not change the keyspace.
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
	ctx.fn = fn;
	ctx.arg = arg;
	dict_foreach(db->keys, db_keys_visit, &ctx);
}

/* Spend about ms milliseconds of idle time on rehashing. */
void
db_cron(struct db *db, int ms)
{
	dict_rehash_ms(db->keys, ms);
}
