/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for list.c: the element encoding at every varint width,
 * packs, and heap lists under every size setting: pushes and pops at
 * both ends, indexes from both ends, iteration both ways, replace,
 * insert, remove with counts, ranged deletes, chunk splitting and
 * merging, elements bigger than a chunk, empty and binary elements, and
 * thousands of random operations checked against a plain array model.
 * Then the list commands through the real dispatcher: what each write
 * propagates (blocking pops as their plain forms, LMPOP as LPOP/RPOP
 * with the count popped, as Redis replicates them), how many changes it
 * counts (Redis's dirty counter: LPUSH of 3 elements is 3), and that a
 * command that changes nothing propagates nothing; across the move of a
 * list from inline to the heap and back.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "list.h"
#include "resp.h"
#include "server.h"
#include "state.h"
#include "tap.h"

/* ---- The model: an array of byte strings ---- */

struct elem {
	unsigned char	*p;
	size_t		 len;
};

struct model {
	struct elem	*e;
	size_t		 n, cap;
};

static uint64_t rng = 0x2545f4914f6cdd1dULL;

/* xorshift64*: the tests' own reproducible randomness. */
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static struct elem
elem_make(const void *p, size_t len)
{
	struct elem e;

	e.p = malloc(len + 1);
	if (len != 0)
		memcpy(e.p, p, len);
	e.len = len;
	return e;
}

/* Insert e at position i of m. */
static void
model_insert(struct model *m, size_t i, struct elem e)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
	}
	memmove(m->e + i + 1, m->e + i, (m->n - i) * sizeof(*m->e));
	m->e[i] = e;
	m->n++;
}

/* Remove n elements of m from i. */
static void
model_delete(struct model *m, size_t i, size_t n)
{
	size_t k;

	for (k = i; k < i + n; k++)
		free(m->e[k].p);
	memmove(m->e + i, m->e + i + n, (m->n - i - n) * sizeof(*m->e));
	m->n -= n;
}

