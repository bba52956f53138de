/* SPDX-License-Identifier: MIT */
/*
 * The keyspace hash table: binary-safe keys, each entry one allocation
 * holding a meta word, an optional expire time, its key and its value,
 * power-of-two tables with chaining, seeded hashing, incremental rehash
 * (grow and shrink) spread over later operations, a SCAN cursor that
 * survives resizes, and random sampling.
 */
#ifndef TMC_DICT_H
#define TMC_DICT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dict dict;
typedef struct dict_entry dict_entry;   /* meta, [expire], key, value */

#define DICT_REHASH_STEP 1        /* buckets moved per find/set/delete */
#define DICT_EMPTY_VISITS 10      /* empty buckets visited per moved one */

/* The one bit of an entry's meta word the table itself reads: the entry
 * carries an expire time. The other 31 bits are the caller's. */
#define DICT_META_EXPIRE 0x80u

/* Called on an entry the table frees (dict_clear, dict_free,
 * dict_delete), before its memory goes; NULL: nothing to do. */
typedef void dict_free_proc(dict_entry *e);

/* One table of a dict. The layout is public for the inline functions
 * below only: use the functions. */
struct dict_table {
	dict_entry	**slots;          /* bucket heads; NULL if size is 0 */
	size_t		  size;           /* 0 or a power of two */
	size_t		  used;           /* entries in this table */
};

struct dict {
	struct dict_table t[2];           /* t[1] only while rehashing */
	size_t		  rehash_idx;     /* next t[0] slot to move */
	size_t		  entry_bytes;    /* usable bytes of every entry */
	uint64_t	  k0, k1;         /* hash key, fixed at creation */
	dict_free_proc	 *on_free;        /* called on entries freed here */
	int		  avoid_resize;   /* a forked child shares the memory */
};

/* Seed the hash function for every dict made afterwards (16 bytes). The
 * server seeds it from the OS's random source at startup. */
void dict_set_hash_seed(const uint8_t seed[16]);
uint64_t dict_hash(const void *key, size_t len);

dict *dict_create(dict_free_proc *on_free);
/* While on, grow only past DICT_FORCE_RESIZE_RATIO entries a bucket and
 * never shrink (a forked child shares the pages: a rehash would copy
 * them all). */
void dict_avoid_resize(dict *d, int on);
void dict_free(dict *d);
void dict_clear(dict *d);                 /* remove every entry */
/* The number of entries. */
static inline size_t
dict_size(const dict *d)
{
	return d->t[0].used + d->t[1].used;
}

size_t dict_buckets(const dict *d);       /* slots in both tables */
int dict_is_rehashing(const dict *d);

/* The hash of key in d; dicts made after the same seeding share it, so
 * one hash serves lookups in several of them. */
uint64_t dict_key_hash(const dict *d, const void *key, size_t klen);

/* The entry for key (whose hash is h), or NULL. */
dict_entry *dict_find_h(dict *d, const void *key, size_t klen, uint64_t h);
dict_entry *dict_find(dict *d, const void *key, size_t klen);

/*
 * Make an entry that is in no dict: key, the meta word (with
 * DICT_META_EXPIRE set, the entry has room for an expire time, set to
 * expire), and vlen value bytes copied from val (val NULL: left
 * uninitialized for the caller to fill through dict_entry_val).
 */
dict_entry *dict_entry_new(const void *key, size_t klen, uint32_t meta,
    long long expire, const void *val, size_t vlen);

/* Put e into d under hash h; its key must not be in d already. */
void dict_link(dict *d, dict_entry *e, uint64_t h);
/* dict_entry_new and dict_link in one (the hot path of a new key). */
dict_entry *dict_add(dict *d, uint64_t h, const void *key, size_t klen,
    uint32_t meta, long long expire, const void *val, size_t vlen);

/* Take key's entry out of d and hand it to the caller (who frees it with
 * dict_entry_free, or links it elsewhere), or NULL if absent. */
dict_entry *dict_unlink_h(dict *d, const void *key, size_t klen,
    uint64_t h);
dict_entry *dict_unlink(dict *d, const void *key, size_t klen);

/* Delete key (the free callback runs): 1 if it existed, else 0. */
int dict_delete(dict *d, const void *key, size_t klen);

/* Insert key with meta 0 and no expire, or replace its value keeping its
 * meta word. 1 if the key was new, 0 if replaced. */
int dict_set(dict *d, const void *key, size_t klen, const void *val,
    size_t vlen);

/*
 * Give e (which is in d) a value of vlen bytes: copied from val, or with
 * val NULL the old value's first min(old, vlen) bytes kept and the rest
 * uninitialized. Key, meta and expire stay. The entry may move: use the
 * returned pointer. val may point into e itself.
 */
dict_entry *dict_entry_set_val(dict *d, dict_entry *e, const void *val,
    size_t vlen);
/* The same, given the hash h of e's key (dict_key_hash). */
dict_entry *dict_entry_set_val_h(dict *d, dict_entry *e, uint64_t h,
    const void *val, size_t vlen);

/* Free an entry that is in no dict (no free callback runs). */
void dict_entry_free(dict_entry *e);

uint32_t dict_entry_meta(const dict_entry *e);
/* Set the caller's bits of the meta word (DICT_META_EXPIRE stays). */
void dict_entry_set_meta(dict_entry *e, uint32_t meta);
/* The expire time, or -1 if the entry has none. */
long long dict_entry_expire(const dict_entry *e);
/* Change the expire time of an entry that has one. */
void dict_entry_set_expire(dict_entry *e, long long when);
const char *dict_entry_key(const dict_entry *e, size_t *len);
char *dict_entry_val(const dict_entry *e, size_t *len);
size_t dict_entry_size(const dict_entry *e);  /* bytes allocated */

/* Call fn for every entry until it returns non-zero. fn must not change
 * the dict; no rehash step runs meanwhile. */
void dict_foreach(dict *d, int (*fn)(const dict_entry *e, void *arg),
    void *arg);

/*
 * One step of a SCAN over the n dicts in ds (all made after the same
 * seeding, so a key hashes alike in each): calls fn for the entries of
 * one cursor position in every table and returns the next cursor (0 when
 * the scan is complete). Start with cursor 0. Every key present in one
 * of the dicts for the whole scan is reported at least once, even if the
 * tables grow or shrink meanwhile or the key moves between the dicts;
 * some may be reported twice. fn must not change the dicts. Any cursor
 * value is valid (its low bits pick the position): a counting cursor
 * walks the buckets in memory order, as the expiry cycle does.
 */
size_t dict_scan(dict *const *ds, int n, size_t cursor,
    void (*fn)(const dict_entry *e, void *arg), void *arg);

/* Up to count entries from a random stretch of buckets into out, visiting
 * at most count * 10 buckets; returns how many. rng is the caller's
 * xorshift state (non-zero). */
unsigned dict_sample(dict *d, dict_entry **out, unsigned count,
    uint64_t *rng);

/* A random entry (NULL if d is empty). */
dict_entry *dict_random(dict *d, uint64_t *rng);

/* The next value of an xorshift64* generator with state *s (non-zero). */
uint64_t dict_rand(uint64_t *s);

/* Do up to n bucket moves of a running rehash. Returns 1 if rehashing
 * goes on, 0 if it is complete (or none was running). */
int dict_rehash(dict *d, int n);
/* Rehash for about ms milliseconds (idle time); same return. */
int dict_rehash_ms(dict *d, int ms);

/* Bytes held by the tables and entries. */
size_t dict_mem(const dict *d);

#endif
