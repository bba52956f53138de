/* SPDX-License-Identifier: MIT */
/*
 * The embeddable server: configuration checks, listeners, the wake-up
 * pipe that lets signal handlers and other threads stop the loop, the
 * periodic cron (hz times a second: active expiry, idle timeouts,
 * rehashing), settings changed at run time, and orderly teardown.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

#include "client.h"
#include "clock.h"
#include "commands.h"
#include "dict.h"
#include "mem.h"
#include "multi.h"
#include "net.h"
#include "server.h"
#include "state.h"

#define SERVER_FDSET_EXTRA 96          /* headroom in the fd table beyond
                                        * maxclients + reserved fds
                                        * (Redis: CONFIG_FDSET_INCR) */
#define SERVER_MAX_ACCEPTS 1000        /* accepts per readable event */

static const char max_clients_error[] =
    "-ERR max number of clients reached\r\n";

/* Redis 7.0's reply to a client refused by protected mode. */
static const char protected_mode_error[] =
    "-DENIED Redis is running in protected mode because protected mode is "
    "enabled and no password is set for the default user. In this mode "
    "connections are only accepted from the loopback interface. If you "
    "want to connect from external computers to Redis you may adopt one of "
    "the following solutions: 1) Just disable protected mode sending the "
    "command 'CONFIG SET protected-mode no' from the loopback interface by "
    "connecting to Redis from the same host the server is running, however "
    "MAKE SURE Redis is not publicly accessible from internet if you do "
    "so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the "
    "Redis configuration file, and setting the protected mode option to "
    "'no', and then restarting the server. 3) If you started the server "
    "manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. "
    "NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.\r\n";

const char *
server_version(void)
{
	return PACKAGE_VERSION;
}

