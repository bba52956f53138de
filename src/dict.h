/* SPDX-License-Identifier: MIT */
/*
 * The keyspace hash table: binary-safe keys, each entry one allocation
 * holding its key and value, power-of-two tables with chaining, seeded
 * hashing, and incremental rehash (grow and shrink) spread over later
 * operations so that no single command pays for a whole resize.
 */
#ifndef TMC_DICT_H
#define TMC_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dict dict;
typedef struct dict_entry dict_entry;   /* key + value, one allocation */

#define DICT_REHASH_STEP 1        /* buckets moved per find/set/delete */
#define DICT_EMPTY_VISITS 10      /* empty buckets visited per moved one */

/* Seed the hash function for every dict made afterwards (16 bytes). The
 * server seeds it from the OS's random source at startup. */
void dict_set_hash_seed(const uint8_t seed[16]);
uint64_t dict_hash(const void *key, size_t len);

dict *dict_create(void);
void dict_free(dict *d);
void dict_clear(dict *d);                 /* remove every entry */
size_t dict_size(const dict *d);          /* number of entries */
size_t dict_buckets(const dict *d);       /* slots in both tables */
int dict_is_rehashing(const dict *d);

/* The entry for key, or NULL. */
dict_entry *dict_find(dict *d, const void *key, size_t klen);

/* Insert key or replace its value. Returns 1 if the key was new, 0 if an
 * existing value was replaced. */
int dict_set(dict *d, const void *key, size_t klen, const void *val,
    size_t vlen);

/* Unlink key's entry and hand it to the caller, who frees it with
 * dict_entry_free() (GETDEL replies from it first). NULL if absent. */
dict_entry *dict_unlink(dict *d, const void *key, size_t klen);

/* Delete key: 1 if it existed, else 0. */
int dict_delete(dict *d, const void *key, size_t klen);

void dict_entry_free(dict_entry *e);
const char *dict_entry_key(const dict_entry *e, size_t *len);
const char *dict_entry_val(const dict_entry *e, size_t *len);
size_t dict_entry_size(const dict_entry *e);  /* bytes allocated */

/* Call fn for every entry until it returns non-zero. fn must not change
 * the dict; no rehash step runs meanwhile. */
void dict_foreach(dict *d, int (*fn)(const dict_entry *e, void *arg),
    void *arg);

/* Do up to n bucket moves of a running rehash. Returns 1 if rehashing
 * goes on, 0 if it is complete (or none was running). */
int dict_rehash(dict *d, int n);
/* Rehash for about ms milliseconds (idle time); same return. */
int dict_rehash_ms(dict *d, int ms);

/* Bytes held by the tables and entries. */
size_t dict_mem(const dict *d);

#endif
