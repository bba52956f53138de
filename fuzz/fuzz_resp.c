/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the request parser, resp_parse(): the input is the byte
 * stream a client sends. It is parsed whole, byte by byte, and in random
 * pieces with the client's buffer handling; every way must give the same
 * requests and the same end, with the parser's invariants holding.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mem.h"
#include "resp.h"

const char fuzz_target_name[] = "fuzz_resp";

#define FUZZ_RESP_SMALL_BULK 64        /* bulk_max of the limits pass */

/* How the input reaches the parser. */
enum feed {
	FEED_WHOLE,        /* all at once */
	FEED_BYTES,        /* one byte per read, never compacted */
	FEED_PIECES,       /* random pieces, compacted as the client does */
};

/*
 * The requests one pass saw, serialized so two passes compare with
 * memcmp: "R" argc (len bytes)... per request, then "I" need or "E" err.
 */
struct trace {
	struct resp_buf out;
};

/* Append a size_t to the trace. */
static void
trace_num(struct trace *t, size_t n)
{
	resp_buf_append(&t->out, &n, sizeof(n));
}

/* Check what every call leaves behind, whatever it returned. */
static void
check_state(const struct resp_parser *p, size_t len)
{
	FUZZ_CHECK(p->start <= p->pos);
	FUZZ_CHECK(p->pos <= len);
	FUZZ_CHECK(p->argc >= 0);
	FUZZ_CHECK(p->argv_cap >= 0);
	/* Memory follows the arguments that arrived, never a declared
	 * count: at most the initial allocation or twice the arguments. */
	FUZZ_CHECK(p->argv_cap <= RESP_ARGV_INITIAL ||
	    (long long)p->argv_cap <= 2LL * ((long long)p->argc + 1));
}

/* Check a parsed request against the buffer it came from and record it. */
static void
check_request(const struct resp_parser *p, const char *buf, size_t len,
    size_t req_start, struct trace *t)
{
	int i;

	FUZZ_CHECK(p->start == p->pos);
	FUZZ_CHECK(p->pos > req_start);          /* progress */
	FUZZ_CHECK(p->argc <= p->argv_cap || p->argc == 0);
	resp_buf_append(&t->out, "R", 1);
	trace_num(t, (size_t)p->argc);
	for (i = 0; i < p->argc; i++) {
		const struct resp_arg *a = &p->argv[i];

		/* Inside this request's bytes. */
		FUZZ_CHECK(a->ptr >= buf + req_start);
		FUZZ_CHECK(a->ptr <= buf + p->pos);
		FUZZ_CHECK(a->len <= (size_t)(buf + p->pos - a->ptr));
		trace_num(t, a->len);
		resp_buf_append(&t->out, a->ptr, a->len);
	}
}

/* Record how a pass ended: incomplete (with what it still needs) or a
 * protocol error (with its text). */
static void
trace_end(struct trace *t, const struct resp_parser *p, int r)
{
	if (r == RESP_ERR) {
		size_t n = strnlen(p->err, sizeof(p->err));

		FUZZ_CHECK(n < sizeof(p->err));
		FUZZ_CHECK(strncmp(p->err, "Protocol error: ", 16) == 0);
		resp_buf_append(&t->out, "E", 1);
		resp_buf_append(&t->out, p->err, n);
	} else {
		FUZZ_CHECK(r == RESP_INCOMPLETE);
		resp_buf_append(&t->out, "I", 1);
		trace_num(t, resp_parser_need(p));
	}
}

/*
 * Encode a parsed request as a multibulk and parse that: the same
 * arguments must come back, and exactly the encoding must be consumed.
 */
static void
check_roundtrip(const struct resp_parser *p)
{
	struct resp_parser q;
	struct resp_buf enc;
	const char **argv;
	size_t *lens;
	char *copy;
	int i, r;

	if (p->argc == 0)
		return;
	argv = malloc((size_t)p->argc * sizeof(*argv));
	lens = malloc((size_t)p->argc * sizeof(*lens));
	FUZZ_CHECK(argv != NULL && lens != NULL);
	for (i = 0; i < p->argc; i++) {
		argv[i] = p->argv[i].ptr;
		lens[i] = p->argv[i].len;
	}
	resp_buf_init(&enc);
	resp_add_command(&enc, p->argc, argv, lens);
	/* An exact-size copy, so a read past the end is caught. */
	copy = malloc(enc.len);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, enc.data, enc.len);

	resp_parser_init(&q, 0);
	r = resp_parse(&q, copy, enc.len);
	FUZZ_CHECK(r == RESP_OK);
	FUZZ_CHECK(q.pos == enc.len);
	FUZZ_CHECK(q.argc == p->argc);
	for (i = 0; i < p->argc; i++) {
		FUZZ_CHECK(q.argv[i].len == lens[i]);
		FUZZ_CHECK(memcmp(q.argv[i].ptr, argv[i], lens[i]) == 0);
	}
	FUZZ_CHECK(resp_parse(&q, copy, enc.len) == RESP_INCOMPLETE);
	resp_parser_free(&q);
	free(copy);
	resp_buf_free(&enc);
	free(lens);
	free(argv);
}

