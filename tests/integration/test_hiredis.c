/* SPDX-License-Identifier: MIT */
/*
 * hiredis (the C client) against tiny-mp-cache-server, for every backend
 * in $TMC_BACKENDS: binary-safe SET/GET/GETDEL/DEL/KEYS/DBSIZE/EXISTS,
 * 10,000 pipelined commands, error replies, the Unix socket, exit status.
 */

#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "../unit/tap.h"

#define PIPELINE_COUNT 10000     /* commands in the pipelining test */
#define PIPELINE_KEYS 97         /* distinct keys it touches */
#define BIG_LEN (1024 * 1024)    /* one big value */

/* The server under test; pid 0 when none runs. */
struct tserver {
	pid_t pid;                   /* server (or valgrind) process */
	int port;                    /* TCP port from the ready line */
	char dir[256];               /* temp dir for the log and socket */
	char log[300];               /* the server's stdout and stderr */
	char sock[300];              /* its Unix socket */
	const char *backend;         /* --event-backend */
};

static struct tserver srv;
static int use_valgrind;         /* TMC_VALGRIND set: longer timeouts */

/* Sleep for ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Read the whole file path into a NUL-terminated malloc'd buffer (NULL if
 * it cannot be read). The caller frees it. */
static char *
read_file(const char *path)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((buf = realloc(buf, cap + 1)) == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	fclose(f);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		abort();
	buf[len] = '\0';
	return buf;
}

/* Print the server's log as TAP diagnostics. */
static void
dump_log(void)
{
	char *text, *line, *save = NULL;

	if ((text = read_file(srv.log)) == NULL)
		return;
	diag("---- server log %s ----", srv.log);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		diag("%s", line);
	free(text);
}

/* Kill a server that is still running and remove the temp files. Runs at
 * exit too, so a failing test leaves no process behind. */
static void
server_cleanup(void)
{
	if (srv.pid > 0) {
		kill(srv.pid, SIGKILL);
		waitpid(srv.pid, NULL, 0);
		srv.pid = 0;
	}
	if (srv.dir[0] != '\0') {
		unlink(srv.log);
		unlink(srv.sock);
		rmdir(srv.dir);
		srv.dir[0] = '\0';
	}
}

/*
 * Find the port in the ready line "... tcp HOST:PORT ..." of text.
 * Returns 1 and sets srv.port when a complete ready line is there, 0 if
 * not yet; -1 if the line has no TCP address.
 */
static int
parse_ready(const char *text)
{
	const char *p, *eol, *tcp, *colon, *q;

	if ((p = strstr(text, "Ready to accept connections")) == NULL)
		return 0;
	if ((eol = strchr(p, '\n')) == NULL)
		return 0;
	if ((tcp = strstr(p, "tcp ")) == NULL || tcp > eol)
		return -1;
	colon = NULL;
	for (q = tcp + 4; q < eol && *q != ' ' && *q != ','; q++)
		if (*q == ':')
			colon = q;
	if (colon == NULL)
		return -1;
	srv.port = atoi(colon + 1);
	return srv.port > 0 ? 1 : -1;
}

/*
 * Start $TMC_SERVER with --port 0, the backend and a Unix socket in a new
 * temp dir, its output going to a log file; wait for the ready line.
 * Returns 0, or -1 after reporting why.
 */
