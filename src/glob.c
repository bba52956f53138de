/* SPDX-License-Identifier: MIT */
/*
 * Redis-compatible glob matching for KEYS (see glob.h), reproducing the
 * semantics of Redis 7's stringmatchlen, quirks included.
 */
#include "config.h"

#include <stddef.h>

#include "glob.h"

/*
 * Each '*' that has to try positions recurses one level; past this depth
 * the match fails, as in Redis (same value), which bounds the stack a
 * hostile pattern can use. So 1000 '*a' pairs can match, 1001 cannot.
 */
#define GLOB_MAX_NESTING 1000

/*
 * Range ends and the byte tested are compared as signed char, as the
 * reference Redis build (x86-64, where char is signed) compares them: so
 * '[a-\xff]' is the range -1..97 and holds neither 'b' nor \x80, exactly
 * as KEYS answers there, on every platform we build for. Case folding is
 * ASCII-only, like tolower() in the C locale Redis matches under.
 */
static inline int
glob_byte(unsigned char c)
{
	return (signed char)c;
}

/* Lower-case an ASCII letter; other values are returned unchanged. */
static inline int
glob_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 if pattern byte p equals string byte s (case-folded if nocase). */
static inline int
glob_eq(unsigned char p, unsigned char s, int nocase)
{
	if (!nocase)
		return p == s;
	return glob_lower(glob_byte(p)) == glob_lower(glob_byte(s));
}

/*
 * Match the bracket class at **pp (which points at its '[') against the
 * string byte c. On return *pp and *plen describe the class's last byte:
 * its closing ']' or, for an unterminated class, the pattern's last byte,
 * which the caller then steps over. Inside a class '\x' stands for x
 * (compared without case folding, as in Redis), 'a-z' is a range whose
 * ends are swapped if reversed, '^' first negates, and a range needs three
 * bytes, so in "[a-]" the ']' is the range's end rather than the closer.
 * Returns 1 if c is in the (possibly negated) class.
 */
static int
glob_class(const unsigned char **pp, size_t *plen, unsigned char c,
    int nocase)
{
	const unsigned char *p = *pp + 1;
	size_t len = *plen - 1;
	int neg, match = 0, lo, hi, v;

	neg = len > 0 && p[0] == '^';
	if (neg) {
		p++;
		len--;
	}
	for (;;) {
		if (len >= 2 && p[0] == '\\') {
			p++;
			len--;
			if (p[0] == c)
				match = 1;
		} else if (len == 0) {
			/* Unterminated: stay on the last byte. */
			p--;
			len++;
			break;
		} else if (p[0] == ']') {
			break;
		} else if (len >= 3 && p[1] == '-') {
			lo = glob_byte(p[0]);
			hi = glob_byte(p[2]);
			v = glob_byte(c);
			if (lo > hi) {
				int t = lo;

				lo = hi;
				hi = t;
			}
			if (nocase) {
				lo = glob_lower(lo);
				hi = glob_lower(hi);
				v = glob_lower(v);
			}
			p += 2;
			len -= 2;
			if (v >= lo && v <= hi)
				match = 1;
		} else if (glob_eq(p[0], c, nocase)) {
			match = 1;
		}
		p++;
		len--;
	}
	*pp = p;
	*plen = len;
	return neg ? !match : match;
}

/*
 * The matcher. Each '*' tries the rest of the pattern at every later
 * position of the string, recursing one level deeper. If the rest matches
 * at none of them, no earlier '*' can do better by swallowing more (the
 * rest would have to match even later), so *skip tells every enclosing '*'
 * to give up at once: that keeps "a*a*a*...b" linear instead of
 * exponential. Returns 1 on a match.
 */
static int
glob_match_at(const unsigned char *p, size_t plen, const unsigned char *s,
    size_t slen, int nocase, int *skip, int nesting)
{
	if (nesting > GLOB_MAX_NESTING)
		return 0;
	while (plen > 0 && slen > 0) {
		switch (p[0]) {
		case '*':
			while (plen > 1 && p[1] == '*') {
				p++;
				plen--;
			}
			if (plen == 1)
				return 1;
			for (; slen > 0; s++, slen--) {
				if (glob_match_at(p + 1, plen - 1, s, slen,
				    nocase, skip, nesting + 1))
					return 1;
				if (*skip)
					return 0;
			}
			*skip = 1;
			return 0;
		case '?':
			break;
		case '[':
			if (!glob_class(&p, &plen, s[0], nocase))
				return 0;
			break;
		case '\\':
			/* A trailing '\' is a literal backslash. */
			if (plen >= 2) {
				p++;
				plen--;
			}
			if (!glob_eq(p[0], s[0], nocase))
				return 0;
			break;
		default:
			if (!glob_eq(p[0], s[0], nocase))
				return 0;
			break;
		}
		s++;
		slen--;
		p++;
		plen--;
		if (slen == 0) {
			/* Only stars may follow the end of the string. */
			while (plen > 0 && p[0] == '*') {
				p++;
				plen--;
			}
			break;
		}
	}
	return plen == 0 && slen == 0;
}

/* Match str against pat as Redis's stringmatchlen does. */
int
glob_match(const char *pat, size_t plen, const char *str, size_t slen,
    int nocase)
{
	int skip = 0;

	return glob_match_at((const unsigned char *)pat, plen,
	    (const unsigned char *)str, slen, nocase, &skip, 0);
}

/* Report whether pat is a literal prefix plus one final '*'. */
int
glob_is_prefix(const char *pat, size_t plen, size_t *prefix_len)
{
	size_t i;

	if (plen == 0 || pat[plen - 1] != '*')
		return 0;
	for (i = 0; i + 1 < plen; i++) {
		switch (pat[i]) {
		case '*':
		case '?':
		case '[':
		case '\\':
			return 0;
		}
	}
	*prefix_len = plen - 1;
	return 1;
}
