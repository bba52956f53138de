/* SPDX-License-Identifier: MIT */
/* Eviction under maxmemory (see evict.h). */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "clock.h"
#include "dict.h"
#include "evict.h"
#include "mem.h"
#include "object.h"
#include "settings.h"

#define EVICT_SAMPLES_MAX 64        /* samples a round, at most */

void
evict_init(struct evictor *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->policy = MM_NOEVICTION;
	ev->samples = 5;
	ev->tenacity = 10;
}

/* Empty one pool slot. */
static void
evict_clear_slot(struct evict_candidate *c)
{
	mem_free(c->heap);
	c->heap = NULL;
	c->used = 0;
	c->klen = 0;
	c->idle = 0;
}

/* The candidate's key bytes. */
static const char *
evict_key(const struct evict_candidate *c)
{
	return c->heap != NULL ? c->heap : c->inline_key;
}

void
evict_reset(struct evictor *ev)
{
	int i;

	for (i = 0; i < EVICT_POOL_SIZE; i++)
		evict_clear_slot(&ev->pool[i]);
}

void
evict_free(struct evictor *ev)
{
	evict_reset(ev);
}

size_t
evict_over(const struct evictor *ev, size_t used)
{
	if (ev->maxmemory == 0 || used <= ev->maxmemory)
		return 0;
	return (size_t)(used - ev->maxmemory);
}

/* 1 if the policy draws only on keys with a TTL. */
static int
evict_volatile(int policy)
{
	return policy == MM_VOLATILE_LRU || policy == MM_VOLATILE_LFU ||
	    policy == MM_VOLATILE_RANDOM || policy == MM_VOLATILE_TTL;
}

/* How good a victim k is under the policy: higher is better. */
static unsigned long long
evict_score(const struct evictor *ev, const struct db *db, const dbkey *k)
{
	switch (ev->policy) {
	case MM_ALLKEYS_LRU:
	case MM_VOLATILE_LRU:
		return (unsigned long long)obj_lru_idle_ms(db_key_clock(k),
		    db->now);
	case MM_ALLKEYS_LFU:
	case MM_VOLATILE_LFU:
		return 255 - obj_lfu_decayed(db_key_clock(k), db->now,
		    db->lfu_decay_time);
	case MM_VOLATILE_TTL:
		return ULLONG_MAX - (unsigned long long)db_key_expire(k);
	default:
		return 0;
	}
}

/* Take slot j out of the pool, moving the slots right of it one left
 * (the used slots stay together at the left). */
static void
evict_pool_remove(struct evictor *ev, int j)
{
	struct evict_candidate *last = &ev->pool[EVICT_POOL_SIZE - 1];

	evict_clear_slot(&ev->pool[j]);
	memmove(&ev->pool[j], &ev->pool[j + 1],
	    sizeof(ev->pool[0]) * (size_t)(EVICT_POOL_SIZE - j - 1));
	last->heap = NULL;           /* moved left, not to be freed */
	evict_clear_slot(last);
}

/*
 * Put candidate k (score idle) into the pool, kept sorted by idle
 * ascending, if there is room or it beats the worst one held (Redis's
 * evictionPoolPopulate). A key sampled again takes its new score (Redis
 * would hold it twice, once with the old score). Slots move by value, so
 * a slot's inline key moves with it.
 */
static void
evict_pool_insert(struct evictor *ev, const dbkey *k, unsigned long long idle,
    int in_expires)
{
	struct evict_candidate *pool = ev->pool, *c;
	size_t klen;
	const char *key = db_key_name(k, &klen);
	int i = 0, j;

	for (j = 0; j < EVICT_POOL_SIZE; j++)
		if (pool[j].used && pool[j].klen == klen &&
		    pool[j].in_expires == in_expires &&
		    memcmp(evict_key(&pool[j]), key, klen) == 0) {
			if (pool[j].idle == idle)
				return;      /* sampled again, no news */
			evict_pool_remove(ev, j);
			break;
		}
	while (i < EVICT_POOL_SIZE && pool[i].used && pool[i].idle < idle)
		i++;
	if (i == 0 && pool[EVICT_POOL_SIZE - 1].used)
		return;                      /* worse than all, and full */
	if (i < EVICT_POOL_SIZE && !pool[i].used) {
		/* An empty slot where it belongs. */
	} else if (!pool[EVICT_POOL_SIZE - 1].used) {
		/* Room on the right: move i.. one slot right. */
		memmove(&pool[i + 1], &pool[i],
		    sizeof(pool[0]) * (size_t)(EVICT_POOL_SIZE - i - 1));
	} else {
		/* Full: drop the worst (slot 0), move 1..i-1 left. */
		i--;
		evict_clear_slot(&pool[0]);
		memmove(&pool[0], &pool[1], sizeof(pool[0]) * (size_t)i);
	}
	/* Slot i is now a stale copy of a moved one: overwrite it. */
	c = &pool[i];
	c->heap = klen > EVICT_KEY_INLINE ? mem_alloc(klen) : NULL;
	if (klen != 0)
		memcpy(c->heap != NULL ? c->heap : c->inline_key, key, klen);
	c->klen = klen;
	c->idle = idle;
	c->used = 1;
	c->in_expires = in_expires;
}