static int
server_start(const char *server, const char *backend)
{
	const char *tmp = getenv("TMPDIR");
	char *argv[16];
	char *text;
	int argc = 0, fd, st, r, waited, limit;

	memset(&srv, 0, sizeof(srv));
	srv.backend = backend;
	snprintf(srv.dir, sizeof(srv.dir), "%s/tmc-hiredis.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(srv.dir) == NULL) {
		diag("mkdtemp %s: %s", srv.dir, strerror(errno));
		srv.dir[0] = '\0';
		return -1;
	}
	snprintf(srv.log, sizeof(srv.log), "%s/server.log", srv.dir);
	snprintf(srv.sock, sizeof(srv.sock), "%s/tmc.sock", srv.dir);

	if (use_valgrind) {
		argv[argc++] = "valgrind";
		argv[argc++] = "-q";
		argv[argc++] = "--error-exitcode=99";
		argv[argc++] = "--leak-check=full";
		argv[argc++] = "--errors-for-leak-kinds=definite,indirect";
	}
	argv[argc++] = (char *)server;
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--event-backend";
	argv[argc++] = (char *)backend;
	argv[argc++] = "--unixsocket";
	argv[argc++] = srv.sock;
	argv[argc] = NULL;

	fflush(stdout);
	fd = open(srv.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		diag("open %s: %s", srv.log, strerror(errno));
		return -1;
	}
	if ((srv.pid = fork()) == -1) {
		diag("fork: %s", strerror(errno));
		srv.pid = 0;
		close(fd);
		return -1;
	}
	if (srv.pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null != -1)
			dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);

	limit = use_valgrind ? 90000 : 10000;
	for (waited = 0;; waited += 10) {
		text = read_file(srv.log);
		r = text != NULL ? parse_ready(text) : 0;
		free(text);
		if (r == 1)
			break;
		if (r == -1) {
			diag("the ready line has no tcp address");
			dump_log();
			return -1;
		}
		if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
			srv.pid = 0;
			diag("server exited before the ready line (status 0x%x)",
			    st);
			dump_log();
			return -1;
		}
		if (waited >= limit) {
			diag("no ready line within %d ms", limit);
			dump_log();
			return -1;
		}
		sleep_ms(10);
	}
	diag("server pid %ld on port %d, backend %s", (long)srv.pid,
	    srv.port, backend);
	return 0;
}

/* Stop the server with SIGTERM and report whether it exited with 0. */
static void
server_stop(void)
{
	int st = 0, waited, limit = use_valgrind ? 60000 : 5000;
	pid_t r = 0;

	if (srv.pid <= 0)
		return;
	kill(srv.pid, SIGTERM);
	for (waited = 0; waited < limit; waited += 10) {
		if ((r = waitpid(srv.pid, &st, WNOHANG)) == srv.pid)
			break;
		sleep_ms(10);
	}
	if (r != srv.pid) {
		ok(0, "[%s] server exits within %d ms of SIGTERM", srv.backend,
		    limit);
		dump_log();
		server_cleanup();
		return;
	}
	srv.pid = 0;
	if (!ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "[%s] server exits with status 0 after SIGTERM", srv.backend)) {
		if (WIFEXITED(st))
			diag("  exit status %d", WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			diag("  killed by signal %d", WTERMSIG(st));
		dump_log();
	}
	ok(access(srv.sock, F_OK) == -1 && errno == ENOENT,
	    "[%s] the Unix socket is removed on exit", srv.backend);
	server_cleanup();
}

/* ---- Reply checks: each takes ownership of the reply and frees it ---- */

/* Report a missing reply (I/O error) or a wrong type. Returns 1 if r is a
 * reply of the given type. */
static int
reply_type(redisContext *c, const redisReply *r, int type, const char *what)
{
	if (r == NULL) {
		ok(0, "[%s] %s: no reply: %s", srv.backend, what,
		    c->errstr[0] ? c->errstr : "(no error text)");
		return 0;
	}
	if (r->type != type) {
		ok(0, "[%s] %s: reply type %d, want %d", srv.backend, what,
		    r->type, type);
		if (r->type == REDIS_REPLY_ERROR ||
		    r->type == REDIS_REPLY_STATUS)
			diag("  reply text: %s", r->str);
		return 0;
	}
	return 1;
}

/* Expect a status reply equal to want. */
static int
expect_status(redisContext *c, void *reply, const char *want,
    const char *what)
{
	redisReply *r = reply;
	int res = 0;

	if (reply_type(c, r, REDIS_REPLY_STATUS, what)) {
		res = ok(strcmp(r->str, want) == 0, "[%s] %s", srv.backend,
		    what);
		if (!res)
			diag("  got '%s', want '%s'", r->str, want);
	}
	if (r != NULL)
		freeReplyObject(r);
	return res;
}

/* Expect an error reply whose text is exactly want. */
static int
expect_error(redisContext *c, void *reply, const char *want,
    const char *what)
{
	redisReply *r = reply;
	int res = 0;

	if (reply_type(c, r, REDIS_REPLY_ERROR, what)) {
		res = ok(strcmp(r->str, want) == 0, "[%s] %s", srv.backend,
		    what);
		if (!res)
			diag("  got '%s'\n#   want '%s'", r->str, want);
	}
	if (r != NULL)
		freeReplyObject(r);
	return res;
}