/* 1 if a and b hold the same bytes. */
static int
elem_eq(const struct elem *a, const struct elem *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

static void
model_free(struct model *m)
{
	model_delete(m, 0, m->n);
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* A random element: mostly short, some empty, a few over 127 bytes (two
 * byte lengths), rarely bigger than any chunk; binary bytes, drawn from
 * a small alphabet so that LREM and LINSERT find matches. */
static struct elem
random_elem(void)
{
	static unsigned char buf[70000];
	size_t len, i;
	unsigned r = (unsigned)(rnd() % 100);

	if (r < 10)
		len = 0;
	else if (r < 85)
		len = 1 + rnd() % 3;
	else if (r < 97)
		len = 100 + rnd() % 300;
	else
		len = 5000 + rnd() % 65000;
	for (i = 0; i < len; i++)
		buf[i] = len < 4 ? (unsigned char)(rnd() % 3) :
		    (unsigned char)rnd();
	return elem_make(buf, len);
}

/* 1 if l holds exactly m's elements: forward and backward iteration,
 * list_index from both ends at a few places, the chunk invariants. */
static int
same(const struct list *l, const struct model *m)
{
	struct list_iter it;
	const unsigned char *v;
	size_t len, i;
	long long idx;

	if (l->count != m->n || list_check(l) != 0)
		return 0;
	if (m->n == 0)
		return l->chunks == 0;
	list_iter_init(&it, l, 0, LIST_TAIL);
	for (i = 0; i < m->n; i++)
		if (!list_iter_next(&it, &v, &len) || len != m->e[i].len ||
		    (len != 0 && memcmp(v, m->e[i].p, len) != 0))
			return 0;
	if (list_iter_next(&it, &v, &len))
		return 0;
	list_iter_init(&it, l, m->n - 1, LIST_HEAD);
	for (i = m->n; i-- > 0;)
		if (!list_iter_next(&it, &v, &len) || len != m->e[i].len ||
		    (len != 0 && memcmp(v, m->e[i].p, len) != 0))
			return 0;
	if (list_iter_next(&it, &v, &len))
		return 0;
	for (i = 0; i < 4; i++) {
		idx = (long long)(rnd() % m->n);
		if (!list_index(l, idx, &v, &len) || len != m->e[idx].len)
			return 0;
		if (!list_index(l, idx - (long long)m->n, &v, &len) ||
		    len != m->e[idx].len)
			return 0;
	}
	return !list_index(l, (long long)m->n, &v, &len) &&
	    !list_index(l, -(long long)m->n - 1, &v, &len);
}

/* ---- Tests ---- */

static void
test_elements(void)
{
	static const size_t lens[] = { 0, 1, 127, 128, 16383, 16384,
	    (size_t)1 << 21 };
	unsigned char *buf = malloc(((size_t)1 << 21) + 16), *val;
	const unsigned char *v, *end;
	size_t i, len, want;

	val = malloc((size_t)1 << 21);
	for (i = 0; i < ((size_t)1 << 21); i++)
		val[i] = (unsigned char)(i * 7);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		want = lens[i];
		end = list_elem_put(buf, val, want);
		is_int(end - buf, list_elem_size(want), "size of a %zu-byte "
		    "element", want);
		ok(list_elem_next(buf, &v, &len) == end && len == want &&
		    v == buf + (list_elem_size(want) - want) / 2 &&
		    memcmp(v, val, want) == 0, "forward decode, %zu bytes",
		    want);
		ok(list_elem_prev(end, &v, &len) == buf && len == want &&
		    memcmp(v, val, want) == 0, "backward decode, %zu bytes",
		    want);
	}
	is_int(list_elem_size(32), 34, "a 32-byte element costs 34 bytes");
	free(buf);
	free(val);
}

static void
test_rule(void)
{
	is_int(list_fill_clamp(-100), -5, "fill below -5 clamps to -5");
	is_int(list_fill_clamp(100000), 32767, "fill clamps to 32767");
	is_int(list_fill_clamp(0), 0, "fill 0 stays");
	ok(list_fits(-2, 8192, 200) && !list_fits(-2, 8193, 200),
	    "fill -2: 8 KB a chunk");
	ok(list_fits(-1, 4096, 2) && !list_fits(-1, 4097, 2), "fill -1: 4 KB");
	ok(list_fits(-5, 65536, 2) && !list_fits(-5, 65537, 2),
	    "fill -5: 64 KB");
	ok(list_fits(5, 100, 5) && !list_fits(5, 100, 6),
	    "fill 5: five elements");
	ok(!list_fits(1000, 8193, 10), "fill > 0: no more than 8 KB");
	ok(list_fits(0, 1000000, 1) && !list_fits(0, 4, 2),
	    "fill 0: one element (any size) a chunk");
	ok(!list_fits(-5, 100, 65536), "at most 65535 elements a chunk");
}

static void
test_pack(void)
{
	char pack[64];
	unsigned char *p = (unsigned char *)pack + LIST_PACK_HDR;
	struct list_iter it;
	const unsigned char *v;
	size_t len, plen;
	struct list *l;

	p = list_elem_put(p, "a", 1);
	p = list_elem_put(p, "", 0);
	p = list_elem_put(p, "ccc", 3);
	plen = (size_t)((char *)p - pack);
	list_pack_set_count(pack, 3);
	is_int(list_pack_count(pack), 3, "pack count");
	list_pack_set_count(pack, 65535);
	is_int(list_pack_count(pack), 65535, "pack count 65535");
	list_pack_set_count(pack, 3);
	list_iter_init_pack(&it, pack, plen, 1, LIST_TAIL);
	ok(list_iter_next(&it, &v, &len) && len == 0 &&
	    list_iter_next(&it, &v, &len) && len == 3 &&
	    memcmp(v, "ccc", 3) == 0 && !list_iter_next(&it, &v, &len),
	    "pack iteration forward from 1");
	list_iter_init_pack(&it, pack, plen, 2, LIST_HEAD);
	ok(list_iter_next(&it, &v, &len) && len == 3 &&
	    list_iter_next(&it, &v, &len) && len == 0 &&
	    list_iter_next(&it, &v, &len) && len == 1 && *v == 'a' &&
	    !list_iter_next(&it, &v, &len), "pack iteration backward");
	l = list_from_pack(-2, 0, pack, plen);
	is_int(l->count, 3, "list from pack");
	is_int(list_pack_bytes(l), plen, "pack bytes round trip");
	memset(pack + plen, 0, 8);
	{
		char out[64];

		list_to_pack(l, out);
		ok(memcmp(out, pack, plen) == 0, "to_pack gives the pack back");
	}
	ok(list_should_pack(l), "a small list goes back inline");
	list_free(l);
}

/* Pushes and pops at both ends, across many chunks. */
static void
test_ends(int fill)
{
	struct list *l = list_new(fill, 0);
	const unsigned char *v;
	char buf[32];
	size_t len, i, n = 3000;
	long long got;
	int good = 1;

	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%zu", i);
		list_push(l, i % 2 ? LIST_TAIL : LIST_HEAD, buf, strlen(buf));
	}
	ok(l->count == n && list_check(l) == 0, "fill %d: %zu pushes, "
	    "%zu chunks", fill, n, l->chunks);
	/* Head: the even numbers, descending; tail: the odd, ascending. */
	for (i = 0; i < n / 2 && good; i++) {
		list_peek(l, LIST_HEAD, &v, &len);
		snprintf(buf, sizeof(buf), "%.*s", (int)len, (const char *)v);
		got = atoll(buf);
		good = got == (long long)(n - 2 - 2 * i);
		list_pop(l, LIST_HEAD);
		list_peek(l, LIST_TAIL, &v, &len);
		snprintf(buf, sizeof(buf), "%.*s", (int)len, (const char *)v);
		good = good && atoll(buf) == (long long)(n - 1 - 2 * i);
		list_pop(l, LIST_TAIL);
	}
	ok(good && l->count == 0 && l->chunks == 0 && list_check(l) == 0,
	    "fill %d: popped back in order from both ends", fill);
	ok(list_memory(l) == sizeof(struct list), "fill %d: memory back to "
	    "the header", fill);
	list_free(l);
}

