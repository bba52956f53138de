/* SPDX-License-Identifier: MIT */
/*
 * The append-only file (see aof.h): Redis 7.0's manifest and file names,
 * loading through the normal dispatch, the record feed, the group
 * commit's write and fsync, the fsync thread of appendfsync everysec,
 * write errors (writes refused with MISCONF until the disk works again),
 * the background rewrite (a forked child writes the base; the manifest
 * is swapped, then the old files go), and INFO persistence's AOF lines.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aof.h"
#include "client.h"
#include "clock.h"
#include "commands.h"
#include "dict.h"
#include "list.h"
#include "mem.h"
#include "multi.h"
#include "server.h"
#include "state.h"

#define AOF_MANIFEST_SUFFIX ".manifest"
#define AOF_TEMP_PREFIX "temp-"
#define AOF_MANIFEST_LINE_MAX 1024      /* as Redis's MANIFEST_MAX_LINE */
#define AOF_ERROR_LOG_MS 30000          /* log a repeated error this
                                         * rarely (Redis: 30 s) */
#define AOF_BUF_KEEP (4 * 1024 * 1024)  /* an emptied buffer bigger than
                                         * this is given back */
#define AOF_ITEMS_PER_CMD 64            /* list items per RPUSH in a base
                                         * (Redis: AOF_REWRITE_ITEMS_PER_CMD) */
#define AOF_CHILD_BUF (64 * 1024)       /* the child's output buffer */
#define AOF_LOAD_EVENTS_EVERY 1024      /* commands loaded between two
                                         * rounds of answering clients
                                         * (as Redis) */

static const char aof_select0[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";

/* ---- Paths and files ---- */

/* dirpath/name, allocated. */
static char *
aof_path(const char *dirpath, const char *name)
{
	size_t n = strlen(dirpath) + strlen(name) + 2;
	char *p = mem_alloc(n);

	snprintf(p, n, "%s/%s", dirpath, name);
	return p;
}

/* The name of file seq of a kind ("base", "incr"), as Redis 7.0 names
 * them: appendonly.aof.1.base.aof; allocated. */
static char *
aof_name(const char *prefix, long long seq, const char *kind)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s.%lld.%s.aof", prefix, seq, kind);
	return mem_strdup(buf);
}