/*
 * Parse the input fed the given way, recording into t. Whole or in
 * pieces, the buffer is exactly as big as the bytes it holds, so any
 * read past them is caught by AddressSanitizer.
 */
static void
run_pass(const uint8_t *data, size_t size, enum feed feed, uint64_t seed,
    struct trace *t)
{
	struct resp_parser p;
	char *buf = NULL;
	size_t len = 0, fed = 0, need = 0, piece, req_start;
	uint64_t rng = seed | 1;
	int r = RESP_INCOMPLETE, first;

	resp_parser_init(&p, 0);
	while (fed < size) {
		if (feed == FEED_WHOLE)
			piece = size;
		else if (feed == FEED_BYTES)
			piece = 1;
		else if (fuzz_rand(&rng) % 4 == 0)
			piece = 1 + fuzz_rand(&rng) % 3;
		else
			piece = 1 + fuzz_rand(&rng) % 64;
		if (piece > size - fed)
			piece = size - fed;
		/* Byte by byte, the buffer is allocated once (reallocating
		 * each time would make the pass quadratic); the other ways
		 * keep it exactly as long as its contents. */
		if (feed != FEED_BYTES)
			buf = realloc(buf, len + piece);
		else if (buf == NULL)
			buf = malloc(size);
		FUZZ_CHECK(buf != NULL);
		memcpy(buf + len, data + fed, piece);
		len += piece;
		fed += piece;

		for (first = 1;; first = 0) {
			req_start = p.kind == 0 ? p.pos : p.start;
			r = resp_parse(&p, buf, len);
			/* Fewer bytes than the parser said it needs neither
			 * complete the request nor break it. */
			if (first && piece < need)
				FUZZ_CHECK(r == RESP_INCOMPLETE);
			if (r == RESP_ERR)
				break;
			check_state(&p, len);
			if (r == RESP_INCOMPLETE) {
				need = resp_parser_need(&p);
				FUZZ_CHECK(need <= (size_t)p.bulk_max + 2);
				break;
			}
			FUZZ_CHECK(r == RESP_OK);
			check_request(&p, buf, len, req_start, t);
			if (feed == FEED_WHOLE)
				check_roundtrip(&p);
		}
		if (r == RESP_ERR)
			break;
		/* The client drops the handled bytes now and then. */
		if (feed == FEED_PIECES && p.start > 0 &&
		    fuzz_rand(&rng) % 2 == 0) {
			size_t done = p.start;

			memmove(buf, buf + done, len - done);
			len -= done;
			resp_parser_shift(&p, done);
			if (len > 0) {
				buf = realloc(buf, len);
				FUZZ_CHECK(buf != NULL);
			} else {
				free(buf);
				buf = NULL;
			}
		}
	}
	trace_end(t, &p, r);
	resp_parser_free(&p);
	free(buf);
}

/*
 * A whole pass with the tight limits: a tiny bulk limit, and the caps
 * for a client that has not authenticated. No multibulk request may get
 * through with more arguments or longer ones, whatever it declares.
 */
static void
run_limits(const uint8_t *data, size_t size)
{
	struct resp_parser p;
	char *buf = malloc(size);
	int i, r, multibulk;

	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	resp_parser_init(&p, FUZZ_RESP_SMALL_BULK);
	p.unauthenticated = 1;
	for (;;) {
		/* Read before parsing: inline arguments are unescaped in
		 * place, over the request's first bytes. */
		multibulk = p.pos < size && buf[p.pos] == '*';
		r = resp_parse(&p, buf, size);
		if (r != RESP_OK)
			break;
		check_state(&p, size);
		if (!multibulk)
			continue;
		FUZZ_CHECK(p.argc <= RESP_UNAUTH_ARGC_MAX);
		for (i = 0; i < p.argc; i++)
			FUZZ_CHECK(p.argv[i].len <= FUZZ_RESP_SMALL_BULK);
	}
	resp_parser_free(&p);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, bytes, pieces;
	uint64_t seed = fuzz_hash(data, size);
	size_t used = mem_used();

	if (size == 0)
		return 0;
	resp_buf_init(&whole.out);
	resp_buf_init(&bytes.out);
	resp_buf_init(&pieces.out);
	run_pass(data, size, FEED_WHOLE, seed, &whole);
	run_pass(data, size, FEED_BYTES, seed, &bytes);
	run_pass(data, size, FEED_PIECES, seed, &pieces);
	/* Past RESP_INLINE_MAX, where a line's end falls relative to the
	 * reads decides between "too big" and a request, as in Redis. */
	if (size <= RESP_INLINE_MAX) {
		FUZZ_CHECK(whole.out.len == bytes.out.len);
		FUZZ_CHECK(memcmp(whole.out.data, bytes.out.data,
		    whole.out.len) == 0);
		FUZZ_CHECK(whole.out.len == pieces.out.len);
		FUZZ_CHECK(memcmp(whole.out.data, pieces.out.data,
		    whole.out.len) == 0);
	}
	resp_buf_free(&whole.out);
	resp_buf_free(&bytes.out);
	resp_buf_free(&pieces.out);
	run_limits(data, size);
	/* Everything the parser allocated went back. */
	FUZZ_CHECK(mem_used() == used);
	return 0;
}
