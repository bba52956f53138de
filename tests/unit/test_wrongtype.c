/* SPDX-License-Identifier: MIT */
/*
 * The string commands through the real dispatcher, against values no
 * client can make yet: each string command meets a list key and must
 * answer as Redis 7.0 does (WRONGTYPE where Redis gives it, an overwrite,
 * nil or a count elsewhere). Also what every string write propagates,
 * seen through the server's propagation hook, and that a command that
 * changes nothing propagates nothing.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "object.h"
#include "resp.h"
#include "server.h"
#include "state.h"
#include "tap.h"

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong " \
	"kind of value\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"
#define MAXARGS 16

/* A list of one element "a" in list.h's inline form (a pack): the
 * element count (2 bytes, little endian), then the element: its length,
 * its byte, its length again. */
static const unsigned char list_value[] = {
	1, 0, 1, 'a', 1,
};

static struct server *srv;
static struct client *cl;
static int peer;

/* What the last command propagated ("" if nothing), and how often the
 * hook ran during it. */
static char propagated[512];
static int npropagated;

/* The propagation hook: record argv as its words joined by spaces. */
static void
record_propagation(void *arg, int argc, const struct resp_arg *argv)
{
	size_t off = 0;
	int i;

	(void)arg;
	npropagated++;
	propagated[0] = '\0';
	for (i = 0; i < argc && off < sizeof(propagated) - 1; i++)
		off += (size_t)snprintf(propagated + off,
		    sizeof(propagated) - off, "%s%.*s", i ? " " : "",
		    (int)argv[i].len, argv[i].ptr);
}

/* A server on a Unix socket only (its file removed at once; the listener
 * is never used) and one client on a socket pair. */
static void
setup(void)
{
	char dir[] = "/tmp/tmc-wrongtype-XXXXXX", path[64];
	char err[SERVER_ERR_LEN];
	struct server_config cfg;
	int fds[2];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(path, sizeof(path), "%s/s", dir);
	server_config_init(&cfg);
	cfg.port = -1;
	if (server_config_set(&cfg, "unixsocket", path, strlen(path),
	    err) != 0 || server_config_set(&cfg, "logfile", "/dev/null", 9,
	    err) != 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(2);
	}
	srv = server_create(&cfg, err);
	server_config_free(&cfg);
	if (srv == NULL) {
		fprintf(stderr, "server_create: %s\n", err);
		exit(2);
	}
	unlink(path);
	rmdir(dir);
	srv->propagate = record_propagation;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    fds) != 0) {
		perror("socketpair");
		exit(2);
	}
	cl = client_create(srv, fds[0], CLIENT_UNIX_SOCKET, NULL);
	peer = fds[1];
	if (cl == NULL)
		exit(2);
}

static void
teardown(void)
{
	client_free(cl);
	close(peer);
	server_free(srv);
}

/*
 * Run one command (its words, NULL-terminated; "" is an empty argument)
 * through the parser and the dispatcher, as the client's input loop
 * does. Returns the reply, valid until the next call.
 */
static const char *
run(const char *word, ...)
{
	static struct resp_buf reply;
	const char *argv[MAXARGS];
	size_t lens[MAXARGS];
	struct resp_parser p;
	struct resp_buf req;
	va_list ap;
	int argc = 0;

	va_start(ap, word);
	while (word != NULL && argc < MAXARGS) {
		argv[argc] = word;
		lens[argc++] = strlen(word);
		word = va_arg(ap, const char *);
	}
	va_end(ap);
	resp_buf_init(&req);
	resp_add_command(&req, argc, argv, lens);
	resp_parser_init(&p, 0);
	if (resp_parse(&p, req.data, req.len) != RESP_OK) {
		fprintf(stderr, "request does not parse\n");
		exit(2);
	}
	cl->argc = p.argc;
	cl->argv = p.argv;
	cl->reply.len = 0;
	propagated[0] = '\0';
	npropagated = 0;
	command_dispatch(cl);
	cl->argc = 0;
	cl->argv = NULL;
	resp_buf_free(&reply);
	resp_buf_init(&reply);
	resp_buf_append(&reply, cl->reply.data, cl->reply.len);
	resp_buf_append(&reply, "", 1);
	cl->reply.len = 0;
	resp_parser_free(&p);
	resp_buf_free(&req);
	return reply.data;
}