/* Chunking follows the rule; removals merge chunks back. */
static void
test_chunking(void)
{
	static const int fills[] = { -5, -4, -3, -2, -1, 0, 1, 2, 3, 100,
	    32767 };
	char val[32];
	size_t f, i, lim;
	struct list *l;

	memset(val, 'v', sizeof(val));
	for (f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
		l = list_new(fills[f], 0);
		for (i = 0; i < 10000; i++)
			list_push(l, LIST_TAIL, val, sizeof(val));
		if (fills[f] < 0)
			lim = ((size_t)4096 << (-fills[f] - 1)) / 34;
		else if (fills[f] == 0)
			lim = 1;
		else
			lim = (size_t)fills[f] < 8192 / 34 ?
			    (size_t)fills[f] : 8192 / 34;
		is_int(l->chunks, (10000 + lim - 1) / lim, "fill %d: %zu "
		    "elements a chunk", fills[f], lim);
		ok(list_check(l) == 0, "fill %d: consistent", fills[f]);
		/* Remove every other element: halves merge. */
		val[0] = 'w';
		for (i = 0; i < 10000; i += 2)
			list_replace(l, (long long)i, val, sizeof(val));
		val[0] = 'v';
		is_int(list_remove(l, "w" "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", 32,
		    0), 5000, "fill %d: LREM removed 5000", fills[f]);
		ok(l->chunks <= (5000 + lim - 1) / lim + 1 &&
		    list_check(l) == 0, "fill %d: merged to %zu chunks",
		    fills[f], l->chunks);
		list_del_range(l, 1, 4998);
		ok(l->count == 2 && list_check(l) == 0 && (fills[f] == 0 ||
		    fills[f] == 1 || l->chunks == 1),
		    "fill %d: trimmed to one chunk", fills[f]);
		list_free(l);
	}
}