/* fsync a directory, so a rename or a new file in it is durable. */
static int
aof_fsync_dir(const char *dirpath)
{
	int fd = open(dirpath, O_RDONLY | O_CLOEXEC), r;

	if (fd == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Write all of p to fd; 0, or -1 with errno set. */
static int
aof_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Create dirpath/name holding n bytes of data, fsync'd, through a
 * temporary file renamed over it (so it is there whole or not at all),
 * then fsync the directory. 0, or -1 with errno set.
 */
static int
aof_write_file(const char *dirpath, const char *name, const char *data,
    size_t n)
{
	char tmpname[PATH_MAX], *tmp, *path;
	int fd, r = -1, saved;

	snprintf(tmpname, sizeof(tmpname), "%s%s", AOF_TEMP_PREFIX, name);
	tmp = aof_path(dirpath, tmpname);
	path = aof_path(dirpath, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != -1) {
		if (aof_write_all(fd, data, n) == 0 && fsync(fd) == 0 &&
		    rename(tmp, path) == 0)
			r = aof_fsync_dir(dirpath);
		saved = errno;
		close(fd);
		if (r == -1)
			unlink(tmp);
		errno = saved;
	}
	mem_free(tmp);
	mem_free(path);
	return r;
}

int
aof_read_file(const char *path, char **data, size_t *n)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	*data = mem_alloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, *data + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			/* A read error is not the end of the file. */
			r = errno;
			close(fd);
			mem_free(*data);
			*data = NULL;
			errno = r;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*n = got;
	return 0;
}

/* ---- The manifest ---- */

void
aof_manifest_free(struct aof_manifest *m)
{
	int i;

	mem_free(m->base);
	for (i = 0; i < m->nincr; i++)
		mem_free(m->incr[i]);
	mem_free(m->incr);
	mem_free(m->incr_seq);
	for (i = 0; i < m->nhist; i++)
		mem_free(m->hist[i]);
	mem_free(m->hist);
	mem_free(m->hist_seq);
	memset(m, 0, sizeof(*m));
}

/* Add an incremental file to m. */
static void
aof_manifest_add_incr(struct aof_manifest *m, const char *name,
    long long seq)
{
	m->incr = mem_realloc(m->incr, sizeof(*m->incr) * (size_t)(m->nincr +
	    1));
	m->incr_seq = mem_realloc(m->incr_seq, sizeof(*m->incr_seq) *
	    (size_t)(m->nincr + 1));
	m->incr[m->nincr] = mem_strdup(name);
	m->incr_seq[m->nincr++] = seq;
}

/* 1 if m lists a file called name (any type). */
static int
aof_manifest_lists(const struct aof_manifest *m, const char *name)
{
	int i;

	if (m->base != NULL && strcmp(m->base, name) == 0)
		return 1;
	for (i = 0; i < m->nincr; i++)
		if (strcmp(m->incr[i], name) == 0)
			return 1;
	for (i = 0; i < m->nhist; i++)
		if (strcmp(m->hist[i], name) == 0)
			return 1;
	return 0;
}

/* Add a history file (one a rewrite replaced) to m. */
static void
aof_manifest_add_hist(struct aof_manifest *m, const char *name,
    long long seq)
{
	m->hist = mem_realloc(m->hist, sizeof(*m->hist) * (size_t)(m->nhist +
	    1));
	m->hist_seq = mem_realloc(m->hist_seq, sizeof(*m->hist_seq) *
	    (size_t)(m->nhist + 1));
	m->hist[m->nhist] = mem_strdup(name);
	m->hist_seq[m->nhist++] = seq;
}

/* Replace the manifest atomically (temporary file, fsync, rename, fsync
 * of the directory) with m, in Redis 7.0's lines: the base first, then
 * the incremental files. 0, or -1 with errno set. */
static int
aof_manifest_save(struct server *srv, const struct aof_manifest *m)
{
	struct resp_buf b;
	char name[PATH_MAX];
	int i, r;

	snprintf(name, sizeof(name), "%s%s", srv->cfg.appendfilename,
	    AOF_MANIFEST_SUFFIX);
	resp_buf_init(&b);
	if (m->base != NULL)
		buf_catf(&b, "file %s seq %lld type b\n", m->base, m->base_seq);
	for (i = 0; i < m->nhist; i++)
		buf_catf(&b, "file %s seq %lld type h\n", m->hist[i],
		    m->hist_seq[i]);
	for (i = 0; i < m->nincr; i++)
		buf_catf(&b, "file %s seq %lld type i\n", m->incr[i],
		    m->incr_seq[i]);
	r = aof_write_file(srv->aof.dirpath, name, b.data, b.len);
	resp_buf_free(&b);
	return r;
}

/*
 * Parse one manifest line (without its newline) into m, as Redis 7.0's
 * aofLoadManifestFromFile does: "file NAME seq N type T" pairs in any
 * order, more pairs allowed. NULL, or the reason it is refused.
 */
static const char *
aof_manifest_line(char *line, struct aof_manifest *m, long long *maxseq)
{
	char *words[16], *save = NULL, *w, *name = NULL, type = 0;
	long long seq = 0;
	int n = 0, i;

	for (w = strtok_r(line, " \t\r", &save); w != NULL;
	    w = strtok_r(NULL, " \t\r", &save)) {
		if (n == 16 || w[0] == '"' || w[0] == '\'')
			return "Invalid AOF manifest file format";
		words[n++] = w;
	}
	if (n < 6 || n % 2 != 0)
		return "Invalid AOF manifest file format";
	for (i = 0; i < n; i += 2) {
		if (strcasecmp(words[i], "file") == 0) {
			name = words[i + 1];
			if (strchr(name, '/') != NULL)
				return "File can't be a path, just a filename";
		} else if (strcasecmp(words[i], "seq") == 0)
			seq = atoll(words[i + 1]);
		else if (strcasecmp(words[i], "type") == 0)
			type = words[i + 1][0];
	}
	if (name == NULL || seq == 0 || type == 0)
		return "Invalid AOF manifest file format";
	if (type == 'b') {
		if (m->base != NULL)
			return "Found duplicate base file information";
		m->base = mem_strdup(name);
		m->base_seq = seq;
	} else if (type == 'i') {
		if (seq <= *maxseq)
			return "Found a non-monotonic sequence number";
		aof_manifest_add_incr(m, name, seq);
		*maxseq = seq;
	} else if (type == 'h')
		aof_manifest_add_hist(m, name, seq);
	else
		return "Unknown AOF file type";
	return NULL;
}

int
aof_manifest_load(const char *path, struct aof_manifest *m, char *err)
{
	char *data, *line, *nl;
	const char *why = NULL;
	long long maxseq = 0;
	size_t n, off = 0;
	int linenum = 0;

	memset(m, 0, sizeof(*m));
	if (aof_read_file(path, &data, &n) == -1) {
		snprintf(err, SERVER_ERR_LEN, "Fatal error: can't open the AOF "
		    "manifest file %s for reading: %s", path, strerror(errno));
		return -1;
	}
	data[n] = '\0';
	if (n == 0)
		why = "Found an empty AOF manifest";
	while (why == NULL && off < n) {
		line = data + off;
		linenum++;
		nl = memchr(line, '\n', n - off);
		if (nl == NULL || nl - line > AOF_MANIFEST_LINE_MAX) {
			why = nl == NULL ? "Invalid AOF manifest file "
			    "format (the last line has no newline)" :
			    "The AOF manifest file contains too long line";
			break;
		}
		*nl = '\0';
		off = (size_t)(nl - data) + 1;
		if (line[0] == '#')
			continue;
		if (strlen(line) != (size_t)(nl - line)) {
			why = "Invalid AOF manifest file format";
			break;
		}
		why = aof_manifest_line(line, m, &maxseq);
	}
	mem_free(data);
	if (why == NULL && m->base == NULL && m->nincr == 0)
		why = "Found an empty AOF manifest";
	if (why == NULL)
		return 0;
	snprintf(err, SERVER_ERR_LEN, "Fatal AOF manifest file error in %s "
	    "at line %d: %s", path, linenum, why);
	aof_manifest_free(m);
	return -1;
}

/* ---- Parsing the AOF format ---- */

/*
 * Read "<prefix><digits>\r\n" at buf[*p] into *out (at most max). An
 * AOF_PARSE_* code; *bad is set on AOF_PARSE_BAD.
 */
static int
aof_parse_len(const char *buf, size_t len, size_t *p, char prefix,
    long long max, long long *out, size_t *bad)
{
	size_t i = *p, start;
	long long v = 0;

	if (i >= len)
		return AOF_PARSE_TRUNCATED;
	if (buf[i] != prefix) {
		*bad = i;
		return AOF_PARSE_BAD;
	}
	start = ++i;
	while (i < len && buf[i] >= '0' && buf[i] <= '9') {
		if (v > (max - (buf[i] - '0')) / 10) {
			*bad = i;
			return AOF_PARSE_BAD;
		}
		v = v * 10 + (buf[i++] - '0');
	}
	if (i >= len)
		return AOF_PARSE_TRUNCATED;
	if (i == start || buf[i] != '\r') {
		*bad = i;
		return AOF_PARSE_BAD;
	}
	if (i + 1 >= len)
		return AOF_PARSE_TRUNCATED;
	if (buf[i + 1] != '\n') {
		*bad = i + 1;
		return AOF_PARSE_BAD;
	}
	*p = i + 2;
	*out = v;
	return AOF_PARSE_OK;
}

int
aof_parse(const char *buf, size_t len, size_t *pos, int *argc,
    struct resp_arg **argv, int *cap, size_t *bad)
{
	size_t p = *pos;
	const char *nl;
	long long n, blen;
	int i, r;

	/* Annotations ("#TS:..."), which Redis 7 may write, are skipped. */
	while (p < len && buf[p] == '#') {
		nl = memchr(buf + p, '\n', len - p);
		if (nl == NULL)
			return AOF_PARSE_TRUNCATED;
		p = (size_t)(nl - buf) + 1;
		*pos = p;
	}
	if (p == len)
		return AOF_PARSE_END;
	r = aof_parse_len(buf, len, &p, '*', INT_MAX, &n, bad);
	if (r != AOF_PARSE_OK)
		return r;
	if (n < 1) {
		*bad = *pos;
		return AOF_PARSE_BAD;
	}
	for (i = 0; i < n; i++) {
		r = aof_parse_len(buf, len, &p, '$', LLONG_MAX, &blen, bad);
		if (r != AOF_PARSE_OK)
			return r;
		if ((unsigned long long)blen > len - p ||
		    len - p - (size_t)blen < 2)
			return AOF_PARSE_TRUNCATED;
		if (buf[p + (size_t)blen] != '\r' ||
		    buf[p + (size_t)blen + 1] != '\n') {
			*bad = p + (size_t)blen;
			return AOF_PARSE_BAD;
		}
		if (i == *cap) {
			*cap = *cap == 0 ? 8 : *cap * 2;
			*argv = mem_realloc(*argv, sizeof(**argv) *
			    (size_t)*cap);
		}
		(*argv)[i].ptr = (char *)(uintptr_t)(buf + p);
		(*argv)[i].len = (size_t)blen;
		(*argv)[i].off = 0;
		p += (size_t)blen + 2;
	}
	*argc = (int)n;
	*pos = p;
	return AOF_PARSE_OK;
}

/* ---- Loading ---- */

/* Where the command whose name is at name starts in data: back over
 * "*N\r\n$L\r\n" to its '*'. */
static size_t
aof_command_start(const char *data, const char *name)
{
	size_t at = (size_t)(name - data) - 1;   /* before "$len\r\n" */

	while (data[at] != '*')
		at--;
	return at;
}

/* The size of dirpath/name, or 0. */
static long long
aof_file_size(const struct aof *a, const char *name)
{
	char *path = aof_path(a->dirpath, name);
	struct stat st;
	long long n = stat(path, &st) == 0 ? (long long)st.st_size : 0;

	mem_free(path);
	return n;
}

/* What loading one file found. */
enum aof_load_result { AOF_LOADED, AOF_LOAD_TRUNCATED, AOF_LOAD_FAILED };

/*
 * Replay dirpath/name through the dispatch as client c. A torn last
 * command (or an unfinished MULTI) is cut off with aof-load-truncated
 * yes if this is the last file; anything else wrong fails with err
 * naming the file and the offset.
 */
static enum aof_load_result
aof_load_file(struct server *srv, struct client *c, const char *name,
    int is_base, int is_last, char *err)
{
	const struct command *cmd;
	char *path = aof_path(srv->aof.dirpath, name), *data = NULL;
	struct resp_arg *argv = NULL;
	size_t n, pos = 0, bad = 0, cut, before_multi = 0;
	enum aof_load_result res = AOF_LOADED;
	unsigned long long done = srv->aof.loading_done, loops = 0;
	int argc = 0, cap = 0, r;

	if (aof_read_file(path, &data, &n) == -1) {
		snprintf(err, SERVER_ERR_LEN, "Unrecoverable error reading the "
		    "append only file %s: %s", path, strerror(errno));
		mem_free(path);
		return AOF_LOAD_FAILED;
	}
	if (is_base && n >= 5 && memcmp(data, "REDIS", 5) == 0) {
		snprintf(err, SERVER_ERR_LEN, "The AOF base file %s is in RDB "
		    "format, which this server cannot read. Convert it with "
		    "redis-server 7.0: start it on this directory with "
		    "--appendonly yes, run CONFIG SET aof-use-rdb-preamble no "
		    "then BGREWRITEAOF, and start this server again once the "
		    "rewrite is done", path);
		res = AOF_LOAD_FAILED;
		goto done;
	}
	for (;;) {
		r = aof_parse(data, n, &pos, &argc, &argv, &cap, &bad);
		if (r == AOF_PARSE_END || r == AOF_PARSE_TRUNCATED)
			break;
		if (r == AOF_PARSE_BAD) {
			snprintf(err, SERVER_ERR_LEN, "Bad file format "
			    "reading the append only file %s at offset %zu "
			    "(the command starting at offset %zu): make a "
			    "backup of your AOF file, then use "
			    "tiny-mp-cache-check-aof --fix <filename.manifest> "
			    "(or redis-check-aof --fix)", path, bad, pos);
			res = AOF_LOAD_FAILED;
			goto done;
		}
		cmd = command_lookup(argv[0].ptr, argv[0].len);
		if (cmd == NULL) {
			snprintf(err, SERVER_ERR_LEN, "Unknown command '%.*s' "
			    "reading the append only file %s at offset %zu",
			    argv[0].len > 64 ? 64 : (int)argv[0].len,
			    argv[0].ptr, path,
			    aof_command_start(data, argv[0].ptr));
			res = AOF_LOAD_FAILED;
			goto done;
		}
		if (cmd->proc == cmd_multi && !(c->flags & CLIENT_MULTI))
			before_multi = aof_command_start(data, argv[0].ptr);
		c->argc = argc;
		c->argv = argv;
		command_dispatch(c);
		c->argc = 0;
		c->argv = NULL;
		c->reply.len = 0;
		if (c->flags & CLIENT_BLOCKED)
			blocked_forget(c);
		/* Now and then, answer the clients (-LOADING, INFO ...). */
		if (++loops % AOF_LOAD_EVENTS_EVERY == 0) {
			srv->aof.loading_done = done + pos;
			server_serve_while_loading(srv);
		}
	}
	if (r == AOF_PARSE_END && !(c->flags & CLIENT_MULTI))
		goto done;
	/* A torn last command, or a MULTI without its EXEC: what the
	 * transaction queued never ran, so the file is cut before it. */
	cut = pos;
	if (c->flags & CLIENT_MULTI) {
		log_write(&srv->log, LL_WARNING, "Revert incomplete MULTI/EXEC "
		    "transaction in AOF file %s", path);
		multi_discard(c);
		cut = before_multi;
	}
	if (!is_last) {
		snprintf(err, SERVER_ERR_LEN, "Fatal error: the truncated file "
		    "is not the last file (%s, offset %zu)", path, cut);
		res = AOF_LOAD_FAILED;
		goto done;
	}
	if (!srv->cfg.aof_load_truncated) {
		snprintf(err, SERVER_ERR_LEN, "Unexpected end of file reading "
		    "the append only file %s (the last command, at offset %zu, "
		    "is incomplete). You can: 1) Make a backup of your AOF "
		    "file, then use tiny-mp-cache-check-aof --fix "
		    "<filename.manifest> (or redis-check-aof --fix). 2) "
		    "Alternatively you can set the 'aof-load-truncated' "
		    "configuration option to yes and restart the server.",
		    path, cut);
		res = AOF_LOAD_FAILED;
		goto done;
	}
	log_write(&srv->log, LL_WARNING, "!!! Warning: short read while "
	    "loading the AOF file %s!!!", path);
	log_write(&srv->log, LL_WARNING, "!!! Truncating the AOF %s at offset "
	    "%zu !!!", path, cut);
	if (truncate(path, (off_t)cut) == -1) {
		snprintf(err, SERVER_ERR_LEN, "Error truncating the AOF file "
		    "%s: %s", path, strerror(errno));
		res = AOF_LOAD_FAILED;
		goto done;
	}
	log_write(&srv->log, LL_WARNING, "AOF %s loaded anyway because "
	    "aof-load-truncated is enabled", path);
	res = AOF_LOAD_TRUNCATED;
	n = cut;
done:
	srv->aof.loading_done = done + n;
	if (res != AOF_LOAD_FAILED) {
		srv->aof.current_size += (long long)n;
		if (is_base)
			srv->aof.base_size = (long long)n;
	}
	mem_free(argv);
	mem_free(data);
	mem_free(path);
	return res;
}

/* Load every file m lists, base first. 0, or -1 with err set. */
static int
aof_load(struct server *srv, const struct aof_manifest *m, char *err)
{
	struct client *c = client_create_internal(srv);
	long long start = clock_mono_ms();
	struct aof *a = &srv->aof;
	int i, r = 0;

	a->loading = 1;
	srv->db.loading = 1;
	a->loading_start = clock_wall_ms() / 1000;
	a->loading_done = 0;
	a->loading_total = m->base != NULL ? aof_file_size(a, m->base) : 0;
	for (i = 0; i < m->nincr; i++)
		a->loading_total += aof_file_size(a, m->incr[i]);
	if (m->base != NULL && aof_load_file(srv, c, m->base, 1,
	    m->nincr == 0, err) == AOF_LOAD_FAILED)
		r = -1;
	for (i = 0; r == 0 && i < m->nincr; i++)
		if (aof_load_file(srv, c, m->incr[i], 0, i == m->nincr - 1,
		    err) == AOF_LOAD_FAILED)
			r = -1;
	client_free(c);
	srv->aof.loading = 0;
	srv->db.loading = 0;
	if (r == 0)
		log_write(&srv->log, LL_NOTICE, "DB loaded from append only "
		    "file: %.3f seconds (%zu keys)",
		    (double)(clock_mono_ms() - start) / 1000,
		    db_size(&srv->db));
	return r;
}

/* ---- The feed ---- */

/* The propagation hook: append the command as a RESP multibulk, after
 * a SELECT 0 at the start of each file, as Redis writes it. */
static void
aof_feed(void *arg, int argc, const struct resp_arg *argv)
{
	struct aof *a = arg;
	size_t before = a->buf.len;
	int i;

	if (!a->selected) {
		resp_buf_append(&a->buf, aof_select0, sizeof(aof_select0) - 1);
		a->selected = 1;
	}
	resp_add_array_len(&a->buf, argc);
	for (i = 0; i < argc; i++)
		resp_add_bulk(&a->buf, argv[i].ptr, argv[i].len);
	a->fed += a->buf.len - before;
}

/* ---- Writing and fsync ---- */

/* Log an AOF error, at most once per AOF_ERROR_LOG_MS. */
static void __attribute__((format(printf, 2, 3)))
aof_log_error(struct server *srv, const char *fmt, ...)
{
	long long now = clock_mono_ms();
	char msg[512];
	va_list ap;

	if (srv->aof.error_logged_ms != 0 &&
	    now - srv->aof.error_logged_ms < AOF_ERROR_LOG_MS)
		return;
	srv->aof.error_logged_ms = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(&srv->log, LL_WARNING, "%s", msg);
}

/* The fsync thread: one fdatasync per job, results under the lock. */
static void *
aof_syncer_main(void *arg)
{
	struct aof_syncer *s = arg;
	unsigned long long target;
	int fd, r, e;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->busy && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->busy)
			break;
		fd = s->fd;
		target = s->target;
		pthread_mutex_unlock(&s->lock);
		r = fdatasync(fd);
		e = errno;
		pthread_mutex_lock(&s->lock);
		if (r == 0) {
			s->done = target;
			s->err = 0;
		} else
			s->err = e;
		s->busy = 0;
		pthread_cond_broadcast(&s->cond);   /* for aof_syncer_wait */
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Start the fsync thread with every signal blocked in it (signals are
 * for the loop's thread, or Python's). 0, or -1. */
static int
aof_syncer_start(struct aof_syncer *s)
{
	sigset_t all, old;
	int r;

	if (s->started)
		return 0;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->stop = s->busy = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->thread, NULL, aof_syncer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		errno = r;
		return -1;
	}
	s->started = 1;
	return 0;
}

