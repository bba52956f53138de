/* SPDX-License-Identifier: MIT */
/*
 * The command table, lookup, central dispatch (arity, authentication,
 * memory, Redis's error texts, statistics, propagation) and the helpers
 * the handlers in cmd_*.c share.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "blocked.h"
#include "client.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "evict.h"
#include "log.h"
#include "multi.h"
#include "mem.h"
#include "resp.h"
#include "state.h"

/*
 * The table: one row per command, in the family tables of cmd_*.c (each
 * family owns its rows, beside its handlers), listed here in the order
 * COMMAND reports them. A row is: name, arity, flags, handler, first key,
 * last key, key step, ACL categories, subcommands, parent, id (set at
 * start). Arity counts the command name; a negative arity -N means "at
 * least N arguments". Flags and ACL categories are those Redis 7.0
 * reports, so COMMAND INFO reads the same.
 */
static struct command *const command_families[] = {
	string_commands, list_commands, keyspace_commands, conn_commands,
	multi_commands, config_commands, info_commands, command_commands,
	admin_commands, NULL,
};

/* ---- Lookup ---- */

#define LOOKUP_SLOTS 512         /* open-addressing table of top-level
                                  * commands: a power of two, at least
                                  * four times the commands */
#define LOOKUP_NAME_MAX 32       /* longer names are no command */

static struct command *lookup_slots[LOOKUP_SLOTS];
static const struct command *top_commands[LOOKUP_SLOTS / 4];
static int ntop;                 /* top-level commands */
static int ncommands;            /* commands and subcommands */
static pthread_once_t commands_once = PTHREAD_ONCE_INIT;

/* FNV-1a over the name with ASCII letters folded to lower case (names
 * are letters, '|' and ':'; other bytes only need to hash alike in any
 * case for a miss to stay a miss). */
static unsigned
lookup_hash(const char *name, size_t len)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i] | 0x20u;
		h *= 16777619u;
	}
	return h;
}

/* 1 if name (len bytes, any case) is cmd's lower-case name. */
static inline int
lookup_is(const struct command *cmd, const char *name, size_t len)
{
	unsigned char ch;
	size_t i;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)name[i];
		if (ch >= 'A' && ch <= 'Z')
			ch |= 0x20;
		if (ch != (unsigned char)cmd->name[i])
			return 0;     /* also at cmd's NUL: name is longer */
	}
	return cmd->name[len] == '\0';
}

/* Number every row and put the top-level ones into the lookup table. */
static void
commands_build(void)
{
	struct command *const *fam, *cmd, *sub;
	unsigned i;

	for (fam = command_families; *fam != NULL; fam++)
	for (cmd = *fam; cmd->name != NULL; cmd++) {
		if (ntop == LOOKUP_SLOTS / 4)
			abort();     /* the lookup table needs to grow */
		top_commands[ntop++] = cmd;
		cmd->id = ncommands++;
		i = lookup_hash(cmd->name, strlen(cmd->name)) &
		    (LOOKUP_SLOTS - 1);
		while (lookup_slots[i] != NULL)
			i = (i + 1) & (LOOKUP_SLOTS - 1);
		lookup_slots[i] = cmd;
		for (sub = cmd->sub; sub != NULL && sub->name != NULL; sub++)
			sub->id = ncommands++;
	}
}

void
commands_init(void)
{
	pthread_once(&commands_once, commands_build);
}

int
commands_count(void)
{
	commands_init();
	return ncommands;
}

void
commands_foreach(void (*fn)(const struct command *cmd, void *arg),
    void *arg)
{
	const struct command *sub;
	int i;

	commands_init();
	for (i = 0; i < ntop; i++) {
		fn(top_commands[i], arg);
		for (sub = top_commands[i]->sub; sub != NULL && sub->name != NULL;
		    sub++)
			fn(sub, arg);
	}
}

int
commands_top_count(void)
{
	commands_init();
	return ntop;
}

const struct command *
commands_top(int i)
{
	commands_init();
	return i >= 0 && i < ntop ? top_commands[i] : NULL;
}

const struct command *
command_lookup(const char *name, size_t len)
{
	const struct command *cmd;
	unsigned i;

	if (len == 0 || len > LOOKUP_NAME_MAX)
		return NULL;
	commands_init();
	i = lookup_hash(name, len) & (LOOKUP_SLOTS - 1);
	while ((cmd = lookup_slots[i]) != NULL) {
		if (lookup_is(cmd, name, len))
			return cmd;
		i = (i + 1) & (LOOKUP_SLOTS - 1);
	}
	return NULL;
}

