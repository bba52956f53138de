/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for resp.c: requests parsed identically under every
 * fragmentation, Redis's protocol errors, bounded allocation, the
 * encoder, the number helpers and the reply scanner/reader.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "resp.h"
#include "tap.h"

#define S(x) (x), (sizeof(x) - 1)

/* ---- A plain-malloc string builder (kept out of mem_used()) ---- */

struct sbuf {
	char *d;
	size_t len, cap;
};

/* Append n bytes. */
static void
sb_add(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->d = realloc(b->d, cap);
		if (b->d == NULL)
			abort();
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->d + b->len, p, n);
	b->len += n;
	b->d[b->len] = '\0';
}

/* Append a C string. */
static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Append printf output. */
static void sb_fmt(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Release the builder. */
static void
sb_free(struct sbuf *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

/* Compare a result with what was wanted, showing the first difference. */
static int
sb_is(const struct sbuf *got, const char *want, size_t wantlen,
    const char *what)
{
	size_t i = 0, glen = got->len;

	if (glen == wantlen && memcmp(got->d, want, wantlen) == 0)
		return ok(1, "%s", what);
	while (i < glen && i < wantlen && got->d[i] == want[i])
		i++;
	ok(0, "%s", what);
	diag("  first difference at byte %zu (got %zu bytes, want %zu)", i,
	    glen, wantlen);
	diag("  got  ...%.60s", got->d + (i > 20 ? i - 20 : 0));
	diag("  want ...%.60s", want + (i > 20 ? i - 20 : 0));
	return 0;
}

/* A fixed-seed generator (xorshift64), so every run is the same. */
static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- A client simulator: appends bytes, parses, compacts ---- */

/*
 * It records every request as "len:bytes" arguments joined by ',' and
 * ended by ';', then "|INC<n>" (n bytes left unconsumed) or "|ERR:<text>".
 */
struct sim {
	struct resp_parser p;
	char *q;                /* like the client's query buffer */
	size_t qlen, qcap;
	struct sbuf out;
	int dead;
	int compact_each;       /* compact after each request, not per read */
};

static int sim_unauthenticated;   /* parsers start with AUTH pending */

/* Start a simulation. */
static void
sim_init(struct sim *s, long long bulk_max, int compact_each)
{
	memset(s, 0, sizeof(*s));
	resp_parser_init(&s->p, bulk_max);
	s->p.unauthenticated = sim_unauthenticated;
	s->compact_each = compact_each;
}

/* Drop handled requests from the buffer front, as the client does. */
static void
sim_compact(struct sim *s)
{
	size_t n = s->p.start;

	if (n == 0)
		return;
	memmove(s->q, s->q + n, s->qlen - n);
	s->qlen -= n;
	resp_parser_shift(&s->p, n);
}

/* Record the request just parsed (argv must point into the buffer). */
static void
sim_record(struct sim *s)
{
	int i;

	for (i = 0; i < s->p.argc; i++) {
		const struct resp_arg *a = &s->p.argv[i];

		if (i > 0)
			sb_add(&s->out, ",", 1);
		if (a->ptr < s->q || a->len > s->qlen ||
		    a->ptr + a->len > s->q + s->qlen) {
			sb_str(&s->out, "BADPTR");
			continue;
		}
		sb_fmt(&s->out, "%zu:", a->len);
		sb_add(&s->out, a->ptr, a->len);
	}
	sb_add(&s->out, ";", 1);
}

/* Deliver n bytes, then parse every request they complete. A growing
 * buffer always moves, so a stale pointer or offset shows up. */
static void
sim_feed(struct sim *s, const char *data, size_t n)
{
	int r;

	if (s->dead)
		return;
	if (s->qlen + n > s->qcap) {
		size_t cap = s->qcap * 2;
		char *q;

		if (cap < s->qlen + n)
			cap = s->qlen + n;
		if (cap < 16)
			cap = 16;
		if ((q = malloc(cap)) == NULL)
			abort();
		if (s->qlen > 0)
			memcpy(q, s->q, s->qlen);
		free(s->q);
		s->q = q;
		s->qcap = cap;
	}
	if (n > 0)
		memcpy(s->q + s->qlen, data, n);
	s->qlen += n;
	for (;;) {
		r = resp_parse(&s->p, s->q, s->qlen);
		if (r == RESP_OK) {
			sim_record(s);
			if (s->compact_each)
				sim_compact(s);
			continue;
		}
		if (r == RESP_ERR) {
			sb_str(&s->out, "|ERR:");
			sb_str(&s->out, s->p.err);
			s->dead = 1;
			return;
		}
		if (r != RESP_INCOMPLETE) {
			sb_fmt(&s->out, "|BADRESULT%d", r);
			s->dead = 1;
			return;
		}
		break;
	}
	sim_compact(s);
}

/* End a simulation; the caller owns (and frees) the returned record. */
static struct sbuf
sim_finish(struct sim *s)
{
	struct sbuf out = s->out;

	if (!s->dead)
		sb_fmt(&out, "|INC%zu", s->qlen - s->p.start);
	resp_parser_free(&s->p);
	free(s->q);
	return out;
}

enum { FEED_ONCE, FEED_BYTES, FEED_SPLIT, FEED_RANDOM };

/* Run in[0..n) through a simulator, delivered as mode says: all at once,
 * byte by byte, split at arg, or in random chunks of 1..arg bytes. */
static struct sbuf
run(const char *in, size_t n, long long bulk_max, int compact_each,
    int mode, size_t arg, uint64_t *rng)
{
	struct sim s;
	size_t at = 0, k;

	sim_init(&s, bulk_max, compact_each);
	switch (mode) {
	case FEED_ONCE:
		sim_feed(&s, in, n);
		break;
	case FEED_BYTES:
		for (at = 0; at < n; at++)
			sim_feed(&s, in + at, 1);
		break;
	case FEED_SPLIT:
		sim_feed(&s, in, arg);
		sim_feed(&s, in + arg, n - arg);
		break;
	case FEED_RANDOM:
		while (at < n) {
			k = 1 + (size_t)(rng_next(rng) % arg);
			if (k > n - at)
				k = n - at;
			sim_feed(&s, in + at, k);
			at += k;
		}
		break;
	}
	return sim_finish(&s);
}

/* ---- Request table ---- */

struct req_case {
	const char *name;
	const char *in;
	size_t inlen;
	const char *want;
	size_t wantlen;
	long long bulk_max;     /* 0: the default */
};

#define E_BULKLEN "|ERR:Protocol error: invalid bulk length"
#define E_MBULKLEN "|ERR:Protocol error: invalid multibulk length"
#define E_QUOTES "|ERR:Protocol error: unbalanced quotes in request"
#define E_DOLLAR "|ERR:Protocol error: expected '$', got "

/* Every command here is a real one with a valid arity, so the table can
 * also be replayed against redis-server (its MONITOR shows the argv). */
static const struct req_case req_cases[] = {
	{ "multibulk SET", S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
	  S("3:SET,1:k,1:v;|INC0"), 0 },
	{ "pipelined multibulk",
	  S("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
	    "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*2\r\n$3\r\nDEL\r\n$3\r\nkey\r\n"),
	  S("3:SET,3:key,5:value;3:GET,3:key;3:DEL,3:key;|INC0"), 0 },
	{ "empty multibulk requests",
	  S("*0\r\n*-1\r\n*-5\r\n*-9223372036854775808\r\n"
	    "*1\r\n$4\r\nPING\r\n"),
	  S(";;;;4:PING;|INC0"), 0 },
	{ "empty bulk arguments", S("*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"),
	  S("3:SET,0:,0:;|INC0"), 0 },
	{ "binary bulks (NUL, CR, LF inside)",
	  S("*3\r\n$3\r\nSET\r\n$4\r\na\0\r\n\r\n$6\r\n\r\n\0\n\r\0\r\n"),
	  S("3:SET,4:a\0\r\n,6:\r\n\0\n\r\0;|INC0"), 0 },
	{ "many digits in a bulk length",
	  S("*2\r\n$4\r\nECHO\r\n$12\r\nhello world!\r\n"),
	  S("4:ECHO,12:hello world!;|INC0"), 0 },
	{ "inline", S("PING\r\nSET k v\nGET k\r\n"),
	  S("4:PING;3:SET,1:k,1:v;3:GET,1:k;|INC0"), 0 },
	{ "inline blanks and empty lines",
	  S("  GET \t  k  \r\n\r\n\n   \r\n\x0b\x0cPING\r\n"),
	  S("3:GET,1:k;;;;4:PING;|INC0"), 0 },
	{ "inline quotes", S("SET \"a b\" 'c d'\r\n"),
	  S("3:SET,3:a b,3:c d;|INC0"), 0 },
	{ "inline double-quote escapes",
	  S("ECHO \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\\x4g\"\r\n"),
	  S("4:ECHO,13:AJ\n\r\t\b\a\\\"qx4g;|INC0"), 0 },
	{ "inline single quotes", S("DEL 'it\\'s' 'a\\nb' '' \"\"\r\n"),
	  S("3:DEL,4:it's,4:a\\nb,0:,0:;|INC0"), 0 },
	{ "inline quotes inside tokens",
	  S("DEL a\"b c\" x'y' a\x0b" "b \\x41 \"a\"\x0b" "b\r\n"),
	  S("3:DEL,4:ab c,2:xy,3:a\x0b" "b,4:\\x41,1:a,1:b;|INC0"), 0 },
	{ "inline CR inside a line", S("DEL a\rb \"c\rd\"\r\r\n"),
	  S("3:DEL,1:a,1:b,3:c\rd;|INC0"), 0 },
	{ "inline high bytes", S("DEL x\xffy \xa0z\n"),
	  S("3:DEL,3:x\xffy,2:\xa0z;|INC0"), 0 },
	{ "inline and multibulk mixed",
	  S("PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO \"x y\"\n"
	    "*1\r\n$4\r\nPING\r\n"),
	  S("4:PING;4:ECHO,2:hi;4:ECHO,3:x y;4:PING;|INC0"), 0 },
	{ "bytes after CR and after a body are not checked",
	  S("*1\rX$4\r\nPING\r\n*1\r\n$4\rXPINGXY*1\r\n$4\r\nPING\r\n"),
	  S("4:PING;4:PING;4:PING;|INC0"), 0 },
	{ "partial multibulk at the end",
	  S("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1"),
	  S("3:GET,1:k;|INC15"), 0 },
	{ "partial body at the end", S("*2\r\n$4\r\nECHO\r\n$5\r\nhel"),
	  S("|INC21"), 0 },
	{ "partial inline at the end", S("GET k\r\nGET"),
	  S("3:GET,1:k;|INC3"), 0 },
	{ "CR as the last byte", S("PING\r\n*1\r"), S("4:PING;|INC3"), 0 },
	{ "NUL hides a bulk header's CR", S("*1\r\n$3\0\r\nfoo\r\n"),
	  S("|INC14"), 0 },
	{ "NUL hides the count's CR", S("*1\0\r\n$4\r\nPING\r\n"),
	  S("|INC15"), 0 },
	{ "NUL hides an inline newline", S("PING\r\nPI\0NG\r\nPING\r\n"),
	  S("4:PING;|INC13"), 0 },
	{ "NUL as a header's first byte", S("*1\r\n\0\r\n"), S("|INC7"), 0 },
	{ "NUL as a header's first byte, digits after",
	  S("*2\r\n$3\r\nDEL\r\n\0" "3\r\nfoo\r\n"), S("|INC22"), 0 },
	{ "expected $, got ':'", S("*3\r\n$3\r\nSET\r\n:1\r\n"),
	  S(E_DOLLAR "':'"), 0 },
	{ "expected $, got CR (shown as a space)", S("*1\r\n\r\n"),
	  S(E_DOLLAR "' '"), 0 },
	{ "expected $, got LF (shown as a space)", S("*1\r\n\nfoo\r\n"),
	  S(E_DOLLAR "' '"), 0 },
	{ "expected $, got a high byte", S("*1\r\n\xff\r\n"),
	  S(E_DOLLAR "'\xff'"), 0 },
	{ "expected $ after a good request",
	  S("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\nfoo\r\n"),
	  S("4:PING;" E_DOLLAR "'f'"), 0 },
	{ "bulk length -1", S("PING\r\n*1\r\n$-1\r\n"), S("4:PING;" E_BULKLEN),
	  0 },
	{ "bulk length not a number", S("*1\r\n$abc\r\n"), S(E_BULKLEN), 0 },
	{ "bulk length with a leading zero", S("*1\r\n$01\r\n"), S(E_BULKLEN),
	  0 },
	{ "bulk length with '+'", S("*1\r\n$+1\r\n"), S(E_BULKLEN), 0 },
	{ "bulk length empty", S("*1\r\n$\r\n"), S(E_BULKLEN), 0 },
	{ "bulk length with a space", S("*1\r\n$4 \r\nPING\r\n"), S(E_BULKLEN),
	  0 },
	{ "bulk length -0", S("*1\r\n$-0\r\n"), S(E_BULKLEN), 0 },
	{ "bulk length over 512 MB", S("*1\r\n$536870913\r\n"), S(E_BULKLEN),
	  0 },
	{ "bulk length over long long",
	  S("*1\r\n$9223372036854775808\r\n"), S(E_BULKLEN), 0 },
	{ "error stops the parse", S("*1\r\n$x\r\nPING\r\n"), S(E_BULKLEN),
	  0 },
	{ "count not a number", S("*abc\r\n"), S(E_MBULKLEN), 0 },
	{ "count with a leading zero", S("*01\r\n"), S(E_MBULKLEN), 0 },
	{ "count with '+'", S("*+1\r\n"), S(E_MBULKLEN), 0 },
	{ "count empty", S("*\r\n"), S(E_MBULKLEN), 0 },
	{ "count -0", S("*-0\r\n"), S(E_MBULKLEN), 0 },
	{ "count over INT_MAX", S("*2147483648\r\n"), S(E_MBULKLEN), 0 },
	{ "count under LLONG_MIN", S("*-9223372036854775809\r\n"),
	  S(E_MBULKLEN), 0 },
	{ "count with spaces", S("* 1\r\n"), S(E_MBULKLEN), 0 },
	{ "count with a trailing space", S("*1 \r\n$4\r\nPING\r\n"),
	  S(E_MBULKLEN), 0 },
	{ "unbalanced: text after a closing quote",
	  S("PING\r\nSET \"a\"b c\r\n"), S("4:PING;" E_QUOTES), 0 },
	{ "unbalanced: unterminated double quote", S("ECHO \"abc\r\n"),
	  S(E_QUOTES), 0 },
	{ "unbalanced: unterminated single quote", S("ECHO 'abc\r\n"),
	  S(E_QUOTES), 0 },
	{ "unbalanced: escaped closing quote", S("ECHO \"abc\\\"\r\n"),
	  S(E_QUOTES), 0 },
	{ "unbalanced: backslash at the end", S("ECHO \"abc\\\r\n"),
	  S(E_QUOTES), 0 },
	{ "unbalanced: text after a single quote", S("ECHO 'a'b\r\n"),
	  S(E_QUOTES), 0 },
	{ "bulk_max 10 allows 10",
	  S("*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n"),
	  S("4:ECHO,10:0123456789;|INC0"), 10 },
	{ "bulk_max 10 refuses 11", S("*2\r\n$4\r\nECHO\r\n$11\r\n"),
	  S(E_BULKLEN), 10 },
};

#define NCASES (sizeof(req_cases) / sizeof(req_cases[0]))

/*
 * THE property: however in[0..n) is cut into reads, the parser sees the
 * same requests as when it arrives at once (ref). Splits are tried at
 * every point when stride is 1, else at the first and last 64 bytes and
 * every stride-th one in between.
 */
static void
check_fragments(const char *name, const char *in, size_t n,
    long long bulk_max, const struct sbuf *ref, size_t stride)
{
	static const size_t maxchunk[] = { 2, 3, 7, 16, 100, 4096 };
	struct sbuf got;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t k, badk = 0, i;
	int ce, bad, seed;
	char what[160];

	for (ce = 0; ce < 2; ce++) {
		got = run(in, n, bulk_max, ce, FEED_BYTES, 0, NULL);
		snprintf(what, sizeof(what), "%s: byte by byte (%s)", name,
		    ce ? "compact per request" : "compact per read");
		sb_is(&got, ref->d, ref->len, what);
		sb_free(&got);
	}

	bad = 0;
	for (k = 1; k < n; k++) {
		if (stride > 1 && k > 64 && k + 64 < n && k % stride != 0)
			continue;
		got = run(in, n, bulk_max, (int)(k & 1), FEED_SPLIT, k, NULL);
		if (got.len != ref->len || memcmp(got.d, ref->d, got.len)) {
			if (bad++ == 0)
				badk = k;
		}
		sb_free(&got);
	}
	if (!ok(bad == 0, "%s: every split into two pieces", name))
		diag("  %d splits differ, first at %zu", bad, badk);

	bad = 0;
	for (i = 0; i < sizeof(maxchunk) / sizeof(maxchunk[0]); i++) {
		for (seed = 0; seed < 6; seed++) {
			got = run(in, n, bulk_max, seed & 1, FEED_RANDOM,
			    maxchunk[i], &rng);
			if (got.len != ref->len ||
			    memcmp(got.d, ref->d, got.len))
				bad++;
			sb_free(&got);
		}
	}
	ok(bad == 0, "%s: random chunks (fixed seed)", name);
}

/* Each table row: exact result at once, then under fragmentation. */
static void
test_request_table(void)
{
	struct sbuf got;
	size_t i;
	char what[160];

	for (i = 0; i < NCASES; i++) {
		const struct req_case *c = &req_cases[i];

		got = run(c->in, c->inlen, c->bulk_max, 0, FEED_ONCE, 0, NULL);
		snprintf(what, sizeof(what), "%s: parsed at once", c->name);
		sb_is(&got, c->want, c->wantlen, what);
		check_fragments(c->name, c->in, c->inlen, c->bulk_max, &got, 1);
		sb_free(&got);
	}
}

/* Every table row in one pipeline (the last row that can stop the parse
 * is left out), cut every way. */
static void
test_request_table_pipeline(void)
{
	struct sbuf in = { 0 }, want = { 0 }, got;
	size_t i;

	for (i = 0; i < NCASES; i++) {
		const struct req_case *c = &req_cases[i];
		const char *end = c->want + c->wantlen - 5;

		if (c->bulk_max != 0 || c->wantlen < 5 ||
		    memcmp(end, "|INC0", 5) != 0)
			continue;
		sb_add(&in, c->in, c->inlen);
		sb_add(&want, c->want, c->wantlen - 5);
	}
	sb_str(&want, "|INC0");
	got = run(in.d, in.len, 0, 0, FEED_ONCE, 0, NULL);
	sb_is(&got, want.d, want.len, "all complete rows pipelined at once");
	check_fragments("all rows pipelined", in.d, in.len, 0, &got, 1);
	sb_free(&got);
	sb_free(&in);
	sb_free(&want);
}

/* A 1 MB bulk, and a request with more arguments than argv starts with. */
static void
test_big_requests(void)
{
	struct sbuf in = { 0 }, want = { 0 }, got;
	size_t i, n = 1024 * 1024;
	char *body = malloc(n);

	if (body == NULL)
		abort();
	for (i = 0; i < n; i++)
		body[i] = (char)(i * 7 + (i >> 8));
	sb_str(&in, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1048576\r\n");
	sb_add(&in, body, n);
	sb_str(&in, "\r\n*1\r\n$4\r\nPING\r\n");
	sb_str(&want, "3:SET,3:big,1048576:");
	sb_add(&want, body, n);
	sb_str(&want, ";4:PING;|INC0");
	got = run(in.d, in.len, 0, 0, FEED_ONCE, 0, NULL);
	sb_is(&got, want.d, want.len, "1 MB bulk: parsed at once");
	check_fragments("1 MB bulk", in.d, in.len, 0, &got, 8191);
	sb_free(&got);
	sb_free(&in);
	sb_free(&want);
	free(body);

	/* 3000 arguments: argv must grow past RESP_ARGV_INITIAL. */
	sb_str(&in, "*3000\r\n$3\r\nDEL\r\n");
	sb_str(&want, "3:DEL");
	for (i = 1; i < 3000; i++) {
		sb_fmt(&in, "$%zu\r\nk%zu\r\n", 1 + (size_t)snprintf(NULL, 0,
		    "%zu", i), i);
		sb_fmt(&want, ",%zu:k%zu", 1 + (size_t)snprintf(NULL, 0, "%zu",
		    i), i);
	}
	sb_str(&in, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
	sb_str(&want, ";3:GET,1:k;|INC0");
	got = run(in.d, in.len, 0, 0, FEED_ONCE, 0, NULL);
	sb_is(&got, want.d, want.len, "3000 arguments: parsed at once");
	check_fragments("3000 arguments", in.d, in.len, 0, &got, 97);
	sb_free(&got);
	sb_free(&in);
	sb_free(&want);
}

/* ---- Limits, errors that depend on size, allocation ---- */

/* Feed in[0..n) at once, or byte by byte, and return the record. */
static struct sbuf
run_bytes_or_once(const char *in, size_t n, int bytes)
{
	return run(in, n, 0, 0, bytes ? FEED_BYTES : FEED_ONCE, 0, NULL);
}

/* A line of prefix + filler (no terminator) of exactly total bytes,
 * after lead (empty, or "PING\r\n" and maybe the start of a request):
 * INCOMPLETE at the limit, the error one byte later. */
static void
check_limit(const char *name, const char *lead, const char *prefix,
    size_t pl, char filler, size_t total, const char *err)
{
	struct sbuf in = { 0 }, got, want = { 0 };
	size_t handled = *lead != '\0' ? 6 : 0, i;
	int bytes;
	char what[160];

	sb_str(&in, lead);
	sb_add(&in, prefix, pl);
	for (i = pl; i < total; i++)
		sb_add(&in, &filler, 1);
	for (bytes = 0; bytes < 2; bytes++) {
		const char *how = bytes ? "byte by byte" : "at once";

		got = run_bytes_or_once(in.d, in.len, bytes);
		want.len = 0;
		if (*lead != '\0')
			sb_str(&want, "4:PING;");
		sb_fmt(&want, "|INC%zu", in.len - handled);
		snprintf(what, sizeof(what), "%s: %zu bytes pending is fine "
		    "(%s)", name, total, how);
		sb_is(&got, want.d, want.len, what);
		sb_free(&got);

		sb_add(&in, &filler, 1);
		got = run_bytes_or_once(in.d, in.len, bytes);
		want.len = 0;
		if (*lead != '\0')
			sb_str(&want, "4:PING;");
		sb_fmt(&want, "|ERR:%s", err);
		snprintf(what, sizeof(what), "%s: one more byte is an error "
		    "(%s)", name, how);
		sb_is(&got, want.d, want.len, what);
		sb_free(&got);
		in.len--;
	}
	sb_free(&in);
	sb_free(&want);
}

/* Size limits: exact thresholds and the texts of their errors. */
static void
test_limits(void)
{
	struct sbuf in = { 0 }, got, want = { 0 };
	size_t i;

	check_limit("inline line", "", S("GET "), 'a', RESP_INLINE_MAX,
	    "Protocol error: too big inline request");
	check_limit("inline line after a request", "PING\r\n", S("GET "), 'a',
	    RESP_INLINE_MAX, "Protocol error: too big inline request");
	check_limit("inline line with a NUL", "", S("GET a\0b\r\n"), 'a',
	    RESP_INLINE_MAX, "Protocol error: too big inline request");
	check_limit("count line", "", S("*"), '1', RESP_INLINE_MAX,
	    "Protocol error: too big mbulk count string");
	check_limit("count line with a NUL", "", S("*1\0\r\n"), 'x',
	    RESP_INLINE_MAX, "Protocol error: too big mbulk count string");
	check_limit("bulk header", "PING\r\n*1\r\n", S("$"), '1',
	    RESP_INLINE_MAX, "Protocol error: too big bulk count string");
	check_limit("bulk header not starting with $", "PING\r\n*1\r\n", S("X"),
	    '1', RESP_INLINE_MAX, "Protocol error: too big bulk count string");
	check_limit("bulk header with a NUL", "PING\r\n*1\r\n", S("$3\0\r\n"),
	    'x', RESP_INLINE_MAX,
	    "Protocol error: too big bulk count string");

	/* The inline check applies only while no newline is there: a long
	 * line arriving at once is fine, as in Redis. */
	sb_str(&in, "ECHO ");
	sb_str(&want, "4:ECHO,70000:");
	for (i = 0; i < 70000; i++) {
		sb_add(&in, "b", 1);
		sb_add(&want, "b", 1);
	}
	sb_str(&in, "\r\n");
	sb_str(&want, ";|INC0");
	got = run_bytes_or_once(in.d, in.len, 0);
	sb_is(&got, want.d, want.len, "70000-byte inline line arriving at "
	    "once");
	sb_free(&got);
	sb_free(&in);
	sb_free(&want);
}

/*
 * Before AUTH, Redis caps a request at 10 arguments and a bulk at 16384
 * bytes ("unauthenticated ... length"); the invalid-length errors come
 * first. Checked at once, byte by byte and in every split.
 */
static void
test_unauthenticated(void)
{
	static const struct {
		const char *name, *head, *tail;
		size_t bodylen;
		const char *want;
	} cases[] = {
		{ "10 arguments", "*10\r\n", "", 0, NULL },
		{ "11 arguments", "*11\r\n", "",  0,
		  "|ERR:Protocol error: unauthenticated multibulk length" },
		{ "16384-byte bulk", "*2\r\n$4\r\nECHO\r\n$16384\r\n", "\r\n",
		  16384, NULL },
		{ "16385-byte bulk", "*2\r\n$4\r\nECHO\r\n$16385\r\n", "", 0,
		  "|ERR:Protocol error: unauthenticated bulk length" },
		{ "bad bulk length first", "*1\r\n$01\r\n", "", 0,
		  "|ERR:Protocol error: invalid bulk length" },
		{ "bulk over 512 MB first", "*1\r\n$536870913\r\n", "", 0,
		  "|ERR:Protocol error: invalid bulk length" },
		{ "count over INT_MAX first", "*2147483648\r\n", "", 0,
		  "|ERR:Protocol error: invalid multibulk length" },
		{ "inline has no cap", "DEL a b c d e f g h i j k\r\n", "", 0,
		  "3:DEL,1:a,1:b,1:c,1:d,1:e,1:f,1:g,1:h,1:i,1:j,1:k;|INC0" },
	};
	struct sbuf in = { 0 }, want = { 0 }, got;
	size_t i, j;
	char what[160];

	sim_unauthenticated = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in.len = want.len = 0;
		sb_str(&in, cases[i].head);
		if (strcmp(cases[i].head, "*10\r\n") == 0) {
			for (j = 0; j < 10; j++) {
				sb_str(&in, "$1\r\na\r\n");
				sb_str(&want, j ? ",1:a" : "1:a");
			}
			sb_str(&want, ";|INC0");
		} else if (cases[i].bodylen > 0) {
			sb_str(&want, "4:ECHO,16384:");
			for (j = 0; j < cases[i].bodylen; j++) {
				sb_add(&in, "u", 1);
				sb_add(&want, "u", 1);
			}
			sb_str(&want, ";|INC0");
		} else
			sb_str(&want, cases[i].want);
		sb_str(&in, cases[i].tail);
		got = run(in.d, in.len, 0, 0, FEED_ONCE, 0, NULL);
		snprintf(what, sizeof(what), "unauthenticated, %s: at once",
		    cases[i].name);
		sb_is(&got, want.d, want.len, what);
		snprintf(what, sizeof(what), "unauthenticated, %s",
		    cases[i].name);
		check_fragments(what, in.d, in.len, 0, &got,
		    in.len > 1000 ? 61 : 1);
		sb_free(&got);
	}
	sim_unauthenticated = 0;
	sb_free(&in);
	sb_free(&want);
}

/* Declared sizes allocate nothing until bytes arrive. */
static void
test_allocation(void)
{
	struct resp_parser p;
	char huge_count[] = "*2147483647\r\n";
	char huge_bulk[] = "*1\r\n$536870912\r\n";
	char one[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
	struct sbuf in = { 0 };
	size_t base, need, i;
	struct resp_arg *argv0;
	int r, same;

	base = mem_used();
	resp_parser_init(&p, 0);
	r = resp_parse(&p, huge_count, strlen(huge_count));
	is_int(r, RESP_INCOMPLETE, "*2147483647: incomplete");
	ok(p.argv_cap <= RESP_ARGV_INITIAL, "*2147483647: argv_cap %d <= %d",
	    p.argv_cap, RESP_ARGV_INITIAL);
	ok(mem_used() - base <= RESP_ARGV_INITIAL * sizeof(struct resp_arg) +
	    4096, "*2147483647: %zu bytes allocated", mem_used() - base);
	/* Arguments arriving grow argv by doubling, never to the count. */
	sb_add(&in, huge_count, strlen(huge_count));
	for (i = 0; i < 3000; i++)
		sb_str(&in, "$1\r\na\r\n");
	r = resp_parse(&p, in.d, in.len);
	is_int(r, RESP_INCOMPLETE, "*2147483647 + 3000 args: incomplete");
	ok(p.argc == 3000 && p.argv_cap >= 3000 && p.argv_cap <= 4096,
	    "3000 args of 2147483647: argc %d, argv_cap %d", p.argc,
	    p.argv_cap);
	is_int(p.pos, in.len, "3000 args: pos at the end of the input");
	resp_parser_free(&p);
	sb_free(&in);
	is_int(mem_used(), base, "parser freed: nothing left allocated");

	resp_parser_init(&p, 0);
	r = resp_parse(&p, huge_bulk, strlen(huge_bulk));
	is_int(r, RESP_INCOMPLETE, "$536870912: incomplete");
	ok(mem_used() - base <= 4096, "$536870912: %zu bytes allocated",
	    mem_used() - base);
	need = resp_parser_need(&p);
	is_int(need, 536870914, "$536870912: need the body + CRLF");
	sb_add(&in, huge_bulk, strlen(huge_bulk));
	for (i = 0; i < 1000; i++)
		sb_add(&in, "z", 1);
	r = resp_parse(&p, in.d, in.len);
	is_int(r, RESP_INCOMPLETE, "$536870912 + 1000 bytes: incomplete");
	is_int(resp_parser_need(&p), 536870914 - 1000,
	    "need shrinks as the body arrives");
	is_int(p.pos, in.len, "a partial body is consumed to the end");
	resp_parser_free(&p);
	sb_free(&in);

	/* Steady state: argv is reused, nothing is allocated per request. */
	resp_parser_init(&p, 0);
	for (i = 0; i < 100; i++)
		sb_add(&in, one, strlen(one));
	r = resp_parse(&p, in.d, in.len);
	argv0 = p.argv;
	base = mem_used();
	same = 1;
	for (i = 1; r == RESP_OK && i < 100; i++) {
		r = resp_parse(&p, in.d, in.len);
		if (p.argv != argv0 || mem_used() != base)
			same = 0;
	}
	ok(r == RESP_OK && i == 100 && same,
	    "100 pipelined requests reuse one argv");
	is_int(resp_parse(&p, in.d, in.len), RESP_INCOMPLETE,
	    "then incomplete");
	is_int(resp_parser_need(&p), 0, "need is 0 between requests");
	resp_parser_free(&p);
	sb_free(&in);

	/* A huge request's argv is not kept for the next one. */
	resp_parser_init(&p, 0);
	sb_str(&in, "*3000\r\n");
	for (i = 0; i < 3000; i++)
		sb_str(&in, "$1\r\na\r\n");
	sb_add(&in, one, strlen(one));
	r = resp_parse(&p, in.d, in.len);
	ok(r == RESP_OK && p.argc == 3000, "3000-argument request parsed");
	r = resp_parse(&p, in.d, in.len);
	ok(r == RESP_OK && p.argc == 2 && p.argv_cap <= RESP_ARGV_INITIAL,
	    "next request: argv back to %d slots (argv_cap %d)",
	    RESP_ARGV_INITIAL, p.argv_cap);
	resp_parser_free(&p);
	sb_free(&in);
}

/* Parser details the client relies on. */
static void
test_parser_api(void)
{
	struct resp_parser p;
	char buf[] = "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\nxyz";
	char bad[] = "*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n";
	char longhdr[1002];
	int r;

	resp_parser_init(&p, 0);
	is_int(p.bulk_max, RESP_BULK_MAX_DEFAULT, "bulk_max 0 means 512 MB");
	r = resp_parse(&p, buf, 0);
	is_int(r, RESP_INCOMPLETE, "empty buffer: incomplete");
	r = resp_parse(&p, buf, 18);
	is_int(r, RESP_INCOMPLETE, "header of the 2nd bulk: incomplete");
	is_int(resp_parser_need(&p), 7, "need 5 + 2 for the 2nd bulk");
	r = resp_parse(&p, buf, 20);
	is_int(resp_parser_need(&p), 5, "need 3 + 2 after 2 bytes");
	r = resp_parse(&p, buf, 25);
	is_int(r, RESP_OK, "whole request: RESP_OK");
	ok(p.argc == 2 && p.argv[0].ptr == buf + 8 && p.argv[0].len == 4 &&
	    p.argv[1].ptr == buf + 18 && p.argv[1].len == 5,
	    "argv points into the buffer");
	is_int(p.pos, 25, "pos just past the request");
	is_int(p.start, 25, "start at the next request");
	resp_parser_free(&p);

	/* A header line is searched once: pos keeps the progress. */
	resp_parser_init(&p, 0);
	memset(longhdr, '7', sizeof(longhdr));
	longhdr[0] = '*';
	r = resp_parse(&p, longhdr, 1000);
	ok(r == RESP_INCOMPLETE && p.pos == 1000,
	    "a header without CR is searched to the end once (pos %zu)",
	    p.pos);
	resp_parser_free(&p);
	resp_parser_init(&p, 0);
	longhdr[1000] = '\r';
	r = resp_parse(&p, longhdr, 1001);
	ok(r == RESP_INCOMPLETE && p.pos == 1000,
	    "a CR without the byte after it: pos stops at the CR (pos %zu)",
	    p.pos);
	r = resp_parse(&p, longhdr, 1002);
	is_int(r, RESP_ERR, "then one more byte: the count is too long");
	resp_parser_free(&p);

	resp_parser_init(&p, -5);
	is_int(p.bulk_max, RESP_BULK_MAX_DEFAULT, "bulk_max < 0 means 512 MB");
	r = resp_parse(&p, bad, strlen(bad));
	is_int(r, RESP_ERR, "protocol error");
	ok(strcmp(p.err, "Protocol error: invalid bulk length") == 0,
	    "error text: %s", p.err);
	r = resp_parse(&p, bad, strlen(bad));
	is_int(r, RESP_ERR, "the parser stays dead after an error");
	resp_parser_free(&p);
}

/* ---- Encoder ---- */

/* Compare the buffer with want and empty it. */
static void
buf_is(struct resp_buf *b, const char *want, size_t wantlen,
    const char *what)
{
	struct sbuf got = { 0 };

	sb_add(&got, b->data, b->len);
	sb_is(&got, want, wantlen, what);
	sb_free(&got);
	b->len = 0;
}

/* Every resp_add_* call, byte for byte. */
static void
test_encoder(void)
{
	struct resp_buf b;
	const char *argv[] = { "SET", "k\r\n", "" };
	const char *bin[] = { "a\0b", "x" };
	const size_t binlen[] = { 3, 1 };
	char longmsg[400];
	struct sbuf want = { 0 };
	size_t i;

	resp_buf_init(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "resp_buf_init");
	resp_add_simple(&b, "OK");
	buf_is(&b, S("+OK\r\n"), "resp_add_simple");
	resp_add_simple(&b, "");
	buf_is(&b, S("+\r\n"), "resp_add_simple empty");
	resp_add_ok(&b);
	buf_is(&b, S("+OK\r\n"), "resp_add_ok");
	resp_add_error(&b, "bad thing", 9);
	buf_is(&b, S("-ERR bad thing\r\n"), "resp_add_error adds -ERR");
	resp_add_error(&b, "-WRONGTYPE Operation", 20);
	buf_is(&b, S("-WRONGTYPE Operation\r\n"), "resp_add_error keeps '-'");
	resp_add_error(&b, "a\rb\nc\r\n", 7);
	buf_is(&b, S("-ERR a b c  \r\n"), "resp_add_error maps CR/LF");
	resp_add_error(&b, "-X\r\n", 4);
	buf_is(&b, S("-X  \r\n"), "resp_add_error '-' and CR/LF");
	resp_add_error(&b, "", 0);
	buf_is(&b, S("-ERR \r\n"), "resp_add_error empty");
	resp_add_error(&b, "a\0b", 3);
	buf_is(&b, S("-ERR a\0b\r\n"), "resp_add_error uses the length");
	resp_add_errorf(&b, "unknown command '%s', with args beginning with: ",
	    "a\r\nb");
	buf_is(&b, S("-ERR unknown command 'a  b', with args beginning "
	    "with: \r\n"), "resp_add_errorf maps CR/LF inside");
	resp_add_errorf(&b, "\r\n%s\n\r", "-MOVED x");
	buf_is(&b, S("-MOVED x\r\n"),
	    "resp_add_errorf trims CR/LF at both ends first");
	resp_add_errorf(&b, "%s", "\r\n");
	buf_is(&b, S("-ERR \r\n"), "resp_add_errorf of only CR/LF");
	memset(longmsg, 'm', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	resp_add_errorf(&b, "%s%d", longmsg, 42);
	sb_str(&want, "-ERR ");
	sb_str(&want, longmsg);
	sb_str(&want, "42\r\n");
	buf_is(&b, want.d, want.len, "resp_add_errorf longer than 256");
	sb_free(&want);

	resp_add_int(&b, 0);
	resp_add_int(&b, -1);
	resp_add_int(&b, LLONG_MAX);
	resp_add_int(&b, LLONG_MIN);
	buf_is(&b, S(":0\r\n:-1\r\n:9223372036854775807\r\n"
	    ":-9223372036854775808\r\n"), "resp_add_int");
	resp_add_bulk(&b, "a\0\r\nb", 5);
	resp_add_bulk(&b, "", 0);
	resp_add_bulk(&b, NULL, 0);
	buf_is(&b, S("$5\r\na\0\r\nb\r\n$0\r\n\r\n$0\r\n\r\n"),
	    "resp_add_bulk binary and empty");
	resp_add_bulk_str(&b, "hello");
	buf_is(&b, S("$5\r\nhello\r\n"), "resp_add_bulk_str");
	resp_add_bulk_ll(&b, -42);
	resp_add_bulk_ll(&b, LLONG_MIN);
	buf_is(&b, S("$3\r\n-42\r\n$20\r\n-9223372036854775808\r\n"),
	    "resp_add_bulk_ll");
	resp_add_null(&b);
	resp_add_null_array(&b);
	resp_add_array_len(&b, 3);
	resp_add_array_len(&b, 0);
	buf_is(&b, S("$-1\r\n*-1\r\n*3\r\n*0\r\n"),
	    "resp_add_null, _null_array, _array_len");

	resp_add_simple(&b, "pre");
	resp_add_bulk_str(&b, "k1");
	resp_add_bulk_str(&b, "k2");
	resp_insert_array_len(&b, 6, 2);
	buf_is(&b, S("+pre\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n"),
	    "resp_insert_array_len in the middle");
	resp_insert_array_len(&b, 0, 0);
	buf_is(&b, S("*0\r\n"), "resp_insert_array_len into an empty buffer");
	resp_add_bulk_str(&b, "x");
	resp_insert_array_len(&b, b.len, 12345);
	buf_is(&b, S("$1\r\nx\r\n*12345\r\n"),
	    "resp_insert_array_len at the end");

	resp_add_command(&b, 3, argv, NULL);
	buf_is(&b, S("*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n"),
	    "resp_add_command with C strings");
	resp_add_command(&b, 2, bin, binlen);
	buf_is(&b, S("*2\r\n$3\r\na\0b\r\n$1\r\nx\r\n"),
	    "resp_add_command with lengths");
	resp_add_command(&b, 0, NULL, NULL);
	buf_is(&b, S("*0\r\n"), "resp_add_command with no arguments");

	/* Growth: a 1 MB reply built from small pieces stays intact. */
	for (i = 0; i < 100000; i++)
		resp_add_int(&b, (long long)i);
	for (i = 0; i < 100000; i++)
		sb_fmt(&want, ":%zu\r\n", i);
	ok(b.cap >= b.len && b.cap < 2 * b.len + 64,
	    "growth is geometric (len %zu, cap %zu)", b.len, b.cap);
	buf_is(&b, want.d, want.len, "100000 integers in one buffer");
	sb_free(&want);
	resp_buf_reserve(&b, 1u << 22);
	ok(b.cap >= b.len + (1u << 22), "resp_buf_reserve");
	resp_buf_append(&b, "abc", 3);
	resp_buf_append(&b, NULL, 0);
	buf_is(&b, S("abc"), "resp_buf_append");
	resp_buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "resp_buf_free");
}

/* ---- Numbers ---- */

struct num_case {
	const char *s;
	int ok;
	long long v;
};

/* string2ll edge cases; ll_to_str against printf. */
static void
test_numbers(void)
{
	static const struct num_case cases[] = {
		{ "0", 1, 0 }, { "1", 1, 1 }, { "-1", 1, -1 },
		{ "123", 1, 123 }, { "-123", 1, -123 },
		{ "9223372036854775807", 1, LLONG_MAX },
		{ "-9223372036854775808", 1, LLONG_MIN },
		{ "9223372036854775808", 0, 0 },
		{ "-9223372036854775809", 0, 0 },
		{ "92233720368547758070", 0, 0 },
		{ "18446744073709551615", 0, 0 },
		{ "18446744073709551616", 0, 0 },
		{ "-18446744073709551616", 0, 0 },
		{ "99999999999999999999", 0, 0 },
		{ "-0", 0, 0 }, { "00", 0, 0 }, { "01", 0, 0 }, { "-01", 0, 0 },
		{ "+1", 0, 0 }, { "", 0, 0 }, { "-", 0, 0 }, { " 1", 0, 0 },
		{ "1 ", 0, 0 }, { "1a", 0, 0 }, { "a", 0, 0 }, { "1.0", 0, 0 },
		{ "0x10", 0, 0 }, { "--1", 0, 0 }, { "1-", 0, 0 },
		{ "000000000000000000001", 0, 0 },
	};
	static const long long vals[] = {
		0, 1, -1, 9, 10, -9, -10, 99, 100, 999, 1000, 9999, 10000,
		99999, 100000, 123456789, -123456789, 4294967295LL,
		4294967296LL, 999999999999999999LL, 1000000000000000000LL,
		LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, LLONG_MAX - 1,
	};
	char buf[32], ref[32];
	long long v;
	uint64_t rng = 12345;
	size_t i, n;
	int r, bad;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 777;
		r = resp_str_to_ll(cases[i].s, strlen(cases[i].s), &v);
		ok(r == cases[i].ok && (!r || v == cases[i].v),
		    "resp_str_to_ll(\"%s\") = %d, %lld", cases[i].s, r, v);
	}
	ok(resp_str_to_ll("12", 1, &v) && v == 1, "only len bytes are read");
	ok(resp_str_to_ll("5", 1, NULL), "out may be NULL");
	ok(!resp_str_to_ll("1\0", 2, &v), "a NUL is not a digit");

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		memset(buf, 'x', sizeof(buf));
		n = resp_ll_to_str(buf, vals[i]);
		snprintf(ref, sizeof(ref), "%lld", vals[i]);
		ok(n == strlen(ref) && strcmp(buf, ref) == 0,
		    "resp_ll_to_str(%s)", ref);
	}
	bad = 0;
	for (i = 0; i < 20000; i++) {
		long long x = (long long)rng_next(&rng);

		x >>= rng_next(&rng) % 64;
		n = resp_ll_to_str(buf, x);
		snprintf(ref, sizeof(ref), "%lld", x);
		if (n != strlen(ref) || strcmp(buf, ref) != 0 ||
		    !resp_str_to_ll(buf, n, &v) || v != x)
			bad++;
	}
	ok(bad == 0, "20000 random values: ll_to_str matches printf and "
	    "round-trips");
}

/* ---- Replies ---- */

/* A test object tree for the builder callbacks. */
struct tobj {
	char type;              /* + - $ : n(il) * */
	char nil;               /* '$' or '*' for nil */
	long long v;
	char *s;
	size_t len;
	struct tobj **el;
	size_t n;
};

static int tb_live;             /* objects alive */
static int tb_calls;            /* builder calls so far */
static int tb_fail_at;          /* fail this call (1-based); 0: never */

/* Count a builder call; 1 if it is the one to fail. */
static int
tb_fail(void)
{
	return ++tb_calls == tb_fail_at;
}

/* Allocate a counted test object. */
static struct tobj *
tb_new(char type)
{
	struct tobj *o = calloc(1, sizeof(*o));

	if (o == NULL)
		abort();
	o->type = type;
	tb_live++;
	return o;
}

/* Builder: a status, error or bulk string. */
static void *
tb_str(void *ctx, char type, const char *p, size_t len)
{
	struct tobj *o;

	(void)ctx;
	if (tb_fail())
		return NULL;
	o = tb_new(type);
	o->s = malloc(len + 1);
	if (o->s == NULL)
		abort();
	memcpy(o->s, p, len);
	o->len = len;
	return o;
}

/* Builder: an integer. */
static void *
tb_int(void *ctx, long long v)
{
	struct tobj *o;

	(void)ctx;
	if (tb_fail())
		return NULL;
	o = tb_new(':');
	o->v = v;
	return o;
}

/* Builder: a nil bulk or array. */
static void *
tb_nil(void *ctx, char type)
{
	struct tobj *o;

	(void)ctx;
	if (tb_fail())
		return NULL;
	o = tb_new('n');
	o->nil = type;
	return o;
}

/* Builder: an array of n empty slots. */
static void *
tb_array(void *ctx, size_t n)
{
	struct tobj *o;

	(void)ctx;
	if (tb_fail())
		return NULL;
	o = tb_new('*');
	o->el = calloc(n ? n : 1, sizeof(*o->el));
	if (o->el == NULL)
		abort();
	o->n = n;
	return o;
}

static void tb_release(void *ctx, void *obj);

/* Builder: store elem in slot i (takes elem even on failure). */
static int
tb_set(void *ctx, void *array, size_t i, void *elem)
{
	struct tobj *a = array;

	if (tb_fail() || i >= a->n || a->el[i] != NULL) {
		tb_release(ctx, elem);
		return -1;
	}
	a->el[i] = elem;
	return 0;
}

/* Builder: free an object tree. */
static void
tb_release(void *ctx, void *obj)
{
	struct tobj *o = obj;
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->n; i++)
		tb_release(ctx, o->el[i]);
	free(o->el);
	free(o->s);
	free(o);
	tb_live--;
}

static const struct resp_builder tb = {
	tb_str, tb_int, tb_nil, tb_array, tb_set, tb_release,
};

/* Render an object tree as text. */
static void
tb_render(struct sbuf *b, const struct tobj *o)
{
	size_t i;

	if (o == NULL) {
		sb_str(b, "NULL");
		return;
	}
	switch (o->type) {
	case '+':
	case '-':
		sb_add(b, &o->type, 1);
		sb_add(b, o->s, o->len);
		break;
	case '$':
		sb_fmt(b, "$%zu:", o->len);
		sb_add(b, o->s, o->len);
		break;
	case ':':
		sb_fmt(b, ":%lld", o->v);
		break;
	case 'n':
		sb_fmt(b, "nil%c", o->nil);
		break;
	case '*':
		sb_add(b, "[", 1);
		for (i = 0; i < o->n; i++) {
			if (i > 0)
				sb_add(b, ",", 1);
			tb_render(b, o->el[i]);
		}
		sb_add(b, "]", 1);
		break;
	}
}

struct reply_case {
	const char *in;
	size_t inlen;
	const char *want;
	size_t wantlen;
};

static const struct reply_case reply_cases[] = {
	{ S("+OK\r\n"), S("+OK") },
	{ S("+\r\n"), S("+") },
	{ S("-ERR bad thing\r\n"), S("-ERR bad thing") },
	{ S(":0\r\n"), S(":0") },
	{ S(":-9223372036854775808\r\n"), S(":-9223372036854775808") },
	{ S("$3\r\nfoo\r\n"), S("$3:foo") },
	{ S("$0\r\n\r\n"), S("$0:") },
	{ S("$6\r\na\r\n\0b\n\r\n"), S("$6:a\r\n\0b\n") },
	{ S("$-1\r\n"), S("nil$") },
	{ S("*-1\r\n"), S("nil*") },
	{ S("*0\r\n"), S("[]") },
	{ S("*3\r\n:1\r\n$1\r\na\r\n*2\r\n+x\r\n$-1\r\n"),
	  S("[:1,$1:a,[+x,nil$]]") },
	{ S("*2\r\n*0\r\n*1\r\n*-1\r\n"), S("[[],[nil*]]") },
	{ S("*4\r\n-E1\r\n*1\r\n*1\r\n$2\r\nhi\r\n:7\r\n$3\r\n\r\n\r\r\n"),
	  S("[-E1,[[$2:hi]],:7,$3:\r\n\r]") },
};

static const char *const bad_replies[] = {
	"?x\r\n", ":abc\r\n", ":\r\n", ":01\r\n", "$-2\r\n", "*-2\r\n",
	"$3\r\nfooXY", "+OK\n", "\r\n", "$abc\r\n", "*1\r\n?\r\n", "$ 3\r\n",
	"*2\r\n:1\r\n!\r\n", "$1\r\nab\r\n",
};

/* Scan in[0..n) delivered byte by byte with one scan state: 0 until the
 * end, then n. Returns 1 if so. */
static int
scan_bytewise(const char *in, size_t n)
{
	struct resp_scan s;
	long long r;
	size_t k;

	resp_scan_init(&s);
	for (k = 0; k < n; k++) {
		if (resp_scan_reply(&s, in, k, NULL) != 0 ||
		    resp_scan_reply(&s, in, k, NULL) != 0)
			return 0;
	}
	r = resp_scan_reply(&s, in, n, NULL);
	return r == (long long)n;
}

/* Reply scanner and reader: types, nesting, pieces, errors. */
static void
test_replies(void)
{
	struct resp_scan s;
	struct sbuf in = { 0 }, got = { 0 };
	struct tobj *o;
	size_t i, need, k;
	long long r;
	int calls, bad, f;
	char what[64];

	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
		const struct reply_case *c = &reply_cases[i];

		resp_scan_init(&s);
		r = resp_scan_reply(&s, c->in, c->inlen, NULL);
		is_int(r, c->inlen, "reply %zu: scan", i);
		in.len = 0;
		sb_add(&in, c->in, c->inlen);
		sb_str(&in, "+NEXT\r\n:1\r\n");
		resp_scan_init(&s);
		r = resp_scan_reply(&s, in.d, in.len, NULL);
		is_int(r, c->inlen, "reply %zu: scan, more replies after it",
		    i);
		ok(scan_bytewise(c->in, c->inlen),
		    "reply %zu: scan byte by byte", i);

		tb_calls = 0;
		o = resp_read_reply(&tb, NULL, in.d, in.len);
		got.len = 0;
		tb_render(&got, o);
		snprintf(what, sizeof(what), "reply %zu: read", i);
		sb_is(&got, c->want, c->wantlen, what);
		tb_release(NULL, o);
		calls = tb_calls;
		bad = 0;
		for (f = 1; f <= calls; f++) {
			tb_calls = 0;
			tb_fail_at = f;
			o = resp_read_reply(&tb, NULL, c->in, c->inlen);
			if (o != NULL || tb_live != 0)
				bad++;
			tb_release(NULL, o);
		}
		tb_fail_at = 0;
		ok(bad == 0, "reply %zu: each of %d builder failures releases "
		    "everything", i, calls);
	}

	for (i = 0; i < sizeof(bad_replies) / sizeof(bad_replies[0]); i++) {
		const char *b = bad_replies[i];
		size_t n = strlen(b);

		resp_scan_init(&s);
		r = resp_scan_reply(&s, b, n, NULL);
		bad = r != -1;
		/* Byte by byte it must never claim success either. */
		resp_scan_init(&s);
		for (k = 1; k <= n && !bad; k++) {
			r = resp_scan_reply(&s, b, k, NULL);
			if (r > 0)
				bad = 1;
			if (r < 0)
				break;
		}
		o = resp_read_reply(&tb, NULL, b, n);
		ok(!bad && r == -1 && o == NULL && tb_live == 0,
		    "malformed reply %zu refused", i);
		tb_release(NULL, o);
	}

	/* Depth: 64 nested arrays are fine, 65 are not. */
	in.len = 0;
	for (i = 0; i < RESP_REPLY_MAX_DEPTH; i++)
		sb_str(&in, "*1\r\n");
	sb_str(&in, ":5\r\n");
	resp_scan_init(&s);
	r = resp_scan_reply(&s, in.d, in.len, NULL);
	is_int(r, in.len, "64 nested arrays scan");
	ok(scan_bytewise(in.d, in.len), "64 nested arrays byte by byte");
	o = resp_read_reply(&tb, NULL, in.d, in.len);
	got.len = 0;
	tb_render(&got, o);
	ok(o != NULL && got.len == 64 * 2 + 2, "64 nested arrays read");
	tb_release(NULL, o);
	in.len = 0;
	for (i = 0; i < RESP_REPLY_MAX_DEPTH + 1; i++)
		sb_str(&in, "*1\r\n");
	sb_str(&in, ":5\r\n");
	resp_scan_init(&s);
	r = resp_scan_reply(&s, in.d, in.len - 4, NULL);
	is_int(r, -1, "65 nested array headers: malformed at once");
	resp_scan_init(&s);
	r = resp_scan_reply(&s, in.d, in.len, NULL);
	is_int(r, -1, "65 nested arrays: malformed");
	o = resp_read_reply(&tb, NULL, in.d, in.len);
	ok(o == NULL && tb_live == 0, "65 nested arrays not read");

	/* A large bulk in pieces: need counts down, the body is skipped. */
	in.len = 0;
	sb_str(&in, "*2\r\n$1000000\r\n");
	for (i = 0; i < 1000000; i++)
		sb_add(&in, "\r", 1);
	sb_str(&in, "\r\n:9\r\n");
	resp_scan_init(&s);
	bad = 0;
	for (k = 4096; k < in.len; k += 4096) {
		r = resp_scan_reply(&s, in.d, k, &need);
		if (r != 0 || (k >= 14 && k < in.len - 6 &&
		    need != 1000000 + 2 - (k - 14)))
			bad++;
	}
	r = resp_scan_reply(&s, in.d, in.len, &need);
	ok(bad == 0 && r == (long long)in.len && s.pos == in.len,
	    "1 MB bulk scanned in 4 KB pieces, need counts down");
	o = resp_read_reply(&tb, NULL, in.d, in.len);
	ok(o != NULL && o->n == 2 && o->el[0]->len == 1000000 &&
	    o->el[1]->v == 9, "1 MB bulk read");
	tb_release(NULL, o);
	/* A long status line in pieces. */
	in.len = 0;
	sb_str(&in, "+");
	for (i = 0; i < 100000; i++)
		sb_add(&in, "s", 1);
	sb_str(&in, "\r\n");
	resp_scan_init(&s);
	bad = 0;
	for (k = 1; k < in.len; k += 1000)
		if (resp_scan_reply(&s, in.d, k, NULL) != 0)
			bad++;
	r = resp_scan_reply(&s, in.d, in.len, NULL);
	ok(bad == 0 && r == (long long)in.len, "long status line in pieces");
	ok(tb_live == 0, "no test objects leaked");
	sb_free(&in);
	sb_free(&got);
}

int
main(void)
{
	test_request_table();
	test_request_table_pipeline();
	test_big_requests();
	test_limits();
	test_unauthenticated();
	test_allocation();
	test_parser_api();
	test_encoder();
	test_numbers();
	test_replies();
	return done_testing();
}
