/* SPDX-License-Identifier: MIT */
/*
 * One connection: bytes read into the query buffer, parsed into requests,
 * dispatched in order; replies gathered in one buffer and written with
 * backpressure (a slow reader never blocks anyone else).
 */
#ifndef TMC_CLIENT_H
#define TMC_CLIENT_H

#include <stddef.h>

#include "net.h"
#include "resp.h"
#include "state.h"

#define CLIENT_CLOSE_AFTER_REPLY (1 << 0) /* QUIT, protocol error */
#define CLIENT_CLOSE_ASAP        (1 << 1) /* I/O error: drop now */
#define CLIENT_UNIX_SOCKET       (1 << 2) /* came in on the Unix socket */
#define CLIENT_BLOCKED           (1 << 3) /* waits on keys (blocked.h) */
#define CLIENT_RERUN             (1 << 4) /* its waiting request runs
                                           * again for a ready key */
#define CLIENT_RESUMED           (1 << 5) /* no longer waits: to resume */
#define CLIENT_IN_EXEC           (1 << 6) /* running EXEC's commands */
#define CLIENT_MULTI             (1 << 7) /* in MULTI: requests queued */
#define CLIENT_DIRTY_EXEC        (1 << 8) /* a request was refused while
                                           * queuing: EXEC aborts */
#define CLIENT_DIRTY_CAS         (1 << 9) /* a watched key changed */
#define CLIENT_INTERNAL          (1 << 10) /* no connection: replays the
                                           * append-only file */
#define CLIENT_PENDING_AOF       (1 << 11) /* its replies wait in
                                           * srv->pending for the AOF */

#define CLIENT_IOBUF_LEN (16 * 1024)      /* read size (Redis: 16 KB) */
#define CLIENT_NAME_MAX 1024              /* longest CLIENT SETNAME/INFO */

struct command;

struct client {
	struct server *srv;
	struct client *prev, *next;      /* in srv->clients */
	int fd;
	unsigned long long id;           /* CLIENT ID */
	int flags;                       /* CLIENT_* */
	char addr[NET_ADDR_LEN];         /* peer "ip:port" or socket path */
	char laddr[NET_ADDR_LEN];        /* local end */
	char *name;                      /* CLIENT SETNAME, or NULL */
	char *lib_name;                  /* CLIENT SETINFO LIB-NAME */
	char *lib_ver;                   /* CLIENT SETINFO LIB-VER */
	int resp;                        /* protocol version: 2 */
	int authenticated;               /* AUTH done, or no password set */
	long long ctime_ms;              /* connected at (monotonic) */
	long long last_ms;               /* last command at (monotonic) */
	const struct command *lastcmd;   /* for CLIENT LIST cmd= */

	/* The request being executed: points into qbuf. */
	int argc;
	struct resp_arg *argv;

	char *qbuf;                      /* unparsed and unhandled bytes */
	size_t qlen;                     /* bytes in qbuf */
	size_t qcap;                     /* bytes allocated */
	struct resp_parser parser;

	struct resp_buf reply;           /* encoded replies not yet sent */
	size_t reply_sent;               /* bytes of reply already written */
	long long obuf_soft_since;       /* over the soft output limit since
	                                  * (monotonic ms), 0: not over */

	struct blocked_state *bstate;    /* while it waits (blocked.c) */
	struct multi_state *mstate;      /* in MULTI: its queue */
	struct watched_key *watched;     /* WATCHed keys (cmd_multi.c) */
	int nwatched;
	int rerun_waited;                /* a rerun found nothing again */
	struct client *resumed_next;     /* in the server's resume list */

	/* What the running command propagates instead of its argv
	 * (command_rewrite); prop_argc 0: its argv. */
	int prop_argc;
	struct resp_arg *prop_argv;      /* point into prop_buf */
	struct resp_buf prop_buf;

	/* Group commit (appendonly yes): the replies leave once the AOF
	 * holds aof_need bytes (aof_durable), from srv->pending. */
	unsigned long long aof_need;
	struct client *pending_prev, *pending_next;
};

/* Wrap an accepted fd; registers it with the event loop. NULL (and the
 * fd closed) if it cannot be watched. */
struct client *client_create(struct server *srv, int fd, int flags,
    const char *addr);

/* A client with no connection, authenticated, that the append-only
 * file's commands are replayed through (free it with client_free). */
struct client *client_create_internal(struct server *srv);

/* Close the connection and free everything it holds. */
void client_free(struct client *c);

/* Go on after a wait ended: run the requests that arrived meanwhile
 * and write the replies. Returns 0, or -1 if the client was freed. */
int client_resume(struct client *c);

/* Periodic checks of the clients (now: monotonic ms): idle timeout,
 * output-buffer soft limits; a slice of them per call, so that each is
 * checked about once a second at hz calls a second. */
void client_cron(struct server *srv, long long now);

/* After the AOF was written: send the replies that waited for it. */
void client_write_pending(struct server *srv);

/* Bytes waiting in the client's output. */
size_t client_pending_output(const struct client *c);

#endif
