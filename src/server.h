/* SPDX-License-Identifier: MIT */
/*
 * The embeddable server: fill a config, create (binds the sockets, so a
 * taken port fails here), run until stopped, free. The command-line
 * program and the Python extension are both thin layers over this.
 */
#ifndef TMC_SERVER_H
#define TMC_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#define SERVER_PORT_DEFAULT 5002
#define SERVER_BIND_DEFAULT "127.0.0.1"
#define SERVER_MAXCLIENTS_DEFAULT 10000        /* Redis's maxclients */
#define SERVER_UNIXPERM_DEFAULT 0700
#define SERVER_OBUF_LIMIT_DEFAULT (1024LL * 1024 * 1024) /* 1 GB: twice the
                                        * largest bulk, so any one reply
                                        * fits */
#define SERVER_BUSY_POLL_DEFAULT 50            /* microseconds */
#define SERVER_BUSY_POLL_MAX 100000            /* 0.1 s */
#define SERVER_ERR_LEN 512

enum server_loglevel {
	SERVER_LOG_DEBUG,
	SERVER_LOG_VERBOSE,
	SERVER_LOG_NOTICE,
	SERVER_LOG_WARNING,
	SERVER_LOG_NOTHING,
};

struct server_config {
	const char *bind;            /* TCP address; default 127.0.0.1 */
	int port;                    /* 5002; 0 picks a free one; -1: no TCP */
	const char *unixsocket;      /* path, or NULL for none */
	mode_t unixsocketperm;       /* default 0700 */
	int maxclients;              /* default 10000 */
	long long proto_max_bulk_len; /* default 512 MB */
	/* A client whose unsent replies exceed this many bytes is
	 * disconnected (it is not reading them); 0: no limit. */
	long long client_obuf_limit;
	const char *requirepass;     /* clients must AUTH first; NULL: not */
	int tcp_backlog;             /* default 511, as Redis */
	enum server_loglevel loglevel; /* default notice */
	const char *logfile;         /* NULL or "": standard error */
	const char *event_backend;   /* "epoll", "select", NULL: best */
	/* After a round of requests, poll this many microseconds without
	 * sleeping before blocking (default 50; 0: off): a client that
	 * answers within that time finds the server awake. */
	long busy_poll_us;
	/* Called on the server thread about every tick_ms milliseconds
	 * (default 100); the Python extension checks for signals here. */
	void (*tick)(void *arg);
	void *tick_arg;
	int tick_ms;
};

struct server;

/* Fill cfg with the defaults above. */
void server_config_init(struct server_config *cfg);

/* Check cfg, open the listening sockets and set everything up. NULL on
 * failure with the reason in err (SERVER_ERR_LEN), e.g. the port is
 * taken or an option is out of range. */
struct server *server_create(const struct server_config *cfg, char *err);

/* Serve until server_stop() or SHUTDOWN. Logs a "ready" line first.
 * Returns 0, or -1 if the event loop failed. */
int server_run(struct server *srv);

/* Ask a running server to stop. Async-signal-safe and thread-safe: it
 * only writes a byte to the server's wake-up pipe. */
void server_stop(struct server *srv);

/* Close every connection and socket, remove the Unix socket file, free. */
void server_free(struct server *srv);

/* The TCP port actually bound (useful with port 0), or -1 if none. */
int server_port(const struct server *srv);
/* The event backend in use ("epoll" or "select"). */
const char *server_backend(const struct server *srv);

/* "0.1.0" */
const char *server_version(void);

#endif
