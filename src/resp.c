/* SPDX-License-Identifier: MIT */
/*
 * RESP2 request parser (Redis 7's multibulk and inline rules, resumable
 * and bounded), reply encoder, reply scanner/reader and number helpers.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "resp.h"

#if defined(__GNUC__)
#define RESP_LIKELY(x) __builtin_expect(!!(x), 1)
#define RESP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RESP_LIKELY(x) (x)
#define RESP_UNLIKELY(x) (x)
#endif

/* ---- Parser internals ---- */

/*
 * Parser states, kept in struct resp_parser:
 *   kind 0      between requests; the next byte at pos picks the kind.
 *   kind 'i'    an inline line: start is its first byte, pos how far it
 *               was searched for '\n' without finding it (or a NUL).
 *   kind '*'    a multibulk request. multibulk_left == 0: its count line
 *               is being read (search progress in pos). Otherwise
 *               argv[argc] is the argument being read: its off is the
 *               offset of its "$" header while bulk_len < 0 (pos: search
 *               progress), then of its body once bulk_len >= 0 (pos: how
 *               far the body has arrived).
 *   kind DEAD   after a protocol error.
 * A header or inline line whose search hit a NUL byte can never end, as
 * Redis looks for the terminator with strchr(): bulk_len is then
 * RESP_LINE_BLOCKED and only the length limit still applies.
 */
#define RESP_KIND_DEAD (-1)
#define RESP_LINE_BLOCKED (-2)      /* bulk_len: a NUL hides the line end */
#define RESP_NEVER ((size_t)-1)     /* resp_find(): a NUL came first */
#define RESP_ARGV_MIN 8             /* smallest argv allocation */
#define RESP_LONG_STR_SIZE 21       /* string2ll: longer input is invalid */

/* Redis 7's protocol error texts. */
#define RESP_E_INLINE "Protocol error: too big inline request"
#define RESP_E_QUOTES "Protocol error: unbalanced quotes in request"
#define RESP_E_MBULK_BIG "Protocol error: too big mbulk count string"
#define RESP_E_MBULK_LEN "Protocol error: invalid multibulk length"
#define RESP_E_BULK_BIG "Protocol error: too big bulk count string"
#define RESP_E_BULK_LEN "Protocol error: invalid bulk length"
#define RESP_E_UNAUTH_MBULK "Protocol error: unauthenticated multibulk length"
#define RESP_E_UNAUTH_BULK "Protocol error: unauthenticated bulk length"

/*
 * Find the first byte c in buf[from..len) as strchr() would in a
 * NUL-terminated copy of the buffer. Returns its offset, len if neither c
 * nor a NUL is there yet, or RESP_NEVER if a NUL comes first.
 */
static size_t
resp_find(const char *buf, size_t from, size_t len, int c)
{
	const char *s = buf + from, *hit;
	size_t n = len - from;

	hit = memchr(s, c, n);
	if (hit != NULL)
		n = (size_t)(hit - s);
	if (memchr(s, '\0', n) != NULL)
		return RESP_NEVER;
	return hit != NULL ? (size_t)(hit - buf) : len;
}

/* Record a protocol error; the parser is dead afterwards. */
static int
resp_fail(struct resp_parser *p, const char *msg)
{
	size_t n = strlen(msg);

	if (n >= sizeof(p->err))
		n = sizeof(p->err) - 1;
	memcpy(p->err, msg, n);
	p->err[n] = '\0';
	p->kind = RESP_KIND_DEAD;
	return RESP_ERR;
}

/* Resize argv to cap slots. */
static void
resp_argv_resize(struct resp_parser *p, int cap)
{
	p->argv = mem_realloc(p->argv, (size_t)cap * sizeof(*p->argv));
	p->argv_cap = cap;
}

/*
 * Make argv hold at least need slots: grow to double the old size (or
 * need, if more), but to no more than limit (>= need) and no less than
 * RESP_ARGV_MIN. Doubling keeps a run of ever larger requests from
 * reallocating each time.
 */
