/* SPDX-License-Identifier: MIT */
/*
 * Clients waiting on keys (see blocked.h): the key -> waiters map (a
 * dict whose values point at FIFO queues), the list of ready keys, and a
 * binary heap of deadlines.
 */
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "blocked.h"
#include "client.h"
#include "clock.h"
#include "commands.h"
#include "dict.h"
#include "mem.h"
#include "resp.h"
#include "state.h"

#define BLOCKED_NO_HEAP SIZE_MAX   /* heap_idx of a waiter without one */

/* One client waiting on one key: a node of the key's queue. */
struct blocked_node {
	struct blocked_node *prev, *next;
	struct client *c;
};

/* The waiters of one key, oldest first. */
struct blocked_queue {
	struct blocked_node *head, *tail;
	int ready;                 /* already in the ready list */
};

/* One key a client waits on. */
struct blocked_key {
	char *key;
	size_t klen;
	struct blocked_node *node; /* in that key's queue */
};

/* A waiting client's state (c->bstate). */
struct blocked_state {
	struct blocked_key *keys;
	int nkeys;
	long long deadline;        /* monotonic ms; 0: none */
	size_t heap_idx;           /* in the deadline heap */
	char *timeout_reply;       /* sent on timeout */
	size_t reply_len;
	const char *ready_key;     /* while it runs again: the key that */
	size_t ready_klen;         /* woke it */
	int argc;                  /* the request, to run again */
	struct resp_arg *argv;     /* point into argbuf */
	char *argbuf;
};

/* ---- Timeouts ---- */

int
blocked_parse_timeout(struct client *c, const struct resp_arg *arg,
    long long *deadline)
{
	long double secs, ms;
	long long t;

	if (!str_to_ld(arg->ptr, arg->len, &secs)) {
		resp_add_errorf(&c->reply, "timeout is not a float or out of "
		    "range");
		return -1;
	}
	ms = ceill(secs * 1000.0L);
	/* Beyond a long long (infinities included), Redis's conversion
	 * gives a negative number: so do we, on purpose. */
	if (!(ms < 9223372036854775807.0L && ms > -9223372036854775807.0L))
		t = -1;
	else
		t = (long long)ms;
	if (t < 0) {
		resp_add_errorf(&c->reply, "timeout is negative");
		return -1;
	}
	if (t == 0) {
		*deadline = 0;
		return 0;
	}
	/* So long that it cannot be told from forever. */
	*deadline = t > LLONG_MAX / 2 ? 0 : clock_mono_ms() + t;
	return 0;
}

/* ---- The deadline heap ---- */

static long long
heap_when(const struct blocked_table *bt, size_t i)
{
	return bt->heap[i]->bstate->deadline;
}

/* Put the client at i in its place in bt's heap. */
static void
heap_swap(struct blocked_table *bt, size_t i, size_t j)
{
	struct client *t = bt->heap[i];

	bt->heap[i] = bt->heap[j];
	bt->heap[j] = t;
	bt->heap[i]->bstate->heap_idx = i;
	bt->heap[j]->bstate->heap_idx = j;
}

static void
heap_fix(struct blocked_table *bt, size_t i)
{
	size_t l, r, m;

	while (i > 0 && heap_when(bt, (i - 1) / 2) > heap_when(bt, i)) {
		heap_swap(bt, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < bt->nheap && heap_when(bt, l) < heap_when(bt, m))
			m = l;
		if (r < bt->nheap && heap_when(bt, r) < heap_when(bt, m))
			m = r;
		if (m == i)
			return;
		heap_swap(bt, i, m);
		i = m;
	}
}

static void
heap_add(struct blocked_table *bt, struct client *c)
{
	if (bt->nheap == bt->heap_cap) {
		bt->heap_cap = bt->heap_cap ? bt->heap_cap * 2 : 16;
		bt->heap = mem_realloc(bt->heap,
		    bt->heap_cap * sizeof(*bt->heap));
	}
	bt->heap[bt->nheap] = c;
	c->bstate->heap_idx = bt->nheap++;
	heap_fix(bt, bt->nheap - 1);
}

