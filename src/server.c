/* SPDX-License-Identifier: MIT */
/*
 * The embeddable server: configuration checks, listeners, the wake-up
 * pipe that lets signal handlers and other threads stop the loop, the
 * periodic cron, logging, and orderly teardown.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_GETRANDOM
#include <sys/random.h>
#endif

#include "client.h"
#include "dict.h"
#include "mem.h"
#include "net.h"
#include "server.h"
#include "state.h"

#define SERVER_FDSET_EXTRA 96          /* headroom in the fd table beyond
                                        * maxclients + reserved fds
                                        * (Redis: CONFIG_FDSET_INCR) */
#define SERVER_MAX_ACCEPTS 1000        /* accepts per readable event */
#define SERVER_BULK_MIN (1024 * 1024)  /* proto-max-bulk-len floor, as
                                        * Redis's config allows */

static const char max_clients_error[] =
    "-ERR max number of clients reached\r\n";

/* ---- Time and logging ---- */

long long
server_time_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
server_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
server_log(struct server *srv, enum server_loglevel level, const char *fmt,
    ...)
{
	static const char marks[] = ".-*#";
	char when[64], msg[1024];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t off;

	if (srv != NULL && level < srv->cfg.loglevel)
		return;
	if (level > SERVER_LOG_WARNING)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	off = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S", &tm);
	snprintf(when + off, sizeof(when) - off, ".%03d",
	    (int)(tv.tv_usec / 1000));
	fprintf(srv != NULL && srv->log != NULL ? srv->log : stderr,
	    "%d:M %s %c %s\n", (int)getpid(), when, marks[level], msg);
	fflush(srv != NULL && srv->log != NULL ? srv->log : stderr);
}

/* ---- Busy polling ---- */

/*
 * Set the busy-poll budget (see struct server_config). The loop yields
 * the CPU between polls, so a client that shares the server's CPU runs
 * at once rather than after the budget.
 */
void
server_set_busy_poll(struct server *srv, long usec)
{
	srv->cfg.busy_poll_us = usec;
	event_set_busy_poll(srv->el, usec);
}

/* ---- Setup ---- */

void
server_config_init(struct server_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind = SERVER_BIND_DEFAULT;
	cfg->port = SERVER_PORT_DEFAULT;
	cfg->unixsocketperm = SERVER_UNIXPERM_DEFAULT;
	cfg->maxclients = SERVER_MAXCLIENTS_DEFAULT;
	cfg->proto_max_bulk_len = RESP_BULK_MAX_DEFAULT;
	cfg->client_obuf_limit = SERVER_OBUF_LIMIT_DEFAULT;
	cfg->busy_poll_us = SERVER_BUSY_POLL_DEFAULT;
	cfg->tcp_backlog = 511;
	cfg->loglevel = SERVER_LOG_NOTICE;
	cfg->tick_ms = 100;
}

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
		unsigned long long x = (unsigned long long)server_time_ms() ^
		    ((unsigned long long)getpid() << 32);

		for (; got < n; got++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[got] = (unsigned char)(x >> 56);
		}
	}
}

/* Check cfg before anything is opened; 0 or -1 with err set. */
static int
server_check_config(const struct server_config *cfg, char *err)
{
	if (cfg->port < -1 || cfg->port > 65535) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid port %d: expected 0-65535 (0 picks a free port)",
		    cfg->port);
		return -1;
	}
	if (cfg->port == -1 &&
	    (cfg->unixsocket == NULL || cfg->unixsocket[0] == '\0')) {
		snprintf(err, SERVER_ERR_LEN,
		    "nothing to listen on: TCP is off and no Unix socket is set");
		return -1;
	}
	if (cfg->maxclients < 1) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid maxclients %d: expected at least 1",
		    cfg->maxclients);
		return -1;
	}
	if (cfg->unixsocketperm > 0777) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid unixsocketperm %o: expected an octal mode up to 777",
		    (unsigned)cfg->unixsocketperm);
		return -1;
	}
	if (cfg->proto_max_bulk_len < SERVER_BULK_MIN) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid proto-max-bulk-len %lld: expected at least %d",
		    cfg->proto_max_bulk_len, SERVER_BULK_MIN);
		return -1;
	}
	if (cfg->client_obuf_limit < 0) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid client-output-buffer-limit %lld: expected 0 (no "
		    "limit) or a byte count", cfg->client_obuf_limit);
		return -1;
	}
	if (cfg->busy_poll_us < 0 || cfg->busy_poll_us > SERVER_BUSY_POLL_MAX) {
		snprintf(err, SERVER_ERR_LEN,
		    "invalid busy-poll-us %ld: expected 0 (off) to %d "
		    "microseconds", cfg->busy_poll_us, SERVER_BUSY_POLL_MAX);
		return -1;
	}
	if (cfg->loglevel < SERVER_LOG_DEBUG ||
	    cfg->loglevel > SERVER_LOG_NOTHING) {
		snprintf(err, SERVER_ERR_LEN, "invalid log level %d",
		    (int)cfg->loglevel);
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
		int fit = (int)rl.rlim_cur - SERVER_RESERVED_FDS;

		if (fit < 1)
			fit = 1;
		server_log(srv, SERVER_LOG_WARNING,
		    "maxclients %d needs %llu open files but the limit is %llu: "
		    "maxclients lowered to %d (raise it with ulimit -n)",
		    srv->cfg.maxclients, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur, fit);
		srv->cfg.maxclients = fit;
	}
}