static void
resp_argv_reserve(struct resp_parser *p, long long need, long long limit)
{
	long long cap;

	if (RESP_LIKELY(p->argv_cap >= need))
		return;
	cap = (long long)p->argv_cap * 2;
	if (cap < need)
		cap = need;
	if (cap > limit)
		cap = limit;
	if (cap < RESP_ARGV_MIN)
		cap = RESP_ARGV_MIN;
	resp_argv_resize(p, (int)(cap > INT_MAX ? INT_MAX : cap));
}

/* Finish a request: point argv into buf (unless every pointer was set
 * from this very buffer), get ready for the next one. */
static int
resp_done(struct resp_parser *p, char *buf, int fresh)
{
	char *base = buf + p->start;
	int i;

	if (!fresh)
		for (i = 0; i < p->argc; i++)
			p->argv[i].ptr = base + p->argv[i].off;
	p->start = p->pos;
	p->kind = 0;
	p->bulk_len = -1;
	return RESP_OK;
}

/*
 * The common header: at hs a type byte (checked by the caller), 1 to 18
 * digits in canonical form, CR, and one more byte present. Returns 1
 * with *cr at the CR and the value in *ll; 0 means "not this simple",
 * and resp_header() decides.
 */
static inline int
resp_fast_header(const char *buf, size_t hs, size_t len, size_t *cr,
    long long *ll)
{
	size_t i = hs + 1, lim;
	unsigned long long v;
	unsigned c;

	if (len - hs < 4)
		return 0;
	v = (unsigned char)buf[i++] - (unsigned)'0';
	if (v > 9)
		return 0;
	if (v != 0) {           /* "0" must be alone */
		lim = len - 1 < hs + 19 ? len - 1 : hs + 19;
		while (i < lim &&
		    (c = (unsigned char)buf[i] - (unsigned)'0') <= 9) {
			v = v * 10 + c;
			i++;
		}
	}
	if (i >= len - 1 || buf[i] != '\r')
		return 0;
	*cr = i;
	*ll = (long long)v;
	return 1;
}

/*
 * Read a '*' or '$' header line beginning at hs (the type byte) exactly
 * as Redis does: its end is the first CR, found with strchr() semantics
 * (a NUL hides it), and it is complete once one more byte (any byte)
 * has arrived. Returns 1 with *cr at the CR and *ok and *ll holding
 * string2ll of the bytes between the type byte and the CR; 0 if the line
 * is not complete yet (p->pos remembers how far it was searched, so no
 * byte is searched twice); -1 if it is not complete and more than
 * RESP_INLINE_MAX bytes are pending from hs.
 */
static int
resp_header(struct resp_parser *p, const char *buf, size_t len, size_t hs,
    size_t *cr, int *ok, long long *ll)
{
	size_t end;

	if (p->bulk_len != RESP_LINE_BLOCKED) {
		end = resp_find(buf, p->pos, len, '\r');
		if (end == RESP_NEVER) {
			p->bulk_len = RESP_LINE_BLOCKED;
			p->pos = len;
		} else if (end < len) {
			if (end + 1 < len) {
				/* end == hs: the "type byte" is the CR. */
				*cr = end;
				*ok = end > hs && resp_str_to_ll(buf + hs + 1,
				    end - hs - 1, ll);
				return 1;
			}
			p->pos = end;   /* found again at once next time */
			return 0;
		} else
			p->pos = len;
	}
	return len - hs > RESP_INLINE_MAX ? -1 : 0;
}

/* Report "expected '$', got 'c'" as Redis formats it (CR/LF become
 * spaces, as in every formatted error). */
static int
resp_fail_dollar(struct resp_parser *p, char c)
{
	char msg[64];

	if (c == '\r' || c == '\n')
		c = ' ';
	snprintf(msg, sizeof(msg), "Protocol error: expected '$', got '%c'", c);
	return resp_fail(p, msg);
}

/*
 * Parse (the rest of) a multibulk request; fresh says it starts in this
 * call. See resp_parse(). The hot state lives in locals (buf is char,
 * so every store through it could alias the parser) and is written back
 * on the way out.
 */
