/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the client side of the protocol: the input is what a
 * server might send. resp_scan_reply() must find the same reply ends
 * whether the bytes arrive at once, one by one or in pieces, and
 * resp_read_reply() must agree with it, build exactly the reply scanned
 * (encoding it again gives the same bytes) and release everything when
 * a builder fails.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "resp.h"

const char fuzz_target_name[] = "fuzz_reply";

#define FUZZ_REPLY_MAX 64               /* replies checked per input */

/* A built reply. */
struct obj {
	char type;                   /* + - : $ *, or 'n' / 'N' for $-1 / *-1 */
	long long v;                 /* ':' */
	size_t n;                    /* '*': elements; '+' '-' '$': bytes */
	struct obj **elem;           /* '*' */
	char *s;                     /* '+' '-' '$' */
};

/* Builder state: live objects, and the call that is made to fail. */
struct ctx {
	long live;
	long calls;
	long fail_at;                /* -1: never */
};

/* Count a builder call; 1 if this one must fail. */
static int
ctx_fail(struct ctx *x)
{
	return x->calls++ == x->fail_at;
}

/* A new object of the given type, counted as live. */
static struct obj *
obj_new(struct ctx *x, char type)
{
	struct obj *o = calloc(1, sizeof(*o));

	FUZZ_CHECK(o != NULL);
	o->type = type;
	x->live++;
	return o;
}

/* Builder: free an object and everything in it. */
static void
b_release(void *ctx, void *obj)
{
	struct ctx *x = ctx;
	struct obj *o = obj;
	size_t i;

	if (o->type == '*')
		for (i = 0; i < o->n; i++)
			if (o->elem[i] != NULL)
				b_release(ctx, o->elem[i]);
	free(o->elem);
	free(o->s);
	free(o);
	x->live--;
}

/* Builder: a status, an error or a bulk string. */
static void *
b_str(void *ctx, char type, const char *p, size_t len)
{
	struct obj *o;

	FUZZ_CHECK(type == '+' || type == '-' || type == '$');
	if (ctx_fail(ctx))
		return NULL;
	o = obj_new(ctx, type);
	o->s = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(o->s != NULL);
	memcpy(o->s, p, len);
	o->n = len;
	return o;
}

/* Builder: an integer. */
static void *
b_integer(void *ctx, long long v)
{
	struct obj *o;

	if (ctx_fail(ctx))
		return NULL;
	o = obj_new(ctx, ':');
	o->v = v;
	return o;
}

/* Builder: a nil bulk or a nil array. */
static void *
b_nil(void *ctx, char type)
{
	FUZZ_CHECK(type == '$' || type == '*');
	if (ctx_fail(ctx))
		return NULL;
	return obj_new(ctx, type == '$' ? 'n' : 'N');
}

/* Builder: an array of n elements, filled by b_array_set(). */
static void *
b_array(void *ctx, size_t n)
{
	struct obj *o;

	if (ctx_fail(ctx))
		return NULL;
	o = obj_new(ctx, '*');
	o->n = n;
	o->elem = calloc(n > 0 ? n : 1, sizeof(*o->elem));
	FUZZ_CHECK(o->elem != NULL);
	return o;
}

/* Builder: put elem at i in array (0), or fail (-1, elem freed). */
static int
b_array_set(void *ctx, void *array, size_t i, void *elem)
{
	struct obj *a = array;

	FUZZ_CHECK(a->type == '*');
	FUZZ_CHECK(i < a->n);
	FUZZ_CHECK(a->elem[i] == NULL);
	if (ctx_fail(ctx)) {
		b_release(ctx, elem);        /* it takes elem either way */
		return -1;
	}
	a->elem[i] = elem;
	return 0;
}

static const struct resp_builder builder = {
	b_str, b_integer, b_nil, b_array, b_array_set, b_release,
};

/* Encode a built reply as RESP2. */
static void
obj_encode(const struct obj *o, struct resp_buf *out)
{
	size_t i;

	switch (o->type) {
	case '+':
	case '-':
		resp_buf_append(out, &o->type, 1);
		resp_buf_append(out, o->s, o->n);
		resp_buf_append(out, "\r\n", 2);
		break;
	case ':':
		resp_add_int(out, o->v);
		break;
	case '$':
		resp_add_bulk(out, o->s, o->n);
		break;
	case 'n':
		resp_add_null(out);
		break;
	case 'N':
		resp_add_null_array(out);
		break;
	default:
		FUZZ_CHECK(o->type == '*');
		resp_add_array_len(out, (long long)o->n);
		for (i = 0; i < o->n; i++) {
			FUZZ_CHECK(o->elem[i] != NULL);
			obj_encode(o->elem[i], out);
		}
	}
}

