/* SPDX-License-Identifier: MIT */
/*
 * The embeddable server: fill a config (settings.h: server_config_init,
 * then server_config_set or the fields), create (binds the sockets, so a
 * taken port fails here), run until stopped, free. The command-line
 * program and the Python extension are both thin layers over this.
 */
#ifndef TMC_SERVER_H
#define TMC_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "log.h"
#include "settings.h"

#define SERVER_PORT_DEFAULT 5002
#define SERVER_BIND_DEFAULT "127.0.0.1"
#define SERVER_ERR_LEN 512

struct server;

/* Check cfg, open the listening sockets and set everything up. The
 * server keeps its own copy of cfg. NULL on failure with the reason in
 * err (SERVER_ERR_LEN), e.g. the port is taken or an option is out of
 * range; errno is then the system error a listener got (EADDRINUSE for
 * a taken port), or 0. */
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
