/* SPDX-License-Identifier: MIT */
/* The active expiry cycle (see expire.h). */
#include "config.h"

#include <limits.h>
#include <string.h>

#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include "clock.h"
#include "dict.h"
#include "expire.h"
#include "mem.h"

#define EXPIRE_KEYS_PER_LOOP 20      /* keys a round at effort 1 (Redis) */
#define EXPIRE_FAST_US 1000          /* a fast cycle's budget (Redis) */
#define EXPIRE_SLOW_PERC 25          /* % of a tick a slow cycle may use */
#define EXPIRE_ACCEPTABLE_STALE 10   /* % stale in a round that ends it */
#define EXPIRE_BUCKETS_PER_KEY 20    /* buckets looked at per wanted key */
#define EXPIRE_BATCH 64              /* keys taken from one bucket */
#define EXPIRE_TTL_MAX (LLONG_MAX / 256) /* a TTL counts as at most this
                                      * much (1,140 years) in avg_ttl, so
                                      * the sum of a round's (fewer than
                                      * 256 keys) cannot overflow */
#define EXPIRE_MIN_SLOTS 4           /* a table this small is always
                                      * walked (Redis: its initial size) */
#define EXPIRE_MIN_FILL 1            /* % of buckets filled below which a
                                      * walk costs more than it finds
                                      * (Redis's rule; db_cron shrinks
                                      * such a table) */
#define EXPIRE_TRIM_MIN (16u << 10)  /* bytes freed before a trim pays */
#define EXPIRE_TRIM_SHARE 8          /* ... and 1/8 of what is in use */

/* The knobs of one active-expire-effort level, as Redis derives them. */
struct expire_knobs {
	unsigned long keys_per_loop; /* keys a round */
	unsigned long acceptable;    /* % stale in a round that ends it */
	long long fast_us;           /* a fast cycle's budget */
	int slow_perc;               /* % of a tick for a slow cycle */
};

/* What one round saw. */
struct expire_round {
	unsigned long sampled;       /* keys looked at */
	unsigned long expired;       /* of which stale, now gone */
	long long ttl_sum;           /* ms left, summed over the live ones */
	long long ttl_n;             /* live ones with time left */
};

/* Keys met at one cursor position. */
struct expire_batch {
	dbkey *k[EXPIRE_BATCH];
	int n;
};

/* The knobs for effort (1-10; out of range is clamped). */
static void
expire_knobs(int effort, struct expire_knobs *k)
{
	int e = effort < 1 ? 0 : effort > 10 ? 9 : effort - 1;

	k->keys_per_loop = EXPIRE_KEYS_PER_LOOP +
	    EXPIRE_KEYS_PER_LOOP / 4 * (unsigned long)e;
	k->acceptable = (unsigned long)(EXPIRE_ACCEPTABLE_STALE - e);
	k->fast_us = EXPIRE_FAST_US + EXPIRE_FAST_US / 4 * e;
	k->slow_perc = EXPIRE_SLOW_PERC + 2 * e;
}

/* dict_scan callback: keep the entry for the round. */
static void
expire_collect(const dict_entry *e, void *arg)
{
	struct expire_batch *b = arg;

	if (b->n < EXPIRE_BATCH)
		b->k[b->n++] = (dbkey *)(uintptr_t)e;
}

/*
 * One round: look at the buckets from the cursor on until num keys were
 * seen, or num * EXPIRE_BUCKETS_PER_KEY buckets (at most a whole table)
 * were, expiring the stale keys; r gets what was seen.
 *
 * dict_scan visits the buckets at cursor & mask of every table, whatever
 * the cursor's value: stepping the cursor by one walks the buckets in
 * memory order, as Redis's expires_cursor does, which the cache and the
 * prefetcher like far better than SCAN's reversed order (the walk is
 * bound by memory latency). SCAN's promise to report every key across a
 * resize is not needed here: a key missed goes on the next pass.
 */
static void
expire_round(struct expire_cycle *ec, struct db *db, unsigned long num,
    struct expire_round *r)
{
	dict *d = db->expires;
	size_t buckets = 0, max = num * EXPIRE_BUCKETS_PER_KEY;
	struct expire_batch b;
	long long ttl;
	int i;