/* Expect an integer reply equal to want. */
static int
expect_int(redisContext *c, void *reply, long long want, const char *what)
{
	redisReply *r = reply;
	int res = 0;

	if (reply_type(c, r, REDIS_REPLY_INTEGER, what)) {
		res = ok(r->integer == want, "[%s] %s", srv.backend, what);
		if (!res)
			diag("  got %lld, want %lld", r->integer, want);
	}
	if (r != NULL)
		freeReplyObject(r);
	return res;
}

/* Expect a bulk reply with exactly the len bytes of want, or a nil reply
 * if want is NULL. */
static int
expect_bulk(redisContext *c, void *reply, const void *want, size_t len,
    const char *what)
{
	redisReply *r = reply;
	int res = 0;

	if (want == NULL) {
		if (reply_type(c, r, REDIS_REPLY_NIL, what))
			res = ok(1, "[%s] %s", srv.backend, what);
	} else if (reply_type(c, r, REDIS_REPLY_STRING, what)) {
		res = ok((size_t)r->len == len &&
		    memcmp(r->str, want, len) == 0, "[%s] %s", srv.backend,
		    what);
		if (!res)
			diag("  got %zu bytes, want %zu", (size_t)r->len, len);
	}
	if (r != NULL)
		freeReplyObject(r);
	return res;
}

/* Compare two C strings for qsort. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expect an array of bulk strings equal to want[0..n-1] in any order
 * (KEYS has no defined order). */
static int
expect_set(redisContext *c, void *reply, const char **want, size_t n,
    const char *what)
{
	redisReply *r = reply;
	char **got;
	size_t i;
	int res = 0, same;

	if (reply_type(c, r, REDIS_REPLY_ARRAY, what)) {
		if (r->elements != n) {
			ok(0, "[%s] %s: %zu elements, want %zu", srv.backend,
			    what, (size_t)r->elements, n);
		} else {
			if ((got = calloc(n + 1, sizeof(*got))) == NULL)
				abort();
			same = 1;
			for (i = 0; i < n; i++) {
				if (r->element[i]->type != REDIS_REPLY_STRING)
					same = 0;
				got[i] = r->element[i]->str;
			}
			if (same) {
				qsort(got, n, sizeof(*got), cmp_str);
				for (i = 0; i < n; i++)
					if (strcmp(got[i], want[i]) != 0)
						same = 0;
			}
			res = ok(same, "[%s] %s", srv.backend, what);
			free(got);
		}
	}
	if (r != NULL)
		freeReplyObject(r);
	return res;
}

/* ---- The tests ---- */