/* Wait until the thread has no job (its file may then be closed). */
static void
aof_syncer_wait(struct aof_syncer *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	while (s->busy)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* Let the job in progress end, then end the thread. */
static void
aof_syncer_stop(struct aof_syncer *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	s->started = 0;
}

/* Write the buffer to the file; on a failure keep what was not
 * written and remember the error (writes are refused meanwhile). */
static void
aof_write_buf(struct server *srv)
{
	struct aof *a = &srv->aof;
	size_t done = 0;
	ssize_t w;

	while (done < a->buf.len) {
		w = write(a->fd, a->buf.data + done, a->buf.len - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		a->write_errno = w == 0 ? ENOSPC : errno;
		aof_log_error(srv, "Error writing to the AOF file: %s",
		    strerror(a->write_errno));
		break;
	}
	a->written += done;
	a->current_size += (long long)done;
	if (done < a->buf.len) {
		memmove(a->buf.data, a->buf.data + done, a->buf.len - done);
		a->buf.len -= done;
		return;
	}
	a->buf.len = 0;
	if (a->buf.cap > AOF_BUF_KEEP) {
		resp_buf_free(&a->buf);
		resp_buf_init(&a->buf);
	}
	if (a->write_errno != 0) {
		log_write(&srv->log, LL_WARNING, "AOF write error looks "
		    "solved, Redis can write again.");
		a->write_errno = 0;
		a->error_logged_ms = 0;
	}
}

/* fsync as appendfsync says: now (always), in the thread at most once
 * a second (everysec), or never (no: the kernel decides). */
static void
aof_sync(struct server *srv)
{
	struct aof *a = &srv->aof;
	struct aof_syncer *s = &a->syncer;
	long long now;

	if (a->synced >= a->written)
		return;
	switch (srv->cfg.appendfsync) {
	case AOF_FSYNC_ALWAYS:
		if (fdatasync(a->fd) == 0) {
			a->synced = a->written;
			if (a->fsync_errno != 0)
				log_write(&srv->log, LL_WARNING, "AOF fsync "
				    "works again.");
			a->fsync_errno = 0;
		} else {
			a->fsync_errno = errno;
			aof_log_error(srv, "Can't persist AOF for fsync error "
			    "when the AOF fsync policy is 'always': %s. Writes "
			    "are refused until it works again.",
			    strerror(errno));
		}
		break;
	case AOF_FSYNC_EVERYSEC:
		if (!s->started && aof_syncer_start(s) == -1) {
			aof_log_error(srv, "Can't start the AOF fsync thread: "
			    "%s", strerror(errno));
			return;
		}
		pthread_mutex_lock(&s->lock);
		if (!s->busy) {
			if (s->done > a->synced)
				a->synced = s->done;
			if (s->err != 0 && a->fsync_errno == 0)
				aof_log_error(srv, "AOF background fsync "
				    "failed: %s", strerror(s->err));
			a->fsync_errno = s->err;
			now = clock_mono_ms();
			if (a->synced < a->written &&
			    now - a->fsync_ms >= 1000) {
				s->fd = a->fd;
				s->target = a->written;
				s->busy = 1;
				a->fsync_ms = now;
				pthread_cond_signal(&s->cond);
			}
		}
		pthread_mutex_unlock(&s->lock);
		break;
	default:
		a->synced = a->written;
		break;
	}
}

void
aof_flush(struct server *srv)
{
	struct aof *a = &srv->aof;

	if (!a->on || a->fd == -1)
		return;
	if (a->buf.len > 0)
		aof_write_buf(srv);
	aof_sync(srv);
}

unsigned long long
aof_durable(const struct server *srv)
{
	return srv->cfg.appendfsync == AOF_FSYNC_ALWAYS ? srv->aof.synced :
	    srv->aof.written;
}

int
aof_error(const struct server *srv)
{
	if (!srv->aof.on)
		return 0;
	return srv->aof.write_errno != 0 ? srv->aof.write_errno :
	    srv->aof.fsync_errno;
}

/* ---- Start and stop ---- */

/* The incremental file written now (the manifest's last), or NULL. */
static const char *
aof_incr_name(const struct aof *a)
{
	return a->man.nincr > 0 ? a->man.incr[a->man.nincr - 1] : NULL;
}

/* Open a new incremental file (the next sequence) and write to it from
 * now on; the manifest lists it unless save is 0 (while turning on at
 * run time, the manifest waits for the base). 0, or -1 with err set
 * (SETTING_ERR_LEN). */
static int
aof_switch_incr(struct server *srv, int save, char *err)
{
	struct aof *a = &srv->aof;
	char *name, *path;
	int fd, old = a->fd;

	/* A name the manifest already lists (a hand-edited one) is never
	 * reused: the sequence moves past it. */
	for (;;) {
		name = aof_name(srv->cfg.appendfilename, a->incr_seq + 1,
		    "incr");
		if (!aof_manifest_lists(&a->man, name))
			break;
		mem_free(name);
		a->incr_seq++;
	}
	/* Not listed, so not data: at most an empty file a crash left
	 * between its creation and the manifest's. */
	path = aof_path(a->dirpath, name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		snprintf(err, SETTING_ERR_LEN, "Can't open the append-only "
		    "file %s: %s", path, strerror(errno));
		goto fail;
	}
	aof_manifest_add_incr(&a->man, name, a->incr_seq + 1);
	if (save && aof_manifest_save(srv, &a->man) == -1) {
		snprintf(err, SETTING_ERR_LEN, "Can't persist the AOF "
		    "manifest in %s: %s", a->dirpath, strerror(errno));
		mem_free(a->man.incr[--a->man.nincr]);
		close(fd);
		unlink(path);
		goto fail;
	}
	a->incr_seq++;
	/* The old file is complete: make it durable, then let it go. */
	if (old != -1) {
		aof_syncer_wait(&a->syncer);
		if (fdatasync(old) == -1)
			log_write(&srv->log, LL_WARNING, "Error fsyncing the "
			    "AOF file being closed: %s", strerror(errno));
		close(old);
	}
	a->synced = a->written;
	a->fd = fd;
	a->selected = 0;
	mem_free(name);
	mem_free(path);
	return 0;
fail:
	mem_free(name);
	mem_free(path);
	return -1;
}

/* Check that a name is a plain file name, as Redis's isValidAOFfilename
 * and isValidAOFdirname do. */
static int
aof_check_names(const struct server_config *cfg, char *err)
{
	const char *fn = cfg->appendfilename != NULL ? cfg->appendfilename :
	    "";
	const char *dn = cfg->appenddirname != NULL ? cfg->appenddirname : "";

	if (fn[0] == '\0' || strchr(fn, '/') != NULL ||
	    strcmp(fn, ".") == 0 || strcmp(fn, "..") == 0) {
		snprintf(err, SERVER_ERR_LEN, "appendfilename can't be a path, "
		    "just a filename");
		return -1;
	}
	if (dn[0] == '\0' || strchr(dn, '/') != NULL ||
	    strcmp(dn, ".") == 0 || strcmp(dn, "..") == 0) {
		snprintf(err, SERVER_ERR_LEN, "appenddirname can't be a path, "
		    "just a dirname");
		return -1;
	}
	return 0;
}

/* Whether dirpath holds a non-empty file a redis-server could have
 * written (*.aof, *.rdb, *.manifest): data without a manifest. The
 * empty ones a start cut short leaves behind do not count. */
static int
aof_dir_has_files(const char *dirpath)
{
	DIR *d = opendir(dirpath);
	struct dirent *e;
	struct stat st;
	size_t n;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		found = ((n > 4 && (strcmp(e->d_name + n - 4, ".aof") == 0 ||
		    strcmp(e->d_name + n - 4, ".rdb") == 0)) ||
		    (n > 9 && strcmp(e->d_name + n - 9, ".manifest") == 0)) &&
		    fstatat(dirfd(d), e->d_name, &st, 0) == 0 &&
		    st.st_size > 0;
	}
	closedir(d);
	return found;
}

/*
 * Find the AOF directory (dir/appenddirname, made if missing) and read
 * its manifest into srv->aof.man if it has one. Returns 1 if it did, 0
 * if there is none, -1 with err set (SERVER_ERR_LEN) on an error.
 */
static int
aof_open_dir(struct server *srv, char *err)
{
	struct aof *a = &srv->aof;
	const char *dir = srv->cfg.dir != NULL ? srv->cfg.dir : ".";
	char real[PATH_MAX], *mpath;
	struct stat st;
	int r, i;

	/* An absolute path: the process may change its working directory
	 * later (the server embedded in a Python program). */
	if (a->dirpath == NULL)
		a->dirpath = aof_path(realpath(dir, real) != NULL ? real : dir,
		    srv->cfg.appenddirname);
	if (mkdir(a->dirpath, 0755) == -1 && errno != EEXIST) {
		snprintf(err, SERVER_ERR_LEN, "Can't create the AOF directory "
		    "%s: %s", a->dirpath, strerror(errno));
		return -1;
	}
	mpath = mem_alloc(strlen(a->dirpath) + strlen(srv->cfg.appendfilename) +
	    sizeof(AOF_MANIFEST_SUFFIX) + 1);
	sprintf(mpath, "%s/%s%s", a->dirpath, srv->cfg.appendfilename,
	    AOF_MANIFEST_SUFFIX);
	aof_manifest_free(&a->man);
	if (stat(mpath, &st) == -1) {
		mem_free(mpath);
		return 0;
	}
	r = aof_manifest_load(mpath, &a->man, err);
	mem_free(mpath);
	if (r == -1)
		return -1;
	for (i = 0; i < a->man.nincr; i++)
		if (a->man.incr_seq[i] > a->incr_seq)
			a->incr_seq = a->man.incr_seq[i];
	return 1;
}

/*
 * A fresh start: an empty base and the first incremental file, and the
 * manifest naming them, as redis-server 7.0 makes them when it starts
 * with appendonly yes and no AOF (its base, written from an empty
 * dataset, is empty too). 0, or -1 with err set.
 */
static int
aof_create(struct server *srv, char *err)
{
	struct aof *a = &srv->aof;
	const char *dir = srv->cfg.dir != NULL ? srv->cfg.dir : ".";
	char *old = aof_path(dir, srv->cfg.appendfilename);
	struct stat st;

	if (stat(old, &st) == 0) {
		snprintf(err, SERVER_ERR_LEN, "Found %s, an append-only file "
		    "of the format before Redis 7.0, but no manifest in %s: "
		    "start redis-server 7.0 once on it with --appendonly yes "
		    "--aof-use-rdb-preamble no to convert it", old,
		    a->dirpath);
		mem_free(old);
		return -1;
	}
	mem_free(old);
	if (aof_dir_has_files(a->dirpath)) {
		snprintf(err, SERVER_ERR_LEN, "The AOF directory %s holds "
		    "append-only files but no manifest %s%s: restore the "
		    "manifest (or move the files away to start empty)",
		    a->dirpath, srv->cfg.appendfilename, AOF_MANIFEST_SUFFIX);
		return -1;
	}
	a->man.base = aof_name(srv->cfg.appendfilename, 1, "base");
	a->man.base_seq = 1;
	if (aof_write_file(a->dirpath, a->man.base, "", 0) == -1) {
		snprintf(err, SERVER_ERR_LEN, "Can't create the AOF base file "
		    "in %s: %s", a->dirpath, strerror(errno));
		return -1;
	}
	if (aof_switch_incr(srv, 1, err) == -1)
		return -1;
	log_write(&srv->log, LL_NOTICE, "Creating AOF base file %s on server "
	    "start", a->man.base);
	log_write(&srv->log, LL_NOTICE, "Creating AOF incr file %s on server "
	    "start", aof_incr_name(a));
	return 0;
}

/* Delete the history files the manifest lists, then save it without
 * them (a failure to save is logged: they are gone, and the next save
 * or start drops them). */
static void
aof_delete_history(struct server *srv)
{
	struct aof *a = &srv->aof;
	char *path;
	int i;

	if (a->man.nhist == 0)
		return;
	for (i = 0; i < a->man.nhist; i++) {
		log_write(&srv->log, LL_NOTICE, "Removing the history file %s",
		    a->man.hist[i]);
		path = aof_path(a->dirpath, a->man.hist[i]);
		if (unlink(path) == -1 && errno != ENOENT)
			log_write(&srv->log, LL_WARNING, "Can't remove %s: %s",
			    path, strerror(errno));
		mem_free(path);
		mem_free(a->man.hist[i]);
	}
	mem_free(a->man.hist);
	mem_free(a->man.hist_seq);
	a->man.hist = NULL;
	a->man.hist_seq = NULL;
	a->man.nhist = 0;
	if (aof_manifest_save(srv, &a->man) == -1)
		log_write(&srv->log, LL_WARNING, "Can't persist the AOF "
		    "manifest in %s: %s", a->dirpath, strerror(errno));
}

/* Remove what a rewrite cut short by a crash left behind (its child's
 * temporary base files). */
static void
aof_remove_temp_files(struct server *srv)
{
	static const char prefix[] = "temp-rewriteaof-";
	DIR *d = opendir(srv->aof.dirpath);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) == 0 &&
		    unlinkat(dirfd(d), e->d_name, 0) == 0)
			log_write(&srv->log, LL_NOTICE, "Removed %s, left by an "
			    "interrupted AOF rewrite", e->d_name);
	closedir(d);
}

