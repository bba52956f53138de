/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the command layer: the input is what one client sends.
 * It runs against a real server (created once, its Unix listener never
 * used) two ways: parsed and dispatched request by request, with every
 * reply checked and the keyspace commands checked against a model; and
 * written in pieces through a socket pair into the server's own client
 * code and event loop, whose replies must match.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "fuzz.h"
#include "glob.h"
#include "mem.h"
#include "resp.h"
#include "server.h"
#include "state.h"

const char fuzz_target_name[] = "fuzz_commands";

#define FUZZ_PASSWORD "pw"              /* requirepass of the second server */
#define FUZZ_PUMP_MAX 100000            /* event rounds per input, at most */
#define MODEL_BUCKETS 1024

/* ---- The model of the keyspace ---- */

/* One key of the model, and its value. */
struct mkey {
	struct mkey *next;           /* in its bucket */
	unsigned mark;               /* KEYS: seen in this reply */
	size_t klen, vlen;
	char *val;
	char key[];
};

/* What the keyspace must hold: a small chained hash table. */
struct model {
	struct mkey *b[MODEL_BUCKETS];
	size_t count;                /* keys */
	unsigned mark;               /* bumped for each KEYS reply */
};

/* Where key k is, or would go, in its bucket's chain. */
static struct mkey **
model_slot(struct model *m, const char *k, size_t klen)
{
	struct mkey **pp;

	pp = &m->b[fuzz_hash((const uint8_t *)k, klen) % MODEL_BUCKETS];
	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->klen == klen && memcmp((*pp)->key, k, klen) == 0)
			break;
	return pp;
}

/* The model's entry for k, or NULL. */
static struct mkey *
model_get(struct model *m, const char *k, size_t klen)
{
	return *model_slot(m, k, klen);
}

/* Set k to v in the model. */
static void
model_set(struct model *m, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	struct mkey **pp = model_slot(m, k, klen), *e = *pp;

	if (e == NULL) {
		e = malloc(sizeof(*e) + klen);
		FUZZ_CHECK(e != NULL);
		memcpy(e->key, k, klen);
		e->klen = klen;
		e->next = NULL;
		e->mark = 0;
		e->val = NULL;
		*pp = e;
		m->count++;
	}
	free(e->val);
	e->val = malloc(vlen > 0 ? vlen : 1);
	FUZZ_CHECK(e->val != NULL);
	memcpy(e->val, v, vlen);
	e->vlen = vlen;
}

/* Delete k from the model; 1 if it was there. */
static int
model_del(struct model *m, const char *k, size_t klen)
{
	struct mkey **pp = model_slot(m, k, klen), *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next;
	free(e->val);
	free(e);
	m->count--;
	return 1;
}

/* Empty the model. */
static void
model_clear(struct model *m)
{
	struct mkey *e, *next;
	size_t i;

	for (i = 0; i < MODEL_BUCKETS; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e->val);
			free(e);
		}
		m->b[i] = NULL;
	}
	m->count = 0;
}

/* A string key's value (nothing counted), or NULL. */
static const char *
db_get(struct db *db, const char *key, size_t klen, size_t *vlen)
{
	dbkey *k = db_find(db, key, klen, DB_NOSTATS | DB_NOTOUCH);

	return k != NULL ? db_key_value(k, vlen) : NULL;
}

/* The keyspace holds exactly what the model does. */
static void
model_check_db(struct model *m, struct db *db)
{
	const struct mkey *e;
	const char *v;
	size_t i, vlen;

	FUZZ_CHECK(db_size(db) == m->count);
	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next) {
			v = db_get(db, e->key, e->klen, &vlen);
			FUZZ_CHECK(v != NULL);
			FUZZ_CHECK(vlen == e->vlen);
			FUZZ_CHECK(memcmp(v, e->val, vlen) == 0);
		}
}

/* Add one key of the keyspace to the model, its value still unknown
 * (db_keys callback: looking the value up here could rehash the table
 * under the walk). */
static void
model_add_key(const char *key, size_t klen, void *arg)
{
	model_set(arg, key, klen, "", 0);
}

/* Make the model what the keyspace holds (after a write command the
 * model does not know). */
static void
model_resync(struct model *m, struct db *db)
{
	struct mkey *e;
	const char *v;
	size_t i, vlen;

	model_clear(m);
	db_keys(db, "*", 1, model_add_key, m);
	FUZZ_CHECK(db_size(db) == m->count);
	for (i = 0; i < MODEL_BUCKETS; i++)
		for (e = m->b[i]; e != NULL; e = e->next) {
			v = db_get(db, e->key, e->klen, &vlen);
			FUZZ_CHECK(v != NULL);
			model_set(m, e->key, e->klen, v, vlen);
		}
}

