/* SPDX-License-Identifier: MIT */
/*
 * The keyspace: string keys to string values over dict, with the counters
 * INFO reports. Every write goes through here, the one point where
 * expiry, eviction and an append-only log will hook in later.
 */
#ifndef TMC_DB_H
#define TMC_DB_H

#include <stddef.h>

#include "dict.h"

struct db {
	dict *keys;                        /* the key -> value table */
	unsigned long long hits;           /* keyspace_hits */
	unsigned long long misses;         /* keyspace_misses */
};

void db_init(struct db *db);
void db_free(struct db *db);

/* The value of key (pointer into the entry, valid until the next write),
 * or NULL; counts a hit or a miss. */
const char *db_get(struct db *db, const char *key, size_t klen,
    size_t *vlen);

/* Set key to value (1 new, 0 replaced). */
int db_set(struct db *db, const char *key, size_t klen, const char *val,
    size_t vlen);

/* Remove key and return its entry for the caller to read and then free
 * with dict_entry_free(); NULL if absent. Counts a hit or a miss. */
dict_entry *db_take(struct db *db, const char *key, size_t klen);

int db_delete(struct db *db, const char *key, size_t klen); /* 1 or 0 */
int db_exists(struct db *db, const char *key, size_t klen); /* 1 or 0 */
size_t db_size(const struct db *db);
void db_flush(struct db *db);

/* Call fn(key, klen, arg) for every key matching the glob pattern, with a
 * fast path for "prefix*". */
void db_keys(struct db *db, const char *pat, size_t plen,
    void (*fn)(const char *key, size_t klen, void *arg), void *arg);

/* Idle-time rehash work for about ms milliseconds. */
void db_cron(struct db *db, int ms);

#endif
