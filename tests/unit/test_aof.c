/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for aof.c's reader of the AOF format (aof_parse): whole
 * commands, annotations, every cut of a command reads as truncated and
 * never as bad, and broken bytes are reported at their offset.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "aof.h"
#include "mem.h"
#include "tap.h"

#define CMDS "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n" \
	"#TS:1700000000\r\n" \
	"*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\nv\r\nxy\r\n" \
	"*1\r\n$5\r\nMULTI\r\n"

/* Parse all of buf; returns the last code, *n the commands read. */
static int
parse_all(const char *buf, size_t len, int *n, size_t *pos, size_t *bad)
{
	struct resp_arg *argv = NULL;
	int argc, cap = 0, r;

	*n = 0;
	*pos = 0;
	while ((r = aof_parse(buf, len, pos, &argc, &argv, &cap, bad)) ==
	    AOF_PARSE_OK)
		(*n)++;
	mem_free(argv);
	return r;
}

static void
test_whole(void)
{
	struct resp_arg *argv = NULL;
	size_t pos = 0, bad = 0;
	int argc = 0, cap = 0;

	is_int(aof_parse(CMDS, sizeof(CMDS) - 1, &pos, &argc, &argv, &cap,
	    &bad), AOF_PARSE_OK, "SELECT reads");
	ok(argc == 2 && argv[0].len == 6 && memcmp(argv[0].ptr, "SELECT",
	    6) == 0 && argv[1].len == 1 && argv[1].ptr[0] == '0',
	    "as SELECT 0");
	is_int(aof_parse(CMDS, sizeof(CMDS) - 1, &pos, &argc, &argv, &cap,
	    &bad), AOF_PARSE_OK, "the annotation is skipped");
	ok(argc == 3 && argv[2].len == 5 && memcmp(argv[2].ptr, "v\r\nxy",
	    5) == 0, "a value holding CRLF is binary-safe");
	is_int(aof_parse(CMDS, sizeof(CMDS) - 1, &pos, &argc, &argv, &cap,
	    &bad), AOF_PARSE_OK, "MULTI reads");
	is_int(aof_parse(CMDS, sizeof(CMDS) - 1, &pos, &argc, &argv, &cap,
	    &bad), AOF_PARSE_END, "then the end");
	is_int(pos, sizeof(CMDS) - 1, "at the end");
	mem_free(argv);
}

static void
test_every_cut(void)
{
	size_t cut, pos, bad, last = sizeof(CMDS) - 1 - 15;
	int n, r, good = 1;

	/* Cut anywhere inside the last command: two read, then truncated,
	 * with pos at the start of the torn one. */
	for (cut = last + 1; cut < sizeof(CMDS) - 1; cut++) {
		r = parse_all(CMDS, cut, &n, &pos, &bad);
		if (r != AOF_PARSE_TRUNCATED || n != 2 || pos != last) {
			diag("  cut %zu: code %d, %d read, pos %zu", cut, r, n,
			    pos);
			good = 0;
		}
	}
	ok(good, "every cut of the last command reads as truncated");
	is_int(parse_all(CMDS, last, &n, &pos, &bad), AOF_PARSE_END,
	    "a cut between commands is a clean end");
	is_int(parse_all(CMDS, 30, &n, &pos, &bad), AOF_PARSE_TRUNCATED,
	    "a cut inside an annotation is truncated");
}

static void
test_bad(void)
{
	static const struct {
		const char *in;
		size_t bad;
		const char *what;
	} cases[] = {
		{ "SET k v\r\n", 0, "an inline command" },
		{ "*0\r\n", 0, "an empty command" },
		{ "*1\r\n!3\r\nGET\r\n", 4, "a '!' for a '$'" },
		{ "*1\r\n$3\r\nGETX\r\n", 11, "a bulk longer than said" },
		{ "*1\r\n$x\r\n", 5, "a length that is not a number" },
		{ "*1\n$3\r\nGET\r\n", 2, "LF without CR" },
		{ "*99999999999\r\n", 10, "a count past INT_MAX" },
		{ "*1\r\n$3\rXGET\r\n", 7, "CR without LF" },
	};
	size_t i, pos, bad;
	int n, r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad = (size_t)-1;
		r = parse_all(cases[i].in, strlen(cases[i].in), &n, &pos, &bad);
		ok(r == AOF_PARSE_BAD && bad == cases[i].bad && pos == 0,
		    "bad: %s", cases[i].what);
		if (r != AOF_PARSE_BAD || bad != cases[i].bad)
			diag("  code %d, offset %zu", r, bad);
	}
}

int
main(void)
{
	test_whole();
	test_every_cut();
	test_bad();
	return done_testing();
}