/* ---- The servers ---- */

/* A server the inputs run against. */
struct fuzz_server {
	struct server *srv;
	struct server_config cfg;    /* as created, restored after each pass */
	const char *password;
};

static struct fuzz_server servers[2];

/* Make a server listening only on a Unix socket whose file is removed
 * at once (the listener stays open and is never used). */
static void
server_setup(struct fuzz_server *fs, const char *password)
{
	char dir[] = "/tmp/tmc-fuzz-XXXXXX", path[64], err[SERVER_ERR_LEN];
	struct server_config cfg;

	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s", dir);
	server_config_init(&cfg);
	cfg.port = -1;
	FUZZ_CHECK(server_config_set(&cfg, "unixsocket", path, strlen(path),
	    err) == 0);
	/* CONFIG SET port would open a real listener: on this address
	 * (TEST-NET-1, never assigned) it fails, alike in every run. */
	FUZZ_CHECK(server_config_set(&cfg, "bind", "192.0.2.1", 9, err) == 0);
	cfg.maxclients = 64;
	FUZZ_CHECK(server_config_set(&cfg, "logfile", "/dev/null", 9,
	    err) == 0);
	cfg.loglevel = LL_WARNING;
	if (password != NULL)
		FUZZ_CHECK(server_config_set(&cfg, "requirepass", password,
		    strlen(password), err) == 0);
	fs->srv = server_create(&cfg, err);
	server_config_free(&cfg);
	if (fs->srv == NULL)
		fprintf(stderr, "fuzz_commands: %s\n", err);
	FUZZ_CHECK(fs->srv != NULL);
	unlink(path);
	rmdir(dir);
	server_config_copy(&fs->cfg, &fs->srv->cfg);
	fs->password = password;
}

/* Undo what one input did to the server: configuration (CONFIG SET),
 * password, shutdown request and keys. */
static void
server_reset(struct fuzz_server *fs)
{
	struct server *srv = fs->srv;

	FUZZ_CHECK(srv->clients == NULL);
	FUZZ_CHECK(srv->nclients == 0);
	char err[SETTING_ERR_LEN];

	server_config_free(&srv->cfg);
	server_config_copy(&srv->cfg, &fs->cfg);
	FUZZ_CHECK(server_apply_setting(srv, S_BUSY_POLL_US, err) == 0);
	FUZZ_CHECK(server_apply_setting(srv, S_PROTO_MAX_BULK_LEN, err) == 0);
	FUZZ_CHECK(server_apply_setting(srv, S_HZ, err) == 0);
	/* Close any listener CONFIG SET bind and port opened. */
	FUZZ_CHECK(server_apply_setting(srv, S_PORT, err) == 0);
	srv->shutdown_asap = 0;
	srv->stop_requested = 0;
	db_flush(&srv->db);
}

/* A client of srv on one end of a socket pair; *peer gets the other. */
static struct client *
client_setup(struct server *srv, int *peer)
{
	struct client *c;
	int fds[2];

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, fds) == 0);
	c = client_create(srv, fds[0], CLIENT_UNIX_SOCKET, NULL);
	FUZZ_CHECK(c != NULL);
	*peer = fds[1];
	return c;
}

/* ---- Replies ---- */

/* The length of the one complete reply at p, which must fill n bytes. */
static void
check_one_reply(const char *p, size_t n)
{
	struct resp_scan s;

	FUZZ_CHECK(n > 0);
	resp_scan_init(&s);
	FUZZ_CHECK(resp_scan_reply(&s, p, n, NULL) == (long long)n);
}

/* Count the replies in buf, which must hold only complete replies. */
static size_t
count_replies(const char *buf, size_t len)
{
	struct resp_scan s;
	size_t off = 0, n = 0;
	long long r;

	while (off < len) {
		resp_scan_init(&s);
		r = resp_scan_reply(&s, buf + off, len - off, NULL);
		FUZZ_CHECK(r > 0);
		off += (size_t)r;
		n++;
	}
	return n;
}

/* The reply at p[0..n) is exactly what want holds. */
static void
check_reply_is(const char *p, size_t n, const struct resp_buf *want)
{
	FUZZ_CHECK(n == want->len);
	FUZZ_CHECK(memcmp(p, want->data, n) == 0);
}