/* Start feeding the current incremental file. */
static void
aof_feed_on(struct server *srv)
{
	srv->aof.on = 1;
	srv->aof.selected = 0;       /* each file, each start: a SELECT */
	srv->propagate = aof_feed;
	srv->propagate_arg = &srv->aof;
}

int
aof_start(struct server *srv, char *err)
{
	struct aof *a = &srv->aof;
	const char *dir = srv->cfg.dir != NULL ? srv->cfg.dir : ".";
	char *path;
	struct stat st;
	int r;

	a->fd = -1;
	a->child = -1;
	a->last_rewrite_ms = -1;
	a->last_rewrite_ok = 1;
	resp_buf_init(&a->buf);
	if (aof_check_names(&srv->cfg, err) == -1)
		return -1;
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, SERVER_ERR_LEN, "Can't chdir to '%s': %s", dir,
		    strerror(stat(dir, &st) == -1 ? errno : ENOTDIR));
		return -1;
	}
	if (!srv->cfg.appendonly)
		return 0;
	r = aof_open_dir(srv, err);
	if (r == -1)
		return -1;
	if (r == 0) {
		if (aof_create(srv, err) == -1)
			return -1;
		aof_feed_on(srv);
		return 0;
	}
	aof_remove_temp_files(srv);
	if (aof_load(srv, &a->man, err) == -1)
		return -1;
	if (a->man.nincr == 0) {
		/* A base alone (BGREWRITEAOF with appendonly no): the writes
		 * go to a new incremental file, as in Redis. */
		if (aof_switch_incr(srv, 1, err) == -1)
			return -1;
		log_write(&srv->log, LL_NOTICE, "Creating AOF incr file %s on "
		    "server start", aof_incr_name(a));
	} else {
		path = aof_path(a->dirpath, aof_incr_name(a));
		a->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (a->fd == -1)
			snprintf(err, SERVER_ERR_LEN, "Can't open the "
			    "append-only file %s: %s", path, strerror(errno));
		mem_free(path);
		if (a->fd == -1)
			return -1;
	}
	a->rewrite_base_size = a->current_size;
	aof_delete_history(srv);
	aof_feed_on(srv);
	return 0;
}