const struct command *
command_find(const struct command *table, const char *name, size_t len)
{
	const struct command *cmd;

	if (len == 0)
		return NULL;
	for (cmd = table; cmd->name != NULL; cmd++) {
		if (strlen(cmd->name) == len &&
		    strncasecmp(cmd->name, name, len) == 0)
			return cmd;
	}
	return NULL;
}

/*
 * Find a command by its full name, any case: "get", or "config|get" for
 * a subcommand. NULL if there is none (also for more than one '|', as in
 * Redis).
 */
const struct command *
command_lookup_full(const char *name, size_t len)
{
	const struct command *parent;
	const char *bar = memchr(name, '|', len);
	size_t plen;

	if (bar == NULL)
		return command_lookup(name, len);
	plen = (size_t)(bar - name);
	parent = command_lookup(name, plen);
	if (parent == NULL || parent->sub == NULL ||
	    memchr(bar + 1, '|', len - plen - 1) != NULL)
		return NULL;
	return command_find(parent->sub, bar + 1, len - plen - 1);
}

const char *
command_fullname(const struct command *cmd, char *buf)
{
	if (cmd->parent != NULL)
		snprintf(buf, 64, "%s|%s", cmd->parent, cmd->name);
	else
		snprintf(buf, 64, "%s", cmd->name);
	return buf;
}

/* ---- Errors and statistics ---- */

void
command_count_error(struct server *srv, const char *msg, size_t len)
{
	size_t n = 0;
	int i;

	srv->stat_error_replies++;
	while (n < len && msg[n] != ' ' && msg[n] != '\r')
		n++;
	if (n >= SERVER_ERRPREFIX_LEN)
		n = SERVER_ERRPREFIX_LEN - 1;
	for (i = 0; i < srv->nerrstats; i++)
		if (strlen(srv->errstats[i].prefix) == n &&
		    memcmp(srv->errstats[i].prefix, msg, n) == 0) {
			srv->errstats[i].count++;
			return;
		}
	if (srv->nerrstats == SERVER_ERRSTATS_MAX)
		return;              /* Redis stops adding rows here too */
	memcpy(srv->errstats[i].prefix, msg, n);
	srv->errstats[i].prefix[n] = '\0';
	srv->errstats[i].count = 1;
	srv->nerrstats++;
}

/* If the reply c wrote since offset off is an error, count it; return
 * 1 if it was one. */
static int
command_note_error(struct client *c, size_t off)
{
	if (c->reply.len <= off || c->reply.data[off] != '-')
		return 0;
	command_count_error(c->srv, c->reply.data + off + 1,
	    c->reply.len - off - 1);
	return 1;
}

void
command_propagate(struct server *srv, int argc, const struct resp_arg *argv)
{
	if (srv->propagate != NULL)
		srv->propagate(srv->propagate_arg, argc, argv);
}

void
command_rewrite(struct client *c, int argc, const char *const *words,
    const size_t *lens)
{
	size_t off;
	int i;

	/* Nothing listens: no need for a replayable form. */
	if (c->srv->propagate == NULL)
		return;
	c->prop_buf.len = 0;
	for (i = 0; i < argc; i++)
		resp_buf_append(&c->prop_buf, words[i], lens[i]);
	mem_free(c->prop_argv);
	c->prop_argv = mem_alloc((size_t)argc * sizeof(*c->prop_argv));
	for (i = 0, off = 0; i < argc; off += lens[i], i++) {
		c->prop_argv[i].ptr = c->prop_buf.data + off;
		c->prop_argv[i].len = lens[i];
		c->prop_argv[i].off = off;
	}
	c->prop_argc = argc;
}

/* ---- Dispatch ---- */

/* Reply Redis's error for a command name nobody knows. */
static void
reply_unknown_command(struct client *c)
{
	char args[256];
	size_t alen = 0;
	int i, n;

	/* Like Redis: quote arguments while fewer than 128 characters are
	 * listed, each cut so the list stays within 128. */
	args[0] = '\0';
	for (i = 1; i < c->argc && alen < 128; i++) {
		n = arg_cstrlen(&c->argv[i]);
		if (n > (int)(128 - alen))
			n = (int)(128 - alen);
		alen += (size_t)snprintf(args + alen, sizeof(args) - alen,
		    "'%.*s' ", n, c->argv[i].ptr);
	}
	n = arg_cstrlen(&c->argv[0]);
	resp_add_errorf(&c->reply,
	    "unknown command '%.*s', with args beginning with: %s",
	    n > 128 ? 128 : n, c->argv[0].ptr, args);
}

