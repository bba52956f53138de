/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for evict.c over a hand-built keyspace with a fixed clock:
 * the pool's order, replacement and refresh, each policy's choice, the
 * tables volatile-* may touch, tenacity's time limit, and EVICT_FAIL when
 * nothing can go. Memory is counted as KEY_BYTES per key, so "maxmemory
 * of n keys" keeps n keys.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "dict.h"
#include "evict.h"
#include "mem.h"
#include "object.h"
#include "settings.h"
#include "tap.h"

#define T0 1700000000000LL         /* the fixed clock, ms */
#define HOUR 3600000LL
#define KEY_BYTES 100              /* what one key counts as */

static struct db *counted;         /* the keyspace used_bytes measures */
static unsigned long removed_evicted;  /* on_remove calls, by reason */
static unsigned long removed_other;

/* The evictor's view of memory: KEY_BYTES per key of *counted. */
static size_t
used_bytes(void)
{
	return db_size(counted) * KEY_BYTES;
}

/* on_remove hook: count the removals by reason. */
static void
on_remove(void *arg, const char *key, size_t klen, enum db_removal why)
{
	(void)arg;
	(void)key;
	(void)klen;
	if (why == DB_REMOVED_EVICTED)
		removed_evicted++;
	else
		removed_other++;
}

/* A fresh keyspace at T0, counted by used_bytes. */
static void
setup(struct db *db, int lfu)
{
	db_init(db);
	db->now = T0;
	db->lfu = lfu;
	db->on_remove = on_remove;
	counted = db;
	removed_evicted = removed_other = 0;
}

/* An evictor for policy that keeps keep keys, sampling every key (so the
 * choice is exact) and never running out of time. */
static void
evictor(struct evictor *ev, int policy, size_t keep)
{
	evict_init(ev);
	ev->policy = policy;
	ev->maxmemory = keep * KEY_BYTES;
	ev->samples = 64;
	ev->tenacity = 100;
}

/* Add a string key, with an absolute expire time or DB_EXPIRE_NONE. */
static void
add(struct db *db, const char *name, long long expire)
{
	db_set(db, name, strlen(name), OBJ_STRING, OBJ_ENC_EMBSTR, "v", 1,
	    expire);
}

/* Give key name the access clock c. */
static void
set_clock(struct db *db, const char *name, unsigned c)
{
	dbkey *k = db_find(db, name, strlen(name), DB_NOSTATS | DB_NOTOUCH);

	dict_entry_set_meta(k, obj_meta_with_clock(dict_entry_meta(k), c));
}

/* The LRU clock of a key idle for idle_s seconds at T0. */
static unsigned
lru_idle(long long idle_s)
{
	return obj_lru_clock(T0 - idle_s * 1000);
}

/* The LFU clock of a key with counter n, last decremented min minutes
 * before T0. */
static unsigned
lfu_counter(unsigned n, long long min)
{
	return (obj_lfu_new(T0 - min * 60000) & ~255u) | n;
}

/* 1 if name exists (nothing counted, nothing touched). */
static int
exists(struct db *db, const char *name)
{
	return db_find(db, name, strlen(name), DB_NOSTATS | DB_NOTOUCH) !=
	    NULL;
}

/* "k<i>" into buf. */
static const char *
kname(char *buf, size_t size, int i)
{
	snprintf(buf, size, "k%02d", i);
	return buf;
}

/* 1 if exactly the keys k<lo>..k<hi> of k<0>..k<n-1> are gone. */
static int
gone_exactly(struct db *db, int n, int lo, int hi)
{
	char buf[16];
	int i;

	for (i = 0; i < n; i++)
		if (exists(db, kname(buf, sizeof buf, i)) == (i >= lo &&
		    i <= hi))
			return 0;
	return 1;
}