/* Remove the temporary base files of the rewrite child pid: the one
 * it writes, and the one it renames that to once complete. */
static void
aof_unlink_temp(struct server *srv, pid_t pid)
{
	char name[64], *path;
	int bg;

	for (bg = 0; bg < 2; bg++) {
		snprintf(name, sizeof(name), "temp-rewriteaof-%s%d.aof",
		    bg ? "bg-" : "", (int)pid);
		path = aof_path(srv->aof.dirpath, name);
		unlink(path);
		mem_free(path);
	}
}

/* Stop a rewrite in progress: kill the child, wait, remove its file. */
static void
aof_rewrite_kill(struct server *srv)
{
	struct aof *a = &srv->aof;
	int status;

	if (a->child <= 0)
		return;
	kill(a->child, SIGKILL);
	while (waitpid(a->child, &status, 0) == -1 && errno == EINTR)
		;
	aof_unlink_temp(srv, a->child);
	log_write(&srv->log, LL_NOTICE, "Killing running AOF rewrite child: "
	    "%d", (int)a->child);
	a->child = -1;
	db_avoid_resize(&srv->db, 0);
}

/* Stop writing: the rest of the buffer is written and fsync'd. */
static void
aof_close(struct server *srv)
{
	struct aof *a = &srv->aof;

	if (a->fd != -1) {
		aof_flush(srv);
		aof_syncer_stop(&a->syncer);
		if (a->synced < a->written && fdatasync(a->fd) == -1)
			log_write(&srv->log, LL_WARNING, "Error fsyncing the "
			    "AOF file: %s", strerror(errno));
		if (a->buf.len > 0)
			log_write(&srv->log, LL_WARNING, "%zu bytes of the AOF "
			    "could not be written", a->buf.len);
		close(a->fd);
		a->fd = -1;
	}
	aof_syncer_stop(&a->syncer);
	if (srv->propagate == aof_feed)
		srv->propagate = NULL;
	a->buf.len = 0;
	a->synced = a->written;
	a->write_errno = a->fsync_errno = 0;
	a->on = a->wait_rewrite = a->scheduled = 0;
}

