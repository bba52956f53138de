/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for dict.c: SipHash-1-3 against Python's, random operations
 * against a reference model, rehash pacing, grow/shrink, memory.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dict.h"
#include "mem.h"
#include "tap.h"

/* ---- Helpers ---- */

/* A tiny deterministic PRNG (xorshift64*), fixed seed. */
static uint64_t rng_state = 0x243f6a8885a308d3ULL;

/* Next pseudo-random 64-bit value. */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A uniform value in [0, n). */
static size_t
rng_below(size_t n)
{
	return (size_t)(rng() % n);
}

/* Seconds on the monotonic clock. */
static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, or 0 if /proc is not there. */
static size_t
rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, res = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* 1 if e holds exactly key and val. */
static int
entry_is(const dict_entry *e, const void *key, size_t klen, const void *val,
    size_t vlen)
{
	size_t kl, vl;
	const char *k = dict_entry_key(e, &kl), *v = dict_entry_val(e, &vl);

	return kl == klen && vl == vlen &&
	    (klen == 0 || memcmp(k, key, klen) == 0) &&
	    (vlen == 0 || memcmp(v, val, vlen) == 0);
}

/* Mark which of size buckets the keys occupy (bucket = dict_hash & (size -
 * 1), as dict.c indexes); returns the bitmap (free it) and the count. */
static unsigned char *
occupied(char **keys, size_t n, size_t size, size_t *filled)
{
	unsigned char *occ = calloc(size, 1);
	size_t i, b;

	*filled = 0;
	for (i = 0; i < n; i++) {
		b = (size_t)(dict_hash(keys[i], strlen(keys[i])) & (size - 1));
		if (!occ[b]) {
			occ[b] = 1;
			(*filled)++;
		}
	}
	return occ;
}

/*
 * The number of keyed operations a rehash of a table with this occupancy
 * must take if each moves at most DICT_REHASH_STEP buckets and visits at
 * most DICT_REHASH_STEP * DICT_EMPTY_VISITS empty ones, finishing in the
 * operation that moves the last non-empty bucket.
 */
static size_t
paced_ops(const unsigned char *occ, size_t filled)
{
	size_t idx = 0, ops = 0, empty;
	int n;

	while (filled > 0) {
		ops++;
		empty = DICT_REHASH_STEP * DICT_EMPTY_VISITS;
		for (n = DICT_REHASH_STEP; n > 0 && filled > 0; n--) {
			while (!occ[idx]) {
				idx++;
				if (--empty == 0)
					goto next;
			}
			idx++;
			filled--;
		}
next:
		;
	}
	return ops;
}

/* Make n keys "<prefix><i>" (malloc'd, NUL-terminated). */
static char **
make_keys(const char *prefix, size_t n)
{
	char **keys = malloc(n * sizeof *keys);
	size_t i;

	for (i = 0; i < n; i++) {
		keys[i] = malloc(32);
		snprintf(keys[i], 32, "%s%zu", prefix, i);
	}
	return keys;
}