static void
heap_remove(struct blocked_table *bt, struct client *c)
{
	size_t i = c->bstate->heap_idx;

	if (i == BLOCKED_NO_HEAP)
		return;
	c->bstate->heap_idx = BLOCKED_NO_HEAP;
	if (i != --bt->nheap) {
		bt->heap[i] = bt->heap[bt->nheap];
		bt->heap[i]->bstate->heap_idx = i;
		heap_fix(bt, i);
	}
}

/* ---- Queues ---- */

/* The queue of key, or NULL if nobody waits on it. */
static struct blocked_queue *
queue_of(struct blocked_table *bt, const char *key, size_t klen)
{
	dict_entry *e = dict_find(bt->keys, key, klen);
	struct blocked_queue *q;

	if (e == NULL)
		return NULL;
	memcpy(&q, dict_entry_val(e, NULL), sizeof(q));
	return q;
}

/* Free a queue when its key's entry goes (dict callback). */
static void
queue_free(dict_entry *e)
{
	struct blocked_queue *q;

	memcpy(&q, dict_entry_val(e, NULL), sizeof(q));
	mem_free(q);
}

/* Append c to key's queue, making the queue if needed. */
static struct blocked_node *
queue_push(struct blocked_table *bt, const char *key, size_t klen,
    struct client *c)
{
	struct blocked_queue *q = queue_of(bt, key, klen);
	struct blocked_node *n = mem_alloc(sizeof(*n));

	if (q == NULL) {
		q = mem_calloc(1, sizeof(*q));
		dict_add(bt->keys, dict_key_hash(bt->keys, key, klen), key,
		    klen, 0, 0, &q, sizeof(q));
	}
	n->c = c;
	n->next = NULL;
	n->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	return n;
}

/* Take node n out of key's queue, dropping the queue once empty. */
static void
queue_unlink(struct blocked_table *bt, const char *key, size_t klen,
    struct blocked_node *n)
{
	struct blocked_queue *q = queue_of(bt, key, klen);

	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		q->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		q->tail = n->prev;
	mem_free(n);
	if (q->head == NULL)
		dict_delete(bt->keys, key, klen);
}

/* ---- Waiting ---- */

int
blocked_may_wait(const struct client *c)
{
	return !(c->flags & CLIENT_IN_EXEC);
}

int
blocked_rerun(const struct client *c)
{
	return (c->flags & CLIENT_RERUN) != 0;
}

const char *
blocked_ready_key(const struct client *c, size_t *klen)
{
	if (!(c->flags & CLIENT_RERUN) || c->bstate == NULL ||
	    c->bstate->ready_key == NULL)
		return NULL;
	*klen = c->bstate->ready_klen;
	return c->bstate->ready_key;
}

/* Copy c's running request into st, so it can run again later. */
static void
blocked_keep_request(struct blocked_state *st, const struct client *c)
{
	size_t total = 0, off = 0;
	int i;

	for (i = 0; i < c->argc; i++)
		total += c->argv[i].len;
	st->argbuf = mem_alloc(total != 0 ? total : 1);
	st->argv = mem_alloc((size_t)c->argc * sizeof(*st->argv));
	st->argc = c->argc;
	for (i = 0; i < c->argc; i++) {
		memcpy(st->argbuf + off, c->argv[i].ptr, c->argv[i].len);
		st->argv[i].ptr = st->argbuf + off;
		st->argv[i].len = c->argv[i].len;
		st->argv[i].off = off;
		off += c->argv[i].len;
	}
}

void
blocked_wait(struct client *c, const struct resp_arg *keys, int nkeys,
    long long deadline, const char *timeout_reply, size_t reply_len)
{
	struct blocked_table *bt = &c->srv->blocked;
	struct blocked_state *st;
	int i, j;

	if (c->flags & CLIENT_RERUN) {
		/* Run again and still nothing: keep the place we had. */
		c->rerun_waited = 1;
		return;
	}
	st = mem_calloc(1, sizeof(*st));
	st->keys = mem_alloc((size_t)nkeys * sizeof(*st->keys));
	st->deadline = deadline;
	st->heap_idx = BLOCKED_NO_HEAP;
	st->timeout_reply = mem_alloc(reply_len);
	memcpy(st->timeout_reply, timeout_reply, reply_len);
	st->reply_len = reply_len;
	blocked_keep_request(st, c);
	c->bstate = st;
	for (i = 0; i < nkeys; i++) {
		/* A key named twice waits once, as in Redis. */
		for (j = 0; j < st->nkeys; j++)
			if (st->keys[j].klen == keys[i].len &&
			    memcmp(st->keys[j].key, keys[i].ptr,
			    keys[i].len) == 0)
				break;
		if (j < st->nkeys)
			continue;
		st->keys[j].key = mem_alloc(keys[i].len != 0 ?
		    keys[i].len : 1);
		memcpy(st->keys[j].key, keys[i].ptr, keys[i].len);
		st->keys[j].klen = keys[i].len;
		st->keys[j].node = queue_push(bt, keys[i].ptr, keys[i].len, c);
		st->nkeys++;
	}
	if (deadline != 0)
		heap_add(bt, c);
	c->flags |= CLIENT_BLOCKED;
	bt->count++;
}