static int
resp_parse_multibulk(struct resp_parser *p, char *buf, size_t len,
    int fresh)
{
	size_t start = p->start, pos, hs, at, cr;
	long long left = p->multibulk_left, blen, ll;
	struct resp_arg *argv;
	int argc = p->argc, r, ok;

	if (left == 0) {
		if (RESP_LIKELY(p->pos == start &&
		    resp_fast_header(buf, start, len, &cr, &ll)))
			ok = 1;
		else {
			r = resp_header(p, buf, len, start, &cr, &ok, &ll);
			if (r == 0)
				return RESP_INCOMPLETE;
			if (r < 0)
				return resp_fail(p, RESP_E_MBULK_BIG);
		}
		if (!ok || ll > INT_MAX)
			return resp_fail(p, RESP_E_MBULK_LEN);
		if (ll > RESP_UNAUTH_ARGC_MAX && p->unauthenticated)
			return resp_fail(p, RESP_E_UNAUTH_MBULK);
		p->pos = cr + 2;
		p->bulk_len = -1;
		if (ll <= 0)
			return resp_done(p, buf, 1);
		left = ll;
		/* Like Redis: min(count, 1024) slots to start with; the
		 * count alone never sizes more. */
		resp_argv_reserve(p, ll < RESP_ARGV_INITIAL ? ll :
		    RESP_ARGV_INITIAL, RESP_ARGV_INITIAL);
		p->argv[0].off = p->pos - start;
	}

	argv = p->argv;
	pos = p->pos;
	blen = p->bulk_len;
	for (;;) {
		if (blen >= 0)
			at = start + argv[argc].off;  /* resuming a body */
		else {
			hs = start + argv[argc].off;
			if (RESP_LIKELY(pos == hs && len - hs >= 4 &&
			    buf[hs] == '$' &&
			    resp_fast_header(buf, hs, len, &cr, &ll))) {
				if (RESP_UNLIKELY(ll > p->bulk_max))
					return resp_fail(p, RESP_E_BULK_LEN);
				if (RESP_UNLIKELY(ll > RESP_UNAUTH_BULK_MAX &&
				    p->unauthenticated))
					return resp_fail(p, RESP_E_UNAUTH_BULK);
			} else {
				p->pos = pos;
				p->bulk_len = blen;
				r = resp_header(p, buf, len, hs, &cr, &ok, &ll);
				if (r == 0) {
					p->argc = argc;
					p->multibulk_left = left;
					return RESP_INCOMPLETE;
				}
				if (r < 0)
					return resp_fail(p, RESP_E_BULK_BIG);
				if (buf[hs] != '$')
					return resp_fail_dollar(p, buf[hs]);
				if (!ok || ll < 0 || ll > p->bulk_max)
					return resp_fail(p, RESP_E_BULK_LEN);
				if (ll > RESP_UNAUTH_BULK_MAX &&
				    p->unauthenticated)
					return resp_fail(p, RESP_E_UNAUTH_BULK);
			}
			at = cr + 2;
			argv[argc].off = at - start;
			blen = ll;
		}
		if (len - at < (size_t)blen + 2) {
			p->pos = len;
			p->bulk_len = blen;
			p->argc = argc;
			p->multibulk_left = left;
			return RESP_INCOMPLETE;
		}
		/* The two bytes after the body are skipped unchecked, as
		 * Redis 7 does. */
		argv[argc].ptr = buf + at;
		argv[argc].len = (size_t)blen;
		pos = at + (size_t)blen + 2;
		blen = -1;
		argc++;
		if (--left == 0)
			break;
		if (RESP_UNLIKELY(argc == p->argv_cap)) {
			resp_argv_reserve(p, (long long)argc + 1,
			    (long long)argc + left);
			argv = p->argv;
		}
		argv[argc].off = pos - start;
	}
	p->pos = pos;
	p->argc = argc;
	p->multibulk_left = 0;
	return resp_done(p, buf, fresh);
}