/* Accept pending connections on a listener. */
static void
server_accept(event_loop *el, int fd, void *data, int mask)
{
	struct server *srv = data;
	char err[NET_ERR_LEN], addr[NET_ADDR_LEN];
	int i, cfd, flags = fd == srv->unix_fd ? CLIENT_UNIX_SOCKET : 0;

	for (i = 0; i < SERVER_MAX_ACCEPTS; i++) {
		cfd = net_accept(err, fd, addr);
		if (cfd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				server_log(srv, SERVER_LOG_WARNING,
				    "Accepting client connection: %s", err);
			return;
		}
		srv->stat_connections++;
		if (srv->nclients >= srv->cfg.maxclients) {
			/* Best effort: the socket is new, so this fits. */
			if (send(cfd, max_clients_error,
			    sizeof(max_clients_error) - 1, MSG_NOSIGNAL) < 0)
				errno = 0;
			close(cfd);
			srv->stat_rejected++;
			continue;
		}
		if (client_create(srv, cfd, flags, addr) == NULL) {
			srv->stat_rejected++;
			server_log(srv, SERVER_LOG_WARNING,
			    "Cannot watch client %s: %s", addr,
			    strerror(errno));
		}
	}
}

/* Drain the wake-up pipe and stop the loop if a stop was requested. */
static void
server_wake(event_loop *el, int fd, void *data, int mask)
{
	struct server *srv = data;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (srv->stop_requested)
		event_stop(el);
}

/* Periodic work: idle rehashing, the embedder's tick, stop requests. */
static long
server_cron(event_loop *el, long long id, void *data)
{
	struct server *srv = data;
	long long now = server_mono_ms();

	db_cron(&srv->db, 1);
	if (srv->cfg.tick != NULL &&
	    now - srv->tick_last_ms >= srv->cfg.tick_ms) {
		srv->tick_last_ms = now;
		srv->cfg.tick(srv->cfg.tick_arg);
	}
	if (srv->stop_requested)
		event_stop(el);
	return srv->cfg.tick != NULL && srv->cfg.tick_ms < 1000 / SERVER_HZ ?
	    srv->cfg.tick_ms : 1000 / SERVER_HZ;
}

/* Copy an optional string; NULL or "" gives NULL. */
static char *
dup_opt(const char *s)
{
	return s != NULL && s[0] != '\0' ? mem_strdup(s) : NULL;
}