void
aof_stop(struct server *srv)
{
	struct aof *a = &srv->aof;

	aof_rewrite_kill(srv);
	aof_close(srv);
	resp_buf_free(&a->buf);
	aof_manifest_free(&a->man);
	mem_free(a->dirpath);
	a->dirpath = NULL;
}

/* ---- The rewrite ---- */

/* The child's buffered output to its file (no allocation after fork:
 * the parent may have had threads, Python's among them). */
struct aof_out {
	int fd;
	int err;                         /* a write failed */
	size_t len;
	char buf[AOF_CHILD_BUF];
};

static void
aof_out_flush(struct aof_out *o)
{
	if (o->len > 0 && !o->err && aof_write_all(o->fd, o->buf, o->len) ==
	    -1)
		o->err = 1;
	o->len = 0;
}

static void
aof_out_raw(struct aof_out *o, const char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (o->len == sizeof(o->buf))
			aof_out_flush(o);
		k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
	}
}

/* "*n\r\n" or "$n\r\n". */
static void
aof_out_len(struct aof_out *o, char prefix, unsigned long long n)
{
	char line[32];
	int k = snprintf(line, sizeof(line), "%c%llu\r\n", prefix, n);

	aof_out_raw(o, line, (size_t)k);
}

static void
aof_out_bulk(struct aof_out *o, const void *p, size_t n)
{
	aof_out_len(o, '$', n);
	aof_out_raw(o, p, n);
	aof_out_raw(o, "\r\n", 2);
}

/* What the child's walk over the keyspace needs. */
struct aof_walk {
	struct aof_out *out;
	long long now;                   /* keys due before this are left
	                                  * out, as Redis leaves them */
};

/* Write one key as the commands that make it again: SET, or RPUSH in
 * batches of 64 items; then PEXPIREAT for a TTL (Redis's order). */
static int
aof_walk_key(const dict_entry *e, void *arg)
{
	struct aof_walk *w = arg;
	const dbkey *k = e;
	struct aof_out *o = w->out;
	const unsigned char *item;
	struct list_iter it;
	struct list *l;
	const char *key;
	char *v, ms[32];
	size_t klen, vlen, count, i, j, n, ilen;
	long long when = db_key_expire(k);

	if (when >= 0 && when < w->now)
		return 0;
	key = db_key_name(k, &klen);
	v = db_key_value(k, &vlen);
	if (db_key_type(k) == OBJ_STRING) {
		aof_out_raw(o, "*3\r\n$3\r\nSET\r\n", 13);
		aof_out_bulk(o, key, klen);
		aof_out_bulk(o, v, vlen);
	} else if (db_key_type(k) == OBJ_LIST) {
		if (db_key_encoding(k) == OBJ_ENC_QUICKLIST) {
			memcpy(&l, v, sizeof(l));
			count = l->count;
			if (count > 0)
				list_iter_init(&it, l, 0, LIST_TAIL);
		} else {
			count = list_pack_count(v);
			if (count > 0)
				list_iter_init_pack(&it, v, vlen, 0, LIST_TAIL);
		}
		for (i = 0; i < count; i += n) {
			n = count - i < AOF_ITEMS_PER_CMD ? count - i :
			    AOF_ITEMS_PER_CMD;
			aof_out_len(o, '*', n + 2);
			aof_out_raw(o, "$5\r\nRPUSH\r\n", 11);
			aof_out_bulk(o, key, klen);
			for (j = 0; j < n && list_iter_next(&it, &item, &ilen);
			    j++)
				aof_out_bulk(o, item, ilen);
		}
	}
	if (when >= 0) {
		aof_out_raw(o, "*3\r\n$9\r\nPEXPIREAT\r\n", 19);
		aof_out_bulk(o, key, klen);
		n = (size_t)snprintf(ms, sizeof(ms), "%lld", when);
		aof_out_bulk(o, ms, n);
	}
	return o->err;
}

