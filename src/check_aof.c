/* SPDX-License-Identifier: MIT */
/*
 * tiny-mp-cache-check-aof: check an append-only file, or every file a
 * manifest lists, as redis-check-aof does; with --fix, cut the last
 * file at the end of its last whole command (outside an unfinished
 * MULTI), the way the server's aof-load-truncated does for a torn tail
 * (a broken command in the middle of it loses what follows, as with
 * redis-check-aof --fix).
 *
 *   tiny-mp-cache-check-aof [--fix] DIR/appendonly.aof.manifest
 *   tiny-mp-cache-check-aof [--fix] FILE.aof
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof.h"
#include "mem.h"
#include "server.h"

#define EXIT_USAGE 2

/* What checking one file found. */
struct check {
	size_t size;                     /* bytes in the file */
	size_t ok_up_to;                 /* end of the last good command */
	size_t bad;                      /* offset of a broken byte */
	int result;                      /* AOF_PARSE_END, _TRUNCATED, _BAD */
	int commands;                    /* whole commands read */
};

/* Walk data: where the last whole command (outside an open MULTI)
 * ends, and what stopped the walk. */
static void
check_data(const char *data, size_t n, struct check *ck)
{
	struct resp_arg *argv = NULL;
	size_t pos = 0, before_multi = 0;
	int argc, cap = 0, in_multi = 0;

	memset(ck, 0, sizeof(*ck));
	ck->size = n;
	for (;;) {
		ck->result = aof_parse(data, n, &pos, &argc, &argv, &cap,
		    &ck->bad);
		if (ck->result != AOF_PARSE_OK)
			break;
		ck->commands++;
		if (argv[0].len == 5 && strncasecmp(argv[0].ptr, "multi",
		    5) == 0) {
			before_multi = ck->ok_up_to;
			in_multi = 1;
		} else if (argv[0].len == 4 && strncasecmp(argv[0].ptr, "exec",
		    4) == 0)
			in_multi = 0;
		ck->ok_up_to = pos;
	}
	if (ck->result == AOF_PARSE_BAD || ck->result == AOF_PARSE_TRUNCATED)
		ck->ok_up_to = pos;
	if (in_multi) {
		ck->ok_up_to = before_multi;
		if (ck->result == AOF_PARSE_END)
			ck->result = AOF_PARSE_TRUNCATED;
	}
	mem_free(argv);
}

/*
 * Check one file (fix: cut it at ok_up_to; last: a torn tail may only
 * be cut in the last file, as the server loads it). Prints what it
 * found. 0 if the file is valid or was fixed, else 1.
 */
static int
check_file(const char *path, int fix, int last)
{
	struct check ck;
	char *data = NULL;
	size_t n;

	if (aof_read_file(path, &data, &n) == -1) {
		printf("Cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (n >= 5 && memcmp(data, "REDIS", 5) == 0) {
		printf("%s is in RDB format: this checker reads the AOF format "
		    "only (use redis-check-aof)\n", path);
		mem_free(data);
		return 1;
	}
	check_data(data, n, &ck);
	mem_free(data);
	printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=%zu, "
	    "diff=%zu, commands=%d\n", path, ck.size, ck.ok_up_to,
	    ck.size - ck.ok_up_to, ck.commands);
	if (ck.ok_up_to == ck.size) {
		printf("AOF %s is valid\n", path);
		return 0;
	}
	if (ck.result == AOF_PARSE_BAD)
		printf("AOF %s: bad format at offset %zu (the command starting "
		    "at offset %zu)\n", path, ck.bad, ck.ok_up_to);
	else
		printf("AOF %s: the last command (at offset %zu) is incomplete"
		    "\n", path, ck.ok_up_to);
	if (!fix) {
		printf("AOF %s is not valid. Use the --fix option to try "
		    "fixing it.\n", path);
		return 1;
	}
	/* Cutting an earlier file would replay the later ones over a
	 * state they did not follow. */
	if (!last) {
		printf("AOF %s is not the last file: it cannot be cut\n", path);
		return 1;
	}
	if (truncate(path, (off_t)ck.ok_up_to) == -1) {
		printf("Failed to truncate AOF %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("Successfully truncated AOF %s to %zu bytes (%zu bytes "
	    "removed)\n", path, ck.ok_up_to, ck.size - ck.ok_up_to);
	return 0;
}

/* Check every file the manifest at path lists, base first. */
static int
check_manifest(const char *path, int fix)
{
	struct aof_manifest m;
	char err[SERVER_ERR_LEN], *copy = mem_strdup(path), *dir, *file;
	int i, bad = 0;
	size_t len;

	if (aof_manifest_load(path, &m, err) == -1) {
		printf("%s\n", err);
		mem_free(copy);
		return 1;
	}
	dir = dirname(copy);
	printf("Start checking Multi Part AOF\n");
	for (i = -1; i < m.nincr && !bad; i++) {
		const char *name = i < 0 ? m.base : m.incr[i];

		if (name == NULL)
			continue;
		len = strlen(dir) + strlen(name) + 2;
		file = mem_alloc(len);
		snprintf(file, len, "%s/%s", dir, name);
		bad = check_file(file, fix, i == m.nincr - 1);
		mem_free(file);
	}
	aof_manifest_free(&m);
	mem_free(copy);
	if (!bad)
		printf("All AOF files and manifest are valid\n");
	return bad;
}

static void
usage(FILE *f)
{
	fprintf(f, "Usage: tiny-mp-cache-check-aof [--fix] "
	    "<file.manifest|file.aof>\n");
}

int
main(int argc, char **argv)
{
	int fix = 0;
	const char *path;
	size_t n;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--fix") == 0)
		fix = 1;
	else if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return EXIT_USAGE;
	}
	path = argv[argc - 1];
	n = strlen(path);
	if (n > 9 && strcmp(path + n - 9, ".manifest") == 0)
		return check_manifest(path, fix);
	return check_file(path, fix, 1);
}