struct server *
server_create(const struct server_config *cfg, char *err)
{
	static int seeded;
	struct server *srv;
	char nerr[NET_ERR_LEN], ev_err[EV_ERR_LEN];
	unsigned char rnd[SERVER_RUNID_LEN / 2 + 16];
	const char *backend;
	int setsize, i, p[2];

	if (server_check_config(cfg, err) == -1)
		return NULL;

	srv = mem_calloc(1, sizeof(*srv));
	srv->cfg = *cfg;
	srv->bind = dup_opt(cfg->bind != NULL ? cfg->bind :
	    SERVER_BIND_DEFAULT);
	srv->unixsocket = dup_opt(cfg->unixsocket);
	srv->logfile = dup_opt(cfg->logfile);
	srv->requirepass = dup_opt(cfg->requirepass);
	srv->cfg.requirepass = srv->requirepass;
	srv->cfg.bind = srv->bind;
	srv->cfg.unixsocket = srv->unixsocket;
	srv->cfg.logfile = srv->logfile;
	srv->cfg.event_backend = NULL;   /* not kept: see below */
	if (srv->cfg.tick_ms <= 0)
		srv->cfg.tick_ms = 100;
	srv->tcp_fd = srv->unix_fd = srv->wake_r = srv->wake_w = -1;
	srv->port = -1;
	db_init(&srv->db);

	if (srv->logfile != NULL) {
		srv->log = fopen(srv->logfile, "a");
		if (srv->log == NULL) {
			snprintf(err, SERVER_ERR_LEN, "cannot open log file %s: %s",
			    srv->logfile, strerror(errno));
			goto fail;
		}
	}

	server_random_bytes(rnd, sizeof(rnd));
	if (!seeded) {
		dict_set_hash_seed(rnd + SERVER_RUNID_LEN / 2);
		seeded = 1;
	}
	for (i = 0; i < SERVER_RUNID_LEN / 2; i++)
		snprintf(srv->run_id + i * 2, 3, "%02x", rnd[i]);

	server_adjust_fd_limit(srv);
	setsize = srv->cfg.maxclients + SERVER_RESERVED_FDS +
	    SERVER_FDSET_EXTRA;
	backend = cfg->event_backend;
	if (backend == NULL || strcmp(backend, "auto") == 0)
		backend = event_backend_names()[0];
	if (strcmp(backend, "select") == 0 && setsize > FD_SETSIZE) {
		int fit = FD_SETSIZE - SERVER_RESERVED_FDS - SERVER_FDSET_EXTRA;

		server_log(srv, SERVER_LOG_NOTICE,
		    "The select backend watches at most %d descriptors: "
		    "maxclients lowered from %d to %d", FD_SETSIZE,
		    srv->cfg.maxclients, fit);
		srv->cfg.maxclients = fit;
		setsize = FD_SETSIZE;
	}
	srv->el = event_loop_create(setsize, backend, ev_err);
	if (srv->el == NULL) {
		snprintf(err, SERVER_ERR_LEN, "%s", ev_err);
		goto fail;
	}
	server_set_busy_poll(srv, srv->cfg.busy_poll_us);

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

	if (cfg->port >= 0) {
		srv->tcp_fd = net_tcp_listen(nerr, srv->bind, cfg->port,
		    cfg->tcp_backlog > 0 ? cfg->tcp_backlog : 511, &srv->port);
		if (srv->tcp_fd == -1) {
			snprintf(err, SERVER_ERR_LEN, "%s", nerr);
			goto fail;
		}
		if (event_add_fd(srv->el, srv->tcp_fd, EV_READABLE,
		    server_accept, srv) == -1) {
			snprintf(err, SERVER_ERR_LEN,
			    "cannot watch the TCP listener: %s", strerror(errno));
			goto fail;
		}
	}
	if (srv->unixsocket != NULL) {
		srv->unix_fd = net_unix_listen(nerr, srv->unixsocket,
		    cfg->unixsocketperm, cfg->tcp_backlog > 0 ?
		    cfg->tcp_backlog : 511);
		if (srv->unix_fd == -1) {
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

	srv->cron_id = event_add_timer(srv->el, 1000 / SERVER_HZ, server_cron,
	    srv);
	srv->start_ms = server_time_ms();
	srv->start_mono_ms = srv->tick_last_ms = server_mono_ms();
	return srv;

fail:
	server_free(srv);
	return NULL;
}

int
server_run(struct server *srv)
{
	char tcp[NET_ADDR_LEN + 16] = "", unx[1100] = "";
	int r;

	if (srv->tcp_fd != -1)
		snprintf(tcp, sizeof(tcp), strchr(srv->bind, ':') != NULL ?
		    "tcp [%s]:%d" : "tcp %s:%d", srv->bind, srv->port);
	if (srv->unix_fd != -1)
		snprintf(unx, sizeof(unx), "%sunix %s",
		    srv->tcp_fd != -1 ? ", " : "", srv->unixsocket);
	server_log(srv, SERVER_LOG_NOTICE,
	    "tiny-mp-cache %s (pid %d), maxclients %d",
	    server_version(), (int)getpid(), srv->cfg.maxclients);
	server_log(srv, SERVER_LOG_WARNING,
	    "Ready to accept connections: %s%s (event backend %s)",
	    tcp, unx, event_backend_name(srv->el));
	r = event_run(srv->el);
	if (r == -1)
		server_log(srv, SERVER_LOG_WARNING, "The event loop failed: %s",
		    strerror(errno));
	server_log(srv, SERVER_LOG_NOTICE, "Shutting down: %d client%s "
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
	while (srv->clients != NULL)
		client_free(srv->clients);
	if (srv->tcp_fd != -1)
		close(srv->tcp_fd);
	if (srv->unix_fd != -1) {
		close(srv->unix_fd);
		unlink(srv->unixsocket);
	}
	if (srv->wake_r != -1)
		close(srv->wake_r);
	if (srv->wake_w != -1)
		close(srv->wake_w);
	if (srv->el != NULL)
		event_loop_free(srv->el);
	db_free(&srv->db);
	if (srv->log != NULL)
		fclose(srv->log);
	mem_free(srv->bind);
	mem_free(srv->unixsocket);
	mem_free(srv->logfile);
	mem_free(srv->requirepass);
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
