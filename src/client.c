/* SPDX-License-Identifier: MIT */
/*
 * One connection: read into the query buffer, parse and dispatch every
 * complete request in order (pipelining is just the loop), gather replies
 * in one buffer and write them with one send per batch; what the socket
 * does not take waits for the next writable event, so a client that does
 * not read never blocks anyone else.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blocked.h"
#include "client.h"
#include "clock.h"
#include "commands.h"
#include "log.h"
#include "mem.h"
#include "multi.h"

#define CLIENT_QBUF_MAX (1024LL * 1024 * 1024) /* client-query-buffer-limit */
#define CLIENT_QBUF_KEEP (64 * 1024)   /* keep at most this much idle */
#define CLIENT_REPLY_KEEP (64 * 1024)  /* idem for the reply buffer */

static void client_event(event_loop *el, int fd, void *data, int mask);

struct client *
client_create(struct server *srv, int fd, int flags, const char *addr)
{
	struct client *c = mem_calloc(1, sizeof(*c));
	char err[NET_ERR_LEN];

	c->srv = srv;
	c->fd = fd;
	c->flags = flags;
	c->resp = 2;
	c->authenticated = srv->cfg.requirepass == NULL;
	c->id = ++srv->next_client_id;
	/* Unix-socket peers read "path:0", as in Redis's CLIENT LIST. */
	if (flags & CLIENT_UNIX_SOCKET) {
		snprintf(c->addr, sizeof(c->addr), "%s:0",
		    srv->cfg.unixsocket != NULL ? srv->cfg.unixsocket : "");
		snprintf(c->laddr, sizeof(c->laddr), "%s", c->addr);
	} else {
		snprintf(c->addr, sizeof(c->addr), "%s",
		    addr != NULL ? addr : "");
		if (net_local_addr(err, fd, c->laddr) == -1)
			c->laddr[0] = '\0';
	}
	c->ctime_ms = c->last_ms = clock_mono_ms();
	resp_parser_init(&c->parser, srv->cfg.proto_max_bulk_len);
	c->parser.unauthenticated = !c->authenticated;
	resp_buf_init(&c->reply);

	if (event_add_fd(srv->el, fd, EV_READABLE, client_event, c) == -1) {
		resp_parser_free(&c->parser);
		resp_buf_free(&c->reply);
		mem_free(c);
		close(fd);
		return NULL;
	}
	c->next = srv->clients;
	if (srv->clients != NULL)
		srv->clients->prev = c;
	srv->clients = c;
	srv->nclients++;
	return c;
}

struct client *
client_create_internal(struct server *srv)
{
	struct client *c = mem_calloc(1, sizeof(*c));

	c->srv = srv;
	c->fd = -1;
	c->flags = CLIENT_INTERNAL;
	c->resp = 2;
	c->authenticated = 1;
	resp_buf_init(&c->reply);
	return c;
}

/* Take c off the list of clients waiting for the AOF. */
static void
client_unpend(struct client *c)
{
	if (!(c->flags & CLIENT_PENDING_AOF))
		return;
	if (c->pending_prev != NULL)
		c->pending_prev->pending_next = c->pending_next;
	else
		c->srv->pending = c->pending_next;
	if (c->pending_next != NULL)
		c->pending_next->pending_prev = c->pending_prev;
	c->pending_prev = c->pending_next = NULL;
	c->flags &= ~CLIENT_PENDING_AOF;
}

void
client_free(struct client *c)
{
	struct server *srv = c->srv;

	if (!(c->flags & CLIENT_INTERNAL)) {
		event_del_fd(srv->el, c->fd, EV_READABLE | EV_WRITABLE);
		close(c->fd);
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			srv->clients = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		if (srv->cron_next == c)
			srv->cron_next = c->next;
		if (c->obuf_soft_since != 0)
			srv->obuf_soft_clients--;
		srv->nclients--;
	}
	client_unpend(c);
	blocked_forget(c);
	multi_free_client(c);
	resp_parser_free(&c->parser);
	resp_buf_free(&c->reply);
	resp_buf_free(&c->prop_buf);
	mem_free(c->prop_argv);
	mem_free(c->qbuf);
	mem_free(c->name);
	mem_free(c->lib_name);
	mem_free(c->lib_ver);
	mem_free(c);
}

