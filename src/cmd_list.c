/* SPDX-License-Identifier: MIT */
/*
 * List commands: Redis 7.0's list family (LPUSH, RPUSH, LPUSHX, RPUSHX,
 * LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS,
 * LMOVE, RPOPLPUSH, LMPOP) and its blocking forms (BLPOP, BRPOP, BLMOVE,
 * BRPOPLPUSH, BLMPOP), over the compact list of list.c, with Redis's
 * replies, errors, dirty counts and propagation.
 *
 * A list lives at its key in one of two forms (list.h): inline, a pack
 * in the entry's own bytes (OBJ_ENC_LISTPACK), while it fits one chunk
 * under list-max-listpack-size; or a heap list whose pointer is the
 * entry's value (OBJ_ENC_QUICKLIST). Pushes and pops work on either form
 * in place; the other edits (LSET, LINSERT, LREM, LTRIM) run on a heap
 * list, a copy of the pack for an inline one, and store the result back
 * in whichever form then fits. A list that becomes empty is deleted.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "blocked.h"
#include "client.h"
#include "commands.h"
#include "db.h"
#include "list.h"
#include "mem.h"
#include "object.h"
#include "resp.h"
#include "state.h"

static command_proc cmd_lpush, cmd_rpush, cmd_lpushx, cmd_rpushx,
    cmd_lpop, cmd_rpop, cmd_llen, cmd_lrange, cmd_lindex, cmd_lset,
    cmd_linsert, cmd_lrem, cmd_ltrim, cmd_lpos, cmd_lmove, cmd_rpoplpush,
    cmd_lmpop, cmd_blpop, cmd_brpop, cmd_blmove, cmd_brpoplpush,
    cmd_blmpop;

/* The list family's rows (see commands.c for the fields), with Redis
 * 7.0's arities, flags, key positions and categories. */
