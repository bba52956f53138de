/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for db.c: hit/miss counting, types and encodings, expiry
 * across the two tables, rename, SCAN's guarantee under resizes, the
 * access clock, db_keys (the "prefix*" fast path against the general
 * matcher), flush and idle-time rehash.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dict.h"
#include "glob.h"
#include "mem.h"
#include "object.h"
#include "tap.h"

/* A set of keys collected by db_keys, as one bitmap over "key:<n>". */
#define NKEYS 5000

struct seen {
	unsigned char	 hit[NKEYS];  /* "key:<n>" reported */
	size_t		 count;       /* all reports */
	size_t		 other;       /* reports of keys not "key:<n>" */
	size_t		 dup;         /* "key:<n>" reported twice */
};

/* db_keys callback: record key. */
static void
collect(const char *key, size_t klen, void *arg)
{
	struct seen *s = arg;
	char buf[32];
	char *end;
	unsigned long n;

	s->count++;
	if (klen < 5 || klen >= sizeof buf || memcmp(key, "key:", 4) != 0) {
		s->other++;
		return;
	}
	memcpy(buf, key + 4, klen - 4);
	buf[klen - 4] = '\0';
	n = strtoul(buf, &end, 10);
	if (*end != '\0' || n >= NKEYS) {
		s->other++;
		return;
	}
	if (s->hit[n])
		s->dup++;
	s->hit[n] = 1;
}

/* Run db_keys(pat) into a fresh set. */
static struct seen *
keys_of(struct db *db, const char *pat)
{
	struct seen *s = calloc(1, sizeof *s);

	db_keys(db, pat, strlen(pat), collect, s);
	return s;
}

/* 1 if the decimal form of n starts with the digits in p. */
static int
starts_with(unsigned long n, const char *p)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%lu", n);
	return strncmp(buf, p, strlen(p)) == 0;
}

/* Set a string key (encoding as sent), no expire. */
static int
sset(struct db *db, const char *key, size_t klen, const char *val,
    size_t vlen)
{
	int existed = db_find(db, key, klen, DB_NOSTATS | DB_NOTOUCH) != NULL;

	db_set(db, key, klen, OBJ_STRING, obj_string_encoding(val, vlen), val,
	    vlen, DB_EXPIRE_NONE);
	return !existed;
}

/* The value of a string key (a hit or a miss counted), or NULL. */
static const char *
sget(struct db *db, const char *key, size_t klen, size_t *vlen)
{
	dbkey *k = db_find(db, key, klen, 0);

	return k != NULL ? db_key_value(k, vlen) : NULL;
}

/* 1 if key exists (nothing counted). */
static int
sexists(struct db *db, const char *key, size_t klen)
{
	return db_find(db, key, klen, DB_NOSTATS | DB_NOTOUCH) != NULL;
}