/* Fill buf with n random bytes from the OS, falling back to the clock. */
static void
server_random_bytes(unsigned char *buf, size_t n)
{
	size_t got = 0;

#ifdef HAVE_GETRANDOM
	while (got < n) {
		ssize_t r = getrandom(buf + got, n - got, 0);

		if (r <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
#endif
	if (got < n) {
		unsigned long long x = (unsigned long long)clock_wall_us() ^
		    ((unsigned long long)getpid() << 32);

		for (; got < n; got++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[got] = (unsigned char)(x >> 56);
		}
	}
}

/*
 * Check cfg before anything is opened: every number within its
 * setting's range (the fields may have been set directly), and the
 * combinations. 0 or -1 with err set.
 */
static int
server_check_config(const struct server_config *cfg, char *err)
{
	const struct setting *s;
	long long v;

	for (s = settings_table; s->name != NULL; s++) {
		if ((s->type != SETTING_INT && s->type != SETTING_MEMORY &&
		    s->type != SETTING_OCTAL) || (s->flags & SETTING_UNSIGNED))
			continue;
		v = *(const long long *)(const void *)((const char *)cfg +
		    s->offset);
		if ((v < s->min || v > s->max) && !(s->id == S_PORT && v == -1)) {
			snprintf(err, SERVER_ERR_LEN, s->type == SETTING_OCTAL ?
			    "invalid %s %llo: argument must be between %llo "
			    "and %llo inclusive" : "invalid %s %lld: argument "
			    "must be between %lld and %lld inclusive", s->name,
			    v, s->min, s->max);
			return -1;
		}
	}
	if (cfg->port == -1 &&
	    (cfg->unixsocket == NULL || cfg->unixsocket[0] == '\0')) {
		snprintf(err, SERVER_ERR_LEN,
		    "nothing to listen on: TCP is off and no Unix socket is set");
		return -1;
	}
	if (cfg->maxclients > INT_MAX - SERVER_RESERVED_FDS -
	    SERVER_FDSET_EXTRA) {
		snprintf(err, SERVER_ERR_LEN, "invalid maxclients %lld: too "
		    "many for the event loop", cfg->maxclients);
		return -1;
	}
	if (cfg->loglevel < LL_DEBUG || cfg->loglevel > LL_NOTHING) {
		snprintf(err, SERVER_ERR_LEN, "invalid log level %d",
		    cfg->loglevel);
		return -1;
	}
	if (cfg->maxmemory_policy < 0 ||
	    cfg->maxmemory_policy > MM_NOEVICTION) {
		snprintf(err, SERVER_ERR_LEN, "invalid maxmemory-policy %d",
		    cfg->maxmemory_policy);
		return -1;
	}
	return 0;
}

/*
 * Make sure the process may open maxclients + reserved descriptors,
 * raising the soft limit if needed; if the OS refuses, lower maxclients
 * to fit (and say so), as Redis does.
 */
static void
server_adjust_fd_limit(struct server *srv)
{
	rlim_t need = (rlim_t)srv->cfg.maxclients + SERVER_RESERVED_FDS;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need) {
		long long fit = (long long)rl.rlim_cur - SERVER_RESERVED_FDS;

		if (fit < 1)
			fit = 1;
		log_write(&srv->log, LL_WARNING,
		    "maxclients %lld needs %llu open files but the limit is "
		    "%llu: maxclients lowered to %lld (raise it with ulimit -n)",
		    srv->cfg.maxclients, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur, fit);
		srv->cfg.maxclients = fit;
	}
}

/* Refuse a new connection with a one-line error (best effort: the
 * socket is new, so the line fits) and close it. */
static void
server_refuse(int fd, const char *msg, size_t len)
{
	if (send(fd, msg, len, MSG_NOSIGNAL) < 0)
		errno = 0;
	close(fd);
}

/* Accept pending connections on a listener. */
static void
server_accept(event_loop *el, int fd, void *data, int mask)
{
	struct server *srv = data;
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN];
	int i, cfd, flags = fd == srv->unix_fd ? CLIENT_UNIX_SOCKET : 0;

	(void)el;
	(void)mask;
	for (i = 0; i < SERVER_MAX_ACCEPTS; i++) {
		cfd = net_accept(err, fd, addr);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_write(&srv->log, LL_WARNING,
				    "Accepting client connection: %s", err);
			return;
		}
		srv->stat_connections++;
		if (srv->nclients >= srv->cfg.maxclients) {
			server_refuse(cfd, max_clients_error,
			    sizeof(max_clients_error) - 1);
			srv->stat_rejected++;
			continue;
		}
		/* As Redis: with no password, only 127.0.0.1 and ::1 may
		 * talk to a server in protected mode, however it is bound. */
		if (!(flags & CLIENT_UNIX_SOCKET) && srv->cfg.protected_mode &&
		    srv->cfg.requirepass == NULL &&
		    net_peer_is_local(cfd) == 0) {
			server_refuse(cfd, protected_mode_error,
			    sizeof(protected_mode_error) - 1);
			srv->stat_rejected++;
			continue;
		}
		if (!(flags & CLIENT_UNIX_SOCKET) && srv->cfg.tcp_keepalive > 0 &&
		    net_set_keepalive(err, cfd, (int)srv->cfg.tcp_keepalive) ==
		    -1)
			log_write(&srv->log, LL_VERBOSE, "%s", err);
		if (client_create(srv, cfd, flags, addr) == NULL) {
			srv->stat_rejected++;
			log_write(&srv->log, LL_WARNING,
			    "Cannot watch client %s: %s", addr, strerror(errno));
		}
	}
}

/* Drain the wake-up pipe and stop the loop if a stop was requested. */
static void
server_wake(event_loop *el, int fd, void *data, int mask)
{
	struct server *srv = data;
	char buf[64];

	(void)mask;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (srv->stop_requested)
		event_stop(el);
}

/* Eviction owed after a call ran out of time: a slice every round of
 * the loop (clients are served between slices) until under the limit
 * (Redis's evictionTimeProc). */
static long
server_evict_timer(event_loop *el, long long id, void *data)
{
	struct server *srv = data;

	(void)el;
	(void)id;
	srv->db.now = clock_wall_ms();
	if (srv->evictor.maxmemory != 0 &&
	    evict_run(&srv->evictor, &srv->db, mem_used) == EVICT_RUNNING)
		return 0;
	srv->evict_timer = -1;
	return -1;
}

enum evict_result
server_evict(struct server *srv)
{
	enum evict_result r;

	/* Nothing is evicted while the data loads, as in Redis. */
	if (srv->aof.loading)
		return EVICT_OK;
	r = evict_run(&srv->evictor, &srv->db, mem_used);

	if (r == EVICT_RUNNING && srv->evict_timer < 0)
		srv->evict_timer = event_add_timer(srv->el, 0,
		    server_evict_timer, srv);
	return r;
}

/* The ms between cron runs: 1000 / hz, or the embedder's tick if it
 * wants to run more often. */
