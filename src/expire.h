/* SPDX-License-Identifier: MIT */
/*
 * The active expiry cycle: reclaims keys whose time has passed even when
 * nobody touches them (lookups expire the ones they meet; see db.h). As
 * in Redis 7.0's expire.c, a slow cycle runs from the cron (hz times a
 * second) within a share of each tick, and a fast one, of about a
 * millisecond, before the loop sleeps when the last cycle ran out of
 * time (a burst of stale keys is being worked off).
 *
 * A cycle walks the buckets of the table of keys with a TTL in order,
 * from where the last one stopped, taking keys_per_loop keys (20 at
 * effort 1) a round and expiring the stale ones, and repeats while more
 * than acceptable_stale percent (10) of a round was stale, checking its
 * time budget every 16 rounds. A higher active-expire-effort (1-10)
 * takes more keys a round, accepts fewer stale keys and allows a larger
 * budget. Once a burst is over, the memory it freed is handed back to
 * the system (malloc_trim), so the process shrinks as Redis's does.
 */
#ifndef TMC_EXPIRE_H
#define TMC_EXPIRE_H

#include <stddef.h>

#include "db.h"

enum expire_kind { EXPIRE_SLOW, EXPIRE_FAST };

/* The cycle's state between runs; all zero is the initial state. */
struct expire_cycle {
	size_t cursor;                 /* the next bucket to look at */
	long long avg_ttl;             /* ms, estimated (INFO keyspace) */
	double stale_perc;             /* expired_stale_perc, 0-1 */
	unsigned long long time_cap;   /* expired_time_cap_reached_count */
	long long used_us;             /* expire_cycle_cpu_milliseconds */
	int timelimit_exit;            /* the last cycle ran out of time */
	long long last_fast_us;        /* start of the last fast cycle */
	size_t freed;                  /* bytes freed since the last trim */
};

/*
 * Run one cycle over db (db->now is set to the wall clock here). effort
 * is active-expire-effort (1-10), hz the cron frequency (for the slow
 * cycle's budget). Returns the keys it expired.
 */
unsigned long long expire_cycle(struct expire_cycle *ec, struct db *db,
    enum expire_kind kind, int effort, int hz);

#endif