struct command list_commands[] = {
	{ "lpush", -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_lpush, 1, 1, 1,
	  "@write @list @fast", NULL, NULL, 0 },
	{ "rpush", -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_rpush, 1, 1, 1,
	  "@write @list @fast", NULL, NULL, 0 },
	{ "lpushx", -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_lpushx, 1, 1,
	  1, "@write @list @fast", NULL, NULL, 0 },
	{ "rpushx", -3, CMD_WRITE | CMD_DENYOOM | CMD_FAST, cmd_rpushx, 1, 1,
	  1, "@write @list @fast", NULL, NULL, 0 },
	{ "lpop", -2, CMD_WRITE | CMD_FAST, cmd_lpop, 1, 1, 1,
	  "@write @list @fast", NULL, NULL, 0 },
	{ "rpop", -2, CMD_WRITE | CMD_FAST, cmd_rpop, 1, 1, 1,
	  "@write @list @fast", NULL, NULL, 0 },
	{ "llen", 2, CMD_READONLY | CMD_FAST, cmd_llen, 1, 1, 1,
	  "@read @list @fast", NULL, NULL, 0 },
	{ "lrange", 4, CMD_READONLY, cmd_lrange, 1, 1, 1,
	  "@read @list @slow", NULL, NULL, 0 },
	{ "lindex", 3, CMD_READONLY, cmd_lindex, 1, 1, 1,
	  "@read @list @slow", NULL, NULL, 0 },
	{ "lset", 4, CMD_WRITE | CMD_DENYOOM, cmd_lset, 1, 1, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "linsert", 5, CMD_WRITE | CMD_DENYOOM, cmd_linsert, 1, 1, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "lrem", 4, CMD_WRITE, cmd_lrem, 1, 1, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "ltrim", 4, CMD_WRITE, cmd_ltrim, 1, 1, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "lpos", -3, CMD_READONLY, cmd_lpos, 1, 1, 1,
	  "@read @list @slow", NULL, NULL, 0 },
	{ "lmove", 5, CMD_WRITE | CMD_DENYOOM, cmd_lmove, 1, 2, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "rpoplpush", 3, CMD_WRITE | CMD_DENYOOM, cmd_rpoplpush, 1, 2, 1,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "lmpop", -4, CMD_WRITE | CMD_MOVABLEKEYS, cmd_lmpop, 0, 0, 0,
	  "@write @list @slow", NULL, NULL, 0 },
	{ "blpop", -3, CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING, cmd_blpop, 1,
	  -2, 1, "@write @list @slow @blocking", NULL, NULL, 0 },
	{ "brpop", -3, CMD_WRITE | CMD_NOSCRIPT | CMD_BLOCKING, cmd_brpop, 1,
	  -2, 1, "@write @list @slow @blocking", NULL, NULL, 0 },
	{ "blmove", 6, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT | CMD_BLOCKING,
	  cmd_blmove, 1, 2, 1, "@write @list @slow @blocking", NULL, NULL,
	  0 },
	{ "brpoplpush", 4, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT |
	  CMD_BLOCKING, cmd_brpoplpush, 1, 2, 1,
	  "@write @list @slow @blocking", NULL, NULL, 0 },
	{ "blmpop", -5, CMD_WRITE | CMD_BLOCKING | CMD_MOVABLEKEYS,
	  cmd_blmpop, 0, 0, 0, "@write @list @slow @blocking", NULL, NULL,
	  0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* Redis's texts for what the list commands refuse. */
#define LIST_ERR_POSITIVE "value is out of range, must be positive"

/* ---- A list as found at a key ---- */

/* The list at a key, in either form. */
struct lv {
	dbkey *k;                  /* the key's entry */
	struct list *l;            /* the heap form, or NULL */
	char *pack;                /* the inline form: the entry's bytes */
	size_t plen;               /* their length */
	size_t count;              /* elements */
};

/* Read the list at k into lv. */
static void
lv_load(struct lv *lv, dbkey *k)
{
	size_t vlen;
	char *v = db_key_value(k, &vlen);

	lv->k = k;
	if (db_key_encoding(k) == OBJ_ENC_QUICKLIST) {
		memcpy(&lv->l, v, sizeof(lv->l));
		lv->pack = NULL;
		lv->plen = 0;
		lv->count = lv->l->count;
	} else {
		lv->l = NULL;
		lv->pack = v;
		lv->plen = vlen;
		lv->count = list_pack_count(v);
	}
}

/*
 * Look key up for a list command: 1 with lv filled if it holds a list,
 * 0 if it does not exist, -1 after replying WRONGTYPE. flags as for
 * db_find (a write looks up with DB_NOTOUCH off, as Redis's
 * lookupKeyWrite touches the key too).
 */
static int
lv_find(struct client *c, const struct resp_arg *key, int flags,
    struct lv *lv)
{
	dbkey *k;

	if (lookup_typed(c, key, OBJ_LIST, flags, &k) != 0)
		return -1;
	if (k == NULL)
		return 0;
	lv_load(lv, k);
	return 1;
}

/* Start an iterator at index idx (< lv->count) towards dir. */
static void
lv_iter(const struct lv *lv, struct list_iter *it, size_t idx, int dir)
{
	if (lv->l != NULL)
		list_iter_init(it, lv->l, idx, dir);
	else
		list_iter_init_pack(it, lv->pack, lv->plen, idx, dir);
}

/* The settings new lists and chunks take. */
static int
lv_fill(const struct client *c)
{
	return list_fill_clamp(c->srv->cfg.list_max_listpack_size);
}

/*
 * Make the command count changes to key: Redis's server.dirty += n.
 * The db_* calls a command made count one change each; this sets the
 * total since before (the dirty counter then) to n, or (if no db_* call
 * counted anything) tells the keyspace of the n changes, so WATCH sees
 * the key touched even when n is 0 (LTRIM that trims nothing).
 */
static void
lv_dirty(struct client *c, const struct resp_arg *key,
    unsigned long long before, unsigned long long n)
{
	struct db *db = &c->srv->db;

	if (db->dirty == before)
		db_changed(db, key->ptr, key->len, n);
	else
		db->dirty = before + n;
}

/* Put the heap list l at k in place of what k holds (the entry keeps its
 * key and expire time). Returns the key. */
static dbkey *
lv_store_heap(struct client *c, dbkey *k, struct list *l)
{
	k = db_resize(&c->srv->db, k, &l, sizeof(l));
	db_key_set_encoding(k, OBJ_ENC_QUICKLIST);
	return k;
}

/* Put l at k inline, as a pack, and free l (k held it, or a copy of
 * k's pack). Returns the key. */
static dbkey *
lv_store_pack(struct client *c, dbkey *k, struct list *l)
{
	size_t plen = list_pack_bytes(l);

	k = db_resize(&c->srv->db, k, NULL, plen);
	list_to_pack(l, db_key_value(k, NULL));
	db_key_set_encoding(k, OBJ_ENC_LISTPACK);
	list_free(l);
	return k;
}

/* After pops from a heap list: delete the key if the list is empty, or
 * take it back inline if it became small. */
static void
lv_after_heap_pop(struct client *c, const struct resp_arg *key,
    struct lv *lv)
{
	if (lv->l->count == 0)
		db_delete(&c->srv->db, key->ptr, key->len);
	else if (list_should_pack(lv->l))
		lv->k = lv_store_pack(c, lv->k, lv->l);
}

/* The heap list to edit the list of lv in: its own, or (inline) a copy
 * of its pack. */
static struct list *
lv_edit(struct client *c, const struct lv *lv)
{
	if (lv->l != NULL)
		return lv->l;
	return list_from_pack(c->srv->cfg.list_max_listpack_size,
	    c->srv->cfg.list_compress_depth, lv->pack, lv->plen);
}

/* Store l, edited from lv (lv_edit), back at key: deleted if empty,
 * inline if it fits one chunk (a list that was inline) or became small
 * (one that was not), else on the heap. */
static void
lv_store(struct client *c, const struct resp_arg *key, struct lv *lv,
    struct list *l)
{
	if (l->count == 0) {
		if (lv->l == NULL)
			list_free(l);
		db_delete(&c->srv->db, key->ptr, key->len);
	} else if (lv->l == NULL) {
		if (l->chunks == 1)
			lv_store_pack(c, lv->k, l);
		else
			lv_store_heap(c, lv->k, l);
	} else if (list_should_pack(l)) {
		lv_store_pack(c, lv->k, l);
	}
}

/* Discard an edit copy that changed nothing. */
static void
lv_edit_done(const struct lv *lv, struct list *l)
{
	if (lv->l == NULL)
		list_free(l);
}

/* ---- Pushes and pops ---- */

/*
 * Push the n values vals at where onto the list at key, whose entry is
 * k (NULL: a new list). An inline list takes what fits in one chunk
 * under the current list-max-listpack-size, in place; the rest goes
 * onto a heap list made from it. Returns the new length. Counts no
 * changes beyond what the db_* calls count (the caller sets them).
 */
static size_t
lv_push(struct client *c, const struct resp_arg *key, dbkey *k, int where,
    const struct resp_arg *vals, int n)
{
	struct db *db = &c->srv->db;
	int fill = lv_fill(c), i = 0, j;
	size_t count = 0, used = 0, add = 0, es;
	unsigned char *p;
	char *pack;
	struct lv lv;
	struct list *l;

	if (k != NULL) {
		lv_load(&lv, k);
		if (lv.l != NULL)
			goto heap;
		count = lv.count;
		used = lv.plen - LIST_PACK_HDR;
	}
	for (; i < n; i++) {
		es = list_elem_size(vals[i].len);
		if (!list_fits(fill, used + add + es, count + (size_t)i + 1))
			break;
		add += es;
	}
	if (k == NULL)
		k = db_set(db, key->ptr, key->len, OBJ_LIST, OBJ_ENC_LISTPACK,
		    NULL, LIST_PACK_HDR + add, DB_EXPIRE_NONE);
	else if (add != 0)
		k = db_resize(db, k, NULL, LIST_PACK_HDR + used + add);
	pack = db_key_value(k, NULL);
	if (where == LIST_TAIL) {
		p = (unsigned char *)pack + LIST_PACK_HDR + used;
		for (j = 0; j < i; j++)
			p = list_elem_put(p, vals[j].ptr, vals[j].len);
	} else {
		memmove(pack + LIST_PACK_HDR + add, pack + LIST_PACK_HDR, used);
		p = (unsigned char *)pack + LIST_PACK_HDR + add;
		for (j = 0; j < i; j++) {
			p -= list_elem_size(vals[j].len);
			list_elem_put(p, vals[j].ptr, vals[j].len);
		}
	}
	count += (size_t)i;
	list_pack_set_count(pack, count);
	if (i == n)
		return count;
	/* The rest does not fit inline: go to the heap. */
	l = list_from_pack(c->srv->cfg.list_max_listpack_size,
	    c->srv->cfg.list_compress_depth, pack, LIST_PACK_HDR + used + add);
	k = lv_store_heap(c, k, l);
	lv_load(&lv, k);
heap:
	for (; i < n; i++)
		list_push(lv.l, where, vals[i].ptr, vals[i].len);
	return lv.l->count;
}

/*
 * Remove n elements (n <= lv->count) from end where of the list at key,
 * replying them to out (NULL: not), in the order they come off, as
 * bulks (the caller writes any array header). The key goes if the list
 * empties. lv is stale afterwards.
 */
static void
lv_pop(struct client *c, const struct resp_arg *key, struct lv *lv,
    int where, size_t n, struct resp_buf *out)
{
	struct list_iter it;
	const unsigned char *v, *at = NULL;
	size_t len, i, plen;
	char *pack = lv->pack;

	lv_iter(lv, &it, where == LIST_HEAD ? 0 : lv->count - 1,
	    where == LIST_HEAD ? LIST_TAIL : LIST_HEAD);
	for (i = 0; i < n; i++) {
		at = it.p;
		list_iter_next(&it, &v, &len);
		if (out != NULL)
			resp_add_bulk(out, v, len);
	}
	if (lv->l != NULL) {
		if (n == 1)
			list_pop(lv->l, where);
		else
			list_del_range(lv->l, where == LIST_HEAD ? 0 :
			    lv->count - n, n);
		lv_after_heap_pop(c, key, lv);
		return;
	}
	if (n == lv->count) {
		db_delete(&c->srv->db, key->ptr, key->len);
		return;
	}
	/* Inline: the popped elements are a run at one end of the pack;
	 * at is the start of the last one, it.p that of the next. */
	if (where == LIST_HEAD) {
		plen = lv->plen - (size_t)(it.p - (const unsigned char *)pack) +
		    LIST_PACK_HDR;
		memmove(pack + LIST_PACK_HDR, it.p, plen - LIST_PACK_HDR);
	} else {
		plen = (size_t)(at - (const unsigned char *)pack);
	}
	list_pack_set_count(pack, lv->count - n);
	db_resize(&c->srv->db, lv->k, NULL, plen);
}

/* Lookup flags: writes count no keyspace hit or miss (Redis's
 * lookupKeyWrite). */
#define LV_WRITE DB_NOSTATS
#define LV_READ 0

/* LPUSH/RPUSH (xx 0), LPUSHX/RPUSHX (xx 1) key element [element ...] */
static void
list_push_generic(struct client *c, int where, int xx)
{
	unsigned long long before = c->srv->db.dirty;
	struct lv lv;
	size_t len;
	int r = lv_find(c, &c->argv[1], LV_WRITE, &lv);

	if (r < 0)
		return;
	if (r == 0 && xx) {
		resp_add_int(&c->reply, 0);
		return;
	}
	len = lv_push(c, &c->argv[1], r ? lv.k : NULL, where, c->argv + 2,
	    c->argc - 2);
	lv_dirty(c, &c->argv[1], before, (unsigned long long)(c->argc - 2));
	resp_add_int(&c->reply, (long long)len);
}

static void
cmd_lpush(struct client *c)
{
	list_push_generic(c, LIST_HEAD, 0);
}

static void
cmd_rpush(struct client *c)
{
	list_push_generic(c, LIST_TAIL, 0);
}

static void
cmd_lpushx(struct client *c)
{
	list_push_generic(c, LIST_HEAD, 1);
}

static void
cmd_rpushx(struct client *c)
{
	list_push_generic(c, LIST_TAIL, 1);
}

/* Parse a count that must be >= min, as Redis's
 * getRangeLongFromObjectOrReply with msg: a non-number and a number out
 * of range both get msg. */
static int
list_arg_min(struct client *c, const struct resp_arg *a, long long min,
    const char *msg, long long *out)
{
	if (resp_str_to_ll(a->ptr, a->len, out) && *out >= min)
		return 0;
	resp_add_error(&c->reply, msg, strlen(msg));
	return -1;
}

/* LPOP/RPOP key [count] */
static void
list_pop_generic(struct client *c, int where)
{
	unsigned long long before = c->srv->db.dirty;
	long long count = 0;
	size_t n;
	struct lv lv;
	char name[64];
	int r;

	if (c->argc > 3) {
		resp_add_errorf(&c->reply, "wrong number of arguments for "
		    "'%s' command", command_fullname(c->lastcmd, name));
		return;
	}
	if (c->argc == 3 && list_arg_min(c, &c->argv[2], 0, LIST_ERR_POSITIVE,
	    &count) != 0)
		return;
	r = lv_find(c, &c->argv[1], LV_WRITE, &lv);
	if (r < 0)
		return;
	if (r == 0) {
		if (c->argc == 3)
			resp_add_null_array(&c->reply);
		else
			resp_add_null(&c->reply);
		return;
	}
	if (c->argc == 3 && count == 0) {
		resp_add_array_len(&c->reply, 0);
		return;
	}
	n = c->argc == 3 && (unsigned long long)count < lv.count ?
	    (size_t)count : c->argc == 3 ? lv.count : 1;
	if (c->argc == 3)
		resp_add_array_len(&c->reply, (long long)n);
	lv_pop(c, &c->argv[1], &lv, where, n, &c->reply);
	lv_dirty(c, &c->argv[1], before, n);
}

static void
cmd_lpop(struct client *c)
{
	list_pop_generic(c, LIST_HEAD);
}

static void
cmd_rpop(struct client *c)
{
	list_pop_generic(c, LIST_TAIL);
}

/* LLEN key */
static void
cmd_llen(struct client *c)
{
	struct lv lv;
	int r = lv_find(c, &c->argv[1], LV_READ, &lv);

	if (r >= 0)
		resp_add_int(&c->reply, r ? (long long)lv.count : 0);
}

/*
 * Redis's range arithmetic (LRANGE, LTRIM): negative indexes count from
 * the end, start is clamped at 0 and end at the last element. 1 with
 * *from and *n (elements) set if the range is not empty, else 0.
 */
static int
list_range(long long start, long long end, size_t count, size_t *from,
    size_t *n)
{
	long long llen = (long long)count;

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

/* LRANGE key start stop */
static void
cmd_lrange(struct client *c)
{
	struct list_iter it;
	const unsigned char *v;
	long long start, end;
	size_t from, n, len;
	struct lv lv;
	int r;

	if (arg_ll(c, &c->argv[2], &start) != 0 ||
	    arg_ll(c, &c->argv[3], &end) != 0)
		return;
	r = lv_find(c, &c->argv[1], LV_READ, &lv);
	if (r < 0)
		return;
	if (r == 0 || !list_range(start, end, lv.count, &from, &n)) {
		resp_add_array_len(&c->reply, 0);
		return;
	}
	resp_add_array_len(&c->reply, (long long)n);
	lv_iter(&lv, &it, from, LIST_TAIL);
	while (n-- > 0 && list_iter_next(&it, &v, &len))
		resp_add_bulk(&c->reply, v, len);
}

/* Normalize a signed index into lv: 1 and *i set if in range. */
static int
lv_index(const struct lv *lv, long long idx, size_t *i)
{
	if (idx < 0) {
		if ((unsigned long long)-(idx + 1) >= lv->count)
			return 0;
		*i = lv->count - 1 - (size_t)-(idx + 1);
		return 1;
	}
	if ((unsigned long long)idx >= lv->count)
		return 0;
	*i = (size_t)idx;
	return 1;
}

/* LINDEX key index (the key is looked up before the index is read). */
static void
cmd_lindex(struct client *c)
{
	struct list_iter it;
	const unsigned char *v;
	long long idx;
	size_t i, len;
	struct lv lv;
	int r = lv_find(c, &c->argv[1], LV_READ, &lv);

	if (r < 0)
		return;
	if (r == 0) {
		resp_add_null(&c->reply);
		return;
	}
	if (arg_ll(c, &c->argv[2], &idx) != 0)
		return;
	if (!lv_index(&lv, idx, &i)) {
		resp_add_null(&c->reply);
		return;
	}
	lv_iter(&lv, &it, i, LIST_TAIL);
	list_iter_next(&it, &v, &len);
	resp_add_bulk(&c->reply, v, len);
}

/* LSET key index element */
static void
cmd_lset(struct client *c)
{
	unsigned long long before = c->srv->db.dirty;
	struct list *l;
	long long idx;
	struct lv lv;
	int r = lv_find(c, &c->argv[1], LV_WRITE, &lv);

	if (r < 0)
		return;
	if (r == 0) {
		resp_add_error(&c->reply, "no such key", 11);
		return;
	}
	if (arg_ll(c, &c->argv[2], &idx) != 0)
		return;
	l = lv_edit(c, &lv);
	if (!list_replace(l, idx, c->argv[3].ptr, c->argv[3].len)) {
		lv_edit_done(&lv, l);
		resp_add_error(&c->reply, "index out of range", 18);
		return;
	}
	lv_store(c, &c->argv[1], &lv, l);
	lv_dirty(c, &c->argv[1], before, 1);
	resp_add_ok(&c->reply);
}

/* LINSERT key BEFORE|AFTER pivot element */
static void
cmd_linsert(struct client *c)
{
	unsigned long long before = c->srv->db.dirty;
	struct list *l;
	struct lv lv;
	int after, r;

	if (arg_is_word(&c->argv[2], "after"))
		after = 1;
	else if (arg_is_word(&c->argv[2], "before"))
		after = 0;
	else {
		reply_syntax_error(c);
		return;
	}
	r = lv_find(c, &c->argv[1], LV_WRITE, &lv);
	if (r < 0)
		return;
	if (r == 0) {
		resp_add_int(&c->reply, 0);
		return;
	}
	l = lv_edit(c, &lv);
	if (!list_insert(l, c->argv[3].ptr, c->argv[3].len, after,
	    c->argv[4].ptr, c->argv[4].len)) {
		lv_edit_done(&lv, l);
		resp_add_int(&c->reply, -1);
		return;
	}
	resp_add_int(&c->reply, (long long)l->count);
	lv_store(c, &c->argv[1], &lv, l);
	lv_dirty(c, &c->argv[1], before, 1);
}

/* LREM key count element */
static void
cmd_lrem(struct client *c)
{
	unsigned long long before = c->srv->db.dirty;
	long long count;
	size_t removed;
	struct list *l;
	struct lv lv;
	int r;

	if (arg_ll(c, &c->argv[2], &count) != 0)
		return;
	r = lv_find(c, &c->argv[1], LV_WRITE, &lv);
	if (r < 0)
		return;
	if (r == 0) {
		resp_add_int(&c->reply, 0);
		return;
	}
	l = lv_edit(c, &lv);
	removed = list_remove(l, c->argv[3].ptr, c->argv[3].len, count);
	if (removed == 0)
		lv_edit_done(&lv, l);
	else {
		lv_store(c, &c->argv[1], &lv, l);
		lv_dirty(c, &c->argv[1], before, removed);
	}
	resp_add_int(&c->reply, (long long)removed);
}

/* LTRIM key start stop */
static void
cmd_ltrim(struct client *c)
{
	unsigned long long before = c->srv->db.dirty;
	long long start, end;
	size_t from, n = 0, ltrim, rtrim;
	struct list *l;
	struct lv lv;
	int r;

	if (arg_ll(c, &c->argv[2], &start) != 0 ||
	    arg_ll(c, &c->argv[3], &end) != 0)
		return;
	r = lv_find(c, &c->argv[1], LV_WRITE, &lv);
	if (r < 0)
		return;
	if (r == 1) {
		if (!list_range(start, end, lv.count, &from, &n))
			from = 0;
		ltrim = from;
		rtrim = lv.count - from - n;
		if (ltrim + rtrim == 0) {
			lv_dirty(c, &c->argv[1], before, 0);
		} else {
			l = lv_edit(c, &lv);
			list_del_range(l, from + n, rtrim);
			list_del_range(l, 0, ltrim);
			lv_store(c, &c->argv[1], &lv, l);
			lv_dirty(c, &c->argv[1], before, ltrim + rtrim);
		}
	}
	resp_add_ok(&c->reply);
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len] */
static void
cmd_lpos(struct client *c)
{
	long long rank = 1, count = -1, maxlen = 0, index = 0, matches = 0;
	long long matchindex = -1, arraylen = 0;
	const struct resp_arg *ele = &c->argv[2];
	const unsigned char *v;
	struct list_iter it;
	size_t off = 0, len;
	struct lv lv;
	int j, more, dir = LIST_TAIL, r;

	for (j = 3; j < c->argc; j++) {
		more = c->argc - 1 - j;
		if (arg_is_word(&c->argv[j], "rank") && more) {
			if (arg_ll(c, &c->argv[++j], &rank) != 0)
				return;
			if (rank == 0) {
				resp_add_errorf(&c->reply, "RANK can't be "
				    "zero: use 1 to start from the first "
				    "match, 2 from the second ... or use "
				    "negative to start from the end of the "
				    "list");
				return;
			}
		} else if (arg_is_word(&c->argv[j], "count") && more) {
			if (list_arg_min(c, &c->argv[++j], 0,
			    "COUNT can't be negative", &count) != 0)
				return;
		} else if (arg_is_word(&c->argv[j], "maxlen") && more) {
			if (list_arg_min(c, &c->argv[++j], 0,
			    "MAXLEN can't be negative", &maxlen) != 0)
				return;
		} else {
			reply_syntax_error(c);
			return;
		}
	}
	if (rank < 0) {
		/* Redis negates LLONG_MIN into itself: every match then
		 * qualifies and COUNT never stops the scan. */
		if (rank == LLONG_MIN && count > 0)
			count = 0;
		rank = rank == LLONG_MIN ? 1 : -rank;
		dir = LIST_HEAD;
	}
	r = lv_find(c, &c->argv[1], LV_READ, &lv);
	if (r < 0)
		return;
	if (r == 0) {
		if (count != -1)
			resp_add_array_len(&c->reply, 0);
		else
			resp_add_null(&c->reply);
		return;
	}
	off = c->reply.len;
	lv_iter(&lv, &it, dir == LIST_HEAD ? lv.count - 1 : 0, dir);
	while ((maxlen == 0 || index < maxlen) && list_iter_next(&it, &v,
	    &len)) {
		if (len == ele->len && (len == 0 ||
		    memcmp(v, ele->ptr, len) == 0)) {
			matches++;
			matchindex = dir == LIST_TAIL ? index :
			    (long long)lv.count - index - 1;
			if (matches >= rank) {
				if (count == -1)
					break;
				arraylen++;
				resp_add_int(&c->reply, matchindex);
				if (count != 0 && matches - rank + 1 >= count)
					break;
			}
		}
		index++;
		matchindex = -1;
	}
	if (count != -1)
		resp_insert_array_len(&c->reply, off, arraylen);
	else if (matchindex != -1)
		resp_add_int(&c->reply, matchindex);
	else
		resp_add_null(&c->reply);
}

/* ---- Moves ---- */

/* Parse LEFT or RIGHT (as a C string, any case): 0 and *where, or -1
 * after a syntax error. */
static int
list_arg_where(struct client *c, const struct resp_arg *a, int *where)
{
	if (arg_is_word(a, "right"))
		*where = LIST_TAIL;
	else if (arg_is_word(a, "left"))
		*where = LIST_HEAD;
	else {
		reply_syntax_error(c);
		return -1;
	}
	return 0;
}

/*
 * Move the element at end wherefrom of the list src (lv, not empty) to
 * end whereto of the list dst (created if absent) and reply it: 0, or
 * -1 after WRONGTYPE if dst holds something else. Redis counts one
 * change and touches both keys. src and dst may be one key (a rotation;
 * its expire time stays).
 */
static int
lv_move(struct client *c, const struct resp_arg *src, struct lv *lv,
    const struct resp_arg *dst, int wherefrom, int whereto)
{
	struct db *db = &c->srv->db;
	unsigned long long before = db->dirty;
	struct resp_arg val;
	struct list_iter it;
	const unsigned char *v;
	size_t len;
	dbkey *dk;
	char *copy;

	if (lookup_typed(c, dst, OBJ_LIST, LV_WRITE, &dk) != 0)
		return -1;
	lv_iter(lv, &it, wherefrom == LIST_HEAD ? 0 : lv->count - 1,
	    LIST_TAIL);
	list_iter_next(&it, &v, &len);
	copy = mem_alloc(len != 0 ? len : 1);
	memcpy(copy, v, len);
	if (lv->count > 1 || src->len != dst->len ||
	    memcmp(src->ptr, dst->ptr, src->len) != 0) {
		lv_pop(c, src, lv, wherefrom, 1, NULL);
		/* The pop may have moved or removed entries: find dst again. */
		dk = db_find(db, dst->ptr, dst->len, DB_NOSTATS | DB_NOTOUCH);
		val.ptr = copy;
		val.len = len;
		val.off = 0;
		lv_push(c, dst, dk, whereto, &val, 1);
	}
	resp_add_bulk(&c->reply, copy, len);
	mem_free(copy);
	db_changed(db, src->ptr, src->len, 0);
	db_changed(db, dst->ptr, dst->len, 0);
	db->dirty = before + 1;
	return 0;
}

/* LMOVE and RPOPLPUSH once the directions are known. */
static void
list_move_generic(struct client *c, int wherefrom, int whereto)
{
	struct lv lv;
	int r = lv_find(c, &c->argv[1], LV_WRITE, &lv);

	if (r < 0)
		return;
	if (r == 0) {
		resp_add_null(&c->reply);
		return;
	}
	lv_move(c, &c->argv[1], &lv, &c->argv[2], wherefrom, whereto);
}

/* LMOVE source destination LEFT|RIGHT LEFT|RIGHT */
static void
cmd_lmove(struct client *c)
{
	int wherefrom, whereto;

	if (list_arg_where(c, &c->argv[3], &wherefrom) == 0 &&
	    list_arg_where(c, &c->argv[4], &whereto) == 0)
		list_move_generic(c, wherefrom, whereto);
}

/* RPOPLPUSH source destination */
static void
cmd_rpoplpush(struct client *c)
{
	list_move_generic(c, LIST_TAIL, LIST_HEAD);
}

/* ---- LMPOP and the blocking pops ---- */

/*
 * Parse LMPOP's arguments from numkeys at argv[ni] (BLMPOP's: ni 2) as
 * Redis 7.0 does: numkeys >= 1, then the keys, LEFT|RIGHT, and COUNT
 * (>= 1, once). 0 with *nkeys, *where and *count (1 if not given), or
 * -1 after replying.
 */
static int
list_mpop_args(struct client *c, int ni, int *nkeys, int *where,
    long long *count)
{
	long long nk, cnt = -1;
	int wi, j;

	if (list_arg_min(c, &c->argv[ni], 1,
	    "numkeys should be greater than 0", &nk) != 0)
		return -1;
	if (nk > c->argc - ni - 2) {
		reply_syntax_error(c);
		return -1;
	}
	wi = ni + (int)nk + 1;
	if (list_arg_where(c, &c->argv[wi], where) != 0)
		return -1;
	for (j = wi + 1; j < c->argc; j++) {
		if (cnt == -1 && arg_is_word(&c->argv[j], "count") &&
		    j + 1 < c->argc) {
			if (list_arg_min(c, &c->argv[++j], 1,
			    "count should be greater than 0", &cnt) != 0)
				return -1;
		} else {
			reply_syntax_error(c);
			return -1;
		}
	}
	*nkeys = (int)nk;
	*count = cnt == -1 ? 1 : cnt;
	return 0;
}

/*
 * Pop from the first of the nkeys keys that holds a list: up to count
 * elements (count -1: one, replied as [key, element] as BLPOP does;
 * else [key, [elements]] as LMPOP does), propagated as LPOP/RPOP key
 * [n] as Redis replicates them. 1 if served, 0 if none holds a list,
 * -1 after WRONGTYPE (a key before the first list holds another type).
 */
static int
list_serve_pop(struct client *c, const struct resp_arg *keys, int nkeys,
    int where, long long count)
{
	unsigned long long before = c->srv->db.dirty;
	const char *words[3], *ready;
	size_t lens[3], n, rlen = 0;
	char num[24];
	struct lv lv;
	dbkey *k;
	int j, r;

	/* Run again for a key that got a list: served from that key only,
	 * and only if it still holds a list (else it waits on), as Redis. */
	ready = blocked_ready_key(c, &rlen);
	for (j = 0; j < nkeys; j++) {
		if (ready != NULL) {
			if (keys[j].len != rlen ||
			    memcmp(keys[j].ptr, ready, rlen) != 0)
				continue;
			k = db_find(&c->srv->db, ready, rlen,
			    DB_NOSTATS | DB_NOTOUCH);
			if (k == NULL || db_key_type(k) != OBJ_LIST)
				continue;
		}
		r = lv_find(c, &keys[j], LV_WRITE, &lv);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		n = count == -1 ? 1 : (unsigned long long)count < lv.count ?
		    (size_t)count : lv.count;
		resp_add_array_len(&c->reply, 2);
		resp_add_bulk(&c->reply, keys[j].ptr, keys[j].len);
		if (count != -1)
			resp_add_array_len(&c->reply, (long long)n);
		lv_pop(c, &keys[j], &lv, where, n, &c->reply);
		lv_dirty(c, &keys[j], before, n);
		words[0] = where == LIST_HEAD ? "LPOP" : "RPOP";
		lens[0] = 4;
		words[1] = keys[j].ptr;
		lens[1] = keys[j].len;
		lens[2] = resp_ll_to_str(num, (long long)n);
		words[2] = num;
		command_rewrite(c, count == -1 ? 2 : 3, words, lens);
		return 1;
	}
	return 0;
}

/* LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count] */
static void
cmd_lmpop(struct client *c)
{
	long long count;
	int nkeys, where;

	if (list_mpop_args(c, 1, &nkeys, &where, &count) != 0)
		return;
	if (list_serve_pop(c, c->argv + 2, nkeys, where, count) == 0)
		resp_add_null_array(&c->reply);
}

/* Nothing to pop for a blocking command on keys: wait for one of them
 * to receive a list, or (inside MULTI) reply nil as Redis does, a null
 * array, or for the moves (move 1) a null bulk. */
static void
list_block(struct client *c, const struct resp_arg *keys, int nkeys,
    long long deadline, int move)
{
	if (blocked_may_wait(c))
		blocked_wait(c, keys, nkeys, deadline, "*-1\r\n", 5);
	else if (move)
		resp_add_null(&c->reply);
	else
		resp_add_null_array(&c->reply);
}

/* BLPOP/BRPOP key [key ...] timeout */
static void
list_bpop_generic(struct client *c, int where)
{
	long long deadline;

	if (blocked_parse_timeout(c, &c->argv[c->argc - 1], &deadline) != 0)
		return;
	if (list_serve_pop(c, c->argv + 1, c->argc - 2, where, -1) == 0)
		list_block(c, c->argv + 1, c->argc - 2, deadline, 0);
}

static void
cmd_blpop(struct client *c)
{
	list_bpop_generic(c, LIST_HEAD);
}

static void
cmd_brpop(struct client *c)
{
	list_bpop_generic(c, LIST_TAIL);
}

/* BLMOVE and BRPOPLPUSH once the directions and deadline are known:
 * served as LMOVE (propagated as LMOVE, or RPOPLPUSH for brpoplpush). */
static void
list_bmove_generic(struct client *c, int wherefrom, int whereto,
    long long deadline, int brpoplpush)
{
	const char *words[5];
	size_t lens[5], rlen;
	struct lv lv;
	dbkey *k;
	int r, i;

	/* Run again for its key: served only if the key still holds a
	 * list, else it waits on (Redis serves a list key only). */
	if (blocked_ready_key(c, &rlen) != NULL) {
		k = db_find(&c->srv->db, c->argv[1].ptr, c->argv[1].len,
		    DB_NOSTATS | DB_NOTOUCH);
		if (k == NULL || db_key_type(k) != OBJ_LIST) {
			list_block(c, &c->argv[1], 1, deadline, 1);
			return;
		}
	}
	r = lv_find(c, &c->argv[1], LV_WRITE, &lv);
	if (r < 0)
		return;
	if (r == 0) {
		list_block(c, &c->argv[1], 1, deadline, 1);
		return;
	}
	if (lv_move(c, &c->argv[1], &lv, &c->argv[2], wherefrom, whereto) != 0)
		return;
	words[0] = brpoplpush ? "RPOPLPUSH" : "LMOVE";
	lens[0] = strlen(words[0]);
	for (i = 1; i < (brpoplpush ? 3 : 5); i++) {
		words[i] = c->argv[i].ptr;
		lens[i] = c->argv[i].len;
	}
	command_rewrite(c, brpoplpush ? 3 : 5, words, lens);
}

/* BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout */
static void
cmd_blmove(struct client *c)
{
	long long deadline;
	int wherefrom, whereto;

	if (list_arg_where(c, &c->argv[3], &wherefrom) == 0 &&
	    list_arg_where(c, &c->argv[4], &whereto) == 0 &&
	    blocked_parse_timeout(c, &c->argv[5], &deadline) == 0)
		list_bmove_generic(c, wherefrom, whereto, deadline, 0);
}

/* BRPOPLPUSH source destination timeout */
static void
cmd_brpoplpush(struct client *c)
{
	long long deadline;

	if (blocked_parse_timeout(c, &c->argv[3], &deadline) == 0)
		list_bmove_generic(c, LIST_TAIL, LIST_HEAD, deadline, 1);
}

/* BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count] */
static void
cmd_blmpop(struct client *c)
{
	long long count, deadline;
	int nkeys, where;

	if (list_mpop_args(c, 2, &nkeys, &where, &count) != 0 ||
	    blocked_parse_timeout(c, &c->argv[1], &deadline) != 0)
		return;
	if (list_serve_pop(c, c->argv + 3, nkeys, where, count) == 0)
		list_block(c, c->argv + 3, nkeys, deadline, 0);
}