/* Elements bigger than a chunk: alone in theirs, wherever they go. */
static void
test_big(void)
{
	struct list *l = list_new(-1, 0);
	char *big = malloc(100000);
	const unsigned char *v;
	size_t len;
	int i;

	memset(big, 'b', 100000);
	for (i = 0; i < 100; i++)
		list_push(l, LIST_TAIL, "x", 1);
	list_push(l, LIST_TAIL, big, 100000);
	list_push(l, LIST_HEAD, big, 5000);
	ok(list_insert(l, "x", 1, 1, big, 20000), "insert big after x");
	ok(list_replace(l, 50, big, 9000), "replace in the middle by big");
	ok(list_check(l) == 0 && l->count == 103, "big elements: consistent");
	ok(list_index(l, 2, &v, &len) && len == 20000, "big inserted at 2");
	ok(list_index(l, 50, &v, &len) && len == 9000, "big replaced at 50");
	ok(list_index(l, -1, &v, &len) && len == 100000, "big at the tail");
	ok(list_replace(l, 50, "s", 1) && list_index(l, 50, &v, &len) &&
	    len == 1 && list_check(l) == 0, "big replaced by small");
	list_free(l);
	free(big);
}

/* Random operations against the model. */
static void
test_random(int fill, int steps)
{
	struct list *l = list_new(fill, 0);
	struct model m = { NULL, 0, 0 };
	struct elem e, pivot;
	long long a, b, cnt;
	size_t i, n, removed, want;
	int op, step, good = 1, r;

	for (step = 0; step < steps && good; step++) {
		op = (int)(rnd() % 10);
		switch (op) {
		case 0:
		case 1:
		case 2:
			e = random_elem();
			if (op == 0) {
				list_push(l, LIST_HEAD, e.p, e.len);
				model_insert(&m, 0, e);
			} else {
				list_push(l, LIST_TAIL, e.p, e.len);
				model_insert(&m, m.n, e);
			}
			break;
		case 3:
			if (m.n == 0)
				break;
			r = (int)(rnd() % 2);
			list_pop(l, r ? LIST_TAIL : LIST_HEAD);
			model_delete(&m, r ? m.n - 1 : 0, 1);
			break;
		case 4:
			if (m.n == 0)
				break;
			a = (long long)(rnd() % m.n);
			e = random_elem();
			list_replace(l, rnd() % 2 ? a : a - (long long)m.n,
			    e.p, e.len);
			free(m.e[a].p);
			m.e[a] = e;
			break;
		case 5:
			pivot = random_elem();
			e = random_elem();
			r = (int)(rnd() % 2);
			for (i = 0; i < m.n; i++)
				if (elem_eq(&m.e[i], &pivot))
					break;
			good = list_insert(l, pivot.p, pivot.len, r, e.p,
			    e.len) == (i < m.n);
			if (i < m.n)
				model_insert(&m, i + (size_t)r, e);
			else
				free(e.p);
			free(pivot.p);
			break;
		case 6:
			e = random_elem();
			cnt = (long long)(rnd() % 5) - 2;
			removed = 0;
			if (cnt >= 0) {
				for (i = 0; i < m.n && (cnt == 0 ||
				    removed < (size_t)cnt);) {
					if (elem_eq(&m.e[i], &e)) {
						model_delete(&m, i, 1);
						removed++;
					} else
						i++;
				}
			} else {
				for (i = m.n; i-- > 0 &&
				    removed < (size_t)-cnt;) {
					if (elem_eq(&m.e[i], &e)) {
						model_delete(&m, i, 1);
						removed++;
					}
				}
			}
			want = removed;
			good = list_remove(l, e.p, e.len, cnt) == want;
			free(e.p);
			break;
		case 7:
			if (m.n == 0)
				break;
			a = (long long)(rnd() % m.n);
			b = (long long)(rnd() % (m.n - (size_t)a + 1));
			/* Mostly short ranges, so the list grows long. */
			if (rnd() % 16 != 0 && b > 20)
				b = (long long)(rnd() % 20);
			else if (rnd() % 64 == 0)
				b = (long long)(m.n - (size_t)a);
			list_del_range(l, (size_t)a, (size_t)b);
			model_delete(&m, (size_t)a, (size_t)b);
			break;
		default:
			n = 1 + rnd() % 50;
			for (i = 0; i < n; i++) {
				e = random_elem();
				if (e.len > 1000)
					e.len = 10;
				list_push(l, LIST_TAIL, e.p, e.len);
				model_insert(&m, m.n, e);
			}
			break;
		}
		if (good && (step % 16 == 0 || op >= 4))
			good = same(l, &m);
		if (!good)
			diag("fill %d: mismatch after step %d (op %d)", fill,
			    step, op);
	}
	ok(good && same(l, &m), "fill %d: %d random operations match the "
	    "model (%zu elements, %zu chunks at the end)", fill, steps, m.n,
	    l->chunks);
	list_free(l);
	model_free(&m);
}

