/* SPDX-License-Identifier: MIT */
/*
 * Keyspace commands: DEL, EXISTS, KEYS, DBSIZE, FLUSHDB, FLUSHALL and
 * the rest of Redis 7.0's generic family, whatever the value's type.
 */
#include "config.h"

#include <string.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "resp.h"
#include "state.h"

/* The keyspace family's rows (see commands.c for the fields). */
struct command keyspace_commands[] = {
	{ "del", -2, CMD_WRITE, cmd_del, 1, -1, 1,
	  "@keyspace @write @slow", NULL, NULL, 0 },
	{ "exists", -2, CMD_READONLY | CMD_FAST, cmd_exists, 1, -1, 1,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "keys", 2, CMD_READONLY, cmd_keys, 0, 0, 0,
	  "@keyspace @read @slow @dangerous", NULL, NULL, 0 },
	{ "dbsize", 1, CMD_READONLY | CMD_FAST, cmd_dbsize, 0, 0, 0,
	  "@keyspace @read @fast", NULL, NULL, 0 },
	{ "flushdb", -1, CMD_WRITE, cmd_flushdb, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL, 0 },
	{ "flushall", -1, CMD_WRITE, cmd_flushall, 0, 0, 0,
	  "@keyspace @write @slow @dangerous", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* DEL key [key ...] */
void
cmd_del(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_delete(&c->srv->db, c->argv[i].ptr, c->argv[i].len);
	resp_add_int(&c->reply, n);
}

/* EXISTS key [key ...]: a key named twice counts twice, as in Redis. */
void
cmd_exists(struct client *c)
{
	long long n = 0;
	int i;

	for (i = 1; i < c->argc; i++)
		n += db_find(&c->srv->db, c->argv[i].ptr, c->argv[i].len,
		    DB_NOTOUCH) != NULL;
	resp_add_int(&c->reply, n);
}

struct keys_ctx {
	struct resp_buf *out;
	long long n;
};

/* Add one matching key to the KEYS reply. */
static void
keys_add(const char *key, size_t klen, void *arg)
{
	struct keys_ctx *k = arg;

	resp_add_bulk(k->out, key, klen);
	k->n++;
}

/* KEYS pattern: the count is known only at the end, so the array header
 * is inserted in front of the elements afterwards. */
void
cmd_keys(struct client *c)
{
	struct keys_ctx k = { &c->reply, 0 };
	size_t off = c->reply.len;

	db_keys(&c->srv->db, c->argv[1].ptr, c->argv[1].len, keys_add, &k);
	resp_insert_array_len(&c->reply, off, k.n);
}

/* DBSIZE */
void
cmd_dbsize(struct client *c)
{
	resp_add_int(&c->reply, (long long)db_size(&c->srv->db));
}

/* FLUSHDB / FLUSHALL [ASYNC | SYNC]: both run synchronously here. */
static void
flush_generic(struct client *c)
{
	if (c->argc > 2 || (c->argc == 2 && !arg_is(&c->argv[1], "sync") &&
	    !arg_is(&c->argv[1], "async"))) {
		reply_syntax_error(c);
		return;
	}
	db_flush(&c->srv->db);
	evict_reset(&c->srv->evictor);
	/* Propagated even when there was nothing to flush, as Redis does. */
	c->srv->db.dirty++;
	resp_add_ok(&c->reply);
}

void
cmd_flushdb(struct client *c)
{
	flush_generic(c);
}

void
cmd_flushall(struct client *c)
{
	flush_generic(c);
}