/* Reply Redis's error for an unknown subcommand of a container. */
static void
reply_unknown_subcommand(struct client *c)
{
	char upper[64];
	int i, n = arg_cstrlen(&c->argv[0]);
	int sn = arg_cstrlen(&c->argv[1]);

	if (n > (int)sizeof(upper) - 1)
		n = (int)sizeof(upper) - 1;
	for (i = 0; i < n; i++)
		upper[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
	upper[n] = '\0';
	resp_add_errorf(&c->reply, "unknown subcommand '%.*s'. Try %s HELP.",
	    sn > 128 ? 128 : sn, c->argv[1].ptr, upper);
}

/*
 * "POST" and "Host:" are what a web page sends when it makes a browser
 * talk to a server on localhost (cross-protocol scripting). Redis drops
 * the connection at once, without a reply, and logs a warning at most
 * once a minute; so do we.
 */
static int
command_is_http(struct client *c)
{
	static long long logged_ms;
	const struct resp_arg *a = &c->argv[0];
	long long now;

	if ((a->len != 4 && a->len != 5) || (a->ptr[0] | 0x20) != 'p' ?
	    a->len != 5 || (a->ptr[0] | 0x20) != 'h' || !arg_is(a, "host:") :
	    !arg_is(a, "post"))
		return 0;
	now = clock_mono_ms();
	if (logged_ms == 0 || now - logged_ms > 60000) {
		log_write(&c->srv->log, LL_WARNING, "Possible SECURITY ATTACK "
		    "detected. It looks like somebody is sending POST or Host: "
		    "commands to Redis. This is likely due to an attacker "
		    "attempting to use Cross Protocol Scripting to compromise "
		    "your Redis instance. Connection aborted.");
		logged_ms = now;
	}
	c->flags |= CLIENT_CLOSE_ASAP;
	return 1;
}

/* Refuse cmd before it runs: count it as rejected and the error; in
 * MULTI, the transaction will not run (EXECABORT). */
static void
command_reject(struct client *c, const struct command *cmd, size_t off)
{
	if (cmd != NULL)
		c->srv->cmdstats[cmd->id].rejected++;
	command_note_error(c, off);
	multi_flag_error(c);
}

/*
 * Refuse cmd with an error (printf-style); EXEC refused for any reason
 * discards the transaction with Redis's "EXECABORT Transaction discarded
 * because of: ..." instead.
 */
static void __attribute__((format(printf, 4, 5)))
command_refuse(struct client *c, const struct command *cmd, size_t off,
    const char *fmt, ...)
{
	char msg[512];
	const char *text = msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cmd != NULL && cmd->proc == cmd_exec) {
		/* The reason, its error code kept (Redis's execCommandAbort
		 * drops only the '-'). */
		if (msg[0] == '-')
			text = msg + 1;
		resp_add_errorf(&c->reply, "-EXECABORT Transaction discarded "
		    "because of: %s", text);
		c->srv->cmdstats[cmd->id].rejected++;
		command_note_error(c, off);
		multi_discard(c);
		return;
	}
	resp_add_errorf(&c->reply, "%s", msg);
	command_reject(c, cmd, off);
}

void
command_call(struct client *c, const struct command *cmd, long long start)
{
	struct server *srv = c->srv;
	struct command_stats *st = &srv->cmdstats[cmd->id];
	unsigned long long dirty = srv->db.dirty;
	size_t off = c->reply.len;
	long long took;

	cmd->proc(c);
	/* A waiting request run again is the same call, as Redis counts. */
	if (!(c->flags & CLIENT_RERUN)) {
		srv->stat_commands++;
		st->calls++;
	}
	srv->clock_us = clock_wall_us();
	took = srv->clock_us - start;
	st->usec += (unsigned long long)(took > 0 ? took : 0);
	if (command_note_error(c, off))
		st->failed++;
	/*
	 * The single write point: what changed the keyspace leaves here,
	 * once, as sent or as the handler rewrote it. EXEC's writes leave
	 * one by one, between a MULTI and an EXEC of their own.
	 */
	if (srv->db.dirty != dirty && srv->propagate != NULL &&
	    cmd->proc != cmd_exec) {
		multi_propagate_begin(c);
		command_propagate(srv, c->prop_argc != 0 ? c->prop_argc :
		    c->argc, c->prop_argc != 0 ? c->prop_argv : c->argv);
	}
	c->prop_argc = 0;
}