/* Read a "<type><number>\r\n" line at *p (within e); returns the number. */
static long long
read_line_num(const char **p, const char *e, char type)
{
	const char *nl;
	long long v;

	FUZZ_CHECK(*p < e && **p == type);
	nl = memchr(*p, '\n', (size_t)(e - *p));
	FUZZ_CHECK(nl != NULL && nl - *p >= 3 && nl[-1] == '\r');
	FUZZ_CHECK(resp_str_to_ll(*p + 1, (size_t)(nl - *p - 2), &v));
	*p = nl + 1;
	return v;
}

/* Whether KEYS pattern lists key: "*" alone lists every key, even the
 * empty one, which the glob itself does not match (as in Redis). */
static int
keys_match(const struct resp_arg *pat, const char *key, size_t klen)
{
	return (pat->len == 1 && pat->ptr[0] == '*') ||
	    glob_match(pat->ptr, pat->len, key, klen, 0);
}

/* KEYS pattern: the reply lists, once each, exactly the model's keys
 * that match the pattern. */
static void
check_keys(struct model *m, const struct resp_arg *pat, const char *p,
    const char *e)
{
	const struct mkey *k;
	struct mkey *hit;
	long long n, i, len;
	size_t b, want = 0;

	m->mark++;
	n = read_line_num(&p, e, '*');
	FUZZ_CHECK(n >= 0 && (size_t)n <= m->count);
	for (i = 0; i < n; i++) {
		len = read_line_num(&p, e, '$');
		FUZZ_CHECK(len >= 0 && len <= e - p - 2);
		hit = model_get(m, p, (size_t)len);
		FUZZ_CHECK(hit != NULL);
		FUZZ_CHECK(hit->mark != m->mark);      /* listed once */
		hit->mark = m->mark;
		FUZZ_CHECK(keys_match(pat, p, (size_t)len));
		p += len + 2;
	}
	FUZZ_CHECK(p == e);
	for (b = 0; b < MODEL_BUCKETS; b++)
		for (k = m->b[b]; k != NULL; k = k->next)
			if (keys_match(pat, k->key, k->klen))
				want++;
	FUZZ_CHECK(want == (size_t)n);
}

/* Read SET's options if they are only NX, XX and GET (the model has no
 * expiry yet); 0 if there are others. */
static int
set_plain_options(const struct client *c, int *nx, int *xx, int *get)
{
	int i;

	for (i = 3; i < c->argc; i++) {
		if (arg_is_word(&c->argv[i], "nx"))
			*nx = 1;
		else if (arg_is_word(&c->argv[i], "xx"))
			*xx = 1;
		else if (arg_is_word(&c->argv[i], "get"))
			*get = 1;
		else
			return 0;
	}
	return 1;
}

/*
 * Check the reply of a keyspace command against the model and apply the
 * command to it. Replies that are errors (arity, NOAUTH, syntax) must
 * leave the keyspace alone, which the end-of-input comparison checks;
 * so must every command that is not a write.
 */
static void
model_command(struct model *m, struct client *c, const char *p, size_t n)
{
	const struct resp_arg *a = c->argv;
	const struct command *cmd;
	struct resp_buf want;
	struct mkey *k;
	long long cnt;
	int i, nx = 0, xx = 0, get = 0;

	if (p[0] == '-')
		return;
	resp_buf_init(&want);
	if (arg_is(&a[0], "get") && c->argc == 2) {
		k = model_get(m, a[1].ptr, a[1].len);
		if (k == NULL)
			resp_add_null(&want);
		else
			resp_add_bulk(&want, k->val, k->vlen);
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "mget") && c->argc >= 2) {
		resp_add_array_len(&want, c->argc - 1);
		for (i = 1; i < c->argc; i++) {
			k = model_get(m, a[i].ptr, a[i].len);
			if (k == NULL)
				resp_add_null(&want);
			else
				resp_add_bulk(&want, k->val, k->vlen);
		}
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "mset") && c->argc >= 3) {
		FUZZ_CHECK(c->argc % 2 == 1);
		for (i = 1; i + 1 < c->argc; i += 2)
			model_set(m, a[i].ptr, a[i].len, a[i + 1].ptr,
			    a[i + 1].len);
		resp_add_ok(&want);
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "getdel") && c->argc == 2) {
		k = model_get(m, a[1].ptr, a[1].len);
		if (k == NULL)
			resp_add_null(&want);
		else
			resp_add_bulk(&want, k->val, k->vlen);
		check_reply_is(p, n, &want);
		model_del(m, a[1].ptr, a[1].len);
	} else if (arg_is(&a[0], "set") && c->argc >= 3 &&
	    set_plain_options(c, &nx, &xx, &get)) {
		FUZZ_CHECK(!(nx && xx));
		k = model_get(m, a[1].ptr, a[1].len);
		if (get) {
			if (k == NULL)
				resp_add_null(&want);
			else
				resp_add_bulk(&want, k->val, k->vlen);
		}
		if ((nx && k != NULL) || (xx && k == NULL)) {
			if (!get)
				resp_add_null(&want);
		} else {
			if (!get)
				resp_add_ok(&want);
			model_set(m, a[1].ptr, a[1].len, a[2].ptr, a[2].len);
		}
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "del") && c->argc >= 2) {
		for (cnt = 0, i = 1; i < c->argc; i++)
			cnt += model_del(m, a[i].ptr, a[i].len);
		resp_add_int(&want, cnt);
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "exists") && c->argc >= 2) {
		for (cnt = 0, i = 1; i < c->argc; i++)
			cnt += model_get(m, a[i].ptr, a[i].len) != NULL;
		resp_add_int(&want, cnt);
		check_reply_is(p, n, &want);
	} else if (arg_is(&a[0], "dbsize") && c->argc == 1) {
		resp_add_int(&want, (long long)m->count);
		check_reply_is(p, n, &want);
	} else if ((arg_is(&a[0], "flushdb") || arg_is(&a[0], "flushall")) &&
	    c->argc <= 2) {
		resp_add_ok(&want);
		check_reply_is(p, n, &want);
		model_clear(m);
	} else if (arg_is(&a[0], "keys") && c->argc == 2)
		check_keys(m, &a[1], p, p + n);
	else if ((cmd = command_lookup(a[0].ptr, a[0].len)) !=
	    NULL && (cmd->flags & CMD_WRITE))
		/* A write command this model does not know (yet): take
		 * what it did as right. Any other command must leave the
		 * keyspace alone, which the caller checks. */
		model_resync(m, &c->srv->db);
	resp_buf_free(&want);
}