static long
server_cron_ms(const struct server *srv)
{
	long ms = 1000 / srv->hz;

	if (ms < 1)
		ms = 1;
	if (srv->cfg.tick != NULL && srv->cfg.tick_ms < ms)
		ms = srv->cfg.tick_ms;
	return ms;
}

/*
 * Periodic work, hz times a second: the slow active expiry cycle,
 * eviction still owed, idle timeouts and output-buffer soft limits,
 * idle rehashing, the embedder's tick and stop requests.
 */
static long
server_cron(event_loop *el, long long id, void *data)
{
	struct server *srv = data;
	long long now = clock_mono_ms();

	(void)id;
	if (now - srv->cron_last_ms >= 1000 / srv->hz) {
		srv->cron_last_ms = now;
		expire_cycle(&srv->expire, &srv->db, EXPIRE_SLOW,
		    (int)srv->cfg.active_expire_effort, srv->hz);
		if (srv->evictor.maxmemory != 0) {
			srv->db.now = clock_wall_ms();
			server_evict(srv);
		}
		client_cron(srv, now);
		/* No idle rehashing while a child shares the pages. */
		if (srv->aof.child <= 0)
			db_cron(&srv->db, 1);
		aof_cron(srv);
		if (srv->pending != NULL)
			client_write_pending(srv);
	}
	if (srv->cfg.tick != NULL &&
	    now - srv->tick_last_ms >= srv->cfg.tick_ms) {
		srv->tick_last_ms = now;
		srv->cfg.tick(srv->cfg.tick_arg);
	}
	if (srv->stop_requested)
		event_stop(el);
	return server_cron_ms(srv);
}

/* Before the loop sleeps: serve the clients waiting on keys that became
 * ready (and time out the late ones; the next deadline bounds the
 * sleep), a fast expiry cycle if stale keys abound; then, with
 * appendonly yes, write (and fsync) the round's records and only then
 * send the replies that waited for them (group commit). */
static void
server_before_sleep(event_loop *el, void *data)
{
	struct server *srv = data;

	if (srv->blocked.count != 0 || srv->blocked.resumed != NULL)
		event_limit_wait(el, blocked_serve(srv));
	if (db_expires_size(&srv->db) != 0)
		expire_cycle(&srv->expire, &srv->db, EXPIRE_FAST,
		    (int)srv->cfg.active_expire_effort, srv->hz);
	if (srv->aof.on)
		aof_flush(srv);
	if (srv->pending != NULL)
		client_write_pending(srv);
}

/* The keyspace removed a key by itself (expiry, eviction): propagate
 * the removal as a DEL, as Redis does. */
static void
server_key_removed(void *arg, const char *key, size_t klen,
    enum db_removal why)
{
	struct server *srv = arg;
	struct resp_arg argv[2];

	(void)why;
	argv[0].ptr = (char *)(uintptr_t)"DEL";
	argv[0].len = 3;
	argv[1].ptr = (char *)(uintptr_t)key;
	argv[1].len = klen;
	command_propagate(srv, 2, argv);
}

/* A key changed: transactions watching it will not run. */
static void
server_key_changed(void *arg, const char *key, size_t klen)
{
	multi_touch(arg, key, klen);
}

/* A list appeared at key: its waiters can be served. */
static void
server_list_ready(void *arg, const char *key, size_t klen)
{
	blocked_key_ready(arg, key, klen);
}

/* Copy the settings the keyspace, eviction and the loop read from cfg
 * into their homes. */
static void
server_sync_settings(struct server *srv)
{
	int p = srv->cfg.maxmemory_policy;
	int lfu = p == MM_ALLKEYS_LFU || p == MM_VOLATILE_LFU;
	const struct obuf_limit *lim;

	/* Redis keeps hz within 1-500 and shows the value it uses. */
	if (srv->cfg.hz < SERVER_HZ_MIN)
		srv->cfg.hz = SERVER_HZ_MIN;
	if (srv->cfg.hz > SERVER_HZ_MAX)
		srv->cfg.hz = SERVER_HZ_MAX;
	srv->hz = (int)srv->cfg.hz;
	if (srv->evictor.policy != p)
		evict_reset(&srv->evictor);
	srv->evictor.policy = p;
	srv->evictor.maxmemory = (unsigned long long)srv->cfg.maxmemory;
	srv->evictor.samples = (int)srv->cfg.maxmemory_samples;
	srv->evictor.tenacity = (int)srv->cfg.maxmemory_tenacity;
	srv->db.lfu = lfu;
	srv->db.lfu_log_factor = (int)srv->cfg.lfu_log_factor;
	srv->db.lfu_decay_time = (int)srv->cfg.lfu_decay_time;
	srv->log.level = (enum log_level)srv->cfg.loglevel;
	lim = &srv->cfg.obuf[OBUF_NORMAL];
	srv->obuf_check_from = SIZE_MAX;
	if (lim->hard > 0)
		srv->obuf_check_from = (size_t)lim->hard;
	if (lim->soft > 0 && (size_t)lim->soft < srv->obuf_check_from)
		srv->obuf_check_from = (size_t)lim->soft;
}

