/* SPDX-License-Identifier: MIT */
/*
 * The server's state, shared by server.c, client.c and the command
 * handlers. Not part of the embedding API (that is server.h).
 */
#ifndef TMC_STATE_H
#define TMC_STATE_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "db.h"
#include "event.h"
#include "server.h"

struct client;

#define SERVER_HZ 10                /* cron runs per second (Redis: 10) */
#define SERVER_RESERVED_FDS 32      /* fds kept apart from maxclients for
                                     * listeners, logs and the wake pipe
                                     * (Redis: CONFIG_MIN_RESERVED_FDS) */
#define SERVER_RUNID_LEN 40         /* hex characters in run_id */

struct server {
	struct server_config cfg;        /* copy; strings owned below */
	char *bind;                      /* owned copy of cfg.bind */
	char *unixsocket;                /* owned copy of cfg.unixsocket */
	char *logfile;                   /* owned copy of cfg.logfile */
	char *requirepass;               /* owned copy of cfg.requirepass */
	FILE *log;                       /* where log lines go */

	event_loop *el;
	struct db db;                    /* the one keyspace (db 0) */

	int tcp_fd;                      /* TCP listener, -1 if none */
	int unix_fd;                     /* Unix listener, -1 if none */
	int port;                        /* bound TCP port, -1 if none */
	int wake_r, wake_w;              /* self-pipe for server_stop() */
	volatile sig_atomic_t stop_requested; /* set by server_stop() */
	int shutdown_asap;               /* SHUTDOWN ran: stop after writes */
	long long cron_id;               /* the periodic timer */
	long long tick_last_ms;          /* last cfg.tick call */

	struct client *clients;          /* all connections, newest first */
	int nclients;
	unsigned long long next_client_id; /* CLIENT ID counter (from 1) */

	/* Statistics for INFO (reset by CONFIG RESETSTAT where Redis does). */
	long long start_ms;              /* wall clock at start, ms */
	long long start_mono_ms;         /* monotonic clock at start, ms */
	unsigned long long stat_connections;   /* total_connections_received */
	unsigned long long stat_commands;      /* total_commands_processed */
	unsigned long long stat_rejected;      /* rejected_connections */
	unsigned long long stat_net_input;     /* total_net_input_bytes */
	unsigned long long stat_net_output;    /* total_net_output_bytes */
	unsigned long long stat_protocol_errors; /* connections closed on a
	                                        * protocol error */
	char run_id[SERVER_RUNID_LEN + 1];
};

/* Set the busy-poll budget in microseconds (0: off); server.c. */
void server_set_busy_poll(struct server *srv, long usec);

/* Milliseconds on the wall clock and on the monotonic clock. */
long long server_time_ms(void);
long long server_mono_ms(void);

/* Log one line at level (printf-style), Redis-like:
 * "pid:M 25 Nov 2026 03:10:57.123 * message". */
void server_log(struct server *srv, enum server_loglevel level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