/* Commands whose replies depend on time, ids, statistics, the allocator
 * or the hash table's layout: the two ways of feeding an input cannot be
 * compared byte for byte when one of these ran. */
static int
is_variable(const struct client *c)
{
	static const char *const names[] = {
		"info", "client", "hello", "keys", "randomkey", "ttl", "pttl",
		"expiretime", "pexpiretime", "object", "memory", "scan", NULL,
	};
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (arg_is(&c->argv[0], names[i]))
			return 1;
	return 0;
}

/* ---- The two ways to run an input ---- */

struct outcome {
	struct resp_buf replies;     /* everything the client was sent */
	size_t nreplies;
	int variable;                /* some reply may differ between runs */
	int shutdown;                /* SHUTDOWN, POST or Host: ran: the
	                              * connection closed at once, and a
	                              * socket run may see only a prefix */
};

/*
 * Parse the input with the client's own parser and dispatch request by
 * request, as the client's input loop does, checking each reply and the
 * keyspace after each command.
 */
static void
run_direct(struct server *srv, const uint8_t *data, size_t size,
    struct model *m, struct outcome *out)
{
	struct client *c;
	size_t off;
	int peer, r;

	c = client_setup(srv, &peer);
	c->qbuf = mem_alloc(size);
	memcpy(c->qbuf, data, size);
	c->qlen = c->qcap = size;
	while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP)) &&
	    !srv->shutdown_asap) {
		r = resp_parse(&c->parser, c->qbuf, c->qlen);
		if (r == RESP_INCOMPLETE)
			break;
		off = c->reply.len;
		if (r == RESP_ERR) {
			resp_add_error(&c->reply, c->parser.err,
			    strlen(c->parser.err));
			FUZZ_CHECK(strncmp(c->reply.data + off,
			    "-ERR Protocol error: ", 21) == 0);
			check_one_reply(c->reply.data + off, c->reply.len - off);
			out->nreplies++;
			break;
		}
		FUZZ_CHECK(r == RESP_OK);
		if (c->parser.argc == 0)
			continue;
		c->argc = c->parser.argc;
		c->argv = c->parser.argv;
		if (is_variable(c))
			out->variable = 1;
		command_dispatch(c);
		if (c->flags & CLIENT_CLOSE_ASAP) {
			/* SHUTDOWN, or a POST/Host: request: the connection
			 * closes without a reply. */
			FUZZ_CHECK(srv->shutdown_asap ||
			    arg_is(&c->argv[0], "post") ||
			    arg_is(&c->argv[0], "host:"));
			FUZZ_CHECK(c->reply.len == off);
			out->shutdown = 1;
		} else {
			/* Exactly one well-formed reply per command. */
			check_one_reply(c->reply.data + off,
			    c->reply.len - off);
			out->nreplies++;
			model_command(m, c, c->reply.data + off,
			    c->reply.len - off);
		}
		FUZZ_CHECK(db_size(&srv->db) == m->count);
		c->argc = 0;
		c->argv = NULL;
	}
	resp_buf_append(&out->replies, c->reply.data, c->reply.len);
	model_check_db(m, &srv->db);
	close(peer);
	client_free(c);
}

