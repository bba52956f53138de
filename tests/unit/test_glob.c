/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for glob.c: a table of Redis's own answers, the nesting cap,
 * the backtracking guard, nocase and the "prefix*" fast-path test.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "glob.h"
#include "tap.h"

struct glob_case {
	const char	*pat;           /* pattern */
	size_t		 plen;          /* its length (may hold NUL bytes) */
	const char	*str;           /* string */
	size_t		 slen;          /* its length */
	int		 want;          /* 1 if Redis says it matches */
};

#define G(p, s, w) { p, sizeof(p) - 1, s, sizeof(s) - 1, w }

/*
 * Generated from redis-server 7.0.15 (/usr/bin/redis-server, x86-64, so
 * char is signed in its ranges): for each row a throwaway server was
 * FLUSHALLed, SET <string> v, and asked KEYS <pattern>; want is 1 if the
 * reply was exactly [<string>]. A bare "*" against "" is left out: KEYS
 * answers it by a fast path, not by stringmatchlen (test_db covers it).
 */
static const struct glob_case glob_cases[] = {
	G("hello", "hello", 1),
	G("hello", "hell", 0),
	G("hell", "hello", 0),
	G("", "", 1),
	G("a", "", 0),
	G("", "a", 0),
	G("HELLO", "hello", 0),
	G("a\x00""b", "a\x00""b", 1),
	G("a\x00""b", "a\x00""c", 0),
	G("h*", "hello", 1),
	G("*o", "hello", 1),
	G("h*o", "hello", 1),
	G("h*x", "hello", 0),
	G("**", "hello", 1),
	G("**", "", 0),
	G("a**b", "ab", 1),
	G("a*b*c", "abc", 1),
	G("a*b*c", "acb", 0),
	G("*a*", "bab", 1),
	G("*a*", "bbb", 0),
	G("a*", "a", 1),
	G("a*b", "a", 0),
	G("*", "x", 1),
	G("*ab", "aab", 1),
	G("a*ab", "aab", 1),
	G("*?a", "ba", 1),
	G("*?a", "a", 0),
	G("*[ab]", "xyzb", 1),
	G("*\\*", "ab*", 1),
	G("*\\*", "ab", 0),
	G("a*a*a*b", "aaaaaaaa", 0),
	G("*a*b", "aaaab", 1),
	G("a***", "a", 1),
	G("***a", "a", 1),
	G("*a", "", 0),
	G("x*y*z", "xyz", 1),
	G("x*y*z", "xyyzz", 1),
	G("h?llo", "hello", 1),
	G("h?llo", "hllo", 0),
	G("?", "", 0),
	G("???", "ab", 0),
	G("?*", "a", 1),
	G("*?", "", 0),
	G("?", "\x00", 1),
	G("??", "\xc3\xa9", 1),
	G("h[ae]llo", "hello", 1),
	G("h[ae]llo", "hallo", 1),
	G("h[ae]llo", "hillo", 0),
	G("h[^e]llo", "hello", 0),
	G("h[^e]llo", "hallo", 1),
	G("h[a-b]llo", "hbllo", 1),
	G("h[a-b]llo", "hcllo", 0),
	G("[z-a]", "m", 1),
	G("[z-a]", "A", 0),
	G("[z-a]", "z", 1),
	G("[^z-a]", "m", 0),
	G("[^z-a]", "0", 1),
	G("[a-]", "-", 0),
	G("[a-]", "]", 1),
	G("[a-]", "b", 0),
	G("[a-]", "a", 1),
	G("[-a]", "-", 1),
	G("[-a]", "b", 0),
	G("[]a]", "]", 0),
	G("[]a]", "a]", 0),
	G("[]", "]", 0),
	G("[^]", "x", 1),
	G("[^]", "]", 1),
	G("[", "[", 0),
	G("[", "", 0),
	G("[a", "a", 1),
	G("[a", "b", 0),
	G("[^", "x", 1),
	G("[^", "", 0),
	G("[^a", "b", 1),
	G("[^a", "a", 0),
	G("a[", "a[", 0),
	G("a[", "ab", 0),
	G("[ab", "ab", 0),
	G("[ab", "b", 1),
	G("[a-z", "m", 1),
	G("[a-z", "z", 1),
	G("[a-", "b", 0),
	G("[a-", "-", 1),
	G("*[", "a", 0),
	G("a*[b", "ab", 1),
	G("a*[b", "axb", 1),
	G("[\\]]", "]", 1),
	G("[\\]", "\\", 0),
	G("[\\]", "]", 1),
	G("[\\", "\\", 1),
	G("[a\\-z]", "-", 1),
	G("[a\\-z]", "b", 0),
	G("[a\\-z]", "z", 1),
	G("[\\^a]", "^", 1),
	G("[a^]", "^", 1),
	G("[^^]", "^", 0),
	G("[^^]", "a", 1),
	G("[*]", "*", 1),
	G("[*]", "x", 0),
	G("[?]", "?", 1),
	G("[?]", "x", 0),
	G("[a-cx-z]", "y", 1),
	G("[a-cx-z]", "m", 0),
	G("[A-Z]", "a", 0),
	G("[\x00]", "\x00", 1),
	G("[\x00-\x05]", "\x03", 1),
	G("\\*", "*", 1),
	G("\\*", "a", 0),
	G("\\?", "?", 1),
	G("\\?", "a", 0),
	G("\\[a]", "[a]", 1),
	G("\\[a]", "a", 0),
	G("a\\", "a\\", 1),
	G("a\\", "a", 0),
	G("\\", "\\", 1),
	G("\\\\", "\\", 1),
	G("\\a", "a", 1),
	G("\\a", "\\a", 0),
	G("*\\", "ab\\", 1),
	G("a\\*", "a*", 1),
	G("a\\*", "a", 0),
	G("a\\*", "ab", 0),
	G("^a", "^a", 1),
	G("]", "]", 1),
	G("a-z", "a-z", 1),
	G("a-z", "b", 0),
	G("[a-\xff]", "\x80", 0),
	G("[a-\xff]", "b", 0),
	G("[a-\xff]", "\xff", 1),
	G("[\x80-\xff]", "\x90", 1),
	G("[\x01-\x7f]", "\x80", 0),
	G("[\x01-\x7f]", "\x7f", 1),
	G("[^\x01-\x7f]", "\x80", 1),
	G("\xc3\xa9*", "\xc3\xa9t\xc3\xa9", 1),
	G("key:*", "key:1", 1),
	G("key:*", "key:", 1),
	G("key:*", "key", 0),
	G("key:1*", "key:12", 1),
	G("key:1*", "key:21", 0),
};

