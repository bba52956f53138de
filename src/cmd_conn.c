/* SPDX-License-Identifier: MIT */
/*
 * Connection commands: AUTH, HELLO, PING, ECHO, QUIT, SELECT and CLIENT
 * (SETNAME, GETNAME, ID, SETINFO, INFO, LIST, HELP), as Redis 7.0 has
 * them.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "blocked.h"
#include "client.h"
#include "clock.h"
#include "commands.h"
#include "event.h"
#include "mem.h"
#include "multi.h"
#include "resp.h"
#include "state.h"

/* CLIENT SETINFO comes from Redis 7.2 (7.0 lacks it): client libraries
 * send it on connect and it costs nothing to accept. Rows as in
 * the family tables (commands.c), with Redis 7.0's arities. */
struct command command_client_sub[] = {
	{ "setname", 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_setname, 0, 0, 0, "@slow @connection", NULL, "client", 0 },
	{ "getname", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_getname, 0, 0, 0, "@slow @connection", NULL, "client", 0 },
	{ "id", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, cmd_client_id,
	  0, 0, 0, "@slow @connection", NULL, "client", 0 },
	{ "setinfo", 4, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_setinfo, 0, 0, 0, "@slow @connection", NULL, "client", 0 },
	{ "info", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, cmd_client_info,
	  0, 0, 0, "@slow @connection", NULL, "client", 0 },
	{ "list", -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_list, 0, 0, 0, "@admin @slow @dangerous @connection",
	  NULL, "client", 0 },
	{ "unblock", -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_unblock, 0, 0, 0, "@admin @slow @dangerous @connection",
	  NULL, "client", 0 },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_client_help, 0, 0, 0,
	  "@slow @connection", NULL, "client", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* The connection family's rows (see commands.c for the fields). */
struct command conn_commands[] = {
	{ "ping", -1, CMD_FAST | CMD_SENTINEL, cmd_ping, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ "echo", 2, CMD_LOADING | CMD_STALE | CMD_FAST, cmd_echo, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ "quit", -1, CMD_ALLOWBUSY | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE |
	  CMD_FAST | CMD_NOAUTH, cmd_quit, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ "select", 2, CMD_LOADING | CMD_STALE | CMD_FAST, cmd_select, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ "client", -2, CMD_SENTINEL, NULL, 0, 0, 0, "@slow",
	  command_client_sub, NULL, 0 },
	{ "auth", -2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_NOAUTH | CMD_ALLOWBUSY, cmd_auth, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ "hello", -1, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST |
	  CMD_NOAUTH | CMD_SENTINEL | CMD_ALLOWBUSY, cmd_hello, 0, 0, 0,
	  "@fast @connection", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* ---- AUTH, PING, ECHO, QUIT, SELECT ---- */

/* AUTH [username] password */
void
cmd_auth(struct client *c)
{
	if (c->argc > 3) {
		reply_syntax_error(c);
		return;
	}
	if (c->argc == 2 && c->srv->cfg.requirepass == NULL) {
		resp_add_errorf(&c->reply, "AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return;
	}
	if (command_authenticate(c, c->argc == 3 ? &c->argv[1] : NULL,
	    &c->argv[c->argc - 1]) == 0)
		resp_add_ok(&c->reply);
}

/* PING [message] */
void
cmd_ping(struct client *c)
{
	if (c->argc > 2) {
		resp_add_errorf(&c->reply,
		    "wrong number of arguments for '%s' command", "ping");
		return;
	}
	if (c->argc == 1)
		resp_add_simple(&c->reply, "PONG");
	else
		resp_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
}

/* ECHO message */
void
cmd_echo(struct client *c)
{
	resp_add_bulk(&c->reply, c->argv[1].ptr, c->argv[1].len);
}

/* QUIT: reply, then close once the reply is written. */
void
cmd_quit(struct client *c)
{
	resp_add_ok(&c->reply);
	c->flags |= CLIENT_CLOSE_AFTER_REPLY;
}

/* SELECT index: only database 0 exists. */
void
cmd_select(struct client *c)
{
	long long idx;

	if (!resp_str_to_ll(c->argv[1].ptr, c->argv[1].len, &idx) ||
	    idx < -2147483648LL || idx > 2147483647LL) {
		resp_add_error(&c->reply,
		    "value is not an integer or out of range", 39);
		return;
	}
	if (idx != 0) {
		resp_add_error(&c->reply, "DB index is out of range", 24);
		return;
	}
	resp_add_ok(&c->reply);
}

/* ---- CLIENT ---- */

/*
 * Check a client name or library attribute as Redis does: printable
 * ASCII without spaces ('!' to '~'). Returns 1 if valid.
 */
static int
client_attr_valid(const struct resp_arg *v)
{
	size_t i;

	for (i = 0; i < v->len; i++)
		if (v->ptr[i] < '!' || v->ptr[i] > '~')
			return 0;
	return 1;
}

/* Replace *dst with a copy of v, or clear it if v is empty. */
static void
client_attr_set(char **dst, const struct resp_arg *v)
{
	mem_free(*dst);
	*dst = NULL;
	if (v->len > 0) {
		*dst = mem_alloc(v->len + 1);
		memcpy(*dst, v->ptr, v->len);
		(*dst)[v->len] = '\0';
	}
}

/* Set the connection name (empty clears it); on a bad name reply the
 * error and return -1. */
static int
client_set_name(struct client *c, const struct resp_arg *v)
{
	if (!client_attr_valid(v)) {
		resp_add_errorf(&c->reply, "Client names cannot contain "
		    "spaces, newlines or special characters.");
		return -1;
	}
	if (v->len > CLIENT_NAME_MAX) {
		resp_add_errorf(&c->reply, "Client names cannot be longer "
		    "than %d bytes.", CLIENT_NAME_MAX);
		return -1;
	}
	client_attr_set(&c->name, v);
	return 0;
}

/* Append one CLIENT LIST line describing cl (without the newline), in
 * Redis 7.2's format (7.0's plus lib-name and lib-ver). */
static void
client_info_line(struct resp_buf *b, const struct client *cl)
{
	char flags[8], events[3], cmd[64];
	long long now = clock_mono_ms();
	size_t argv_mem = 0, tot_mem;
	int i = 0, mask = event_fd_mask(cl->srv->el, cl->fd);

	/* In Redis's order: blocked, close after reply, close ASAP,
	 * Unix socket. */
	if (cl->flags & CLIENT_MULTI)
		flags[i++] = 'x';
	if (cl->flags & CLIENT_BLOCKED)
		flags[i++] = 'b';
	if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
		flags[i++] = 'c';
	if (cl->flags & CLIENT_CLOSE_ASAP)
		flags[i++] = 'A';
	if (cl->flags & CLIENT_UNIX_SOCKET)
		flags[i++] = 'U';
	if (i == 0)
		flags[i++] = 'N';
	flags[i] = '\0';
	i = 0;
	if (mask & EV_READABLE)
		events[i++] = 'r';
	if (mask & EV_WRITABLE)
		events[i++] = 'w';
	events[i] = '\0';
	for (i = 0; i < cl->argc; i++)
		argv_mem += cl->argv[i].len;
	tot_mem = sizeof(*cl) + cl->qcap + cl->reply.cap + multi_memory(cl) +
	    (size_t)cl->parser.argv_cap * sizeof(struct resp_arg);
	if (cl->lastcmd != NULL)
		command_fullname(cl->lastcmd, cmd);
	else
		snprintf(cmd, sizeof(cmd), "NULL");
	buf_catf(b, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld "
	    "idle=%lld flags=%s db=0 sub=0 psub=0 ssub=0 multi=%d qbuf=%zu "
	    "qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu rbp=%zu obl=%zu "
	    "oll=0 omem=0 tot-mem=%zu events=%s cmd=%s user=default redir=-1 "
	    "resp=%d lib-name=%s lib-ver=%s",
	    cl->id, cl->addr, cl->laddr, cl->fd,
	    cl->name != NULL ? cl->name : "",
	    (now - cl->ctime_ms) / 1000, (now - cl->last_ms) / 1000, flags,
	    multi_queued(cl), cl->qlen, cl->qcap - cl->qlen, argv_mem,
	    multi_memory(cl), cl->reply.cap,
	    cl->reply.cap, cl->reply.len - cl->reply_sent, tot_mem, events, cmd,
	    cl->resp, cl->lib_name != NULL ? cl->lib_name : "",
	    cl->lib_ver != NULL ? cl->lib_ver : "");
}

/* CLIENT SETNAME name: printable ASCII without spaces; empty clears. */
void
cmd_client_setname(struct client *c)
{
	if (client_set_name(c, &c->argv[2]) == 0)
		resp_add_ok(&c->reply);
}

/* CLIENT GETNAME: the name, or nil. */
void
cmd_client_getname(struct client *c)
{
	if (c->name == NULL)
		resp_add_null(&c->reply);
	else
		resp_add_bulk_str(&c->reply, c->name);
}

/* CLIENT ID */
void
cmd_client_id(struct client *c)
{
	resp_add_int(&c->reply, (long long)c->id);
}

/*
 * CLIENT SETINFO LIB-NAME name | LIB-VER version, as in Redis 7.2 (7.0
 * has no SETINFO): client libraries send it after connecting, and it
 * shows in CLIENT LIST.
 */
void
cmd_client_setinfo(struct client *c)
{
	const struct resp_arg *attr = &c->argv[2], *val = &c->argv[3];
	char **dst;

	if (arg_is(attr, "lib-name"))
		dst = &c->lib_name;
	else if (arg_is(attr, "lib-ver"))
		dst = &c->lib_ver;
	else {
		resp_add_errorf(&c->reply, "Unrecognized option '%.*s'",
		    arg_cstrlen(attr), attr->ptr);
		return;
	}
	if (!client_attr_valid(val)) {
		resp_add_errorf(&c->reply, "%.*s cannot contain spaces, "
		    "newlines or special characters.", arg_cstrlen(attr),
		    attr->ptr);
		return;
	}
	if (val->len > CLIENT_NAME_MAX) {
		resp_add_errorf(&c->reply, "%.*s cannot be longer than %d "
		    "bytes.", arg_cstrlen(attr), attr->ptr, CLIENT_NAME_MAX);
		return;
	}
	client_attr_set(dst, val);
	resp_add_ok(&c->reply);
}

/* CLIENT INFO: this connection's CLIENT LIST line. */
void
cmd_client_info(struct client *c)
{
	struct resp_buf line;

	resp_buf_init(&line);
	client_info_line(&line, c);
	resp_buf_append(&line, "\n", 1);
	resp_add_bulk(&c->reply, line.data, line.len);
	resp_buf_free(&line);
}

/* The client with the given id, or NULL. */
static const struct client *
client_by_id(struct server *srv, long long id)
{
	const struct client *cl;

	for (cl = srv->clients; cl != NULL; cl = cl->next)
		if ((long long)cl->id == id)
			return cl;
	return NULL;
}

/*
 * CLIENT LIST [TYPE type | ID id [id ...]]: one line per connection,
 * oldest first as in Redis. Every client here is of type "normal"; the
 * other types Redis knows select nobody.
 */
void
cmd_client_list(struct client *c)
{
	static const char *const types[] = {
		"normal", "master", "slave", "replica", "pubsub", NULL,
	};
	const struct client *cl, *last = NULL;
	struct resp_buf out;
	long long id;
	int i;

	resp_buf_init(&out);
	if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
		for (i = 0; types[i] != NULL; i++)
			if (arg_is(&c->argv[3], types[i]))
				break;
		if (types[i] == NULL) {
			resp_add_errorf(&c->reply, "Unknown client type '%.*s'",
			    arg_cstrlen(&c->argv[3]), c->argv[3].ptr);
			goto done;
		}
		if (i != 0)
			goto reply;
	} else if (c->argc > 3 && arg_is(&c->argv[2], "id")) {
		for (i = 3; i < c->argc; i++) {
			if (!resp_str_to_ll(c->argv[i].ptr, c->argv[i].len,
			    &id)) {
				resp_add_error(&c->reply, "Invalid client ID",
				    17);
				goto done;
			}
			cl = client_by_id(c->srv, id);
			if (cl != NULL) {
				client_info_line(&out, cl);
				resp_buf_append(&out, "\n", 1);
			}
		}
		goto reply;
	} else if (c->argc != 2) {
		reply_syntax_error(c);
		goto done;
	}
	/* The list is newest first: walk it backwards. */
	for (cl = c->srv->clients; cl != NULL; cl = cl->next)
		last = cl;
	for (cl = last; cl != NULL; cl = cl->prev) {
		client_info_line(&out, cl);
		resp_buf_append(&out, "\n", 1);
	}
reply:
	resp_add_bulk(&c->reply, out.data != NULL ? out.data : "", out.len);
done:
	resp_buf_free(&out);
}

/*
 * CLIENT UNBLOCK id [TIMEOUT | ERROR]: end a client's wait on keys, as
 * if it timed out, or with Redis's UNBLOCKED error. 1 if it was waiting.
 */
void
cmd_client_unblock(struct client *c)
{
	struct client *target;
	long long id;
	int error = 0;

	if (c->argc > 4) {
		resp_add_errorf(&c->reply, "unknown subcommand or wrong number "
		    "of arguments for '%.*s'. Try CLIENT HELP.",
		    arg_cstrlen(&c->argv[1]) > 128 ? 128 :
		    arg_cstrlen(&c->argv[1]), c->argv[1].ptr);
		return;
	}
	if (c->argc == 4) {
		if (arg_is_word(&c->argv[3], "error"))
			error = 1;
		else if (!arg_is_word(&c->argv[3], "timeout")) {
			resp_add_errorf(&c->reply, "CLIENT UNBLOCK reason should "
			    "be TIMEOUT or ERROR");
			return;
		}
	}
	if (arg_ll(c, &c->argv[2], &id) == -1)
		return;
	for (target = c->srv->clients; target != NULL; target = target->next)
		if ((long long)target->id == id)
			break;
	resp_add_int(&c->reply, target != NULL &&
	    blocked_unblock(target, error) ? 1 : 0);
}

/* CLIENT HELP: Redis's text for the subcommands we have (SETINFO's from
 * Redis 7.2). */
void
cmd_client_help(struct client *c)
{
	static const char *const lines[] = {
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"UNBLOCK <clientid> [TIMEOUT|ERROR]",
		"    Unblock the specified blocked client.",
		NULL,
	};

	reply_help(c, "CLIENT", lines);
}

/* ---- HELLO ---- */

/*
 * HELLO [protover [AUTH username password] [SETNAME name]]
 * Only RESP2 is spoken: protocol 3 (and anything but 2) gets Redis's
 * NOPROTO error. AUTH checks the "default" user's password (requirepass;
 * any password when none is set); without it, a client that has not
 * authenticated gets Redis's NOAUTH error.
 */
void
cmd_hello(struct client *c)
{
	const struct resp_arg *user = NULL, *pass = NULL, *name = NULL;
	long long ver;
	int j, more;

	if (c->argc >= 2) {
		if (!resp_str_to_ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
			resp_add_errorf(&c->reply, "Protocol version is not an "
			    "integer or out of range");
			return;
		}
		if (ver != 2) {
			resp_add_errorf(&c->reply,
			    "-NOPROTO unsupported protocol version");
			return;
		}
	}
	for (j = 2; j < c->argc; j++) {
		more = c->argc - 1 - j;
		if (arg_is(&c->argv[j], "auth") && more >= 2) {
			user = &c->argv[j + 1];
			pass = &c->argv[j + 2];
			j += 2;
		} else if (arg_is(&c->argv[j], "setname") && more >= 1) {
			name = &c->argv[j + 1];
			j++;
		} else {
			resp_add_errorf(&c->reply,
			    "Syntax error in HELLO option '%.*s'",
			    arg_cstrlen(&c->argv[j]), c->argv[j].ptr);
			return;
		}
	}
	if (user != NULL && command_authenticate(c, user, pass) == -1)
		return;
	if (!c->authenticated) {
		resp_add_errorf(&c->reply, "-NOAUTH HELLO must be called with the "
		    "client already authenticated, otherwise the HELLO AUTH "
		    "<user> <pass> option can be used to authenticate the "
		    "client and select the RESP protocol version at the same "
		    "time");
		return;
	}
	if (name != NULL && client_set_name(c, name) == -1)
		return;
	c->resp = 2;
	resp_add_array_len(&c->reply, 14);
	resp_add_bulk_str(&c->reply, "server");
	resp_add_bulk_str(&c->reply, "redis");
	resp_add_bulk_str(&c->reply, "version");
	resp_add_bulk_str(&c->reply, REDIS_COMPAT_VERSION);
	resp_add_bulk_str(&c->reply, "proto");
	resp_add_int(&c->reply, 2);
	resp_add_bulk_str(&c->reply, "id");
	resp_add_int(&c->reply, (long long)c->id);
	resp_add_bulk_str(&c->reply, "mode");
	resp_add_bulk_str(&c->reply, "standalone");
	resp_add_bulk_str(&c->reply, "role");
	resp_add_bulk_str(&c->reply, "master");
	resp_add_bulk_str(&c->reply, "modules");
	resp_add_array_len(&c->reply, 0);
}