size_t
client_pending_output(const struct client *c)
{
	return c->reply.len - c->reply_sent;
}

/*
 * Write as much pending output as the socket takes. Returns 0 if the
 * client lives on, -1 if it was freed (write error, or everything was
 * written to a client that must close after its reply).
 */
static int
client_write(struct client *c)
{
	struct server *srv = c->srv;
	ssize_t n;

	while (c->reply_sent < c->reply.len) {
		n = send(c->fd, c->reply.data + c->reply_sent,
		    c->reply.len - c->reply_sent, MSG_NOSIGNAL);
		if (n > 0) {
			c->reply_sent += (size_t)n;
			srv->stat_net_output += (unsigned long long)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		log_write(&srv->log, LL_VERBOSE,
		    "Error writing to client %s: %s", c->addr,
		    n == -1 ? strerror(errno) : "nothing written");
		client_free(c);
		return -1;
	}

	if (c->reply_sent < c->reply.len) {
		/* The socket is full: wait until it drains. */
		if (!(event_fd_mask(srv->el, c->fd) & EV_WRITABLE) &&
		    event_add_fd(srv->el, c->fd, EV_WRITABLE, client_event,
		    c) == -1) {
			client_free(c);
			return -1;
		}
		return 0;
	}

	/* Everything went out: reuse the buffer, but give back a big one. */
	c->reply.len = 0;
	c->reply_sent = 0;
	if (c->reply.cap > CLIENT_REPLY_KEEP) {
		resp_buf_free(&c->reply);
		resp_buf_init(&c->reply);
	}
	if (event_fd_mask(srv->el, c->fd) & EV_WRITABLE)
		event_del_fd(srv->el, c->fd, EV_WRITABLE);
	if (c->flags & CLIENT_CLOSE_AFTER_REPLY) {
		client_free(c);
		return -1;
	}
	return 0;
}

/* Drop the bytes of requests already handled from the query buffer,
 * shrinking a big idle buffer. */
static void
client_compact(struct client *c)
{
	size_t done = c->parser.start;

	if (done > 0) {
		memmove(c->qbuf, c->qbuf + done, c->qlen - done);
		c->qlen -= done;
		resp_parser_shift(&c->parser, done);
	}
	if (c->qcap > CLIENT_QBUF_KEEP && c->qlen < c->qcap / 4) {
		size_t cap = c->qlen * 2 > CLIENT_IOBUF_LEN ?
		    c->qlen * 2 : CLIENT_IOBUF_LEN;

		c->qbuf = mem_realloc(c->qbuf, cap);
		c->qcap = cap;
	}
}

/*
 * Check the output-buffer limits of client-output-buffer-limit's normal
 * class: past the hard limit, or past the soft one for longer than its
 * seconds, the client is flagged to close at once (it sends but does not
 * read; its replies would eat the server's memory). Returns -1 if so.
 */
static int
client_check_obuf(struct client *c, long long now)
{
	const struct obuf_limit *lim = &c->srv->cfg.obuf[OBUF_NORMAL];
	size_t pending = client_pending_output(c);

	if (lim->soft <= 0 || pending <= (size_t)lim->soft) {
		if (c->obuf_soft_since != 0)
			c->srv->obuf_soft_clients--;
		c->obuf_soft_since = 0;
	} else if (c->obuf_soft_since == 0) {
		c->obuf_soft_since = now != 0 ? now : clock_mono_ms();
		c->srv->obuf_soft_clients++;
	}
	if ((lim->hard > 0 && pending > (size_t)lim->hard) ||
	    (c->obuf_soft_since != 0 &&
	    now - c->obuf_soft_since > lim->soft_seconds * 1000)) {
		log_write(&c->srv->log, LL_WARNING, "Client id=%llu addr=%s "
		    "closed for overcoming of output buffer limits (%zu bytes "
		    "pending, hard limit %lld, soft limit %lld for %lld s).",
		    c->id, c->addr, pending, lim->hard, lim->soft,
		    lim->soft_seconds);
		c->flags |= CLIENT_CLOSE_ASAP;
		return -1;
	}
	return 0;
}

#define CLIENT_CRON_MIN 5       /* clients client_cron visits at least */

/*
 * As Redis's clientsCron: visit nclients / hz clients from where the last
 * call stopped (at least CLIENT_CRON_MIN), so each is checked about once
 * a second and 10,000 idle clients cost a tick no more than 1,000 do.
 * With no idle timeout and no client over its soft output limit there is
 * nothing to check, and nothing is visited.
 */
void
client_cron(struct server *srv, long long now)
{
	struct client *c;
	int n;

	if (srv->cfg.timeout <= 0 && srv->obuf_soft_clients == 0)
		return;
	n = srv->nclients / (srv->hz > 0 ? srv->hz : 1);
	if (n < CLIENT_CRON_MIN)
		n = CLIENT_CRON_MIN;
	if (n > srv->nclients)
		n = srv->nclients;
	while (n-- > 0) {
		if (srv->cron_next == NULL)
			srv->cron_next = srv->clients;
		if ((c = srv->cron_next) == NULL)
			break;
		srv->cron_next = c->next;
		/* A waiting client has its own timeout (as in Redis); one
		 * whose wait just ended has replies to write first. */
		if (srv->cfg.timeout > 0 &&
		    !(c->flags & (CLIENT_BLOCKED | CLIENT_RESUMED)) &&
		    now - c->last_ms > srv->cfg.timeout * 1000) {
			log_write(&srv->log, LL_VERBOSE, "Closing idle client "
			    "%s", c->addr);
			client_free(c);
			continue;
		}
		if (c->obuf_soft_since != 0 && client_check_obuf(c, now) == -1)
			client_free(c);
	}
}

/*
 * Run every complete request in the query buffer, in order, appending
 * their replies. Stops early on a protocol error (its reply is queued and
 * the client will close after writing it), QUIT or SHUTDOWN.
 */
static void
client_process_input(struct client *c)
{
	struct server *srv = c->srv;
	int r;

	while (!(c->flags & (CLIENT_CLOSE_AFTER_REPLY | CLIENT_CLOSE_ASAP |
	    CLIENT_BLOCKED)) && !srv->shutdown_asap) {
		r = resp_parse(&c->parser, c->qbuf, c->qlen);
		if (r == RESP_INCOMPLETE)
			break;
		if (r == RESP_ERR) {
			resp_add_error(&c->reply, c->parser.err,
			    strlen(c->parser.err));
			c->flags |= CLIENT_CLOSE_AFTER_REPLY;
			srv->stat_protocol_errors++;
			log_write(&srv->log, LL_VERBOSE,
			    "%s from client %s: closing the connection",
			    c->parser.err, c->addr);
			return;
		}
		if (c->parser.argc == 0)
			continue;          /* empty request: ignored */
		c->argc = c->parser.argc;
		c->argv = c->parser.argv;
		command_dispatch(c);
		c->argc = 0;
		c->argv = NULL;
		/* Cheap unless a limit is near: the clock is read only when
		 * a soft limit is running. */
		if ((client_pending_output(c) > srv->obuf_check_from ||
		    c->obuf_soft_since != 0) &&
		    client_check_obuf(c, c->obuf_soft_since != 0 ?
		    clock_mono_ms() : 0) == -1)
			break;
	}
	client_compact(c);
}

/*
 * Read what the socket has. Returns 0 if the client lives on, -1 if it
 * was freed (EOF, error, or a query buffer past its limit).
 */
static int
client_read(struct client *c)
{
	struct server *srv = c->srv;
	size_t need = resp_parser_need(&c->parser);
	ssize_t n;

	/* Grow only when less than one read's worth is free, to twice what
	 * the buffer holds: so it never exceeds about twice the bytes that
	 * actually arrived, whatever length a request declares. A request
	 * of known size caps the growth, so its last read fits exactly. */
	if (c->qcap - c->qlen < CLIENT_IOBUF_LEN) {
		size_t cap = c->qlen * 2;

		if (cap < c->qlen + CLIENT_IOBUF_LEN)
			cap = c->qlen + CLIENT_IOBUF_LEN;
		if (need > CLIENT_IOBUF_LEN && cap > c->qlen + need)
			cap = c->qlen + need;
		c->qbuf = mem_realloc(c->qbuf, cap);
		c->qcap = cap;
	}
	do
		n = recv(c->fd, c->qbuf + c->qlen, c->qcap - c->qlen, 0);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		if (n == -1)
			log_write(&srv->log, LL_VERBOSE,
			    "Reading from client %s: %s", c->addr,
			    strerror(errno));
		client_free(c);
		return -1;
	}
	c->qlen += (size_t)n;
	srv->stat_net_input += (unsigned long long)n;
	if ((long long)c->qlen > CLIENT_QBUF_MAX) {
		log_write(&srv->log, LL_WARNING,
		    "Closing client %s that reached max query buffer length "
		    "(%zu bytes)", c->addr, c->qlen);
		client_free(c);
		return -1;
	}
	c->last_ms = clock_mono_ms();
	srv->clock_us = clock_wall_us();
	return 0;
}