static int server_relisten(struct server *srv, enum setting_id id,
    char *err);

/*
 * Check that the process can hold n clients: the event loop's fd table
 * (it cannot grow) and the open-files limit (raised if needed, as Redis
 * does). Returns 0, or -1 with the reason in err.
 */
static int
server_check_maxclients(struct server *srv, long long n, char *err)
{
	rlim_t need = (rlim_t)n + SERVER_RESERVED_FDS;
	struct rlimit rl;
	long long fit;

	if (n + SERVER_RESERVED_FDS > event_setsize(srv->el)) {
		snprintf(err, SETTING_ERR_LEN, "The event loop API used by the "
		    "server is not able to handle the specified number of "
		    "clients");
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need) {
			if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
				rl.rlim_cur = 0;
			fit = (long long)rl.rlim_cur - SERVER_RESERVED_FDS;
			snprintf(err, SETTING_ERR_LEN, "The operating system is "
			    "not able to handle the specified number of clients, "
			    "try with %lld", fit > 0 ? fit : 1);
			return -1;
		}
	}
	return 0;
}

int
server_apply_setting(struct server *srv, enum setting_id id, char *err)
{
	struct client *cl;

	switch (id) {
	case S_BIND:
	case S_PORT:
		return server_relisten(srv, id, err);
	case S_MAXCLIENTS:
		if (server_check_maxclients(srv, srv->cfg.maxclients, err) == -1)
			return -1;
		break;
	case S_APPENDONLY:
		return aof_apply(srv, err);
	case S_BUSY_POLL_US:
		event_set_busy_poll(srv->el, (long)srv->cfg.busy_poll_us);
		break;
	case S_PROTO_MAX_BULK_LEN:
		/* Every connection's parser checks against its own copy. */
		for (cl = srv->clients; cl != NULL; cl = cl->next)
			cl->parser.bulk_max = srv->cfg.proto_max_bulk_len;
		break;
	case S_MAXMEMORY:
		server_sync_settings(srv);
		if (srv->evictor.maxmemory != 0 &&
		    srv->evictor.maxmemory < mem_used())
			log_write(&srv->log, LL_WARNING, "WARNING: the new "
			    "maxmemory value set via CONFIG SET (%llu) is "
			    "smaller than the current memory usage (%zu). This "
			    "will result in key eviction and/or the inability "
			    "to accept new write commands depending on the "
			    "maxmemory-policy.", srv->evictor.maxmemory,
			    mem_used());
		srv->db.now = clock_wall_ms();
		server_evict(srv);
		break;
	default:
		server_sync_settings(srv);
		break;
	}
	return 0;
}

void
server_reset_stats(struct server *srv)
{
	srv->stat_connections = 0;
	srv->stat_commands = 0;
	srv->stat_rejected = 0;
	srv->stat_net_input = 0;
	srv->stat_net_output = 0;
	srv->stat_protocol_errors = 0;
	srv->stat_error_replies = 0;
	srv->db.hits = 0;
	srv->db.misses = 0;
	srv->db.expired = 0;
	srv->db.evicted = 0;
	srv->expire.stale_perc = 0;
	srv->expire.time_cap = 0;
	srv->expire.used_us = 0;
	memset(srv->cmdstats, 0,
	    sizeof(*srv->cmdstats) * (size_t)commands_count());
	srv->nerrstats = 0;
	event_busy_poll_stats_reset(srv->el);
	mem_peak_reset();
}

/* Close every TCP listener. */
static void
server_close_tcp(struct server *srv, int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		event_del_fd(srv->el, fds[i], EV_READABLE | EV_WRITABLE);
		close(fds[i]);
	}
}

