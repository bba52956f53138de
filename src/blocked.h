/* SPDX-License-Identifier: MIT */
/*
 * Clients waiting on keys (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).
 *
 * Waiting is a state of the client plus a map from key to its waiters,
 * never a poll. A handler that finds nothing to pop calls blocked_wait():
 * the client keeps a copy of its request, stops reading requests (those
 * pipelined behind wait their turn), and is queued on each of its keys
 * in arrival order. A write that leaves a list at a key calls
 * blocked_key_ready() (the keyspace does it for every list it stores);
 * before the event loop sleeps, blocked_serve() runs the request of each
 * waiter of each ready key again, first come first served, until the key
 * runs dry: the handler pops and replies, or finds nothing and waits
 * again (keeping its place). Deadlines sit in an ordered structure that
 * bounds the loop's sleep, so idle waiters cost nothing; a waiter whose
 * deadline passes gets the command's timeout reply (a null array).
 */
#ifndef TMC_BLOCKED_H
#define TMC_BLOCKED_H

#include <stddef.h>

#include "dict.h"

struct client;
struct resp_arg;
struct server;

/* The server's side: who waits on what (struct server's "blocked"). */
struct blocked_table {
	dict *keys;                  /* key -> its queue of waiters */
	char **ready;                /* keys that got a list, to serve */
	size_t *ready_len;
	size_t nready, ready_cap;
	struct client **heap;        /* waiters with a deadline, soonest
	                              * first (a binary heap) */
	size_t nheap, heap_cap;
	struct client *resumed;      /* no longer waiting, in order: their */
	struct client *resumed_tail; /* replies and pipelined requests go
	                              * on once the ready keys are served */
	int count;                   /* clients waiting */
};

/*
 * Parse a blocking command's timeout as Redis 7.0 does: seconds with
 * decimals, 0 waits forever. On success returns 0 with *deadline the
 * absolute monotonic time in ms (0 for forever); otherwise replies
 * Redis's error ("timeout is not a float or out of range", "timeout is
 * negative", "timeout is out of range") and returns -1.
 */
int blocked_parse_timeout(struct client *c, const struct resp_arg *arg,
    long long *deadline);

/*
 * Make c wait on the nkeys keys in keys (copied) until deadline (from
 * blocked_parse_timeout). The caller has replied nothing. When one of
 * the keys becomes ready, c's request runs again; on timeout it gets
 * timeout_reply (bytes copied; Redis's "*-1\r\n" for the list commands).
 * Inside MULTI, or from a script, a blocking command must not call this
 * but reply as its non-blocking form would (the caller checks
 * blocked_may_wait()).
 */
void blocked_wait(struct client *c, const struct resp_arg *keys, int nkeys,
    long long deadline, const char *timeout_reply, size_t reply_len);

/* 0 if c may not wait (inside MULTI/EXEC): reply now instead. */
int blocked_may_wait(const struct client *c);

/* 1 while c's request is being run again for a ready key (the handler
 * may want to know, e.g. not to count a second call). */
int blocked_rerun(const struct client *c);

/* While c's request runs again: the key whose list woke it (Redis serves
 * a waiter from that key, not from the first of its keys that holds a
 * list); NULL otherwise. */
const char *blocked_ready_key(const struct client *c, size_t *klen);

/* A list now exists at key: its waiters are served before the loop
 * sleeps. Cheap when nobody waits on key. */
void blocked_key_ready(struct server *srv, const char *key, size_t klen);

/* Serve the waiters of the keys that became ready, at once: after each
 * command, so that they are served before the next request of the
 * client that pushed, as Redis's processCommand does. Their replies and
 * pipelined requests go on before the loop sleeps. */
void blocked_serve_now(struct server *srv);

/* Serve the waiters of the ready keys (before-sleep), then expire the
 * deadlines that passed. Returns the ms until the next deadline, or -1
 * if none (the loop may sleep that long). */
long long blocked_serve(struct server *srv);

/* Forget a client that stops waiting (disconnect, CLIENT UNBLOCK). */
void blocked_forget(struct client *c);

/*
 * CLIENT UNBLOCK: end c's wait at once, with the timeout reply (error 0)
 * or with Redis's "-UNBLOCKED client unblocked via CLIENT UNBLOCK" error.
 * Returns 1 if c was waiting.
 */
int blocked_unblock(struct client *c, int error);

/* Number of waiting clients (INFO blocked_clients). */
int blocked_count(const struct server *srv);

void blocked_init(struct server *srv);
void blocked_free(struct server *srv);

#endif