/* s with CR and LF shown as \r and \n, for diagnostics (valid until
 * the next call). */
static const char *
show(const char *s)
{
	static char buf[1024];
	size_t n = 0;

	for (; *s != '\0' && n < sizeof(buf) - 3; s++) {
		if (*s == '\r' || *s == '\n') {
			buf[n++] = '\\';
			buf[n++] = *s == '\r' ? 'r' : 'n';
		} else
			buf[n++] = *s;
	}
	buf[n] = '\0';
	return buf;
}

/* Make key "l" a list again (any old value replaced). */
static void
make_list(void)
{
	db_set(&srv->db, "l", 1, OBJ_LIST, OBJ_ENC_LISTPACK, list_value,
	    sizeof(list_value), DB_EXPIRE_NONE);
}

/* The type of key "l", or -1 if it is gone. */
static int
type_of_l(void)
{
	dbkey *k = db_find(&srv->db, "l", 1, DB_NOSTATS | DB_NOTOUCH);

	return k != NULL ? db_key_type(k) : -1;
}

/* ---- Against a list: the reply, and what became of the list ---- */

struct wrongtype_case {
	const char *argv[8];         /* the command, NULL-terminated */
	const char *reply;           /* what Redis 7.0 replies */
	int type_after;              /* OBJ_LIST, OBJ_STRING or -1 (gone) */
};

