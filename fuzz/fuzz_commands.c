/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the command layer: the input is what one client sends
 * (or, with the harness's markers "@N", what up to four clients send).
 * It runs against real servers (created once, their Unix listeners never
 * used) under a wall clock the harness sets: command i runs at base + i *
 * step, both derived from the input, so some inputs see time stand still
 * and others see it jump by seconds between commands.
 *
 * Direct: the client's parser and command_dispatch() request by request.
 * Every reply is checked against a model of the keyspace (keys, types,
 * string values, list elements, encodings, expire times, and which stale
 * keys are still physically there), which the server's removal hook
 * keeps told of every key that expiry or eviction takes away, and of
 * each client's transaction. Everything a command propagates is replayed
 * at once on a replica at the same instant, and the keys the command
 * names must read the same there.
 *
 * Socket: the same input through a socket pair into the server's own
 * client code and event loop, in random pieces (request by request when
 * the clock moves, so that each command sees its instant); its replies,
 * its keyspace and its replayed propagation must agree. With markers,
 * several clients instead, every reply judged by the model: waits on
 * keys, the order waiters are served in, timeouts, CLIENT UNBLOCK,
 * hang-ups. Then the direct run again on a server with a password.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "blocked.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "dict.h"
#include "evict.h"
#include "expire.h"
#include "fuzz.h"
#include "glob.h"
#include "list.h"
#include "mem.h"
#include "multi.h"
#include "object.h"
#include "resp.h"
#include "server.h"
#include "settings.h"
#include "state.h"

const char fuzz_target_name[] = "fuzz_commands";

#define FUZZ_PASSWORD "pw"              /* requirepass of the second server */
#define FUZZ_PUMP_MAX 100000            /* event rounds per input, at most */
#define FUZZ_BASE_US 1700000000000000LL /* 2023-11-14 22:13:20 UTC: the
                                         * first command's instant, plus
                                         * up to a second */
#define FUZZ_BULK_MAX "1mb"             /* the servers' proto-max-bulk-len
                                         * (Redis's least): values stay
                                         * small enough to copy */
#define FUZZ_BULK_MAX_BYTES (1024ULL * 1024)
#define FUZZ_SETRANGE_MAX 32768         /* inputs whose SETRANGE may store
                                         * more are not run */
#define MODEL_BUCKETS 1024
#define MODEL_PROP_WORDS 6              /* a rewritten propagation, at most */

/* ---- The clock ---- */

/* How time moves for one input, the same in every way of running it. */
struct plan {
	long long base_us;           /* the first command's instant */
	long long step_us;           /* added for each command after it; 0:
	                              * the socket run feeds pieces that
	                              * straddle requests */
	uint64_t cycles;             /* bit i % 64: an active expiry cycle
	                              * just before command i */
	int lists;                   /* create the list keys first */
};

/* One step of SplitMix64: more independent bits from one hash. */
static uint64_t
plan_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Derive the plan from the input's hash: a quarter of the inputs keep
 * the clock still, the others step it by 1 us to an hour a command. */
static void
plan_make(struct plan *p, const uint8_t *data, size_t size)
{
	static const long long steps[16] = {
		0, 0, 0, 0, 1, 999, 1000, 1001, 2500, 10000, 100000, 499999,
		1000000, 1500000, 10000000, 3600000000LL,
	};
	uint64_t a = plan_mix(fuzz_hash(data, size)), b = plan_mix(a);

	p->step_us = steps[a & 15];
	p->base_us = FUZZ_BASE_US + (long long)((a >> 4) % 1000000);
	p->cycles = (a >> 32) & 1 ? b : 0;
	p->lists = (int)((a >> 33) & 1);
}

/* The instant of command i. */
static long long
plan_time(const struct plan *p, size_t i)
{
	return p->base_us + (long long)i * p->step_us;
}

/* Whether the harness runs an active expiry cycle before command i. */
static int
plan_cycle(const struct plan *p, size_t i)
{
	return (int)((p->cycles >> (i % 64)) & 1);
}

/* Make room for one more element of size elem in *p (capacity *cap,
 * n in use). */
static void
grow(void *pp, size_t *cap, size_t n, size_t elem)
{
	void **p = pp, *np;
	size_t ncap;

	if (n < *cap)
		return;
	ncap = *cap == 0 ? 16 : *cap * 2;
	np = realloc(*p, ncap * elem);
	FUZZ_CHECK(np != NULL);
	*p = np;
	*cap = ncap;
}

/* ---- The model of the keyspace ---- */

/* One key of the model, as the keyspace physically holds it (a stale key
 * stays until a lookup, the active cycle or eviction reclaims it). */
struct mkey {
	struct mkey *next;           /* in its bucket */
	unsigned mark;               /* KEYS: seen in this reply */
	int type;                    /* OBJ_STRING, OBJ_LIST */
	int enc;                     /* OBJ_ENC_* */
	long long expire;            /* ms; -1: none */
	size_t klen, vlen;
	char *val;
	char key[];
};

/* What the keyspace must hold: a small chained hash table. */
struct model {
	struct mkey *b[MODEL_BUCKETS];
	size_t count;                /* keys physically there, stale too */
	unsigned mark;               /* bumped for each KEYS reply */
	long long now;               /* ms: the running command's instant */
	int nondet;                  /* what runs now reclaims stale keys
	                              * it happens to meet (SCAN, RANDOMKEY,
	                              * the active cycle) */
	int ghosts;                  /* such a reclaim happened: another run
	                              * may still hold keys this one lost */
	const struct client *cur;    /* the command running, if any: only
	                              * keys it names may expire lazily */
	int memvar;                  /* maxmemory was set: evictions and
	                              * OOM errors differ between runs */
	int defer;                   /* removals wait in "removed" until
	                              * the commands before them are
	                              * judged (several clients) */
	char **removed;              /* keys removed, not yet judged */
	size_t *removed_len;
	unsigned long long *removed_epoch; /* the server's flushes before
	                              * each removal */
	size_t nremoved, capremoved, capremoved_len, capremoved_epoch;
	unsigned long long flushes;  /* FLUSHDB and FLUSHALL judged so far
	                              * (several clients) */
};

/* Where key k is, or would go, in its bucket's chain. */
static struct mkey **
model_slot(struct model *m, const char *k, size_t klen)
{
	struct mkey **pp;

	pp = &m->b[fuzz_hash((const uint8_t *)k, klen) % MODEL_BUCKETS];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->klen == klen && memcmp((*pp)->key, k, klen) == 0)
			break;
	return pp;
}

/* The model's entry for k (stale or not), or NULL. */
static struct mkey *
model_get(struct model *m, const char *k, size_t klen)
{
	return *model_slot(m, k, klen);
}

/* Whether e's time has passed at the model's now (a key lives through
 * its expire millisecond, as in Redis). */
static int
model_stale(const struct model *m, const struct mkey *e)
{
	return e->expire >= 0 && m->now > e->expire;
}

/* Copy n bytes into a new allocation (at least one byte). */
static char *
model_dup(const char *p, size_t n)
{
	char *v = malloc(n > 0 ? n : 1);

	FUZZ_CHECK(v != NULL);
	if (n > 0)
		memcpy(v, p, n);
	return v;
}

/* Set k to a value (copied), replacing anything there. */
static struct mkey *
model_put(struct model *m, const char *k, size_t klen, int type, int enc,
    const char *v, size_t vlen, long long expire)
{
	struct mkey **pp = model_slot(m, k, klen), *e = *pp;

	if (e == NULL) {
		e = malloc(sizeof(*e) + klen);
		FUZZ_CHECK(e != NULL);
		memcpy(e->key, k, klen);
		e->klen = klen;
		e->next = NULL;
		e->mark = 0;
		e->val = NULL;
		*pp = e;
		m->count++;
	}
	free(e->val);
	e->val = model_dup(v, vlen);
	e->vlen = vlen;
	e->type = type;
	e->enc = enc;
	e->expire = expire;
	return e;
}

/* Give e a new value (copied); type and expire time stay. */
static void
model_set_val(struct mkey *e, const char *v, size_t vlen, int enc)
{
	char *nv = model_dup(v, vlen);

	free(e->val);
	e->val = nv;
	e->vlen = vlen;
	e->enc = enc;
}

/* Delete k from the model; 1 if it was there. */
static int
model_del(struct model *m, const char *k, size_t klen)
{
	struct mkey **pp = model_slot(m, k, klen), *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next;
	free(e->val);
	free(e);
	m->count--;
	return 1;
}

/* Empty the model and reset its state for a new run. */
static void
model_clear(struct model *m)
{
	struct mkey *e, *next;
	size_t i;

	for (i = 0; i < MODEL_BUCKETS; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
		m->b[i] = NULL;
	}
	m->count = 0;
}

/* Whether some key of the model is stale but still there. */
static int
model_has_stale(const struct model *m)
{
	const struct mkey *e;
	size_t i;

	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			if (model_stale(m, e))
				return 1;
	return 0;
}

/* The number of live keys. */
static size_t
model_live_count(const struct model *m)
{
	const struct mkey *e;
	size_t i, n = 0;

	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			n += !model_stale(m, e);
	return n;
}

static int command_names_key(const struct client *c, const char *key,
    size_t klen);

/*
 * The server's removal hook says key went (expired at now, or evicted;
 * evicting: maxmemory is set, and eviction may meet stale keys at
 * random). It must be in the model, and an expired key must be stale and,
 * unless something that meets keys at random runs, named by the running
 * command (a lookup reclaims only the key it looks up: KEYS, say, must
 * not reclaim). A removal at random leaves ghosts.
 */
static void
model_removed(struct model *m, const char *key, size_t klen,
    enum db_removal why, long long now, int evicting,
    unsigned long long epoch)
{
	struct mkey *e;

	if (m->defer) {
		grow(&m->removed, &m->capremoved, m->nremoved,
		    sizeof(*m->removed));
		grow(&m->removed_len, &m->capremoved_len, m->nremoved,
		    sizeof(*m->removed_len));
		grow(&m->removed_epoch, &m->capremoved_epoch, m->nremoved,
		    sizeof(*m->removed_epoch));
		m->removed[m->nremoved] = model_dup(key, klen);
		m->removed_epoch[m->nremoved] = epoch;
		m->removed_len[m->nremoved++] = klen;
		return;
	}
	e = model_get(m, key, klen);
	FUZZ_CHECK(e != NULL);
	if (why == DB_REMOVED_EXPIRED) {
		FUZZ_CHECK(now == m->now);
		FUZZ_CHECK(model_stale(m, e));
		FUZZ_CHECK(m->nondet || evicting || (m->cur != NULL &&
		    command_names_key(m->cur, key, klen)));
	}
	if (m->nondet || why == DB_REMOVED_EVICTED)
		m->ghosts = 1;
	model_del(m, key, klen);
}

/* Forget waiting removal i. */
static void
model_removal_drop(struct model *m, size_t i)
{
	free(m->removed[i]);
	m->nremoved--;
	m->removed[i] = m->removed[m->nremoved];
	m->removed_len[i] = m->removed_len[m->nremoved];
	m->removed_epoch[i] = m->removed_epoch[m->nremoved];
}

/*
 * A command looks up k, stale in the model, while removals wait: the
 * server must have removed it (one of the waiting removals names it).
 */
static void
model_removed_take(struct model *m, const char *k, size_t klen)
{
	size_t i;

	for (i = 0; i < m->nremoved; i++)
		if (m->removed_len[i] == klen &&
		    memcmp(m->removed[i], k, klen) == 0)
			break;
	FUZZ_CHECK(i < m->nremoved);
	model_removal_drop(m, i);
	model_del(m, k, klen);
	m->ghosts = 1;
}

/*
 * A flush is judged while removals wait: those the server made before
 * it (fewer flushes then than judged now) took keys the flush took
 * anyway, and are done with; the later ones took keys made since.
 */
static void
model_removed_flush(struct model *m)
{
	size_t i = 0;

	while (i < m->nremoved) {
		if (m->removed_epoch[i] <= m->flushes)
			model_removal_drop(m, i);
		else
			i++;
	}
	m->flushes++;
}

/*
 * The judging of a batch is done: each removal still waiting took a key
 * the model holds stale (those before a flush went with it).
 */
static void
model_removed_apply(struct model *m)
{
	struct mkey *e;
	size_t i;

	for (i = 0; i < m->nremoved; i++) {
		e = model_get(m, m->removed[i], m->removed_len[i]);
		FUZZ_CHECK(e != NULL && model_stale(m, e));
		model_del(m, m->removed[i], m->removed_len[i]);
		m->ghosts = 1;
		free(m->removed[i]);
	}
	m->nremoved = 0;
}

/* ---- The keyspace as it is, read without side effects ---- */

/* The entry for key in either table, without expiring it (dict_find
 * may move a rehash along, which changes no key). */
static dict_entry *
db_peek(struct db *db, const char *key, size_t klen)
{
	dict_entry *e = dict_find(db->keys, key, klen);

	if (e != NULL) {
		FUZZ_CHECK(dict_entry_expire(e) == -1);
		return e;
	}
	e = dict_find(db->expires, key, klen);
	if (e != NULL)
		FUZZ_CHECK(dict_entry_expire(e) >= 0);
	return e;
}

/* Whether an entry's value is all in its bytes, so that two keyspaces
 * holding the same value hold the same bytes (a quicklist's are
 * pointers to its nodes). */
static int
value_is_bytes(uint32_t meta)
{
	return obj_meta_encoding(meta) != OBJ_ENC_QUICKLIST;
}

static char *entry_list_value(const dict_entry *e, size_t *vlen);

/* The entry for key in db holds what model entry k says (enc: compare
 * a string's encoding too). */
static void
check_entry(const dict_entry *e, const struct mkey *k, int enc)
{
	uint32_t meta = dict_entry_meta(e);
	const char *v;
	size_t vlen;

	FUZZ_CHECK(obj_meta_type(meta) == k->type);
	FUZZ_CHECK(dict_entry_expire(e) == k->expire);
	if (k->type == OBJ_LIST) {
		/* Elements only: the form depends on the settings. */
		v = entry_list_value(e, &vlen);
		FUZZ_CHECK(vlen == k->vlen && memcmp(v, k->val, vlen) == 0);
		free((char *)v);
		return;
	}
	FUZZ_CHECK(!enc || obj_meta_encoding(meta) == k->enc);
	v = dict_entry_val(e, &vlen);
	FUZZ_CHECK(vlen == k->vlen);
	FUZZ_CHECK(vlen == 0 || memcmp(v, k->val, vlen) == 0);
}

/* The keyspace physically holds key exactly as the model does. */
static void
check_key_exact(struct model *m, struct db *db, const char *key,
    size_t klen)
{
	const struct mkey *k = model_get(m, key, klen);
	dict_entry *e = db_peek(db, key, klen);

	FUZZ_CHECK((e != NULL) == (k != NULL));
	if (k != NULL)
		check_entry(e, k, 1);
}

/* A replica holds key live exactly when the model does, with the same
 * type, value and expire time (encodings may differ: a replayed SET of
 * INCRBYFLOAT's result is encoded afresh, as in Redis). */
static void
check_key_live(struct model *m, struct db *db, const char *key,
    size_t klen)
{
	const struct mkey *k = model_get(m, key, klen);
	dict_entry *e = db_peek(db, key, klen);
	long long when;

	if (k != NULL && model_stale(m, k))
		k = NULL;
	if (e != NULL) {
		when = dict_entry_expire(e);
		if (when >= 0 && m->now > when)
			e = NULL;
	}
	FUZZ_CHECK((e != NULL) == (k != NULL));
	if (k != NULL)
		check_entry(e, k, 0);
}

/* The keyspace holds exactly what the model does, stale keys too. */
static void
model_check_db(struct model *m, struct db *db)
{
	const struct mkey *e;
	size_t i;

	FUZZ_CHECK(db_size(db) == m->count);
	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			check_key_exact(m, db, e->key, e->klen);
}

/* What one walk over a keyspace's entries compares. */
struct live_walk {
	struct db *other;            /* NULL: only count */
	long long now;
	size_t live;
};

/* dict_foreach callback: count a live entry and find it in the other
 * keyspace, live and the same. */
static int
live_visit(const dict_entry *e, void *arg)
{
	struct live_walk *w = arg;
	long long when = dict_entry_expire(e), w2;
	const char *key;
	dict_entry *o;
	size_t klen, al, bl;
	const char *av, *bv;

	if (when >= 0 && w->now > when)
		return 0;
	w->live++;
	if (w->other == NULL)
		return 0;
	key = dict_entry_key(e, &klen);
	o = db_peek(w->other, key, klen);
	FUZZ_CHECK(o != NULL);
	w2 = dict_entry_expire(o);
	FUZZ_CHECK(w2 == when);
	FUZZ_CHECK(obj_meta_type(dict_entry_meta(o)) ==
	    obj_meta_type(dict_entry_meta(e)));
	if (obj_meta_type(dict_entry_meta(e)) == OBJ_LIST) {
		av = entry_list_value(e, &al);
		bv = entry_list_value(o, &bl);
		FUZZ_CHECK(al == bl && memcmp(av, bv, al) == 0);
		free((char *)av);
		free((char *)bv);
		return 0;
	}
	FUZZ_CHECK(value_is_bytes(dict_entry_meta(e)) &&
	    value_is_bytes(dict_entry_meta(o)));
	av = dict_entry_val(e, &al);
	bv = dict_entry_val(o, &bl);
	FUZZ_CHECK(al == bl && (al == 0 || memcmp(av, bv, al) == 0));
	return 0;
}

/* The live keys of a keyspace at now (ms), found in other if not NULL. */
static size_t
db_live(struct db *db, struct db *other, long long now)
{
	struct live_walk w = { other, now, 0 };

	dict_foreach(db->keys, live_visit, &w);
	dict_foreach(db->expires, live_visit, &w);
	return w.live;
}

/* Two keyspaces hold the same live keys at now: names, types, values
 * and expire times. */
static void
db_live_equal(struct db *a, struct db *b, long long now)
{
	FUZZ_CHECK(db_live(a, b, now) == db_live(b, NULL, now));
}

/* The live keys of a keyspace are the model's live keys. */
static void
model_check_live(struct model *m, struct db *db)
{
	const struct mkey *e;
	size_t i;

	FUZZ_CHECK(db_live(db, NULL, m->now) == model_live_count(m));
	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			if (!model_stale(m, e))
				check_key_live(m, db, e->key, e->klen);
}

/* dict_foreach callback: copy one entry of the keyspace into the model. */
static int
resync_visit(const dict_entry *e, void *arg)
{
	uint32_t meta = dict_entry_meta(e);
	size_t klen, vlen;
	const char *key = dict_entry_key(e, &klen);
	char *v;

	if (obj_meta_type(meta) != OBJ_LIST) {
		model_put(arg, key, klen, obj_meta_type(meta),
		    obj_meta_encoding(meta), dict_entry_val(e, &vlen), vlen,
		    dict_entry_expire(e));
		return 0;
	}
	v = entry_list_value(e, &vlen);
	model_put(arg, key, klen, OBJ_LIST, OBJ_ENC_QUICKLIST, v, vlen,
	    dict_entry_expire(e));
	free(v);
	return 0;
}

/* Make the model what the keyspace physically holds (after a write
 * command the model does not know). */
static void
model_resync(struct model *m, struct db *db)
{
	model_clear(m);
	dict_foreach(db->keys, resync_visit, m);
	dict_foreach(db->expires, resync_visit, m);
	FUZZ_CHECK(db_size(db) == m->count);
}

/* ---- What the servers propagate ---- */

/* One propagated command: its instant and its arguments. */
struct prop_rec {
	long long us;                /* the wall clock when it left */
	size_t first;                /* its first argument in args */
	int argc;
};

/* Every command a server propagated during one run, in order. */
struct prop_log {
	struct resp_buf bytes;       /* the arguments, back to back */
	struct resp_arg *args;       /* off and len into bytes */
	size_t nargs, capargs;
	struct prop_rec *recs;
	size_t n, cap;
	size_t replayed;             /* records already run on the replica */
};

static void
log_free(struct prop_log *log)
{
	resp_buf_free(&log->bytes);
	free(log->args);
	free(log->recs);
	memset(log, 0, sizeof(*log));
}

/* Record a propagated command, at the fixed clock's instant. */
static void
log_add(struct prop_log *log, int argc, const struct resp_arg *argv)
{
	struct prop_rec *r;
	int i;

	grow(&log->recs, &log->cap, log->n, sizeof(*log->recs));
	r = &log->recs[log->n++];
	r->us = clock_wall_us();
	r->first = log->nargs;
	r->argc = argc;
	for (i = 0; i < argc; i++) {
		grow(&log->args, &log->capargs, log->nargs,
		    sizeof(*log->args));
		log->args[log->nargs].off = log->bytes.len;
		log->args[log->nargs].len = argv[i].len;
		log->nargs++;
		resp_buf_append(&log->bytes, argv[i].ptr, argv[i].len);
	}
}

/* ---- The servers ---- */

/* A server the inputs run against, with the harness's hooks. */
struct fuzz_server {
	struct server *srv;
	struct server_config cfg;    /* as created, restored after each pass */
	db_remove_hook *removed;     /* the server's own removal hook */
	void *removed_arg;
	struct model *model;         /* told of removals; NULL: none */
	struct prop_log *log;        /* gets what is propagated; NULL: none */
	unsigned long long removals; /* keys expiry and eviction took */
	unsigned long long flushes;  /* FLUSHDB and FLUSHALL it propagated */
};

enum { SRV_OPEN, SRV_LOCKED, SRV_REPLICA, SRV_COUNT };
static struct fuzz_server servers[SRV_COUNT];

/*
 * The removal hook of every server: an expired key must have a time that
 * has passed, an evicted one a maxmemory (and a TTL under a volatile-*
 * policy); the model learns of it; then the server's own hook propagates
 * the DEL.
 */
static void
fuzz_key_removed(void *arg, const char *key, size_t klen,
    enum db_removal why)
{
	struct fuzz_server *fs = arg;
	struct server *srv = fs->srv;
	dict_entry *e = db_peek(&srv->db, key, klen);

	FUZZ_CHECK(e != NULL);
	if (why == DB_REMOVED_EXPIRED)
		FUZZ_CHECK(dict_entry_expire(e) >= 0 &&
		    srv->db.now > dict_entry_expire(e));
	else {
		FUZZ_CHECK(why == DB_REMOVED_EVICTED);
		FUZZ_CHECK(srv->evictor.maxmemory != 0);
		FUZZ_CHECK(srv->evictor.policy == MM_ALLKEYS_LRU ||
		    srv->evictor.policy == MM_ALLKEYS_LFU ||
		    srv->evictor.policy == MM_ALLKEYS_RANDOM ||
		    dict_entry_expire(e) >= 0);
	}
	fs->removals++;
	if (fs->model != NULL)
		model_removed(fs->model, key, klen, why, srv->db.now,
		    srv->evictor.maxmemory != 0, fs->flushes);
	fs->removed(fs->removed_arg, key, klen, why);
}

/* The propagation hook: only known write commands, with a valid arity,
 * leave (and the MULTI and EXEC around a transaction's); each is
 * recorded. */
static void
fuzz_propagate(void *arg, int argc, const struct resp_arg *argv)
{
	struct fuzz_server *fs = arg;
	const struct command *cmd;

	FUZZ_CHECK(argc > 0);
	cmd = command_lookup(argv[0].ptr, argv[0].len);
	FUZZ_CHECK(cmd != NULL && ((cmd->flags & CMD_WRITE) ||
	    arg_is(&argv[0], "multi") || arg_is(&argv[0], "exec")));
	FUZZ_CHECK(cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity);
	if (arg_is(&argv[0], "flushall") || arg_is(&argv[0], "flushdb"))
		fs->flushes++;
	if (fs->log != NULL)
		log_add(fs->log, argc, argv);
}

/* Make a server listening only on a Unix socket whose file is removed
 * at once (the listener stays open and is never used), with the
 * harness's hooks. */
static void
server_setup(struct fuzz_server *fs, const char *password)
{
	char dir[] = "/tmp/tmc-fuzz-XXXXXX", path[64], err[SERVER_ERR_LEN];
	struct server_config cfg;

	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s", dir);
	server_config_init(&cfg);
	cfg.port = -1;
	FUZZ_CHECK(server_config_set(&cfg, "unixsocket", path, strlen(path),
	    err) == 0);
	/* CONFIG SET port would open a real listener: on this address
	 * (TEST-NET-1, never assigned) it fails, alike in every run. */
	FUZZ_CHECK(server_config_set(&cfg, "bind", "192.0.2.1", 9, err) == 0);
	FUZZ_CHECK(server_config_set(&cfg, "proto-max-bulk-len",
	    FUZZ_BULK_MAX, strlen(FUZZ_BULK_MAX), err) == 0);
	cfg.maxclients = 64;
	FUZZ_CHECK(server_config_set(&cfg, "logfile", "/dev/null", 9,
	    err) == 0);
	cfg.loglevel = LL_WARNING;
	if (password != NULL)
		FUZZ_CHECK(server_config_set(&cfg, "requirepass", password,
		    strlen(password), err) == 0);
	fs->srv = server_create(&cfg, err);
	server_config_free(&cfg);
	if (fs->srv == NULL)
		fprintf(stderr, "fuzz_commands: %s\n", err);
	FUZZ_CHECK(fs->srv != NULL);
	unlink(path);
	rmdir(dir);
	server_config_copy(&fs->cfg, &fs->srv->cfg);
	fs->removed = fs->srv->db.on_remove;
	fs->removed_arg = fs->srv->db.on_remove_arg;
	FUZZ_CHECK(fs->removed != NULL);
	fs->srv->db.on_remove = fuzz_key_removed;
	fs->srv->db.on_remove_arg = fs;
	fs->srv->propagate = fuzz_propagate;
	fs->srv->propagate_arg = fs;
}

/* Undo what one input did to the server: configuration (CONFIG SET),
 * password, shutdown request, keys, and the state of expiry, eviction
 * and the keyspace's random draws, so every run starts alike. */
static void
server_reset(struct fuzz_server *fs)
{
	struct server *srv = fs->srv;
	char err[SETTING_ERR_LEN];

	FUZZ_CHECK(srv->clients == NULL);
	FUZZ_CHECK(srv->nclients == 0);
	server_config_free(&srv->cfg);
	server_config_copy(&srv->cfg, &fs->cfg);
	FUZZ_CHECK(server_apply_setting(srv, S_BUSY_POLL_US, err) == 0);
	FUZZ_CHECK(server_apply_setting(srv, S_PROTO_MAX_BULK_LEN, err) == 0);
	FUZZ_CHECK(server_apply_setting(srv, S_HZ, err) == 0);
	/* Close any listener CONFIG SET bind and port opened. */
	FUZZ_CHECK(server_apply_setting(srv, S_PORT, err) == 0);
	srv->shutdown_asap = 0;
	srv->stop_requested = 0;
	srv->clock_us = 0;
	db_flush(&srv->db);
	memset(&srv->expire, 0, sizeof(srv->expire));
	evict_reset(&srv->evictor);
	srv->db.rng = 0x9e3779b97f4a7c15ULL;
	fs->model = NULL;
	fs->log = NULL;
}

/* A client of srv on one end of a socket pair; *peer gets the other. */
static struct client *
client_setup(struct server *srv, int *peer)
{
	struct client *c;
	int fds[2];

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, fds) == 0);
	c = client_create(srv, fds[0], CLIENT_UNIX_SOCKET, NULL);
	FUZZ_CHECK(c != NULL);
	*peer = fds[1];
	return c;
}