/* Sample want keys from one table into the pool. */
static void
evict_populate(struct evictor *ev, struct db *db, dict *d, int in_expires,
    unsigned want)
{
	dict_entry *sample[EVICT_SAMPLES_MAX];
	unsigned n, i;

	n = dict_sample(d, sample, want, &db->rng);
	for (i = 0; i < n; i++)
		evict_pool_insert(ev, sample[i], evict_score(ev, db, sample[i]),
		    in_expires);
}

/*
 * Refill the pool with maxmemory-samples keys from a table the policy
 * draws on (db holds a key it may evict). The allkeys policies take all
 * the samples of a round from one table, chosen with the odds of its
 * share of the keys, so every key is as likely to be looked at as in
 * Redis's one table of all keys, and a round samples as Redis does.
 * Sampling both tables alike would look at the smaller table's keys more
 * often and, whenever scores tie (LRU counts seconds, LFU small counters:
 * both tie a lot), evict them more often; splitting the samples between
 * the tables would take fewer keys from each stretch of buckets, and
 * dict_sample, stopping inside a chain, favours the newest keys of a
 * chain the fewer it takes. With half the keys given a TTL, bench
 * workload 6 measured 52% hits sampling both tables alike, 68% splitting
 * the samples, 70% as here and in Redis.
 */
static void
evict_refill(struct evictor *ev, struct db *db)
{
	unsigned want = (unsigned)(ev->samples < 1 ? 1 :
	    ev->samples > EVICT_SAMPLES_MAX ? EVICT_SAMPLES_MAX : ev->samples);

	if (evict_volatile(ev->policy) ||
	    (size_t)(dict_rand(&db->rng) % db_size(db)) >= dict_size(db->keys))
		evict_populate(ev, db, db->expires, 1, want);
	else
		evict_populate(ev, db, db->keys, 0, want);
}

/* The best victim under the policy, or NULL if there is none. */
static dbkey *
evict_pick(struct evictor *ev, struct db *db)
{
	struct evict_candidate *c;
	dbkey *k;
	int i, tries;

	switch (ev->policy) {
	case MM_ALLKEYS_RANDOM:
		return db_size(db) != 0 ? db_random(db) : NULL;
	case MM_VOLATILE_RANDOM:
		return dict_random(db->expires, &db->rng);
	case MM_NOEVICTION:
		return NULL;
	default:
		break;
	}
	for (tries = 0; tries < 16; tries++) {
		if ((evict_volatile(ev->policy) ? db_expires_size(db) :
		    db_size(db)) == 0)
			return NULL;
		evict_refill(ev, db);
		/*
		 * From the best down: the first that still exists (and has
		 * not moved between the tables) and is still as good a victim
		 * as when it was sampled. One used since then (its score is
		 * lower now) goes back in with its new score and the walk
		 * starts over; Redis would evict it on its old score.
		 */
		for (i = EVICT_POOL_SIZE - 1; i >= 0; i--) {
			unsigned long long was, now;
			int in;

			c = &ev->pool[i];
			if (!c->used)
				continue;
			in = c->in_expires;
			was = c->idle;
			k = dict_find(in ? db->expires : db->keys,
			    evict_key(c), c->klen);
			evict_clear_slot(c);
			if (k == NULL)
				continue;
			now = evict_score(ev, db, k);
			if (now >= was)
				return k;
			evict_pool_insert(ev, k, now, in);
			i = EVICT_POOL_SIZE;
		}
	}
	/*
	 * Sampling came back empty-handed every time (a sparse table can do
	 * that): Redis would sample on until it finds a key; a random key
	 * ends the search at once. Refusing a write with OOM while keys
	 * that may go remain would be wrong.
	 */
	if (evict_volatile(ev->policy))
		return dict_random(db->expires, &db->rng);
	return db_size(db) != 0 ? db_random(db) : NULL;
}

/* The time one call may spend evicting, by tenacity (Redis's
 * evictionTimeLimitUs): 50 us per step up to 10, then growing by 15%
 * a step; 100 means no limit. */
static long long
evict_time_limit_us(int tenacity)
{
	double us = 50.0 * 10;
	int i;

	if (tenacity <= 10)
		return 50LL * (tenacity > 0 ? tenacity : 0);
	if (tenacity >= 100)
		return LLONG_MAX;
	for (i = 10; i < tenacity; i++)
		us *= 1.15;
	return (long long)us;
}

enum evict_result
evict_run(struct evictor *ev, struct db *db, size_t (*used)(void))
{
	long long start, limit;
	unsigned long n = 0;
	dbkey *k;

	if (evict_over(ev, used()) == 0)
		return EVICT_OK;
	if (ev->policy == MM_NOEVICTION)
		return EVICT_FAIL;
	start = clock_mono_us();
	limit = evict_time_limit_us(ev->tenacity);
	while (evict_over(ev, used()) > 0) {
		k = evict_pick(ev, db);
		if (k == NULL)
			return EVICT_FAIL;
		db_remove(db, k, DB_REMOVED_EVICTED);
		/* Check the clock every 16 keys, as Redis does. */
		if ((++n & 15) == 0 && clock_mono_us() - start > limit)
			return evict_over(ev, used()) > 0 ? EVICT_RUNNING :
			    EVICT_OK;
	}
	return EVICT_OK;
}