static const struct wrongtype_case wrongtype_cases[] = {
	{ { "GET", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "SET", "l", "v" }, "+OK\r\n", OBJ_STRING },
	{ { "SET", "l", "v", "GET" }, WRONGTYPE, OBJ_LIST },
	{ { "SET", "l", "v", "NX" }, "$-1\r\n", OBJ_LIST },
	{ { "SET", "l", "v", "XX" }, "+OK\r\n", OBJ_STRING },
	{ { "SET", "l", "v", "NX", "GET" }, WRONGTYPE, OBJ_LIST },
	{ { "SET", "l", "v", "XX", "GET" }, WRONGTYPE, OBJ_LIST },
	{ { "SET", "l", "v", "EX", "0", "GET" },
	  "-ERR invalid expire time in 'set' command\r\n", OBJ_LIST },
	{ { "SETNX", "l", "v" }, ":0\r\n", OBJ_LIST },
	{ { "SETEX", "l", "100", "v" }, "+OK\r\n", OBJ_STRING },
	{ { "SETEX", "l", "0", "v" },
	  "-ERR invalid expire time in 'setex' command\r\n", OBJ_LIST },
	{ { "PSETEX", "l", "100000", "v" }, "+OK\r\n", OBJ_STRING },
	{ { "MSET", "l", "v" }, "+OK\r\n", OBJ_STRING },
	{ { "MSETNX", "l", "v", "x", "y" }, ":0\r\n", OBJ_LIST },
	{ { "MGET", "l", "x" }, "*2\r\n$-1\r\n$-1\r\n", OBJ_LIST },
	{ { "GETDEL", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "GETEX", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "GETEX", "l", "EX", "10" }, WRONGTYPE, OBJ_LIST },
	{ { "GETEX", "l", "EX", "abc" }, WRONGTYPE, OBJ_LIST },
	{ { "GETEX", "l", "PERSIST" }, WRONGTYPE, OBJ_LIST },
	{ { "GETEX", "l", "BOGUS" }, "-ERR syntax error\r\n", OBJ_LIST },
	{ { "GETSET", "l", "v" }, WRONGTYPE, OBJ_LIST },
	{ { "INCR", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "DECR", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "INCRBY", "l", "5" }, WRONGTYPE, OBJ_LIST },
	{ { "DECRBY", "l", "5" }, WRONGTYPE, OBJ_LIST },
	{ { "INCRBY", "l", "abc" }, NOT_INT, OBJ_LIST },
	{ { "DECRBY", "l", "-9223372036854775808" },
	  "-ERR decrement would overflow\r\n", OBJ_LIST },
	{ { "INCRBYFLOAT", "l", "1" }, WRONGTYPE, OBJ_LIST },
	{ { "INCRBYFLOAT", "l", "abc" }, WRONGTYPE, OBJ_LIST },
	{ { "APPEND", "l", "x" }, WRONGTYPE, OBJ_LIST },
	{ { "APPEND", "l", "" }, WRONGTYPE, OBJ_LIST },
	{ { "STRLEN", "l" }, WRONGTYPE, OBJ_LIST },
	{ { "GETRANGE", "l", "0", "1" }, WRONGTYPE, OBJ_LIST },
	{ { "GETRANGE", "l", "a", "1" }, NOT_INT, OBJ_LIST },
	{ { "SUBSTR", "l", "0", "1" }, WRONGTYPE, OBJ_LIST },
	{ { "SETRANGE", "l", "0", "x" }, WRONGTYPE, OBJ_LIST },
	{ { "SETRANGE", "l", "0", "" }, WRONGTYPE, OBJ_LIST },
	{ { "SETRANGE", "l", "536870912", "x" }, WRONGTYPE, OBJ_LIST },
	{ { "SETRANGE", "l", "-1", "x" }, "-ERR offset is out of range\r\n",
	  OBJ_LIST },
	{ { "SETRANGE", "l", "abc", "x" }, NOT_INT, OBJ_LIST },
	{ { "DELEX", "l", "IFEQ", "a" }, WRONGTYPE, OBJ_LIST },
	{ { "DELEX", "l", "IFNE", "a" }, WRONGTYPE, OBJ_LIST },
	{ { "DELEX", "l", "IFEQ" }, "-ERR syntax error\r\n", OBJ_LIST },
	{ { "DELEX", "l" }, ":1\r\n", -1 },
	{ { "DEL", "l" }, ":1\r\n", -1 },
	{ { "EXISTS", "l" }, ":1\r\n", OBJ_LIST },
};

/* Run a case's words (up to 7). */
static const char *
run_case(const char *const *a)
{
	return run(a[0], a[1], a[2], a[3], a[4], a[5], a[6], (char *)NULL);
}

/* Each string command against a list. A refused command leaves the list
 * alone and propagates nothing. */
static void
test_wrongtype(void)
{
	const struct wrongtype_case *t;
	const char *got;
	char name[128];
	size_t i, n = sizeof(wrongtype_cases) / sizeof(wrongtype_cases[0]);
	int j;

	for (i = 0; i < n; i++) {
		t = &wrongtype_cases[i];
		name[0] = '\0';
		for (j = 0; t->argv[j] != NULL; j++)
			snprintf(name + strlen(name),
			    sizeof(name) - strlen(name), "%s%s", j ? " " : "",
			    t->argv[j]);
		make_list();
		got = run_case(t->argv);
		if (!ok(strcmp(got, t->reply) == 0, "%s on a list replies "
		    "as Redis", name))
			diag("  got %s", show(got));
		is_int(type_of_l(), t->type_after, "%s: the key after", name);
		if (t->reply[0] == '-' || t->type_after == OBJ_LIST)
			is_int(npropagated, 0, "%s: nothing propagated", name);
	}
}

/* ---- Propagation ---- */

/* Check the last command's reply and what it propagated (NULL: nothing;
 * a string ending in '=' is a prefix followed by a number equal to
 * want_num). */