void
command_dispatch(struct client *c)
{
	struct server *srv = c->srv;
	const struct command *cmd, *sub;
	size_t off = c->reply.len;
	long long start;
	int flags;
	char name[64];

	if (command_is_http(c))
		return;
	/* A pipeline mostly repeats one command: try the last one first. */
	cmd = c->lastcmd;
	if (cmd == NULL || cmd->parent != NULL ||
	    !lookup_is(cmd, c->argv[0].ptr, c->argv[0].len))
		cmd = command_lookup(c->argv[0].ptr, c->argv[0].len);
	if (cmd == NULL) {
		reply_unknown_command(c);
		command_reject(c, NULL, off);
		return;
	}
	/* A container with arguments runs its subcommand; alone, it is
	 * judged by its own arity, as Redis's lookupCommand does. */
	if (cmd->sub != NULL && c->argc >= 2) {
		sub = command_find(cmd->sub, c->argv[1].ptr, c->argv[1].len);
		if (sub == NULL) {
			reply_unknown_subcommand(c);
			command_reject(c, NULL, off);
			return;
		}
		cmd = sub;
	}
	if ((cmd->arity > 0 && cmd->arity != c->argc) ||
	    (c->argc < -cmd->arity)) {
		command_refuse(c, cmd, off, "wrong number of arguments for '%s' "
		    "command", command_fullname(cmd, name));
		return;
	}
	if (!c->authenticated && !(cmd->flags & CMD_NOAUTH)) {
		command_refuse(c, cmd, off, "-NOAUTH Authentication required.");
		return;
	}
	if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NOMULTI)) {
		command_refuse(c, cmd, off, "Command not allowed inside a "
		    "transaction");
		return;
	}
	/* One clock read per command: it starts when the one before ended
	 * (or when its batch was read: client.c sets srv->clock_us). */
	start = srv->clock_us != 0 ? srv->clock_us : clock_wall_us();
	srv->db.now = start / 1000;
	/* EXEC is what it runs: a write if a queued command writes. */
	flags = cmd->flags;
	if (cmd->proc == cmd_exec)
		flags |= multi_flags(c);
	/* Over maxmemory: evict first; a command that may add memory is
	 * refused if nothing can go, and so is anything queued in MULTI
	 * (a queue may grow without bound), as in Redis. */
	if (srv->evictor.maxmemory != 0 &&
	    server_evict(srv) == EVICT_FAIL &&
	    ((flags & CMD_DENYOOM) || ((c->flags & CLIENT_MULTI) &&
	    cmd->proc != cmd_exec && cmd->proc != cmd_discard &&
	    cmd->proc != cmd_quit))) {
		command_refuse(c, cmd, off, "-OOM command not allowed when used "
		    "memory > 'maxmemory'.");
		return;
	}
	/* The AOF cannot be written: writes (and PING, as in Redis) are
	 * refused until it can; reads go on. */
	if (srv->aof.on && ((flags & CMD_WRITE) ||
	    cmd->proc == cmd_ping) && aof_error(srv) != 0) {
		command_refuse(c, cmd, off, "-MISCONF Errors writing to the "
		    "AOF file: %s", strerror(aof_error(srv)));
		return;
	}
	/* While the data loads, clients may run only what Redis lets them
	 * run then (INFO, CONFIG, SHUTDOWN ...). */
	if (srv->aof.loading && !(c->flags & CLIENT_INTERNAL) &&
	    !(flags & CMD_LOADING)) {
		command_refuse(c, cmd, off, "-LOADING Redis is loading the "
		    "dataset in memory");
		return;
	}
	c->lastcmd = cmd;
	/* In MULTI, all but EXEC, DISCARD, MULTI, WATCH and QUIT wait in
	 * the queue for EXEC. */
	if ((c->flags & CLIENT_MULTI) && !multi_runs_now(cmd)) {
		multi_queue(c, cmd);
		resp_add_simple(&c->reply, "QUEUED");
		return;
	}
	command_call(c, cmd, start);
	/* Waiters on the keys it gave a list are served now, before this
	 * client's next request, as in Redis (not from a request run again
	 * for a waiter: the serving loop goes on by itself). */
	if (!(c->flags & CLIENT_RERUN))
		blocked_serve_now(srv);
}