/* Move whatever the server sent to peer into out; 1 at EOF. */
static int
drain(int peer, struct resp_buf *out)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(peer, buf, sizeof(buf), 0);
		if (n > 0) {
			resp_buf_append(out, buf, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == ECONNRESET);
		return errno == ECONNRESET;
	}
}

/* Run event rounds that do not wait (a stopped loop polls with a zero
 * timeout) until nothing more happens, collecting the replies. */
static void
pump(struct server *srv, int peer, struct resp_buf *out)
{
	size_t before;
	int i, n;

	for (i = 0; i < FUZZ_PUMP_MAX; i++) {
		event_stop(srv->el);
		n = event_process(srv->el);
		FUZZ_CHECK(n >= 0);
		before = out->len;
		drain(peer, out);
		if (n == 0 && out->len == before)
			return;
	}
	FUZZ_CHECK(!"the event loop never settles");
}

/*
 * Write the input into a socket pair in pieces and let the server's
 * event loop and client code do the rest; then hang up, after which the
 * server must have let the client go.
 */
static void
run_socket(struct server *srv, const uint8_t *data, size_t size,
    uint64_t seed, struct outcome *out)
{
	uint64_t rng = seed | 1;
	size_t fed = 0, piece;
	ssize_t n;
	int peer;

	client_setup(srv, &peer);
	while (fed < size && srv->clients != NULL) {
		piece = fuzz_rand(&rng) % 4 == 0 ? size - fed :
		    1 + fuzz_rand(&rng) % 512;
		if (piece > size - fed)
			piece = size - fed;
		n = send(peer, data + fed, piece, MSG_NOSIGNAL);
		if (n == -1) {
			/* The server closed it (after QUIT, say), or the
			 * socket is full until the server reads. */
			FUZZ_CHECK(errno == EPIPE || errno == ECONNRESET ||
			    errno == EAGAIN || errno == EWOULDBLOCK);
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			n = 0;
		}
		fed += (size_t)n;
		pump(srv, peer, &out->replies);
	}
	pump(srv, peer, &out->replies);
	shutdown(peer, SHUT_WR);
	pump(srv, peer, &out->replies);
	FUZZ_CHECK(srv->clients == NULL);
	FUZZ_CHECK(drain(peer, &out->replies) == 1);
	close(peer);
	out->nreplies = count_replies(out->replies.data, out->replies.len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model model;
	struct outcome direct, sock, authed;
	struct fuzz_server *open = &servers[0], *locked = &servers[1];

	if (open->srv == NULL) {
		server_setup(open, NULL);
		server_setup(locked, FUZZ_PASSWORD);
	}
	if (size == 0)
		return 0;
	memset(&direct, 0, sizeof(direct));
	memset(&sock, 0, sizeof(sock));
	memset(&authed, 0, sizeof(authed));

	/* One request at a time, checked against the model. */
	run_direct(open->srv, data, size, &model, &direct);
	server_reset(open);

	/* Through the client code: the same replies, the same keys. */
	run_socket(open->srv, data, size, fuzz_hash(data, size), &sock);
	/*
	 * Past RESP_INLINE_MAX, the pieces decide whether a long line is
	 * "too big", as in Redis. SHUTDOWN stops the server with the
	 * replies of its own batch unsent, as Redis does: then only a
	 * prefix arrives.
	 */
	if (size <= RESP_INLINE_MAX) {
		if (direct.shutdown)
			FUZZ_CHECK(sock.nreplies <= direct.nreplies);
		else
			FUZZ_CHECK(sock.nreplies == direct.nreplies);
		if (!direct.variable) {
			FUZZ_CHECK(sock.replies.len <= direct.replies.len);
			FUZZ_CHECK(direct.shutdown ||
			    sock.replies.len == direct.replies.len);
			FUZZ_CHECK(sock.replies.len == 0 ||
			    memcmp(sock.replies.data, direct.replies.data,
			    sock.replies.len) == 0);
		}
	}
	if (size <= RESP_INLINE_MAX)
		model_check_db(&model, &open->srv->db);
	server_reset(open);
	model_clear(&model);

	/* With a password: the same, behind AUTH. */
	run_direct(locked->srv, data, size, &model, &authed);
	server_reset(locked);
	model_clear(&model);

	resp_buf_free(&direct.replies);
	resp_buf_free(&sock.replies);
	resp_buf_free(&authed.replies);
	return 0;
}