/* Basic commands with binary values through %b. */
static void
test_basic(redisContext *c)
{
	static const char bin[] = "a\0b\r\nc\n$-1\r\n*2";
	const size_t binlen = sizeof(bin) - 1;
	static const char bkey[] = "k\0\xff\r\n";
	const size_t bkeylen = sizeof(bkey) - 1;
	const char *jobs[] = { "job:1", "job:2" };
	const char *all[] = { "job:1", "job:2", "other" };
	char *big;
	size_t i;

	expect_status(c, redisCommand(c, "PING"), "PONG", "PING");
	expect_bulk(c, redisCommand(c, "ECHO %b", bin, binlen), bin, binlen,
	    "ECHO binary");
	expect_status(c, redisCommand(c, "SET job:1 %b", bin, binlen), "OK",
	    "SET binary value");
	expect_bulk(c, redisCommand(c, "GET job:1"), bin, binlen,
	    "GET binary value");
	expect_bulk(c, redisCommand(c, "GETDEL job:1"), bin, binlen,
	    "GETDEL returns the value");
	expect_bulk(c, redisCommand(c, "GETDEL job:1"), NULL, 0,
	    "second GETDEL is nil");
	expect_bulk(c, redisCommand(c, "GET job:1"), NULL, 0,
	    "GET after GETDEL is nil");

	expect_status(c, redisCommand(c, "SET %b %b", bkey, bkeylen, "", 0),
	    "OK", "SET binary key, empty value");
	expect_bulk(c, redisCommand(c, "GET %b", bkey, bkeylen), "", 0,
	    "GET empty value");
	expect_int(c, redisCommand(c, "EXISTS %b", bkey, bkeylen), 1,
	    "EXISTS binary key");
	expect_int(c, redisCommand(c, "DEL %b", bkey, bkeylen), 1,
	    "DEL binary key");

	expect_status(c, redisCommand(c, "SET job:1 a"), "OK", "SET job:1");
	expect_status(c, redisCommand(c, "SET job:2 b"), "OK", "SET job:2");
	expect_status(c, redisCommand(c, "SET other c"), "OK", "SET other");
	expect_status(c, redisCommand(c, "SET job:1 a2"), "OK",
	    "SET overwrites");
	expect_bulk(c, redisCommand(c, "GET job:1"), "a2", 2,
	    "GET overwritten");
	expect_set(c, redisCommand(c, "KEYS job:*"), jobs, 2, "KEYS job:*");
	expect_set(c, redisCommand(c, "KEYS *"), all, 3, "KEYS *");
	expect_set(c, redisCommand(c, "KEYS nothing*"), NULL, 0,
	    "KEYS without match");
	expect_int(c, redisCommand(c, "DBSIZE"), 3, "DBSIZE");
	expect_int(c, redisCommand(c, "EXISTS job:1 job:1 job:2 nope"), 3,
	    "EXISTS counts repeats");
	expect_int(c, redisCommand(c, "DEL job:2 other nope"), 2,
	    "DEL counts removed keys");
	expect_int(c, redisCommand(c, "DEL job:2"), 0, "DEL missing key");
	expect_int(c, redisCommand(c, "DBSIZE"), 1, "DBSIZE after DEL");

	if ((big = malloc(BIG_LEN)) == NULL)
		abort();
	for (i = 0; i < BIG_LEN; i++)
		big[i] = (char)(i * 7 + (i >> 9));
	expect_status(c, redisCommand(c, "SET big %b", big, (size_t)BIG_LEN),
	    "OK", "SET 1 MB value");
	expect_bulk(c, redisCommand(c, "GETDEL big"), big, BIG_LEN,
	    "GETDEL 1 MB value");
	free(big);

	expect_error(c, redisCommand(c, "FOO bar"),
	    "ERR unknown command 'FOO', with args beginning with: 'bar' ",
	    "unknown command error text");
	expect_error(c, redisCommand(c, "GET"),
	    "ERR wrong number of arguments for 'get' command",
	    "wrong arity error text");
	expect_error(c, redisCommand(c, "GETDEL a b"),
	    "ERR wrong number of arguments for 'getdel' command",
	    "GETDEL arity error text");
	expect_status(c, redisCommand(c, "PING"), "PONG",
	    "connection usable after errors");
	expect_status(c, redisCommand(c, "FLUSHALL"), "OK", "FLUSHALL");
	expect_int(c, redisCommand(c, "DBSIZE"), 0, "DBSIZE after FLUSHALL");
}

/*
 * Pipeline PIPELINE_COUNT commands (SET/GET/GETDEL/EXISTS/DEL on a few
 * keys, plus errors) with redisAppendCommand, then read every reply with
 * redisGetReply and check it against a model of the keyspace.
 */
