/* SPDX-License-Identifier: MIT */
/*
 * RESP2: an incremental, bounded request parser (multibulk and inline
 * forms, as Redis 7 parses them) and a reply encoder into a growable
 * buffer. No I/O and no globals: the client layer feeds bytes in and
 * writes the encoded bytes out.
 */
#ifndef TMC_RESP_H
#define TMC_RESP_H

#include <stdarg.h>
#include <stddef.h>

/* ---- Limits (Redis 7 defaults) ---- */
#define RESP_INLINE_MAX (64 * 1024)          /* PROTO_INLINE_MAX_SIZE: inline
                                              * line, and a '*'/'$' header
                                              * line before its CR arrives */
#define RESP_BULK_MAX_DEFAULT (512LL * 1024 * 1024) /* proto-max-bulk-len */
#define RESP_ARGV_INITIAL 1024               /* argv starts at most this
                                              * big and doubles as arguments
                                              * arrive; the declared count
                                              * never sizes an allocation */
#define RESP_ERR_LEN 128                     /* room for a protocol error */
#define RESP_UNAUTH_ARGC_MAX 10              /* arguments before AUTH */
#define RESP_UNAUTH_BULK_MAX 16384           /* bulk bytes before AUTH */

/* ---- Results of resp_parse() ---- */
#define RESP_OK 0          /* one request parsed (argc may be 0: ignore it) */
#define RESP_INCOMPLETE 1  /* need more bytes */
#define RESP_ERR (-1)      /* protocol error: reply p->err, close after */

/* One argument of a parsed request. */
struct resp_arg {
	char *ptr;         /* into the caller's buffer; valid after RESP_OK */
	size_t len;        /* bytes; binary-safe */
	size_t off;        /* offset from the request's start (internal) */
};

/*
 * Request parser state, one per connection. It remembers how far it got,
 * so every call resumes where the previous one stopped and each byte is
 * scanned about once, whatever the fragmentation.
 */
struct resp_parser {
	long long bulk_max;        /* proto-max-bulk-len for this parser */
	int unauthenticated;       /* AUTH pending: Redis's tighter caps,
	                            * RESP_UNAUTH_ARGC_MAX arguments and
	                            * RESP_UNAUTH_BULK_MAX bytes a bulk */
	size_t start;              /* buffer offset of the current request */
	size_t pos;                /* buffer offset parsed up to */
	int kind;                  /* 0 between requests, '*' or 'i' */
	long long multibulk_left;  /* bulks still expected ('*' only) */
	long long bulk_len;        /* current bulk's length, -1 if unknown */
	int argc;                  /* arguments parsed so far / in request */
	int argv_cap;              /* allocated slots in argv */
	struct resp_arg *argv;     /* grown as arguments arrive */
	char err[RESP_ERR_LEN];    /* after RESP_ERR: "Protocol error: ..." */
};

/* Set up a parser; bulk_max <= 0 means RESP_BULK_MAX_DEFAULT. */
void resp_parser_init(struct resp_parser *p, long long bulk_max);

/* Release the parser's memory (not the buffer it parsed). */
void resp_parser_free(struct resp_parser *p);

/*
 * Parse the next request in buf[0..len). The caller keeps the unconsumed
 * bytes in the buffer between calls and appends new ones after them; the
 * parser resumes at p->pos.
 *
 * RESP_OK: a whole request; p->argc and p->argv[0..argc) describe it, and
 *   p->pos is just past it. argv pointers point into buf (inline requests
 *   are unescaped in place, so buf is modified) and stay valid until the
 *   next call that changes the buffer. argc == 0 means an empty request
 *   (an empty inline line, "*0", "*-1"): Redis ignores those, so must the
 *   caller.
 * RESP_INCOMPLETE: every byte so far is consumed into the parser's state;
 *   call again when more bytes have arrived.
 * RESP_ERR: p->err holds the error text without the leading "-ERR " (for
 *   example "Protocol error: invalid bulk length"). The caller replies
 *   with it and closes the connection after writing the reply; the parser
 *   must not be used again.
 *
 * Bytes are never copied and nothing is allocated for lengths that have
 * not arrived; only argv grows, by doubling, as arguments complete.
 */
int resp_parse(struct resp_parser *p, char *buf, size_t len);

/*
 * Tell the parser the caller removed the first n bytes of its buffer
 * (n <= p->start, i.e. only bytes of requests already handled). Call it
 * after moving the unconsumed bytes to the front.
 */
