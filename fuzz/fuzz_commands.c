/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the command layer: the input is what one client sends.
 * It runs against real servers (created once, their Unix listeners never
 * used) under a wall clock the harness sets: command i runs at base + i *
 * step, both derived from the input, so some inputs see time stand still
 * and others see it jump by seconds between commands.
 *
 * Direct: the client's parser and command_dispatch() request by request.
 * Every reply is checked against a model of the keyspace (keys, types,
 * values, encodings, expire times, and which stale keys are still
 * physically there), which the server's removal hook keeps told of every
 * key that expiry or eviction takes away. Everything a command propagates
 * is replayed at once on a replica at the same instant, and the keys the
 * command names must read the same there.
 *
 * Socket: the same input through a socket pair into the server's own
 * client code and event loop, in random pieces (request by request when
 * the clock moves, so that each command sees its instant); its replies,
 * its keyspace and its replayed propagation must agree. Then the direct
 * run again on a server with a password.
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
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "dict.h"
#include "evict.h"
#include "expire.h"
#include "fuzz.h"
#include "glob.h"
#include "mem.h"
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
    enum db_removal why, long long now, int evicting)
{
	struct mkey *e = model_get(m, key, klen);

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

/* The entry for key in db holds what model entry k says (enc: compare
 * encodings too). */
static void
check_entry(const dict_entry *e, const struct mkey *k, int enc)
{
	uint32_t meta = dict_entry_meta(e);
	const char *v;
	size_t vlen;

	FUZZ_CHECK(obj_meta_type(meta) == k->type);
	FUZZ_CHECK(!enc || obj_meta_encoding(meta) == k->enc);
	FUZZ_CHECK(dict_entry_expire(e) == k->expire);
	if (!value_is_bytes(meta) || k->enc == OBJ_ENC_QUICKLIST)
		return;
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
	if (!value_is_bytes(dict_entry_meta(e)) ||
	    !value_is_bytes(dict_entry_meta(o)))
		return 0;
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
	const char *v = dict_entry_val(e, &vlen);

	model_put(arg, key, klen, obj_meta_type(meta),
	    obj_meta_encoding(meta), v, vlen, dict_entry_expire(e));
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
		    srv->evictor.maxmemory != 0);
	fs->removed(fs->removed_arg, key, klen, why);
}

/* The propagation hook: only known write commands, with a valid arity,
 * leave; each is recorded. */