static void
test_pipeline(redisContext *c)
{
	enum { OP_SET, OP_GET, OP_GETDEL, OP_EXISTS, OP_DEL, OP_BAD, OP_N };
	static int ops[PIPELINE_COUNT], keyno[PIPELINE_COUNT];
	static long long want_val[PIPELINE_COUNT]; /* -1: nil, else a value id */
	long long model[PIPELINE_KEYS];
	char val[64];
	unsigned int seed = 12345;
	int i, bad = 0, type, wrong;
	redisReply *r;
	void *rv;

	for (i = 0; i < PIPELINE_KEYS; i++)
		model[i] = -1;
	for (i = 0; i < PIPELINE_COUNT; i++) {
		seed = seed * 1103515245u + 12345u;
		ops[i] = (int)((seed >> 16) % OP_N);
		keyno[i] = (int)((seed >> 4) % PIPELINE_KEYS);
		switch (ops[i]) {
		case OP_SET:
			snprintf(val, sizeof(val), "value-%d", i);
			redisAppendCommand(c, "SET key:%d %b", keyno[i], val,
			    strlen(val) + 1);      /* with the NUL */
			model[keyno[i]] = i;
			break;
		case OP_GET:
			redisAppendCommand(c, "GET key:%d", keyno[i]);
			want_val[i] = model[keyno[i]];
			break;
		case OP_GETDEL:
			redisAppendCommand(c, "GETDEL key:%d", keyno[i]);
			want_val[i] = model[keyno[i]];
			model[keyno[i]] = -1;
			break;
		case OP_EXISTS:
			redisAppendCommand(c, "EXISTS key:%d key:%d", keyno[i],
			    keyno[i]);
			want_val[i] = model[keyno[i]] >= 0 ? 2 : 0;
			break;
		case OP_DEL:
			redisAppendCommand(c, "DEL key:%d", keyno[i]);
			want_val[i] = model[keyno[i]] >= 0 ? 1 : 0;
			model[keyno[i]] = -1;
			break;
		default:
			redisAppendCommand(c, "NOSUCH %d", i);
			break;
		}
	}
	for (i = 0; i < PIPELINE_COUNT; i++) {
		if (redisGetReply(c, &rv) != REDIS_OK || rv == NULL) {
			ok(0, "[%s] pipeline: reply %d missing: %s",
			    srv.backend, i, c->errstr);
			return;
		}
		r = rv;
		type = r->type;
		wrong = 0;
		switch (ops[i]) {
		case OP_SET:
			wrong = type != REDIS_REPLY_STATUS ||
			    strcmp(r->str, "OK") != 0;
			break;
		case OP_GET:
		case OP_GETDEL:
			if (want_val[i] < 0) {
				wrong = type != REDIS_REPLY_NIL;
				break;
			}
			snprintf(val, sizeof(val), "value-%lld", want_val[i]);
			wrong = type != REDIS_REPLY_STRING ||
			    (size_t)r->len != strlen(val) + 1 ||
			    memcmp(r->str, val, r->len) != 0;
			break;
		case OP_EXISTS:
		case OP_DEL:
			wrong = type != REDIS_REPLY_INTEGER ||
			    r->integer != want_val[i];
			break;
		default:
			snprintf(val, sizeof(val), "ERR unknown command "
			    "'NOSUCH', with args beginning with: '%d' ", i);
			wrong = type != REDIS_REPLY_ERROR ||
			    strcmp(r->str, val) != 0;
			break;
		}
		if (wrong && ++bad <= 3)
			diag("  reply %d (op %d, key:%d): type %d '%s'", i,
			    ops[i], keyno[i], type,
			    type == REDIS_REPLY_STRING ||
			    type == REDIS_REPLY_STATUS ||
			    type == REDIS_REPLY_ERROR ? r->str : "");
		freeReplyObject(r);
	}
	ok(bad == 0, "[%s] %d pipelined commands answered in order",
	    srv.backend, PIPELINE_COUNT);
	if (bad)
		diag("  %d wrong replies", bad);
	for (i = 0, bad = 0; i < PIPELINE_KEYS; i++)
		if (model[i] >= 0)
			bad++;
	expect_int(c, redisCommand(c, "DBSIZE"), bad,
	    "DBSIZE after the pipeline matches the model");
	expect_status(c, redisCommand(c, "FLUSHALL"), "OK", "FLUSHALL");
}

/*
 * Pipeline writes of big values and then big reads, so requests and
 * replies both span many reads and writes (backpressure on both sides).
 */
static void
test_big_pipeline(redisContext *c)
{
	enum { N = 64, LEN = 200000 };
	char *v;
	void *rv;
	redisReply *r;
	int i, bad = 0;

	if ((v = malloc(LEN)) == NULL)
		abort();
	for (i = 0; i < LEN; i++)
		v[i] = (char)(i % 251);
	for (i = 0; i < N; i++)
		redisAppendCommand(c, "SET big:%d %b", i, v, (size_t)LEN);
	for (i = 0; i < N; i++)
		redisAppendCommand(c, "GET big:%d", i);
	for (i = 0; i < 2 * N; i++) {
		if (redisGetReply(c, &rv) != REDIS_OK || rv == NULL) {
			ok(0, "[%s] big pipeline: reply %d missing: %s",
			    srv.backend, i, c->errstr);
			free(v);
			return;
		}
		r = rv;
		if (i < N)
			bad += r->type != REDIS_REPLY_STATUS;
		else
			bad += r->type != REDIS_REPLY_STRING || r->len != LEN ||
			    memcmp(r->str, v, LEN) != 0;
		freeReplyObject(r);
	}
	ok(bad == 0, "[%s] %d SET + %d GET of %d-byte values pipelined",
	    srv.backend, N, N, LEN);
	free(v);
	expect_status(c, redisCommand(c, "FLUSHALL"), "OK", "FLUSHALL");
}