/* Seconds on the monotonic clock. */
static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Escape s for a test name (printable ASCII kept, the rest as \xNN). */
static const char *
show(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f)
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* Every row of the Redis-generated table. */
static void
test_table(void)
{
	size_t i, n = sizeof glob_cases / sizeof glob_cases[0];
	char bp[64], bs[64];

	ok(n >= 80, "table has %zu cases", n);
	for (i = 0; i < n; i++) {
		const struct glob_case *c = &glob_cases[i];

		is_int(glob_match(c->pat, c->plen, c->str, c->slen, 0), c->want,
		    "'%s' vs '%s' -> %d", show(c->pat, c->plen, bp, sizeof bp),
		    show(c->str, c->slen, bs, sizeof bs), c->want);
	}
}

/*
 * k '*' each followed by 'a', against k 'a's. Redis 7.0.15 answers 1 for
 * k = 999 and 1000 and 0 for 1001 and 1002: the 1001st nested '*' hits
 * the recursion cap.
 */
static void
test_nesting(void)
{
	static const struct { int k, want; } nest[] = {
		{ 999, 1 }, { 1000, 1 }, { 1001, 0 }, { 1002, 0 },
	};
	size_t i, j;

	for (i = 0; i < sizeof nest / sizeof nest[0]; i++) {
		size_t k = (size_t)nest[i].k;
		char *pat = malloc(2 * k), *str = malloc(k);

		for (j = 0; j < k; j++) {
			pat[2 * j] = '*';
			pat[2 * j + 1] = 'a';
			str[j] = 'a';
		}
		is_int(glob_match(pat, 2 * k, str, k, 0), nest[i].want,
		    "nesting cap: %zu x '*a' vs %zu 'a's", k, k);
		free(pat);
		free(str);
	}
}

/* A matcher stuck in exponential backtracking (the nesting and
 * backtracking tests): fail instead of hanging. */
static void
on_alarm(int sig)
{
	static const char msg[] =
	    "not ok - still running after 30 s: backtracking?\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof msg - 1);
	_exit(1);
}

/* Patterns that are exponential for a naive backtracking matcher. */
static void
test_backtracking(void)
{
	static const char *pats[] = {
		"a*a*a*a*a*a*a*a*a*a*b",
		"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
		"a*a*a*a*a*a*a*a*a*a*?b",
		"*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[b]",
	};
	size_t len = 100000, i;
	char *s = malloc(len);
	double t0, dt;

	memset(s, 'a', len);
	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		t0 = now_sec();
		is_int(glob_match(pats[i], strlen(pats[i]), s, len, 0), 0,
		    "'%s' vs %zu 'a's does not match", pats[i], len);
		dt = now_sec() - t0;
		ok(dt < 1.0, "  ... and took %.4f s (< 1 s)", dt);
	}
	/* The same shape still matches when it should. */
	s[len - 1] = 'b';
	is_int(glob_match(pats[0], strlen(pats[0]), s, len, 0), 1,
	    "'%s' vs 'a...ab' matches", pats[0]);
	free(s);
}

