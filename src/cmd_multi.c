/* SPDX-License-Identifier: MIT */
/*
 * Transactions (see multi.h): MULTI, EXEC, DISCARD, WATCH and UNWATCH,
 * with Redis 7.0's replies, the queue of each client in MULTI and the
 * map of watched keys.
 */
#include "config.h"

#include <string.h>

#include "client.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "dict.h"
#include "mem.h"
#include "multi.h"
#include "resp.h"
#include "state.h"

/* One queued request: its command and a copy of its arguments. */
struct multi_cmd {
	const struct command *cmd;
	int argc;
	struct resp_arg *argv;          /* point into buf */
	char *buf;
	size_t bytes;
};

/* A client's queue while in MULTI. */
struct multi_state {
	struct multi_cmd *cmds;
	int count, cap;
	size_t bytes;                   /* argument bytes queued */
	int flags;                      /* the queued commands' flags, or'd */
};

/* A key a client watches. */
struct watched_key {
	char *key;
	size_t klen;
	int expired;                    /* already stale when watched */
};

/* The clients watching one key (the value of srv->watched). */
struct watchers {
	struct client **c;
	int n, cap;
};

/* The family's rows (see commands.c for the fields). */
struct command multi_commands[] = {
	{ "multi", 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_ALLOWBUSY, cmd_multi, 0, 0, 0, "@fast @transaction", NULL, NULL,
	  0 },
	{ "exec", 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG,
	  cmd_exec, 0, 0, 0, "@slow @transaction", NULL, NULL, 0 },
	{ "discard", 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_ALLOWBUSY, cmd_discard, 0, 0, 0, "@fast @transaction", NULL,
	  NULL, 0 },
	{ "watch", -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_ALLOWBUSY, cmd_watch, 1, -1, 1, "@fast @transaction", NULL, NULL,
	  0 },
	{ "unwatch", 1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_ALLOWBUSY, cmd_unwatch, 0, 0, 0, "@fast @transaction", NULL,
	  NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* ---- The queue ---- */

int
multi_runs_now(const struct command *cmd)
{
	return cmd->proc == cmd_exec || cmd->proc == cmd_discard ||
	    cmd->proc == cmd_multi || cmd->proc == cmd_watch ||
	    cmd->proc == cmd_quit;
}

void
multi_queue(struct client *c, const struct command *cmd)
{
	struct multi_state *ms = c->mstate;
	struct multi_cmd *q;
	size_t bytes = 0, off = 0;
	int i;

	if (ms->count == ms->cap) {
		ms->cap = ms->cap != 0 ? ms->cap * 2 : 8;
		ms->cmds = mem_realloc(ms->cmds,
		    (size_t)ms->cap * sizeof(*ms->cmds));
	}
	q = &ms->cmds[ms->count++];
	for (i = 0; i < c->argc; i++)
		bytes += c->argv[i].len;
	q->cmd = cmd;
	q->argc = c->argc;
	q->bytes = bytes;
	q->buf = mem_alloc(bytes != 0 ? bytes : 1);
	q->argv = mem_alloc((size_t)c->argc * sizeof(*q->argv));
	for (i = 0; i < c->argc; i++) {
		memcpy(q->buf + off, c->argv[i].ptr, c->argv[i].len);
		q->argv[i].ptr = q->buf + off;
		q->argv[i].len = c->argv[i].len;
		q->argv[i].off = off;
		off += c->argv[i].len;
	}
	ms->bytes += bytes;
	ms->flags |= cmd->flags;
}

/* Free a queue. */
static void
multi_state_free(struct multi_state *ms)
{
	int i;

	if (ms == NULL)
		return;
	for (i = 0; i < ms->count; i++) {
		mem_free(ms->cmds[i].argv);
		mem_free(ms->cmds[i].buf);
	}
	mem_free(ms->cmds);
	mem_free(ms);
}

void
multi_flag_error(struct client *c)
{
	if (c->flags & CLIENT_MULTI)
		c->flags |= CLIENT_DIRTY_EXEC;
}

int
multi_queued(const struct client *c)
{
	return c->mstate != NULL ? c->mstate->count : -1;
}

int
multi_flags(const struct client *c)
{
	return c->mstate != NULL ? c->mstate->flags : 0;
}

size_t
multi_memory(const struct client *c)
{
	const struct multi_state *ms = c->mstate;

	return ms != NULL ? ms->bytes + (size_t)ms->cap * sizeof(*ms->cmds) :
	    0;
}

/* ---- Watched keys ---- */

/* The clients watching key, or NULL. */
static struct watchers *
watchers_of(struct server *srv, const char *key, size_t klen)
{
	dict_entry *e = dict_find(srv->watched, key, klen);
	struct watchers *w;

	if (e == NULL)
		return NULL;
	memcpy(&w, dict_entry_val(e, NULL), sizeof(w));
	return w;
}

/* Free a watchers list when its key goes (dict callback). */
static void
watchers_free(dict_entry *e)
{
	struct watchers *w;

	memcpy(&w, dict_entry_val(e, NULL), sizeof(w));
	mem_free(w->c);
	mem_free(w);
}

/* Make c watch key (once). */
static void
multi_watch_key(struct client *c, const char *key, size_t klen)
{
	struct server *srv = c->srv;
	struct watchers *w;
	struct watched_key *wk;
	int i;

	for (i = 0; i < c->nwatched; i++)
		if (c->watched[i].klen == klen &&
		    memcmp(c->watched[i].key, key, klen) == 0)
			return;
	c->watched = mem_realloc(c->watched,
	    (size_t)(c->nwatched + 1) * sizeof(*c->watched));
	wk = &c->watched[c->nwatched++];
	wk->key = mem_alloc(klen != 0 ? klen : 1);
	memcpy(wk->key, key, klen);
	wk->klen = klen;
	wk->expired = db_presence(&srv->db, key, klen) == DB_STALE;
	if ((w = watchers_of(srv, key, klen)) == NULL) {
		w = mem_calloc(1, sizeof(*w));
		dict_add(srv->watched, dict_key_hash(srv->watched, key, klen),
		    key, klen, 0, 0, &w, sizeof(w));
	}
	if (w->n == w->cap) {
		w->cap = w->cap != 0 ? w->cap * 2 : 4;
		w->c = mem_realloc(w->c, (size_t)w->cap * sizeof(*w->c));
	}
	w->c[w->n++] = c;
}

/* Make c watch nothing. */
static void
multi_unwatch(struct client *c)
{
	struct watchers *w;
	int i, j;

	for (i = 0; i < c->nwatched; i++) {
		w = watchers_of(c->srv, c->watched[i].key, c->watched[i].klen);
		for (j = 0; w != NULL && j < w->n; j++)
			if (w->c[j] == c) {
				w->c[j] = w->c[--w->n];
				break;
			}
		if (w != NULL && w->n == 0)
			dict_delete(c->srv->watched, c->watched[i].key,
			    c->watched[i].klen);
		mem_free(c->watched[i].key);
	}
	mem_free(c->watched);
	c->watched = NULL;
	c->nwatched = 0;
	c->flags &= ~CLIENT_DIRTY_CAS;
}

/* c's entry for key. */
static struct watched_key *
multi_watched(struct client *c, const char *key, size_t klen)
{
	int i;

	for (i = 0; i < c->nwatched; i++)
		if (c->watched[i].klen == klen &&
		    memcmp(c->watched[i].key, key, klen) == 0)
			return &c->watched[i];
	return NULL;
}

/*
 * key changed: every client watching it will not run its transaction,
 * except that removing a key which was already stale when it was
 * watched changes nothing (as in Redis).
 */
static void
multi_touch_key(struct server *srv, const char *key, size_t klen)
{
	struct watchers *w = watchers_of(srv, key, klen);
	struct watched_key *wk;
	int absent, i;

	if (w == NULL)
		return;
	absent = db_presence(&srv->db, key, klen) == DB_ABSENT;
	for (i = 0; i < w->n; i++) {
		wk = multi_watched(w->c[i], key, klen);
		if (wk != NULL && wk->expired) {
			if (absent) {
				wk->expired = 0;
				continue;
			}
		}
		w->c[i]->flags |= CLIENT_DIRTY_CAS;
	}
}

/* The keyspace is being flushed: every watched key it holds counts as
 * changed (one that does not exist is not touched, as in Redis). */
static int
multi_touch_flushed(const dict_entry *e, void *arg)
{
	struct server *srv = arg;
	size_t klen;
	const char *key = dict_entry_key(e, &klen);
	struct watchers *w;
	int i;

	if (db_presence(&srv->db, key, klen) == DB_ABSENT)
		return 0;
	memcpy(&w, dict_entry_val(e, NULL), sizeof(w));
	for (i = 0; i < w->n; i++)
		w->c[i]->flags |= CLIENT_DIRTY_CAS;
	return 0;
}

void
multi_touch(struct server *srv, const char *key, size_t klen)
{
	if (dict_size(srv->watched) == 0)
		return;
	if (key == NULL)
		dict_foreach(srv->watched, multi_touch_flushed, srv);
	else
		multi_touch_key(srv, key, klen);
}

/* 1 if a key c watches was live when watched and is stale now. */
static int
multi_watched_expired(struct client *c)
{
	int i;

	for (i = 0; i < c->nwatched; i++)
		if (!c->watched[i].expired &&
		    db_presence(&c->srv->db, c->watched[i].key,
		    c->watched[i].klen) == DB_STALE)
			return 1;
	return 0;
}

/* ---- Leaving MULTI ---- */

void
multi_discard(struct client *c)
{
	multi_state_free(c->mstate);
	c->mstate = NULL;
	c->flags &= ~(CLIENT_MULTI | CLIENT_DIRTY_EXEC);
	multi_unwatch(c);
}

void
multi_free_client(struct client *c)
{
	multi_discard(c);
}

void
multi_propagate_begin(struct client *c)
{
	struct resp_arg multi = { (char *)(uintptr_t)"MULTI", 5, 0 };

	if (!(c->flags & CLIENT_IN_EXEC) || c->srv->exec_propagated)
		return;
	c->srv->exec_propagated = 1;
	command_propagate(c->srv, 1, &multi);
}

void
multi_init(struct server *srv)
{
	srv->watched = dict_create(watchers_free);
}

void
multi_free(struct server *srv)
{
	dict_free(srv->watched);
	srv->watched = NULL;
}

/* ---- Commands ---- */

/* MULTI */
void
cmd_multi(struct client *c)
{
	if (c->flags & CLIENT_MULTI) {
		resp_add_errorf(&c->reply, "MULTI calls can not be nested");
		return;
	}
	c->mstate = mem_calloc(1, sizeof(*c->mstate));
	c->flags |= CLIENT_MULTI;
	resp_add_ok(&c->reply);
}

/* DISCARD */
void
cmd_discard(struct client *c)
{
	if (!(c->flags & CLIENT_MULTI)) {
		resp_add_errorf(&c->reply, "DISCARD without MULTI");
		return;
	}
	multi_discard(c);
	resp_add_ok(&c->reply);
}

/*
 * EXEC: run the queue, replying an array of the replies, unless a
 * request was refused while queuing (EXECABORT) or a watched key
 * changed (a null array). Blocking commands inside behave as their
 * non-blocking forms. The writes propagate between MULTI and EXEC.
 */
void
cmd_exec(struct client *c)
{
	struct server *srv = c->srv;
	struct resp_arg exec = { (char *)(uintptr_t)"EXEC", 4, 0 };
	struct resp_arg *argv = c->argv;
	struct multi_state *ms;
	int argc = c->argc, i;

	if (!(c->flags & CLIENT_MULTI)) {
		resp_add_errorf(&c->reply, "EXEC without MULTI");
		return;
	}
	if (c->flags & CLIENT_DIRTY_EXEC) {
		resp_add_errorf(&c->reply, "-EXECABORT Transaction discarded "
		    "because of previous errors.");
		multi_discard(c);
		return;
	}
	if ((c->flags & CLIENT_DIRTY_CAS) || multi_watched_expired(c)) {
		resp_add_null_array(&c->reply);
		multi_discard(c);
		return;
	}
	/* Unwatched now; the queue and the MULTI flag stay while it runs
	 * (CLIENT LIST shows them, as Redis's does). */
	multi_unwatch(c);
	ms = c->mstate;
	resp_add_array_len(&c->reply, ms->count);
	c->flags |= CLIENT_IN_EXEC;
	srv->exec_propagated = 0;
	for (i = 0; i < ms->count; i++) {
		c->argc = ms->cmds[i].argc;
		c->argv = ms->cmds[i].argv;
		command_call(c, ms->cmds[i].cmd, srv->clock_us != 0 ?
		    srv->clock_us : clock_wall_us());
	}
	c->argc = argc;
	c->argv = argv;
	c->flags &= ~CLIENT_IN_EXEC;
	if (srv->exec_propagated) {
		srv->exec_propagated = 0;
		command_propagate(srv, 1, &exec);
	}
	multi_discard(c);
}

/* WATCH key [key ...] */
void
cmd_watch(struct client *c)
{
	int i;

	if (c->flags & CLIENT_MULTI) {
		resp_add_errorf(&c->reply, "WATCH inside MULTI is not allowed");
		return;
	}
	for (i = 1; i < c->argc; i++)
		multi_watch_key(c, c->argv[i].ptr, c->argv[i].len);
	resp_add_ok(&c->reply);
}

/* UNWATCH */
void
cmd_unwatch(struct client *c)
{
	multi_unwatch(c);
	resp_add_ok(&c->reply);
}