/*
 * Open TCP listeners on every address of bind (space-separated, as
 * Redis's "bind": "*" is every IPv4 address, "::*" every IPv6 one, and a
 * leading '-' marks an address that may be unavailable) at port (0: the
 * first listener picks a free port, the others take the same), and
 * watch them. Returns how many were opened into fds, with the port in
 * *bound, or -1 with the reason in err (nothing left open).
 */
static int
server_listen_tcp(struct server *srv, const char *bind, long long port,
    int *fds, int *bound, char *err)
{
	char buf[1024], *save = NULL, *addr, nerr[NET_ERR_LEN];
	int n = 0, optional, fd, p = (int)port;

	*bound = -1;
	if (port < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", bind != NULL && bind[0] != '\0' ?
	    bind : SERVER_BIND_DEFAULT);
	for (addr = strtok_r(buf, " ", &save); addr != NULL;
	    addr = strtok_r(NULL, " ", &save)) {
		optional = addr[0] == '-';
		if (optional)
			addr++;
		if (strcmp(addr, "::*") == 0)
			addr = (char *)(uintptr_t)"::";
		if (n == SERVER_BIND_MAX) {
			snprintf(err, SERVER_ERR_LEN, "too many bind addresses "
			    "(at most %d)", SERVER_BIND_MAX);
			goto fail;
		}
		fd = net_tcp_listen(nerr, addr, p, (int)srv->cfg.tcp_backlog,
		    bound);
		if (fd == -1) {
			if (optional)
				continue;
			srv->listen_errno = errno;
			snprintf(err, SERVER_ERR_LEN, "%s", nerr);
			goto fail;
		}
		if (event_add_fd(srv->el, fd, EV_READABLE, server_accept,
		    srv) == -1) {
			snprintf(err, SERVER_ERR_LEN, "cannot watch the TCP "
			    "listener: %s", strerror(errno));
			close(fd);
			goto fail;
		}
		fds[n++] = fd;
		p = *bound;          /* the others share the first one's port */
	}
	if (n == 0) {
		snprintf(err, SERVER_ERR_LEN, "no bind address could be used: "
		    "%s", bind);
		goto fail;
	}
	return n;
fail:
	server_close_tcp(srv, fds, n);
	*bound = -1;
	return -1;
}

/*
 * CONFIG SET bind or port: open the new listeners first, and only then
 * close the old ones, so a failure leaves the server as it was (as
 * Redis does). Existing connections stay. 0, or -1 with Redis's reason.
 */
static int
server_relisten(struct server *srv, enum setting_id id, char *err)
{
	int fds[SERVER_BIND_MAX], n, bound;
	char why[SERVER_ERR_LEN];

	n = server_listen_tcp(srv, srv->cfg.bind, srv->cfg.port, fds, &bound,
	    why);
	if (n == -1) {
		log_write(&srv->log, LL_WARNING, "Failed to listen: %s", why);
		snprintf(err, SETTING_ERR_LEN, "%s", id == S_PORT ?
		    "Unable to listen on this port. Check server logs." :
		    "Failed to bind to specified addresses.");
		return -1;
	}
	server_close_tcp(srv, srv->tcp_fds, srv->ntcp);
	memcpy(srv->tcp_fds, fds, sizeof(fds[0]) * (size_t)n);
	srv->ntcp = n;
	srv->port = bound;
	if (n > 0)
		srv->cfg.port = bound;
	return 0;
}