/*
 * nocase, worked out from Redis's stringmatchlen (KEYS cannot ask for
 * it): literals and class members fold ASCII case; a range folds its ends
 * after swapping, so "[Z-a]" becomes z..a and holds nothing; a '\'-escaped
 * class member is compared without folding; bytes >= 0x80 never fold.
 */
static void
test_nocase(void)
{
	static const struct glob_case nc[] = {
		G("HELLO", "hello", 1),
		G("hello", "HeLLo", 1),
		G("h*O", "hello", 1),
		G("h[AE]llo", "hello", 1),
		G("h[^E]llo", "hello", 0),
		G("[A-C]", "b", 1),
		G("[a-c]", "B", 1),
		G("[c-a]", "B", 1),
		G("[Z-a]", "_", 0),
		G("[Z-a]", "z", 0),
		G("[\\A]", "a", 0),
		G("[\\A]", "A", 1),
		G("\\A", "a", 1),
		G("\xc3", "\xe3", 0),
		G("[@]", "`", 0),
		G("?ELLO", "Hello", 1),
	};
	size_t i;
	char bp[64], bs[64];

	for (i = 0; i < sizeof nc / sizeof nc[0]; i++)
		is_int(glob_match(nc[i].pat, nc[i].plen, nc[i].str, nc[i].slen,
		    1), nc[i].want, "nocase '%s' vs '%s' -> %d",
		    show(nc[i].pat, nc[i].plen, bp, sizeof bp),
		    show(nc[i].str, nc[i].slen, bs, sizeof bs), nc[i].want);
	/* Without nocase the same range is Z..a and holds '_'. */
	is_int(glob_match("[Z-a]", 5, "_", 1, 0), 1, "'[Z-a]' vs '_' -> 1");
}

/* glob_is_prefix accepts exactly "literal*" with no special byte. */
static void
test_is_prefix(void)
{
	static const struct { const char *pat; int want; size_t len; } pc[] = {
		{ "*", 1, 0 }, { "key:*", 1, 4 }, { "a]^-*", 1, 4 },
		{ "", 0, 0 }, { "key:", 0, 0 }, { "key:**", 0, 0 },
		{ "*a", 0, 0 }, { "k?y*", 0, 0 }, { "k[y*", 0, 0 },
		{ "k\\*", 0, 0 }, { "k\\x*", 0, 0 }, { "*a*", 0, 0 },
	};
	size_t i, len;
	int r;

	for (i = 0; i < sizeof pc / sizeof pc[0]; i++) {
		len = 12345;
		r = glob_is_prefix(pc[i].pat, strlen(pc[i].pat), &len);
		is_int(r, pc[i].want, "glob_is_prefix('%s') = %d", pc[i].pat,
		    pc[i].want);
		if (r)
			is_int(len, pc[i].len, "  prefix length %zu",
			    pc[i].len);
	}
	len = 0;
	ok(glob_is_prefix("a\0b*", 4, &len) && len == 3,
	    "a NUL byte is a literal in a prefix");
}

/* A tiny deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* Next pseudo-random 64-bit value. */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/*
 * Random strings over a small alphabet: a "prefix*" pattern matches by
 * glob_match exactly when memcmp says the string starts with the prefix
 * (the fast path's premise), and a pattern with no special byte matches
 * only an equal string.
 */
static void
test_random_agreement(void)
{
	static const char alpha[] = "ab:]^-\0";
	char pat[16], str[16];
	size_t plen, slen, i, j;
	int bad_prefix = 0, bad_literal = 0, want;

	for (i = 0; i < 200000; i++) {
		plen = rng() % 6;
		slen = rng() % 8;
		for (j = 0; j < plen; j++)
			pat[j] = alpha[rng() % (sizeof alpha - 1)];
		for (j = 0; j < slen; j++)
			str[j] = alpha[rng() % (sizeof alpha - 1)];
		want = slen == plen && memcmp(pat, str, plen) == 0;
		if (glob_match(pat, plen, str, slen, 0) != want)
			bad_literal++;
		pat[plen] = '*';
		want = slen >= plen && memcmp(pat, str, plen) == 0;
		/* A lone "*" against "" is KEYS's fast path, not a match. */
		if (plen == 0 && slen == 0)
			want = 0;
		if (glob_match(pat, plen + 1, str, slen, 0) != want)
			bad_prefix++;
	}
	is_int(bad_literal, 0, "literal patterns match only equal strings");
	is_int(bad_prefix, 0, "prefix* patterns agree with memcmp");
}

/* Run every glob test under a watchdog alarm. */
int
main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(30);
	test_table();
	test_nesting();
	test_backtracking();
	test_nocase();
	test_is_prefix();
	test_random_agreement();
	return done_testing();
}