/*
 * The rewrite child: write the keyspace as it was at the fork into a
 * temporary file of dirpath, fsync it and rename it to
 * temp-rewriteaof-bg-<pid>.aof (as Redis's child does): that name is
 * the sign of success the parent reads, whatever the exit status (a
 * leak checker such as valgrind may change it, as the child leaves
 * without freeing). Only C runs here, and nothing is allocated (the
 * parent may be a Python process with threads; their locks are not
 * ours to take).
 */
static void __attribute__((noreturn))
aof_child(struct server *srv)
{
	static struct aof_out out;
	struct aof_walk w;
	char path[PATH_MAX], done[PATH_MAX];
	int i;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	/* No log line from here: an embedder's sink may run code the child
	 * must not (Python, inside a Python process). */
	srv->log.sink = NULL;
	srv->log.level = LL_NOTHING;
	/* The listeners stay the parent's alone. */
	for (i = 0; i < srv->ntcp; i++)
		close(srv->tcp_fds[i]);
	if (srv->unix_fd != -1)
		close(srv->unix_fd);
	snprintf(path, sizeof(path), "%s/temp-rewriteaof-%d.aof",
	    srv->aof.dirpath, (int)getpid());
	snprintf(done, sizeof(done), "%s/temp-rewriteaof-bg-%d.aof",
	    srv->aof.dirpath, (int)getpid());
	out.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out.fd == -1)
		_exit(1);
	w.out = &out;
	w.now = clock_wall_ms();
	if (db_size(&srv->db) > 0)
		aof_out_raw(&out, aof_select0, sizeof(aof_select0) - 1);
	dict_foreach(srv->db.keys, aof_walk_key, &w);
	dict_foreach(srv->db.expires, aof_walk_key, &w);
	aof_out_flush(&out);
	if (out.err || fsync(out.fd) == -1 || close(out.fd) == -1 ||
	    rename(path, done) == -1)
		_exit(1);
	_exit(0);
}