/* ---- The commands through the dispatcher ---- */

#define MAXARGS 16

static struct server *srv;
static struct client *cl;
static int peer;
static char propagated[512];       /* what the last command propagated */
static int npropagated;            /* how often the hook ran for it */

/* The propagation hook: argv's words joined by spaces. */
static void
record_propagation(void *arg, int argc, const struct resp_arg *argv)
{
	size_t off = 0;
	int i;

	(void)arg;
	npropagated++;
	propagated[0] = '\0';
	for (i = 0; i < argc && off < sizeof(propagated) - 1; i++)
		off += (size_t)snprintf(propagated + off,
		    sizeof(propagated) - off, "%s%.*s", i ? " " : "",
		    (int)argv[i].len, argv[i].ptr);
}

/* A server on a Unix socket (removed at once) and one client on a
 * socket pair. */
static void
server_setup(void)
{
	char dir[] = "/tmp/tmc-list-XXXXXX", path[64];
	char err[SERVER_ERR_LEN];
	struct server_config cfg;
	int fds[2];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/s", dir);
	server_config_init(&cfg);
	cfg.port = -1;
	if (server_config_set(&cfg, "unixsocket", path, strlen(path),
	    err) != 0 || server_config_set(&cfg, "logfile", "/dev/null", 9,
	    err) != 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(2);
	}
	srv = server_create(&cfg, err);
	server_config_free(&cfg);
	if (srv == NULL) {
		fprintf(stderr, "server_create: %s\n", err);
		exit(2);
	}
	unlink(path);
	rmdir(dir);
	srv->propagate = record_propagation;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    fds) != 0) {
		perror("socketpair");
		exit(2);
	}
	cl = client_create(srv, fds[0], CLIENT_UNIX_SOCKET, NULL);
	peer = fds[1];
	if (cl == NULL)
		exit(2);
}

/* Run one command (NULL-terminated words) through the parser and the
 * dispatcher; returns the reply, valid until the next call. *dirty gets
 * the changes it counted. */
static const char *
run(unsigned long long *dirty, const char *word, ...)
{
	static struct resp_buf reply;
	const char *argv[MAXARGS];
	size_t lens[MAXARGS];
	unsigned long long before = srv->db.dirty;
	struct resp_parser p;
	struct resp_buf req;
	va_list ap;
	int argc = 0;

	va_start(ap, word);
	while (word != NULL && argc < MAXARGS) {
		argv[argc] = word;
		lens[argc++] = strlen(word);
		word = va_arg(ap, const char *);
	}
	va_end(ap);
	resp_buf_init(&req);
	resp_add_command(&req, argc, argv, lens);
	resp_parser_init(&p, 0);
	if (resp_parse(&p, req.data, req.len) != RESP_OK)
		exit(2);
	cl->argc = p.argc;
	cl->argv = p.argv;
	cl->reply.len = 0;
	propagated[0] = '\0';
	npropagated = 0;
	command_dispatch(cl);
	cl->argc = 0;
	cl->argv = NULL;
	*dirty = srv->db.dirty - before;
	resp_buf_free(&reply);
	resp_buf_init(&reply);
	resp_buf_append(&reply, cl->reply.data, cl->reply.len);
	resp_buf_append(&reply, "", 1);
	cl->reply.len = 0;
	resp_parser_free(&p);
	resp_buf_free(&req);
	return reply.data;
}