/* Set the wall clock (and the server's idea of the next command's
 * start) to us. */
static void
clock_at(struct server *srv, long long us)
{
	clock_set_fixed_wall_us(us);
	srv->clock_us = us;
}

/*
 * Run one command on srv outside any run (on a client of its own,
 * authenticated); it must not fail.
 */
static void
harness_command(struct server *srv, int argc, const char *const *words)
{
	struct resp_arg argv[4];
	struct client *c;
	int i, peer;

	FUZZ_CHECK(argc <= 4);
	for (i = 0; i < argc; i++) {
		argv[i].ptr = (char *)(uintptr_t)words[i];
		argv[i].len = strlen(words[i]);
		argv[i].off = 0;
	}
	c = client_setup(srv, &peer);
	c->authenticated = 1;
	c->argc = argc;
	c->argv = argv;
	command_dispatch(c);
	c->argc = 0;
	c->argv = NULL;
	FUZZ_CHECK(c->reply.len > 0 && c->reply.data[0] != '-');
	close(peer);
	client_free(c);
}

/*
 * Make key a list holding "a" (with RPUSH), expiring at expire (ms, or
 * -1), and tell the model (if any) what the keyspace then holds.
 */
static void
world_list(struct server *srv, struct model *m, const char *key,
    long long expire)
{
	const char *const words[] = { "RPUSH", key, "a" };
	size_t klen = strlen(key), vlen;
	char *v;
	dbkey *k;

	harness_command(srv, 3, words);
	k = db_find(&srv->db, key, klen, DB_NOSTATS | DB_NOTOUCH);
	FUZZ_CHECK(k != NULL && db_key_type(k) == OBJ_LIST);
	if (expire >= 0)
		db_set_expire(&srv->db, k, expire);
	if (m == NULL)
		return;
	v = entry_list_value(db_peek(&srv->db, key, klen), &vlen);
	model_put(m, key, klen, OBJ_LIST, OBJ_ENC_QUICKLIST, v, vlen, expire);
	free(v);
}

/*
 * Keys an input starts with: with plan->lists, two lists, "l" and
 * "list" (expiring 1.5 s after the first command), so that WRONGTYPE,
 * TYPE and the rest meet another type (and list commands, where there
 * are any, a list). In the model too, if m is not NULL.
 */
static void
world_seed(struct server *srv, struct model *m, const struct plan *plan)
{
	long long base_ms = plan->base_us / 1000;

	if (!plan->lists)
		return;
	clock_at(srv, plan->base_us);
	srv->db.now = base_ms;
	world_list(srv, m, "l", -1);
	world_list(srv, m, "list", base_ms + 1500);
}

/* ---- The replica: replays what a run propagated ---- */

/* The replica's side of one run. */
struct replica {
	struct fuzz_server *fs;
	struct client *c;
	int peer;
};

/* Start the replica for a run: empty, with the run's first keys. */
static void
replica_begin(struct replica *r, const struct plan *plan)
{
	r->fs = &servers[SRV_REPLICA];
	server_reset(r->fs);
	world_seed(r->fs->srv, NULL, plan);
	r->c = client_setup(r->fs->srv, &r->peer);
}

static void
replica_end(struct replica *r)
{
	close(r->peer);
	client_free(r->c);
	server_reset(r->fs);
}

/*
 * Run the records of log not yet replayed on the replica, each at the
 * instant it was propagated; none may fail. The clock is left at resume
 * (microseconds) for the run that goes on.
 */
static void
replica_replay(struct replica *r, struct prop_log *log, long long resume)
{
	struct client *c = r->c;
	struct resp_arg argv[64], *av;
	const struct prop_rec *rec;
	size_t off;
	int i;

	for (; log->replayed < log->n; log->replayed++) {
		rec = &log->recs[log->replayed];
		av = rec->argc <= 64 ? argv : malloc((size_t)rec->argc *
		    sizeof(*av));
		FUZZ_CHECK(av != NULL);
		for (i = 0; i < rec->argc; i++) {
			av[i].off = 0;
			av[i].len = log->args[rec->first + (size_t)i].len;
			av[i].ptr = log->bytes.data +
			    log->args[rec->first + (size_t)i].off;
		}
		clock_at(r->fs->srv, rec->us);
		off = c->reply.len;
		c->argc = rec->argc;
		c->argv = av;
		command_dispatch(c);
		c->argc = 0;
		c->argv = NULL;
		FUZZ_CHECK(c->reply.len > off);
		FUZZ_CHECK(c->reply.data[off] != '-');
		c->reply.len = 0;
		if (av != argv)
			free(av);
	}
	clock_set_fixed_wall_us(resume);
}

/* ---- Replies ---- */

/* The length of the one complete reply at p, which must fill n bytes. */
static void
check_one_reply(const char *p, size_t n)
{
	struct resp_scan s;

	FUZZ_CHECK(n > 0);
	resp_scan_init(&s);
	FUZZ_CHECK(resp_scan_reply(&s, p, n, NULL) == (long long)n);
}

/* The length of the complete reply at the start of p[0..n). */
static size_t
next_reply(const char *p, size_t n)
{
	struct resp_scan s;
	long long r;

	resp_scan_init(&s);
	r = resp_scan_reply(&s, p, n, NULL);
	FUZZ_CHECK(r > 0);
	return (size_t)r;
}

/* Count the replies in buf, which must hold only complete replies. */
static size_t
count_replies(const char *buf, size_t len)
{
	size_t off = 0, n = 0;

	while (off < len) {
		off += next_reply(buf + off, len - off);
		n++;
	}
	return n;
}

/* The reply at p[0..n) is exactly what want holds. */
static void
check_reply_is(const char *p, size_t n, const struct resp_buf *want)
{
	FUZZ_CHECK(n == want->len);
	FUZZ_CHECK(memcmp(p, want->data, n) == 0);
}

/* Read a "<type><number>\r\n" line at *p (within e); returns the number. */
static long long
read_line_num(const char **p, const char *e, char type)
{
	const char *nl;
	long long v;

	FUZZ_CHECK(*p < e && **p == type);
	nl = memchr(*p, '\n', (size_t)(e - *p));
	FUZZ_CHECK(nl != NULL && nl - *p >= 3 && nl[-1] == '\r');
	FUZZ_CHECK(resp_str_to_ll(*p + 1, (size_t)(nl - *p - 2), &v));
	*p = nl + 1;
	return v;
}

/* Read a bulk string at *p (within e): its bytes and length. */
static const char *
read_bulk(const char **p, const char *e, size_t *len)
{
	long long n = read_line_num(p, e, '$');
	const char *s = *p;

	FUZZ_CHECK(n >= 0 && n <= e - *p - 2);
	*len = (size_t)n;
	*p += n + 2;
	return s;
}

/* Whether a KEYS or SCAN MATCH pattern takes key: "*" alone takes every
 * key, even the empty one, which the glob itself does not match (as in
 * Redis). */
static int
keys_match(const struct resp_arg *pat, const char *key, size_t klen)
{
	return (pat->len == 1 && pat->ptr[0] == '*') ||
	    glob_match(pat->ptr, pat->len, key, klen, 0);
}

/* KEYS pattern: the reply lists, once each, exactly the model's live
 * keys that match the pattern. */
static void
check_keys(struct model *m, const struct resp_arg *pat, const char *p,
    const char *e)
{
	const struct mkey *k;
	struct mkey *hit;
	const char *key;
	long long n, i;
	size_t b, len, want = 0;

	m->mark++;
	n = read_line_num(&p, e, '*');
	FUZZ_CHECK(n >= 0 && (size_t)n <= m->count);
	for (i = 0; i < n; i++) {
		key = read_bulk(&p, e, &len);
		hit = model_get(m, key, len);
		FUZZ_CHECK(hit != NULL && !model_stale(m, hit));
		FUZZ_CHECK(hit->mark != m->mark);      /* listed once */
		hit->mark = m->mark;
		FUZZ_CHECK(keys_match(pat, key, len));
	}
	FUZZ_CHECK(p == e);
	for (b = 0; b < MODEL_BUCKETS; b++)
		for (k = m->b[b]; k != NULL; k = k->next)
			if (!model_stale(m, k) &&
			    keys_match(pat, k->key, k->klen))
				want++;
	FUZZ_CHECK(want == (size_t)n);
}

/* Commands whose replies depend on time, ids, statistics, the allocator
 * or the hash table's layout: their replies are not compared between
 * the ways of running an input (the model checks what it can). */
static int
is_variable(const struct resp_arg *name)
{
	static const char *const names[] = {
		"info", "client", "hello", "keys", "randomkey", "scan",
		"memory", NULL,
	};
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (arg_is(name, names[i]))
			return 1;
	return 0;
}

/* The command argv names (its subcommand, for a container with
 * arguments), or NULL if the dispatcher knows none. */
static const struct command *
command_of_argv(int argc, const struct resp_arg *argv)
{
	const struct command *cmd = command_lookup(argv[0].ptr, argv[0].len);

	if (cmd != NULL && cmd->sub != NULL && argc >= 2)
		cmd = command_find(cmd->sub, argv[1].ptr, argv[1].len);
	return cmd;
}

/*
 * The positions of the keys a command names: its row's, or for LMPOP
 * and BLMPOP (movable keys) the numkeys keys after numkeys. 0 with
 * *first, *last and *step, or -1 if it names none.
 */
static int
argv_keys(int argc, const struct resp_arg *argv, int *first, int *last,
    int *step)
{
	const struct command *cmd = command_of_argv(argc, argv);
	long long nk;
	int ni;

	if (cmd == NULL)
		return -1;
	if (cmd->first_key > 0 && cmd->key_step > 0) {
		*first = cmd->first_key;
		*last = cmd->last_key < 0 ? argc + cmd->last_key :
		    cmd->last_key;
		*step = cmd->key_step;
		return 0;
	}
	ni = arg_is(&argv[0], "lmpop") ? 1 : arg_is(&argv[0], "blmpop") ?
	    2 : 0;
	if (ni == 0 || argc <= ni || !resp_str_to_ll(argv[ni].ptr,
	    argv[ni].len, &nk) || nk < 1 || nk > argc)
		return -1;
	*first = ni + 1;
	*last = ni + (int)nk;
	*step = 1;
	return 0;
}

/* Whether key is one of the keys c's command names. */
static int
command_names_key(const struct client *c, const char *key, size_t klen)
{
	int i, first, last, step;

	if (argv_keys(c->argc, c->argv, &first, &last, &step) != 0)
		return 0;
	for (i = first; i <= last && i < c->argc; i += step)
		if (c->argv[i].len == klen &&
		    memcmp(c->argv[i].ptr, key, klen) == 0)
			return 1;
	return 0;
}

/* ---- The model of each command ---- */

/* What the model knows of one client of a run: its transaction. */
struct mclient {
	int multi;                   /* in MULTI: requests are queued */
	int aborted;                 /* one was refused: EXEC will abort */
	int watching;                /* WATCH ran: EXEC may find a change */
	struct prop_log queue;       /* the requests queued */
};

/* Leave MULTI (EXEC, DISCARD), or start afresh. */
static void
mclient_reset(struct mclient *mc)
{
	log_free(&mc->queue);
	mc->multi = mc->aborted = mc->watching = 0;
}

