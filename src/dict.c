/* SPDX-License-Identifier: MIT */
/*
 * The keyspace hash table (see dict.h): chained power-of-two tables whose
 * entries are one allocation each, SipHash-1-3, and incremental rehash.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "dict.h"
#include "mem.h"

/*
 * Design. A dict has two tables; t[1] exists only while a resize is in
 * progress, and rehash_idx is then the next t[0] slot to move (DICT_IDLE
 * otherwise). Every find/set/unlink/delete moves DICT_REHASH_STEP buckets
 * first, so a resize is spread over later operations; new keys go to t[1]
 * while rehashing. A table grows (to twice its size) when an insert finds
 * it holding as many entries as it has slots, and shrinks to the smallest
 * power of two >= its entry count (at least DICT_MIN_SIZE slots) when it is
 * less than 1/8 full, checked after every removal and from idle time.
 *
 * Entries. Memory per key is what the table is judged by, so an entry is a
 * single allocation with no stored hash and no separate key or value
 * objects:
 *
 *	next | meta (4) | [expire (8)] | varint klen | key | varint vlen | value
 *
 * The meta word belongs to the caller (the keyspace keeps the value's
 * type, encoding and access clock there) except for DICT_META_EXPIRE,
 * which says the 8-byte expire time is present: a key without a TTL does
 * not pay for one. The value's length sits after the key so that
 * replacing a value only reallocates the tail: the key never moves within
 * the entry. For a key like "key:123456" with a 32-byte value that is
 * 8 + 4 + 1 + 10 + 1 + 32 = 56 bytes, one 64-byte glibc chunk; with an
 * expire time, 64 bytes, one 80-byte chunk.
 *
 * Scanning. dict_scan() walks a cursor in reverse-binary order over the
 * buckets of the largest table present (Redis's dictScan); in smaller
 * tables it reports, from the bucket the cursor falls in, only the keys
 * whose hash has the cursor's low bits. Each step thus covers one
 * position of the largest table in every table, for one bucket each,
 * which keeps SCAN's guarantee across resizes and across dicts that
 * share a hash seed.
 */

#define DICT_MIN_SIZE 4           /* smallest table, as in Redis */
#define DICT_SHRINK_RATIO 8       /* shrink when used * 8 < size */
#define DICT_IDLE SIZE_MAX        /* rehash_idx when not rehashing */
#define DICT_FORCE_RESIZE_RATIO 5 /* with resizing avoided, grow anyway
                                   * past this many entries a bucket
                                   * (Redis: dict_force_resize_ratio) */
#define DICT_MS_BATCH 100         /* buckets per dict_rehash in idle time */

struct dict_entry {
	dict_entry	*next;            /* chain within one bucket */
	uint32_t	 meta;            /* caller's bits + DICT_META_EXPIRE */
	unsigned char	 data[];          /* [expire], klen, key, vlen, value */
};

/* Bytes before data: the flexible array starts at its offset, which may
 * be less than sizeof(struct dict_entry) (padding is not allocated). */
#define DICT_HDR offsetof(struct dict_entry, data)

/* The default key until dict_set_hash_seed() runs (arbitrary constants). */
static uint64_t dict_seed_k0 = 0x8f2a1c9d3b7e4650ULL;
static uint64_t dict_seed_k1 = 0x17c3e5a9d2b08f64ULL;

/* ---- SipHash-1-3 ---- */

/* Read 8 bytes as a little-endian 64-bit word (the compiler makes this one
 * load on little-endian machines). */
static inline uint64_t
dict_load64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

#define DICT_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

/* One SipRound over the state v0..v3 (Aumasson and Bernstein, 2012). */
#define DICT_SIPROUND do {						\
	v0 += v1; v1 = DICT_ROTL(v1, 13); v1 ^= v0; v0 = DICT_ROTL(v0, 32); \
	v2 += v3; v3 = DICT_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = DICT_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = DICT_ROTL(v1, 17); v1 ^= v2; v2 = DICT_ROTL(v2, 32); \
} while (0)