/* Scan buf[0..len) at once. */
static long long
scan_whole(const char *buf, size_t len)
{
	struct resp_scan s;

	resp_scan_init(&s);
	return resp_scan_reply(&s, buf, len, NULL);
}

/*
 * Scan with the bytes arriving one at a time: nothing before the end
 * the whole scan found, then the same answer; never an answer sooner
 * than the bytes it said were missing.
 */
static void
scan_bytes(const char *buf, size_t len, long long whole)
{
	struct resp_scan s;
	size_t l, need, until = 0;
	long long r = 0;

	resp_scan_init(&s);
	for (l = 1; l <= len; l++) {
		r = resp_scan_reply(&s, buf, l, &need);
		if (l < until)
			FUZZ_CHECK(r == 0);
		if (r != 0)
			break;
		if (need > 0)
			until = l + need;
	}
	if (whole > 0) {
		FUZZ_CHECK(r == whole);
		FUZZ_CHECK(l == (size_t)whole);
	} else
		FUZZ_CHECK(r == whole);
}

/* Scan with the bytes arriving in random pieces, each time in a buffer
 * of exactly the bytes that arrived (reads past them are caught). */
static void
scan_pieces(const char *data, size_t len, long long whole, uint64_t *rng)
{
	struct resp_scan s;
	size_t l = 0, need;
	long long r = 0;
	char *buf = NULL;

	resp_scan_init(&s);
	while (l < len && r == 0) {
		l += 1 + fuzz_rand(rng) % 32;
		if (l > len)
			l = len;
		buf = realloc(buf, l);
		FUZZ_CHECK(buf != NULL);
		memcpy(buf, data, l);
		r = resp_scan_reply(&s, buf, l, &need);
	}
	free(buf);
	FUZZ_CHECK(r == whole);
}

/*
 * Read the reply with the builders: it must be built when the scan says
 * it is complete and valid (and encode back to exactly its bytes), and
 * not otherwise; a failing builder call must leave nothing behind.
 */
static void
check_read(const char *buf, size_t len, long long whole, uint64_t *rng)
{
	struct ctx x = { 0, 0, -1 };
	struct resp_buf enc;
	struct obj *o;
	long calls;

	o = resp_read_reply(&builder, &x, buf, len);
	if (whole <= 0) {
		FUZZ_CHECK(o == NULL);
		FUZZ_CHECK(x.live == 0);
		return;
	}
	FUZZ_CHECK(o != NULL);
	resp_buf_init(&enc);
	obj_encode(o, &enc);
	FUZZ_CHECK(enc.len == (size_t)whole);
	FUZZ_CHECK(memcmp(enc.data, buf, enc.len) == 0);
	resp_buf_free(&enc);
	b_release(&x, o);
	FUZZ_CHECK(x.live == 0);
	calls = x.calls;

	/* Exactly the reply's bytes are enough. */
	x.calls = 0;
	o = resp_read_reply(&builder, &x, buf, (size_t)whole);
	FUZZ_CHECK(o != NULL);
	b_release(&x, o);
	FUZZ_CHECK(x.live == 0);

	/* One builder call fails: NULL, and nothing left alive. */
	x.calls = 0;
	x.fail_at = (long)(fuzz_rand(rng) % (uint64_t)calls);
	o = resp_read_reply(&builder, &x, buf, len);
	FUZZ_CHECK(o == NULL);
	FUZZ_CHECK(x.live == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	uint64_t rng = fuzz_hash(data, size) | 1;
	size_t off = 0;
	long long whole;
	int i;

	/* Replies one after another, as a pipelining client reads them. */
	for (i = 0; i < FUZZ_REPLY_MAX && off < size; i++) {
		whole = scan_whole(buf + off, size - off);
		FUZZ_CHECK(whole >= -1 && whole <= (long long)(size - off));
		scan_bytes(buf + off, size - off, whole);
		scan_pieces(buf + off, size - off, whole, &rng);
		check_read(buf + off, size - off, whole, &rng);
		if (whole <= 0)
			break;
		off += (size_t)whole;
	}
	return 0;
}