/* noeviction refuses, the limit and evict_over behave, nothing goes. */
static void
test_noeviction(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i;

	setup(&db, 0);
	for (i = 0; i < 5; i++)
		add(&db, kname(buf, sizeof buf, i), DB_EXPIRE_NONE);
	evictor(&ev, MM_NOEVICTION, 3);
	is_int(evict_over(&ev, used_bytes()), 2 * KEY_BYTES,
	    "evict_over: the bytes over the limit");
	is_int(evict_run(&ev, &db, used_bytes), EVICT_FAIL,
	    "noeviction over the limit: EVICT_FAIL");
	is_int(db_size(&db), 5, "noeviction removes nothing");
	ev.maxmemory = 5 * KEY_BYTES;
	is_int(evict_over(&ev, used_bytes()), 0, "at the limit: not over");
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK,
	    "at the limit: EVICT_OK");
	ev.maxmemory = 0;
	is_int(evict_over(&ev, 1 << 30), 0, "maxmemory 0: no limit");
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "no limit: OK");
	is_int(db.evicted, 0, "evicted_keys stays 0");
	evict_free(&ev);
	db_free(&db);
}

/* allkeys-lru takes the longest idle first. */
static void
test_allkeys_lru(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i;

	setup(&db, 0);
	for (i = 0; i < 20; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, DB_EXPIRE_NONE);
		set_clock(&db, buf, lru_idle(i));
	}
	evictor(&ev, MM_ALLKEYS_LRU, 15);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK,
	    "allkeys-lru: under the limit again");
	ok(gone_exactly(&db, 20, 15, 19), "allkeys-lru: the 5 longest idle went");
	is_int(db.evicted, 5, "evicted_keys counts them");
	is_int(removed_evicted, 5, "the on_remove hook heard of each");
	is_int(removed_other, 0, "as evicted, not expired");
	evict_free(&ev);
	db_free(&db);
}

/*
 * The allkeys policies draw on both tables, each key as likely to be
 * looked at as any other: with every score tied, the keys with a TTL (a
 * tenth of all) make about a tenth of the victims. Sampling each table
 * alike would make them about half.
 */
static void
test_allkeys_both_tables(void)
{
	static const int policies[] = { MM_ALLKEYS_LRU, MM_ALLKEYS_LFU };
	struct evictor ev;
	struct db db;
	char buf[16];
	unsigned long ttl_gone;
	int i, p, policy;

	for (p = 0; p < 2; p++) {
		policy = policies[p];
		setup(&db, policy == MM_ALLKEYS_LFU);
		for (i = 0; i < 2000; i++) {
			snprintf(buf, sizeof buf, "b%d", i);
			add(&db, buf, i % 10 == 0 ? T0 + HOUR : DB_EXPIRE_NONE);
		}
		evictor(&ev, policy, 1000);
		ev.samples = 5;
		is_int(evict_run(&ev, &db, used_bytes), EVICT_OK,
		    "%s: down to the limit", policy == MM_ALLKEYS_LRU ?
		    "allkeys-lru" : "allkeys-lfu");
		ttl_gone = 200 - db_expires_size(&db);
		ok(ttl_gone >= 50 && ttl_gone <= 150,
		    "ties: keys with a TTL are %lu of 1000 victims (100 "
		    "expected)", ttl_gone);
		evict_free(&ev);
		db_free(&db);
	}

	/* The oldest keys of both tables go. */
	setup(&db, 0);
	for (i = 0; i < 40; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, i % 2 ? T0 + HOUR : DB_EXPIRE_NONE);
		set_clock(&db, buf, lru_idle(i < 4 ? 1000 + i : i));
	}
	evictor(&ev, MM_ALLKEYS_LRU, 30);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "40 keys, keep 30");
	ok(!exists(&db, "k00") && !exists(&db, "k01") && !exists(&db, "k02") &&
	    !exists(&db, "k03"), "the 4 oldest, 2 from each table, went");
	evict_free(&ev);
	db_free(&db);
}

/* Used pool slots are sorted by idle, ascending, with no key twice. */
static int
pool_sorted(const struct evictor *ev)
{
	unsigned long long last = 0;
	int i, j;

	for (i = 0; i < EVICT_POOL_SIZE; i++) {
		if (!ev->pool[i].used)
			continue;
		if (ev->pool[i].idle < last)
			return 0;
		last = ev->pool[i].idle;
		for (j = i + 1; j < EVICT_POOL_SIZE; j++)
			if (ev->pool[j].used &&
			    ev->pool[j].klen == ev->pool[i].klen &&
			    memcmp(ev->pool[j].heap != NULL ? ev->pool[j].heap :
			    ev->pool[j].inline_key, ev->pool[i].heap != NULL ?
			    ev->pool[i].heap : ev->pool[i].inline_key,
			    ev->pool[i].klen) == 0)
				return 0;
	}
	return 1;
}

