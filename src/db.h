/* SPDX-License-Identifier: MIT */
/*
 * The keyspace: keys to typed values (object.h), with expiry. Keys
 * without a TTL live in one table and keys with one in another, whose
 * entries carry the absolute expire time (wall-clock ms): a key without a
 * TTL pays nothing for expiry, and the active cycle and the volatile-*
 * eviction policies sample only keys that can expire. A key is in
 * exactly one of the two.
 *
 * Every lookup expires a stale key first (lazy expiry), using db->now,
 * the instant of the running command, which the command layer sets once
 * per command. Handlers reach values only through this interface, never
 * through the table.
 */
#ifndef TMC_DB_H
#define TMC_DB_H

#include <stddef.h>
#include <stdint.h>

#include "dict.h"
#include "object.h"

/* A key and its value as found in the keyspace. Valid until the
 * keyspace next changes; a function that changes it returns the key's
 * new handle where the key lives on. */
typedef struct dict_entry dbkey;

#define DB_NOSTATS 1             /* lookup: count no hit or miss */
#define DB_NOTOUCH 2             /* lookup: leave the access clock alone */

#define DB_EXPIRE_NONE (-1LL)    /* db_set: no expire time */
#define DB_EXPIRE_KEEP (-2LL)    /* db_set: keep the old key's, if any */

/* Why db_remove() takes a key away (the on_remove hook is told). */
enum db_removal {
	DB_REMOVED_EXPIRED,          /* its time came (expired_keys) */
	DB_REMOVED_EVICTED,          /* maxmemory (evicted_keys) */
};

/* Told of every key removed by expiry or eviction (not by commands),
 * before it goes, so the removal can be propagated as a DEL. */
typedef void db_remove_hook(void *arg, const char *key, size_t klen,
    enum db_removal why);

/* Told of a key: changed in any way (WATCH), or now holding a list that
 * it did not hold before (clients waiting on it can be served). key NULL:
 * every key (FLUSHALL). */
typedef void db_key_hook(void *arg, const char *key, size_t klen);

struct db {
	dict *keys;                        /* keys without an expire time */
	dict *expires;                     /* keys with one */
	long long now;                     /* wall-clock ms: the running
	                                    * command's instant */
	int loading;                       /* the AOF loads: nothing expires
	                                    * (as in Redis; expired keys go
	                                    * once it is loaded) */
	int lfu;                           /* the access clock counts uses
	                                    * (LFU policies), not time */
	int lfu_log_factor;                /* lfu-log-factor (Redis: 10) */
	int lfu_decay_time;                /* lfu-decay-time, minutes (1) */
	uint64_t rng;                      /* sampling and LFU draws */
	db_remove_hook *on_remove;         /* NULL: nobody listens */
	void *on_remove_arg;
	db_key_hook *on_change;            /* every change (NULL: none) */
	db_key_hook *on_list;              /* a list appeared at a key */
	void *hook_arg;                    /* for on_change and on_list */

	/* Counters for INFO (stats, persistence). */
	unsigned long long dirty;          /* changes by commands */
	unsigned long long hits;           /* keyspace_hits */
	unsigned long long misses;         /* keyspace_misses */
	unsigned long long expired;        /* expired_keys */
	unsigned long long evicted;        /* evicted_keys */
};

void db_init(struct db *db);

/* While a forked child shares the memory (on): the tables neither grow
 * (unless very full) nor shrink, so no rehash copies their pages. */
void db_avoid_resize(struct db *db, int on);

/* 1 if a key whose expire time is when has expired by db->now (always
 * 0 while loading): EXPIRE and GETEX with such a time delete it. */
static inline int
db_past(const struct db *db, long long when)
{
	return !db->loading && when <= db->now;
}
void db_free(struct db *db);

/*
 * Find key, expiring it first if its time has passed. Counts a hit or a
 * miss and updates the access clock unless flags (DB_NOSTATS,
 * DB_NOTOUCH) say not to. NULL if the key does not exist.
 */
dbkey *db_find(struct db *db, const char *key, size_t klen, int flags);

int db_key_type(const dbkey *k);               /* OBJ_STRING ... */
int db_key_encoding(const dbkey *k);           /* OBJ_ENC_RAW ... */
void db_key_set_encoding(dbkey *k, int enc);
const char *db_key_name(const dbkey *k, size_t *len);
/* The value's bytes: a string, or a list's storage (writable in place;
 * use db_resize to change the length). */