/* Free keys made by make_keys(). */
static void
free_keys(char **keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

/* ---- Memory per key (runs first, for a clean RSS baseline) ---- */

/*
 * 1M keys "key:<n>" with 32-byte values, as the memory goal is stated.
 * Reports bytes per key three ways: dict_mem (usable sizes), mem_used
 * (everything allocated through mem.h) and RSS growth. With glibc's own
 * malloc (a 56-byte entry in a 64-byte chunk: mem_usable counts the
 * chunk; not a sanitizer's or valgrind's malloc) the RSS figure must
 * stay under 79 bytes a key.
 */
static void
test_mem_per_key(void)
{
	const size_t n = 1000000;
	char key[32], val[32];
	size_t i, used0, rss0, used1, rss1, dm, klen;
	/* glibc gives 52 bytes a 64-byte chunk (56 usable + its header);
	 * valgrind and sanitizers report exactly what was asked. */
	void *probe = calloc(1, 52);
	int real_glibc = probe != NULL && mem_usable(probe) == 64;
	double t0, t1;
	dict *d;
	int bad = 0;

	free(probe);
	memset(val, 'v', sizeof val);
	used0 = mem_used();
	rss0 = rss_bytes();
	d = dict_create(NULL);
	t0 = now_sec();
	for (i = 0; i < n; i++) {
		klen = (size_t)snprintf(key, sizeof key, "key:%zu", i);
		memcpy(val, key, klen);
		bad += dict_set(d, key, klen, val, sizeof val) != 1;
	}
	t1 = now_sec();
	used1 = mem_used();
	rss1 = rss_bytes();
	dm = dict_mem(d);
	is_int(bad, 0, "1M inserts all new");
	is_int(dict_size(d), n, "1M keys");
	diag("1M inserts in %.2f s; buckets %zu", t1 - t0, dict_buckets(d));
	diag("bytes/key: dict_mem %.1f, mem_used %.1f, RSS %.1f%s",
	    (double)dm / (double)n, (double)(used1 - used0) / (double)n,
	    (double)(rss1 - rss0) / (double)n,
	    real_glibc ? "" : " (instrumented malloc: RSS not meaningful)");
	ok((used1 - used0) / n <= 72, "mem_used per key <= 72 (got %zu)",
	    (used1 - used0) / n);
	if (real_glibc)
		ok((rss1 - rss0) / n < 79, "RSS per key < 79 (got %zu)",
		    (rss1 - rss0) / n);
	for (i = 0; i < n; i += 7919) {
		dict_entry *e;

		klen = (size_t)snprintf(key, sizeof key, "key:%zu", i);
		memset(val, 'v', sizeof val);
		memcpy(val, key, klen);
		e = dict_find(d, key, klen);
		bad += e == NULL || !entry_is(e, key, klen, val, sizeof val);
	}
	is_int(bad, 0, "sampled keys read back");
	for (i = 0; i < n; i++) {
		klen = (size_t)snprintf(key, sizeof key, "key:%zu", i);
		bad += dict_delete(d, key, klen) != 1;
	}
	dict_rehash_ms(d, 1000);
	is_int(bad, 0, "1M deletes");
	is_int(dict_size(d), 0, "empty again");
	ok(dict_buckets(d) == 4, "shrunk to 4 buckets (got %zu)",
	    dict_buckets(d));
	ok(dict_mem(d) <= 64, "dict_mem back near empty (%zu)", dict_mem(d));
	dict_free(d);
	is_int(mem_used(), used0, "mem_used back to where it started");
}

/* ---- Hash ---- */

/*
 * SipHash-1-3 against CPython 3.11's (sys.hash_info.algorithm ==
 * 'siphash13'): hash(bytes) & (2**64 - 1) under PYTHONHASHSEED=0 (an
 * all-zero key) and PYTHONHASHSEED=42 (key from CPython's LCG:
 * af90cd68d34f50dcc1e999fe9fbb20b9).
 */
static void
test_hash(void)
{
	static const struct { const char *msg; size_t len; } m[] = {
		{ "a", 1 }, { "abc", 3 }, { "key:123456", 10 }, { "\0", 1 },
		{ "0123456", 7 }, { "01234567", 8 }, { "012345678", 9 },
		{ "hello world, this is 31 bytes!!", 31 },
	};
	static const uint64_t zero[] = {
		0x407448d2b89b1813ULL, 0xc03bc3a0042630f2ULL,
		0xab3c87cc3bfe81beULL, 0x68a914128e01e473ULL,
		0x810aaf7acf670379ULL, 0xda3dcedf84ea6cc6ULL,
		0xb79d8581f8552753ULL, 0x8e7a6e30f622d5a4ULL,
	};
	static const uint64_t k42[] = {
		0xfe4a47335692551eULL, 0x35b382d0c5d675e9ULL,
		0x8e369c7da12ca531ULL, 0xce880c366bcf3489ULL,
		0xd9ca019eb00fa8b8ULL, 0xe9bc4cf2cd0e51f1ULL,
		0x9089950f69ea7529ULL, 0x7eceb18f8966bb9cULL,
	};
	static const uint8_t seed42[16] = {
		0xaf, 0x90, 0xcd, 0x68, 0xd3, 0x4f, 0x50, 0xdc,
		0xc1, 0xe9, 0x99, 0xfe, 0x9f, 0xbb, 0x20, 0xb9,
	};
	uint8_t seed0[16] = { 0 }, bytes64[64];
	size_t i;
	dict *d;
	uint64_t h;

	for (i = 0; i < sizeof bytes64; i++)
		bytes64[i] = (uint8_t)i;
	d = dict_create(NULL);            /* keeps the default key */
	dict_set(d, "before", 6, "x", 1);
	h = dict_hash("abc", 3);
	dict_set_hash_seed(seed0);
	ok(dict_hash("abc", 3) != h, "seeding changes the hash");
	for (i = 0; i < sizeof m / sizeof m[0]; i++)
		ok(dict_hash(m[i].msg, m[i].len) == zero[i],
		    "siphash13 zero key, %zu bytes", m[i].len);
	ok(dict_hash(bytes64, 64) == 0x75e05fd5bbc870c6ULL,
	    "siphash13 zero key, 64 bytes");
	dict_set_hash_seed(seed42);
	for (i = 0; i < sizeof m / sizeof m[0]; i++)
		ok(dict_hash(m[i].msg, m[i].len) == k42[i],
		    "siphash13 key 42, %zu bytes", m[i].len);
	ok(dict_hash(bytes64, 64) == 0x91639ef7de8d52cbULL,
	    "siphash13 key 42, 64 bytes");
	ok(dict_hash("", 0) == dict_hash(NULL, 0), "empty key hashes");
	ok(dict_find(d, "before", 6) != NULL,
	    "a dict keeps the key it was made with");
	dict_free(d);
}

/* ---- Basics ---- */

/* Empty dict, set/replace/find/unlink/delete, binary and long data, clear. */
static void
test_basic(void)
{
	static const char bin[] = "a\0b\0\xff";
	char big[20000], *v;
	size_t len, i, used0 = mem_used();
	dict *d = dict_create(NULL);
	dict_entry *e;

	is_int(dict_size(d), 0, "new dict is empty");
	is_int(dict_buckets(d), 0, "new dict has no table");
	ok(dict_find(d, "x", 1) == NULL, "find in empty dict");
	is_int(dict_delete(d, "x", 1), 0, "delete in empty dict");
	ok(dict_unlink(d, "x", 1) == NULL, "unlink in empty dict");
	is_int(dict_mem(d), 0, "empty dict_mem is 0");

	is_int(dict_set(d, "k", 1, "v1", 2), 1, "set new -> 1");
	is_int(dict_buckets(d), 4, "first table has 4 buckets");
	is_int(dict_set(d, "k", 1, "value2", 6), 0, "set existing -> 0");
	e = dict_find(d, "k", 1);
	ok(e != NULL && entry_is(e, "k", 1, "value2", 6), "value replaced");
	is_int(dict_set(d, "", 0, "", 0), 1, "empty key, empty value");
	e = dict_find(d, "", 0);
	ok(e != NULL && entry_is(e, "", 0, "", 0), "empty key found");
	dict_entry_val(e, &len);
	is_int(len, 0, "empty value length 0");
	is_int(dict_set(d, bin, sizeof bin - 1, bin, sizeof bin - 1), 1,
	    "binary key");
	ok(dict_find(d, "a", 1) == NULL, "binary key is not its C string");
	e = dict_find(d, bin, sizeof bin - 1);
	ok(e != NULL && entry_is(e, bin, sizeof bin - 1, bin, sizeof bin - 1),
	    "binary key and value round-trip");

	/* Multi-byte length prefixes (>= 128 and >= 16384). */
	for (i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7);
	is_int(dict_set(d, big, sizeof big, big, 300), 1, "20000-byte key");
	e = dict_find(d, big, sizeof big);
	ok(e != NULL && entry_is(e, big, sizeof big, big, 300),
	    "20000-byte key, 300-byte value");
	dict_set(d, big, sizeof big, big + 1, 5);
	e = dict_find(d, big, sizeof big);
	ok(e != NULL && entry_is(e, big, sizeof big, big + 1, 5),
	    "value shrunk across a length-prefix size");
	ok(dict_find(d, big, sizeof big - 1) == NULL,
	    "prefix of a key is absent");

	/* A value taken from the entry itself (realloc must not bite). */
	dict_set(d, "self", 4, "0123456789", 10);
	e = dict_find(d, "self", 4);
	v = (char *)dict_entry_val(e, &len);
	dict_set(d, "self", 4, v + 2, 5);
	e = dict_find(d, "self", 4);
	ok(entry_is(e, "self", 4, "23456", 5), "value copied from itself");

	/* One allocation per entry: "key:123456" + 32 bytes and the meta
	 * word fit in one 64-byte chunk; with an expire time, in 80. */
	dict_set(d, "key:123456", 10, big, 32);
	e = dict_find(d, "key:123456", 10);
	ok(dict_entry_size(e) <= 64, "entry for 10+32 bytes takes %zu <= 64",
	    dict_entry_size(e));
	e = dict_entry_new("key:123456", 10, DICT_META_EXPIRE | 0x1200, 42,
	    big, 32);
	ok(dict_entry_size(e) <= 80 && dict_entry_expire(e) == 42 &&
	    dict_entry_meta(e) == (DICT_META_EXPIRE | 0x1200),
	    "with an expire time: %zu <= 80, expire and meta kept",
	    dict_entry_size(e));
	dict_entry_free(e);

	e = dict_unlink(d, "k", 1);
	ok(e != NULL && entry_is(e, "k", 1, "value2", 6), "unlink hands over");
	ok(dict_find(d, "k", 1) == NULL, "unlinked key is gone");
	dict_entry_free(e);
	is_int(dict_delete(d, "", 0), 1, "delete empty key");
	is_int(dict_delete(d, "", 0), 0, "delete it again");
	is_int(dict_size(d), 4, "four keys left");

	dict_clear(d);
	is_int(dict_size(d), 0, "clear empties");
	is_int(dict_buckets(d), 0, "clear drops the table");
	is_int(dict_mem(d), 0, "clear frees the entries' bytes");
	ok(dict_find(d, "self", 4) == NULL, "cleared key gone");
	is_int(dict_set(d, "self", 4, "x", 1), 1, "reusable after clear");
	dict_free(d);
	is_int(mem_used(), used0, "dict_free releases everything");
	dict_free(NULL);
}

/* ---- Random operations against a reference ---- */

#define POOL 6000                 /* distinct keys the test draws from */
#define OPS 200000                /* operations in test_random */

struct ref_key {
	unsigned char	*key;         /* random bytes, NUL bytes included */
	size_t		 klen;        /* 0..100 */
	unsigned char	*val;         /* the reference value, if present */
	size_t		 vlen;        /* 0..300 */
	int		 present;     /* in the model */
	size_t		 pos;         /* index in in[] or out[] */
	unsigned	 seen;        /* last full check that visited it */
};

static struct ref_key pool[POOL];
static size_t npool;
static size_t in[POOL], nin;      /* indexes of present keys */
static size_t out[POOL], nout;    /* indexes of absent keys */

/* Order keys by length, then bytes. */
static int
ref_cmp(const void *a, const void *b)
{
	const struct ref_key *x = a, *y = b;

	if (x->klen != y->klen)
		return x->klen < y->klen ? -1 : 1;
	return x->klen == 0 ? 0 : memcmp(x->key, y->key, x->klen);
}

/* The pool index of key, or -1 (binary search, independent of dict). */
static long
ref_find(const char *key, size_t klen)
{
	struct ref_key probe = { (unsigned char *)key, klen, NULL, 0, 0, 0, 0 };
	size_t lo = 0, hi = npool, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = ref_cmp(&probe, &pool[mid]);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* Build POOL random keys, sort them, drop duplicates. */
static void
ref_init(void)
{
	size_t i, j;

	for (i = 0; i < POOL; i++) {
		pool[i].klen = rng_below(101);
		pool[i].key = malloc(pool[i].klen + 1);
		for (j = 0; j < pool[i].klen; j++)
			pool[i].key[j] = rng_below(8) == 0 ? 0 :
			    (unsigned char)rng();
	}
	qsort(pool, POOL, sizeof pool[0], ref_cmp);
	for (i = 0, npool = 0; i < POOL; i++) {
		if (npool > 0 && ref_cmp(&pool[npool - 1], &pool[i]) == 0) {
			free(pool[i].key);
			continue;
		}
		pool[npool++] = pool[i];
	}
	for (i = 0; i < npool; i++) {
		out[i] = i;
		pool[i].pos = i;
	}
	nout = npool;
	nin = 0;
}

/* Move key i between the present and absent lists. */
static void
ref_mark(size_t i, int present)
{
	size_t *from = present ? out : in, *to = present ? in : out;
	size_t *nfrom = present ? &nout : &nin, *nto = present ? &nin : &nout;
	size_t last = from[--*nfrom];

	from[pool[i].pos] = last;
	pool[last].pos = pool[i].pos;
	pool[i].pos = *nto;
	to[(*nto)++] = i;
	pool[i].present = present;
}

/* State of one full check: which run it is and what it found. */
struct check_ctx {
	unsigned	 run;         /* stamp for ref_key.seen */
	size_t		 visited;     /* entries seen */
	size_t		 bad;         /* unknown, absent, repeated or wrong */
	size_t		 entry_bytes; /* sum of dict_entry_size */
};

/* dict_foreach callback: match one entry to the model. */
static int
check_visit(const dict_entry *e, void *arg)
{
	struct check_ctx *c = arg;
	size_t klen;
	const char *key = dict_entry_key(e, &klen);
	long i = ref_find(key, klen);
	struct ref_key *r;

	c->visited++;
	c->entry_bytes += dict_entry_size(e);
	if (i < 0) {
		c->bad++;
		return 0;
	}
	r = &pool[i];
	if (!r->present || r->seen == c->run ||
	    !entry_is(e, r->key, r->klen, r->val, r->vlen))
		c->bad++;
	r->seen = c->run;
	return 0;
}

/*
 * Walk the whole dict: every entry is a present model key with its value,
 * visited once, the count is right, and dict_mem is the entries plus the
 * tables (and matches what mem.h saw allocated). Returns 1 if all holds.
 */
static int
full_check(dict *d, size_t mem_base)
{
	static unsigned run;
	struct check_ctx c = { ++run, 0, 0, 0 };
	size_t tables, slack = 2 * 4096 + 64;

	dict_foreach(d, check_visit, &c);
	tables = dict_mem(d) - c.entry_bytes;
	return c.bad == 0 && c.visited == nin && dict_size(d) == nin &&
	    dict_mem(d) >= c.entry_bytes &&
	    tables >= dict_buckets(d) * sizeof(void *) &&
	    tables <= dict_buckets(d) * sizeof(void *) + slack &&
	    mem_used() - mem_base == dict_mem(d);
}

/* Random value bytes (NULs included), 0..300 long. */
static void
random_val(unsigned char *buf, size_t *len)
{
	size_t j;

	*len = rng_below(301);
	for (j = 0; j < *len; j++)
		buf[j] = (unsigned char)rng();
}

/* OPS random operations checked against the model after each one. */
static void
test_random(void)
{
	unsigned char vbuf[301];
	size_t op, i, vlen, b0, b1, mem_base, max_buckets = 0;
	size_t grows = 0, shrinks = 0, rehash_ops = 0, old_size = 0;
	size_t errs = 0, size_errs = 0, check_fail = 0, checks = 0;
	size_t mid_checks = 0, short_rehash = 0, cycles = 0, shrunk_cycles = 0;
	size_t pending_after_cron = 0;
	int filling = 1, r0, r1, ret, present, kind;
	dict *d;
	dict_entry *e;
	struct ref_key *r;

	ref_init();
	diag("random test: %zu distinct keys, %d operations", npool, OPS);
	d = dict_create(NULL);
	mem_base = mem_used();       /* the dict struct itself is outside */
	for (op = 0; op < OPS; op++) {
		b0 = dict_buckets(d);
		r0 = dict_is_rehashing(d);
		/* Pick an operation: filling favours new keys, draining
		 * favours present ones. */
		kind = (int)rng_below(100);
		if (filling ? kind < 60 : kind < 15) {
			i = (nout > 0 && rng_below(10) < 8) ?
			    out[rng_below(nout)] : rng_below(npool);
			kind = 0;      /* set */
		} else {
			i = (nin > 0 && rng_below(10) < 8) ?
			    in[rng_below(nin)] : rng_below(npool);
			kind = kind < 75 ? 1 : kind < 88 ? 2 : 3;
		}
		r = &pool[i];
		present = r->present;
		switch (kind) {
		case 0:
			random_val(vbuf, &vlen);
			ret = dict_set(d, r->key, r->klen, vbuf, vlen);
			errs += ret != !present;
			free(r->val);
			r->val = malloc(vlen + 1);
			memcpy(r->val, vbuf, vlen);
			r->vlen = vlen;
			if (!present)
				ref_mark(i, 1);
			break;
		case 1:
			ret = dict_delete(d, r->key, r->klen);
			errs += ret != present;
			if (present)
				ref_mark(i, 0);
			break;
		case 2:
			e = dict_unlink(d, r->key, r->klen);
			errs += (e != NULL) != present;
			if (e != NULL) {
				errs += !entry_is(e, r->key, r->klen, r->val,
				    r->vlen);
				dict_entry_free(e);
			}
			if (present)
				ref_mark(i, 0);
			break;
		default:
			e = dict_find(d, r->key, r->klen);
			errs += (e != NULL) != present;
			if (e != NULL)
				errs += !entry_is(e, r->key, r->klen, r->val,
				    r->vlen);
			break;
		}
		size_errs += dict_size(d) != nin;

		/* Rehash bookkeeping. */
		b1 = dict_buckets(d);
		r1 = dict_is_rehashing(d);
		if (b1 > max_buckets)
			max_buckets = b1;
		if (!r0 && r1) {
			old_size = b0;
			rehash_ops = 0;
			if (b1 - b0 > b0)
				grows++;
			else
				shrinks++;
		} else if (r0 && r1) {
			rehash_ops++;
		} else if (r0 && !r1) {
			/* A big table's rehash must span several commands. */
			if (old_size >= 256 && rehash_ops < 2)
				short_rehash++;
		}

		if (op % 997 == 0 || (r1 && op % 151 == 0)) {
			checks++;
			mid_checks += r1;
			check_fail += !full_check(d, mem_base);
		}

		/* Phase switches: fill to 90%, drain to 20 keys. */
		if (filling && nin >= npool * 9 / 10) {
			filling = 0;
		} else if (!filling && nin <= 20) {
			filling = 1;
			cycles++;
			shrunk_cycles += max_buckets > 1024 &&
			    dict_buckets(d) < max_buckets / 8;
			max_buckets = 0;
			/* Idle time: no shrink may stay pending. */
			if (dict_rehash_ms(d, 1000) != 0 ||
			    (dict_buckets(d) > 4 &&
			    dict_size(d) < dict_buckets(d) / 8))
				pending_after_cron++;
		}
	}
	is_int(errs, 0, "every operation's result matched the model");
	is_int(size_errs, 0, "dict_size matched after every operation");
	is_int(check_fail, 0, "%zu full walks (%zu mid-rehash) matched",
	    checks, mid_checks);
	ok(mid_checks > 10, "walked mid-rehash %zu times", mid_checks);
	ok(grows > 10, "tables grew %zu times", grows);
	ok(shrinks > 5, "tables shrank %zu times", shrinks);
	ok(cycles >= 3 && shrunk_cycles == cycles,
	    "%zu fill/drain cycles, each shrank afterwards", cycles);
	is_int(short_rehash, 0, "no big rehash finished within one operation");
	is_int(pending_after_cron, 0, "dict_rehash_ms leaves no shrink due");
	diag("grows %zu, shrinks %zu", grows, shrinks);

	/* Delete everything left; memory goes back to an empty table. */
	for (i = 0; i < npool; i++)
		if (pool[i].present)
			errs += dict_delete(d, pool[i].key, pool[i].klen) != 1;
	dict_rehash_ms(d, 1000);
	is_int(errs, 0, "final deletes");
	is_int(dict_size(d), 0, "empty at the end");
	ok(dict_mem(d) <= 64, "dict_mem near empty: %zu", dict_mem(d));
	is_int(mem_used() - mem_base, dict_mem(d), "mem_used agrees");
	dict_free(d);
	for (i = 0; i < npool; i++) {
		free(pool[i].key);
		free(pool[i].val);
	}
}

/* ---- Rehash pacing ---- */

/*
 * Count dict_find calls until the running rehash completes, and compare
 * with the pacing model for the old table's occupancy: too few means an
 * operation moved more than DICT_REHASH_STEP buckets or skipped too many
 * empty ones, too many means it dawdled.
 */
static void
check_pacing(dict *d, char **keys, size_t nkeys, size_t size,
    const char *what)
{
	size_t ops = 0, filled, want;
	unsigned char *occ = occupied(keys, nkeys, size, &filled);

	want = paced_ops(occ, filled);
	free(occ);
	while (dict_is_rehashing(d)) {
		dict_find(d, keys[ops % nkeys], strlen(keys[ops % nkeys]));
		ops++;
	}
	is_int(ops, want, "%s: %zu non-empty of %zu buckets, rehashed over "
	    "%zu operations", what, filled, size, want);
	ok(ops >= filled / DICT_REHASH_STEP,
	    "%s: no operation did all the work", what);
}

/* Grow and shrink are paced per operation; idle time starts a due shrink. */
static void
test_pacing(void)
{
	const size_t n = 4097;
	char **keys = make_keys("pace:", n);
	size_t i, filled, calls, used_at_start = 0, del, want;
	size_t *order, (*pairs)[2];
	unsigned char *occ;
	dict *d = dict_create(NULL);
	int started = 0, still = 0;

	/* Grow: 4096 keys fill 4096 buckets; one more starts the rehash. */
	for (i = 0; i < n - 1; i++)
		dict_set(d, keys[i], strlen(keys[i]), "v", 1);
	dict_rehash(d, INT_MAX);
	ok(!dict_is_rehashing(d) && dict_buckets(d) == 4096,
	    "4096 keys in 4096 buckets, no rehash running");
	dict_set(d, keys[n - 1], strlen(keys[n - 1]), "v", 1);
	ok(dict_is_rehashing(d), "the 4097th key starts a rehash");
	is_int(dict_buckets(d), 4096 + 8192, "growing to 8192 buckets");
	check_pacing(d, keys, n - 1, 4096, "grow 4096->8192");
	is_int(dict_buckets(d), 8192, "grown to 8192");

	/* Shrink: starts when fill drops below 1/8 (1023 of 8192). */
	for (del = 0; del < n && !started; del++) {
		dict_delete(d, keys[del], strlen(keys[del]));
		if (dict_is_rehashing(d)) {
			started = 1;
			used_at_start = dict_size(d);
		}
	}
	ok(started && used_at_start == 1023,
	    "shrink starts at 1023 keys in 8192 buckets (got %zu)",
	    used_at_start);
	is_int(dict_buckets(d), 8192 + 1024, "shrinking to 1024 buckets");
	check_pacing(d, keys + del, n - del, 8192, "shrink 8192->1024");
	is_int(dict_buckets(d), 1024, "shrunk to 1024");
	dict_free(d);

	/* dict_rehash(d, 1) moves one bucket a call, like an operation. */
	d = dict_create(NULL);
	for (i = 0; i < n - 1; i++)
		dict_set(d, keys[i], strlen(keys[i]), "v", 1);
	dict_rehash(d, INT_MAX);
	dict_set(d, keys[n - 1], strlen(keys[n - 1]), "v", 1);
	is_int(dict_rehash(d, 0), 1, "dict_rehash(d, 0) reports it goes on");
	occ = occupied(keys, n - 1, 4096, &filled);
	want = paced_ops(occ, filled);
	free(occ);
	for (calls = 1; dict_rehash(d, DICT_REHASH_STEP); calls++)
		;
	is_int(calls, want, "dict_rehash(d, %d) paces like an operation: "
	    "%zu calls", DICT_REHASH_STEP, want);
	is_int(dict_rehash(d, 1), 0, "no rehash running -> 0");

	/*
	 * A shrink left due for idle time: start the 8192->1024 shrink,
	 * then delete keys in the order the rehash moves them (by bucket in
	 * the old table), so it keeps running while the count drops below
	 * 1024/8 and no delete may start the next shrink. dict_rehash_ms()
	 * must then start it.
	 */
	for (del = 0; del < n - 1024 + 1; del++)
		dict_delete(d, keys[del], strlen(keys[del]));
	ok(dict_is_rehashing(d) && dict_size(d) == 1023,
	    "shrink running again at 1023 keys");
	pairs = malloc((n - del) * sizeof *pairs);
	for (i = del; i < n; i++) {
		pairs[i - del][0] = (size_t)(dict_hash(keys[i],
		    strlen(keys[i])) & 8191);
		pairs[i - del][1] = i;
	}
	/* Insertion sort by old bucket: 1023 items. */
	for (i = 1; i < n - del; i++) {
		size_t j = i, t0 = pairs[i][0], t1 = pairs[i][1];

		while (j > 0 && pairs[j - 1][0] > t0) {
			pairs[j][0] = pairs[j - 1][0];
			pairs[j][1] = pairs[j - 1][1];
			j--;
		}
		pairs[j][0] = t0;
		pairs[j][1] = t1;
	}
	order = malloc((n - del) * sizeof *order);
	for (i = 0; i < n - del; i++)
		order[i] = pairs[i][1];
	for (i = 0; i < 1023 - 127; i++)
		dict_delete(d, keys[order[i]], strlen(keys[order[i]]));
	still = dict_is_rehashing(d);
	ok(still, "shrink still running at %zu keys", dict_size(d));
	while (dict_is_rehashing(d))
		dict_find(d, "x", 1);
	ok(dict_size(d) == 127 && dict_buckets(d) == 1024,
	    "127 keys in 1024 buckets: a shrink is due (%zu, %zu)",
	    dict_size(d), dict_buckets(d));
	is_int(dict_rehash_ms(d, 1000), 0, "dict_rehash_ms finishes");
	is_int(dict_buckets(d), 128, "dict_rehash_ms shrank to 128");
	for (i = 1023 - 127, calls = 0; i < n - del; i++)
		calls += dict_find(d, keys[order[i]],
		    strlen(keys[order[i]])) != NULL;
	is_int(calls, 127, "the 127 keys survive the shrinks");
	free(order);
	free(pairs);
	dict_free(d);
	free_keys(keys, n);
}

/* ---- foreach ---- */

/* Stop after *arg visits. */
static int
stop_after(const dict_entry *e, void *arg)
{
	int *left = arg;

	(void)e;
	return --*left <= 0;
}

/* dict_foreach stops when its callback says so. */
static void
test_foreach_stop(void)
{
	dict *d = dict_create(NULL);
	char **keys = make_keys("f:", 100);
	size_t i;
	int left = 3;

	for (i = 0; i < 100; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	dict_foreach(d, stop_after, &left);
	is_int(left, 0, "foreach stops when fn returns non-zero");
	dict_free(d);
	free_keys(keys, 100);
}

/*
 * dict_sample returns distinct live entries, and during a shrink it
 * still finds keys: with t[0] rehashed most of the way into a table an
 * eighth its size, a walk that started in the stretch where neither
 * table has a slot used to find nothing (then an eviction round could
 * come back empty-handed while keys remained).
 */
static void
test_sample(void)
{
	enum { N = 16384, COUNT = 5, CALLS = 200 };
	dict *d = dict_create(NULL);
	char **keys = make_keys("s:", N);
	dict_entry *picked[COUNT];
	uint64_t seed = 42;
	size_t i, left;
	unsigned got;
	int bad = 0, empty = 0, j, k;

	for (i = 0; i < 1000; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	for (i = 0; i < CALLS; i++) {
		got = dict_sample(d, picked, COUNT, &seed);
		bad += got != COUNT;
		for (j = 0; j < (int)got; j++) {
			size_t klen;
			const char *key = dict_entry_key(picked[j], &klen);

			bad += dict_find(d, key, klen) != picked[j];
			for (k = 0; k < j; k++)
				bad += picked[k] == picked[j];
		}
	}
	is_int(bad, 0, "samples: as many as asked, live and distinct");
	for (i = 1000; i < N; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	dict_rehash_ms(d, 1000);
	/* Delete until the shrink starts, then move most of t[0]. */
	for (left = N; !dict_is_rehashing(d) && left > 0; left--)
		dict_delete(d, keys[left - 1], strlen(keys[left - 1]));
	ok(dict_is_rehashing(d), "a shrink is under way at %zu keys", left);
	dict_rehash(d, (int)(left * 3 / 4));
	ok(dict_is_rehashing(d), "still shrinking");
	for (i = 0; i < CALLS; i++)
		empty += dict_sample(d, picked, COUNT, &seed) == 0;
	ok(empty <= CALLS / 100, "samples during a shrink find keys "
	    "(%d of %d came back empty)", empty, CALLS);
	dict_free(d);
	free_keys(keys, N);
}

/*
 * dict_avoid_resize (a rewrite child shares the pages): the table keeps
 * its size until it holds more than 5 entries a bucket, and never
 * shrinks; once off, the next change resizes it as usual.
 */
static void
test_avoid_resize(void)
{
	enum { N = 4096 };
	dict *d = dict_create(NULL);
	char **keys = make_keys("a:", N);
	size_t i, buckets;

	for (i = 0; i < 64; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	dict_rehash_ms(d, 1000);
	buckets = dict_buckets(d);
	dict_avoid_resize(d, 1);
	for (i = 64; i < buckets * 5; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	is_int((long long)dict_buckets(d), (long long)buckets,
	    "no growth up to 5 entries a bucket (%zu keys)", i);
	for (; i < buckets * 6 + 1; i++)
		dict_set(d, keys[i], strlen(keys[i]), "", 0);
	ok(dict_buckets(d) > buckets, "past 5 a bucket it grows anyway");
	dict_rehash_ms(d, 1000);
	buckets = dict_buckets(d);
	for (i = 8; i < N && i < buckets * 6 + 1; i++)
		dict_delete(d, keys[i], strlen(keys[i]));
	is_int((long long)dict_buckets(d), (long long)buckets,
	    "no shrink while avoided");
	dict_avoid_resize(d, 0);
	dict_delete(d, keys[0], strlen(keys[0]));
	ok(dict_buckets(d) > 0 && dict_is_rehashing(d),
	    "once allowed, the next delete starts the shrink");
	dict_free(d);
	free_keys(keys, N);
}

/* Run every dict test; the 1M-key measurement first. */
int
main(void)
{
	test_mem_per_key();
	test_hash();
	test_basic();
	test_random();
	test_pacing();
	test_foreach_stop();
	test_sample();
	test_avoid_resize();
	return done_testing();
}