/* How many pool slots hold a candidate. */
static int
pool_used(const struct evictor *ev)
{
	int i, n = 0;

	for (i = 0; i < EVICT_POOL_SIZE; i++)
		n += ev->pool[i].used;
	return n;
}

/*
 * The pool: it keeps the best EVICT_POOL_SIZE candidates seen, in order,
 * drops the worst for a better one, never holds a key twice, and checks a
 * candidate again before evicting it (a key used since it was sampled
 * goes back in with its new score).
 */
static void
test_pool(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i, ok_idle = 1;

	setup(&db, 0);
	for (i = 1; i <= 40; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, DB_EXPIRE_NONE);
		set_clock(&db, buf, lru_idle(i));
	}
	evictor(&ev, MM_ALLKEYS_LRU, 39);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "one key over");
	ok(!exists(&db, "k40"), "the longest idle key went");
	is_int(pool_used(&ev), EVICT_POOL_SIZE - 1,
	    "the pool keeps the other best candidates");
	ok(pool_sorted(&ev), "the pool is sorted by idle, no key twice");
	for (i = 0; i < EVICT_POOL_SIZE - 1; i++)
		if (ev.pool[i].idle != (unsigned long long)(40 -
		    EVICT_POOL_SIZE + 1 + i) * 1000)
			ok_idle = 0;
	ok(ok_idle, "they are the next best: idle 25..39 s, in order");

	/* A better key arrives: it goes in, the worst goes out. */
	add(&db, "new", DB_EXPIRE_NONE);
	set_clock(&db, "new", lru_idle(100));
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "over again");
	ok(!exists(&db, "new") && exists(&db, "k39"),
	    "the better candidate was taken first");
	ok(pool_sorted(&ev), "still sorted, no key twice");

	/* k39 is used now: checked again, it is not evicted. */
	set_clock(&db, "k39", lru_idle(0));
	add(&db, "k99", DB_EXPIRE_NONE);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "over again");
	ok(exists(&db, "k39") && !exists(&db, "k38"),
	    "a candidate used since it was sampled stays; the next goes");
	ok(pool_sorted(&ev), "still sorted after the refresh");

	/* A key gone by other means is skipped. */
	db_delete(&db, "k37", 3);
	add(&db, "k98", DB_EXPIRE_NONE);
	ev.maxmemory = 38 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "over again");
	ok(!exists(&db, "k36") && exists(&db, "k98"),
	    "a deleted candidate is skipped, the next best goes");
	evict_reset(&ev);
	is_int(pool_used(&ev), 0, "evict_reset empties the pool");
	evict_free(&ev);
	db_free(&db);
}

/* A key name of 3 * EVICT_KEY_INLINE bytes: "L<i>" then x's. */
static const char *
long_name(char *buf, int i)
{
	char head[16];
	int n = snprintf(head, sizeof head, "L%03d", i);

	memset(buf, 'x', EVICT_KEY_INLINE * 3);
	memcpy(buf, head, (size_t)n);
	buf[EVICT_KEY_INLINE * 3] = '\0';
	return buf;
}

/* Candidates with keys too long to keep inline. */
static void
test_long_keys(void)
{
	struct evictor ev;
	struct db db;
	char name[EVICT_KEY_INLINE * 3 + 1];
	size_t before = mem_used();
	int i;

	setup(&db, 0);
	for (i = 0; i < 30; i++) {
		add(&db, long_name(name, i), DB_EXPIRE_NONE);
		set_clock(&db, name, lru_idle(i));
	}
	evictor(&ev, MM_ALLKEYS_LRU, 27);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "long keys");
	ok(!exists(&db, long_name(name, 29)) && !exists(&db, long_name(name,
	    27)), "the longest idle long keys went");
	ok(exists(&db, long_name(name, 26)), "the fourth longest stays");
	ok(pool_sorted(&ev), "long keys compare by their whole name");
	evict_free(&ev);
	db_free(&db);
	is_int(mem_used(), before, "pool and keyspace memory all returned");
}