/* End c's wait: out of every queue and the heap, state freed. */
static void
blocked_end(struct client *c)
{
	struct blocked_table *bt = &c->srv->blocked;
	struct blocked_state *st = c->bstate;
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nkeys; i++) {
		queue_unlink(bt, st->keys[i].key, st->keys[i].klen,
		    st->keys[i].node);
		mem_free(st->keys[i].key);
	}
	heap_remove(bt, c);
	mem_free(st->keys);
	mem_free(st->timeout_reply);
	mem_free(st->argv);
	mem_free(st->argbuf);
	mem_free(st);
	c->bstate = NULL;
	c->flags &= ~CLIENT_BLOCKED;
	bt->count--;
	/* Its idle time counts from the end of the wait (Redis refreshes
	 * it when the reply is written): the idle timeout must not close
	 * a served waiter before its reply, the element it took, leaves. */
	c->last_ms = clock_mono_ms();
}

/* Queue c, which no longer waits, to have its replies written and its
 * pipelined requests run (after the ready keys are served, so that a
 * request behind a served BLPOP does not jump the other waiters). */
static void
blocked_resume_later(struct client *c)
{
	struct blocked_table *bt = &c->srv->blocked;

	c->flags |= CLIENT_RESUMED;
	c->resumed_next = NULL;
	if (bt->resumed_tail != NULL)
		bt->resumed_tail->resumed_next = c;
	else
		bt->resumed = c;
	bt->resumed_tail = c;
}

/* Take c off the list of clients to resume. */
static void
blocked_unresume(struct client *c)
{
	struct blocked_table *bt = &c->srv->blocked;
	struct client **pp, *prev = NULL;

	if (!(c->flags & CLIENT_RESUMED))
		return;
	for (pp = &bt->resumed; *pp != NULL; prev = *pp,
	    pp = &(*pp)->resumed_next)
		if (*pp == c) {
			*pp = c->resumed_next;
			if (bt->resumed_tail == c)
				bt->resumed_tail = prev;
			break;
		}
	c->flags &= ~CLIENT_RESUMED;
}

void
blocked_forget(struct client *c)
{
	blocked_end(c);
	blocked_unresume(c);
}

int
blocked_unblock(struct client *c, int error)
{
	static const char unblocked[] =
	    "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";
	struct blocked_state *st = c->bstate;

	if (st == NULL)
		return 0;
	if (error) {
		resp_buf_append(&c->reply, unblocked, sizeof(unblocked) - 1);
		command_count_error(c->srv, unblocked + 1,
		    sizeof(unblocked) - 2);
	} else
		resp_buf_append(&c->reply, st->timeout_reply, st->reply_len);
	blocked_end(c);
	/* Its pipelined requests go on before the loop sleeps, not in the
	 * middle of the command that unblocked it. */
	blocked_resume_later(c);
	return 1;
}

void
blocked_key_ready(struct server *srv, const char *key, size_t klen)
{
	struct blocked_table *bt = &srv->blocked;
	struct blocked_queue *q;

	if (bt->count == 0 || (q = queue_of(bt, key, klen)) == NULL ||
	    q->ready)
		return;
	q->ready = 1;
	if (bt->nready == bt->ready_cap) {
		bt->ready_cap = bt->ready_cap ? bt->ready_cap * 2 : 16;
		bt->ready = mem_realloc(bt->ready,
		    bt->ready_cap * sizeof(*bt->ready));
		bt->ready_len = mem_realloc(bt->ready_len,
		    bt->ready_cap * sizeof(*bt->ready_len));
	}
	bt->ready[bt->nready] = mem_alloc(klen != 0 ? klen : 1);
	memcpy(bt->ready[bt->nready], key, klen);
	bt->ready_len[bt->nready++] = klen;
}