int
aof_rewrite_start(struct server *srv, char *err)
{
	struct aof *a = &srv->aof;
	char why[SERVER_ERR_LEN];
	pid_t pid;

	if (a->child > 0) {
		snprintf(err, SETTING_ERR_LEN, "Background append only file "
		    "rewriting already in progress");
		return -1;
	}
	a->rewrite_tried_ms = clock_mono_ms();
	if (a->dirpath == NULL && aof_open_dir(srv, why) == -1) {
		snprintf(err, SETTING_ERR_LEN, "%.200s", why);
		goto fail;
	}
	/* What was written so far is in the child's copy: the writes from
	 * now on go to a new incremental file. */
	if (a->on) {
		aof_flush(srv);
		if (a->buf.len > 0) {
			snprintf(err, SETTING_ERR_LEN, "Can't rewrite the "
			    "append only file while writing it fails: %s",
			    strerror(aof_error(srv)));
			goto fail;
		}
		if (aof_switch_incr(srv, !a->wait_rewrite, err) == -1)
			goto fail;
		log_write(&srv->log, LL_NOTICE, "Creating AOF incr file %s on "
		    "background rewrite", aof_incr_name(a));
	}
	a->child_nincr = a->on ? a->man.nincr - 1 : a->man.nincr;
	pid = fork();
	if (pid == -1) {
		snprintf(err, SETTING_ERR_LEN, "Can't rewrite append only file "
		    "in background: fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		aof_child(srv);
	a->child = pid;
	/* No table grows or shrinks while the child shares the pages (a
	 * rehash would copy them all), as in Redis. */
	db_avoid_resize(&srv->db, 1);
	a->scheduled = 0;
	a->rewrites++;
	a->rewrite_start_ms = clock_mono_ms();
	log_write(&srv->log, LL_NOTICE, "Background append only file rewriting "
	    "started by pid %d", (int)pid);
	return 0;

fail:
	/* As Redis: the reason goes to the log, the status to INFO; the
	 * next automatic try waits longer. */
	log_write(&srv->log, LL_WARNING, "%s", err);
	a->last_rewrite_ok = 0;
	a->rewrite_failures++;
	return -1;
}

/*
 * The child succeeded: its file becomes the next base, the manifest
 * lists it and the incremental files opened since the fork, replaced
 * atomically; only then are the old base and incremental files removed.
 * 0, or -1 (the old files and manifest stay as they were).
 */
static int
aof_rewrite_install(struct server *srv)
{
	struct aof *a = &srv->aof;
	struct aof_manifest next;
	char tmpname[64], *tmp, *path;
	int i;

	snprintf(tmpname, sizeof(tmpname), "temp-rewriteaof-bg-%d.aof",
	    (int)a->child);
	/* The new base, the files it replaces as history (deleted once the
	 * manifest is on disk, and at the next start if a crash comes
	 * first: no file is ever left that no manifest names), and the
	 * incremental files opened since the fork; as Redis does. */
	memset(&next, 0, sizeof(next));
	next.base_seq = a->man.base_seq + 1;
	next.base = aof_name(srv->cfg.appendfilename, next.base_seq, "base");
	for (i = 0; i < a->man.nhist; i++)
		aof_manifest_add_hist(&next, a->man.hist[i],
		    a->man.hist_seq[i]);
	if (a->man.base != NULL)
		aof_manifest_add_hist(&next, a->man.base, a->man.base_seq);
	for (i = 0; i < a->child_nincr && i < a->man.nincr; i++)
		aof_manifest_add_hist(&next, a->man.incr[i],
		    a->man.incr_seq[i]);
	for (i = a->child_nincr; i < a->man.nincr; i++)
		aof_manifest_add_incr(&next, a->man.incr[i],
		    a->man.incr_seq[i]);
	tmp = aof_path(a->dirpath, tmpname);
	path = aof_path(a->dirpath, next.base);
	if (rename(tmp, path) == -1 || aof_manifest_save(srv, &next) == -1) {
		log_write(&srv->log, LL_WARNING, "Error installing the new AOF "
		    "base file %s: %s", path, strerror(errno));
		unlink(path);
		unlink(tmp);
		aof_manifest_free(&next);
		mem_free(tmp);
		mem_free(path);
		return -1;
	}
	log_write(&srv->log, LL_NOTICE, "Successfully renamed the temporary "
	    "AOF base file %s into %s", tmpname, next.base);
	aof_manifest_free(&a->man);
	a->man = next;
	aof_delete_history(srv);
	mem_free(tmp);
	mem_free(path);
	a->base_size = aof_file_size(a, a->man.base);
	a->current_size = a->base_size;
	if (aof_incr_name(a) != NULL && a->on)
		a->current_size += aof_file_size(a, aof_incr_name(a));
	a->rewrite_base_size = a->current_size;
	return 0;
}

/* The child ended (status as waitpid gives it): it succeeded if its
 * finished file is there. */
static void
aof_rewrite_done(struct server *srv, int status)
{
	struct aof *a = &srv->aof;
	char name[64], *path;
	struct stat st;
	int ok;

	snprintf(name, sizeof(name), "temp-rewriteaof-bg-%d.aof",
	    (int)a->child);
	path = aof_path(a->dirpath, name);
	ok = stat(path, &st) == 0;
	mem_free(path);
	if (ok)
		log_write(&srv->log, LL_NOTICE, "Background AOF rewrite "
		    "terminated with success");
	else if (WIFSIGNALED(status))
		log_write(&srv->log, LL_WARNING, "Background AOF rewrite "
		    "terminated by signal %d", WTERMSIG(status));
	else
		log_write(&srv->log, LL_WARNING, "Background AOF rewrite "
		    "terminated with error");
	if (ok && aof_rewrite_install(srv) == -1)
		ok = 0;
	if (!ok)
		aof_unlink_temp(srv, a->child);
	a->child = -1;
	db_avoid_resize(&srv->db, 0);
	a->last_rewrite_ms = clock_mono_ms() - a->rewrite_start_ms;
	a->last_rewrite_ok = ok;
	if (ok) {
		a->rewrite_failures = 0;
		a->wait_rewrite = 0;
		log_write(&srv->log, LL_NOTICE, "Background AOF rewrite "
		    "finished successfully");
		return;
	}
	a->rewrite_failures++;
	/* Turned on at run time: there is no AOF until a base exists. */
	if (a->wait_rewrite)
		a->scheduled = 1;
}

void
aof_cron(struct server *srv)
{
	struct aof *a = &srv->aof;
	char err[SERVER_ERR_LEN];
	long long now = clock_mono_ms(), base, growth, wait;
	int status;
	pid_t r;

	aof_flush(srv);
	if (a->child > 0) {
		r = waitpid(a->child, &status, WNOHANG);
		if (r == a->child)
			aof_rewrite_done(srv, status);
		return;
	}
	/* After failures, wait longer before trying again (up to 1 min). */
	wait = a->rewrite_failures == 0 ? 0 : a->rewrite_failures > 6 ?
	    60000 : 1000LL << a->rewrite_failures;
	if (now - a->rewrite_tried_ms < wait)
		return;
	if (a->scheduled) {
		aof_rewrite_start(srv, err);
		return;
	}
	if (!a->on || a->wait_rewrite || srv->cfg.aof_rewrite_perc == 0 ||
	    a->current_size <= srv->cfg.aof_rewrite_min_size)
		return;
	base = a->rewrite_base_size > 0 ? a->rewrite_base_size : 1;
	growth = a->current_size * 100 / base - 100;
	if (growth < srv->cfg.aof_rewrite_perc)
		return;
	log_write(&srv->log, LL_NOTICE, "Starting automatic rewriting of AOF "
	    "on %lld%% growth", growth);
	aof_rewrite_start(srv, err);
}

int
aof_apply(struct server *srv, char *err)
{
	struct aof *a = &srv->aof;
	char why[SERVER_ERR_LEN];

	if (a->loading) {
		snprintf(err, SETTING_ERR_LEN, "appendonly can't change while "
		    "the data loads: try again once INFO says loading:0");
		return -1;
	}
	if (!srv->cfg.appendonly && a->on) {
		aof_rewrite_kill(srv);
		aof_close(srv);
		return 0;
	}
	if (!srv->cfg.appendonly || a->on)
		return 0;
	/* Turning on: the rewrite opens a new incremental file for the
	 * writes from now on, and the manifest names it once the rewrite
	 * made its base (until then there is no AOF, as in Redis). */
	aof_rewrite_kill(srv);
	if (aof_open_dir(srv, why) == -1) {
		log_write(&srv->log, LL_WARNING, "%s", why);
		snprintf(err, SETTING_ERR_LEN, "Unable to turn on AOF. Check "
		    "server logs.");
		return -1;
	}
	a->wait_rewrite = 1;
	aof_feed_on(srv);
	if (aof_rewrite_start(srv, why) == -1) {
		log_write(&srv->log, LL_WARNING, "Redis needs to enable the "
		    "AOF but can't trigger a background AOF rewrite "
		    "operation: %s", why);
		aof_close(srv);
		snprintf(err, SETTING_ERR_LEN, "Unable to turn on AOF. Check "
		    "server logs.");
		return -1;
	}
	return 0;
}

/* ---- INFO ---- */

/* 1 while the fsync thread has a job. */
static int
aof_syncing(struct aof *a)
{
	int busy;

	if (!a->syncer.started)
		return 0;
	pthread_mutex_lock(&a->syncer.lock);
	busy = a->syncer.busy;
	pthread_mutex_unlock(&a->syncer.lock);
	return busy;
}

void
aof_info(struct server *srv, struct resp_buf *b)
{
	struct aof *a = &srv->aof;

	buf_catf(b, "aof_enabled:%d\r\n"
	    "aof_rewrite_in_progress:%d\r\n"
	    "aof_rewrite_scheduled:%d\r\n"
	    "aof_last_rewrite_time_sec:%lld\r\n"
	    "aof_current_rewrite_time_sec:%lld\r\n"
	    "aof_last_bgrewrite_status:%s\r\n"
	    "aof_rewrites:%llu\r\n"
	    "aof_rewrites_consecutive_failures:%llu\r\n"
	    "aof_last_write_status:%s\r\n"
	    "aof_last_cow_size:0\r\n"
	    "module_fork_in_progress:0\r\n"
	    "module_fork_last_cow_size:0\r\n",
	    a->on, a->child > 0, a->scheduled,
	    a->last_rewrite_ms < 0 ? -1 : a->last_rewrite_ms / 1000,
	    a->child > 0 ? (clock_mono_ms() - a->rewrite_start_ms) / 1000 :
	    -1, a->last_rewrite_ok ? "ok" : "err", a->rewrites,
	    a->rewrite_failures, aof_error(srv) != 0 ? "err" : "ok");
	if (!a->on)
		return;
	buf_catf(b, "aof_current_size:%lld\r\n"
	    "aof_base_size:%lld\r\n"
	    "aof_pending_rewrite:0\r\n"
	    "aof_buffer_length:%zu\r\n"
	    "aof_pending_bio_fsync:%d\r\n"
	    "aof_delayed_fsync:0\r\n",
	    a->current_size, a->base_size, a->buf.len, aof_syncing(a));
}

void
aof_info_loading(struct server *srv, struct resp_buf *b)
{
	struct aof *a = &srv->aof;
	long long elapsed = clock_wall_ms() / 1000 - a->loading_start;
	unsigned long long left = a->loading_total - a->loading_done;

	if (!a->loading)
		return;
	buf_catf(b, "loading_start_time:%lld\r\n"
	    "loading_total_bytes:%llu\r\n"
	    "loading_rdb_used_mem:0\r\n"
	    "loading_loaded_bytes:%llu\r\n"
	    "loading_loaded_perc:%.2f\r\n"
	    "loading_eta_seconds:%lld\r\n",
	    a->loading_start, a->loading_total, a->loading_done,
	    a->loading_total != 0 ?
	    (double)a->loading_done / (double)a->loading_total * 100 : 0.0,
	    elapsed <= 0 || a->loading_done == 0 ? 1 :
	    (long long)((unsigned long long)elapsed * left / a->loading_done));
}
