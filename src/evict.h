/* SPDX-License-Identifier: MIT */
/*
 * maxmemory: before a command runs while used memory is over the limit,
 * keys are evicted by the maxmemory-policy, as Redis's evict.c does. The
 * LRU and LFU policies keep a pool of the 16 best candidates seen so far,
 * refilled each round with maxmemory-samples keys sampled from a table
 * the policy draws on, chosen by its share of the keys (so the
 * approximation improves with every eviction and favours no table), and
 * check a candidate's score again before evicting it (a key used since
 * it was sampled is kept); the random policies pick at random;
 * volatile-ttl prefers the keys closest to expiring; volatile-* never
 * touch a key without a TTL.
 */
#ifndef TMC_EVICT_H
#define TMC_EVICT_H

#include <stddef.h>

#include "db.h"

#define EVICT_POOL_SIZE 16          /* candidates kept (Redis) */
#define EVICT_KEY_INLINE 48         /* key bytes kept without a malloc */

enum evict_result {
	EVICT_OK,                   /* under the limit (or no limit) */
	EVICT_RUNNING,              /* still over, out of time this round:
	                             * the cron goes on evicting */
	EVICT_FAIL,                 /* over, and nothing can be evicted */
};

/* One candidate: the key's name and how good a victim it is. */
struct evict_candidate {
	unsigned long long idle;    /* higher: evicted first */
	int used;                   /* the slot holds a candidate */
	int in_expires;             /* sampled from the keys with a TTL */
	size_t klen;
	char *heap;                 /* the key, if over EVICT_KEY_INLINE */
	char inline_key[EVICT_KEY_INLINE]; /* else the key */
};

struct evictor {
	struct evict_candidate pool[EVICT_POOL_SIZE]; /* idle ascending */
	int policy;                 /* enum maxmemory_policy */
	unsigned long long maxmemory; /* bytes; 0: none */
	int samples;                /* maxmemory-samples */
	int tenacity;               /* maxmemory-eviction-tenacity */
};

void evict_init(struct evictor *ev);
void evict_free(struct evictor *ev);

/* Forget the candidates (after FLUSHALL, or a policy change). */
void evict_reset(struct evictor *ev);

/*
 * Evict keys from db until used memory (used() bytes) is at or under
 * the limit, or the time allowed by tenacity runs out. db->now must be
 * set. Returns EVICT_OK, EVICT_RUNNING or EVICT_FAIL.
 */
enum evict_result evict_run(struct evictor *ev, struct db *db,
    size_t (*used)(void));

/* The number of bytes over the limit now (0 if under or no limit). */
size_t evict_over(const struct evictor *ev, size_t used);

#endif
