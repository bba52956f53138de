/* SPDX-License-Identifier: MIT */
/*
 * The server's state, shared by server.c, client.c and the command
 * handlers. Not part of the embedding API (that is server.h).
 */
#ifndef TMC_STATE_H
#define TMC_STATE_H

#include <signal.h>
#include <stddef.h>

#include "aof.h"
#include "blocked.h"
#include "commands.h"
#include "db.h"
#include "event.h"
#include "evict.h"
#include "expire.h"
#include "log.h"
#include "resp.h"
#include "server.h"
#include "settings.h"

struct client;

#define SERVER_RESERVED_FDS 32      /* fds kept apart from maxclients for
                                     * listeners, logs and the wake pipe
                                     * (Redis: CONFIG_MIN_RESERVED_FDS) */
#define SERVER_RUNID_LEN 40         /* hex characters in run_id */
#define SERVER_HZ_MIN 1             /* hz is clamped to this range, */
#define SERVER_HZ_MAX 500           /* as Redis clamps it */
#define SERVER_ERRSTATS_MAX 128     /* distinct error prefixes counted
                                     * (Redis: ERROR_STATS_NUMBER) */
#define SERVER_ERRPREFIX_LEN 32     /* longest prefix counted */
#define SERVER_BIND_MAX 16          /* addresses "bind" may list (Redis:
                                     * CONFIG_BINDADDR_MAX) */

/* One row of INFO errorstats. */
struct error_stat {
	char prefix[SERVER_ERRPREFIX_LEN]; /* "ERR", "WRONGTYPE" ... */
	unsigned long long count;
};

/* Called with every change to the keyspace, in replayable form. */
typedef void server_propagate_proc(void *arg, int argc,
    const struct resp_arg *argv);

struct server {
	int listen_errno;                /* why a listener failed (errno) */
	struct server_config cfg;        /* owned copy; CONFIG SET edits it */
	struct log log;                  /* where log lines go */

	event_loop *el;
	struct db db;                    /* the one keyspace (db 0) */
	int hz;                          /* cfg.hz clamped to 1-500 */
	struct expire_cycle expire;      /* the active expiry cycle's state */
	struct evictor evictor;          /* maxmemory and its pool */
	struct blocked_table blocked;    /* clients waiting on keys */
	dict *watched;                   /* WATCHed key -> its clients */
	int exec_propagated;             /* this EXEC propagated MULTI */

	int tcp_fds[SERVER_BIND_MAX];    /* TCP listeners, one per address */
	int ntcp;                        /* how many */
	int unix_fd;                     /* Unix listener, -1 if none */
	int port;                        /* bound TCP port, -1 if none */
	int wake_r, wake_w;              /* self-pipe for server_stop() */
	volatile sig_atomic_t stop_requested; /* set by server_stop() */
	int shutdown_asap;               /* SHUTDOWN ran: stop after writes */
	long long cron_id;               /* the periodic timer */
	long long evict_timer;           /* eviction going on between
	                                  * rounds, or -1 */
	long long tick_last_ms;          /* last cfg.tick call */
	long long cron_last_ms;          /* last hz work (monotonic) */
	long long clock_us;              /* wall clock when the last command
	                                  * ended or input was read: the next
	                                  * command's start (0: read anew) */

	size_t obuf_check_from;          /* pending output below the lowest
	                                  * output-buffer limit: no check */
	struct client *clients;          /* all connections, newest first */
	int nclients;
	struct client *cron_next;        /* where client_cron goes on */
	int obuf_soft_clients;           /* clients over their soft output
	                                  * limit (obuf_soft_since set) */
	unsigned long long next_client_id; /* CLIENT ID counter (from 1) */

	server_propagate_proc *propagate; /* the append-only file's feed;
	                                  * NULL: nothing listens */
	void *propagate_arg;
	struct aof aof;                  /* the append-only file */
	unsigned long long dirty_at_start; /* db.dirty once loaded */
	struct client *pending;          /* clients whose replies wait for
	                                  * the AOF write (appendonly yes) */

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
	unsigned long long stat_error_replies; /* total_error_replies */
	struct command_stats *cmdstats;  /* by command id */
	struct error_stat errstats[SERVER_ERRSTATS_MAX];
	int nerrstats;
	char run_id[SERVER_RUNID_LEN + 1];
};

/* Apply a setting CONFIG SET has just stored in srv->cfg (listeners,
 * limits, the event loop ...). 0, or -1 with Redis's reason in err
 * (SETTING_ERR_LEN) if it cannot take effect. */
int server_apply_setting(struct server *srv, enum setting_id id, char *err);

/* Evict under maxmemory (evict_run); if out of time, go on at every
 * round of the loop until under the limit, as Redis does. */
enum evict_result server_evict(struct server *srv);

/* Reset the counters CONFIG RESETSTAT resets. */
void server_reset_stats(struct server *srv);

/* While the data loads (aof.c, every so many commands): accept and
 * answer clients without waiting (-LOADING to most commands). */
void server_serve_while_loading(struct server *srv);

#endif