/* One command as the model judges it. */
struct mcmd {
	struct mclient *mc;          /* the client that sent it */
	int nprop;                   /* records it propagates (besides the
	                              * DELs of expiry and eviction) */
	struct model *m;
	struct server *srv;
	const struct command *cmd;
	const struct resp_arg *a;    /* the arguments */
	int argc;
	const char *p;               /* its reply */
	size_t n;
	struct resp_buf *w;          /* the reply it must be, unless own */
	int own;                     /* the reply was checked otherwise */
	int changed;                 /* it changed the keyspace, so it
	                              * propagates exactly once */
	int vary;                    /* its reply may differ in another run */
	int pform;                   /* how it propagates, if it changed the
	                              * keyspace: 0 unchecked, 1 as pw, 2 as
	                              * sent */
	int pn;
	const char *pw[MODEL_PROP_WORDS];
	size_t pl[MODEL_PROP_WORDS];
	char pnum[24];               /* a number in pw */
	size_t pnum_len;
	int in_exec;                 /* run by EXEC: blocking commands do
	                              * not wait */
	int may_block;               /* a blocking command may wait */
	int blocked;                 /* it waits on its keys */
	long double wait_ms;         /* a blocking command's timeout (0:
	                              * forever) */
	const struct resp_arg *ready; /* run again for this ready key */
	struct prop_log *ready_keys; /* gets each key a list appears at, if
	                              * the run has waiters to serve */
};

typedef void model_proc(struct mcmd *x);

/* Expect an error reply: "text" gets "-ERR ", "-CODE text" is kept. */
static void
want_err(struct mcmd *x, const char *msg)
{
	resp_add_error(x->w, msg, strlen(msg));
}

static void
want_wrongtype(struct mcmd *x)
{
	want_err(x, "-WRONGTYPE Operation against a key holding the wrong "
	    "kind of value");
}

/* Expect a key's value, or nil. */
static void
want_value(struct mcmd *x, const struct mkey *e)
{
	if (e == NULL)
		resp_add_null(x->w);
	else
		resp_add_bulk(x->w, e->val, e->vlen);
}

/*
 * A command looks key k up: the live key, or NULL. The lookup reclaims
 * a key whose time has passed, so the removal hook has taken it out of
 * the model while the command ran: a stale key still there means the
 * server skipped the lookup Redis makes.
 */
static struct mkey *
x_lookup(struct mcmd *x, const struct resp_arg *k)
{
	struct mkey *e = model_get(x->m, k->ptr, k->len);

	if (e != NULL && model_stale(x->m, e) && x->m->defer) {
		model_removed_take(x->m, k->ptr, k->len);
		return NULL;
	}
	FUZZ_CHECK(e == NULL || !model_stale(x->m, e));
	return e;
}

/* Look k up for a command that needs a string: 0 with *e (NULL if
 * absent), or -1 with WRONGTYPE expected. */
static int
x_lookup_string(struct mcmd *x, const struct resp_arg *k, struct mkey **e)
{
	*e = x_lookup(x, k);
	if (*e != NULL && (*e)->type != OBJ_STRING) {
		want_wrongtype(x);
		return -1;
	}
	return 0;
}

/* An integer argument (Redis's string2ll), or -1 with the error. */
static int
x_ll(struct mcmd *x, const struct resp_arg *a, long long *v)
{
	if (resp_str_to_ll(a->ptr, a->len, v))
		return 0;
	want_err(x, "value is not an integer or out of range");
	return -1;
}

static void
want_bad_expire(struct mcmd *x)
{
	char name[64];

	resp_add_errorf(x->w, "invalid expire time in '%s' command",
	    command_fullname(x->cmd, name));
}

static void
want_arity(struct mcmd *x)
{
	char name[64];

	resp_add_errorf(x->w, "wrong number of arguments for '%s' command",
	    command_fullname(x->cmd, name));
}

/* Store a string value under k (the command changed the keyspace). */
static struct mkey *
x_put(struct mcmd *x, const struct resp_arg *k, const char *v, size_t vlen,
    int enc, long long expire)
{
	x->changed = 1;
	return model_put(x->m, k->ptr, k->len, OBJ_STRING, enc, v, vlen,
	    expire);
}

/* Store a value as the client sent it (encoded as Redis would). */
static struct mkey *
x_put_sent(struct mcmd *x, const struct resp_arg *k,
    const struct resp_arg *v, long long expire)
{
	return x_put(x, k, v->ptr, v->len, obj_string_encoding(v->ptr,
	    v->len), expire);
}

/* Delete k (which the model holds). */
static void
x_del(struct mcmd *x, const struct resp_arg *k)
{
	FUZZ_CHECK(model_del(x->m, k->ptr, k->len) == 1);
	x->changed = 1;
}

/* A list appeared at k: its waiters (if the run has any) are served
 * before the loop sleeps. */
static void
x_ready(struct mcmd *x, const struct resp_arg *k)
{
	if (x->ready_keys != NULL)
		log_add(x->ready_keys, 1, k);
}

/* ---- Strings ---- */

#define O_NX      (1 << 0)
#define O_XX      (1 << 1)
#define O_GET     (1 << 2)
#define O_KEEPTTL (1 << 3)
#define O_PERSIST (1 << 4)
#define O_EX      (1 << 5)
#define O_PX      (1 << 6)
#define O_EXAT    (1 << 7)
#define O_PXAT    (1 << 8)
#define O_TIMES   (O_EX | O_PX | O_EXAT | O_PXAT)

/*
 * The options of SET (set != 0, from argv[3]) or GETEX (from argv[2]) as
 * Redis 7.0's parseExtendedStringArgumentsOrReply reads them: words as C
 * strings in any case; NX and XX exclude each other, the four times,
 * KEEPTTL and PERSIST each other (the same time twice is fine); a time
 * needs its argument. 0 with *flags and *t, or -1 with the error.
 */
static int
x_string_options(struct mcmd *x, int set, int *flags,
    const struct resp_arg **t)
{
	static const struct {
		const char *word;
		int flag;
	} times[] = {
		{ "ex", O_EX }, { "px", O_PX }, { "exat", O_EXAT },
		{ "pxat", O_PXAT },
	};
	const struct resp_arg *o;
	int j, k;

	*flags = 0;
	*t = NULL;
	for (j = set ? 3 : 2; j < x->argc; j++) {
		o = &x->a[j];
		if (set && arg_is_word(o, "nx") && !(*flags & O_XX))
			*flags |= O_NX;
		else if (set && arg_is_word(o, "xx") && !(*flags & O_NX))
			*flags |= O_XX;
		else if (set && arg_is_word(o, "get"))
			*flags |= O_GET;
		else if (set && arg_is_word(o, "keepttl") &&
		    !(*flags & (O_PERSIST | O_TIMES)))
			*flags |= O_KEEPTTL;
		else if (!set && arg_is_word(o, "persist") &&
		    !(*flags & (O_KEEPTTL | O_TIMES)))
			*flags |= O_PERSIST;
		else {
			for (k = 0; k < 4; k++)
				if (arg_is_word(o, times[k].word) &&
				    j + 1 < x->argc && !(*flags & (O_KEEPTTL |
				    O_PERSIST | (O_TIMES & ~times[k].flag))))
					break;
			if (k == 4) {
				want_err(x, "syntax error");
				return -1;
			}
			*flags |= times[k].flag;
			*t = &x->a[++j];
		}
	}
	return 0;
}

/*
 * The absolute expire time (ms) of a SET-style time argument, as Redis
 * 7.0's getExpireMillisecondsOrReply: positive, seconds that fit in ms,
 * a relative time that does not overflow past now. 0, or -1 with the
 * error.
 */
static int
x_expire_ms(struct mcmd *x, const struct resp_arg *t, int flags,
    long long *ms)
{
	int sec = (flags & (O_EX | O_EXAT)) != 0;
	long long v;

	if (x_ll(x, t, &v) == -1)
		return -1;
	if (v <= 0 || (sec && v > LLONG_MAX / 1000)) {
		want_bad_expire(x);
		return -1;
	}
	if (sec)
		v *= 1000;
	if (flags & (O_EX | O_PX)) {
		if (v > LLONG_MAX - x->m->now) {
			want_bad_expire(x);
			return -1;
		}
		v += x->m->now;
	}
	*ms = v;
	return 0;
}

static void
m_get(struct mcmd *x)
{
	struct mkey *e;

	if (x_lookup_string(x, &x->a[1], &e) == 0)
		want_value(x, e);
}

/* SET key value [NX | XX] [GET] [time | KEEPTTL]: the time is checked
 * first, then GET's lookup, then NX/XX (existence of any type). */
static void
m_set(struct mcmd *x)
{
	const struct resp_arg *t;
	long long when = -1;
	struct mkey *e;
	int flags;

	if (x_string_options(x, 1, &flags, &t) == -1 ||
	    (t != NULL && x_expire_ms(x, t, flags, &when) == -1))
		return;
	if (flags & O_GET) {
		if (x_lookup_string(x, &x->a[1], &e) == -1)
			return;
		want_value(x, e);
	}
	e = x_lookup(x, &x->a[1]);
	if (((flags & O_NX) && e != NULL) || ((flags & O_XX) && e == NULL)) {
		if (!(flags & O_GET))
			resp_add_null(x->w);
		return;
	}
	if (flags & O_KEEPTTL)
		when = e != NULL ? e->expire : -1;
	x_put_sent(x, &x->a[1], &x->a[2], when);
	if (!(flags & O_GET))
		resp_add_ok(x->w);
}

static void
m_setnx(struct mcmd *x)
{
	if (x_lookup(x, &x->a[1]) != NULL) {
		resp_add_int(x->w, 0);
		return;
	}
	x_put_sent(x, &x->a[1], &x->a[2], -1);
	resp_add_int(x->w, 1);
}

/* SETEX key seconds value, PSETEX key ms value (flag O_EX or O_PX). */
static void
setex_generic(struct mcmd *x, int flag)
{
	long long when;

	if (x_expire_ms(x, &x->a[2], flag, &when) == -1)
		return;
	x_lookup(x, &x->a[1]);
	x_put_sent(x, &x->a[1], &x->a[3], when);
	resp_add_ok(x->w);
}

static void
m_setex(struct mcmd *x)
{
	setex_generic(x, O_EX);
}

static void
m_psetex(struct mcmd *x)
{
	setex_generic(x, O_PX);
}

static void
m_getset(struct mcmd *x)
{
	struct mkey *e;

	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	want_value(x, e);
	x_put_sent(x, &x->a[1], &x->a[2], -1);
}

static void
m_mget(struct mcmd *x)
{
	struct mkey *e;
	int i;

	resp_add_array_len(x->w, x->argc - 1);
	for (i = 1; i < x->argc; i++) {
		e = x_lookup(x, &x->a[i]);
		want_value(x, e != NULL && e->type == OBJ_STRING ? e : NULL);
	}
}

/* MSET (nx 0) and MSETNX (nx 1): a missing value is an arity error;
 * MSETNX stops at the first key that exists. */
static void
mset_generic(struct mcmd *x, int nx)
{
	int i;

	if (x->argc % 2 == 0) {
		want_arity(x);
		return;
	}
	for (i = 1; nx && i < x->argc; i += 2)
		if (x_lookup(x, &x->a[i]) != NULL) {
			resp_add_int(x->w, 0);
			return;
		}
	for (i = 1; i < x->argc; i += 2) {
		x_lookup(x, &x->a[i]);
		x_put_sent(x, &x->a[i], &x->a[i + 1], -1);
	}
	if (nx)
		resp_add_int(x->w, 1);
	else
		resp_add_ok(x->w);
}

static void
m_mset(struct mcmd *x)
{
	mset_generic(x, 0);
}

static void
m_msetnx(struct mcmd *x)
{
	mset_generic(x, 1);
}

static void
m_getdel(struct mcmd *x)
{
	struct mkey *e;

	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	want_value(x, e);
	if (e != NULL)
		x_del(x, &x->a[1]);
}

/* GETEX key [time | PERSIST]: options, the key (nil, WRONGTYPE), then
 * the time; an absolute time already past deletes the key. */
static void
m_getex(struct mcmd *x)
{
	const struct resp_arg *t;
	long long when = 0;
	struct mkey *e;
	int flags;

	if (x_string_options(x, 0, &flags, &t) == -1 ||
	    x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		resp_add_null(x->w);
		return;
	}
	if (t != NULL && x_expire_ms(x, t, flags, &when) == -1)
		return;
	want_value(x, e);
	if ((flags & (O_EXAT | O_PXAT)) && when <= x->m->now)
		x_del(x, &x->a[1]);
	else if (t != NULL) {
		e->expire = when;
		x->changed = 1;
	} else if ((flags & O_PERSIST) && e->expire >= 0) {
		e->expire = -1;
		x->changed = 1;
	}
}

/* Add incr to the key's integer (0 if missing), keeping its TTL. */
static void
incr_generic(struct mcmd *x, long long incr)
{
	long long v = 0;
	char num[32];
	struct mkey *e;
	int len;

	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	if (e != NULL && !resp_str_to_ll(e->val, e->vlen, &v)) {
		want_err(x, "value is not an integer or out of range");
		return;
	}
	if ((incr < 0 && v < 0 && incr < LLONG_MIN - v) ||
	    (incr > 0 && v > 0 && incr > LLONG_MAX - v)) {
		want_err(x, "increment or decrement would overflow");
		return;
	}
	v += incr;
	len = snprintf(num, sizeof(num), "%lld", v);
	if (e != NULL) {
		model_set_val(e, num, (size_t)len, OBJ_ENC_INT);
		x->changed = 1;
	} else
		x_put(x, &x->a[1], num, (size_t)len, OBJ_ENC_INT, -1);
	resp_add_int(x->w, v);
}

static void
m_incr(struct mcmd *x)
{
	incr_generic(x, 1);
}

static void
m_decr(struct mcmd *x)
{
	incr_generic(x, -1);
}

static void
m_incrby(struct mcmd *x)
{
	long long v;

	if (x_ll(x, &x->a[2], &v) == 0)
		incr_generic(x, v);
}

static void
m_decrby(struct mcmd *x)
{
	long long v;

	if (x_ll(x, &x->a[2], &v) == -1)
		return;
	if (v == LLONG_MIN) {
		want_err(x, "decrement would overflow");
		return;
	}
	incr_generic(x, -v);
}

/* Print v as Redis's ld2string in human mode: %.17Lf without trailing
 * zeros or a trailing '.', and "-0" as "0". */
static size_t
model_ld_human(char *buf, size_t size, long double v)
{
	int n = snprintf(buf, size, "%.17Lf", v);
	size_t l;

	FUZZ_CHECK(n > 0 && (size_t)n < size);
	l = (size_t)n;
	if (memchr(buf, '.', l) != NULL) {
		while (buf[l - 1] == '0')
			l--;
		if (buf[l - 1] == '.')
			l--;
	}
	if (l == 2 && buf[0] == '-' && buf[1] == '0') {
		buf[0] = '0';
		l = 1;
	}
	return l;
}

/* INCRBYFLOAT key increment: type, then both numbers; the result is
 * stored as printed (embstr up to 44 bytes), keeping the TTL. */
static void
m_incrbyfloat(struct mcmd *x)
{
	char buf[5200];
	long double v = 0, incr;
	struct mkey *e;
	size_t len;
	int enc;

	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	if ((e != NULL && !str_to_ld(e->val, e->vlen, &v)) ||
	    !str_to_ld(x->a[2].ptr, x->a[2].len, &incr)) {
		want_err(x, "value is not a valid float");
		return;
	}
	v += incr;
	if (isnan(v) || isinf(v)) {
		want_err(x, "increment would produce NaN or Infinity");
		return;
	}
	len = model_ld_human(buf, sizeof(buf), v);
	enc = len <= OBJ_EMBSTR_MAX ? OBJ_ENC_EMBSTR : OBJ_ENC_RAW;
	if (e != NULL) {
		model_set_val(e, buf, len, enc);
		x->changed = 1;
	} else
		x_put(x, &x->a[1], buf, len, enc, -1);
	resp_add_bulk(x->w, buf, len);
}

/* Whether a string may grow to size + add bytes (proto-max-bulk-len);
 * 0, or -1 with the error. */
static int
x_check_length(struct mcmd *x, unsigned long long size,
    unsigned long long add)
{
	if (size + add <= (unsigned long long)x->srv->cfg.proto_max_bulk_len)
		return 0;
	want_err(x, "string exceeds maximum allowed size "
	    "(proto-max-bulk-len)");
	return -1;
}

static void
m_append(struct mcmd *x)
{
	const struct resp_arg *a = &x->a[2];
	struct mkey *e;
	char *v;

	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		x_put_sent(x, &x->a[1], a, -1);
		resp_add_int(x->w, (long long)a->len);
		return;
	}
	if (x_check_length(x, e->vlen, a->len) == -1)
		return;
	v = malloc(e->vlen + a->len + 1);
	FUZZ_CHECK(v != NULL);
	memcpy(v, e->val, e->vlen);
	memcpy(v + e->vlen, a->ptr, a->len);
	model_set_val(e, v, e->vlen + a->len, OBJ_ENC_RAW);
	free(v);
	x->changed = 1;
	resp_add_int(x->w, (long long)e->vlen);
}

static void
m_strlen(struct mcmd *x)
{
	struct mkey *e;

	if (x_lookup_string(x, &x->a[1], &e) == 0)
		resp_add_int(x->w, e != NULL ? (long long)e->vlen : 0);
}

/* GETRANGE / SUBSTR key start end: numbers first, then the key. */
static void
m_getrange(struct mcmd *x)
{
	long long s, t, len;
	struct mkey *e;

	if (x_ll(x, &x->a[2], &s) == -1 || x_ll(x, &x->a[3], &t) == -1 ||
	    x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL || (s < 0 && t < 0 && s > t)) {
		resp_add_bulk(x->w, "", 0);
		return;
	}
	len = (long long)e->vlen;
	if (s < 0)
		s += len;
	if (t < 0)
		t += len;
	if (s < 0)
		s = 0;
	if (t < 0)
		t = 0;
	if (t >= len)
		t = len - 1;
	if (s > t || len == 0)
		resp_add_bulk(x->w, "", 0);
	else
		resp_add_bulk(x->w, e->val + s, (size_t)(t - s + 1));
}

/* SETRANGE key offset value: the offset first, then the type; an empty
 * value changes nothing; the gap is zero bytes; "raw", TTL kept. */
static void
m_setrange(struct mcmd *x)
{
	const struct resp_arg *a = &x->a[3];
	size_t olen, nlen;
	long long off;
	struct mkey *e;
	char *v;

	if (x_ll(x, &x->a[2], &off) == -1)
		return;
	if (off < 0) {
		want_err(x, "offset is out of range");
		return;
	}
	if (x_lookup_string(x, &x->a[1], &e) == -1)
		return;
	olen = e != NULL ? e->vlen : 0;
	if (a->len == 0) {
		resp_add_int(x->w, (long long)olen);
		return;
	}
	if (x_check_length(x, (unsigned long long)off, a->len) == -1)
		return;
	nlen = (size_t)off + a->len > olen ? (size_t)off + a->len : olen;
	v = calloc(1, nlen);
	FUZZ_CHECK(v != NULL);
	if (olen > 0)
		memcpy(v, e->val, olen);
	memcpy(v + off, a->ptr, a->len);
	if (e != NULL) {
		model_set_val(e, v, nlen, OBJ_ENC_RAW);
		x->changed = 1;
	} else
		x_put(x, &x->a[1], v, nlen, OBJ_ENC_RAW, -1);
	free(v);
	resp_add_int(x->w, (long long)nlen);
}