	memset(r, 0, sizeof(*r));
	if (max > dict_buckets(d))
		max = dict_buckets(d);
	while (r->sampled < num && buckets < max) {
		b.n = 0;
		(void)dict_scan(&d, 1, ec->cursor++, expire_collect, &b);
		buckets++;
		for (i = 0; i < b.n; i++) {
			ttl = db_key_expire(b.k[i]) - db->now;
			r->sampled++;
			if (db_expire_if_due(db, b.k[i]))
				r->expired++;
			else if (ttl > 0) {
				r->ttl_sum += ttl < EXPIRE_TTL_MAX ? ttl :
				    EXPIRE_TTL_MAX;
				r->ttl_n++;
			}
		}
	}
}

/*
 * Account the bytes a cycle freed (heap use was before at its start) and,
 * once a burst is over (done) and an eighth of what is still in use was
 * freed since the last time, hand the free pages back to the system.
 * glibc keeps freed small blocks for reuse and returns only the top of
 * the heap by itself; keys expire in hash order, all over the heap, so
 * without this the process would stay at its peak size after the keys
 * are gone. The share, not a fixed amount, decides: the last few keys of
 * a burst pin a page each, so their going must trim too, while a large
 * heap (whose trim walks more free blocks) is trimmed less often.
 */
static void
expire_trim(struct expire_cycle *ec, size_t before, int done)
{
	size_t now = mem_used();

	if (before > now)
		ec->freed += before - now;
	if (!done || ec->freed < EXPIRE_TRIM_MIN ||
	    ec->freed < now / EXPIRE_TRIM_SHARE)
		return;
	ec->freed = 0;
#ifdef HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

unsigned long long
expire_cycle(struct expire_cycle *ec, struct db *db, enum expire_kind kind,
    int effort, int hz)
{
	long long start = clock_mono_us(), limit, avg;
	unsigned long long total_expired = 0, total_sampled = 0;
	unsigned long num, iteration = 0;
	size_t used = mem_used();
	struct expire_knobs k;
	struct expire_round r;
	double perc;

	expire_knobs(effort, &k);
	if (kind == EXPIRE_FAST) {
		/*
		 * Redis 7.0 means to run a fast cycle also while the stale
		 * share is high, but compares a fraction with a percentage,
		 * so in fact it runs one only after a cycle ran out of time.
		 * So do we: both servers then reclaim at the same pace, and
		 * a steady stale share of a few percent costs no more than
		 * the slow cycle's slice. Never twice within two budgets.
		 */
		if (!ec->timelimit_exit ||
		    start < ec->last_fast_us + k.fast_us * 2)
			return 0;
		ec->last_fast_us = start;
		limit = k.fast_us;
	} else {
		limit = (long long)k.slow_perc * 1000000 / (hz < 1 ? 1 : hz) /
		    100;
		if (limit <= 0)
			limit = 1;
	}
	ec->timelimit_exit = 0;
	db->now = clock_wall_ms();

	do {
		num = (unsigned long)dict_size(db->expires);
		if (num == 0) {
			ec->avg_ttl = 0;
			break;
		}
		if (dict_buckets(db->expires) > EXPIRE_MIN_SLOTS &&
		    num * 100 / dict_buckets(db->expires) < EXPIRE_MIN_FILL)
			break;
		if (num > k.keys_per_loop)
			num = k.keys_per_loop;
		expire_round(ec, db, num, &r);
		total_expired += r.expired;
		total_sampled += r.sampled;
		if (r.ttl_n > 0) {
			/* A running average over about the last 50 rounds,
			 * seeded with the first (Redis's db->avg_ttl). */
			avg = r.ttl_sum / r.ttl_n;
			if (ec->avg_ttl == 0)
				ec->avg_ttl = avg;
			ec->avg_ttl = ec->avg_ttl / 50 * 49 + avg / 50;
		}
		if ((++iteration & 15) == 0 &&
		    clock_mono_us() - start > limit) {
			ec->timelimit_exit = 1;
			ec->time_cap++;
			break;
		}
	} while (r.sampled == 0 || r.expired * 100 / r.sampled > k.acceptable);

	ec->used_us += clock_mono_us() - start;
	perc = total_sampled != 0 ?
	    (double)total_expired / (double)total_sampled : 0;
	ec->stale_perc = perc * 0.05 + ec->stale_perc * 0.95;
	expire_trim(ec, used, kind == EXPIRE_SLOW && !ec->timelimit_exit);
	return total_expired;
}