/* volatile-lru: only keys with a TTL, however idle the others are. */
static void
test_volatile_lru(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i, kept = 1;

	setup(&db, 0);
	for (i = 0; i < 20; i++) {
		kname(buf, sizeof buf, i);
		/* The 10 most idle keys have no TTL. */
		add(&db, buf, i < 10 ? T0 + HOUR : DB_EXPIRE_NONE);
		set_clock(&db, buf, lru_idle(i));
	}
	evictor(&ev, MM_VOLATILE_LRU, 17);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "volatile-lru");
	ok(gone_exactly(&db, 20, 7, 9),
	    "the 3 most idle keys with a TTL went, none without");
	ev.maxmemory = 5 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_FAIL,
	    "only keys without a TTL left: EVICT_FAIL");
	for (i = 10; i < 20; i++)
		kept &= exists(&db, kname(buf, sizeof buf, i));
	ok(kept && db_size(&db) == 10 && db_expires_size(&db) == 0,
	    "every key with a TTL went, every key without stayed");
	evict_free(&ev);
	db_free(&db);
}

/* LFU: the lowest counter first, after decay; volatile-lfu keeps keys
 * without a TTL. */
static void
test_lfu(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i;

	setup(&db, 1);
	for (i = 0; i < 20; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, DB_EXPIRE_NONE);
		set_clock(&db, buf, lfu_counter(40 - (unsigned)i, 0));
	}
	/* k00 used often long ago: 30 minutes of decay (1 a minute). */
	set_clock(&db, "k00", lfu_counter(40, 30));
	evictor(&ev, MM_ALLKEYS_LFU, 16);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "allkeys-lfu");
	ok(!exists(&db, "k00") && !exists(&db, "k19") &&
	    !exists(&db, "k18") && !exists(&db, "k17") &&
	    exists(&db, "k16") && db_size(&db) == 16,
	    "the decayed key and the 3 least used went");
	evict_free(&ev);
	db_free(&db);

	setup(&db, 1);
	for (i = 0; i < 20; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, i % 2 ? T0 + HOUR : DB_EXPIRE_NONE);
		set_clock(&db, buf, lfu_counter(40 - (unsigned)i, 0));
	}
	evictor(&ev, MM_VOLATILE_LFU, 17);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "volatile-lfu");
	ok(!exists(&db, "k19") && !exists(&db, "k17") &&
	    !exists(&db, "k15") && exists(&db, "k18") && exists(&db, "k13"),
	    "the 3 least used keys with a TTL went");
	db.lfu_decay_time = 0;
	set_clock(&db, "k01", lfu_counter(30, 600));
	set_clock(&db, "k13", lfu_counter(1, 0));
	ev.maxmemory = 16 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "decay off");
	ok(exists(&db, "k01") && !exists(&db, "k13"),
	    "lfu-decay-time 0: an old counter does not decay");
	evict_free(&ev);
	db_free(&db);
}

/* volatile-ttl: the nearest expiry first; keys without a TTL stay. */
static void
test_volatile_ttl(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i;

	setup(&db, 0);
	for (i = 0; i < 20; i++) {
		kname(buf, sizeof buf, i);
		add(&db, buf, i < 15 ? T0 + (20 - i) * 1000LL : DB_EXPIRE_NONE);
		set_clock(&db, buf, lru_idle(100 - i));
	}
	evictor(&ev, MM_VOLATILE_TTL, 16);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "volatile-ttl");
	ok(gone_exactly(&db, 20, 11, 14),
	    "the 4 keys nearest their expiry went");
	ev.maxmemory = 2 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_FAIL,
	    "only keys without a TTL left: EVICT_FAIL");
	is_int(db_size(&db), 5, "the 5 keys without a TTL stay");
	evict_free(&ev);
	db_free(&db);
}

/* The random policies: allkeys-random takes any key, volatile-random
 * only keys with a TTL; both reach the limit. */