/* DELEX key [IFEQ value | IFNE value] (Redis 8.4). */
static void
m_delex(struct mcmd *x)
{
	const struct resp_arg *want = &x->a[x->argc - 1];
	struct mkey *e;
	int ifeq = 0;

	if (x->argc == 2)
		e = x_lookup(x, &x->a[1]);
	else {
		if (x->argc == 4 && arg_is_word(&x->a[2], "ifeq"))
			ifeq = 1;
		else if (x->argc != 4 || !arg_is_word(&x->a[2], "ifne")) {
			want_err(x, "syntax error");
			return;
		}
		if (x_lookup_string(x, &x->a[1], &e) == -1)
			return;
		if (e != NULL && (e->vlen == want->len &&
		    memcmp(e->val, want->ptr, want->len) == 0) != ifeq)
			e = NULL;
	}
	if (e != NULL)
		x_del(x, &x->a[1]);
	resp_add_int(x->w, e != NULL);
}

/* ---- Keys ---- */

/* DEL, UNLINK */
static void
m_del(struct mcmd *x)
{
	long long n = 0;
	int i;

	for (i = 1; i < x->argc; i++)
		if (x_lookup(x, &x->a[i]) != NULL) {
			x_del(x, &x->a[i]);
			n++;
		}
	resp_add_int(x->w, n);
}

/* EXISTS, TOUCH: a key named twice counts twice. */
static void
m_exists(struct mcmd *x)
{
	long long n = 0;
	int i;

	for (i = 1; i < x->argc; i++)
		n += x_lookup(x, &x->a[i]) != NULL;
	resp_add_int(x->w, n);
}

static void
m_type(struct mcmd *x)
{
	const struct mkey *e = x_lookup(x, &x->a[1]);

	resp_add_simple(x->w, e == NULL ? "none" :
	    e->type == OBJ_LIST ? "list" : "string");
}

static void
m_keys(struct mcmd *x)
{
	check_keys(x->m, &x->a[1], x->p, x->p + x->n);
	x->own = 1;
}

/* DBSIZE counts stale keys not yet reclaimed: another run may have
 * reclaimed them (its active cycle runs when the real clock says). */
static void
m_dbsize(struct mcmd *x)
{
	const char *p = x->p;
	long long n;

	if (x->m->defer) {
		/* The removals still waiting may have come before it. */
		n = read_line_num(&p, x->p + x->n, ':');
		FUZZ_CHECK(p == x->p + x->n);
		FUZZ_CHECK(n >= (long long)model_live_count(x->m) &&
		    n <= (long long)x->m->count &&
		    n + (long long)x->m->nremoved >= (long long)x->m->count);
		x->own = x->vary = 1;
		return;
	}
	resp_add_int(x->w, (long long)x->m->count);
	x->vary |= x->m->ghosts || model_has_stale(x->m);
}

/*
 * SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: the cursor is
 * read as Redis reads it (strtoul on the C string, no leading space),
 * the options as Redis 7.0 does; the keys a reply lists depend on the
 * table's layout, so only their properties are checked: each is live,
 * matches the pattern and has the type.
 */
static void
m_scan(struct mcmd *x)
{
	const struct resp_arg *pat = NULL, *type = NULL;
	const char *p = x->p, *e = x->p + x->n, *key;
	const struct mkey *k;
	long long count, n, i;
	char *s, *end;
	size_t len;
	int bad;

	len = (size_t)arg_cstrlen(&x->a[1]);
	s = model_dup(x->a[1].ptr, len + 1);
	s[len] = '\0';
	errno = 0;
	(void)strtoul(s, &end, 10);
	bad = (len > 0 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) ||
	    *end != '\0' || errno == ERANGE;
	free(s);
	if (bad) {
		want_err(x, "invalid cursor");
		return;
	}
	for (i = 2; i < x->argc; i += 2) {
		if (arg_is_word(&x->a[i], "count") && x->argc - i >= 2) {
			if (x_ll(x, &x->a[i + 1], &count) == -1)
				return;
			if (count < 1) {
				want_err(x, "syntax error");
				return;
			}
		} else if (arg_is_word(&x->a[i], "match") && x->argc - i >= 2)
			pat = &x->a[i + 1];
		else if (arg_is_word(&x->a[i], "type") && x->argc - i >= 2)
			type = &x->a[i + 1];
		else {
			want_err(x, "syntax error");
			return;
		}
	}
	x->own = x->vary = 1;
	FUZZ_CHECK(read_line_num(&p, e, '*') == 2);
	key = read_bulk(&p, e, &len);
	FUZZ_CHECK(len > 0 && len <= 20);
	for (i = 0; i < (long long)len; i++)
		FUZZ_CHECK(key[i] >= '0' && key[i] <= '9');
	n = read_line_num(&p, e, '*');
	FUZZ_CHECK(n >= 0);
	for (i = 0; i < n; i++) {
		key = read_bulk(&p, e, &len);
		k = model_get(x->m, key, len);
		FUZZ_CHECK(k != NULL && !model_stale(x->m, k));
		FUZZ_CHECK(pat == NULL || keys_match(pat, key, len));
		FUZZ_CHECK(type == NULL || arg_is_word(type,
		    k->type == OBJ_LIST ? "list" : "string"));
	}
	FUZZ_CHECK(p == e);
}

/* RANDOMKEY: nil exactly when no key is live, else a live key. */
static void
m_randomkey(struct mcmd *x)
{
	const char *p = x->p, *e = x->p + x->n, *key;
	const struct mkey *k;
	size_t len;

	x->own = x->vary = 1;
	if (model_live_count(x->m) == 0) {
		FUZZ_CHECK(x->n == 5 && memcmp(x->p, "$-1\r\n", 5) == 0);
		return;
	}
	key = read_bulk(&p, e, &len);
	FUZZ_CHECK(p == e);
	k = model_get(x->m, key, len);
	FUZZ_CHECK(k != NULL && !model_stale(x->m, k));
}

/* RENAME (nx 0), RENAMENX (nx 1): the source first ("no such key"),
 * then, unless it is the same key, the destination. */
static void
rename_generic(struct mcmd *x, int nx)
{
	const struct resp_arg *src = &x->a[1], *dst = &x->a[2];
	struct mkey *s = x_lookup(x, src);

	if (s == NULL) {
		want_err(x, "no such key");
		return;
	}
	if (src->len == dst->len && memcmp(src->ptr, dst->ptr, src->len) == 0) {
		if (nx)
			resp_add_int(x->w, 0);
		else
			resp_add_ok(x->w);
		return;
	}
	if (x_lookup(x, dst) != NULL && nx) {
		resp_add_int(x->w, 0);
		return;
	}
	model_put(x->m, dst->ptr, dst->len, s->type, s->enc, s->val, s->vlen,
	    s->expire);
	if (s->type == OBJ_LIST)
		x_ready(x, dst);
	x_del(x, src);
	if (nx)
		resp_add_int(x->w, 1);
	else
		resp_add_ok(x->w);
}

static void
m_rename(struct mcmd *x)
{
	rename_generic(x, 0);
}

static void
m_renamenx(struct mcmd *x)
{
	rename_generic(x, 1);
}

#define E_NX (1 << 0)
#define E_XX (1 << 1)
#define E_GT (1 << 2)
#define E_LT (1 << 3)

/*
 * EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX | XX | GT | LT], as
 * Redis 7.0's expireGenericCommand: options, the time (seconds if sec)
 * after base, overflow, the key; a time not after now deletes it.
 */
static void
expire_generic(struct mcmd *x, long long base, int sec)
{
	long long when, cur;
	struct mkey *e;
	int i, f = 0;

	for (i = 3; i < x->argc; i++) {
		if (arg_is_word(&x->a[i], "nx"))
			f |= E_NX;
		else if (arg_is_word(&x->a[i], "xx"))
			f |= E_XX;
		else if (arg_is_word(&x->a[i], "gt"))
			f |= E_GT;
		else if (arg_is_word(&x->a[i], "lt"))
			f |= E_LT;
		else {
			resp_add_errorf(x->w, "Unsupported option %.*s",
			    arg_cstrlen(&x->a[i]), x->a[i].ptr);
			return;
		}
	}
	if ((f & E_NX) && (f & (E_XX | E_GT | E_LT))) {
		want_err(x, "NX and XX, GT or LT options at the same time "
		    "are not compatible");
		return;
	}
	if ((f & E_GT) && (f & E_LT)) {
		want_err(x, "GT and LT options at the same time are not "
		    "compatible");
		return;
	}
	if (x_ll(x, &x->a[2], &when) == -1)
		return;
	if (sec && (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)) {
		want_bad_expire(x);
		return;
	}
	if (sec)
		when *= 1000;
	if (when > LLONG_MAX - base) {
		want_bad_expire(x);
		return;
	}
	when += base;
	e = x_lookup(x, &x->a[1]);
	cur = e != NULL ? e->expire : -1;
	if (e == NULL || ((f & E_NX) && cur != -1) ||
	    ((f & E_XX) && cur == -1) ||
	    ((f & E_GT) && (cur == -1 || when <= cur)) ||
	    ((f & E_LT) && cur != -1 && when >= cur)) {
		resp_add_int(x->w, 0);
		return;
	}
	if (when <= x->m->now)
		x_del(x, &x->a[1]);
	else {
		e->expire = when;
		x->changed = 1;
	}
	resp_add_int(x->w, 1);
}

static void
m_expire(struct mcmd *x)
{
	expire_generic(x, x->m->now, 1);
}

static void
m_pexpire(struct mcmd *x)
{
	expire_generic(x, x->m->now, 0);
}

static void
m_expireat(struct mcmd *x)
{
	expire_generic(x, 0, 1);
}

static void
m_pexpireat(struct mcmd *x)
{
	expire_generic(x, 0, 0);
}

/* TTL, PTTL (absolute 0), EXPIRETIME, PEXPIRETIME: -2 absent, -1 no
 * TTL, else the time left (not below 0) or the time, seconds rounded
 * to the nearest (as unsigned, as Redis's build wraps). */
static void
ttl_generic(struct mcmd *x, int ms, int absolute)
{
	const struct mkey *e = x_lookup(x, &x->a[1]);
	long long when;

	if (e == NULL || e->expire < 0) {
		resp_add_int(x->w, e == NULL ? -2 : -1);
		return;
	}
	when = e->expire;
	if (!absolute)
		when = when > x->m->now ? when - x->m->now : 0;
	resp_add_int(x->w, ms ? when :
	    (long long)(((unsigned long long)when + 500) / 1000));
}

static void
m_ttl(struct mcmd *x)
{
	ttl_generic(x, 0, 0);
}

static void
m_pttl(struct mcmd *x)
{
	ttl_generic(x, 1, 0);
}

static void
m_expiretime(struct mcmd *x)
{
	ttl_generic(x, 0, 1);
}

static void
m_pexpiretime(struct mcmd *x)
{
	ttl_generic(x, 1, 1);
}

static void
m_persist(struct mcmd *x)
{
	struct mkey *e = x_lookup(x, &x->a[1]);

	if (e == NULL || e->expire < 0) {
		resp_add_int(x->w, 0);
		return;
	}
	e->expire = -1;
	x->changed = 1;
	resp_add_int(x->w, 1);
}

/* OBJECT ENCODING key: Redis 7.0 calls every list "quicklist". */
static void
m_object_encoding(struct mcmd *x)
{
	static const char *const names[] = {
		"raw", "int", "embstr", "quicklist", "listpack",
	};
	const struct mkey *e = x_lookup(x, &x->a[2]);

	if (e == NULL)
		resp_add_null(x->w);
	else {
		FUZZ_CHECK(e->enc >= 0 && e->enc < 5);
		resp_add_bulk_str(x->w, e->type == OBJ_LIST ? "quicklist" :
		    names[e->enc]);
	}
}

/* OBJECT REFCOUNT key: INT_MAX for what Redis would hold as a shared
 * integer (0-9999, "int", unless maxmemory with an LRU or LFU policy),
 * else 1. */
static void
m_object_refcount(struct mcmd *x)
{
	const struct server_config *cfg = &x->srv->cfg;
	const struct mkey *e = x_lookup(x, &x->a[2]);
	int p = cfg->maxmemory_policy;
	long long v;

	if (e == NULL) {
		resp_add_null(x->w);
		return;
	}
	resp_add_int(x->w, e->type == OBJ_STRING && e->enc == OBJ_ENC_INT &&
	    (cfg->maxmemory == 0 || (p != MM_VOLATILE_LRU &&
	    p != MM_VOLATILE_LFU && p != MM_ALLKEYS_LRU &&
	    p != MM_ALLKEYS_LFU)) && resp_str_to_ll(e->val, e->vlen, &v) &&
	    v >= 0 && v < 10000 ? INT_MAX : 1);
}

/* OBJECT FREQ (freq 1) and IDLETIME (freq 0) key: nil if absent, the
 * error of the wrong kind of policy, else a number that depends on
 * chance (LFU) or on when the key was last used. */
static void
object_clock(struct mcmd *x, int freq)
{
	const struct mkey *e = x_lookup(x, &x->a[2]);
	int lfu = x->srv->db.lfu;

	if (e == NULL)
		resp_add_null(x->w);
	else if (freq && !lfu)
		want_err(x, "An LFU maxmemory policy is not selected, access "
		    "frequency not tracked. Please note that when switching "
		    "between policies at runtime LRU and LFU data will take "
		    "some time to adjust.");
	else if (!freq && lfu)
		want_err(x, "An LFU maxmemory policy is selected, idle time "
		    "not tracked. Please note that when switching between "
		    "policies at runtime LRU and LFU data will take some time "
		    "to adjust.");
	else {
		FUZZ_CHECK(x->p[0] == ':');
		x->own = x->vary = 1;
	}
}

static void
m_object_freq(struct mcmd *x)
{
	object_clock(x, 1);
}

static void
m_object_idletime(struct mcmd *x)
{
	object_clock(x, 0);
}

/* MEMORY USAGE key [SAMPLES count]: options first, then the key (a
 * stale one is reclaimed here, unlike Redis 7.0; see cmd_keyspace.c). */
static void
m_memory_usage(struct mcmd *x)
{
	long long v;
	int i;

	for (i = 3; i < x->argc; i += 2) {
		if (!arg_is_word(&x->a[i], "samples") || i + 1 >= x->argc) {
			want_err(x, "syntax error");
			return;
		}
		if (x_ll(x, &x->a[i + 1], &v) == -1)
			return;
		if (v < 0) {
			want_err(x, "syntax error");
			return;
		}
	}
	if (x_lookup(x, &x->a[2]) == NULL) {
		resp_add_null(x->w);
		return;
	}
	FUZZ_CHECK(x->p[0] == ':');
	x->own = x->vary = 1;
}

/* FLUSHDB, FLUSHALL [SYNC | ASYNC]: the option read as a C string, as
 * Redis's getFlushCommandFlags reads it; propagated even when empty. */
static void
m_flush(struct mcmd *x)
{
	if (x->argc > 2 || (x->argc == 2 && !arg_is_word(&x->a[1], "sync") &&
	    !arg_is_word(&x->a[1], "async"))) {
		want_err(x, "syntax error");
		return;
	}
	if (x->m->defer)
		model_removed_flush(x->m);
	model_clear(x->m);
	x->m->ghosts = 0;
	x->changed = 1;
	resp_add_ok(x->w);
}

/* ---- Lists ---- */

/*
 * A list's value in the model: each element, head first, as its length
 * (4 bytes, host order) and its bytes. An mlist holds the elements
 * decoded, pointing into that value or into the arguments.
 */
struct melem {
	const char *p;
	size_t len;
};

struct mlist {
	struct melem *e;
	size_t n, cap;
};

/* Insert an element at index at (0 ... l->n). */
static void
mlist_insert(struct mlist *l, size_t at, const char *p, size_t len)
{
	grow(&l->e, &l->cap, l->n, sizeof(*l->e));
	memmove(l->e + at + 1, l->e + at, (l->n - at) * sizeof(*l->e));
	l->e[at].p = p;
	l->e[at].len = len;
	l->n++;
}

/* Remove n elements from index at. */
static void
mlist_remove(struct mlist *l, size_t at, size_t n)
{
	memmove(l->e + at, l->e + at + n, (l->n - at - n) * sizeof(*l->e));
	l->n -= n;
}