/* The Unix socket serves the same keyspace as TCP. */
static void
test_unix(redisContext *tcp)
{
	struct timeval tv = { 10, 0 };
	redisContext *u;

	u = redisConnectUnixWithTimeout(srv.sock, tv);
	if (u == NULL || u->err) {
		ok(0, "[%s] connect to %s: %s", srv.backend, srv.sock,
		    u != NULL ? u->errstr : "out of memory");
		if (u != NULL)
			redisFree(u);
		return;
	}
	redisSetTimeout(u, tv);
	expect_status(u, redisCommand(u, "PING"), "PONG", "PING over unix");
	expect_status(tcp, redisCommand(tcp, "SET shared %b", "t\0cp", 4),
	    "OK", "SET over TCP");
	expect_bulk(u, redisCommand(u, "GETDEL shared"), "t\0cp", 4,
	    "GETDEL over unix sees it");
	expect_bulk(tcp, redisCommand(tcp, "GET shared"), NULL, 0,
	    "GET over TCP sees it gone");
	redisFree(u);
}

/* Connect to the server's TCP port (NULL after reporting a failure). */
static redisContext *
connect_tcp(void)
{
	struct timeval tv = { 10, 0 };
	redisContext *c;

	c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
	if (c == NULL || c->err) {
		ok(0, "[%s] connect to 127.0.0.1:%d: %s", srv.backend,
		    srv.port, c != NULL ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* Run every test against one backend. */
static void
test_backend(const char *server, const char *backend)
{
	redisContext *c, *idle;
	void *rv = NULL;

	diag("==== backend %s ====", backend);
	if (server_start(server, backend) == -1) {
		ok(0, "[%s] server starts", backend);
		server_cleanup();
		return;
	}
	ok(1, "[%s] server starts", backend);
	if ((c = connect_tcp()) != NULL) {
		test_basic(c);
		test_pipeline(c);
		test_big_pipeline(c);
		test_unix(c);
		redisFree(c);
	}
	/* A connection still open when the server stops is closed by it. */
	idle = connect_tcp();
	if (idle != NULL)
		expect_status(idle, redisCommand(idle, "PING"), "PONG",
		    "PING on the idle connection");
	server_stop();
	if (idle != NULL) {
		ok(redisGetReply(idle, &rv) != REDIS_OK && rv == NULL,
		    "[%s] the server closed the idle connection", backend);
		redisFree(idle);
	}
}

/* Run the tests for every backend in $TMC_BACKENDS; TAP on stdout. */
int
main(void)
{
	const char *server = getenv("TMC_SERVER");
	const char *list = getenv("TMC_BACKENDS");
	const char *vg = getenv("TMC_VALGRIND");
	char *backends, *b, *save = NULL, path[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	atexit(server_cleanup);
	use_valgrind = vg != NULL && *vg != '\0' && strcmp(vg, "0") != 0;
	if (server == NULL || *server == '\0') {
		/* Run by hand from the build dir: use its server. */
		const char *top = getenv("top_builddir");

		snprintf(path, sizeof(path), "%s/src/tiny-mp-cache-server",
		    top != NULL && *top != '\0' ? top : ".");
		server = path;
	}
	if (access(server, X_OK) == -1) {
		printf("Bail out! server binary %s: %s\n", server,
		    strerror(errno));
		return 1;
	}
	if (list == NULL || *list == '\0')
		list = "epoll select";
	if ((backends = strdup(list)) == NULL)
		abort();
	for (b = strtok_r(backends, " \t", &save); b != NULL;
	    b = strtok_r(NULL, " \t", &save))
		test_backend(server, b);
	free(backends);
	return done_testing();
}