/* keyspace hits and misses: which calls count and which do not. */
static void
test_counters(void)
{
	struct db db;
	const char *v;
	size_t vlen = 99;
	dbkey *k;
	int wrong;

	db_init(&db);
	is_int(db.hits, 0, "no hits yet");
	is_int(db.misses, 0, "no misses yet");
	ok(sget(&db, "a", 1, &vlen) == NULL, "get of a missing key");
	is_int(db.misses, 1, "a miss counted");
	is_int(sset(&db, "a", 1, "x\0y", 3), 1, "set new");
	is_int(sset(&db, "a", 1, "x\0yz", 4), 0, "set existing");
	v = sget(&db, "a", 1, &vlen);
	ok(v != NULL && vlen == 4 && memcmp(v, "x\0yz", 4) == 0,
	    "get returns the binary value");
	is_int(db.hits, 1, "a hit counted");
	is_int(sexists(&db, "a", 1), 1, "exists -> 1");
	is_int(sexists(&db, "b", 1), 0, "exists on missing -> 0");
	ok(db.hits == 1 && db.misses == 1, "DB_NOSTATS counts nothing");

	k = db_take(&db, "a", 1, OBJ_STRING, &wrong);
	ok(k != NULL && !wrong, "take returns the key");
	if (k != NULL) {
		v = db_key_value(k, &vlen);
		ok(vlen == 4 && memcmp(v, "x\0yz", 4) == 0,
		    "taken key holds the value");
		db_key_free(k);
	}
	is_int(db.hits, 2, "take counts a hit");
	is_int(sexists(&db, "a", 1), 0, "taken key is gone");
	ok(db_take(&db, "a", 1, OBJ_STRING, &wrong) == NULL && !wrong,
	    "take again -> NULL");
	is_int(db.misses, 2, "take of a missing key counts a miss");
	is_int(db_size(&db), 0, "empty");

	sset(&db, "d", 1, "", 0);
	v = sget(&db, "d", 1, &vlen);
	ok(v != NULL && vlen == 0, "empty value is a hit, not a miss");
	is_int(db_delete(&db, "d", 1), 1, "delete -> 1");
	is_int(db_delete(&db, "d", 1), 0, "delete again -> 0");
	ok(db.hits == 3 && db.misses == 2, "delete counts nothing");
	db_free(&db);
}

/* Types and encodings: the meta word keeps them; take refuses a key of
 * another type and leaves it alone. */