static void
mlist_free(struct mlist *l)
{
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* The elements of model list k (NULL: none). */
static void
mlist_decode(struct mlist *l, const struct mkey *k)
{
	size_t off = 0;
	uint32_t len;

	memset(l, 0, sizeof(*l));
	if (k == NULL)
		return;
	FUZZ_CHECK(k->type == OBJ_LIST);
	while (off < k->vlen) {
		FUZZ_CHECK(k->vlen - off >= 4);
		memcpy(&len, k->val + off, 4);
		off += 4;
		FUZZ_CHECK(len <= k->vlen - off);
		mlist_insert(l, l->n, k->val + off, len);
		off += len;
	}
}

/* Append one element to a model list value being built. */
static void
mlist_put(struct resp_buf *b, const void *p, size_t len)
{
	uint32_t n = (uint32_t)len;

	resp_buf_append(b, &n, 4);
	resp_buf_append(b, p, len);
}

/* The model value of l's elements (malloc'd, *vlen bytes). */
static char *
mlist_encode(const struct mlist *l, size_t *vlen)
{
	struct resp_buf b;
	char *v;
	size_t i;

	resp_buf_init(&b);
	for (i = 0; i < l->n; i++)
		mlist_put(&b, l->e[i].p, l->e[i].len);
	v = model_dup(b.data, b.len);
	*vlen = b.len;
	resp_buf_free(&b);
	return v;
}

/*
 * The model value of the list a keyspace entry holds (malloc'd, *vlen
 * bytes), in either form: a pack inline, or a heap list whose chunks
 * must be consistent. A list in the keyspace is never empty.
 */
static char *
entry_list_value(const dict_entry *e, size_t *vlen)
{
	uint32_t meta = dict_entry_meta(e);
	const struct list *l = NULL;
	const unsigned char *v;
	struct list_iter it;
	struct resp_buf b;
	size_t rlen, count, len, seen = 0;
	const char *raw = dict_entry_val(e, &rlen);
	char *out;

	FUZZ_CHECK(obj_meta_type(meta) == OBJ_LIST);
	if (obj_meta_encoding(meta) == OBJ_ENC_QUICKLIST) {
		FUZZ_CHECK(rlen == sizeof(l));
		memcpy(&l, raw, sizeof(l));
		FUZZ_CHECK(list_check(l) == 0);
		count = l->count;
	} else {
		FUZZ_CHECK(obj_meta_encoding(meta) == OBJ_ENC_LISTPACK);
		FUZZ_CHECK(rlen >= LIST_PACK_HDR);
		count = list_pack_count(raw);
	}
	FUZZ_CHECK(count > 0);
	if (l != NULL)
		list_iter_init(&it, l, 0, LIST_TAIL);
	else
		list_iter_init_pack(&it, raw, rlen, 0, LIST_TAIL);
	resp_buf_init(&b);
	while (list_iter_next(&it, &v, &len)) {
		mlist_put(&b, v, len);
		seen++;
	}
	FUZZ_CHECK(seen == count);
	out = model_dup(b.data, b.len);
	*vlen = b.len;
	resp_buf_free(&b);
	return out;
}

/* Look k up for a list command: 0 with *e (NULL if absent), or -1 with
 * WRONGTYPE expected. */
static int
x_lookup_list(struct mcmd *x, const struct resp_arg *k, struct mkey **e)
{
	*e = x_lookup(x, k);
	if (*e != NULL && (*e)->type != OBJ_LIST) {
		want_wrongtype(x);
		return -1;
	}
	return 0;
}

/* Store l as the list at k (e: its model entry, NULL if none): deleted
 * if empty, made (without a TTL) if new; the command changed the
 * keyspace. */
static void
x_list_set(struct mcmd *x, const struct resp_arg *k, struct mkey *e,
    const struct mlist *l)
{
	size_t vlen;
	char *v;

	x->changed = 1;
	if (l->n == 0) {
		if (e != NULL)
			x_del(x, k);
		return;
	}
	v = mlist_encode(l, &vlen);
	if (e != NULL)
		model_set_val(e, v, vlen, OBJ_ENC_QUICKLIST);
	else {
		model_put(x->m, k->ptr, k->len, OBJ_LIST, OBJ_ENC_QUICKLIST, v,
		    vlen, -1);
		x_ready(x, k);
	}
	free(v);
}

/* The command propagates as it was sent. */
static void
x_prop_sent(struct mcmd *x)
{
	x->pform = 2;
}

/* The command propagates as word (a C string) and n arguments from
 * args on. */
static void
x_prop_as(struct mcmd *x, const char *word, const struct resp_arg *args,
    int n)
{
	int i;

	FUZZ_CHECK(n < MODEL_PROP_WORDS);
	x->pform = 1;
	x->pn = n + 1;
	x->pw[0] = word;
	x->pl[0] = strlen(word);
	for (i = 0; i < n; i++) {
		x->pw[i + 1] = args[i].ptr;
		x->pl[i + 1] = args[i].len;
	}
}

/* An integer >= min (Redis's getRangeLongFromObjectOrReply with msg: a
 * non-number gets msg too): 0, or -1 with the error. */
static int
x_ll_min(struct mcmd *x, const struct resp_arg *a, long long min,
    const char *msg, long long *v)
{
	if (resp_str_to_ll(a->ptr, a->len, v) && *v >= min)
		return 0;
	want_err(x, msg);
	return -1;
}

/*
 * A blocking command's timeout as Redis 7.0's getTimeoutFromObjectOrReply
 * reads it: seconds as a long double, (long long)(secs * 1000) negative
 * is refused (past a long long, x86's conversion gives LLONG_MIN). 0 with
 * *ms (0: forever), or -1 with the error.
 */
static int
x_timeout(struct mcmd *x, const struct resp_arg *a, long double *ms)
{
	long double s, v;

	if (!str_to_ld(a->ptr, a->len, &s)) {
		want_err(x, "timeout is not a float or out of range");
		return -1;
	}
	v = s * 1000.0L;
	if (!(v < 9223372036854775808.0L) || v <= -1.0L) {
		want_err(x, "timeout is negative");
		return -1;
	}
	*ms = v;
	return 0;
}

/* LEFT or RIGHT, as C strings in any case: 0 with *head, or -1 with a
 * syntax error. */
static int
x_where(struct mcmd *x, const struct resp_arg *a, int *head)
{
	if (arg_is_word(a, "left"))
		*head = 1;
	else if (arg_is_word(a, "right"))
		*head = 0;
	else {
		want_err(x, "syntax error");
		return -1;
	}
	return 0;
}

/*
 * A blocking command found nothing: inside EXEC it replies as its
 * non-blocking form would (a null array, or a null bulk for the moves);
 * otherwise it waits on keys (where the run allows it: the direct run
 * has one client and stops there).
 */
static void
x_block(struct mcmd *x, int move)
{
	if (x->in_exec) {
		if (move)
			resp_add_null(x->w);
		else
			resp_add_null_array(x->w);
		return;
	}
	FUZZ_CHECK(x->may_block);
	x->blocked = 1;
	x->own = 1;
}

/* LPUSH, RPUSH (xx 0), LPUSHX, RPUSHX (xx 1) key element [element ...] */
static void
push_generic(struct mcmd *x, int head, int xx)
{
	struct mlist l;
	struct mkey *e;
	int i;

	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL && xx) {
		resp_add_int(x->w, 0);
		return;
	}
	mlist_decode(&l, e);
	for (i = 2; i < x->argc; i++)
		mlist_insert(&l, head ? 0 : l.n, x->a[i].ptr, x->a[i].len);
	resp_add_int(x->w, (long long)l.n);
	x_list_set(x, &x->a[1], e, &l);
	x_prop_sent(x);
	mlist_free(&l);
}

static void
m_lpush(struct mcmd *x)
{
	push_generic(x, 1, 0);
}

static void
m_rpush(struct mcmd *x)
{
	push_generic(x, 0, 0);
}

static void
m_lpushx(struct mcmd *x)
{
	push_generic(x, 1, 1);
}

static void
m_rpushx(struct mcmd *x)
{
	push_generic(x, 0, 1);
}

/* LPOP, RPOP key [count]: more arguments are an arity error; the count
 * (0 or more) before the key; a missing key is nil (a null array with a
 * count), count 0 an empty array. */
static void
pop_generic(struct mcmd *x, int head)
{
	long long count = 0;
	struct mlist l;
	struct mkey *e;
	size_t n, i;

	if (x->argc > 3) {
		want_arity(x);
		return;
	}
	if (x->argc == 3 && x_ll_min(x, &x->a[2], 0, "value is out of "
	    "range, must be positive", &count) == -1)
		return;
	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		if (x->argc == 3)
			resp_add_null_array(x->w);
		else
			resp_add_null(x->w);
		return;
	}
	if (x->argc == 3 && count == 0) {
		resp_add_array_len(x->w, 0);
		return;
	}
	mlist_decode(&l, e);
	n = x->argc == 2 ? 1 : (unsigned long long)count < l.n ?
	    (size_t)count : l.n;
	if (x->argc == 3)
		resp_add_array_len(x->w, (long long)n);
	for (i = 0; i < n; i++)
		resp_add_bulk(x->w, l.e[head ? i : l.n - 1 - i].p,
		    l.e[head ? i : l.n - 1 - i].len);
	mlist_remove(&l, head ? 0 : l.n - n, n);
	x_list_set(x, &x->a[1], e, &l);
	x_prop_sent(x);
	mlist_free(&l);
}

static void
m_lpop(struct mcmd *x)
{
	pop_generic(x, 1);
}

static void
m_rpop(struct mcmd *x)
{
	pop_generic(x, 0);
}

static void
m_llen(struct mcmd *x)
{
	struct mlist l;
	struct mkey *e;

	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	mlist_decode(&l, e);
	resp_add_int(x->w, (long long)l.n);
	mlist_free(&l);
}

/* Redis's range arithmetic (LRANGE, LTRIM): 1 with *from and *n if the
 * range of a list of len elements is not empty. */
static int
mlist_range(long long start, long long end, size_t len, size_t *from,
    size_t *n)
{
	long long llen = (long long)len;

	if (start < 0)
		start = llen + start;
	if (end < 0)
		end = llen + end;
	if (start < 0)
		start = 0;
	if (start > end || start >= llen)
		return 0;
	if (end >= llen)
		end = llen - 1;
	*from = (size_t)start;
	*n = (size_t)(end - start + 1);
	return 1;
}

/* LRANGE key start stop: the numbers first, then the key. */
static void
m_lrange(struct mcmd *x)
{
	long long start, end;
	size_t from, n, i;
	struct mlist l;
	struct mkey *e;

	if (x_ll(x, &x->a[2], &start) == -1 || x_ll(x, &x->a[3], &end) == -1 ||
	    x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	mlist_decode(&l, e);
	if (!mlist_range(start, end, l.n, &from, &n))
		n = 0;
	resp_add_array_len(x->w, (long long)n);
	for (i = 0; i < n; i++)
		resp_add_bulk(x->w, l.e[from + i].p, l.e[from + i].len);
	mlist_free(&l);
}

/* The index idx (negative from the tail) of a list of len elements: 1
 * with *i if in range. */
static int
mlist_index(long long idx, size_t len, size_t *i)
{
	if (idx < 0)
		idx += (long long)len;
	if (idx < 0 || idx >= (long long)len)
		return 0;
	*i = (size_t)idx;
	return 1;
}

/* LINDEX key index: the key before the index. */
static void
m_lindex(struct mcmd *x)
{
	struct mlist l;
	struct mkey *e;
	long long idx;
	size_t i;

	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		resp_add_null(x->w);
		return;
	}
	if (x_ll(x, &x->a[2], &idx) == -1)
		return;
	mlist_decode(&l, e);
	if (mlist_index(idx, l.n, &i))
		resp_add_bulk(x->w, l.e[i].p, l.e[i].len);
	else
		resp_add_null(x->w);
	mlist_free(&l);
}

/* LSET key index element: "no such key", then the index. */
static void
m_lset(struct mcmd *x)
{
	struct mlist l;
	struct mkey *e;
	long long idx;
	size_t i;

	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		want_err(x, "no such key");
		return;
	}
	if (x_ll(x, &x->a[2], &idx) == -1)
		return;
	mlist_decode(&l, e);
	if (!mlist_index(idx, l.n, &i))
		want_err(x, "index out of range");
	else {
		l.e[i].p = x->a[3].ptr;
		l.e[i].len = x->a[3].len;
		x_list_set(x, &x->a[1], e, &l);
		x_prop_sent(x);
		resp_add_ok(x->w);
	}
	mlist_free(&l);
}

/* Index of the first element of l equal to v (from index from on, towards
 * the tail), or l->n. */
static size_t
mlist_find(const struct mlist *l, size_t from, const struct resp_arg *v)
{
	for (; from < l->n; from++)
		if (l->e[from].len == v->len && (v->len == 0 ||
		    memcmp(l->e[from].p, v->ptr, v->len) == 0))
			break;
	return from;
}

/* LINSERT key BEFORE|AFTER pivot element: the word first; 0 without the
 * key, -1 without the pivot, else the new length. */
static void
m_linsert(struct mcmd *x)
{
	struct mlist l;
	struct mkey *e;
	size_t i;
	int after;

	if (arg_is_word(&x->a[2], "after"))
		after = 1;
	else if (arg_is_word(&x->a[2], "before"))
		after = 0;
	else {
		want_err(x, "syntax error");
		return;
	}
	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		resp_add_int(x->w, 0);
		return;
	}
	mlist_decode(&l, e);
	i = mlist_find(&l, 0, &x->a[3]);
	if (i == l.n)
		resp_add_int(x->w, -1);
	else {
		mlist_insert(&l, i + (size_t)after, x->a[4].ptr, x->a[4].len);
		resp_add_int(x->w, (long long)l.n);
		x_list_set(x, &x->a[1], e, &l);
		x_prop_sent(x);
	}
	mlist_free(&l);
}

/* LREM key count element: the count first; from the head (count > 0),
 * the tail (< 0), or all (0). */