char *db_key_value(const dbkey *k, size_t *len);
long long db_key_expire(const dbkey *k);       /* ms, or -1: none */
unsigned db_key_clock(const dbkey *k);         /* the access clock */
/* Bytes the key and its value take (MEMORY USAGE). */
size_t db_key_memory(const dbkey *k);

/*
 * Store key with a value of type and encoding enc: vlen bytes copied
 * from val, or with val NULL left for the caller to fill. Any old value,
 * of any type, is replaced. expire is an absolute time in ms,
 * DB_EXPIRE_NONE or DB_EXPIRE_KEEP. Returns the key.
 */
dbkey *db_set(struct db *db, const char *key, size_t klen, int type,
    int enc, const void *val, size_t vlen, long long expire);

/* Give k a value of vlen bytes (see dict_entry_set_val: val NULL keeps
 * the old bytes' prefix); type, encoding and expire time stay. */
dbkey *db_resize(struct db *db, dbkey *k, const void *val, size_t vlen);

/* Set or change k's expire time (ms). Returns the key. */
dbkey *db_set_expire(struct db *db, dbkey *k, long long when);
/* Remove k's expire time if it has one. Returns the key. */
dbkey *db_persist(struct db *db, dbkey *k);

/* Delete key (a stale one counts as absent): 1 if it existed, else 0. */
int db_delete(struct db *db, const char *key, size_t klen);

/* Take key out of the keyspace for the caller, who reads it and frees it
 * with db_key_free() (GETDEL). NULL if absent, or (*wrongtype set, the
 * key left alone) if its value is not of type. Counts a hit or a miss. */
dbkey *db_take(struct db *db, const char *key, size_t klen, int type,
    int *wrongtype);
void db_key_free(dbkey *k);

/*
 * Move src's value, with its expire time, to dst, replacing any value
 * dst had (unless nx). Returns 1 if moved (or src is dst), 0 if nx and
 * dst exists, -1 if src does not exist.
 */
int db_rename(struct db *db, const char *src, size_t slen, const char *dst,
    size_t dlen, int nx);

/*
 * A command changed key's value in place (a push onto a list the key
 * holds, say) without a db_* call that does it: count changes (the
 * dirty counter decides propagation) and tell on_change. The db_*
 * functions that write call it themselves.
 */
void db_changed(struct db *db, const char *key, size_t klen,
    unsigned long long changes);

/* Remove k because it expired or was evicted: counts it, tells the
 * on_remove hook. k must have come from this keyspace. */
void db_remove(struct db *db, dbkey *k, enum db_removal why);

/* Remove k if its expire time has passed: 1 if it was removed. */
int db_expire_if_due(struct db *db, dbkey *k);

/* Whether key is there, without expiring it or counting anything:
 * DB_ABSENT, DB_LIVE, or DB_STALE (its time has passed, it is not yet
 * reclaimed). */
#define DB_ABSENT 0
#define DB_LIVE 1
#define DB_STALE 2
int db_presence(struct db *db, const char *key, size_t klen);

size_t db_size(const struct db *db);               /* all keys */
size_t db_expires_size(const struct db *db);       /* keys with a TTL */
void db_flush(struct db *db);

/* Call fn(key, klen, arg) for every live key matching the glob pattern,
 * with a fast path for "prefix*". fn must not change the keyspace. */
void db_keys(struct db *db, const char *pat, size_t plen,
    void (*fn)(const char *key, size_t klen, void *arg), void *arg);

/* One SCAN step: fn for the keys at the cursor (live ones only), returns
 * the next cursor, 0 at the end; the stale keys met are reclaimed before
 * it returns. fn must not change the keyspace. */
size_t db_scan(struct db *db, size_t cursor,
    void (*fn)(const dbkey *k, void *arg), void *arg);

/*
 * Several SCAN steps as one call: db_scan_step as db_scan, but the stale
 * keys met are kept in st (zeroed by the caller) and reclaimed by
 * db_scan_end, which must follow. Nothing may change the keyspace in
 * between, so the tables keep their size and no key is met twice.
 */
struct db_scan_state {
	dbkey **stale;
	size_t nstale, cap;
};
size_t db_scan_step(struct db *db, struct db_scan_state *st, size_t cursor,
    void (*fn)(const dbkey *k, void *arg), void *arg);
void db_scan_end(struct db *db, struct db_scan_state *st);

/* A random live key (RANDOMKEY), expiring stale ones it meets; NULL if
 * the keyspace is empty. */
dbkey *db_random(struct db *db);

/* Bytes held by the keyspace (tables, entries). */
size_t db_memory(const struct db *db);

/* Idle-time rehash work for about ms milliseconds. */
void db_cron(struct db *db, int ms);

#endif