void resp_parser_shift(struct resp_parser *p, size_t n);

/* Bytes the current partial request still needs, when known (a bulk whose
 * length was read); 0 when unknown. Lets the caller size its next read. */
size_t resp_parser_need(const struct resp_parser *p);

/* ---- Reply encoding ---- */

/* A growable output buffer. Zero-initialize it or use resp_buf_init. */
struct resp_buf {
	char *data;
	size_t len;                /* bytes written */
	size_t cap;                /* bytes allocated */
};

void resp_buf_init(struct resp_buf *b);
void resp_buf_free(struct resp_buf *b);
void resp_buf_reserve(struct resp_buf *b, size_t extra); /* room for extra */
void resp_buf_append(struct resp_buf *b, const void *p, size_t n); /* raw */

void resp_add_simple(struct resp_buf *b, const char *s);     /* +s\r\n */
void resp_add_ok(struct resp_buf *b);                        /* +OK\r\n */
/* An error reply. msg is used as Redis's addReplyErrorLength does: a
 * leading '-' is kept, otherwise "-ERR " is prepended; CR and LF inside
 * become spaces. */
void resp_add_error(struct resp_buf *b, const char *msg, size_t len);
void resp_add_errorf(struct resp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_buf *b, long long v);          /* :v\r\n */
void resp_add_bulk(struct resp_buf *b, const void *p, size_t n);
void resp_add_bulk_str(struct resp_buf *b, const char *s);   /* C string */
void resp_add_bulk_ll(struct resp_buf *b, long long v);      /* as bulk */
void resp_add_null(struct resp_buf *b);                      /* $-1\r\n */
void resp_add_null_array(struct resp_buf *b);                /* *-1\r\n */
void resp_add_array_len(struct resp_buf *b, long long n);    /* *n\r\n */
/* Insert "*n\r\n" at offset off (an array whose length was unknown until
 * its elements were written, as for KEYS). */
void resp_insert_array_len(struct resp_buf *b, size_t off, long long n);

/* Encode a command as a multibulk request (used by clients and tests). */
void resp_add_command(struct resp_buf *b, int argc, const char *const *argv,
    const size_t *argvlen);

/* ---- Reply reading (for clients: the Python package and the tests) ---- */

#define RESP_REPLY_MAX_DEPTH 64    /* nesting of arrays in one reply */

/*
 * Resumable scan for the end of one reply (RESP2: + - : $ *). Zero it
 * (or resp_scan_init) before the first call for each reply; call again
 * with the same buffer grown by new bytes.
 */
struct resp_scan {
	size_t pos;                         /* scanned up to */
	int depth;                          /* open arrays */
	long long left[RESP_REPLY_MAX_DEPTH]; /* elements left per level */
	long long bulk_need;                /* bytes of a bulk body + CRLF
	                                     * still to skip, 0 if none */
};

void resp_scan_init(struct resp_scan *s);

/* > 0: the reply is complete and is that many bytes long; 0: incomplete
 * (*need, if not NULL, gets a lower bound on the bytes still missing,
 * 0 if unknown); -1: the bytes are not a valid RESP2 reply. */
long long resp_scan_reply(struct resp_scan *s, const char *buf, size_t len,
    size_t *need);

/* Builders for resp_read_reply(): each returns a new object or NULL on
 * failure (which aborts the read); the reader never allocates itself. */
struct resp_builder {
	void *(*str)(void *ctx, char type, const char *p, size_t len);
	                                    /* type '+', '-' or '$' */
	void *(*integer)(void *ctx, long long v);
	void *(*nil)(void *ctx, char type); /* "$-1" or "*-1" */
	void *(*array)(void *ctx, size_t n);
	int (*array_set)(void *ctx, void *array, size_t i, void *elem);
	                                    /* 0 ok; takes elem either way */
	void (*release)(void *ctx, void *obj);
};

/* Build one complete reply (buf holds at least the length
 * resp_scan_reply returned). Returns the object, or NULL if a builder
 * failed (anything built so far is released). */
void *resp_read_reply(const struct resp_builder *b, void *ctx,
    const char *buf, size_t len);

/* ---- Numbers ---- */

/* Redis's string2ll: the whole of s[0..len) is a canonical decimal
 * long long (no spaces, no '+', no leading zeros). 1 on success. */
int resp_str_to_ll(const char *s, size_t len, long long *out);
/* Write v in decimal; returns the length (at most 20; buf >= 21). */
size_t resp_ll_to_str(char *buf, long long v);

#endif