/* Whitespace as isspace() sees it in the C locale. */
static int
resp_isspace(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Value of a hex digit, or -1. */
static int
resp_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append an argument [off, off+len) (relative to p->start) to argv. */
static void
resp_push_arg(struct resp_parser *p, size_t off, size_t len)
{
	if (p->argc == INT_MAX)
		return;     /* needs a line over 4 GB: drop the rest */
	resp_argv_reserve(p, (long long)p->argc + 1, INT_MAX);
	p->argv[p->argc].off = off;
	p->argv[p->argc].len = len;
	p->argc++;
}

/* The byte a backslash escape stands for inside double quotes. */
static char
resp_unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'a':
		return '\a';
	default:
		return c;       /* \" \\ and any other: the byte itself */
	}
}

/*
 * Copy the body of a quoted token, *sp just past its opening quote q,
 * to *wp: with \xHH and C escapes inside double quotes, only \' inside
 * single quotes. Returns 0 with *sp past the closing quote, or -1 if the
 * line ends first.
 */
static int
resp_split_quoted(char **sp, char *e, char **wp, char q)
{
	char *s = *sp, *w = *wp;
	int hi, lo;

	while (s < e) {
		if (*s == q) {
			*sp = s + 1;
			*wp = w;
			return 0;
		}
		if (*s != '\\' || e - s < 2)
			*w++ = *s++;
		else if (q == '\'') {
			if (s[1] == '\'')
				s++;
			*w++ = *s++;
		} else if (s[1] == 'x' && e - s >= 4 &&
		    (hi = resp_hexval((unsigned char)s[2])) >= 0 &&
		    (lo = resp_hexval((unsigned char)s[3])) >= 0) {
			*w++ = (char)(hi * 16 + lo);
			s += 4;
		} else {
			*w++ = resp_unescape(s[1]);
			s += 2;
		}
	}
	return -1;
}

/*
 * Split the inline line buf[from..end) into arguments the way Redis's
 * sdssplitargs() does, unescaping in place (the output never outruns the
 * input). Only space, tab, CR and LF end an unquoted token, though all
 * of isspace() separates tokens and may follow a closing quote. Returns
 * 0, or -1 for unbalanced quotes.
 */
static int
resp_split(struct resp_parser *p, char *buf, size_t from, size_t end)
{
	char *s = buf + from, *e = buf + end, *w, *arg;
	char c;

	p->argc = 0;
	for (;;) {
		while (s < e && resp_isspace((unsigned char)*s))
			s++;
		if (s == e)
			return 0;
		arg = w = s;
		while (s < e) {
			c = *s;
			if (c == '"' || c == '\'') {
				s++;
				if (resp_split_quoted(&s, e, &w, c) < 0)
					return -1;
				/* Whitespace or the end must follow. */
				if (s < e && !resp_isspace((unsigned char)*s))
					return -1;
				break;
			}
			s++;
			if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
				break;
			*w++ = c;
		}
		resp_push_arg(p, (size_t)(arg - (buf + from)),
		    (size_t)(w - arg));
	}
}

/* Parse (the rest of) an inline request. See resp_parse(). */
static int
resp_parse_inline(struct resp_parser *p, char *buf, size_t len)
{
	size_t nl, end;

	if (p->bulk_len != RESP_LINE_BLOCKED) {
		nl = resp_find(buf, p->pos, len, '\n');
		if (nl == RESP_NEVER)
			p->bulk_len = RESP_LINE_BLOCKED;
		else if (nl < len) {
			end = nl;
			if (end > p->start && buf[end - 1] == '\r')
				end--;
			if (resp_split(p, buf, p->start, end) < 0)
				return resp_fail(p, RESP_E_QUOTES);
			p->pos = nl + 1;
			return resp_done(p, buf, 0);
		}
		p->pos = len;
	}
	if (len - p->start > RESP_INLINE_MAX)
		return resp_fail(p, RESP_E_INLINE);
	return RESP_INCOMPLETE;
}

/* ---- Request parser ---- */

/* Set up a parser with no request in progress. */
void
resp_parser_init(struct resp_parser *p, long long bulk_max)
{
	memset(p, 0, sizeof(*p));
	p->bulk_max = bulk_max > 0 ? bulk_max : RESP_BULK_MAX_DEFAULT;
	p->bulk_len = -1;
}

