/* SPDX-License-Identifier: MIT */
/*
 * A main() for the fuzz targets without libFuzzer: runs the target once
 * on every file named on the command line (a directory means every file
 * in it), or, with no arguments, on the target's seed corpus and
 * regression inputs under $top_srcdir/fuzz/. Speaks TAP, one test per
 * file or directory (each input is named in a comment before it runs),
 * so `make check` replays them under the build's sanitizers.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_PATH_MAX 4096

/* Skip hidden files and notes kept next to the inputs. */
static int
keep_entry(const struct dirent *d)
{
	return d->d_name[0] != '.' && strcmp(d->d_name, "README") != 0 &&
	    strcmp(d->d_name, "README.md") != 0;
}

/* Read a whole file into a buffer of exactly its size (so a read past
 * the input's end is caught); NULL on error. */
static uint8_t *
read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL)
				break;
			buf = nbuf;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f) || len == cap) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	/* Shrink to the exact size; a zero-length input gets one byte
	 * that is not part of it. */
	nbuf = realloc(buf, len > 0 ? len : 1);
	if (nbuf == NULL) {
		free(buf);
		return NULL;
	}
	*size = len;
	return nbuf;
}

/* Run the target on one file, named first in the log (as a TAP
 * comment) so a crash shows which input did it. 0, or -1 if unreadable. */
static int
replay_file(const char *path)
{
	uint8_t *data;
	size_t size;

	printf("# %s\n", path);
	fflush(stdout);
	data = read_file(path, &size);
	if (data == NULL) {
		printf("# %s: cannot read it: %s\n", path, strerror(errno));
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

/*
 * Replay path: a file, or every regular file in a directory (sorted, not
 * recursive). Returns the number of inputs run, or -1 on an error. A
 * missing directory counts as empty unless it is required.
 */
static long
replay_path(const char *path, int required)
{
	char full[REPLAY_PATH_MAX];
	struct dirent **names;
	struct stat st;
	long done = 0;
	int i, n;

	if (stat(path, &st) == -1) {
		if (!required && errno == ENOENT)
			return 0;
		printf("# %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	n = scandir(path, &names, keep_entry, alphasort);
	if (n < 0) {
		printf("# %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
		if (done >= 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
			done = replay_file(full) == 0 ? done + 1 : -1;
		free(names[i]);
	}
	free(names);
	return done;
}

int
main(int argc, char **argv)
{
	char corpus[REPLAY_PATH_MAX], regressions[REPLAY_PATH_MAX];
	const char *top = getenv("top_srcdir"), *paths[2];
	int i, failed = 0, required = 1;
	long n;

	if (argc > 1) {
		/* Explicit paths: one test each, all required. */
		printf("1..%d\n", argc - 1);
		for (i = 1; i < argc; i++) {
			n = replay_path(argv[i], 1);
			printf("%s %d - %s: %ld input%s\n", n > 0 ? "ok" :
			    "not ok", i, argv[i], n, n == 1 ? "" : "s");
			failed |= n <= 0;
		}
		return failed;
	}

	if (top == NULL || top[0] == '\0')
		top = ".";
	snprintf(corpus, sizeof(corpus), "%s/fuzz/corpus/%s", top,
	    fuzz_target_name);
	snprintf(regressions, sizeof(regressions), "%s/fuzz/regressions/%s",
	    top, fuzz_target_name);
	paths[0] = corpus;
	paths[1] = regressions;
	printf("1..2\n");
	for (i = 0; i < 2; i++) {
		/* The seed corpus must have inputs; the regressions may be
		 * none yet. */
		n = replay_path(paths[i], required);
		printf("%s %d - %s: %ld input%s\n",
		    n > 0 || (n == 0 && !required) ? "ok" : "not ok", i + 1,
		    paths[i], n, n == 1 ? "" : "s");
		failed |= n < 0 || (n == 0 && required);
		required = 0;
	}
	return failed;
}