/* One command's expected outcome. */
struct prop_case {
	const char *argv[MAXARGS];
	const char *reply;           /* the reply, exactly */
	const char *propagated;      /* "" if nothing */
	unsigned long long dirty;    /* changes counted */
};

static const struct prop_case prop_cases[] = {
	{ { "LPUSH", "k", "a", "b", "c" }, ":3\r\n", "LPUSH k a b c", 3 },
	{ { "RPUSH", "k", "d" }, ":4\r\n", "RPUSH k d", 1 },
	{ { "LPUSHX", "nokey", "a" }, ":0\r\n", "", 0 },
	{ { "LPOP", "nokey" }, "$-1\r\n", "", 0 },
	{ { "LPOP", "k", "0" }, "*0\r\n", "", 0 },
	{ { "LPOP", "k", "2" }, "*2\r\n$1\r\nc\r\n$1\r\nb\r\n", "LPOP k 2", 2 },
	{ { "LSET", "k", "0", "z" }, "+OK\r\n", "LSET k 0 z", 1 },
	{ { "LSET", "k", "9", "z" }, "-ERR index out of range\r\n", "", 0 },
	{ { "LINSERT", "k", "BEFORE", "nope", "x" }, ":-1\r\n", "", 0 },
	{ { "LINSERT", "k", "AFTER", "z", "y" }, ":3\r\n",
	  "LINSERT k AFTER z y", 1 },
	{ { "LREM", "k", "0", "nope" }, ":0\r\n", "", 0 },
	{ { "RPUSH", "k", "y", "y" }, ":5\r\n", "RPUSH k y y", 2 },
	{ { "LREM", "k", "0", "y" }, ":3\r\n", "LREM k 0 y", 3 },
	{ { "LTRIM", "k", "0", "-1" }, "+OK\r\n", "", 0 },
	{ { "LMOVE", "k", "k", "LEFT", "RIGHT" }, "$1\r\nz\r\n",
	  "LMOVE k k LEFT RIGHT", 1 },
	{ { "LMOVE", "k", "d", "RIGHT", "LEFT" }, "$1\r\nz\r\n",
	  "LMOVE k d RIGHT LEFT", 1 },
	{ { "LMOVE", "d", "d", "LEFT", "LEFT" }, "$1\r\nz\r\n",
	  "LMOVE d d LEFT LEFT", 1 },
	{ { "RPUSH", "m", "1", "2", "3" }, ":3\r\n", "RPUSH m 1 2 3", 3 },
	{ { "LMPOP", "2", "nokey", "m", "LEFT", "COUNT", "10" },
	  "*2\r\n$1\r\nm\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
	  "LPOP m 3", 3 },
	{ { "LMPOP", "1", "m", "LEFT" }, "*-1\r\n", "", 0 },
	{ { "RPUSH", "m", "1", "2", "3" }, ":3\r\n", "RPUSH m 1 2 3", 3 },
	{ { "BLPOP", "nokey", "m", "0" }, "*2\r\n$1\r\nm\r\n$1\r\n1\r\n",
	  "LPOP m", 1 },
	{ { "BRPOP", "m", "1.5" }, "*2\r\n$1\r\nm\r\n$1\r\n3\r\n", "RPOP m",
	  1 },
	{ { "BLMOVE", "m", "n", "LEFT", "RIGHT", "0" }, "$1\r\n2\r\n",
	  "LMOVE m n LEFT RIGHT", 1 },
	{ { "BRPOPLPUSH", "n", "m", "0" }, "$1\r\n2\r\n", "RPOPLPUSH n m", 1 },
	{ { "BLMPOP", "0", "1", "m", "RIGHT", "COUNT", "2" },
	  "*2\r\n$1\r\nm\r\n*1\r\n$1\r\n2\r\n", "RPOP m 1", 1 },
	{ { "BLPOP", "m", "-1" }, "-ERR timeout is negative\r\n", "", 0 },
	{ { "EXISTS", "m", "n" }, ":0\r\n", "", 0 },
};