static void
m_lrem(struct mcmd *x)
{
	const struct resp_arg *v = &x->a[3];
	unsigned long long most;
	long long count;
	size_t removed = 0, i;
	struct mlist l;
	struct mkey *e;

	if (x_ll(x, &x->a[2], &count) == -1 ||
	    x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	mlist_decode(&l, e);
	most = count == 0 ? ULLONG_MAX : count < 0 ?
	    0ULL - (unsigned long long)count : (unsigned long long)count;
	if (count < 0) {
		for (i = l.n; i-- > 0 && removed < most;)
			if (mlist_find(&l, i, v) == i) {
				mlist_remove(&l, i, 1);
				removed++;
			}
	} else {
		for (i = 0; i < l.n && removed < most;)
			if (mlist_find(&l, i, v) == i) {
				mlist_remove(&l, i, 1);
				removed++;
			} else
				i++;
	}
	if (removed > 0) {
		x_list_set(x, &x->a[1], e, &l);
		x_prop_sent(x);
	}
	resp_add_int(x->w, (long long)removed);
	mlist_free(&l);
}

/* LTRIM key start stop: the numbers, then the key; OK either way; an
 * empty range deletes the list; trimming nothing changes nothing. */
static void
m_ltrim(struct mcmd *x)
{
	long long start, end;
	size_t from = 0, n = 0;
	struct mlist l;
	struct mkey *e;

	if (x_ll(x, &x->a[2], &start) == -1 || x_ll(x, &x->a[3], &end) == -1 ||
	    x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	resp_add_ok(x->w);
	if (e == NULL)
		return;
	mlist_decode(&l, e);
	if (!mlist_range(start, end, l.n, &from, &n))
		from = n = 0;
	if (n != l.n) {
		mlist_remove(&l, from + n, l.n - from - n);
		mlist_remove(&l, 0, from);
		x_list_set(x, &x->a[1], e, &l);
		x_prop_sent(x);
	}
	mlist_free(&l);
}

/*
 * LPOS key element [RANK rank] [COUNT num] [MAXLEN len], as Redis 7.0's
 * lposCommand: options in order (RANK not 0, COUNT and MAXLEN not
 * negative, their errors as Redis words them), then the key. A negative
 * rank scans from the tail; LLONG_MIN negates into itself in Redis, so
 * every match qualifies and COUNT never ends the scan.
 */
static void
m_lpos(struct mcmd *x)
{
	long long rank = 1, count = -1, maxlen = 0, matches = 0, got = 0;
	long long idx, i;
	int j, tail = 0, minrank = 0;
	struct resp_buf hits;
	struct mlist l;
	struct mkey *e;
	size_t k;

	for (j = 3; j < x->argc; j++) {
		int more = x->argc - 1 - j;

		if (arg_is_word(&x->a[j], "rank") && more) {
			if (x_ll(x, &x->a[++j], &rank) == -1)
				return;
			if (rank == 0) {
				want_err(x, "RANK can't be zero: use 1 to "
				    "start from the first match, 2 from the "
				    "second ... or use negative to start from "
				    "the end of the list");
				return;
			}
		} else if (arg_is_word(&x->a[j], "count") && more) {
			if (x_ll_min(x, &x->a[++j], 0, "COUNT can't be "
			    "negative", &count) == -1)
				return;
		} else if (arg_is_word(&x->a[j], "maxlen") && more) {
			if (x_ll_min(x, &x->a[++j], 0, "MAXLEN can't be "
			    "negative", &maxlen) == -1)
				return;
		} else {
			want_err(x, "syntax error");
			return;
		}
	}
	if (rank < 0) {
		tail = 1;
		minrank = rank == LLONG_MIN;
		rank = minrank ? 1 : -rank;
	}
	if (x_lookup_list(x, &x->a[1], &e) == -1)
		return;
	if (e == NULL) {
		if (count != -1)
			resp_add_array_len(x->w, 0);
		else
			resp_add_null(x->w);
		return;
	}
	mlist_decode(&l, e);
	resp_buf_init(&hits);
	idx = -1;
	for (i = 0; (maxlen == 0 || i < maxlen) && (size_t)i < l.n; i++) {
		k = tail ? l.n - 1 - (size_t)i : (size_t)i;
		if (l.e[k].len != x->a[2].len || (l.e[k].len != 0 &&
		    memcmp(l.e[k].p, x->a[2].ptr, l.e[k].len) != 0))
			continue;
		matches++;
		if (matches < rank)
			continue;
		idx = (long long)k;
		if (count == -1)
			break;
		resp_add_int(&hits, idx);
		got++;
		if (count != 0 && !minrank && matches - rank + 1 >= count)
			break;
	}
	if (count != -1) {
		resp_add_array_len(x->w, got);
		resp_buf_append(x->w, hits.data, hits.len);
	} else if (idx != -1)
		resp_add_int(x->w, idx);
	else
		resp_add_null(x->w);
	resp_buf_free(&hits);
	mlist_free(&l);
}

/*
 * Move the element at one end of the list at src (in the model) to one
 * end of dst (made if absent) and reply it; WRONGTYPE if dst holds
 * another type. One key: a rotation, its TTL kept (a single element
 * changes nothing, yet counts as a change, as in Redis).
 */
static void
x_move(struct mcmd *x, struct mkey *s, int from_head, int to_head)
{
	const struct resp_arg *src = &x->a[1], *dst = &x->a[2];
	struct mlist sl, dl;
	struct melem v;
	struct mkey *d;
	int same = src->len == dst->len &&
	    memcmp(src->ptr, dst->ptr, src->len) == 0;

	d = x_lookup(x, dst);
	if (d != NULL && d->type != OBJ_LIST) {
		want_wrongtype(x);
		return;
	}
	mlist_decode(&sl, s);
	v = sl.e[from_head ? 0 : sl.n - 1];
	mlist_remove(&sl, from_head ? 0 : sl.n - 1, 1);
	resp_add_bulk(x->w, v.p, v.len);
	if (same) {
		mlist_insert(&sl, to_head ? 0 : sl.n, v.p, v.len);
		x_list_set(x, src, s, &sl);
	} else {
		mlist_decode(&dl, d);
		mlist_insert(&dl, to_head ? 0 : dl.n, v.p, v.len);
		x_list_set(x, dst, d, &dl);
		mlist_free(&dl);
		x_list_set(x, src, s, &sl);
	}
	mlist_free(&sl);
}

/* LMOVE, RPOPLPUSH: the source (nil if absent), then the destination. */
static void
move_generic(struct mcmd *x, int from_head, int to_head)
{
	struct mkey *s;

	if (x_lookup_list(x, &x->a[1], &s) == -1)
		return;
	if (s == NULL) {
		resp_add_null(x->w);
		return;
	}
	x_move(x, s, from_head, to_head);
	if (x->changed)
		x_prop_sent(x);
}

static void
m_lmove(struct mcmd *x)
{
	int from, to;

	if (x_where(x, &x->a[3], &from) == 0 &&
	    x_where(x, &x->a[4], &to) == 0)
		move_generic(x, from, to);
}

static void
m_rpoplpush(struct mcmd *x)
{
	move_generic(x, 0, 1);
}

/*
 * LMPOP's (ni 1) and BLMPOP's (ni 2) arguments as Redis 7.0 reads them:
 * numkeys (1 or more), a LEFT|RIGHT after the keys, COUNT once (1 or
 * more). 0 with *nkeys, *head and *count (1 if not given), or -1.
 */
static int
x_mpop_args(struct mcmd *x, int ni, int *nkeys, int *head, long long *count)
{
	long long nk, cnt = -1;
	int wi, j;

	if (x_ll_min(x, &x->a[ni], 1, "numkeys should be greater than 0",
	    &nk) == -1)
		return -1;
	if (nk > x->argc - ni - 2) {
		want_err(x, "syntax error");
		return -1;
	}
	wi = ni + (int)nk + 1;
	if (x_where(x, &x->a[wi], head) == -1)
		return -1;
	for (j = wi + 1; j < x->argc; j++) {
		if (cnt == -1 && arg_is_word(&x->a[j], "count") &&
		    j + 1 < x->argc) {
			if (x_ll_min(x, &x->a[++j], 1, "count should be "
			    "greater than 0", &cnt) == -1)
				return -1;
		} else {
			want_err(x, "syntax error");
			return -1;
		}
	}
	*nkeys = (int)nk;
	*count = cnt == -1 ? 1 : cnt;
	return 0;
}

/*
 * Pop for LMPOP, BLPOP, BRPOP and BLMPOP from the first of the keys that
 * holds a list (run again for a ready key: from that key only, if it
 * holds a list): count -1, one element replied [key, element]; else up
 * to count, [key, [elements]]. Propagated as LPOP/RPOP key [n]. 1 if
 * served, 0 if no key holds a list, -1 after WRONGTYPE.
 */
static int
x_serve_pop(struct mcmd *x, const struct resp_arg *keys, int nkeys,
    int head, long long count)
{
	struct mlist l;
	struct mkey *e;
	size_t n, i;
	int j;

	for (j = 0; j < nkeys; j++) {
		if (x->ready != NULL) {
			if (keys[j].len != x->ready->len ||
			    memcmp(keys[j].ptr, x->ready->ptr,
			    keys[j].len) != 0)
				continue;
			e = x_lookup(x, &keys[j]);
			if (e == NULL || e->type != OBJ_LIST)
				continue;
		} else if (x_lookup_list(x, &keys[j], &e) == -1)
			return -1;
		if (e == NULL)
			continue;
		mlist_decode(&l, e);
		n = count == -1 ? 1 : (unsigned long long)count < l.n ?
		    (size_t)count : l.n;
		resp_add_array_len(x->w, 2);
		resp_add_bulk(x->w, keys[j].ptr, keys[j].len);
		if (count != -1)
			resp_add_array_len(x->w, (long long)n);
		for (i = 0; i < n; i++)
			resp_add_bulk(x->w, l.e[head ? i : l.n - 1 - i].p,
			    l.e[head ? i : l.n - 1 - i].len);
		mlist_remove(&l, head ? 0 : l.n - n, n);
		x_list_set(x, &keys[j], e, &l);
		mlist_free(&l);
		x_prop_as(x, head ? "LPOP" : "RPOP", &keys[j], 1);
		if (count != -1) {
			x->pnum_len = resp_ll_to_str(x->pnum, (long long)n);
			x->pw[2] = x->pnum;
			x->pl[2] = x->pnum_len;
			x->pn = 3;
		}
		return 1;
	}
	return 0;
}

static void
m_lmpop(struct mcmd *x)
{
	long long count;
	int nkeys, head;

	if (x_mpop_args(x, 1, &nkeys, &head, &count) == 0 &&
	    x_serve_pop(x, x->a + 2, nkeys, head, count) == 0)
		resp_add_null_array(x->w);
}

/* BLPOP, BRPOP key [key ...] timeout: the timeout first. */
static void
bpop_generic(struct mcmd *x, int head)
{
	if (x_timeout(x, &x->a[x->argc - 1], &x->wait_ms) == -1)
		return;
	if (x_serve_pop(x, x->a + 1, x->argc - 2, head, -1) == 0)
		x_block(x, 0);
}

static void
m_blpop(struct mcmd *x)
{
	bpop_generic(x, 1);
}

static void
m_brpop(struct mcmd *x)
{
	bpop_generic(x, 0);
}

/*
 * BLMOVE and BRPOPLPUSH once the directions and the timeout are read:
 * the source (WRONGTYPE; absent, it waits), then as LMOVE, propagated
 * as LMOVE or RPOPLPUSH. Run again for its key, a source that no longer
 * holds a list keeps it waiting (Redis serves a list key only).
 */
static void
bmove_generic(struct mcmd *x, int from, int to, int brpoplpush)
{
	struct mkey *s;

	if (x->ready != NULL) {
		s = x_lookup(x, &x->a[1]);
		if (s == NULL || s->type != OBJ_LIST) {
			x_block(x, 1);
			return;
		}
	} else if (x_lookup_list(x, &x->a[1], &s) == -1)
		return;
	if (s == NULL) {
		x_block(x, 1);
		return;
	}
	x_move(x, s, from, to);
	if (x->changed)
		x_prop_as(x, brpoplpush ? "RPOPLPUSH" : "LMOVE", x->a + 1,
		    brpoplpush ? 2 : 4);
}

static void
m_blmove(struct mcmd *x)
{
	int from, to;

	if (x_where(x, &x->a[3], &from) == 0 &&
	    x_where(x, &x->a[4], &to) == 0 &&
	    x_timeout(x, &x->a[5], &x->wait_ms) == 0)
		bmove_generic(x, from, to, 0);
}

static void
m_brpoplpush(struct mcmd *x)
{
	if (x_timeout(x, &x->a[3], &x->wait_ms) == 0)
		bmove_generic(x, 0, 1, 1);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: the
 * arguments after numkeys first, then the timeout. */
static void
m_blmpop(struct mcmd *x)
{
	long long count;
	int nkeys, head;

	if (x_mpop_args(x, 2, &nkeys, &head, &count) == -1 ||
	    x_timeout(x, &x->a[1], &x->wait_ms) == -1)
		return;
	if (x_serve_pop(x, x->a + 3, nkeys, head, count) == 0)
		x_block(x, 0);
}

static model_proc *model_proc_of(const struct command *cmd);

static int model_command(struct model *m, struct mclient *mc,
    struct server *srv, int argc, const struct resp_arg *argv, int authed,
    const char *p, size_t n, struct mcmd *x);

/* MULTI: not nested. */
static void
m_multi(struct mcmd *x)
{
	if (x->mc->multi) {
		want_err(x, "MULTI calls can not be nested");
		return;
	}
	log_free(&x->mc->queue);
	x->mc->multi = 1;
	x->mc->aborted = 0;
	resp_add_ok(x->w);
}

static void
m_discard(struct mcmd *x)
{
	if (!x->mc->multi) {
		want_err(x, "DISCARD without MULTI");
		return;
	}
	mclient_reset(x->mc);
	resp_add_ok(x->w);
}

static void
m_watch(struct mcmd *x)
{
	if (x->mc->multi) {
		want_err(x, "WATCH inside MULTI is not allowed");
		return;
	}
	x->mc->watching = 1;
	resp_add_ok(x->w);
}

static void
m_unwatch(struct mcmd *x)
{
	x->mc->watching = 0;
	resp_add_ok(x->w);
}

/* Queued request i as arguments (av holds 64 at least). */
static void
queue_argv(const struct prop_log *q, size_t i, struct resp_arg *av)
{
	int j;

	for (j = 0; j < q->recs[i].argc; j++) {
		av[j].off = 0;
		av[j].len = q->args[q->recs[i].first + (size_t)j].len;
		av[j].ptr = q->bytes.data +
		    q->args[q->recs[i].first + (size_t)j].off;
	}
}

/*
 * EXEC: without MULTI an error; after a refused request EXECABORT; a
 * null array only if keys were watched (the model does not follow which
 * changed); else each queued command's reply, judged in order by its
 * model with blocking commands not waiting. The writes propagate
 * between a MULTI and an EXEC. A queued write the model does not know
 * makes it re-read the keyspace after the whole EXEC.
 */
static void
m_exec(struct mcmd *x)
{
	struct mclient *mc = x->mc;
	const struct prop_log *q = &mc->queue;
	const char *p = x->p, *e = x->p + x->n;
	const struct command *cmd;
	struct resp_arg av[64];
	struct mcmd sub;
	size_t i, len, changes = 0;
	int unknown = 0;

	if (!mc->multi) {
		want_err(x, "EXEC without MULTI");
		return;
	}
	if (mc->aborted) {
		want_err(x, "-EXECABORT Transaction discarded because of "
		    "previous errors.");
		mclient_reset(mc);
		return;
	}
	x->own = 1;
	if (x->n == 5 && memcmp(x->p, "*-1\r\n", 5) == 0) {
		FUZZ_CHECK(mc->watching);
		mclient_reset(mc);
		return;
	}
	FUZZ_CHECK(read_line_num(&p, e, '*') == (long long)q->n);
	for (i = 0; i < q->n; i++) {
		FUZZ_CHECK(q->recs[i].argc <= 64);
		queue_argv(q, i, av);
		cmd = command_of_argv(q->recs[i].argc, av);
		unknown |= model_proc_of(cmd) == NULL &&
		    (cmd->flags & CMD_WRITE);
	}
	mc->multi = 0;
	for (i = 0; i < q->n && !unknown; i++) {
		queue_argv(q, i, av);
		len = next_reply(p, (size_t)(e - p));
		memset(&sub, 0, sizeof(sub));
		sub.in_exec = 1;
		sub.ready_keys = x->ready_keys;
		x->vary |= model_command(x->m, mc, x->srv, q->recs[i].argc, av,
		    1, p, len, &sub);
		changes += (size_t)sub.nprop;
		p += len;
	}
	mclient_reset(mc);
	if (unknown) {
		model_resync(x->m, &x->srv->db);
		x->changed = -1;
		return;
	}
	FUZZ_CHECK(p == e);
	x->changed = changes > 0;
	x->nprop = (int)changes + (changes > 0 ? 2 : 0);
}

/* The commands the model knows, by full name. */
static const struct {
	const char *name;
	model_proc *proc;
} model_procs[] = {
	{ "get", m_get }, { "set", m_set }, { "setnx", m_setnx },
	{ "setex", m_setex }, { "psetex", m_psetex }, { "mget", m_mget },
	{ "mset", m_mset }, { "msetnx", m_msetnx }, { "getdel", m_getdel },
	{ "getex", m_getex }, { "getset", m_getset }, { "incr", m_incr },
	{ "decr", m_decr }, { "incrby", m_incrby }, { "decrby", m_decrby },
	{ "incrbyfloat", m_incrbyfloat }, { "append", m_append },
	{ "strlen", m_strlen }, { "getrange", m_getrange },
	{ "substr", m_getrange }, { "setrange", m_setrange },
	{ "delex", m_delex }, { "del", m_del }, { "unlink", m_del },
	{ "exists", m_exists }, { "touch", m_exists }, { "type", m_type },
	{ "keys", m_keys }, { "scan", m_scan }, { "randomkey", m_randomkey },
	{ "dbsize", m_dbsize }, { "rename", m_rename },
	{ "renamenx", m_renamenx }, { "expire", m_expire },
	{ "pexpire", m_pexpire }, { "expireat", m_expireat },
	{ "pexpireat", m_pexpireat }, { "ttl", m_ttl }, { "pttl", m_pttl },
	{ "expiretime", m_expiretime }, { "pexpiretime", m_pexpiretime },
	{ "persist", m_persist }, { "object|encoding", m_object_encoding },
	{ "object|refcount", m_object_refcount },
	{ "object|freq", m_object_freq },
	{ "object|idletime", m_object_idletime },
	{ "memory|usage", m_memory_usage }, { "flushdb", m_flush },
	{ "flushall", m_flush }, { "lpush", m_lpush }, { "rpush", m_rpush },
	{ "lpushx", m_lpushx }, { "rpushx", m_rpushx }, { "lpop", m_lpop },
	{ "rpop", m_rpop }, { "llen", m_llen }, { "lrange", m_lrange },
	{ "lindex", m_lindex }, { "lset", m_lset }, { "linsert", m_linsert },
	{ "lrem", m_lrem }, { "ltrim", m_ltrim }, { "lpos", m_lpos },
	{ "lmove", m_lmove }, { "rpoplpush", m_rpoplpush },
	{ "lmpop", m_lmpop }, { "blpop", m_blpop }, { "brpop", m_brpop },
	{ "blmove", m_blmove }, { "brpoplpush", m_brpoplpush },
	{ "blmpop", m_blmpop }, { "multi", m_multi }, { "exec", m_exec },
	{ "discard", m_discard }, { "watch", m_watch },
	{ "unwatch", m_unwatch },
};

/* The model of cmd, or NULL. */
static model_proc *
model_proc_of(const struct command *cmd)
{
	char name[64];
	size_t i;

	command_fullname(cmd, name);
	for (i = 0; i < sizeof(model_procs) / sizeof(model_procs[0]); i++)
		if (strcmp(model_procs[i].name, name) == 0)
			return model_procs[i].proc;
	return NULL;
}

/* The commands a client in MULTI may still run over maxmemory. */
static int
oom_exempt_in_multi(const struct command *cmd)
{
	char name[64];

	command_fullname(cmd, name);
	return strcmp(name, "exec") == 0 || strcmp(name, "discard") == 0 ||
	    strcmp(name, "quit") == 0;
}

/* Whether a queued request may add memory (EXEC of it is refused over
 * maxmemory, as in Redis). */
static int
queue_denyoom(const struct prop_log *q)
{
	struct resp_arg av[64];
	const struct command *cmd;
	size_t i;

	for (i = 0; i < q->n; i++) {
		FUZZ_CHECK(q->recs[i].argc <= 64);
		queue_argv(q, i, av);
		cmd = command_of_argv(q->recs[i].argc, av);
		if (cmd != NULL && (cmd->flags & CMD_DENYOOM))
			return 1;
	}
	return 0;
}

/*
 * Judge the reply p[0..n) of the command in argv, which client mc sent
 * and which ran at the model's now (authed: whether the client was
 * authenticated before it ran), and apply the command to the model. The
 * dispatcher's own checks come first, in its order: unknown command,
 * arity, authentication, a command MULTI refuses, and (with maxmemory)
 * the OOM refusal; a refusal inside MULTI makes EXEC abort; then, inside
 * MULTI, the request is queued. x (zeroed by the caller, who may set
 * in_exec, may_block, ready and ready_keys) gets the verdict: changed 1
 * if the command changed the keyspace, -1 if the model does not know
 * the write command (it then re-reads the keyspace); nprop the records
 * it propagates; blocked and the keys if it waits. Returns whether the
 * reply may differ in another run.
 */
static int
model_command(struct model *m, struct mclient *mc, struct server *srv,
    int argc, const struct resp_arg *argv, int authed, const char *p,
    size_t n, struct mcmd *x)
{
	static const char oom[] = "-OOM command not allowed when used memory "
	    "> 'maxmemory'.\r\n";
	static const char oom_exec[] = "-EXECABORT Transaction discarded "
	    "because of: OOM command not allowed when used memory > "
	    "'maxmemory'.\r\n";
	const struct command *cmd = command_of_argv(argc, argv);
	char arity[128], name[64];
	const char *why = "";
	struct resp_buf want;
	model_proc *proc;

	if (cmd == NULL) {
		FUZZ_CHECK(n > 24 && (memcmp(p, "-ERR unknown command '",
		    22) == 0 || memcmp(p, "-ERR unknown subcommand '", 25) ==
		    0));
		mc->aborted |= mc->multi;
		return 0;
	}
	resp_buf_init(&want);
	x->mc = mc;
	x->m = m;
	x->srv = srv;
	x->cmd = cmd;
	x->a = argv;
	x->argc = argc;
	x->p = p;
	x->n = n;
	x->w = &want;
	x->vary = m->memvar || is_variable(&argv[0]);
	if (x->in_exec)
		why = NULL;
	else if ((cmd->arity > 0 && cmd->arity != argc) ||
	    argc < -cmd->arity) {
		snprintf(arity, sizeof(arity), "wrong number of arguments "
		    "for '%s' command", command_fullname(cmd, name));
		why = arity;
	}
	else if (!authed && !(cmd->flags & CMD_NOAUTH))
		why = "-NOAUTH Authentication required.";
	else if (mc->multi && (cmd->flags & CMD_NOMULTI))
		why = "Command not allowed inside a transaction";
	else if (srv->evictor.maxmemory != 0 && n == sizeof(oom) - 1 &&
	    memcmp(p, oom, n) == 0 && ((cmd->flags & CMD_DENYOOM) ||
	    (mc->multi && !oom_exempt_in_multi(cmd))))
		/* Over maxmemory with nothing to evict: a command that may
		 * add memory is refused, and in MULTI all but EXEC, DISCARD
		 * and QUIT (MULTI and WATCH too, as in Redis). */
		x->own = 1;
	else if (srv->evictor.maxmemory != 0 && model_proc_of(cmd) ==
	    m_exec && mc->multi && queue_denyoom(&mc->queue) &&
	    n == sizeof(oom_exec) - 1 && memcmp(p, oom_exec, n) == 0) {
		/* ... and EXEC of a queue that may add memory. */
		x->own = 1;
		mclient_reset(mc);
		why = NULL;
	} else
		why = NULL;
	/* Refused: EXEC aborts the transaction, with the reason (its
	 * code kept, as Redis's execCommandAbort words it). */
	if (why != NULL && model_proc_of(cmd) == m_exec) {
		resp_add_errorf(&want, "-EXECABORT Transaction discarded "
		    "because of: %s", why + (why[0] == '-'));
		mclient_reset(mc);
	} else if (why != NULL)
		want_err(x, why);
	if (why != NULL || x->own)
		mc->aborted |= mc->multi;
	else if (!x->in_exec && mc->multi && !multi_runs_now(cmd)) {
		resp_add_simple(&want, "QUEUED");
		log_add(&mc->queue, argc, argv);
	} else if ((proc = model_proc_of(cmd)) != NULL)
		proc(x);
	else {
		/* A command the model does not know: a write is taken as
		 * right (the keyspace is re-read), anything else must leave
		 * the keyspace alone, which the caller checks. */
		x->own = 1;
		if (cmd->flags & CMD_WRITE) {
			model_resync(m, &srv->db);
			x->changed = -1;
		}
	}
	if (!x->own && !x->blocked)
		check_reply_is(p, n, &want);
	resp_buf_free(&want);
	if (x->changed == 1 && x->nprop == 0)
		x->nprop = 1;
	return x->vary;
}

/* The keys a command names (its row's key positions): the keyspace
 * holds them as the model does, and the replica (if any) holds them
 * live as the model does. */
static void
check_argv_keys(struct model *m, struct db *db, struct db *replica,
    int argc, const struct resp_arg *argv)
{
	int i, first, last, step;

	if (argv_keys(argc, argv, &first, &last, &step) != 0)
		return;
	for (i = first; i <= last && i < argc; i += step) {
		check_key_exact(m, db, argv[i].ptr, argv[i].len);
		if (replica != NULL)
			check_key_live(m, replica, argv[i].ptr, argv[i].len);
	}
}

/* The last command log holds is what the model said x propagates: its
 * words as sent (pform 2) or as x->pw (1). */
static void
check_prop_form(const struct prop_log *log, const struct mcmd *x)
{
	const struct prop_rec *r;
	const struct resp_arg *a;
	const char *w;
	size_t wl;
	int i, n = x->pform == 2 ? x->argc : x->pn;

	if (x->pform == 0)
		return;
	FUZZ_CHECK(log->n > 0);
	r = &log->recs[log->n - 1];
	FUZZ_CHECK(r->argc == n);
	for (i = 0; i < n; i++) {
		a = &log->args[r->first + (size_t)i];
		w = x->pform == 2 ? x->a[i].ptr : x->pw[i];
		wl = x->pform == 2 ? x->a[i].len : x->pl[i];
		FUZZ_CHECK(a->len == wl && (wl == 0 ||
		    memcmp(log->bytes.data + a->off, w, wl) == 0));
	}
}

/* ---- The ways to run an input ---- */

static int marker_of(int argc, const struct resp_arg *argv, int *n);

/* What one run of an input gave. */
struct outcome {
	struct resp_buf replies;     /* everything the client was sent */
	size_t nreplies;
	unsigned char *vary;         /* direct: per reply, whether it may
	                              * differ in another run */
	size_t capvary;
	size_t *ends;                /* direct: per command, where its
	                              * request ends in the input */
	size_t ncommands, capends;
	long long last_us;           /* the clock when the run ended */
	int shutdown;                /* SHUTDOWN, POST or Host: ran: the
	                              * connection closed at once, and a
	                              * socket run may see only a prefix */
	int cutoff;                  /* an output-buffer limit was set: the
	                              * socket run may drop the client */
	int blocked;                 /* the last command waits on keys (a
	                              * BLPOP on an empty list): the run ends
	                              * there, and the socket run's wait may
	                              * time out, in real time, or not */
	int memvar;                  /* maxmemory was set */
};

static void
outcome_free(struct outcome *out)
{
	resp_buf_free(&out->replies);
	free(out->vary);
	free(out->ends);
}

/* Note one more reply of the direct run and whether it may vary. */
static void
outcome_reply(struct outcome *out, int vary)
{
	grow(&out->vary, &out->capvary, out->nreplies, sizeof(*out->vary));
	out->vary[out->nreplies++] = (unsigned char)vary;
}

/* Before command i of a run: set the clock to its instant and, if the
 * plan says so, run an active expiry cycle at that instant (m: the
 * model it tells of what it reclaims at random). */
static long long
run_step(struct server *srv, struct model *m, const struct plan *plan,
    size_t i)
{
	long long t = plan_time(plan, i);

	clock_at(srv, t);
	if (m != NULL)
		m->now = t / 1000;
	if (plan_cycle(plan, i)) {
		if (m != NULL)
			m->nondet = 1;
		expire_cycle(&srv->expire, &srv->db, EXPIRE_SLOW,
		    (int)srv->cfg.active_expire_effort, srv->hz);
		if (m != NULL)
			m->nondet = 0;
	}
	return t;
}

/*
 * Parse the input with the client's own parser and dispatch request by
 * request at the plan's instants, checking each reply against the model,
 * the keys each command names, that it propagated exactly once if it
 * changed the keyspace (plus a DEL per key expiry or eviction took), and
 * that the replica, replaying what was propagated, holds those keys
 * alike. At the end the whole keyspace must be the model's, and the
 * replica's live keys too.
 */
static void
run_direct(struct fuzz_server *fs, const uint8_t *data, size_t size,
    const struct plan *plan, struct model *m, struct outcome *out)
{
	struct server *srv = fs->srv;
	unsigned long long removals;
	const struct obuf_limit *lim;
	struct prop_log log;
	struct replica rep;
	struct mclient mc;
	struct client *c;
	struct mcmd x;
	size_t off, logged;
	int peer, r, authed, vary, marker;

	memset(&log, 0, sizeof(log));
	memset(&mc, 0, sizeof(mc));
	m->ghosts = m->memvar = m->nondet = 0;
	m->now = plan->base_us / 1000;
	out->last_us = plan->base_us;
	clock_at(srv, plan->base_us);
	world_seed(srv, m, plan);
	replica_begin(&rep, plan);
	fs->model = m;
	fs->log = &log;
	c = client_setup(srv, &peer);
	c->qbuf = mem_alloc(size);
	memcpy(c->qbuf, data, size);
	c->qlen = c->qcap = size;
	while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) &&
	    !srv->shutdown_asap && !out->blocked) {
		r = resp_parse(&c->parser, c->qbuf, c->qlen);
		if (r == RESP_INCOMPLETE)
			break;
		off = c->reply.len;
		if (r == RESP_ERR) {
			resp_add_error(&c->reply, c->parser.err,
			    strlen(c->parser.err));
			FUZZ_CHECK(strncmp(c->reply.data + off,
			    "-ERR Protocol error: ", 21) == 0);
			check_one_reply(c->reply.data + off,
			    c->reply.len - off);
			outcome_reply(out, 0);
			break;
		}
		FUZZ_CHECK(r == RESP_OK);
		if (c->parser.argc == 0 || marker_of(c->parser.argc,
		    c->parser.argv, &marker) >= 0)
			continue;
		c->argc = c->parser.argc;
		c->argv = c->parser.argv;
		out->last_us = run_step(srv, m, plan, out->ncommands);
		replica_replay(&rep, &log, out->last_us);
		grow(&out->ends, &out->capends, out->ncommands,
		    sizeof(*out->ends));
		out->ends[out->ncommands++] = c->parser.pos;

		authed = c->authenticated;
		m->nondet = arg_is(&c->argv[0], "scan") ||
		    arg_is(&c->argv[0], "randomkey");
		logged = log.n;
		removals = fs->removals;
		m->cur = c;
		command_dispatch(c);
		m->cur = NULL;
		m->nondet = 0;
		if (c->flags & CLIENT_CLOSE_ASAP) {
			/* SHUTDOWN, or a POST/Host: request: the connection
			 * closes without a reply. */
			FUZZ_CHECK(srv->shutdown_asap ||
			    arg_is(&c->argv[0], "post") ||
			    arg_is(&c->argv[0], "host:"));
			FUZZ_CHECK(c->reply.len == off);
			out->shutdown = 1;
		} else {
			/* Exactly one well-formed reply per command, unless
			 * it waits on keys (the model must say so too): only
			 * a timeout, in real time, can end the wait of the
			 * one client there is. */
			if (c->reply.len != off)
				check_one_reply(c->reply.data + off,
				    c->reply.len - off);
			memset(&x, 0, sizeof(x));
			x.may_block = 1;
			vary = model_command(m, &mc, srv, c->argc, c->argv,
			    authed, c->reply.len != off ? c->reply.data + off :
			    "", c->reply.len - off, &x);
			FUZZ_CHECK(x.blocked == (c->reply.len == off));
			FUZZ_CHECK(!x.blocked || (c->flags & CLIENT_BLOCKED));
			if (x.blocked)
				out->blocked = 1;
			else
				outcome_reply(out, vary);
			/* Each change leaves once (a transaction's between
			 * a MULTI and an EXEC); expiry and eviction add a
			 * DEL for each key they take. */
			if (x.changed >= 0)
				FUZZ_CHECK(log.n - logged == (size_t)x.nprop +
				    (size_t)(fs->removals - removals));
			if (x.changed == 1)
				check_prop_form(&log, &x);
			FUZZ_CHECK(mc.multi == !!(c->flags & CLIENT_MULTI));
			FUZZ_CHECK(!mc.multi || mc.aborted ==
			    !!(c->flags & CLIENT_DIRTY_EXEC));
		}
		FUZZ_CHECK(db_size(&srv->db) == m->count);
		replica_replay(&rep, &log, out->last_us);
		check_argv_keys(m, &srv->db, &rep.fs->srv->db, c->argc,
		    c->argv);
		if (srv->evictor.maxmemory != 0)
			m->memvar = 1;
		lim = &srv->cfg.obuf[OBUF_NORMAL];
		if (lim->hard > 0 || lim->soft > 0)
			out->cutoff = 1;
		c->argc = 0;
		c->argv = NULL;
	}
	resp_buf_append(&out->replies, c->reply.data, c->reply.len);
	out->memvar = m->memvar;
	model_check_db(m, &srv->db);
	replica_replay(&rep, &log, out->last_us);
	model_check_live(m, &rep.fs->srv->db);
	close(peer);
	client_free(c);
	replica_end(&rep);
	fs->model = NULL;
	fs->log = NULL;
	log_free(&log);
	mclient_reset(&mc);
}

/* Move whatever the server sent to peer into out; 1 at EOF. */
static int
drain(int peer, struct resp_buf *out)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(peer, buf, sizeof(buf), 0);
		if (n > 0) {
			resp_buf_append(out, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ECONNRESET);
		return errno == ECONNRESET;
	}
}

