/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the append-only file's loader: the input is the bytes
 * of an AOF (after a header of two bytes, or four, that picks a layout and
 * the server's settings). First aof_parse() reads them as the loader
 * does, whole and cut at several places (a cut never turns a command
 * into a broken one). Then the bytes become the files of a data
 * directory (a base and incremental files, the manifest made from them
 * or itself taken from the input, no manifest at all, or a file of the
 * format before Redis 7) and real servers start on it: server_create(),
 * which loads them at start as the server does, with aof-load-truncated
 * no and yes. Where the harness made the manifest it knows what must
 * happen: which starts fail, and where a torn last file is cut. After
 * each start that loads: the keyspace is sound (every key a SCAN finds
 * reads back; lists pass list_check()), the manifest on disk and the AOF
 * sizes agree with what the server holds, nothing was fed to the AOF
 * while loading, and all memory comes back when the server is freed.
 * Between starts: a restart on the directory loads the same keyspace; a
 * torn input loads under aof-load-truncated yes exactly what the file
 * cut at its last whole command loads; and, as in Redis, loading does
 * not depend on the wall clock (nothing expires while loading) nor on
 * maxmemory (nothing is evicted or refused while loading).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aof.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "dict.h"
#include "fuzz.h"
#include "list.h"
#include "mem.h"
#include "object.h"
#include "resp.h"
#include "server.h"
#include "settings.h"
#include "state.h"

const char fuzz_target_name[] = "fuzz_aof";

#define AOF_NOW_US_A 1700000000000000LL /* 2023-11-14 22:13:20 UTC, the
                                         * instant fuzz_commands starts
                                         * at: the seeds' PXAT lie near */
#define AOF_NOW_US_B 1900000000000000LL /* 2030-03-17: after every time a
                                         * real server wrote */
#define AOF_PAST_US 1000LL              /* 1 ms after the epoch: before
                                         * every expire time a file holds
                                         * (nonzero: 0 is the real clock) */
#define AOF_CUTS 8                      /* prefixes parsed per input */
#define AOF_MAX_FILES 3                 /* a base and two incrs */
#define AOF_NAME "appendonly.aof"       /* appendfilename (the default) */
#define AOF_DIRNAME "appendonlydir"     /* appenddirname (the default) */

/* What the first header byte's low three bits pick. */
enum layout_kind {
	LAYOUT_BASE,         /* a base alone */
	LAYOUT_INCR,         /* an incremental file alone */
	LAYOUT_BASE_INCR,    /* a base and an incremental file */
	LAYOUT_BASE_2INCR,   /* a base and two incremental files */
	LAYOUT_MANIFEST,     /* the manifest is the input's too */
	LAYOUT_NO_MANIFEST,  /* a base file but no manifest */
	LAYOUT_OLD_FORMAT,   /* dir/appendonly.aof, as before Redis 7 */
	LAYOUT_ODD_MANIFEST, /* base and incr in a manifest written oddly:
	                      * comments, a history line, pairs reordered */
};

/* The first header byte's other bits. */
#define HDR_CLOCK 0x08       /* also load at AOF_PAST_US and compare */
#define HDR_MAXMEMORY 0x10   /* also load with maxmemory 1 and compare */
#define HDR_EVICT 0x20       /* that load's policy: allkeys-lru, not
                              * noeviction */
#define HDR_LATE 0x40        /* the clock is AOF_NOW_US_B */
#define HDR_SMALL_LISTS 0x80 /* list-max-listpack-size 2, compress 1 */
/* The second byte: bit 7 splits at any byte, not between commands. */
#define SPLIT_RAW 0x80

/* One file of a layout, its bytes in the input. */
struct afile {
	char name[64];
	const uint8_t *data;
	size_t len;
};

/* A data directory to start on. */
struct layout {
	enum layout_kind kind;
	struct afile files[AOF_MAX_FILES]; /* in the manifest's order */
	int nfiles;
	int has_base;                      /* files[0] is the base */
	const uint8_t *data;               /* all the files' bytes */
	size_t len;
	const char *manifest;              /* written as is; NULL: none */
	size_t manifest_len;
	char made[512];                    /* a manifest the harness wrote */
};

/* How one server starts. */
struct start_opts {
	int load_truncated;          /* aof-load-truncated */
	long long now_us;            /* the wall clock while it runs */
	int maxmemory;               /* maxmemory 1 */
	int evict;                   /* allkeys-lru, else noeviction */
	int small_lists;
};

/* A growable byte buffer of the harness's own (malloc: the server's
 * accounting, mem_used(), must not see it). */
struct bytes {
	char *p;
	size_t len, cap;
};

/* What a start gave. */
struct outcome {
	int ok;                      /* the server started */
	char err[SERVER_ERR_LEN];    /* else why not */
	struct bytes dump;           /* every key (stale ones too), sorted */
	struct bytes after;          /* the keys after a SCAN reclaimed the
	                              * stale ones */
	long long last_size;         /* the layout's last file once loaded
	                              * (before the DELs of that SCAN) */
	size_t live;                 /* keys that are not stale */
};

/* What the harness expects of a layout it made the manifest for. */
struct prediction {
	int known;                   /* the rest is meaningful */
	int ok_no, ok_yes;           /* a start loads, aof-load-truncated
	                              * no, yes */
	int torn;                    /* the last file is cut at cut */
	size_t cut;
	int file;                    /* the file a refusal names, and */
	size_t offset;               /* the offset ((size_t)-1: none) */
};

static char root[64];            /* the process's directory */
static char data_dir[96];        /* root/d: the server's dir */
static char aof_dir[128];        /* root/d/appendonlydir */
static char sock_path[96];       /* root/s */
static size_t mem_baseline;      /* mem_used() with no server (0: not
                                  * known yet) */

/* ---- Bytes ---- */

/* Append n bytes to b. */
static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	char *np;

	if (b->len + n > b->cap) {
		b->cap = b->cap == 0 ? 256 : b->cap;
		while (b->len + n > b->cap)
			b->cap *= 2;
		np = realloc(b->p, b->cap);
		FUZZ_CHECK(np != NULL);
		b->p = np;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Append a number's bytes to b. */
static void
bytes_num(struct bytes *b, unsigned long long n)
{
	bytes_add(b, &n, sizeof(n));
}

/* Release b and empty it. */
static void
bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* A copy of n bytes in a block of exactly that size, so that a read
 * past them is caught (one byte that is not part of it if n is 0). */
static char *
exact_copy(const void *p, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	FUZZ_CHECK(c != NULL);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

/* ---- Parsing, as the loader reads a file ---- */

/* One command aof_parse() read: where its call began and ended, and a
 * digest of its arguments (offsets and lengths). */
struct pcmd {
	size_t from, end;
	int argc;
	unsigned long long digest;
};

/* Everything aof_parse() read from a buffer, and how it stopped. */
struct parsed {
	struct pcmd *cmds;
	size_t n, cap;
	int code;                    /* AOF_PARSE_END, _TRUNCATED or _BAD */
	size_t pos, bad;
};

/* A digest of a command's arguments relative to buf. */
static unsigned long long
args_digest(const char *buf, int argc, const struct resp_arg *argv)
{
	unsigned long long h = 1469598103934665603ULL;
	int i;

	for (i = 0; i < argc; i++) {
		h = (h ^ (unsigned long long)(argv[i].ptr - buf)) *
		    1099511628211ULL;
		h = (h ^ argv[i].len) * 1099511628211ULL;
	}
	return h;
}

/*
 * Parse all of buf[0..len) as the loader does, checking what each call
 * leaves: a command lies between where the call began and where it left
 * *pos, each argument followed by CRLF; a clean end is at len; a broken
 * command starts where the last one ended (or after annotations) and a
 * bad byte lies inside the buffer at or after it.
 */
static void
parse_all(const char *buf, size_t len, struct parsed *out)
{
	struct resp_arg *argv = NULL;
	size_t pos = 0, from, bad;
	int argc = 0, cap = 0, r, i;

	memset(out, 0, sizeof(*out));
	for (;;) {
		from = pos;
		bad = (size_t)-1;
		r = aof_parse(buf, len, &pos, &argc, &argv, &cap, &bad);
		if (r != AOF_PARSE_OK)
			break;
		FUZZ_CHECK(pos > from && pos <= len);
		FUZZ_CHECK(argc >= 1 && argc <= cap);
		for (i = 0; i < argc; i++) {
			FUZZ_CHECK(argv[i].ptr > buf + from);
			FUZZ_CHECK(argv[i].ptr + argv[i].len + 2 <= buf + pos);
			FUZZ_CHECK(argv[i].ptr[argv[i].len] == '\r' &&
			    argv[i].ptr[argv[i].len + 1] == '\n');
			FUZZ_CHECK(i == 0 || argv[i].ptr > argv[i - 1].ptr +
			    argv[i - 1].len);
		}
		if (out->n == out->cap) {
			out->cap = out->cap == 0 ? 16 : out->cap * 2;
			out->cmds = realloc(out->cmds, out->cap *
			    sizeof(*out->cmds));
			FUZZ_CHECK(out->cmds != NULL);
		}
		out->cmds[out->n].from = from;
		out->cmds[out->n].end = pos;
		out->cmds[out->n].argc = argc;
		out->cmds[out->n].digest = args_digest(buf, argc, argv);
		out->n++;
	}
	mem_free(argv);
	FUZZ_CHECK(pos >= from && pos <= len);
	if (r == AOF_PARSE_END)
		FUZZ_CHECK(pos == len);
	else if (r == AOF_PARSE_BAD)
		FUZZ_CHECK(bad >= pos && bad < len);
	else
		FUZZ_CHECK(r == AOF_PARSE_TRUNCATED && pos < len);
	out->code = r;
	out->pos = pos;
	out->bad = bad;
}

/*
 * A file cut at cut (a torn write) must read as the whole file does up
 * to the cut: the same commands wherever they end before it, then a
 * clean end, a torn command (never a broken one where the whole file
 * has a good command), or the very break the whole file has.
 */
static void
check_cut(const char *data, const struct parsed *whole, size_t cut)
{
	char *buf = exact_copy(data, cut);
	struct parsed part;
	size_t i, prev;

	parse_all(buf, cut, &part);
	for (i = 0; i < whole->n && whole->cmds[i].end <= cut; i++) {
		FUZZ_CHECK(i < part.n);
		FUZZ_CHECK(part.cmds[i].end == whole->cmds[i].end);
		FUZZ_CHECK(part.cmds[i].argc == whole->cmds[i].argc);
		FUZZ_CHECK(part.cmds[i].digest == whole->cmds[i].digest);
	}
	FUZZ_CHECK(part.n == i);
	/* It stops after the last whole command (and the annotations
	 * after it that the cut left whole). */
	prev = i > 0 ? whole->cmds[i - 1].end : 0;
	if (part.code == AOF_PARSE_BAD) {
		FUZZ_CHECK(i == whole->n && whole->code == AOF_PARSE_BAD);
		FUZZ_CHECK(part.pos == whole->pos && part.bad == whole->bad);
	} else
		FUZZ_CHECK(part.pos >= prev && part.pos <= cut);
	free(part.cmds);
	free(buf);
}

/* Parse the input's AOF bytes whole and cut at a few places: some the
 * input's hash picks, and around the end of the last command or the
 * break. */
static void
check_parser(const uint8_t *data, size_t len)
{
	char *buf = exact_copy(data, len);
	uint64_t seed = fuzz_hash(data, len) | 1;
	struct parsed whole;
	size_t cuts[AOF_CUTS], last;
	int i, n = 0;

	parse_all(buf, len, &whole);
	if (len > 0) {
		last = whole.n > 0 ? whole.cmds[whole.n - 1].from : 0;
		cuts[n++] = last + (len - last) / 2;
		cuts[n++] = len - 1;
		if (whole.code != AOF_PARSE_END)
			cuts[n++] = whole.pos + (len - whole.pos) / 2;
		if (whole.code == AOF_PARSE_BAD && whole.bad + 1 < len)
			cuts[n++] = whole.bad + 1;
		while (n < AOF_CUTS)
			cuts[n++] = (size_t)(fuzz_rand(&seed) % len);
	}
	for (i = 0; i < n; i++)
		check_cut(buf, &whole, cuts[i]);
	free(whole.cmds);
	free(buf);
}

/* ---- What the loader must do ---- */

/* Whether a command's effect depends on the wall clock when it runs: a
 * relative expire time (Redis's own files hold only absolute ones). */
static int
relative_time(int argc, const struct resp_arg *argv)
{
	int i, from;

	if (arg_is(&argv[0], "setex") || arg_is(&argv[0], "psetex") ||
	    arg_is(&argv[0], "expire") || arg_is(&argv[0], "pexpire"))
		return 1;
	if (arg_is(&argv[0], "set"))
		from = 3;
	else if (arg_is(&argv[0], "getex"))
		from = 2;
	else
		return 0;
	for (i = from; i < argc; i++)
		if (arg_is(&argv[i], "ex") || arg_is(&argv[i], "px"))
			return 1;
	return 0;
}

/*
 * What loading the files of lay must do, as aof.c is specified: a base
 * in RDB format, a broken command or an unknown command fails the start;
 * a torn last command or a MULTI without its EXEC is cut off (the
 * transaction from its MULTI) if the file is the last one and
 * aof-load-truncated is yes, else fails it. Also tells whether any
 * command the loader runs sets a relative expire time.
 */
static void
predict(const struct layout *lay, struct prediction *p, int *relative)
{
	struct resp_arg *argv = NULL;
	const struct command *cmd;
	const struct afile *f;
	size_t pos, from, bad, before_multi = 0;
	int argc = 0, cap = 0, r = AOF_PARSE_END, i, multi = 0, fail = 0;

	memset(p, 0, sizeof(*p));
	p->offset = (size_t)-1;
	for (i = 0; i < lay->nfiles && !fail; i++) {
		f = &lay->files[i];
		p->file = i;
		if (i == 0 && lay->has_base && f->len >= 5 &&
		    memcmp(f->data, "REDIS", 5) == 0) {
			fail = 1;
			break;
		}
		pos = 0;
		for (;;) {
			from = pos;
			r = aof_parse((const char *)f->data, f->len, &pos,
			    &argc, &argv, &cap, &bad);
			if (r != AOF_PARSE_OK)
				break;
			/* The command begins after its annotations. */
			while (f->data[from] == '#')
				from = (size_t)((const uint8_t *)memchr(
				    f->data + from, '\n', f->len - from) -
				    f->data) + 1;
			cmd = command_lookup(argv[0].ptr, argv[0].len);
			if (cmd == NULL) {
				fail = 1;
				p->offset = from;
				break;
			}
			*relative |= relative_time(argc, argv);
			if (argc == 1 && cmd->proc == cmd_multi && !multi) {
				multi = 1;
				before_multi = from;
			} else if (argc == 1 && (cmd->proc == cmd_exec ||
			    cmd->proc == cmd_discard))
				multi = 0;
		}
		if (fail || r == AOF_PARSE_BAD) {
			if (r == AOF_PARSE_BAD)
				p->offset = bad;
			fail = 1;
			break;
		}
		if (r == AOF_PARSE_TRUNCATED || multi) {
			if (i != lay->nfiles - 1)
				fail = 1;
			p->torn = 1;
			p->cut = p->offset = multi ? before_multi : pos;
		}
	}
	mem_free(argv);
	p->known = lay->kind != LAYOUT_MANIFEST;
	if (lay->kind == LAYOUT_NO_MANIFEST) {
		/* No manifest: a fresh start if the directory is empty,
		 * else a refusal (data without a manifest). */
		p->ok_no = p->ok_yes = lay->len == 0;
		p->torn = 0;
	} else if (lay->kind == LAYOUT_OLD_FORMAT)
		p->ok_no = p->ok_yes = p->torn = 0;
	else {
		p->ok_no = !fail && !p->torn;
		p->ok_yes = !fail;
	}
}

/* ---- The data directory ---- */

/* Remove every file in dir (not recursive). */
static void
empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			FUZZ_CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
	closedir(d);
}

/* Write n bytes to dir/name. */
static void
put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

/* The size of dir/name, or -1 if it is not there. */
static long long
file_size(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Make the data directory hold exactly lay's files, the last one cut to
 * last_len bytes if that is not (size_t)-1. */
static void
write_layout(const struct layout *lay, size_t last_len)
{
	char old[160];
	int i;
	size_t n;

	empty_dir(aof_dir);
	FUZZ_CHECK(mkdir(aof_dir, 0755) == 0 || errno == EEXIST);
	snprintf(old, sizeof(old), "%s/" AOF_NAME, data_dir);
	FUZZ_CHECK(unlink(old) == 0 || errno == ENOENT);
	if (lay->kind == LAYOUT_OLD_FORMAT) {
		put_file(data_dir, AOF_NAME, lay->data, lay->len);
		return;
	}
	for (i = 0; i < lay->nfiles; i++) {
		n = lay->files[i].len;
		if (i == lay->nfiles - 1 && last_len != (size_t)-1)
			n = last_len;
		put_file(aof_dir, lay->files[i].name, lay->files[i].data, n);
	}
	if (lay->manifest != NULL)
		put_file(aof_dir, AOF_NAME ".manifest", lay->manifest,
		    lay->manifest_len);
}

/* Where to split len bytes for the fraction x of max: at that byte if
 * raw, else between the commands ps read (its n ends, and 0). */
static size_t
split_at(const struct parsed *ps, size_t len, int raw, unsigned x,
    unsigned max)
{
	size_t k;

	if (raw)
		return (size_t)((unsigned long long)len * x / max);
	k = (size_t)((unsigned long long)(ps->n + 1) * x / (max + 1));
	return k == 0 ? 0 : ps->cmds[k - 1].end;
}

/* Name a file of lay and give it data[from..to). */
static void
layout_file(struct layout *lay, const char *kind, int seq, size_t from,
    size_t to)
{
	struct afile *f = &lay->files[lay->nfiles++];

	snprintf(f->name, sizeof(f->name), AOF_NAME ".%d.%s.aof", seq, kind);
	f->data = lay->data + from;
	f->len = to - from;
}

/* The manifest line of a file, as Redis 7.0 writes it. */
static void
manifest_line(struct layout *lay, const struct afile *f, int seq,
    char type)
{
	size_t n = strlen(lay->made);

	snprintf(lay->made + n, sizeof(lay->made) - n,
	    "file %s seq %d type %c\n", f->name, seq, type);
}

/*
 * Read the header and lay the input out: 0, or -1 if it is too short.
 * Byte 0 picks the layout and settings (HDR_*), byte 1 where the bytes
 * are split between the files (between commands unless SPLIT_RAW), and
 * with LAYOUT_MANIFEST bytes 2 and 3 the length of the manifest that
 * follows (big-endian).
 */
static int
make_layout(const uint8_t *in, size_t size, struct layout *lay)
{
	unsigned split;
	size_t a, b, mlen;
	struct parsed ps;
	int raw;

	memset(lay, 0, sizeof(*lay));
	if (size < 2)
		return -1;
	lay->kind = (enum layout_kind)(in[0] & 7);
	split = in[1] & 0x7f;
	raw = (in[1] & SPLIT_RAW) != 0;
	lay->data = in + 2;
	lay->len = size - 2;
	if (lay->kind == LAYOUT_MANIFEST) {
		if (size < 4)
			return -1;
		mlen = (size_t)in[2] << 8 | in[3];
		if (mlen > size - 4)
			mlen = size - 4;
		lay->manifest = (const char *)in + 4;
		lay->manifest_len = mlen;
		lay->data = in + 4 + mlen;
		lay->len = size - 4 - mlen;
	}
	parse_all((const char *)lay->data, lay->len, &ps);
	a = split_at(&ps, lay->len, raw, split & 15, 15);
	b = split_at(&ps, lay->len, raw, (split >> 4) + 8, 15);
	if (b < a)
		b = a;
	switch (lay->kind) {
	case LAYOUT_BASE:
	case LAYOUT_NO_MANIFEST:
		layout_file(lay, "base", 1, 0, lay->len);
		lay->has_base = 1;
		break;
	case LAYOUT_INCR:
		layout_file(lay, "incr", 1, 0, lay->len);
		break;
	case LAYOUT_BASE_INCR:
	case LAYOUT_ODD_MANIFEST:
		layout_file(lay, "base", 1, 0, a);
		layout_file(lay, "incr", 1, a, lay->len);
		lay->has_base = 1;
		break;
	case LAYOUT_BASE_2INCR:
	case LAYOUT_MANIFEST:
		layout_file(lay, "base", 1, 0, a);
		layout_file(lay, "incr", 1, a, b);
		layout_file(lay, "incr", 2, b, lay->len);
		lay->has_base = 1;
		break;
	case LAYOUT_OLD_FORMAT:
		break;
	}
	free(ps.cmds);
	if (lay->kind == LAYOUT_ODD_MANIFEST) {
		snprintf(lay->made, sizeof(lay->made), "# a comment\n"
		    "file " AOF_NAME ".0.base.aof seq 1 type h\n"
		    "seq 1 type b file %s\n"
		    "type i file %s seq 1 more pairs\n", lay->files[0].name,
		    lay->files[1].name);
	} else if (lay->kind <= LAYOUT_BASE_2INCR) {
		if (lay->has_base)
			manifest_line(lay, &lay->files[0], 1, 'b');
		for (a = (size_t)lay->has_base; a < (size_t)lay->nfiles; a++)
			manifest_line(lay, &lay->files[a],
			    (int)a + !lay->has_base, 'i');
	}
	if (lay->made[0] != '\0') {
		lay->manifest = lay->made;
		lay->manifest_len = strlen(lay->made);
	}
	return 0;
}

/* ---- The keyspace a start loaded ---- */

/* Every entry of the keyspace, serialized, then sorted by key. */
struct dump_ctx {
	struct bytes recs;           /* the entries, one after another */
	struct span {
		size_t off, len;
	} *ents;                     /* where each lies in recs */
	size_t n, cap;
	long long now;               /* stale: an expire time before it */
	int expires;                 /* walking db->expires */
	size_t live;
};

static const char *sort_base;    /* recs, for the comparison */

/* Order two entries (spans of sort_base) by key bytes. */
static int
entry_cmp(const void *x, const void *y)
{
	const char *a = sort_base + ((const struct span *)x)->off;
	const char *b = sort_base + ((const struct span *)y)->off;
	unsigned long long la, lb;
	int c;

	memcpy(&la, a, sizeof(la));
	memcpy(&lb, b, sizeof(lb));
	c = memcmp(a + sizeof(la), b + sizeof(lb), la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

/* A list's elements, in order, after checking its structure: a pack
 * inline, or a heap list whose chunks list_check() accepts; never
 * empty. */
static void
dump_list(struct bytes *b, const dbkey *k)
{
	const struct list *l = NULL;
	const unsigned char *v;
	struct list_iter it;
	size_t rlen, count, len, seen = 0;
	const char *raw = db_key_value(k, &rlen);

	if (db_key_encoding(k) == OBJ_ENC_QUICKLIST) {
		FUZZ_CHECK(rlen == sizeof(l));
		memcpy(&l, raw, sizeof(l));
		FUZZ_CHECK(list_check(l) == 0);
		count = l->count;
		FUZZ_CHECK(count > 0);
		list_iter_init(&it, l, 0, LIST_TAIL);
	} else {
		FUZZ_CHECK(db_key_encoding(k) == OBJ_ENC_LISTPACK);
		FUZZ_CHECK(rlen >= LIST_PACK_HDR);
		count = list_pack_count(raw);
		FUZZ_CHECK(count > 0);
		list_iter_init_pack(&it, raw, rlen, 0, LIST_TAIL);
	}
	bytes_num(b, count);
	while (list_iter_next(&it, &v, &len)) {
		bytes_num(b, len);
		bytes_add(b, v, len);
		seen++;
	}
	FUZZ_CHECK(seen == count);
}

/* dict_foreach: serialize one entry (key, type, encoding, expire time,
 * value), checking that it sits in the right table and that a string's
 * encoding fits its value. */
static int
dump_entry(const dict_entry *e, void *arg)
{
	struct dump_ctx *d = arg;
	const dbkey *k = e;
	size_t klen, vlen;
	const char *key = db_key_name(k, &klen);
	const char *v;
	long long when = db_key_expire(k);
	struct span *sp;

	FUZZ_CHECK(d->expires ? when != -1 : when == -1);
	if (d->n == d->cap) {
		d->cap = d->cap == 0 ? 64 : d->cap * 2;
		d->ents = realloc(d->ents, d->cap * sizeof(*d->ents));
		FUZZ_CHECK(d->ents != NULL);
	}
	sp = &d->ents[d->n++];
	sp->off = d->recs.len;
	bytes_num(&d->recs, klen);
	bytes_add(&d->recs, key, klen);
	bytes_num(&d->recs, (unsigned long long)db_key_type(k));
	bytes_num(&d->recs, (unsigned long long)db_key_encoding(k));
	bytes_num(&d->recs, (unsigned long long)when);
	if (when == -1 || d->now <= when)
		d->live++;
	if (db_key_type(k) == OBJ_LIST)
		dump_list(&d->recs, k);
	else {
		FUZZ_CHECK(db_key_type(k) == OBJ_STRING);
		v = db_key_value(k, &vlen);
		if (db_key_encoding(k) == OBJ_ENC_INT)
			FUZZ_CHECK(obj_string_encoding(v, vlen) ==
			    OBJ_ENC_INT);
		else if (db_key_encoding(k) == OBJ_ENC_EMBSTR)
			FUZZ_CHECK(vlen <= OBJ_EMBSTR_MAX);
		else
			FUZZ_CHECK(db_key_encoding(k) == OBJ_ENC_RAW);
		bytes_num(&d->recs, vlen);
		bytes_add(&d->recs, v, vlen);
	}
	sp->len = d->recs.len - sp->off;
	return 0;
}

/* The keyspace as bytes to compare, sorted by key, stale keys included
 * (with their expire times); *live counts the others. */
static void
dump_db(struct db *db, long long now, struct bytes *out, size_t *live)
{
	struct dump_ctx d;
	size_t i;

	memset(&d, 0, sizeof(d));
	d.now = now;
	dict_foreach(db->keys, dump_entry, &d);
	d.expires = 1;
	dict_foreach(db->expires, dump_entry, &d);
	FUZZ_CHECK(d.n == db_size(db));
	sort_base = d.recs.p;
	if (d.n > 0)
		qsort(d.ents, d.n, sizeof(*d.ents), entry_cmp);
	for (i = 0; i < d.n; i++) {
		/* No key is in both tables. */
		FUZZ_CHECK(i == 0 || entry_cmp(&d.ents[i - 1], &d.ents[i]) <
		    0);
		bytes_add(out, d.recs.p + d.ents[i].off, d.ents[i].len);
	}
	*live = d.live;
	free(d.ents);
	bytes_free(&d.recs);
}

/* Print n bytes of p quoted, non-printable ones as '.', at most 40. */
static void
print_quoted(const char *p, size_t n)
{
	size_t i;

	fputc('\'', stderr);
	for (i = 0; i < n && i < 40; i++)
		fputc(p[i] >= 32 && p[i] < 127 ? p[i] : '.', stderr);
	fputs(n > 40 ? "...'" : "'", stderr);
}

/* Print a dump readably (on a failed comparison). */
static void
dump_print(const char *what, const struct bytes *b)
{
	unsigned long long klen, type, enc, n, len, i;
	long long when;
	size_t at = 0;

	fprintf(stderr, "%s: %zu bytes\n", what, b->len);
	while (at < b->len) {
		memcpy(&klen, b->p + at, 8);
		fputs("  ", stderr);
		print_quoted(b->p + at + 8, klen);
		at += 8 + klen;
		memcpy(&type, b->p + at, 8);
		memcpy(&enc, b->p + at + 8, 8);
		memcpy(&when, b->p + at + 16, 8);
		memcpy(&n, b->p + at + 24, 8);
		at += 32;
		fprintf(stderr, " %s %s expire %lld:",
		    obj_type_name((int)type), obj_encoding_name((int)enc),
		    when);
		if (type != OBJ_LIST) {
			fputc(' ', stderr);
			print_quoted(b->p + at, n);
			at += n;
		}
		for (i = 0; type == OBJ_LIST && i < n; i++) {
			memcpy(&len, b->p + at, 8);
			fputc(' ', stderr);
			print_quoted(b->p + at + 8, len);
			at += 8 + len;
		}
		fputc('\n', stderr);
	}
}

/* Two starts loaded the same keyspace. */
static void
same_keys(const char *what, const struct bytes *a, const struct bytes *b)
{
	if (a->len == b->len && (a->len == 0 || memcmp(a->p, b->p,
	    a->len) == 0))
		return;
	fprintf(stderr, "fuzz_aof: %s: the keyspaces differ\n", what);
	dump_print("first", a);
	dump_print("second", b);
	FUZZ_CHECK(!"the same keyspace");
}

/* The keys of a SCAN, copied. */
struct scan_ctx {
	struct bytes names;
	struct span *ents;
	size_t n, cap;
};

/* db_scan_step: note one key. */
static void
scan_key(const dbkey *k, void *arg)
{
	struct scan_ctx *s = arg;
	size_t klen;
	const char *key = db_key_name(k, &klen);

	if (s->n == s->cap) {
		s->cap = s->cap == 0 ? 64 : s->cap * 2;
		s->ents = realloc(s->ents, s->cap * sizeof(*s->ents));
		FUZZ_CHECK(s->ents != NULL);
	}
	s->ents[s->n].off = s->names.len;
	s->ents[s->n++].len = klen;
	bytes_num(&s->names, klen);
	bytes_add(&s->names, key, klen);
}

/*
 * A whole SCAN (its steps as one call, so no key comes twice) finds
 * exactly the live keys: each once, each found again by a lookup, as
 * many as are live; the stale keys it met are reclaimed after it (and
 * propagated as DEL to the AOF, as when a client scans after a start).
 */
static void
check_scan(struct server *srv, size_t live)
{
	struct db_scan_state st = { NULL, 0, 0 };
	struct scan_ctx s;
	size_t cursor = 0, i, klen;
	const char *key;

	memset(&s, 0, sizeof(s));
	do
		cursor = db_scan_step(&srv->db, &st, cursor, scan_key, &s);
	while (cursor != 0);
	db_scan_end(&srv->db, &st);
	FUZZ_CHECK(s.n == live);
	FUZZ_CHECK(db_size(&srv->db) == live);
	sort_base = s.names.p;
	if (s.n > 0)
		qsort(s.ents, s.n, sizeof(*s.ents), entry_cmp);
	for (i = 0; i < s.n; i++) {
		FUZZ_CHECK(i == 0 || entry_cmp(&s.ents[i - 1], &s.ents[i]) < 0);
		key = s.names.p + s.ents[i].off + 8;
		klen = s.ents[i].len;
		FUZZ_CHECK(db_find(&srv->db, key, klen, DB_NOSTATS |
		    DB_NOTOUCH) != NULL);
	}
	free(s.ents);
	bytes_free(&s.names);
}

/*
 * After a start that loaded: the AOF is on and written to, nothing was
 * fed to it while loading (it would be written a second time), the
 * manifest on disk says what the server holds, and aof_current_size and
 * aof_base_size are the sizes of the files it lists.
 */
static void
check_aof_state(struct server *srv)
{
	struct aof *a = &srv->aof;
	struct aof_manifest m;
	char path[256], err[SERVER_ERR_LEN];
	long long sum = 0, n;
	int i;

	FUZZ_CHECK(a->on && a->fd != -1 && !a->loading);
	FUZZ_CHECK(a->fed == 0 && a->buf.len == 0);
	FUZZ_CHECK(strcmp(a->dirpath, aof_dir) == 0);
	FUZZ_CHECK(a->man.nincr >= 1);
	snprintf(path, sizeof(path), "%s/" AOF_NAME ".manifest", aof_dir);
	if (aof_manifest_load(path, &m, err) != 0) {
		fprintf(stderr, "fuzz_aof: %s\n", err);
		FUZZ_CHECK(!"the manifest reads back");
	}
	FUZZ_CHECK((m.base == NULL) == (a->man.base == NULL));
	if (m.base != NULL) {
		FUZZ_CHECK(strcmp(m.base, a->man.base) == 0);
		FUZZ_CHECK(m.base_seq == a->man.base_seq);
		n = file_size(aof_dir, m.base);
		FUZZ_CHECK(n >= 0);
		if (a->base_size != n) {
			fprintf(stderr, "fuzz_aof: aof_base_size %lld, the "
			    "base file %s holds %lld bytes\n", a->base_size,
			    m.base, n);
			FUZZ_CHECK(!"aof_base_size is the base file's size");
		}
		sum += n;
	} else
		FUZZ_CHECK(a->base_size == 0);
	FUZZ_CHECK(m.nincr == a->man.nincr);
	for (i = 0; i < m.nincr; i++) {
		FUZZ_CHECK(strcmp(m.incr[i], a->man.incr[i]) == 0);
		FUZZ_CHECK(m.incr_seq[i] == a->man.incr_seq[i]);
		n = file_size(aof_dir, m.incr[i]);
		FUZZ_CHECK(n >= 0);
		sum += n;
	}
	if (a->current_size != sum) {
		fprintf(stderr, "fuzz_aof: aof_current_size %lld, the files "
		    "listed hold %lld bytes\n", a->current_size, sum);
		FUZZ_CHECK(!"aof_current_size is the files' size");
	}
	aof_manifest_free(&m);
}

/* ---- Starting a server ---- */

/* Set one setting (it must be accepted). */
static void
cfg_set(struct server_config *cfg, const char *name, const char *value)
{
	char err[SETTING_ERR_LEN];

	if (server_config_set(cfg, name, value, strlen(value), err) != 0) {
		fprintf(stderr, "fuzz_aof: %s %s: %s\n", name, value, err);
		FUZZ_CHECK(!"a valid setting");
	}
}

/*
 * Start a server on the data directory as it is (server_create: the
 * load at start), with a Unix listener only, at the fixed wall clock
 * o->now_us. If it starts: check it (check_aof_state), note the size of
 * lay's last file, keep its keyspace (out->dump), SCAN it (check_scan),
 * keep it again as it is now (out->after), free it. All memory must
 * come back.
 */
static void
start(const struct start_opts *o, const struct layout *lay,
    struct outcome *out)
{
	struct server_config cfg;
	struct server *srv;

	memset(out, 0, sizeof(*out));
	server_config_init(&cfg);
	cfg.port = -1;
	cfg.maxclients = 16;
	cfg.loglevel = LL_WARNING;
	cfg_set(&cfg, "unixsocket", sock_path);
	/* CONFIG SET port in a file would open a real listener: on this
	 * address (TEST-NET-1, never assigned) it fails. */
	cfg_set(&cfg, "bind", "192.0.2.1");
	cfg_set(&cfg, "logfile", "/dev/null");
	cfg_set(&cfg, "dir", data_dir);
	cfg_set(&cfg, "appendonly", "yes");
	cfg_set(&cfg, "appendfsync", "always");
	cfg_set(&cfg, "aof-load-truncated", o->load_truncated ? "yes" : "no");
	if (o->maxmemory) {
		cfg_set(&cfg, "maxmemory", "1");
		cfg_set(&cfg, "maxmemory-policy", o->evict ? "allkeys-lru" :
		    "noeviction");
	}
	if (o->small_lists) {
		cfg_set(&cfg, "list-max-listpack-size", "2");
		cfg_set(&cfg, "list-compress-depth", "1");
	}
	clock_set_fixed_wall_us(o->now_us);
	srv = server_create(&cfg, out->err);
	server_config_free(&cfg);
	if (srv != NULL) {
		out->ok = 1;
		check_aof_state(srv);
		if (lay->nfiles > 0)
			out->last_size = file_size(aof_dir,
			    lay->files[lay->nfiles - 1].name);
		srv->db.now = o->now_us / 1000;
		dump_db(&srv->db, srv->db.now, &out->dump, &out->live);
		check_scan(srv, out->live);
		dump_db(&srv->db, srv->db.now, &out->after, &out->live);
		server_free(srv);
	}
	clock_set_fixed_wall_us(0);
	/* The first start (setup's) sets the baseline. */
	if (mem_baseline == 0)
		mem_baseline = mem_used();
	FUZZ_CHECK(mem_used() == mem_baseline);
}

/* A start gave what was predicted. */
static void
expect_start(const char *what, const struct outcome *out, int ok)
{
	if (out->ok == ok)
		return;
	fprintf(stderr, "fuzz_aof: %s: %s\n", what, out->ok ? "started, "
	    "where it must fail" : out->err);
	FUZZ_CHECK(!"the start goes as predicted");
}

/* Whether text holds word not followed by a digit. */
static int
has_number(const char *text, const char *word)
{
	const char *at = text;

	while ((at = strstr(at, word)) != NULL) {
		at += strlen(word);
		if (*at < '0' || *at > '9')
			return 1;
	}
	return 0;
}

/* A refusal to load names the file, and the offset where there is one
 * (the command that broke, the one unknown, or where a torn file would
 * be cut). */
static void
expect_reason(const struct layout *lay, const struct prediction *p,
    const struct outcome *out)
{
	char off[40];

	if (out->ok || lay->kind == LAYOUT_NO_MANIFEST ||
	    lay->kind == LAYOUT_OLD_FORMAT)
		return;
	snprintf(off, sizeof(off), " offset %zu", p->offset);
	if (strstr(out->err, lay->files[p->file].name) != NULL &&
	    (p->offset == (size_t)-1 || has_number(out->err, off)))
		return;
	fprintf(stderr, "fuzz_aof: the refusal does not name %s%s: %s\n",
	    lay->files[p->file].name, p->offset == (size_t)-1 ? "" : off,
	    out->err);
	FUZZ_CHECK(!"the refusal names the file and the offset");
}

/* Release what a start kept. */
static void
outcome_free(struct outcome *out)
{
	bytes_free(&out->dump);
	bytes_free(&out->after);
}

/* ---- The process's directory ---- */

/* Remove the directory at exit (a crash leaves it for inspection). */
static void
teardown(void)
{
	char old[160];

	empty_dir(aof_dir);
	rmdir(aof_dir);
	snprintf(old, sizeof(old), "%s/" AOF_NAME, data_dir);
	unlink(old);
	rmdir(data_dir);
	unlink(sock_path);
	rmdir(root);
}

/*
 * Make the process's directory (under /dev/shm where there is one: the
 * files are written and fsync'd thousands of times a second), and start
 * a server once on it, empty: what the server allocates once per process
 * is then there before mem_baseline is taken.
 */
static void
setup(void)
{
	struct start_opts o;
	struct outcome out;
	struct layout lay;

	snprintf(root, sizeof(root), "%s/tmc-fuzz-aof-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_CHECK(mkdtemp(root) != NULL);
	snprintf(data_dir, sizeof(data_dir), "%s/d", root);
	snprintf(aof_dir, sizeof(aof_dir), "%s/" AOF_DIRNAME, data_dir);
	snprintf(sock_path, sizeof(sock_path), "%s/s", root);
	FUZZ_CHECK(mkdir(data_dir, 0755) == 0);
	atexit(teardown);
	commands_init();
	memset(&lay, 0, sizeof(lay));
	lay.kind = LAYOUT_NO_MANIFEST;
	write_layout(&lay, (size_t)-1);
	memset(&o, 0, sizeof(o));
	o.now_us = AOF_NOW_US_A;
	start(&o, &lay, &out);
	FUZZ_CHECK(out.ok && out.live == 0);
	outcome_free(&out);
}

/* ---- The input ---- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome no, yes, again, cut, other;
	struct start_opts o;
	struct prediction pred;
	struct layout lay;
	int relative = 0;

	if (root[0] == '\0')
		setup();
	if (make_layout(data, size, &lay) == -1)
		return 0;
	check_parser(lay.data, lay.len);
	predict(&lay, &pred, &relative);
	memset(&o, 0, sizeof(o));
	o.now_us = data[0] & HDR_LATE ? AOF_NOW_US_B : AOF_NOW_US_A;
	o.small_lists = (data[0] & HDR_SMALL_LISTS) != 0;

	/* aof-load-truncated no, then yes, on the same files. */
	write_layout(&lay, (size_t)-1);
	start(&o, &lay, &no);
	write_layout(&lay, (size_t)-1);
	o.load_truncated = 1;
	start(&o, &lay, &yes);
	if (pred.known) {
		expect_start("aof-load-truncated no", &no, pred.ok_no);
		expect_start("aof-load-truncated yes", &yes, pred.ok_yes);
		expect_reason(&lay, &pred, &no);
		expect_reason(&lay, &pred, &yes);
		/* A torn last file was cut where its last whole command
		 * (or the MULTI left open) ends. */
		if (yes.ok && pred.torn)
			FUZZ_CHECK(yes.last_size == (long long)pred.cut);
	}
	if (no.ok) {
		FUZZ_CHECK(yes.ok);
		same_keys("aof-load-truncated no and yes", &no.dump,
		    &yes.dump);
	}
	memset(&again, 0, sizeof(again));
	memset(&cut, 0, sizeof(cut));
	memset(&other, 0, sizeof(other));
	if (yes.ok) {
		/* A restart on what the first left (the file cut, the DELs
		 * of the stale keys the SCAN reclaimed): the same keys. */
		o.load_truncated = 0;
		start(&o, &lay, &again);
		expect_start("a restart", &again, 1);
		same_keys("a restart", &yes.after, &again.dump);
	}
	if (yes.ok && pred.known && pred.torn) {
		/* The file cut by hand where the loader must cut it loads
		 * the same with aof-load-truncated no. */
		write_layout(&lay, pred.cut);
		o.load_truncated = 0;
		start(&o, &lay, &cut);
		expect_start("the file cut at its last whole command", &cut,
		    1);
		same_keys("torn, and cut by hand", &yes.dump, &cut.dump);
	}
	o.load_truncated = 1;
	if ((data[0] & HDR_CLOCK) && !relative) {
		/* Nothing expires while loading (Redis's keyIsExpired and
		 * checkAlreadyExpired): absolute times load alike at any
		 * wall clock. */
		o.now_us = AOF_PAST_US;
		write_layout(&lay, (size_t)-1);
		start(&o, &lay, &other);
		expect_start("loading at another wall clock", &other, yes.ok);
		if (yes.ok)
			same_keys("loaded at two wall clocks", &yes.dump,
			    &other.dump);
	} else if (data[0] & HDR_MAXMEMORY) {
		/* Nothing is evicted, nor refused as OOM, while loading
		 * (Redis runs the commands without processCommand). */
		o.maxmemory = 1;
		o.evict = (data[0] & HDR_EVICT) != 0;
		write_layout(&lay, (size_t)-1);
		start(&o, &lay, &other);
		expect_start("loading with maxmemory", &other, yes.ok);
		if (yes.ok)
			same_keys("loaded with and without maxmemory",
			    &yes.dump, &other.dump);
	}
	outcome_free(&no);
	outcome_free(&yes);
	outcome_free(&again);
	outcome_free(&cut);
	outcome_free(&other);
	return 0;
}