/* Each command of prop_cases: its reply, propagation and changes. */
static void
test_propagation(void)
{
	const struct prop_case *pc;
	unsigned long long dirty;
	const char *r;
	size_t i;

	for (i = 0; i < sizeof(prop_cases) / sizeof(prop_cases[0]); i++) {
		pc = &prop_cases[i];
		r = run(&dirty, pc->argv[0], pc->argv[1], pc->argv[2],
		    pc->argv[3], pc->argv[4], pc->argv[5], pc->argv[6],
		    pc->argv[7], NULL);
		ok(strcmp(r, pc->reply) == 0, "%s %s: the reply", pc->argv[0],
		    pc->argv[1]);
		ok(strcmp(propagated, pc->propagated) == 0 &&
		    npropagated == (pc->propagated[0] != '\0'),
		    "%s %s: propagates \"%s\"", pc->argv[0], pc->argv[1],
		    pc->propagated);
		if (strcmp(propagated, pc->propagated) != 0)
			diag("  propagated \"%s\"", propagated);
		is_int(dirty, pc->dirty, "%s %s: %llu changes", pc->argv[0],
		    pc->argv[1], pc->dirty);
	}
}

/* A list grown past one chunk leaves the entry for the heap and comes
 * back inline when popped small; the changes count every element. */
static void
test_forms(void)
{
	unsigned long long dirty;
	char reply[64];
	dbkey *k;
	int i;

	run(&dirty, "CONFIG", "SET", "list-max-listpack-size", "4", NULL);
	run(&dirty, "RPUSH", "f", "1", "2", "3", NULL);
	k = db_find(&srv->db, "f", 1, DB_NOSTATS);
	ok(k != NULL && db_key_encoding(k) == OBJ_ENC_LISTPACK,
	    "three elements: inline");
	run(&dirty, "RPUSH", "f", "4", "5", "6", "7", "8", "9", NULL);
	is_int(dirty, 6, "a push that goes to the heap counts 6 changes");
	k = db_find(&srv->db, "f", 1, DB_NOSTATS);
	ok(k != NULL && db_key_encoding(k) == OBJ_ENC_QUICKLIST,
	    "nine elements: on the heap");
	ok(strcmp(run(&dirty, "LRANGE", "f", "0", "-1", NULL), "*9\r\n$1\r\n1"
	    "\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n"
	    "7\r\n$1\r\n8\r\n$1\r\n9\r\n") == 0, "LRANGE after the move");
	for (i = 0; i < 8; i++)
		run(&dirty, "RPOP", "f", NULL);
	k = db_find(&srv->db, "f", 1, DB_NOSTATS);
	ok(k != NULL && db_key_encoding(k) == OBJ_ENC_LISTPACK,
	    "popped down to one: inline again");
	snprintf(reply, sizeof(reply), "%s", run(&dirty, "LPOP", "f", NULL));
	ok(strcmp(reply, "$1\r\n1\r\n") == 0 && db_find(&srv->db, "f", 1,
	    DB_NOSTATS) == NULL, "the last pop deletes the key");
	run(&dirty, "CONFIG", "SET", "list-max-listpack-size", "-2", NULL);
}

int
main(void)
{
	static const int fills[] = { -5, -2, -1, 0, 1, 2, 5, 64, 32767 };
	size_t i;

	test_elements();
	test_rule();
	test_pack();
	test_ends(-2);
	test_ends(4);
	test_ends(0);
	test_chunking();
	test_big();
	for (i = 0; i < sizeof(fills) / sizeof(fills[0]); i++)
		test_random(fills[i], 4000);
	server_setup();
	test_propagation();
	test_forms();
	client_free(cl);
	close(peer);
	server_free(srv);
	return done_testing();
}