/* Free argv; the parser can be set up again. */
void
resp_parser_free(struct resp_parser *p)
{
	mem_free(p->argv);
	p->argv = NULL;
	p->argv_cap = 0;
	p->argc = 0;
}

/*
 * Parse the next request (see resp.h). A new request starts at p->pos;
 * a partial one resumes from its saved state, so no byte is searched
 * twice and bulk bodies are never scanned at all.
 */
int
resp_parse(struct resp_parser *p, char *buf, size_t len)
{
	int fresh = 0;

	if (p->kind == 0) {
		if (p->pos >= len)
			return RESP_INCOMPLETE;
		p->start = p->pos;
		p->argc = 0;
		p->multibulk_left = 0;
		p->bulk_len = -1;
		/* A huge request's argv is not kept past it. */
		if (RESP_UNLIKELY(p->argv_cap > RESP_ARGV_INITIAL))
			resp_argv_resize(p, RESP_ARGV_INITIAL);
		p->kind = buf[p->pos] == '*' ? '*' : 'i';
		fresh = 1;
	}
	if (RESP_LIKELY(p->kind == '*'))
		return resp_parse_multibulk(p, buf, len, fresh);
	if (p->kind == 'i')
		return resp_parse_inline(p, buf, len);
	return RESP_ERR;
}

/* Account for n bytes dropped from the front of the buffer. */
void
resp_parser_shift(struct resp_parser *p, size_t n)
{
	p->start -= n;
	p->pos -= n;
}

/* Bytes still missing from the current bulk body (+ CRLF), or 0. */
size_t
resp_parser_need(const struct resp_parser *p)
{
	if (p->kind != '*' || p->multibulk_left == 0 || p->bulk_len < 0)
		return 0;
	return p->start + p->argv[p->argc].off + (size_t)p->bulk_len + 2 -
	    p->pos;
}

/* ---- Reply encoding ---- */