/* Run event rounds that do not wait (a stopped loop polls with a zero
 * timeout) until nothing more happens, collecting the replies. */
static void
pump(struct server *srv, int peer, struct resp_buf *out)
{
	size_t before;
	int i, n;

	for (i = 0; i < FUZZ_PUMP_MAX; i++) {
		event_stop(srv->el);
		n = event_process(srv->el);
		FUZZ_CHECK(n >= 0);
		before = out->len;
		drain(peer, out);
		if (n == 0 && out->len == before)
			return;
	}
	FUZZ_CHECK(!"the event loop never settles");
}

/* Write data[*fed..upto) to peer in random pieces, letting the server
 * run after each. Returns -1 once the server has closed the connection
 * (after QUIT, say), else 0. */
static int
feed(struct server *srv, int peer, const uint8_t *data, size_t *fed,
    size_t upto, uint64_t *rng, struct resp_buf *out)
{
	size_t piece;
	ssize_t n;

	while (*fed < upto) {
		if (srv->clients == NULL)
			return -1;
		piece = fuzz_rand(rng) % 4 == 0 ? upto - *fed :
		    1 + fuzz_rand(rng) % 512;
		if (piece > upto - *fed)
			piece = upto - *fed;
		n = send(peer, data + *fed, piece, MSG_NOSIGNAL);
		if (n == -1) {
			/* Closed by the server, or full until it reads. */
			FUZZ_CHECK(errno == EPIPE || errno == ECONNRESET ||
			    errno == EAGAIN || errno == EWOULDBLOCK);
			if (errno == EPIPE || errno == ECONNRESET)
				return -1;
			n = 0;
		}
		*fed += (size_t)n;
		pump(srv, peer, out);
	}
	return 0;
}

/*
 * Write the input into a socket pair and let the server's event loop
 * and client code do the rest, then hang up, after which the server
 * must have let the client go. When the plan moves the clock, each
 * request goes in pieces of its own, sent at its command's instant
 * (direct->ends says where requests end); otherwise pieces straddle
 * requests, as pipelining clients send them. What the run propagated,
 * replayed on the replica, must give the same live keys.
 */
static void
run_socket(struct fuzz_server *fs, const uint8_t *data, size_t size,
    const struct plan *plan, const struct outcome *direct,
    struct outcome *out)
{
	struct server *srv = fs->srv;
	uint64_t rng = fuzz_hash(data, size) | 1;
	size_t fed = 0, i, limit = size;
	struct prop_log log;
	struct replica rep;
	int peer, closed = 0;

	memset(&log, 0, sizeof(log));
	out->last_us = plan->base_us;
	clock_at(srv, plan->base_us);
	world_seed(srv, NULL, plan);
	fs->log = &log;
	client_setup(srv, &peer);
	/* After a command that waits, nothing is sent. */
	if (direct->blocked)
		limit = direct->ends[direct->ncommands - 1];
	for (i = 0; plan->step_us != 0 && i < direct->ncommands && !closed;
	    i++) {
		out->last_us = run_step(srv, NULL, plan, i);
		closed = feed(srv, peer, data, &fed, direct->ends[i], &rng,
		    &out->replies);
	}
	if (!closed)
		feed(srv, peer, data, &fed, limit, &rng, &out->replies);
	pump(srv, peer, &out->replies);
	shutdown(peer, SHUT_WR);
	pump(srv, peer, &out->replies);
	FUZZ_CHECK(srv->clients == NULL);
	FUZZ_CHECK(drain(peer, &out->replies) == 1);
	close(peer);
	out->nreplies = count_replies(out->replies.data, out->replies.len);
	fs->log = NULL;

	replica_begin(&rep, plan);
	replica_replay(&rep, &log, out->last_us);
	db_live_equal(&srv->db, &rep.fs->srv->db, out->last_us / 1000);
	replica_end(&rep);
	log_free(&log);
}

/*
 * The socket run against the direct one: the same number of replies
 * (a prefix after SHUTDOWN or with an output limit; one more if a wait
 * timed out), the same bytes for every reply that cannot vary, and the
 * same live keys.
 */
static void
compare_runs(const struct outcome *d, const struct outcome *s,
    struct model *m, struct db *db)
{
	size_t j, n = s->nreplies, od = 0, os = 0, ld, ls;

	if (d->shutdown || d->cutoff)
		FUZZ_CHECK(n <= d->nreplies);
	else if (d->blocked && n == d->nreplies + 1)
		n--;
	else
		FUZZ_CHECK(n == d->nreplies);
	for (j = 0; j < n; j++) {
		ld = next_reply(d->replies.data + od, d->replies.len - od);
		ls = next_reply(s->replies.data + os, s->replies.len - os);
		if (!d->vary[j])
			FUZZ_CHECK(ld == ls && memcmp(d->replies.data + od,
			    s->replies.data + os, ld) == 0);
		od += ld;
		os += ls;
	}
	if (!d->cutoff && !d->memvar) {
		FUZZ_CHECK(s->last_us == d->last_us);
		model_check_live(m, db);
	}
}

/* ---- Several clients: waiting on keys ---- */

#define FUZZ_CLIENTS 4
#define SRUN_PAUSE INT_MIN           /* a request that is "@~" */
#define SRUN_BATCH 16                /* requests in one pipeline, at most */

/*
 * A harness-level request (never sent): "@N" (N 0-3) makes client N send
 * the requests after it; "@N!" hangs client N up (a later request for N
 * connects it again); "@~" lets 2 ms of real time pass (the deadlines of
 * waiters are on the real monotonic clock). Returns 0 for "@N", 1 for
 * "@N!" (with *n), 2 for "@~", or -1 for an ordinary request.
 */
static int
marker_of(int argc, const struct resp_arg *argv, int *n)
{
	const char *p = argv[0].ptr;

	*n = 0;
	if (argc != 1 || argv[0].len < 2 || argv[0].len > 3 || p[0] != '@')
		return -1;
	if (argv[0].len == 2 && p[1] == '~')
		return 2;
	if (p[1] < '0' || p[1] >= '0' + FUZZ_CLIENTS ||
	    (argv[0].len == 3 && p[2] != '!'))
		return -1;
	*n = p[1] - '0';
	return argv[0].len == 3;
}

/* Whether the input holds a marker: it then runs with several clients. */
static int
input_has_markers(const uint8_t *data, size_t size)
{
	struct resp_parser p;
	char *buf = model_dup((const char *)data, size);
	int found = 0, n;

	resp_parser_init(&p, 0);
	while (!found && resp_parse(&p, buf, size) == RESP_OK)
		found = p.argc > 0 && marker_of(p.argc, p.argv, &n) >= 0;
	resp_parser_free(&p);
	free(buf);
	return found;
}

/* One client of the several-clients run. */
struct sclient {
	struct client *c;            /* the server's side; NULL: none */
	int peer;                    /* our end of the socket pair */
	struct resp_buf in;          /* replies received, not yet judged */
	struct mclient mc;
	int waiting;                 /* the model says it waits on keys: */
	struct prop_log req;         /* its request (record 0) */
	long double wait_ms;         /* 0: forever */
	size_t *held;                /* requests it sent while waiting */
	size_t nheld, capheld;
};

/* The several-clients run. */
struct srun {
	struct fuzz_server *fs;
	struct server *srv;
	struct model *m;
	const struct plan *plan;
	struct sclient cl[FUZZ_CLIENTS];
	struct prop_log reqs;        /* the input's requests (us unused) */
	int *who;                    /* per request: its client, -1 - n
	                              * for "@n!", SRUN_PAUSE for "@~" */
	size_t sent;                 /* commands run so far: the clock */
	struct prop_log log;         /* what the server propagated */
	struct replica rep;
	struct prop_log ready;       /* keys a list appeared at (model) */
	size_t *order;               /* waiters in the order they began */
	size_t norder, caporder;
	uint64_t rng;
	int stop;                    /* the run ends (an unmodelled
	                              * command, a client dropped) */
};

/* Argument j of record i of a log, as a resp_arg. */
static void
log_arg(const struct prop_log *log, size_t i, int j, struct resp_arg *a)
{
	const struct resp_arg *s = &log->args[log->recs[i].first + (size_t)j];

	a->off = 0;
	a->len = s->len;
	a->ptr = log->bytes.data + s->off;
}

/* The arguments of record i of log into av (at most max). */
static int
log_argv(const struct prop_log *log, size_t i, struct resp_arg *av,
    int max)
{
	int j;

	FUZZ_CHECK(log->recs[i].argc <= max);
	for (j = 0; j < log->recs[i].argc; j++)
		log_arg(log, i, j, &av[j]);
	return log->recs[i].argc;
}

/* Whether the several-clients run can judge a command: the model's
 * commands, PING, ECHO, CLIENT UNBLOCK and ID, and CONFIG GET and CONFIG
 * SET of the list settings; unknown commands (an error), but for what
 * reads as an HTTP request. */
static int
srun_allowed(int argc, const struct resp_arg *av)
{
	const struct command *cmd = command_of_argv(argc, av);
	char name[64];

	/* POST and Host: close the connection as an HTTP request. */
	if (cmd == NULL)
		return !arg_is(&av[0], "post") && !arg_is(&av[0], "host:");
	if (model_proc_of(cmd) != NULL)
		return 1;
	command_fullname(cmd, name);
	if (strcmp(name, "ping") == 0 || strcmp(name, "echo") == 0 ||
	    strcmp(name, "client|unblock") == 0 ||
	    strcmp(name, "client|id") == 0 || strcmp(name, "config|get") == 0)
		return 1;
	return strcmp(name, "config|set") == 0 && argc == 4 &&
	    (arg_is(&av[2], "list-max-listpack-size") ||
	    arg_is(&av[2], "list-max-ziplist-size") ||
	    arg_is(&av[2], "list-compress-depth"));
}

/* Whether client i is still the server's (it may have closed it). */
static int
srun_alive(struct srun *r, int i)
{
	const struct client *c;

	for (c = r->srv->clients; c != NULL; c = c->next)
		if (c == r->cl[i].c)
			return 1;
	return 0;
}

/* Drain every client's socket; the bytes that came. */
static size_t
srun_drain(struct srun *r)
{
	size_t got = 0, before;
	int i;

	for (i = 0; i < FUZZ_CLIENTS; i++)
		if (r->cl[i].c != NULL && r->cl[i].peer >= 0) {
			before = r->cl[i].in.len;
			drain(r->cl[i].peer, &r->cl[i].in);
			got += r->cl[i].in.len - before;
		}
	return got;
}

/* Run event rounds that do not wait until nothing more happens,
 * collecting every client's replies. */
static void
srun_pump(struct srun *r)
{
	size_t i;
	int n;

	for (i = 0; i < FUZZ_PUMP_MAX; i++) {
		event_stop(r->srv->el);
		n = event_process(r->srv->el);
		FUZZ_CHECK(n >= 0);
		if (srun_drain(r) == 0 && n == 0)
			return;
	}
	FUZZ_CHECK(!"the event loop never settles");
}

/* Take the first reply of client i's received bytes: its length, or 0 if
 * none is there. */
static size_t
srun_reply(struct srun *r, int i)
{
	struct resp_buf *b = &r->cl[i].in;

	return b->len == 0 ? 0 : next_reply(b->data, b->len);
}