struct server *
server_create(const struct server_config *cfg, char *err)
{
	static int seeded;
	struct server *srv;
	char nerr[NET_ERR_LEN], ev_err[EV_ERR_LEN];
	unsigned char rnd[SERVER_RUNID_LEN / 2 + 16 + 8];
	const char *backend;
	int setsize, i, p[2];

	if (server_check_config(cfg, err) == -1)
		return NULL;
	commands_init();
	mem_tune();

	srv = mem_calloc(1, sizeof(*srv));
	server_config_copy(&srv->cfg, cfg);
	if (srv->cfg.tick_ms <= 0)
		srv->cfg.tick_ms = 100;
	srv->unix_fd = srv->wake_r = srv->wake_w = srv->aof.fd = -1;
	srv->aof.child = -1;
	srv->port = -1;
	srv->log.level = (enum log_level)srv->cfg.loglevel;
	srv->log.sink = srv->cfg.log_sink;
	srv->log.sink_arg = srv->cfg.log_sink_arg;
	srv->cmdstats = mem_calloc((size_t)commands_count(),
	    sizeof(*srv->cmdstats));

	/* The hash seed comes first: every table made after it uses it. */
	server_random_bytes(rnd, sizeof(rnd));
	if (!seeded) {
		dict_set_hash_seed(rnd + SERVER_RUNID_LEN / 2);
		seeded = 1;
	}
	for (i = 0; i < SERVER_RUNID_LEN / 2; i++)
		snprintf(srv->run_id + i * 2, 3, "%02x", rnd[i]);
	db_init(&srv->db);
	memcpy(&srv->db.rng, rnd + SERVER_RUNID_LEN / 2 + 16, 8);
	srv->db.rng |= 1;
	srv->db.on_remove = server_key_removed;
	srv->db.on_remove_arg = srv;
	srv->db.on_list = server_list_ready;
	srv->db.on_change = server_key_changed;
	srv->db.hook_arg = srv;
	blocked_init(srv);
	multi_init(srv);
	evict_init(&srv->evictor);

	if (srv->cfg.logfile != NULL) {
		srv->log.file = fopen(srv->cfg.logfile, "a");
		if (srv->log.file == NULL) {
			snprintf(err, SERVER_ERR_LEN, "cannot open log file %s: %s",
			    srv->cfg.logfile, strerror(errno));
			goto fail;
		}
	}

	server_adjust_fd_limit(srv);
	setsize = (int)srv->cfg.maxclients + SERVER_RESERVED_FDS +
	    SERVER_FDSET_EXTRA;
	backend = srv->cfg.event_backend;
	if (backend == NULL || strcmp(backend, "auto") == 0)
		backend = event_backend_names()[0];
	if (strcmp(backend, "select") == 0 && setsize > FD_SETSIZE) {
		int fit = FD_SETSIZE - SERVER_RESERVED_FDS - SERVER_FDSET_EXTRA;

		log_write(&srv->log, LL_NOTICE,
		    "The select backend watches at most %d descriptors: "
		    "maxclients lowered from %lld to %d", FD_SETSIZE,
		    srv->cfg.maxclients, fit);
		srv->cfg.maxclients = fit;
		setsize = FD_SETSIZE;
	}
	srv->el = event_loop_create(setsize, backend, ev_err);
	if (srv->el == NULL) {
		snprintf(err, SERVER_ERR_LEN, "%s", ev_err);
		goto fail;
	}
	event_set_busy_poll(srv->el, (long)srv->cfg.busy_poll_us);
	event_set_before_sleep(srv->el, server_before_sleep, srv);
	server_sync_settings(srv);

#ifdef HAVE_PIPE2
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1) {
#else
	if (pipe(p) == -1 || net_set_nonblock(nerr, p[0]) == -1 ||
	    net_set_nonblock(nerr, p[1]) == -1 ||
	    net_set_cloexec(nerr, p[0]) == -1 ||
	    net_set_cloexec(nerr, p[1]) == -1) {
#endif
		snprintf(err, SERVER_ERR_LEN, "cannot create a pipe: %s",
		    strerror(errno));
		goto fail;
	}
	srv->wake_r = p[0];
	srv->wake_w = p[1];
	if (event_add_fd(srv->el, srv->wake_r, EV_READABLE, server_wake,
	    srv) == -1) {
		snprintf(err, SERVER_ERR_LEN, "cannot watch the wake-up pipe: %s",
		    strerror(errno));
		goto fail;
	}

	srv->ntcp = server_listen_tcp(srv, srv->cfg.bind, srv->cfg.port,
	    srv->tcp_fds, &srv->port, err);
	if (srv->ntcp == -1) {
		srv->ntcp = 0;
		goto fail;
	}
	if (srv->ntcp > 0)
		srv->cfg.port = srv->port;  /* CONFIG GET shows the real one */
	if (srv->cfg.unixsocket != NULL) {
		srv->unix_fd = net_unix_listen(nerr, srv->cfg.unixsocket,
		    (mode_t)srv->cfg.unixsocketperm, (int)srv->cfg.tcp_backlog);
		if (srv->unix_fd == -1) {
			srv->listen_errno = errno;
			snprintf(err, SERVER_ERR_LEN, "%s", nerr);
			goto fail;
		}
		if (event_add_fd(srv->el, srv->unix_fd, EV_READABLE,
		    server_accept, srv) == -1) {
			snprintf(err, SERVER_ERR_LEN,
			    "cannot watch the Unix socket: %s", strerror(errno));
			goto fail;
		}
	}

	srv->start_ms = clock_wall_ms();
	srv->start_mono_ms = srv->tick_last_ms = srv->cron_last_ms =
	    clock_mono_ms();
	/* The data loads once the listeners are open, as in Redis: a
	 * client that connects meanwhile gets -LOADING (and INFO shows the
	 * progress), never a half-loaded keyspace. */
	if (aof_start(srv, err) == -1)
		goto fail;
	if (srv->aof.on)
		server_reset_stats(srv);
	srv->dirty_at_start = srv->db.dirty;
	srv->evict_timer = -1;
	srv->cron_id = event_add_timer(srv->el, server_cron_ms(srv),
	    server_cron, srv);
	return srv;

fail:
	i = srv->listen_errno;
	server_free(srv);
	errno = i;
	return NULL;
}