/* Start an empty buffer (nothing allocated yet). */
void
resp_buf_init(struct resp_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Free the buffer's memory and leave it empty. */
void
resp_buf_free(struct resp_buf *b)
{
	mem_free(b->data);
	resp_buf_init(b);
}

/* Grow to hold extra more bytes, at least doubling. */
void
resp_buf_reserve(struct resp_buf *b, size_t extra)
{
	size_t need = b->len + extra, cap;

	if (RESP_LIKELY(need <= b->cap))
		return;
	cap = b->cap < 64 ? 64 : b->cap;
	while (cap < need)
		cap = cap * 2 > cap ? cap * 2 : need;
	b->data = mem_realloc(b->data, cap);
	b->cap = cap;
}

/* Append n raw bytes. */
void
resp_buf_append(struct resp_buf *b, const void *p, size_t n)
{
	resp_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Write "<type><v>\r\n" at the end of b (room already reserved). */
static void
resp_put_line(struct resp_buf *b, char type, long long v)
{
	char *d = b->data + b->len;

	*d++ = type;
	d += resp_ll_to_str(d, v);
	*d++ = '\r';
	*d++ = '\n';
	b->len = (size_t)(d - b->data);
}

/* Append a status reply "+s\r\n". */
void
resp_add_simple(struct resp_buf *b, const char *s)
{
	size_t n = strlen(s);
	char *d;

	resp_buf_reserve(b, n + 3);
	d = b->data + b->len;
	*d++ = '+';
	memcpy(d, s, n);
	d += n;
	*d++ = '\r';
	*d++ = '\n';
	b->len = (size_t)(d - b->data);
}

/* Append "+OK\r\n". */
void
resp_add_ok(struct resp_buf *b)
{
	resp_buf_append(b, "+OK\r\n", 5);
}

/* Append an error reply; see resp.h for the prefix and CR/LF rules. */
void
resp_add_error(struct resp_buf *b, const char *msg, size_t len)
{
	char *d;
	size_t i;

	resp_buf_reserve(b, len + 7);
	d = b->data + b->len;
	if (len == 0 || msg[0] != '-') {
		memcpy(d, "-ERR ", 5);
		d += 5;
	}
	for (i = 0; i < len; i++)
		*d++ = msg[i] == '\r' || msg[i] == '\n' ? ' ' : msg[i];
	*d++ = '\r';
	*d++ = '\n';
	b->len = (size_t)(d - b->data);
}

/*
 * Format an error reply as Redis's addReplyErrorFormat does: CR and LF
 * are trimmed from both ends of the formatted text, then the rest goes
 * through resp_add_error() (prefix rule, inner CR/LF to spaces).
 */
void
resp_add_errorf(struct resp_buf *b, const char *fmt, ...)
{
	char small[256], *s = small;
	va_list ap;
	size_t n, i;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n = (size_t)r;
	if (n >= sizeof(small)) {
		s = mem_alloc(n + 1);
		va_start(ap, fmt);
		vsnprintf(s, n + 1, fmt, ap);
		va_end(ap);
	}
	i = 0;
	while (i < n && (s[i] == '\r' || s[i] == '\n'))
		i++;
	while (n > i && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	resp_add_error(b, s + i, n - i);
	if (s != small)
		mem_free(s);
}

/* Append an integer reply ":v\r\n". */
void
resp_add_int(struct resp_buf *b, long long v)
{
	resp_buf_reserve(b, 24);
	resp_put_line(b, ':', v);
}

/* Append a bulk string "$n\r\n<bytes>\r\n". */
void
resp_add_bulk(struct resp_buf *b, const void *p, size_t n)
{
	char *d;

	resp_buf_reserve(b, n + 26);
	resp_put_line(b, '$', (long long)n);
	d = b->data + b->len;
	if (n > 0)
		memcpy(d, p, n);
	d += n;
	*d++ = '\r';
	*d++ = '\n';
	b->len = (size_t)(d - b->data);
}

/* Append a C string as a bulk string. */
void
resp_add_bulk_str(struct resp_buf *b, const char *s)
{
	resp_add_bulk(b, s, strlen(s));
}

/* Append v in decimal as a bulk string. */
void
resp_add_bulk_ll(struct resp_buf *b, long long v)
{
	char digits[24];
	size_t n = resp_ll_to_str(digits, v);

	resp_add_bulk(b, digits, n);
}

/* Append a nil bulk "$-1\r\n". */
void
resp_add_null(struct resp_buf *b)
{
	resp_buf_append(b, "$-1\r\n", 5);
}

/* Append a nil array "*-1\r\n". */
void
resp_add_null_array(struct resp_buf *b)
{
	resp_buf_append(b, "*-1\r\n", 5);
}

/* Append an array header "*n\r\n". */
void
resp_add_array_len(struct resp_buf *b, long long n)
{
	resp_buf_reserve(b, 24);
	resp_put_line(b, '*', n);
}

/* Insert "*n\r\n" at off (<= b->len), moving what follows. */
void
resp_insert_array_len(struct resp_buf *b, size_t off, long long n)
{
	char hdr[24];
	size_t hl;

	hdr[0] = '*';
	hl = 1 + resp_ll_to_str(hdr + 1, n);
	hdr[hl++] = '\r';
	hdr[hl++] = '\n';
	resp_buf_reserve(b, hl);
	memmove(b->data + off + hl, b->data + off, b->len - off);
	memcpy(b->data + off, hdr, hl);
	b->len += hl;
}

/* Encode argv as "*argc" and one bulk per argument; argvlen NULL means
 * the arguments are C strings. */
void
resp_add_command(struct resp_buf *b, int argc, const char *const *argv,
    const size_t *argvlen)
{
	int i;

	resp_add_array_len(b, argc);
	for (i = 0; i < argc; i++)
		resp_add_bulk(b, argv[i],
		    argvlen != NULL ? argvlen[i] : strlen(argv[i]));
}

/* ---- Reply reading ---- */

/* Reset a scan for a new reply. */
void
resp_scan_init(struct resp_scan *s)
{
	memset(s, 0, sizeof(*s));
}

/*
 * Count one finished element: close every array it completes. Returns 1
 * when the whole reply is done.
 */
static int
resp_scan_pop(struct resp_scan *s)
{
	while (s->depth > 0) {
		if (--s->left[s->depth - 1] > 0)
			return 0;
		s->depth--;
	}
	return 1;
}

/*
 * Scan for the end of one reply at buf[0]. While a line is incomplete,
 * bulk_need holds minus the number of its bytes already searched, so a
 * long line arriving in pieces is searched only once too.
 */
long long
resp_scan_reply(struct resp_scan *s, const char *buf, size_t len,
    size_t *need)
{
	const char *nl;
	size_t from, ln;
	long long v;

	if (need != NULL)
		*need = 0;
	for (;;) {
		if (s->bulk_need > 0) {
			if (len - s->pos < (size_t)s->bulk_need) {
				s->bulk_need -= (long long)(len - s->pos);
				s->pos = len;
				if (need != NULL)
					*need = (size_t)s->bulk_need;
				return 0;
			}
			s->pos += (size_t)s->bulk_need;
			s->bulk_need = 0;
			if (buf[s->pos - 2] != '\r' || buf[s->pos - 1] != '\n')
				return -1;
			if (resp_scan_pop(s))
				return (long long)s->pos;
			continue;
		}
		from = s->pos + (size_t)(-s->bulk_need);
		if (from >= len) {
			s->bulk_need = -(long long)(len - s->pos);
			return 0;
		}
		nl = memchr(buf + from, '\n', len - from);
		if (nl == NULL) {
			s->bulk_need = -(long long)(len - s->pos);
			return 0;
		}
		s->bulk_need = 0;
		ln = (size_t)(nl - buf) - s->pos;   /* line length before \n */
		if (ln < 2 || nl[-1] != '\r')
			return -1;
		switch (buf[s->pos]) {
		case '+':
		case '-':
			s->pos += ln + 1;
			if (resp_scan_pop(s))
				return (long long)s->pos;
			continue;
		case ':':
		case '$':
		case '*':
			break;
		default:
			return -1;
		}
		if (!resp_str_to_ll(buf + s->pos + 1, ln - 2, &v))
			return -1;
		if (buf[s->pos] == '$' && v >= 0) {
			if (v > LLONG_MAX - 2)
				return -1;
			s->pos += ln + 1;
			s->bulk_need = v + 2;
			continue;
		}
		if (buf[s->pos] == '*' && v > 0) {
			if (s->depth >= RESP_REPLY_MAX_DEPTH)
				return -1;
			s->left[s->depth++] = v;
			s->pos += ln + 1;
			continue;
		}
		if (buf[s->pos] != ':' && v < -1)
			return -1;
		s->pos += ln + 1;
		if (resp_scan_pop(s))
			return (long long)s->pos;
	}
}

/* Release a partly built reply; returns NULL for the caller. */
static void *
resp_read_abort(const struct resp_builder *b, void *ctx, void *root)
{
	if (root != NULL)
		b->release(ctx, root);
	return NULL;
}

/*
 * Build one reply with the builder callbacks. Nested arrays are walked
 * with a fixed stack of RESP_REPLY_MAX_DEPTH frames; each new object is
 * handed to its parent at once, so on failure releasing the root
 * releases everything built.
 */
void *
resp_read_reply(const struct resp_builder *b, void *ctx, const char *buf,
    size_t len)
{
	struct {
		void *arr;
		size_t n, i;
	} st[RESP_REPLY_MAX_DEPTH];
	const char *nl;
	void *root = NULL, *obj;
	size_t pos = 0, ln;
	long long v = 0;
	int depth = 0;
	char type;

	for (;;) {
		if (pos >= len ||
		    (nl = memchr(buf + pos, '\n', len - pos)) == NULL)
			return resp_read_abort(b, ctx, root);
		ln = (size_t)(nl - buf) - pos;
		if (ln < 2 || nl[-1] != '\r')
			return resp_read_abort(b, ctx, root);
		type = buf[pos];
		if (type == '+' || type == '-') {
			obj = b->str(ctx, type, buf + pos + 1, ln - 2);
			pos += ln + 1;
		} else if (type == ':' || type == '$' || type == '*') {
			if (!resp_str_to_ll(buf + pos + 1, ln - 2, &v))
				return resp_read_abort(b, ctx, root);
			pos += ln + 1;
			if (type == ':')
				obj = b->integer(ctx, v);
			else if (v == -1)
				obj = b->nil(ctx, type);
			else if (v < 0)
				return resp_read_abort(b, ctx, root);
			else if (type == '$') {
				if ((unsigned long long)v > len - pos ||
				    len - pos - (size_t)v < 2 ||
				    buf[pos + (size_t)v] != '\r' ||
				    buf[pos + (size_t)v + 1] != '\n')
					return resp_read_abort(b, ctx, root);
				obj = b->str(ctx, type, buf + pos, (size_t)v);
				pos += (size_t)v + 2;
			} else {
				/* Every element takes at least 3 bytes: do not
				 * let a bogus count size the array. */
				if ((unsigned long long)v > (len - pos) / 3)
					return resp_read_abort(b, ctx, root);
				if (v > 0 && depth >= RESP_REPLY_MAX_DEPTH)
					return resp_read_abort(b, ctx, root);
				obj = b->array(ctx, (size_t)v);
			}
		} else
			return resp_read_abort(b, ctx, root);

		if (obj == NULL)
			return resp_read_abort(b, ctx, root);
		if (depth == 0)
			root = obj;
		else if (b->array_set(ctx, st[depth - 1].arr,
		    st[depth - 1].i++, obj) != 0)
			return resp_read_abort(b, ctx, root);
		if (type == '*' && v > 0) {
			st[depth].arr = obj;
			st[depth].n = (size_t)v;
			st[depth].i = 0;
			depth++;
			continue;
		}
		while (depth > 0 && st[depth - 1].i == st[depth - 1].n)
			depth--;
		if (depth == 0)
			return root;
	}
}

/* ---- Numbers ---- */

/*
 * Redis's string2ll rules: optional '-', then "0" alone or a digit 1-9
 * followed by digits, all of s[0..len) used, fitting a long long, and
 * fewer than 21 bytes. "-0", "+1", " 1", "01" and "" are rejected.
 */
int
resp_str_to_ll(const char *s, size_t len, long long *out)
{
	const char *p = s, *e;
	unsigned long long v;
	int neg = 0;

	if (len == 0 || len >= RESP_LONG_STR_SIZE)
		return 0;
	e = s + len;
	if (len == 1 && s[0] == '0') {
		if (out != NULL)
			*out = 0;
		return 1;
	}
	if (*p == '-') {
		neg = 1;
		if (++p == e)
			return 0;
	}
	if (*p < '1' || *p > '9')
		return 0;
	v = (unsigned long long)(*p++ - '0');
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		if (v > ULLONG_MAX / 10)
			return 0;
		v *= 10;
		if (v > ULLONG_MAX - (unsigned long long)(*p - '0'))
			return 0;
		v += (unsigned long long)(*p - '0');
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return 0;
		if (out != NULL)
			*out = v == (unsigned long long)LLONG_MAX + 1 ?
			    LLONG_MIN : -(long long)v;
	} else {
		if (v > LLONG_MAX)
			return 0;
		if (out != NULL)
			*out = (long long)v;
	}
	return 1;
}

/* Number of decimal digits in v. */
static size_t
resp_digits10(unsigned long long v)
{
	size_t n = 1;

	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

/* Write v in decimal, two digits per division, NUL-terminated. */
size_t
resp_ll_to_str(char *buf, long long v)
{
	static const char pairs[201] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	unsigned long long u;
	size_t n, neg = 0;
	char *d;

	if (v < 0) {
		u = ~(unsigned long long)v + 1;    /* |v|, even for LLONG_MIN */
		*buf = '-';
		neg = 1;
	} else
		u = (unsigned long long)v;
	n = resp_digits10(u);
	d = buf + neg + n;
	*d = '\0';
	while (u >= 100) {
		unsigned i = (unsigned)(u % 100) * 2;

		u /= 100;
		*--d = pairs[i + 1];
		*--d = pairs[i];
	}
	if (u < 10)
		*--d = (char)('0' + u);
	else {
		*--d = pairs[u * 2 + 1];
		*--d = pairs[u * 2];
	}
	return neg + n;
}