/* Client i's first reply has been judged: drop it. */
static void
srun_consume(struct srun *r, int i, size_t n)
{
	struct resp_buf *b = &r->cl[i].in;

	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* Client i no longer waits: out of the order of waiters. */
static void
srun_unwait(struct srun *r, int i)
{
	size_t j;

	r->cl[i].waiting = 0;
	log_free(&r->cl[i].req);
	for (j = 0; j < r->norder; j++)
		if (r->order[j] == (size_t)i) {
			memmove(r->order + j, r->order + j + 1,
			    (r->norder - j - 1) * sizeof(*r->order));
			r->norder--;
			break;
		}
}

/* Hang client i up (or forget it, the server having closed it). */
static void
srun_hangup(struct srun *r, int i)
{
	struct sclient *s = &r->cl[i];

	if (s->c == NULL)
		return;
	if (s->waiting)
		srun_unwait(r, i);
	close(s->peer);
	s->peer = -1;
	srun_pump(r);
	/* The server let it go, waiting or not, without a reply. */
	FUZZ_CHECK(!srun_alive(r, i));
	s->c = NULL;
	s->in.len = 0;
	s->nheld = 0;
	mclient_reset(&s->mc);
}

/* Waiter i, if its deadline passed in real time (the only clock the
 * server's deadlines read) got the timeout reply: the model takes that
 * as happening before the command now judged (equivalent: a waiter the
 * command would not serve is no one else's concern). */
static void
srun_timeouts_of(struct srun *r, int i)
{
	struct sclient *s = &r->cl[i];

	if (!s->waiting || s->in.len < 5 ||
	    memcmp(s->in.data, "*-1\r\n", 5) != 0)
		return;
	FUZZ_CHECK(s->wait_ms > 0);
	srun_consume(r, i, 5);
	srun_unwait(r, i);
}

/*
 * Judge one command client i ran (argv; rerun: run again for the ready
 * key) against its next reply; a command that waits makes the client a
 * waiter, queued after those before it. Returns the records it
 * propagates, or -1 if the model re-read the keyspace.
 */
static int
srun_judge(struct srun *r, int i, int argc, const struct resp_arg *av,
    const struct resp_arg *rerun)
{
	struct sclient *s = &r->cl[i];
	size_t n = srun_reply(r, i);
	struct mcmd x;

	memset(&x, 0, sizeof(x));
	x.may_block = 1;
	x.ready = rerun;
	x.ready_keys = &r->ready;
	model_command(r->m, &s->mc, r->srv, argc, av, 1, s->in.data, n, &x);
	if (x.blocked && n != 0 && rerun != NULL &&
	    (n != 5 || memcmp(s->in.data, "*-1\r\n", 5) != 0))
		/* Still waiting: the reply there is from a later command
		 * of the pipeline that ran whole. */
		return 0;
	if (x.blocked && n != 0) {
		/* It waited, and its deadline (real time) passed already. */
		FUZZ_CHECK(x.wait_ms > 0 && n == 5 &&
		    memcmp(s->in.data, "*-1\r\n", 5) == 0);
		srun_consume(r, i, n);
		if (rerun != NULL)
			srun_unwait(r, i);
		return 0;
	}
	if (x.blocked) {
		if (rerun == NULL) {
			/* It waits, after every waiter before it. */
			s->waiting = 1;
			s->wait_ms = x.wait_ms;
			log_add(&s->req, argc, av);
			grow(&r->order, &r->caporder, r->norder,
			    sizeof(*r->order));
			r->order[r->norder++] = (size_t)i;
		}
		return 0;
	}
	FUZZ_CHECK(n > 0);
	srun_consume(r, i, n);
	if (rerun != NULL)
		srun_unwait(r, i);
	return x.changed < 0 ? -1 : x.nprop;
}

/* Whether waiter i waits on key k. */
static int
srun_waits_on(struct srun *r, int i, const struct resp_arg *k)
{
	const struct prop_log *q = &r->cl[i].req;
	struct resp_arg av[64];
	const struct command *cmd;
	int argc = log_argv(q, 0, av, 64), j, first, last;

	cmd = command_of_argv(argc, av);
	if (strcmp(cmd->name, "blmpop") == 0) {
		first = 3;
		last = 2 + (int)strtol(av[2].ptr, NULL, 10);
	} else if (strcmp(cmd->name, "blpop") == 0 ||
	    strcmp(cmd->name, "brpop") == 0) {
		first = 1;
		last = argc - 2;
	} else
		first = last = 1;
	for (j = first; j <= last; j++)
		if (av[j].len == k->len && memcmp(av[j].ptr, k->ptr,
		    k->len) == 0)
			return 1;
	return 0;
}

/*
 * Serve the waiters of the keys a list appeared at, as the server does
 * before its loop sleeps: key by key in the order they became ready (a
 * key no one waits on is dropped), each key's waiters in the order they
 * began waiting, each run again for that key until one still finds
 * nothing; serving may make more keys ready. Returns the records the
 * runs propagate (-1: unknown).
 */
static int
srun_serve(struct srun *r)
{
	struct prop_log batch;
	struct resp_arg k, av[64];
	size_t b, j;
	int total = 0, p, i, argc;

	while (r->ready.n != 0) {
		batch = r->ready;
		memset(&r->ready, 0, sizeof(r->ready));
		for (b = 0; b < batch.n; b++) {
			log_arg(&batch, b, 0, &k);
			for (;;) {
				for (j = 0; j < r->norder; j++)
					if (srun_waits_on(r, (int)r->order[j],
					    &k))
						break;
				if (j == r->norder)
					break;
				i = (int)r->order[j];
				argc = log_argv(&r->cl[i].req, 0, av, 64);
				p = srun_judge(r, i, argc, av, &k);
				if (r->cl[i].waiting)
					break;
				total = p < 0 || total < 0 ? -1 : total + p;
			}
		}
		log_free(&batch);
	}
	return total;
}

static void srun_unblock(struct srun *r, int i, int target, int error);

/* Whether request k may share a write with the requests around it: not
 * one that may wait, nor CLIENT UNBLOCK. */
static int
srun_batchable(const struct srun *r, size_t k)
{
	struct resp_arg av[2];
	const struct command *cmd;
	char name[64];
	int j;

	for (j = 0; j < 2 && j < r->reqs.recs[k].argc; j++)
		log_arg(&r->reqs, k, j, &av[j]);
	cmd = command_of_argv(r->reqs.recs[k].argc, av);
	return cmd == NULL || (!(cmd->flags & CMD_BLOCKING) &&
	    strcmp(command_fullname(cmd, name), "client|unblock") != 0);
}

/*
 * Client i sends the nk requests ks (connecting first if need be), in
 * one write cut in random pieces: several only when the clock stands
 * still, none of them one that may wait (a pipeline). The harness's
 * "@N" as CLIENT UNBLOCK's id becomes client N's id. Then the loop runs
 * until it settles, and each reply is judged in order, the waiters of
 * the keys each request made ready served right after it (as Redis
 * serves them after each command, before the next of the pipeline).
 */
static void
srun_send(struct srun *r, int i, const size_t *ks, size_t nk)
{
	struct sclient *s = &r->cl[i];
	struct server *srv = r->srv;
	struct resp_arg *av[SRUN_BATCH];
	int argc[SRUN_BATCH], target = -1, p, q, j, bad = 0;
	unsigned long long removals;
	size_t logged, fed = 0, n, b;
	struct resp_buf req;
	char id[24], name[64];
	const struct command *cmd;
	long long t;

	for (b = 0; b < nk; b++) {
		argc[b] = r->reqs.recs[ks[b]].argc;
		av[b] = malloc((size_t)argc[b] * sizeof(*av[b]));
		FUZZ_CHECK(av[b] != NULL);
		log_argv(&r->reqs, ks[b], av[b], argc[b]);
		cmd = command_of_argv(argc[b], av[b]);
		if (!srun_allowed(argc[b], av[b]) || (s->mc.multi &&
		    cmd != NULL && strcmp(command_fullname(cmd, name),
		    "client|unblock") == 0)) {
			/* The run ends before it (CLIENT UNBLOCK queued in
			 * MULTI would end a wait at EXEC, which the model
			 * does not follow). */
			r->stop = 1;
			free(av[b]);
			nk = b;
			break;
		}
	}
	if (nk == 0)
		return;
	cmd = command_of_argv(argc[0], av[0]);
	if (nk == 1 && cmd != NULL && strcmp(command_fullname(cmd, name),
	    "client|unblock") == 0 && argc[0] >= 3 &&
	    marker_of(1, &av[0][2], &target) == 0) {
		snprintf(id, sizeof(id), "%llu", r->cl[target].c != NULL ?
		    r->cl[target].c->id : 0ULL);
		av[0][2].ptr = id;
		av[0][2].len = strlen(id);
	} else
		target = -1;
	if (s->c == NULL)
		s->c = client_setup(srv, &s->peer);
	t = run_step(srv, r->m, r->plan, r->sent);
	r->sent += nk;
	r->m->nondet = 1;
	replica_replay(&r->rep, &r->log, t);
	resp_buf_init(&req);
	for (b = 0; b < nk; b++) {
		resp_add_array_len(&req, argc[b]);
		for (j = 0; j < argc[b]; j++)
			resp_add_bulk(&req, av[b][j].ptr, av[b][j].len);
	}
	logged = r->log.n;
	removals = r->fs->removals;
	feed(srv, s->peer, (const uint8_t *)req.data, &fed, req.len, &r->rng,
	    &s->in);
	resp_buf_free(&req);
	srun_pump(r);
	for (j = 0; j < FUZZ_CLIENTS; j++)
		if (j != target)
			srun_timeouts_of(r, j);
	for (b = 0; b < nk; b++) {
		if (target >= 0 && argc[b] <= 4 && (argc[b] == 3 ||
		    arg_is_word(&av[b][3], "timeout") ||
		    arg_is_word(&av[b][3], "error"))) {
			srun_unblock(r, i, target, argc[b] == 4 &&
			    arg_is_word(&av[b][3], "error"));
			p = 0;
		} else
			p = srun_judge(r, i, argc[b], av[b], NULL);
		q = srun_serve(r);
		bad |= p < 0 || q < 0;
		if (!bad)
			logged += (size_t)p + (size_t)q;
	}
	model_removed_apply(r->m);
	if (!bad)
		FUZZ_CHECK(r->log.n == logged +
		    (size_t)(r->fs->removals - removals));
	replica_replay(&r->rep, &r->log, t);
	for (b = 0; b < nk; b++)
		check_argv_keys(r->m, &srv->db, &r->rep.fs->srv->db, argc[b],
		    av[b]);
	/* Every reply was judged, and no client was dropped. */
	for (j = 0; j < FUZZ_CLIENTS; j++)
		FUZZ_CHECK(r->cl[j].in.len == 0 &&
		    (r->cl[j].c == NULL || srun_alive(r, j)));
	n = 0;
	for (j = 0; j < FUZZ_CLIENTS; j++)
		n += (size_t)r->cl[j].waiting;
	FUZZ_CHECK(blocked_count(srv) == (int)n && n == r->norder);
	for (b = 0; b < nk; b++)
		free(av[b]);
}

/* CLIENT UNBLOCK <client target's id> [TIMEOUT | ERROR] from client i:
 * 1 if the target waited (it gets the timeout reply, or the UNBLOCKED
 * error), else 0 (also if its deadline passed first). */
static void
srun_unblock(struct srun *r, int i, int target, int error)
{
	static const char unblocked[] =
	    "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";
	struct sclient *t = &r->cl[target];
	size_t n = srun_reply(r, i);
	const char *want;

	FUZZ_CHECK(n == 4);
	if (!t->waiting) {
		FUZZ_CHECK(memcmp(r->cl[i].in.data, ":0\r\n", 4) == 0);
		srun_consume(r, i, 4);
		return;
	}
	if (memcmp(r->cl[i].in.data, ":0\r\n", 4) == 0) {
		/* Its deadline passed first. */
		srun_consume(r, i, 4);
		srun_timeouts_of(r, target);
		FUZZ_CHECK(!t->waiting);
		return;
	}
	FUZZ_CHECK(memcmp(r->cl[i].in.data, ":1\r\n", 4) == 0);
	srun_consume(r, i, 4);
	want = error ? unblocked : "*-1\r\n";
	n = strlen(want);
	FUZZ_CHECK(t->in.len >= n && memcmp(t->in.data, want, n) == 0);
	srun_consume(r, target, n);
	srun_unwait(r, target);
}

/* "@~": let 2 ms of real time pass, so that short deadlines pass, and
 * judge the timeout replies. */
static void
srun_pause(struct srun *r)
{
	struct timespec ts = { 0, 2000000 };
	int i;

	nanosleep(&ts, NULL);
	srun_pump(r);
	for (i = 0; i < FUZZ_CLIENTS; i++)
		srun_timeouts_of(r, i);
	FUZZ_CHECK(blocked_count(r->srv) == (int)r->norder);
}

/* Send what clients no longer waiting held back, oldest client first,
 * one request at a time. */
static void
srun_resume(struct srun *r)
{
	struct sclient *s;
	size_t k;
	int i;

	for (i = 0; i < FUZZ_CLIENTS && !r->stop; i++) {
		s = &r->cl[i];
		if (s->c == NULL || s->waiting || s->nheld == 0)
			continue;
		k = s->held[0];
		memmove(s->held, s->held + 1, --s->nheld * sizeof(*s->held));
		srun_send(r, i, &k, 1);
		i = -1;
	}
}

/* The input's requests, each with its client ("@N" switches; "@N!" is
 * kept as a hang-up), up to a protocol error. */
static void
srun_parse(struct srun *r, const uint8_t *data, size_t size)
{
	char *buf = model_dup((const char *)data, size);
	struct resp_parser p;
	size_t cap = 0;
	int cur = 0, n, kind;

	resp_parser_init(&p, 0);
	while (resp_parse(&p, buf, size) == RESP_OK) {
		if (p.argc == 0)
			continue;
		kind = marker_of(p.argc, p.argv, &n);
		if (kind == 0) {
			cur = n;
			continue;
		}
		grow(&r->who, &cap, r->reqs.n, sizeof(*r->who));
		r->who[r->reqs.n] = kind == 2 ? SRUN_PAUSE : kind == 1 ?
		    -1 - n : cur;
		log_add(&r->reqs, p.argc, p.argv);
	}
	resp_parser_free(&p);
	free(buf);
}

/*
 * The several-clients run of an input with markers, on the socket
 * server: each request is written (in random pieces) by its client at
 * its instant, the loop runs until it settles, and every reply of every
 * client is judged by the model: a command that waits makes its client a
 * waiter (its later requests are held until it has its reply), a list
 * appearing at a key serves its waiters in order before the loop
 * sleeps, a deadline passing (in real time) gives the timeout reply,
 * CLIENT UNBLOCK ends a wait, a hang-up forgets the waiter. The server's
 * count of waiters, the propagation and the replica follow the model.
 */
static void
run_clients(struct fuzz_server *fs, const uint8_t *data, size_t size,
    const struct plan *plan, struct model *m)
{
	struct server *srv = fs->srv;
	size_t k, ks[SRUN_BATCH], nk;
	struct srun r;
	int i;

	memset(&r, 0, sizeof(r));
	r.fs = fs;
	r.srv = srv;
	r.m = m;
	r.plan = plan;
	r.rng = fuzz_hash(data, size) | 1;
	m->ghosts = m->memvar = 0;
	m->nondet = 1;
	m->now = plan->base_us / 1000;
	clock_at(srv, plan->base_us);
	world_seed(srv, m, plan);
	replica_begin(&r.rep, plan);
	m->defer = 1;
	m->flushes = fs->flushes = 0;
	fs->model = m;
	fs->log = &r.log;
	srun_parse(&r, data, size);
	for (k = 0; k < r.reqs.n && !r.stop; k++) {
		i = r.who[k];
		if (i == SRUN_PAUSE)
			srun_pause(&r);
		else if (i < 0)
			srun_hangup(&r, -1 - i);
		else if (r.cl[i].waiting) {
			grow(&r.cl[i].held, &r.cl[i].capheld, r.cl[i].nheld,
			    sizeof(*r.cl[i].held));
			r.cl[i].held[r.cl[i].nheld++] = k;
		} else {
			/* With the clock still, a client's requests in a row
			 * go as one pipeline. */
			ks[0] = k;
			nk = 1;
			while (plan->step_us == 0 && nk < SRUN_BATCH &&
			    k + 1 < r.reqs.n && r.who[k + 1] == i &&
			    srun_batchable(&r, k) &&
			    srun_batchable(&r, k + 1))
				ks[nk++] = ++k;
			srun_send(&r, i, ks, nk);
		}
		srun_resume(&r);
	}
	for (i = 0; i < FUZZ_CLIENTS; i++)
		srun_hangup(&r, i);
	FUZZ_CHECK(srv->clients == NULL && blocked_count(srv) == 0);
	model_removed_apply(m);
	m->defer = 0;
	model_check_db(m, &srv->db);
	replica_replay(&r.rep, &r.log, clock_wall_us());
	model_check_live(m, &r.rep.fs->srv->db);
	replica_end(&r.rep);
	fs->model = NULL;
	fs->log = NULL;
	m->nondet = 0;
	for (i = 0; i < FUZZ_CLIENTS; i++) {
		resp_buf_free(&r.cl[i].in);
		mclient_reset(&r.cl[i].mc);
		log_free(&r.cl[i].req);
		free(r.cl[i].held);
	}
	log_free(&r.reqs);
	log_free(&r.log);
	log_free(&r.ready);
	free(r.who);
	free(r.order);
}

/*
 * Whether the input may make SETRANGE store a value past
 * FUZZ_SETRANGE_MAX bytes: values that large (up to proto-max-bulk-len)
 * would make every copy of the keyspace, and replies repeating them,
 * slow and huge, so such inputs are not run. A SETRANGE reaching past
 * the servers' proto-max-bulk-len only fails, unless the input may
 * raise the limit (CONFIG).
 */
static int
input_too_big(const uint8_t *data, size_t size)
{
	struct resp_parser p;
	char *buf = model_dup((const char *)data, size);
	unsigned long long end, most = 0;
	int config = 0;
	long long off;

	resp_parser_init(&p, 0);
	while (resp_parse(&p, buf, size) == RESP_OK) {
		if (p.argc == 0)
			continue;
		config |= arg_is(&p.argv[0], "config");
		if (p.argc == 4 && arg_is(&p.argv[0], "setrange") &&
		    resp_str_to_ll(p.argv[2].ptr, p.argv[2].len, &off) &&
		    off >= 0 && p.argv[3].len > 0) {
			end = (unsigned long long)off + p.argv[3].len;
			if (end > most)
				most = end;
		}
	}
	resp_parser_free(&p);
	free(buf);
	return most > FUZZ_SETRANGE_MAX &&
	    (most <= FUZZ_BULK_MAX_BYTES || config);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model model;
	struct outcome direct, sock, authed;
	struct fuzz_server *open = &servers[SRV_OPEN];
	struct fuzz_server *locked = &servers[SRV_LOCKED];
	struct plan plan;

	if (open->srv == NULL) {
		server_setup(open, NULL);
		server_setup(locked, FUZZ_PASSWORD);
		server_setup(&servers[SRV_REPLICA], NULL);
	}
	if (size == 0 || input_too_big(data, size))
		return 0;
	plan_make(&plan, data, size);
	memset(&direct, 0, sizeof(direct));
	memset(&sock, 0, sizeof(sock));
	memset(&authed, 0, sizeof(authed));

	/* One request at a time, checked against the model. */
	run_direct(open, data, size, &plan, &model, &direct);
	server_reset(open);

	if (input_has_markers(data, size)) {
		/* With markers: several clients on the socket server,
		 * every reply judged by the model (no comparison with the
		 * direct run, which has one client). */
		model_clear(&model);
		run_clients(open, data, size, &plan, &model);
	} else {
		/* Through the client code: the same replies, the same
		 * keys. Past RESP_INLINE_MAX, the pieces decide whether a
		 * long line is "too big", as in Redis. SHUTDOWN stops the
		 * server with the replies of its own batch unsent, as Redis
		 * does: then only a prefix arrives. */
		run_socket(open, data, size, &plan, &direct, &sock);
		if (size <= RESP_INLINE_MAX)
			compare_runs(&direct, &sock, &model, &open->srv->db);
	}
	server_reset(open);
	model_clear(&model);

	/* With a password: the same, behind AUTH. */
	run_direct(locked, data, size, &plan, &model, &authed);
	server_reset(locked);
	model_clear(&model);

	outcome_free(&direct);
	outcome_free(&sock);
	outcome_free(&authed);
	clock_set_fixed_wall_us(0);
	return 0;
}