/*
 * SipHash with one compression and three finalization rounds, the variant
 * Redis uses for its tables: fast on short keys and still keyed, so a
 * client cannot choose keys that all land in one bucket without knowing
 * the seed. k0 and k1 are the key's two little-endian halves.
 */
static uint64_t
dict_siphash13(uint64_t k0, uint64_t k1, const void *key, size_t len)
{
	const unsigned char *p = len != 0 ? key : (const unsigned char *)"";
	const unsigned char *end = p + (len & ~(size_t)7);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (; p != end; p += 8) {
		m = dict_load64(p);
		v3 ^= m;
		DICT_SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < (len & 7); i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	DICT_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	DICT_SIPROUND;
	DICT_SIPROUND;
	DICT_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* Set the hash key for dict_hash() and every dict made afterwards. */
void
dict_set_hash_seed(const uint8_t seed[16])
{
	dict_seed_k0 = dict_load64(seed);
	dict_seed_k1 = dict_load64(seed + 8);
}

/* Hash key under the current global seed. */
uint64_t
dict_hash(const void *key, size_t len)
{
	return dict_siphash13(dict_seed_k0, dict_seed_k1, key, len);
}

/* ---- Entries ---- */

/* Bytes a varint of v takes (7 bits a byte, low bits first). */
static inline size_t
dict_varint_len(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Write v as a varint at p; returns the bytes written. */
static inline size_t
dict_varint_put(unsigned char *p, size_t v)
{
	size_t n = 0;

	if (v < 0x80) {
		p[0] = (unsigned char)v;
		return 1;
	}
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

/* Read the varint at p into *v; returns the bytes read. */
static inline size_t
dict_varint_get(const unsigned char *p, size_t *v)
{
	size_t n = 0, shift = 0, r = 0;

	if (p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	do {
		r |= (size_t)(p[n] & 0x7f) << shift;
		shift += 7;
	} while (p[n++] & 0x80);
	*v = r;
	return n;
}

/* Offset in data of the key's varint (past the expire time, if any). */
static inline size_t
dict_entry_key_off(const dict_entry *e)
{
	return (e->meta & DICT_META_EXPIRE) ? 8 : 0;
}

/* Offset in data of the value's varint (just past the key). */
static size_t
dict_entry_val_off(const dict_entry *e)
{
	size_t off = dict_entry_key_off(e), klen;

	off += dict_varint_get(e->data + off, &klen);
	return off + klen;
}

/* Make an entry (see dict_entry_new); *usable gets the bytes it costs. */
static dict_entry *
dict_entry_make(const void *key, size_t klen, uint32_t meta,
    long long expire, const void *val, size_t vlen, size_t *usable)
{
	size_t xn = (meta & DICT_META_EXPIRE) ? 8 : 0;
	size_t kn = dict_varint_len(klen), vn = dict_varint_len(vlen);
	dict_entry *e;
	unsigned char *p;

	e = mem_alloc_usable(DICT_HDR + xn + kn + klen + vn + vlen, usable);
	e->next = NULL;
	e->meta = meta;
	p = e->data;
	if (xn != 0) {
		int64_t when = expire;

		memcpy(p, &when, 8);
		p += 8;
	}
	p += dict_varint_put(p, klen);
	if (klen != 0)
		memcpy(p, key, klen);
	p += klen;
	p += dict_varint_put(p, vlen);
	if (vlen != 0 && val != NULL)
		memcpy(p, val, vlen);
	return e;
}

dict_entry *
dict_entry_new(const void *key, size_t klen, uint32_t meta,
    long long expire, const void *val, size_t vlen)
{
	size_t usable;

	return dict_entry_make(key, klen, meta, expire, val, vlen, &usable);
}

/* 1 if e's key is key (klen bytes). */
static inline int
dict_entry_is(const dict_entry *e, const void *key, size_t klen)
{
	size_t n;
	const unsigned char *p = e->data + dict_entry_key_off(e);

	p += dict_varint_get(p, &n);
	return n == klen && (klen == 0 || memcmp(p, key, klen) == 0);
}

/* The hash of e's key under d's hash key. */
static uint64_t
dict_entry_hash(const dict *d, const dict_entry *e)
{
	size_t klen;
	const unsigned char *p = e->data + dict_entry_key_off(e);

	p += dict_varint_get(p, &klen);
	return dict_siphash13(d->k0, d->k1, p, klen);
}

/* Free an entry that is in no dict. */
void
dict_entry_free(dict_entry *e)
{
	mem_free(e);
}

/* Free an entry the dict held, through its free callback. */
static void
dict_entry_release(dict *d, dict_entry *e)
{
	if (d->on_free != NULL)
		d->on_free(e);
	mem_free(e);
}

uint32_t
dict_entry_meta(const dict_entry *e)
{
	return e->meta;
}

void
dict_entry_set_meta(dict_entry *e, uint32_t meta)
{
	e->meta = (meta & ~DICT_META_EXPIRE) | (e->meta & DICT_META_EXPIRE);
}

long long
dict_entry_expire(const dict_entry *e)
{
	int64_t when;

	if (!(e->meta & DICT_META_EXPIRE))
		return -1;
	memcpy(&when, e->data, 8);
	return when;
}

void
dict_entry_set_expire(dict_entry *e, long long when)
{
	int64_t w = when;

	if (e->meta & DICT_META_EXPIRE)
		memcpy(e->data, &w, 8);
}

/* Return e's key and store its length in *len (if len is not NULL). */
const char *
dict_entry_key(const dict_entry *e, size_t *len)
{
	const unsigned char *p = e->data + dict_entry_key_off(e);
	size_t klen, n = dict_varint_get(p, &klen);

	if (len != NULL)
		*len = klen;
	return (const char *)p + n;
}

/* Return e's value and store its length in *len (if len is not NULL). */
char *
dict_entry_val(const dict_entry *e, size_t *len)
{
	const unsigned char *p = e->data + dict_entry_val_off(e);
	size_t vlen, n = dict_varint_get(p, &vlen);

	if (len != NULL)
		*len = vlen;
	return (char *)(uintptr_t)(p + n);
}

/* Return the bytes the allocator holds for e. */
size_t
dict_entry_size(const dict_entry *e)
{
	return mem_usable(e);
}

/* ---- Tables and rehashing ---- */

/* 1 if a resize is in progress. */
static inline int
dict_rehashing(const dict *d)
{
	return d->rehash_idx != DICT_IDLE;
}

/* Move t[1] into t[0] once t[0] is empty, ending a rehash. */
static void
dict_rehash_done(dict *d)
{
	mem_free(d->t[0].slots);
	d->t[0] = d->t[1];
	memset(&d->t[1], 0, sizeof d->t[1]);
	d->rehash_idx = DICT_IDLE;
}

/*
 * Start resizing to the smallest power of two >= want (at least
 * DICT_MIN_SIZE). Does nothing while a rehash runs or if the size would not
 * change. The first table is simply installed; a resize of an empty table
 * completes at once; otherwise incremental rehashing begins.
 */
static void
dict_resize(dict *d, size_t want)
{
	size_t size = DICT_MIN_SIZE;

	if (dict_rehashing(d))
		return;
	while (size < want && size <= SIZE_MAX / 2 / sizeof(dict_entry *))
		size <<= 1;
	if (size == d->t[0].size)
		return;
	d->t[1].slots = mem_calloc(size, sizeof(dict_entry *));
	d->t[1].size = size;
	d->t[1].used = 0;
	d->rehash_idx = 0;
	if (d->t[0].used == 0)
		dict_rehash_done(d);
}

/* Grow before an insert if t[0] is full (load factor 1). */
static void
dict_grow_if_needed(dict *d)
{
	if (dict_rehashing(d))
		return;
	if (d->t[0].size == 0)
		dict_resize(d, DICT_MIN_SIZE);
	else if (d->t[0].used >= d->t[0].size && (!d->avoid_resize ||
	    d->t[0].used / d->t[0].size > DICT_FORCE_RESIZE_RATIO))
		dict_resize(d, d->t[0].used + 1);
}

/* Shrink if t[0] is less than 1/8 full and above the minimum size. */
static void
dict_shrink_if_needed(dict *d)
{
	if (dict_rehashing(d) || d->avoid_resize ||
	    d->t[0].size <= DICT_MIN_SIZE)
		return;
	if (d->t[0].used < d->t[0].size / DICT_SHRINK_RATIO)
		dict_resize(d, d->t[0].used);
}

/*
 * Move up to n non-empty t[0] buckets into t[1], visiting at most
 * n * DICT_EMPTY_VISITS empty ones, and finish the rehash once t[0] holds
 * nothing. Returns 1 while rehashing goes on, 0 when it is complete or
 * none was running.
 */
int
dict_rehash(dict *d, int n)
{
	struct dict_table *from = &d->t[0], *to = &d->t[1];
	size_t empty, mask = to->size - 1;
	dict_entry *e, *next, **slot;

	if (!dict_rehashing(d))
		return 0;
	if (n <= 0)
		empty = 0;
	else if ((size_t)n > SIZE_MAX / DICT_EMPTY_VISITS)
		empty = SIZE_MAX;
	else
		empty = (size_t)n * DICT_EMPTY_VISITS;
	for (; n > 0 && from->used != 0; n--) {
		while (from->slots[d->rehash_idx] == NULL) {
			d->rehash_idx++;
			if (--empty == 0)
				return 1;
		}
		for (e = from->slots[d->rehash_idx]; e != NULL; e = next) {
			next = e->next;
			slot = &to->slots[dict_entry_hash(d, e) & mask];
			e->next = *slot;
			*slot = e;
			from->used--;
			to->used++;
		}
		from->slots[d->rehash_idx++] = NULL;
	}
	if (from->used != 0)
		return 1;
	dict_rehash_done(d);
	return 0;
}

/* The bounded rehash work each keyed operation pays. */
static inline void
dict_step(dict *d)
{
	if (dict_rehashing(d))
		dict_rehash(d, DICT_REHASH_STEP);
}

/* Microseconds on the monotonic clock. */
static uint64_t
dict_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void
dict_avoid_resize(dict *d, int on)
{
	d->avoid_resize = on;
}

/*
 * Idle-time work: first let a due shrink begin, then rehash in batches of
 * DICT_MS_BATCH buckets until done or about ms milliseconds have passed
 * (at least one batch runs). Returns 1 if rehashing goes on, else 0.
 */
int
dict_rehash_ms(dict *d, int ms)
{
	uint64_t start = dict_now_us();
	uint64_t limit = ms > 0 ? (uint64_t)ms * 1000 : 0;

	dict_shrink_if_needed(d);
	while (dict_rehash(d, DICT_MS_BATCH)) {
		if (dict_now_us() - start >= limit)
			return 1;
	}
	return 0;
}

/*
 * Find key, whose hash is h. Returns the link that points at its entry
 * (a bucket head or the previous entry's next) and the index of its table
 * in *tab, or NULL if the key is absent.
 */
static dict_entry **
dict_lookup(dict *d, const void *key, size_t klen, uint64_t h, int *tab)
{
	struct dict_table *t;
	dict_entry **link;
	int i;

	for (i = 0; i < 2; i++) {
		t = &d->t[i];
		if (t->used != 0) {
			link = &t->slots[h & (t->size - 1)];
			for (; *link != NULL; link = &(*link)->next) {
				if (dict_entry_is(*link, key, klen)) {
					*tab = i;
					return link;
				}
			}
		}
		if (!dict_rehashing(d))
			break;
	}
	return NULL;
}

/* The hash of key under d's hash key. */
uint64_t
dict_key_hash(const dict *d, const void *key, size_t klen)
{
	return dict_siphash13(d->k0, d->k1, key, klen);
}

/* ---- Public operations ---- */

/* Make an empty dict (no table until the first insert). */
dict *
dict_create(dict_free_proc *on_free)
{
	dict *d = mem_calloc(1, sizeof *d);

	d->rehash_idx = DICT_IDLE;
	d->k0 = dict_seed_k0;
	d->k1 = dict_seed_k1;
	d->on_free = on_free;
	return d;
}

/* Free every entry and both tables, back to the empty state. */
void
dict_clear(dict *d)
{
	dict_entry *e, *next;
	size_t i;
	int t;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < d->t[t].size; i++) {
			for (e = d->t[t].slots[i]; e != NULL; e = next) {
				next = e->next;
				dict_entry_release(d, e);
			}
		}
		mem_free(d->t[t].slots);
		memset(&d->t[t], 0, sizeof d->t[t]);
	}
	d->rehash_idx = DICT_IDLE;
	d->entry_bytes = 0;
}

/* Free d and everything in it; NULL is fine. */
void
dict_free(dict *d)
{
	if (d == NULL)
		return;
	dict_clear(d);
	mem_free(d);
}

/* Return the slots in both tables. */
size_t
dict_buckets(const dict *d)
{
	return d->t[0].size + d->t[1].size;
}

/* Return 1 while a resize is in progress. */
int
dict_is_rehashing(const dict *d)
{
	return dict_rehashing(d);
}

/* Return key's entry or NULL, after one rehash step. */
dict_entry *
dict_find_h(dict *d, const void *key, size_t klen, uint64_t h)
{
	dict_entry **link;
	int tab;

	dict_step(d);
	if (dict_size(d) == 0)
		return NULL;
	link = dict_lookup(d, key, klen, h, &tab);
	return link != NULL ? *link : NULL;
}

dict_entry *
dict_find(dict *d, const void *key, size_t klen)
{
	if (dict_size(d) == 0)
		return NULL;
	return dict_find_h(d, key, klen, dict_key_hash(d, key, klen));
}

/* Put e (which costs usable bytes) at the head of its bucket, growing
 * first if due. */
static void
dict_link_sized(dict *d, dict_entry *e, uint64_t h, size_t usable)
{
	struct dict_table *t;
	dict_entry **link;

	dict_step(d);
	dict_grow_if_needed(d);
	t = dict_rehashing(d) ? &d->t[1] : &d->t[0];
	link = &t->slots[h & (t->size - 1)];
	e->next = *link;
	*link = e;
	t->used++;
	d->entry_bytes += usable;
}

void
dict_link(dict *d, dict_entry *e, uint64_t h)
{
	dict_link_sized(d, e, h, mem_usable(e));
}

dict_entry *
dict_add(dict *d, uint64_t h, const void *key, size_t klen, uint32_t meta,
    long long expire, const void *val, size_t vlen)
{
	size_t usable;
	dict_entry *e = dict_entry_make(key, klen, meta, expire, val, vlen,
	    &usable);

	dict_link_sized(d, e, h, usable);
	return e;
}

/* The link that points at e (which is in d), found through its key's
 * hash h. */
static dict_entry **
dict_link_of(dict *d, const dict_entry *e, uint64_t h)
{
	dict_entry **link;
	int i;

	for (i = 0; i < 2; i++) {
		if (d->t[i].size == 0)
			continue;
		link = &d->t[i].slots[h & (d->t[i].size - 1)];
		for (; *link != NULL; link = &(*link)->next)
			if (*link == e)
				return link;
	}
	return NULL;
}

dict_entry *
dict_entry_set_val(dict *d, dict_entry *e, const void *val, size_t vlen)
{
	return dict_entry_set_val_h(d, e, dict_entry_hash(d, e), val, vlen);
}

dict_entry *
dict_entry_set_val_h(dict *d, dict_entry *e, uint64_t h, const void *val,
    size_t vlen)
{
	dict_entry **link = dict_link_of(d, e, h), *n;
	size_t off = dict_entry_val_off(e), old = mem_usable(e), oldv;
	size_t size = DICT_HDR + off + dict_varint_len(vlen) + vlen;
	size_t on = dict_varint_get(e->data + off, &oldv);
	unsigned char *p;

	/* A new entry when the source lies inside e or the value's varint
	 * changes size (the kept bytes would move); otherwise in place. */
	if ((val != NULL && vlen != 0 &&
	    (uintptr_t)val >= (uintptr_t)e &&
	    (uintptr_t)val < (uintptr_t)e + old) ||
	    (val == NULL && dict_varint_len(vlen) != on)) {
		n = mem_alloc(size);
		memcpy(n, e, DICT_HDR + off);
		p = n->data + off;
		p += dict_varint_put(p, vlen);
		if (val != NULL)
			memcpy(p, val, vlen);
		else
			memcpy(p, e->data + off + on, oldv < vlen ? oldv : vlen);
		mem_free(e);
		e = n;
	} else {
		/* No realloc when it would keep the block as it is (a
		 * value of about the same size, the common overwrite). */
		if (!mem_fits(old, size))
			e = mem_realloc(e, size);
		p = e->data + off;
		p += dict_varint_put(p, vlen);
		if (val != NULL && vlen != 0)
			memcpy(p, val, vlen);
	}
	if (link != NULL)
		*link = e;
	d->entry_bytes = d->entry_bytes - old + mem_usable(e);
	return e;
}

/* Insert key or replace its value (1 if new, 0 if replaced). */
int
dict_set(dict *d, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	uint64_t h = dict_key_hash(d, key, klen);
	dict_entry *e = dict_find_h(d, key, klen, h);

	if (e != NULL) {
		dict_entry_set_val_h(d, e, h, val, vlen);
		return 0;
	}
	dict_add(d, h, key, klen, 0, 0, val, vlen);
	return 1;
}

/* Detach key's entry and hand it to the caller, or return NULL. */
dict_entry *
dict_unlink_h(dict *d, const void *key, size_t klen, uint64_t h)
{
	dict_entry **link, *e;
	int tab;

	dict_step(d);
	if (dict_size(d) == 0)
		return NULL;
	link = dict_lookup(d, key, klen, h, &tab);
	if (link == NULL)
		return NULL;
	e = *link;
	*link = e->next;
	e->next = NULL;
	d->t[tab].used--;
	d->entry_bytes -= mem_usable(e);
	dict_shrink_if_needed(d);
	return e;
}

dict_entry *
dict_unlink(dict *d, const void *key, size_t klen)
{
	if (dict_size(d) == 0)
		return NULL;
	return dict_unlink_h(d, key, klen, dict_key_hash(d, key, klen));
}

/* Delete key; return 1 if it existed, else 0. */
int
dict_delete(dict *d, const void *key, size_t klen)
{
	dict_entry *e = dict_unlink(d, key, klen);

	if (e == NULL)
		return 0;
	dict_entry_release(d, e);
	return 1;
}

/* Call fn on every entry of both tables until it returns non-zero. */
void
dict_foreach(dict *d, int (*fn)(const dict_entry *e, void *arg), void *arg)
{
	dict_entry *e, *next;
	size_t i;
	int t;

	for (t = 0; t < 2; t++) {
		for (i = 0; i < d->t[t].size; i++) {
			for (e = d->t[t].slots[i]; e != NULL; e = next) {
				next = e->next;
				if (fn(e, arg) != 0)
					return;
			}
		}
	}
}

/* ---- Scanning and sampling ---- */

/* v with its bits in reverse order. */
static size_t
dict_rev(size_t v)
{
	size_t s = sizeof(v) * 8, mask = ~(size_t)0;

	while ((s >>= 1) > 0) {
		mask ^= mask << s;
		v = ((v >> s) & mask) | ((v << s) & ~mask);
	}
	return v;
}

size_t
dict_scan(dict *const *ds, int n, size_t v,
    void (*fn)(const dict_entry *e, void *arg), void *arg)
{
	const struct dict_table *t[8];
	const dict *owner[8];
	const dict_entry *e;
	size_t m = 0, tm;
	int nt = 0, i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < 2 && nt < 8; j++)
			if (ds[i]->t[j].size != 0 && ds[i]->t[j].used != 0) {
				owner[nt] = ds[i];
				t[nt++] = &ds[i]->t[j];
				if (ds[i]->t[j].size - 1 > m)
					m = ds[i]->t[j].size - 1;
			}
	if (nt == 0)
		return 0;
	/*
	 * The cursor walks the largest table's buckets. In a smaller
	 * table, the bucket the cursor falls in holds the keys of several
	 * large-table positions: only those whose hash has the cursor's
	 * low bits are reported now, the others when the cursor gets to
	 * them. So each step reports the keys of one position of the
	 * largest table, wherever they are, and costs one bucket a table.
	 */
	for (i = 0; i < nt; i++) {
		tm = t[i]->size - 1;
		for (e = t[i]->slots[v & tm]; e != NULL; e = e->next)
			if (tm == m ||
			    (dict_entry_hash(owner[i], e) & m) == (v & m))
				fn(e, arg);
	}
	/* Increment the cursor's reversed low bits. */
	v |= ~m;
	v = dict_rev(v);
	v++;
	return dict_rev(v);
}

uint64_t
dict_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * A random slot index where a table may hold an entry. During a shrink
 * the indexes from t[1]'s end up to rehash_idx hold nothing in either
 * table (t[0] is empty below rehash_idx): they are never chosen.
 */
static size_t
dict_sample_index(const dict *d, size_t mask, uint64_t *rng)
{
	size_t live, i;

	if (!dict_rehashing(d) || d->t[1].size >= d->rehash_idx)
		return (size_t)dict_rand(rng) & mask;
	live = d->t[1].size + (d->t[0].size - d->rehash_idx);
	i = (size_t)(dict_rand(rng) % live);
	return i < d->t[1].size ? i : d->rehash_idx + (i - d->t[1].size);
}

unsigned
dict_sample(dict *d, dict_entry **out, unsigned count, uint64_t *rng)
{
	size_t mask, i, steps, empty = 0;
	unsigned got = 0;
	dict_entry *e;
	int j, tables;

	if (dict_size(d) == 0 || count == 0)
		return 0;
	if (count > dict_size(d))
		count = (unsigned)dict_size(d);
	dict_step(d);
	tables = dict_rehashing(d) ? 2 : 1;
	mask = d->t[0].size - 1;
	if (tables == 2 && d->t[1].size - 1 > mask)
		mask = d->t[1].size - 1;
	steps = (size_t)count * 10;
	i = dict_sample_index(d, mask, rng);
	while (got < count && steps-- > 0) {
		/* A walk into the empty stretch of a shrink goes past it. */
		if (tables == 2 && i >= d->t[1].size && i < d->rehash_idx)
			i = d->rehash_idx;
		for (j = 0; j < tables; j++) {
			if (j == 0 && tables == 2 && i < d->rehash_idx)
				continue;
			if (i >= d->t[j].size)
				continue;
			e = d->t[j].slots[i];
			if (e == NULL) {
				empty++;
				continue;
			}
			empty = 0;
			for (; e != NULL && got < count; e = e->next)
				out[got++] = e;
		}
		/* A long empty run: start again elsewhere. */
		if (empty >= 5 && empty > count) {
			i = dict_sample_index(d, mask, rng);
			empty = 0;
		} else
			i = (i + 1) & mask;
	}
	return got;
}

dict_entry *
dict_random(dict *d, uint64_t *rng)
{
	dict_entry *e, *head = NULL;
	size_t i, len;

	if (dict_size(d) == 0)
		return NULL;
	dict_step(d);
	while (head == NULL) {
		if (dict_rehashing(d)) {
			/* Slots of t[0] below rehash_idx are empty. */
			size_t span = d->t[0].size + d->t[1].size - d->rehash_idx;

			i = d->rehash_idx + (size_t)(dict_rand(rng) % span);
			head = i >= d->t[0].size ?
			    d->t[1].slots[i - d->t[0].size] : d->t[0].slots[i];
		} else
			head = d->t[0].slots[dict_rand(rng) & (d->t[0].size - 1)];
	}
	for (len = 0, e = head; e != NULL; e = e->next)
		len++;
	for (i = (size_t)(dict_rand(rng) % len); i > 0; i--)
		head = head->next;
	return head;
}

/* Return the bytes held by the tables and the entries. */
size_t
dict_mem(const dict *d)
{
	return mem_usable(d->t[0].slots) + mem_usable(d->t[1].slots) +
	    d->entry_bytes;
}