static void
test_random(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	int i, round, hit[40], every = 1;

	memset(hit, 0, sizeof(hit));
	for (round = 0; round < 50; round++) {
		setup(&db, 0);
		db.rng += (uint64_t)round * 7919;
		for (i = 0; i < 40; i++)
			add(&db, kname(buf, sizeof buf, i), DB_EXPIRE_NONE);
		evictor(&ev, MM_ALLKEYS_RANDOM, 30);
		if (evict_run(&ev, &db, used_bytes) != EVICT_OK ||
		    db_size(&db) != 30)
			every = 0;
		for (i = 0; i < 40; i++)
			hit[i] += !exists(&db, kname(buf, sizeof buf, i));
		evict_free(&ev);
		db_free(&db);
	}
	ok(every, "allkeys-random: down to the limit every time");
	for (i = 0; i < 40; i++)
		if (hit[i] == 0 || hit[i] > 35)
			every = 0;
	ok(every, "allkeys-random: every key is a victim sometimes, none "
	    "always (500 evictions over 40 keys)");

	setup(&db, 0);
	for (i = 0; i < 40; i++)
		add(&db, kname(buf, sizeof buf, i),
		    i < 20 ? T0 + HOUR : DB_EXPIRE_NONE);
	evictor(&ev, MM_VOLATILE_RANDOM, 25);
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK, "volatile-random");
	ok(db_expires_size(&db) == 5 && db_size(&db) == 25,
	    "volatile-random took 15 keys with a TTL, none without");
	ev.maxmemory = 10 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_FAIL,
	    "volatile-random with no TTL left: EVICT_FAIL");
	is_int(db_size(&db), 20, "the 20 keys without a TTL stay");
	evict_free(&ev);
	db_free(&db);
}

/* Nothing to evict at all: EVICT_FAIL under every policy but none. */
static void
test_empty(void)
{
	static const int policies[] = {
		MM_VOLATILE_LRU, MM_VOLATILE_LFU, MM_VOLATILE_RANDOM,
		MM_VOLATILE_TTL, MM_ALLKEYS_LRU, MM_ALLKEYS_LFU,
		MM_ALLKEYS_RANDOM, MM_NOEVICTION,
	};
	struct evictor ev;
	struct db db;
	size_t i;
	int all = 1;

	setup(&db, 0);
	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		evictor(&ev, policies[i], 0);
		ev.maxmemory = 1;
		/* Over the limit with no keys: something else holds it. */
		if (evict_run(&ev, &db, mem_used) != EVICT_FAIL)
			all = 0;
		evict_free(&ev);
	}
	ok(all, "an empty keyspace over the limit: EVICT_FAIL, every policy");
	db_free(&db);
}

/*
 * Tenacity bounds the time one call spends: at 0 a call stops after the
 * first 16 keys (the clock is read every 16) with EVICT_RUNNING, and
 * later calls go on; at 100 one call does it all.
 */
static void
test_tenacity(void)
{
	struct evictor ev;
	struct db db;
	char buf[16];
	enum evict_result r;
	int i, calls = 0;

	setup(&db, 0);
	for (i = 0; i < 3000; i++) {
		snprintf(buf, sizeof buf, "t%d", i);
		add(&db, buf, DB_EXPIRE_NONE);
	}
	evictor(&ev, MM_ALLKEYS_LRU, 100);
	ev.samples = 5;
	ev.tenacity = 0;
	r = evict_run(&ev, &db, used_bytes);
	is_int(r, EVICT_RUNNING, "tenacity 0: out of time, still over");
	ok(db.evicted >= 16 && db.evicted % 16 == 0 && db.evicted < 2900,
	    "tenacity 0: stopped at a check of the clock (%llu keys)",
	    db.evicted);
	do {
		r = evict_run(&ev, &db, used_bytes);
		calls++;
	} while (r == EVICT_RUNNING && calls < 10000);
	is_int(r, EVICT_OK, "later calls finish the work");
	is_int(db_size(&db), 100, "down to the limit");
	ev.tenacity = 100;
	ev.maxmemory = 10 * KEY_BYTES;
	is_int(evict_run(&ev, &db, used_bytes), EVICT_OK,
	    "tenacity 100: one call does it all");
	is_int(db_size(&db), 10, "down to the new limit");
	evict_free(&ev);
	db_free(&db);
}

int
main(void)
{
	test_noeviction();
	test_allkeys_lru();
	test_allkeys_both_tables();
	test_pool();
	test_long_keys();
	test_volatile_lru();
	test_lfu();
	test_volatile_ttl();
	test_random();
	test_empty();
	test_tenacity();
	return done_testing();
}
