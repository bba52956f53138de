/* SPDX-License-Identifier: MIT */
/* The active expiry cycle (see expire.h). */
#include "config.h"

#include <string.h>

#include "clock.h"
#include "dict.h"
#include "expire.h"

#define EXPIRE_KEYS_PER_LOOP 20      /* keys sampled per round */
#define EXPIRE_FAST_US 1000          /* a fast cycle's budget */
#define EXPIRE_SLOW_PERC 25          /* share of a tick a slow cycle uses */
#define EXPIRE_ACCEPTABLE_STALE 10   /* % stale that ends the repeats */
#define EXPIRE_BUCKETS_PER_KEY 20    /* buckets visited per wanted key */
#define EXPIRE_BATCH 64              /* keys taken from one cursor step */
#define EXPIRE_MIN_FILL 1            /* % of slots filled below which
                                      * sampling costs more than it
                                      * finds (Redis: the same) */

/* Keys met at one cursor position. */
struct expire_batch {
	dbkey *k[EXPIRE_BATCH];
	int n;
};

static void
expire_collect(const dict_entry *e, void *arg)
{
	struct expire_batch *b = arg;

	if (b->n < EXPIRE_BATCH)
		b->k[b->n++] = (dbkey *)(uintptr_t)e;
}

unsigned long long
expire_cycle(struct expire_cycle *ec, struct db *db, enum expire_kind kind,
    int effort, int hz)
{
	int e = effort < 1 ? 0 : effort > 10 ? 9 : effort - 1;
	unsigned long keys_per_loop = EXPIRE_KEYS_PER_LOOP +
	    EXPIRE_KEYS_PER_LOOP / 4 * e;
	long long fast_us = EXPIRE_FAST_US + EXPIRE_FAST_US / 4 * e;
	int slow_perc = EXPIRE_SLOW_PERC + 2 * e;
	unsigned long acceptable = (unsigned long)(EXPIRE_ACCEPTABLE_STALE - e);
	long long start = clock_mono_us(), limit;
	unsigned long long total_expired = 0, total_sampled = 0;
	unsigned long sampled, expired, buckets, num, iteration = 0;
	long long ttl_sum, ttl_n, ttl;
	struct expire_batch b;
	dict *ds[1] = { db->expires };
	int i, repeat;

	if (kind == EXPIRE_FAST) {
		/* Only when slow cycles keep finding stale keys, and not
		 * twice within one fast cycle's length. */
		if (!ec->timelimit_exit &&
		    ec->stale_perc * 100 < (double)acceptable)
			return 0;
		if (start < ec->last_fast_us + fast_us * 2)
			return 0;
		ec->last_fast_us = start;
		limit = fast_us;
	} else {
		if (hz < 1)
			hz = 1;
		limit = (long long)slow_perc * 1000000 / hz / 100;
		if (limit <= 0)
			limit = 1;
	}
	ec->timelimit_exit = 0;
	db->now = clock_wall_ms();

	do {
		num = (unsigned long)dict_size(db->expires);
		if (num == 0)
			break;
		if (dict_buckets(db->expires) > 64 &&
		    num * 100 / dict_buckets(db->expires) < EXPIRE_MIN_FILL)
			break;
		if (num > keys_per_loop)
			num = keys_per_loop;
		sampled = expired = buckets = 0;
		ttl_sum = ttl_n = 0;
		while (sampled < num && buckets < num * EXPIRE_BUCKETS_PER_KEY) {
			b.n = 0;
			ec->cursor = dict_scan(ds, 1, ec->cursor,
			    expire_collect, &b);
			buckets++;
			for (i = 0; i < b.n; i++) {
				ttl = db_key_expire(b.k[i]) - db->now;
				sampled++;
				if (db_expire_if_due(db, b.k[i]))
					expired++;
				else if (ttl > 0) {
					ttl_sum += ttl;
					ttl_n++;
				}
			}
			if (ec->cursor == 0)
				break;         /* a whole pass: start again */
		}
		total_expired += expired;
		total_sampled += sampled;
		if (ttl_n > 0) {
			long long avg = ttl_sum / ttl_n;

			/* A running average over the last 50 samplings. */
			ec->avg_ttl = ec->avg_ttl == 0 ? avg :
			    ec->avg_ttl / 50 * 49 + avg / 50;
		}
		if ((++iteration & 15) == 0 &&
		    clock_mono_us() - start > limit) {
			ec->timelimit_exit = 1;
			ec->time_cap++;
			break;
		}
		repeat = sampled == 0 || expired * 100 / sampled > acceptable;
	} while (repeat);

	ec->used_us += clock_mono_us() - start;
	ec->stale_perc = (total_sampled != 0 ?
	    (double)total_expired / (double)total_sampled : 0) * 0.05 +
	    ec->stale_perc * 0.95;
	if (dict_size(db->expires) == 0)
		ec->avg_ttl = 0;
	return total_expired;
}