/*
 * Run c's request again for a ready key. Returns 1 if it was served (it
 * no longer waits, and is queued to resume), 0 if it still waits, in its
 * place.
 */
static int
blocked_rerun_client(struct client *c, const char *key, size_t klen)
{
	struct blocked_state *st = c->bstate;

	st->ready_key = key;
	st->ready_klen = klen;
	c->flags |= CLIENT_RERUN;
	c->rerun_waited = 0;
	c->argc = st->argc;
	c->argv = st->argv;
	command_dispatch(c);
	c->argc = 0;
	c->argv = NULL;
	c->flags &= ~CLIENT_RERUN;
	if (c->rerun_waited) {
		st->ready_key = NULL;
		return 0;
	}
	blocked_end(c);
	blocked_resume_later(c);
	return 1;
}

/* Serve the waiters of one ready key, oldest first, while they get
 * something. */
static void
blocked_serve_key(struct server *srv, const char *key, size_t klen)
{
	struct blocked_table *bt = &srv->blocked;
	struct blocked_queue *q;

	while ((q = queue_of(bt, key, klen)) != NULL) {
		q->ready = 0;
		if (!blocked_rerun_client(q->head->c, key, klen))
			return;
	}
}

/* Serve every ready key's waiters, until no key is ready. */
static void
blocked_serve_ready(struct server *srv)
{
	struct blocked_table *bt = &srv->blocked;
	char **ready;
	size_t *lens, n, i;

	/* Serving may make other keys ready (a move into a key someone
	 * waits on): go on until none is left. */
	while (bt->nready != 0) {
		ready = bt->ready;
		lens = bt->ready_len;
		n = bt->nready;
		bt->ready = NULL;
		bt->ready_len = NULL;
		bt->nready = bt->ready_cap = 0;
		srv->clock_us = clock_wall_us();
		for (i = 0; i < n; i++) {
			blocked_serve_key(srv, ready[i], lens[i]);
			mem_free(ready[i]);
		}
		mem_free(ready);
		mem_free(lens);
	}
}

/* Give the timeout reply to every waiter whose deadline has passed. */
static void
blocked_expire(struct server *srv)
{
	struct blocked_table *bt = &srv->blocked;
	long long now = clock_mono_ms();
	struct client *c;

	while (bt->nheap != 0 && heap_when(bt, 0) <= now) {
		c = bt->heap[0];
		resp_buf_append(&c->reply, c->bstate->timeout_reply,
		    c->bstate->reply_len);
		blocked_end(c);
		blocked_resume_later(c);
	}
}

void
blocked_serve_now(struct server *srv)
{
	if (srv->blocked.nready != 0)
		blocked_serve_ready(srv);
}

long long
blocked_serve(struct server *srv)
{
	struct blocked_table *bt = &srv->blocked;
	struct client *c;

	do {
		blocked_serve_ready(srv);
		blocked_expire(srv);
		while (bt->resumed != NULL) {
			c = bt->resumed;
			bt->resumed = c->resumed_next;
			if (bt->resumed == NULL)
				bt->resumed_tail = NULL;
			c->flags &= ~CLIENT_RESUMED;
			client_resume(c);
		}
	} while (bt->nready != 0);
	if (bt->nheap == 0)
		return -1;
	return heap_when(bt, 0) > clock_mono_ms() ?
	    heap_when(bt, 0) - clock_mono_ms() : 0;
}

int
blocked_count(const struct server *srv)
{
	return srv->blocked.count;
}

void
blocked_init(struct server *srv)
{
	memset(&srv->blocked, 0, sizeof(srv->blocked));
	srv->blocked.keys = dict_create(queue_free);
}

void
blocked_free(struct server *srv)
{
	size_t i;

	dict_free(srv->blocked.keys);
	for (i = 0; i < srv->blocked.nready; i++)
		mem_free(srv->blocked.ready[i]);
	mem_free(srv->blocked.ready);
	mem_free(srv->blocked.ready_len);
	mem_free(srv->blocked.heap);
	memset(&srv->blocked, 0, sizeof(srv->blocked));
}