static void
test_types(void)
{
	struct db db;
	dbkey *k;
	int wrong;
	size_t n;

	db_init(&db);
	k = db_set(&db, "l", 1, OBJ_LIST, OBJ_ENC_LISTPACK, "abc", 3,
	    DB_EXPIRE_NONE);
	is_int(db_key_type(k), OBJ_LIST, "type list kept");
	is_int(db_key_encoding(k), OBJ_ENC_LISTPACK, "encoding kept");
	ok(db_take(&db, "l", 1, OBJ_STRING, &wrong) == NULL && wrong,
	    "take of a list as a string: wrong type");
	ok(sexists(&db, "l", 1), "the list stays");
	sset(&db, "l", 1, "12345", 5);
	k = db_find(&db, "l", 1, 0);
	ok(k != NULL && db_key_type(k) == OBJ_STRING &&
	    db_key_encoding(k) == OBJ_ENC_INT, "set replaces any type; "
	    "'12345' is int-encoded");
	sset(&db, "e", 1, "hello", 5);
	is_int(db_key_encoding(db_find(&db, "e", 1, 0)), OBJ_ENC_EMBSTR,
	    "a short string is embstr");
	k = db_find(&db, "e", 1, 0);
	db_key_set_encoding(k, OBJ_ENC_RAW);
	is_int(db_key_encoding(db_find(&db, "e", 1, 0)), OBJ_ENC_RAW,
	    "encoding changed in place");
	ok(strcmp(obj_type_name(OBJ_LIST), "list") == 0 &&
	    strcmp(obj_encoding_name(OBJ_ENC_EMBSTR), "embstr") == 0,
	    "names as Redis");
	is_int(obj_string_encoding("-9223372036854775808", 20), OBJ_ENC_INT,
	    "LLONG_MIN is int");
	is_int(obj_string_encoding("012", 3), OBJ_ENC_EMBSTR,
	    "'012' is not a canonical integer");
	n = 45;
	is_int(obj_string_encoding("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    n), OBJ_ENC_RAW, "45 bytes is raw");
	k = db_find(&db, "e", 1, 0);
	k = db_resize(&db, k, NULL, 8);
	memcpy(db_key_value(k, &n) + 5, "!!!", 3);
	ok(n == 8 && memcmp(db_key_value(k, &n), "hello!!!", 8) == 0,
	    "resize keeps the prefix");
	k = db_resize(&db, k, NULL, 300);
	ok(memcmp(db_key_value(k, &n), "hello!!!", 8) == 0 && n == 300,
	    "resize across the 128-byte varint boundary keeps the prefix");
	db_free(&db);
}

/* Removals by expiry seen through the hook. */
struct removed {
	int expired, evicted;
	char last[32];
};

static void
on_remove(void *arg, const char *key, size_t klen, enum db_removal why)
{
	struct removed *r = arg;

	if (why == DB_REMOVED_EXPIRED)
		r->expired++;
	else
		r->evicted++;
	snprintf(r->last, sizeof(r->last), "%.*s", (int)klen, key);
}

/* Expire times: lazy expiry, the two tables, persist, rename. */
static void
test_expiry(void)
{
	struct db db;
	struct removed rm = { 0, 0, "" };
	dbkey *k;
	size_t n;

	db_init(&db);
	db.on_remove = on_remove;
	db.on_remove_arg = &rm;
	db.now = 1000000;
	k = db_set(&db, "t", 1, OBJ_STRING, OBJ_ENC_EMBSTR, "v", 1, 1000500);
	is_int(db_key_expire(k), 1000500, "expire stored");
	is_int(db_expires_size(&db), 1, "in the table of keys with a TTL");
	is_int(dict_size(db.keys), 0, "not in the other");
	db.now = 1000500;
	ok(db_find(&db, "t", 1, 0) != NULL, "alive at its expire ms");
	db.now = 1000501;
	ok(db_find(&db, "t", 1, 0) == NULL, "gone one ms later");
	is_int(rm.expired, 1, "the hook heard of it");
	ok(strcmp(rm.last, "t") == 0, "with its name");
	is_int(db.expired, 1, "expired counted");
	is_int(db_size(&db), 0, "lazily removed");

	sset(&db, "p", 1, "value", 5);
	k = db_find(&db, "p", 1, 0);
	is_int(db_key_expire(k), -1, "no expire");
	k = db_set_expire(&db, k, 2000000);
	ok(db_expires_size(&db) == 1 && dict_size(db.keys) == 0,
	    "set_expire moves it to the TTL table");
	ok(memcmp(db_key_value(k, &n), "value", 5) == 0 && n == 5,
	    "value intact after the move");
	k = db_set_expire(&db, k, 3000000);
	is_int(db_key_expire(k), 3000000, "changed in place");
	k = db_set(&db, "p", 1, OBJ_STRING, OBJ_ENC_EMBSTR, "w", 1,
	    DB_EXPIRE_KEEP);
	is_int(db_key_expire(k), 3000000, "KEEP keeps the TTL");
	k = db_set(&db, "p", 1, OBJ_STRING, OBJ_ENC_EMBSTR, "w", 1,
	    DB_EXPIRE_NONE);
	ok(db_key_expire(k) == -1 && db_expires_size(&db) == 0,
	    "a plain set drops the TTL");
	k = db_set_expire(&db, k, 3000000);
	k = db_persist(&db, k);
	ok(db_key_expire(k) == -1 && dict_size(db.keys) == 1,
	    "persist moves it back");

	k = db_set(&db, "src", 3, OBJ_STRING, OBJ_ENC_EMBSTR, "sv", 2,
	    5000000);
	sset(&db, "dst", 3, "old", 3);
	is_int(db_rename(&db, "src", 3, "dst", 3, 1), 0, "renamenx onto an "
	    "existing key -> 0");
	is_int(db_rename(&db, "src", 3, "dst", 3, 0), 1, "rename -> 1");
	k = db_find(&db, "dst", 3, 0);
	ok(k != NULL && db_key_expire(k) == 5000000 &&
	    memcmp(db_key_value(k, &n), "sv", 2) == 0,
	    "rename carries the value and the TTL");
	ok(!sexists(&db, "src", 3), "source gone");
	is_int(db_rename(&db, "nope", 4, "x", 1, 0), -1, "missing source");
	is_int(db_rename(&db, "dst", 3, "dst", 3, 0), 1, "onto itself");

	/* KEYS skips stale keys without removing them. */
	db_set(&db, "s1", 2, OBJ_STRING, 0, "", 0, 10);
	db.now = 20;
	{
		struct seen *s = keys_of(&db, "s*");

		is_int(s->count, 0, "a stale key is not listed");
		free(s);
	}
	is_int(db_expires_size(&db), 2, "but still held until touched");
	ok(db_random(&db) != NULL, "random finds a live key");
	db_free(&db);
}

/* SCAN over both tables: every key present throughout is reported,
 * while the tables grow, shrink, and keys move between them. */
struct scan_seen {
	unsigned char hit[NKEYS];
};

static void
scan_collect(const dbkey *k, void *arg)
{
	struct scan_seen *s = arg;
	size_t klen;
	const char *key = db_key_name(k, &klen);
	char buf[16];

	if (klen >= 2 && klen < sizeof(buf) && key[0] == 'k') {
		memcpy(buf, key + 1, klen - 1);
		buf[klen - 1] = '\0';
		s->hit[atoi(buf) % NKEYS] = 1;
	}
}

static void
test_scan(void)
{
	struct db db;
	struct scan_seen *seen = calloc(1, sizeof(*seen));
	char key[32];
	size_t cursor = 0, i, n, missing = 0, steps = 0;
	dbkey *k;

	db_init(&db);
	db.now = 1;
	/* Keys 0-999 live for the whole scan, half of them with a TTL. */
	for (i = 0; i < 1000; i++) {
		n = (size_t)snprintf(key, sizeof key, "k%zu", i);
		db_set(&db, key, n, OBJ_STRING, 0, "v", 1,
		    i % 2 ? 1000000 : DB_EXPIRE_NONE);
	}
	do {
		cursor = db_scan(&db, cursor, scan_collect, seen);
		steps++;
		/* Meanwhile: grow with 3000 more keys, then delete them
		 * (shrink), and move keys between the tables. */
		if (steps < 30)
			for (i = 0; i < 100; i++) {
				n = (size_t)snprintf(key, sizeof key, "g%zu",
				    steps * 100 + i);
				sset(&db, key, n, "v", 1);
			}
		else if (steps < 60)
			for (i = 0; i < 100; i++) {
				n = (size_t)snprintf(key, sizeof key, "g%zu",
				    (steps - 30) * 100 + i);
				db_delete(&db, key, n);
			}
		n = (size_t)snprintf(key, sizeof key, "k%zu",
		    (steps * 7) % 1000);
		k = db_find(&db, key, n, DB_NOSTATS);
		if (db_key_expire(k) >= 0)
			db_persist(&db, k);
		else
			db_set_expire(&db, k, 1000000);
	} while (cursor != 0 && steps < 100000);
	for (i = 0; i < 1000; i++)
		missing += !seen->hit[i];
	is_int(missing, 0, "every key present throughout was reported "
	    "(%zu steps)", steps);
	ok(cursor == 0, "the scan ended");
	free(seen);
	db_free(&db);
}

/* Counts how often scan_count_cb met each live key "k<i>" in one call. */
struct scan_count {
	unsigned char times[64];
};

static void
scan_count_cb(const dbkey *k, void *arg)
{
	struct scan_count *sc = arg;
	size_t klen;
	const char *key = db_key_name(k, &klen);

	if (klen >= 2 && key[0] == 'k')
		sc->times[atoi(key + 1) % 64]++;
}

/*
 * One SCAN call of several steps over a keyspace where many keys with a
 * TTL are stale: they are reclaimed only after the last step, so the
 * expires table does not shrink under the cursor and no live key is
 * reported twice by one call (a call used to report one twice when the
 * reclaim after a step started a shrink). Then the stale keys are gone.
 */
static void
test_scan_stale_once(void)
{
	struct db db;
	struct db_scan_state st;
	struct scan_count sc;
	char key[32];
	size_t cursor, i, n, live, stale, dups = 0, missing = 0, calls = 0;

	for (live = 1; live <= 8; live++)
		for (stale = 1; stale <= 300; stale += 7) {
			db_init(&db);
			db.now = 1000;
			for (i = 0; i < live; i++) {
				n = (size_t)snprintf(key, sizeof key, "k%zu",
				    i);
				db_set(&db, key, n, OBJ_STRING, 0, "v", 1,
				    i % 2 ? 1000000 : DB_EXPIRE_NONE);
			}
			for (i = 0; i < stale; i++) {
				n = (size_t)snprintf(key, sizeof key, "g%zu",
				    i);
				db_set(&db, key, n, OBJ_STRING, 0, "v", 1,
				    1001);
			}
			db.now = 2000;
			memset(&sc, 0, sizeof(sc));
			memset(&st, 0, sizeof(st));
			cursor = 0;
			do {
				cursor = db_scan_step(&db, &st, cursor,
				    scan_count_cb, &sc);
			} while (cursor != 0);
			db_scan_end(&db, &st);
			calls++;
			for (i = 0; i < live; i++) {
				dups += sc.times[i] > 1;
				missing += sc.times[i] == 0;
			}
			if (db_size(&db) != live)
				missing++;
			db_free(&db);
		}
	is_int(dups, 0, "no live key reported twice by one call (%zu calls)",
	    calls);
	is_int(missing, 0, "every live key reported, every stale one "
	    "reclaimed");
}

/* The access clock: LRU seconds, LFU counter with decay. */
static void
test_clock(void)
{
	struct db db;
	uint64_t rng = 42;
	unsigned c, i;
	dbkey *k;

	db_init(&db);
	db.now = 100000;
	sset(&db, "a", 1, "v", 1);
	k = db_find(&db, "a", 1, DB_NOTOUCH);
	is_int(db_key_clock(k), 1000, "LRU clock in tenths of seconds");
	db.now = 105000;
	k = db_find(&db, "a", 1, DB_NOTOUCH);
	is_int(obj_lru_idle_ms(db_key_clock(k), db.now), 5000,
	    "idle 5 s (NOTOUCH left it)");
	db_find(&db, "a", 1, 0);
	k = db_find(&db, "a", 1, DB_NOTOUCH);
	is_int(obj_lru_idle_ms(db_key_clock(k), db.now), 0, "touched");

	c = obj_lfu_new(0);
	is_int(c & 255, OBJ_LFU_INIT, "a new LFU key starts at 5");
	for (i = 0; i < 100000; i++)
		c = obj_lfu_touch(c, 0, 10, 1, &rng);
	/* Redis's table for factor 10: 100K hits give about 142. */
	ok((c & 255) > 120 && (c & 255) < 170,
	    "100000 hits at factor 10 give a log counter (%u)", c & 255);
	is_int(obj_lfu_decayed(c, 10 * 60000, 1), (c & 255) - 10,
	    "10 idle minutes take 10 off at decay time 1");
	is_int(obj_lfu_decayed(c, 10 * 60000, 0), c & 255, "no decay at 0");
	db_free(&db);
}

/* db_keys: the prefix fast path agrees with the matcher and the truth. */
static void
test_keys(void)
{
	static const char *prefixes[] = { "1", "12", "49", "4999", "", "5" };
	struct db db;
	struct seen *a, *b;
	char key[32], pat[64], gpat[64];
	size_t i, j, n, bad;
	int same;

	db_init(&db);
	for (i = 0; i < NKEYS; i++) {
		n = (size_t)snprintf(key, sizeof key, "key:%zu", i);
		sset(&db, key, n, key, n);
	}
	sset(&db, "other", 5, "", 0);
	sset(&db, "", 0, "empty key", 9);
	is_int(db_size(&db), NKEYS + 2, "5002 keys");

	for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		/* "key:<p>*" takes the fast path... */
		snprintf(pat, sizeof pat, "key:%s*", prefixes[i]);
		ok(glob_is_prefix(pat, strlen(pat), &n), "'%s' is a prefix "
		    "pattern", pat);
		a = keys_of(&db, pat);
		/* ...and "k[e]y:<p>*" the general matcher. */
		snprintf(gpat, sizeof gpat, "k[e]y:%s*", prefixes[i]);
		b = keys_of(&db, gpat);
		same = a->count == b->count &&
		    memcmp(a->hit, b->hit, NKEYS) == 0;
		ok(same, "'%s' and '%s' give the same %zu keys", pat, gpat,
		    a->count);
		for (j = 0, bad = 0, n = 0; j < NKEYS; j++) {
			n += starts_with(j, prefixes[i]);
			bad += a->hit[j] != starts_with(j, prefixes[i]);
		}
		ok(bad == 0 && a->count == n && a->dup == 0 && a->other == 0,
		    "'%s' gives exactly the %zu matching keys", pat, n);
		free(a);
		free(b);
	}

	a = keys_of(&db, "*");
	ok(a->count == NKEYS + 2 && a->other == 2 && a->dup == 0,
	    "'*' gives every key once, the empty key too (as KEYS *)");
	free(a);
	a = keys_of(&db, "**");
	is_int(a->count, NKEYS + 1, "'**' skips the empty key (as Redis)");
	free(a);
	a = keys_of(&db, "key:?");
	is_int(a->count, 10, "'key:?' gives 10 keys");
	free(a);
	a = keys_of(&db, "key:4[0-2]?9");
	ok(a->count == 30 && a->hit[4009] && a->hit[4299] && !a->hit[4309],
	    "'key:4[0-2]?9' gives 30 keys");
	free(a);
	a = keys_of(&db, "nomatch*");
	is_int(a->count, 0, "'nomatch*' gives nothing");
	free(a);
	a = keys_of(&db, "other");
	ok(a->count == 1 && a->other == 1, "a literal pattern gives its key");
	free(a);

	db_flush(&db);
	is_int(db_size(&db), 0, "flush empties the keyspace");
	a = keys_of(&db, "*");
	is_int(a->count, 0, "no keys after flush");
	free(a);
	ok(sget(&db, "key:1", 5, &n) == NULL, "flushed key is gone");
	is_int(sset(&db, "key:1", 5, "v", 1), 1, "usable after flush");
	db_free(&db);
}

/* db_cron finishes a rehash; flush keeps the counters. */
static void
test_flush_and_cron(void)
{
	struct db db;
	char key[32];
	size_t i, n, used0 = mem_used();
	unsigned long long hits;

	db_init(&db);
	for (i = 0; i < 2400; i++) {
		n = (size_t)snprintf(key, sizeof key, "c:%zu", i);
		sset(&db, key, n, "v", 1);
	}
	/* The 2049th key started a grow that the 3 steps of each later set
	 * (a lookup, a store, a link) have not finished. */
	ok(dict_is_rehashing(db.keys), "a grow is running");
	db_cron(&db, 100);
	ok(!dict_is_rehashing(db.keys), "db_cron finishes it");
	is_int(dict_buckets(db.keys), 4096, "4096 buckets");

	sget(&db, "c:1", 3, &n);
	hits = db.hits;
	db_flush(&db);
	is_int(db.hits, hits, "flush keeps the counters (as FLUSHALL)");
	is_int(db_size(&db), 0, "flushed");
	db_free(&db);
	ok(db.keys == NULL, "db_free clears the pointer");
	is_int(mem_used(), used0, "db_free releases everything");
}

/* Run every db test. */
int
main(void)
{
	test_counters();
	test_types();
	test_expiry();
	test_scan();
	test_scan_stale_once();
	test_clock();
	test_keys();
	test_flush_and_cron();
	return done_testing();
}