static void
fuzz_propagate(void *arg, int argc, const struct resp_arg *argv)
{
	struct fuzz_server *fs = arg;
	const struct command *cmd;

	FUZZ_CHECK(argc > 0);
	cmd = command_lookup(argv[0].ptr, argv[0].len);
	FUZZ_CHECK(cmd != NULL && (cmd->flags & CMD_WRITE));
	FUZZ_CHECK(cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity);
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
 * Make key a list holding "a", expiring at expire (ms, or -1), and tell
 * the model (if any) what the keyspace then holds. RPUSH makes it, if
 * the server has list commands; otherwise nothing reads a list's bytes,
 * and db_set stores one as they are.
 */
static void
world_list(struct server *srv, struct model *m, const char *key,
    long long expire)
{
	const char *const words[] = { "RPUSH", key, "a" };
	size_t klen = strlen(key), vlen;
	dict_entry *e;
	const char *v;
	uint32_t meta;
	dbkey *k;

	if (command_lookup("rpush", 5) != NULL)
		harness_command(srv, 3, words);
	else
		db_set(&srv->db, key, klen, OBJ_LIST, OBJ_ENC_LISTPACK, "a", 1,
		    DB_EXPIRE_NONE);
	k = db_find(&srv->db, key, klen, DB_NOSTATS | DB_NOTOUCH);
	FUZZ_CHECK(k != NULL && db_key_type(k) == OBJ_LIST);
	if (expire >= 0)
		db_set_expire(&srv->db, k, expire);
	if (m == NULL)
		return;
	e = db_peek(&srv->db, key, klen);
	meta = dict_entry_meta(e);
	v = dict_entry_val(e, &vlen);
	model_put(m, key, klen, OBJ_LIST, obj_meta_encoding(meta), v, vlen,
	    expire);
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
is_variable(const struct client *c)
{
	static const char *const names[] = {
		"info", "client", "hello", "keys", "randomkey", "scan",
		"memory", NULL,
	};
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (arg_is(&c->argv[0], names[i]))
			return 1;
	return 0;
}

/* The command c->argv names (its subcommand, for a container with
 * arguments), or NULL if the dispatcher knows none. */
static const struct command *
command_of(const struct client *c)
{
	const struct command *cmd = command_lookup(c->argv[0].ptr,
	    c->argv[0].len);

	if (cmd != NULL && cmd->sub != NULL && c->argc >= 2)
		cmd = command_find(cmd->sub, c->argv[1].ptr, c->argv[1].len);
	return cmd;
}

/* Whether key is one of the keys c's command names (its row's key
 * positions). */
static int
command_names_key(const struct client *c, const char *key, size_t klen)
{
	const struct command *cmd = command_of(c);
	int i, last;

	if (cmd == NULL || cmd->first_key <= 0 || cmd->key_step <= 0)
		return 0;
	last = cmd->last_key < 0 ? c->argc + cmd->last_key : cmd->last_key;
	for (i = cmd->first_key; i <= last && i < c->argc;
	    i += cmd->key_step)
		if (c->argv[i].len == klen &&
		    memcmp(c->argv[i].ptr, key, klen) == 0)
			return 1;
	return 0;
}

/* ---- The model of each command ---- */

/* One command as the model judges it. */
struct mcmd {
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
	model_clear(x->m);
	x->m->ghosts = 0;
	x->changed = 1;
	resp_add_ok(x->w);
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
	{ "flushall", m_flush },
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

/*
 * Judge the reply p[0..n) of the command in c->argv, which ran at the
 * model's now (authed: whether the client was authenticated before it
 * ran), and apply the command to the model. The dispatcher's own checks
 * come first, in its order: unknown command, arity, authentication, and
 * (with maxmemory) the OOM refusal. Returns whether the reply may differ
 * in another run; *changed gets 1 if the command changed the keyspace,
 * 0 if not, -1 if the model does not know the write command (it then
 * re-reads the keyspace).
 */
static int
model_command(struct model *m, struct client *c, int authed, const char *p,
    size_t n, int *changed)
{
	static const char oom[] = "-OOM command not allowed when used memory "
	    "> 'maxmemory'.\r\n";
	const struct command *cmd = command_of(c);
	struct resp_buf want;
	model_proc *proc;
	struct mcmd x;

	*changed = 0;
	if (cmd == NULL) {
		FUZZ_CHECK(n > 24 && (memcmp(p, "-ERR unknown command '",
		    22) == 0 || memcmp(p, "-ERR unknown subcommand '", 25) ==
		    0));
		return 0;
	}
	memset(&x, 0, sizeof(x));
	resp_buf_init(&want);
	x.m = m;
	x.srv = c->srv;
	x.cmd = cmd;
	x.a = c->argv;
	x.argc = c->argc;
	x.p = p;
	x.n = n;
	x.w = &want;
	x.vary = m->memvar || is_variable(c);
	if ((cmd->arity > 0 && cmd->arity != c->argc) ||
	    c->argc < -cmd->arity)
		want_arity(&x);
	else if (!authed && !(cmd->flags & CMD_NOAUTH))
		want_err(&x, "-NOAUTH Authentication required.");
	else if (c->srv->evictor.maxmemory != 0 &&
	    (cmd->flags & CMD_DENYOOM) && n == sizeof(oom) - 1 &&
	    memcmp(p, oom, n) == 0)
		x.own = 1;
	else if ((proc = model_proc_of(cmd)) != NULL)
		proc(&x);
	else {
		/* A command the model does not know: a write is taken as
		 * right (the keyspace is re-read), anything else must leave
		 * the keyspace alone, which the caller checks. */
		x.own = 1;
		if (cmd->flags & CMD_WRITE) {
			model_resync(m, &c->srv->db);
			x.changed = -1;
		}
	}
	if (!x.own)
		check_reply_is(p, n, &want);
	resp_buf_free(&want);
	*changed = x.changed;
	return x.vary;
}

/* The keys a command names (its row's key positions): the keyspace
 * holds them as the model does, and the replica (if any) holds them
 * live as the model does. */
static void
check_command_keys(struct model *m, struct db *db, struct db *replica,
    const struct client *c)
{
	const struct command *cmd = command_of(c);
	int i, last;

	if (cmd == NULL || cmd->first_key <= 0 || cmd->key_step <= 0)
		return;
	last = cmd->last_key < 0 ? c->argc + cmd->last_key : cmd->last_key;
	for (i = cmd->first_key; i <= last && i < c->argc;
	    i += cmd->key_step) {
		check_key_exact(m, db, c->argv[i].ptr, c->argv[i].len);
		if (replica != NULL)
			check_key_live(m, replica, c->argv[i].ptr,
			    c->argv[i].len);
	}
}

/* ---- The ways to run an input ---- */

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
	struct client *c;
	size_t off, logged;
	int peer, r, authed, changed, vary;

	memset(&log, 0, sizeof(log));
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
		if (c->parser.argc == 0)
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
		} else if (c->reply.len == off) {
			/* It waits on keys: only a timeout, in real time,
			 * can end the wait of the one client there is. */
			FUZZ_CHECK(command_of(c) != NULL &&
			    (command_of(c)->flags & CMD_BLOCKING));
			out->blocked = 1;
		} else {
			/* Exactly one well-formed reply per command. */
			check_one_reply(c->reply.data + off,
			    c->reply.len - off);
			vary = model_command(m, c, authed, c->reply.data + off,
			    c->reply.len - off, &changed);
			outcome_reply(out, vary);
			/* Each change leaves once; expiry and eviction add
			 * a DEL for each key they take. */
			if (changed >= 0)
				FUZZ_CHECK(log.n - logged == (size_t)changed +
				    (size_t)(fs->removals - removals));
		}
		FUZZ_CHECK(db_size(&srv->db) == m->count);
		replica_replay(&rep, &log, out->last_us);
		check_command_keys(m, &srv->db, &rep.fs->srv->db, c);
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

	/* Through the client code: the same replies, the same keys. Past
	 * RESP_INLINE_MAX, the pieces decide whether a long line is "too
	 * big", as in Redis. SHUTDOWN stops the server with the replies
	 * of its own batch unsent, as Redis does: then only a prefix
	 * arrives. */
	run_socket(open, data, size, &plan, &direct, &sock);
	if (size <= RESP_INLINE_MAX)
		compare_runs(&direct, &sock, &model, &open->srv->db);
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