static void
check(const char *reply, const char *want_reply, const char *want_prop,
    long long want_num, const char *what)
{
	size_t n;

	if (!ok(strcmp(reply, want_reply) == 0, "%s: reply", what))
		diag("  got %s", show(reply));
	if (want_prop == NULL) {
		if (!ok(npropagated == 0, "%s: nothing propagated", what))
			diag("  propagated %s", propagated);
		return;
	}
	if (!ok(npropagated == 1, "%s: propagated once", what))
		return;
	n = strlen(want_prop);
	if (want_prop[n - 1] == '=') {
		ok(strncmp(propagated, want_prop, n - 1) == 0 &&
		    atoll(propagated + n - 1) == want_num,
		    "%s: propagated as %s%lld", what, want_prop, want_num);
	} else if (!ok(strcmp(propagated, want_prop) == 0,
	    "%s: propagated as %s", what, want_prop))
		diag("  got %s", propagated);
}

/* Every string write propagates in a form whose replay gives the same
 * keyspace whenever it runs; what changed nothing, nothing. */
static void
test_propagation(void)
{
	const char *r;

	db_flush(&srv->db);
	r = run("SET", "k", "v", (char *)NULL);
	check(r, "+OK\r\n", "SET k v", 0, "SET");
	r = run("SET", "k", "v", "EX", "100", (char *)NULL);
	check(r, "+OK\r\n", "SET k v PXAT =", srv->db.now + 100000, "SET EX");
	r = run("SETEX", "k", "100", "w", (char *)NULL);
	check(r, "+OK\r\n", "SET k w PXAT =", srv->db.now + 100000, "SETEX");
	r = run("PSETEX", "k", "5000", "x", (char *)NULL);
	check(r, "+OK\r\n", "SET k x PXAT =", srv->db.now + 5000, "PSETEX");
	r = run("SETNX", "k", "y", (char *)NULL);
	check(r, ":0\r\n", NULL, 0, "SETNX existing");
	r = run("SETNX", "n", "y", (char *)NULL);
	check(r, ":1\r\n", "SETNX n y", 0, "SETNX new");
	r = run("GETSET", "k", "z", (char *)NULL);
	check(r, "$1\r\nx\r\n", "SET k z", 0, "GETSET");

	r = run("GETEX", "k", (char *)NULL);
	check(r, "$1\r\nz\r\n", NULL, 0, "GETEX");
	r = run("GETEX", "k", "PERSIST", (char *)NULL);
	check(r, "$1\r\nz\r\n", NULL, 0, "GETEX PERSIST without a TTL");
	r = run("GETEX", "k", "EX", "100", (char *)NULL);
	check(r, "$1\r\nz\r\n", "PEXPIREAT k =", srv->db.now + 100000,
	    "GETEX EX");
	r = run("GETEX", "k", "PX", "100", (char *)NULL);
	check(r, "$1\r\nz\r\n", "PEXPIREAT k =", srv->db.now + 100,
	    "GETEX PX");
	r = run("GETEX", "k", "EXAT", "4102444800", (char *)NULL);
	check(r, "$1\r\nz\r\n", "PEXPIREAT k 4102444800000", 0, "GETEX EXAT");
	r = run("GETEX", "k", "PXAT", "4102444800001", (char *)NULL);
	check(r, "$1\r\nz\r\n", "PEXPIREAT k 4102444800001", 0, "GETEX PXAT");
	r = run("GETEX", "k", "PERSIST", (char *)NULL);
	check(r, "$1\r\nz\r\n", "PERSIST k", 0, "GETEX PERSIST");
	r = run("GETEX", "k", "EX", "0", (char *)NULL);
	check(r, "-ERR invalid expire time in 'getex' command\r\n", NULL, 0,
	    "GETEX EX 0");
	r = run("GETEX", "k", "EXAT", "1", (char *)NULL);
	check(r, "$1\r\nz\r\n", "DEL k", 0, "GETEX EXAT in the past");
	ok(db_find(&srv->db, "k", 1, DB_NOSTATS) == NULL, "GETEX EXAT 1 "
	    "deleted the key");
	r = run("GETEX", "k", "EX", "10", (char *)NULL);
	check(r, "$-1\r\n", NULL, 0, "GETEX missing key");

	r = run("INCR", "c", (char *)NULL);
	check(r, ":1\r\n", "INCR c", 0, "INCR");
	r = run("INCRBY", "c", "x", (char *)NULL);
	check(r, NOT_INT, NULL, 0, "INCRBY not an integer");
	r = run("INCRBYFLOAT", "c", "1.5", (char *)NULL);
	check(r, "$3\r\n2.5\r\n", "SET c 2.5 KEEPTTL", 0, "INCRBYFLOAT");
	r = run("INCRBYFLOAT", "c", "x", (char *)NULL);
	check(r, "-ERR value is not a valid float\r\n", NULL, 0,
	    "INCRBYFLOAT not a float");
	r = run("APPEND", "c", "0", (char *)NULL);
	check(r, ":4\r\n", "APPEND c 0", 0, "APPEND");
	r = run("APPEND", "c", "", (char *)NULL);
	check(r, ":4\r\n", "APPEND c ", 0, "APPEND nothing (Redis "
	    "propagates it too)");
	r = run("SETRANGE", "c", "0", "", (char *)NULL);
	check(r, ":4\r\n", NULL, 0, "SETRANGE nothing");
	r = run("SETRANGE", "c", "1", "x", (char *)NULL);
	check(r, ":4\r\n", "SETRANGE c 1 x", 0, "SETRANGE");

	r = run("MSETNX", "c", "1", "d", "2", (char *)NULL);
	check(r, ":0\r\n", NULL, 0, "MSETNX refused");
	r = run("MSETNX", "d", "1", "e", "2", (char *)NULL);
	check(r, ":1\r\n", "MSETNX d 1 e 2", 0, "MSETNX");

	r = run("DELEX", "d", "IFEQ", "2", (char *)NULL);
	check(r, ":0\r\n", NULL, 0, "DELEX IFEQ false");
	r = run("DELEX", "d", "IFNE", "1", (char *)NULL);
	check(r, ":0\r\n", NULL, 0, "DELEX IFNE false");
	r = run("DELEX", "d", "IFEQ", "1", (char *)NULL);
	check(r, ":1\r\n", "DEL d", 0, "DELEX IFEQ true");
	r = run("DELEX", "e", "ifne", "1", (char *)NULL);
	check(r, ":1\r\n", "DEL e", 0, "DELEX IFNE true");
	r = run("DELEX", "c", (char *)NULL);
	check(r, ":1\r\n", "DEL c", 0, "DELEX");
	r = run("DELEX", "c", (char *)NULL);
	check(r, ":0\r\n", NULL, 0, "DELEX missing key");
	r = run("DELEX", "n", "IFEQ", (char *)NULL);
	check(r, "-ERR syntax error\r\n", NULL, 0, "DELEX syntax error");
}

/* INCR and friends keep the key's TTL; SET and GETSET drop it. */
static void
test_ttl(void)
{
	dbkey *k;
	long long when;

	db_flush(&srv->db);
	run("SET", "k", "1", "EX", "100", (char *)NULL);
	when = srv->db.now + 100000;
	run("INCR", "k", (char *)NULL);
	run("INCRBYFLOAT", "k", "0.5", (char *)NULL);
	run("APPEND", "k", "5", (char *)NULL);
	run("SETRANGE", "k", "0", "3", (char *)NULL);
	k = db_find(&srv->db, "k", 1, DB_NOSTATS);
	ok(k != NULL && db_key_expire(k) == when,
	    "INCR, INCRBYFLOAT, APPEND, SETRANGE keep the expire time");
	run("GETSET", "k", "x", (char *)NULL);
	k = db_find(&srv->db, "k", 1, DB_NOSTATS);
	ok(k != NULL && db_key_expire(k) == -1, "GETSET drops it");
}

int
main(void)
{
	setup();
	test_wrongtype();
	test_propagation();
	test_ttl();
	teardown();
	return done_testing();
}