void
server_serve_while_loading(struct server *srv)
{
	event_process_files(srv->el);
	if (srv->pending != NULL)
		client_write_pending(srv);
}

int
server_run(struct server *srv)
{
	char tcp[NET_ADDR_LEN + 16] = "", unx[1100] = "";
	const char *bind = srv->cfg.bind != NULL ? srv->cfg.bind :
	    SERVER_BIND_DEFAULT;
	int r;

	if (srv->ntcp > 0)
		snprintf(tcp, sizeof(tcp), strchr(bind, ':') != NULL &&
		    strchr(bind, ' ') == NULL ? "tcp [%s]:%d" : "tcp %s:%d",
		    bind, srv->port);
	if (srv->unix_fd != -1)
		snprintf(unx, sizeof(unx), "%sunix %s",
		    srv->ntcp > 0 ? ", " : "", srv->cfg.unixsocket);
	log_write(&srv->log, LL_NOTICE,
	    "tiny-mp-cache %s (pid %d), maxclients %lld",
	    server_version(), (int)getpid(), srv->cfg.maxclients);
	log_write(&srv->log, LL_WARNING,
	    "Ready to accept connections: %s%s (event backend %s)",
	    tcp, unx, event_backend_name(srv->el));
	r = event_run(srv->el);
	if (r == -1)
		log_write(&srv->log, LL_WARNING, "The event loop failed: %s",
		    strerror(errno));
	/* The last round's replies (and the waiters its pushes served)
	 * leave as before every sleep: their records first. */
	server_before_sleep(srv->el, srv);
	log_write(&srv->log, LL_NOTICE, "Shutting down: %d client%s "
	    "connected, %zu key%s in memory", srv->nclients,
	    srv->nclients == 1 ? "" : "s", db_size(&srv->db),
	    db_size(&srv->db) == 1 ? "" : "s");
	return r;
}

void
server_stop(struct server *srv)
{
	int saved = errno;

	srv->stop_requested = 1;
	if (srv->wake_w != -1) {
		/* A full pipe already holds a pending wake-up. */
		ssize_t n = write(srv->wake_w, "x", 1);

		(void)n;
	}
	errno = saved;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	aof_stop(srv);
	while (srv->clients != NULL)
		client_free(srv->clients);
	if (srv->el != NULL)
		server_close_tcp(srv, srv->tcp_fds, srv->ntcp);
	if (srv->unix_fd != -1) {
		close(srv->unix_fd);
		unlink(srv->cfg.unixsocket);
	}
	if (srv->wake_r != -1)
		close(srv->wake_r);
	if (srv->wake_w != -1)
		close(srv->wake_w);
	if (srv->el != NULL)
		event_loop_free(srv->el);
	if (srv->db.keys != NULL)
		db_free(&srv->db);
	if (srv->blocked.keys != NULL)
		blocked_free(srv);
	if (srv->watched != NULL)
		multi_free(srv);
	evict_free(&srv->evictor);
	if (srv->log.file != NULL)
		fclose(srv->log.file);
	mem_free(srv->cmdstats);
	server_config_free(&srv->cfg);
	mem_free(srv);
}

int
server_port(const struct server *srv)
{
	return srv->port;
}

const char *
server_backend(const struct server *srv)
{
	return event_backend_name(srv->el);
}
