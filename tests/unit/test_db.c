/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for db.c: hit/miss counting, db_take, db_keys (the "prefix*"
 * fast path against the general matcher), flush and idle-time rehash.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dict.h"
#include "glob.h"
#include "mem.h"
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

/* keyspace hits and misses: which calls count and which do not. */
static void
test_counters(void)
{
	struct db db;
	const char *v;
	size_t vlen = 99;
	dict_entry *e;

	db_init(&db);
	is_int(db.hits, 0, "no hits yet");
	is_int(db.misses, 0, "no misses yet");
	ok(db_get(&db, "a", 1, &vlen) == NULL, "get of a missing key");
	is_int(db.misses, 1, "a miss counted");
	is_int(db_set(&db, "a", 1, "x\0y", 3), 1, "set new -> 1");
	is_int(db_set(&db, "a", 1, "x\0yz", 4), 0, "set existing -> 0");
	v = db_get(&db, "a", 1, &vlen);
	ok(v != NULL && vlen == 4 && memcmp(v, "x\0yz", 4) == 0,
	    "get returns the binary value");
	is_int(db.hits, 1, "a hit counted");
	is_int(db_exists(&db, "a", 1), 1, "exists -> 1");
	is_int(db_exists(&db, "b", 1), 0, "exists on missing -> 0");
	ok(db.hits == 1 && db.misses == 1, "exists counts nothing");

	e = db_take(&db, "a", 1);
	ok(e != NULL, "take returns the entry");
	if (e != NULL) {
		v = dict_entry_val(e, &vlen);
		ok(vlen == 4 && memcmp(v, "x\0yz", 4) == 0,
		    "taken entry holds the value");
		dict_entry_free(e);
	}
	is_int(db.hits, 2, "take counts a hit");
	is_int(db_exists(&db, "a", 1), 0, "taken key is gone");
	ok(db_take(&db, "a", 1) == NULL, "take again -> NULL");
	is_int(db.misses, 2, "take of a missing key counts a miss");
	is_int(db_size(&db), 0, "empty");

	db_set(&db, "d", 1, "", 0);
	v = db_get(&db, "d", 1, &vlen);
	ok(v != NULL && vlen == 0, "empty value is a hit, not a miss");
	is_int(db_delete(&db, "d", 1), 1, "delete -> 1");
	is_int(db_delete(&db, "d", 1), 0, "delete again -> 0");
	ok(db.hits == 3 && db.misses == 2, "delete counts nothing");
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
		db_set(&db, key, n, key, n);
	}
	db_set(&db, "other", 5, "", 0);
	db_set(&db, "", 0, "empty key", 9);
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
	ok(db_get(&db, "key:1", 5, &n) == NULL, "flushed key is gone");
	is_int(db_set(&db, "key:1", 5, "v", 1), 1, "usable after flush");
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
	for (i = 0; i < 3000; i++) {
		n = (size_t)snprintf(key, sizeof key, "c:%zu", i);
		db_set(&db, key, n, "v", 1);
	}
	/* The 2049th key started a grow that later sets have not finished. */
	ok(dict_is_rehashing(db.keys), "a grow is running");
	db_cron(&db, 100);
	ok(!dict_is_rehashing(db.keys), "db_cron finishes it");
	is_int(dict_buckets(db.keys), 4096, "4096 buckets");

	db_get(&db, "c:1", 3, &n);
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
	test_keys();
	test_flush_and_cron();
	return done_testing();
}