/*
 * With appendonly yes, a reply leaves only once the records of the
 * writes its client made are in the AOF (group commit): the client
 * waits in srv->pending until the loop has written them, before it
 * sleeps. fed is srv->aof.fed before its requests ran. Returns 0, or
 * -1 if the client was freed (written at once).
 */
static int
client_write_after_aof(struct client *c, unsigned long long fed)
{
	struct server *srv = c->srv;

	if (!srv->aof.on)
		return client_write(c);
	if (srv->aof.fed != fed)
		c->aof_need = srv->aof.fed;
	if (!(c->flags & CLIENT_PENDING_AOF)) {
		c->flags |= CLIENT_PENDING_AOF;
		c->pending_prev = NULL;
		c->pending_next = srv->pending;
		if (srv->pending != NULL)
			srv->pending->pending_prev = c;
		srv->pending = c;
	}
	return 0;
}

void
client_write_pending(struct server *srv)
{
	unsigned long long durable = aof_durable(srv);
	struct client *c, *next;

	for (c = srv->pending; c != NULL; c = next) {
		next = c->pending_next;
		if (c->aof_need > durable)
			continue;
		client_unpend(c);
		client_write(c);
	}
}

int
client_resume(struct client *c)
{
	unsigned long long fed = c->srv->aof.fed;

	client_process_input(c);
	if (c->flags & CLIENT_CLOSE_ASAP) {
		client_free(c);
		return -1;
	}
	if (c->flags & CLIENT_CLOSE_AFTER_REPLY)
		event_del_fd(c->srv->el, c->fd, EV_READABLE);
	return client_write_after_aof(c, fed);
}

/* The event loop's callback for a client's socket. */
static void
client_event(event_loop *el, int fd, void *data, int mask)
{
	struct client *c = data;
	unsigned long long fed = c->srv->aof.fed;

	if (mask & EV_READABLE) {
		if (client_read(c) == -1)
			return;
		client_process_input(c);
		if (c->flags & CLIENT_CLOSE_ASAP) {
			client_free(c);
			return;
		}
		/* Input after QUIT or a protocol error is not read: only the
		 * reply remains to be written. */
		if (c->flags & CLIENT_CLOSE_AFTER_REPLY)
			event_del_fd(el, fd, EV_READABLE);
		client_write_after_aof(c, fed);
		return;
	}
	/* Replies waiting for the AOF do not leave on their own (and the
	 * socket is not watched meanwhile, or the loop would spin). */
	if ((mask & EV_WRITABLE) && (c->flags & CLIENT_PENDING_AOF))
		event_del_fd(el, fd, EV_WRITABLE);
	else if (mask & EV_WRITABLE)
		client_write(c);
}