/* ---- Helpers ---- */

int
arg_is(const struct resp_arg *a, const char *word)
{
	size_t n = strlen(word);

	return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

int
arg_is_word(const struct resp_arg *a, const char *word)
{
	size_t n = strlen(word);

	return (size_t)arg_cstrlen(a) == n && strncasecmp(a->ptr, word, n) == 0;
}

int
arg_cstrlen(const struct resp_arg *a)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	size_t n = nul != NULL ? (size_t)(nul - a->ptr) : a->len;

	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

int
arg_ll(struct client *c, const struct resp_arg *a, long long *out)
{
	if (resp_str_to_ll(a->ptr, a->len, out))
		return 0;
	resp_add_error(&c->reply, "value is not an integer or out of range",
	    39);
	return -1;
}

/*
 * Redis's string2ld: the whole of s is a long double as strtold reads
 * it, shorter than 5120 bytes (MAX_LONG_DOUBLE_CHARS), with no leading
 * space; NaN and an overflow are refused, infinities are not (the
 * command decides what to do with them). 1 on success.
 */
int
str_to_ld(const char *s, size_t len, long double *out)
{
	char buf[5120], *end;
	long double v;

	if (len == 0 || len >= sizeof(buf) || isspace((unsigned char)s[0]))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtold(buf, &end);
	if ((size_t)(end - buf) != len || isnan(v) ||
	    (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL ||
	    v == 0)))
		return 0;
	*out = v;
	return 1;
}

int
arg_ld(struct client *c, const struct resp_arg *a, long double *out)
{
	if (str_to_ld(a->ptr, a->len, out))
		return 0;
	resp_add_error(&c->reply, "value is not a valid float", 26);
	return -1;
}

void
reply_syntax_error(struct client *c)
{
	resp_add_error(&c->reply, "syntax error", 12);
}

void
reply_wrongtype(struct client *c)
{
	resp_add_errorf(&c->reply, "-WRONGTYPE Operation against a key "
	    "holding the wrong kind of value");
}

void
reply_help(struct client *c, const char *container, const char *const *lines)
{
	long long n = 0;
	char title[128];

	while (lines[n] != NULL)
		n++;
	resp_add_array_len(&c->reply, n + 3);
	snprintf(title, sizeof(title),
	    "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	    container);
	resp_add_simple(&c->reply, title);
	for (n = 0; lines[n] != NULL; n++)
		resp_add_simple(&c->reply, lines[n]);
	resp_add_simple(&c->reply, "HELP");
	resp_add_simple(&c->reply, "    Prints this help.");
}

void
buf_catf(struct resp_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	resp_buf_reserve(b, 256);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		resp_buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

int
lookup_typed(struct client *c, const struct resp_arg *key, int type,
    int flags, dbkey **k)
{
	*k = db_find(&c->srv->db, key->ptr, key->len, flags);
	if (*k != NULL && db_key_type(*k) != type) {
		reply_wrongtype(c);
		return -1;
	}
	return 0;
}

/* ---- AUTH (shared by cmd_conn.c's AUTH and HELLO) ---- */

/*
 * Compare a password with the configured one without stopping at the
 * first difference, so the time taken does not tell how much of it was
 * right (only the longer of the two lengths shows).
 */
static int
password_equal(const struct resp_arg *pass, const char *want)
{
	size_t wlen = strlen(want);
	size_t n = pass->len > wlen ? pass->len : wlen, i;
	unsigned char diff = pass->len != wlen;

	for (i = 0; i < n; i++) {
		unsigned char a = i < pass->len ? (unsigned char)pass->ptr[i] : 0;
		unsigned char b = i < wlen ? (unsigned char)want[i] : 0;

		diff |= (unsigned char)(a ^ b);
	}
	return diff == 0;
}

int
command_authenticate(struct client *c, const struct resp_arg *user,
    const struct resp_arg *pass)
{
	const char *want = c->srv->cfg.requirepass;
	int user_ok = user == NULL || (user->len == 7 &&
	    memcmp(user->ptr, "default", 7) == 0);

	/* Without requirepass the default user takes any password. */
	if (user_ok && (want == NULL || password_equal(pass, want))) {
		c->authenticated = 1;
		c->parser.unauthenticated = 0;
		return 0;
	}
	resp_add_errorf(&c->reply, "-WRONGPASS invalid username-password pair "
	    "or user is disabled.");
	return -1;
}
