/* SPDX-License-Identifier: MIT */
/*
 * INFO: "# Section" blocks of "field:value" lines as Redis 7.0 writes
 * them, for the fields that mean something here.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "commands.h"
#include "db.h"
#include "event.h"
#include "mem.h"
#include "resp.h"
#include "server.h"
#include "settings.h"
#include "state.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* INFO's row (see commands.c for the fields). */
struct command info_commands[] = {
	{ "info", -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, cmd_info,
	  0, 0, 0, "@slow @dangerous", NULL, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

struct info_cmdstat_ctx {
	struct resp_buf *b;
	struct server *srv;
};

/* ---- INFO ---- */

/* Format a byte count as Redis's bytesToHuman does ("1.16M"; past the
 * petabytes, plain bytes). */
static void
info_human(char *buf, size_t size, unsigned long long n)
{
	static const char units[] = "KMGTP";
	unsigned long long lim = 1024;
	int i;

	if (n < 1024) {
		snprintf(buf, size, "%lluB", n);
		return;
	}
	for (i = 0; units[i] != '\0'; i++, lim *= 1024)
		if (n < lim * 1024) {
			snprintf(buf, size, "%.2f%c", (double)n / (double)lim,
			    units[i]);
			return;
		}
	snprintf(buf, size, "%lluB", n);
}

/* Resident set size in bytes, from /proc where there is one; otherwise
 * the heap in use, as Redis falls back to. */
static unsigned long long
info_rss(void)
{
	unsigned long long pages = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%*u %llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	if (pages == 0 || page <= 0)
		return mem_used();
	return pages * (unsigned long long)page;
}

static void
info_server(struct resp_buf *b, struct server *srv)
{
	struct utsname un;
	struct timespec ts;
	char exe[PATH_MAX + 1];
	long long up = (clock_mono_ms() - srv->start_mono_ms) / 1000;
	ssize_t n = -1;

	if (uname(&un) == -1)
		memset(&un, 0, sizeof(un));
	clock_gettime(CLOCK_REALTIME, &ts);
#ifdef __linux__
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
#endif
	exe[n > 0 ? n : 0] = '\0';
	buf_catf(b, "# Server\r\n"
	    "redis_version:%s\r\n"
	    "tiny_mp_cache_version:%s\r\n"
	    "redis_git_sha1:00000000\r\n"
	    "redis_git_dirty:0\r\n"
	    "redis_mode:standalone\r\n"
	    "os:%s %s %s\r\n"
	    "arch_bits:%d\r\n"
	    "monotonic_clock:POSIX clock_gettime\r\n"
	    "multiplexing_api:%s\r\n"
	    "atomicvar_api:c11-builtin\r\n",
	    REDIS_COMPAT_VERSION, server_version(), un.sysname,
	    un.release, un.machine, (int)(sizeof(long) * 8),
	    event_backend_name(srv->el));
#ifdef __GNUC__
	buf_catf(b, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__,
	    __GNUC_PATCHLEVEL__);
#else
	buf_catf(b, "gcc_version:0.0.0\r\n");
#endif
	buf_catf(b, "process_id:%ld\r\n"
	    "process_supervised:no\r\n"
	    "run_id:%s\r\n"
	    "tcp_port:%d\r\n"
	    "server_time_usec:%lld\r\n"
	    "uptime_in_seconds:%lld\r\n"
	    "uptime_in_days:%lld\r\n"
	    "hz:%d\r\n"
	    "configured_hz:%d\r\n"
	    "executable:%s\r\n"
	    "config_file:\r\n"
	    "io_threads_active:0\r\n",
	    (long)getpid(), srv->run_id, srv->port >= 0 ? srv->port : 0,
	    (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, up,
	    up / 86400, srv->hz, srv->hz, exe);
}

static void
info_clients(struct resp_buf *b, struct server *srv)
{
	const struct client *cl;
	size_t in = 0, out = 0;

	for (cl = srv->clients; cl != NULL; cl = cl->next) {
		if (cl->qcap > in)
			in = cl->qcap;
		if (cl->reply.cap > out)
			out = cl->reply.cap;
	}
	buf_catf(b, "# Clients\r\n"
	    "connected_clients:%d\r\n"
	    "cluster_connections:0\r\n"
	    "maxclients:%lld\r\n"
	    "client_recent_max_input_buffer:%zu\r\n"
	    "client_recent_max_output_buffer:%zu\r\n"
	    "blocked_clients:%d\r\n"
	    "tracking_clients:0\r\n"
	    "clients_in_timeout_table:%zu\r\n",
	    srv->nclients, srv->cfg.maxclients, in, out,
	    blocked_count(srv), srv->blocked.nheap);
}

static void
info_memory(struct resp_buf *b, struct server *srv)
{
	unsigned long long used = mem_used(), peak = mem_peak();
	unsigned long long rss = info_rss(), total = 0;
	unsigned long long maxmem = (unsigned long long)srv->cfg.maxmemory;
	char h_used[32], h_rss[32], h_peak[32], h_total[32], h_max[32];

#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
	if (sysconf(_SC_PHYS_PAGES) > 0 && sysconf(_SC_PAGESIZE) > 0)
		total = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
		    (unsigned long long)sysconf(_SC_PAGESIZE);
#endif
	info_human(h_used, sizeof(h_used), used);
	info_human(h_rss, sizeof(h_rss), rss);
	info_human(h_peak, sizeof(h_peak), peak);
	info_human(h_total, sizeof(h_total), total);
	info_human(h_max, sizeof(h_max), maxmem);
	buf_catf(b, "# Memory\r\n"
	    "used_memory:%llu\r\n"
	    "used_memory_human:%s\r\n"
	    "used_memory_rss:%llu\r\n"
	    "used_memory_rss_human:%s\r\n"
	    "used_memory_peak:%llu\r\n"
	    "used_memory_peak_human:%s\r\n"
	    "used_memory_peak_perc:%.2f%%\r\n"
	    "total_system_memory:%llu\r\n"
	    "total_system_memory_human:%s\r\n"
	    "maxmemory:%lld\r\n"
	    "maxmemory_human:%s\r\n"
	    "maxmemory_policy:%s\r\n"
	    "mem_fragmentation_ratio:%.2f\r\n"
	    "mem_allocator:libc\r\n",
	    used, h_used, rss, h_rss, peak, h_peak,
	    peak > 0 ? (double)used * 100 / (double)peak : 100.0,
	    total, h_total, (long long)maxmem, h_max,
	    settings_policy_name(srv->cfg.maxmemory_policy),
	    used > 0 ? (double)rss / (double)used : 0.0);
}

/* INFO persistence: Redis 7.0's fields in its order; there is no RDB,
 * so its fields show a server that never saved. */
static void
info_persistence(struct resp_buf *b, struct server *srv)
{
	buf_catf(b, "# Persistence\r\n"
	    "loading:%d\r\n"
	    "async_loading:0\r\n"
	    "current_cow_peak:0\r\n"
	    "current_cow_size:0\r\n"
	    "current_cow_size_age:0\r\n"
	    "current_fork_perc:0.00\r\n"
	    "current_save_keys_processed:0\r\n"
	    "current_save_keys_total:0\r\n"
	    "rdb_changes_since_last_save:%llu\r\n"
	    "rdb_bgsave_in_progress:0\r\n"
	    "rdb_last_save_time:%lld\r\n"
	    "rdb_last_bgsave_status:ok\r\n"
	    "rdb_last_bgsave_time_sec:-1\r\n"
	    "rdb_current_bgsave_time_sec:-1\r\n"
	    "rdb_saves:0\r\n"
	    "rdb_last_cow_size:0\r\n"
	    "rdb_last_load_keys_expired:0\r\n"
	    "rdb_last_load_keys_loaded:0\r\n",
	    srv->aof.loading, srv->db.dirty - srv->dirty_at_start,
	    srv->start_ms / 1000);
	aof_info(srv, b);
	aof_info_loading(srv, b);
}

static void
info_stats(struct resp_buf *b, struct server *srv)
{
	unsigned long long hits, misses;

	event_busy_poll_stats(srv->el, &hits, &misses);
	buf_catf(b, "# Stats\r\n"
	    "total_connections_received:%llu\r\n"
	    "total_commands_processed:%llu\r\n"
	    "instantaneous_ops_per_sec:0\r\n"
	    "total_net_input_bytes:%llu\r\n"
	    "total_net_output_bytes:%llu\r\n"
	    "instantaneous_input_kbps:0.00\r\n"
	    "instantaneous_output_kbps:0.00\r\n"
	    "rejected_connections:%llu\r\n"
	    "expired_keys:%llu\r\n"
	    "expired_stale_perc:%.2f\r\n"
	    "expired_time_cap_reached_count:%llu\r\n"
	    "expire_cycle_cpu_milliseconds:%lld\r\n"
	    "evicted_keys:%llu\r\n"
	    "keyspace_hits:%llu\r\n"
	    "keyspace_misses:%llu\r\n"
	    "pubsub_channels:0\r\n"
	    "pubsub_patterns:0\r\n"
	    "unexpected_error_replies:0\r\n"
	    "total_error_replies:%llu\r\n"
	    "total_protocol_errors:%llu\r\n"
	    "busy_poll_hits:%llu\r\n"
	    "busy_poll_misses:%llu\r\n",
	    srv->stat_connections, srv->stat_commands, srv->stat_net_input,
	    srv->stat_net_output, srv->stat_rejected, srv->db.expired,
	    srv->expire.stale_perc * 100, srv->expire.time_cap,
	    srv->expire.used_us / 1000, srv->db.evicted, srv->db.hits,
	    srv->db.misses, srv->stat_error_replies,
	    srv->stat_protocol_errors, hits, misses);
}

static void
info_replication(struct resp_buf *b, struct server *srv)
{
	(void)srv;
	buf_catf(b, "# Replication\r\n"
	    "role:master\r\n"
	    "connected_slaves:0\r\n"
	    "master_repl_offset:0\r\n");
}

static void
info_cpu(struct resp_buf *b, struct server *srv)
{
	struct rusage self, children;

	(void)srv;
	memset(&self, 0, sizeof(self));
	memset(&children, 0, sizeof(children));
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	buf_catf(b, "# CPU\r\n"
	    "used_cpu_sys:%ld.%06ld\r\n"
	    "used_cpu_user:%ld.%06ld\r\n"
	    "used_cpu_sys_children:%ld.%06ld\r\n"
	    "used_cpu_user_children:%ld.%06ld\r\n",
	    (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec,
	    (long)self.ru_utime.tv_sec, (long)self.ru_utime.tv_usec,
	    (long)children.ru_stime.tv_sec, (long)children.ru_stime.tv_usec,
	    (long)children.ru_utime.tv_sec, (long)children.ru_utime.tv_usec);
}

static void
info_cluster(struct resp_buf *b, struct server *srv)
{
	(void)srv;
	buf_catf(b, "# Cluster\r\ncluster_enabled:0\r\n");
}

static void
info_keyspace(struct resp_buf *b, struct server *srv)
{
	size_t keys = db_size(&srv->db);

	buf_catf(b, "# Keyspace\r\n");
	if (keys > 0)
		buf_catf(b, "db0:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", keys,
		    db_expires_size(&srv->db), srv->expire.avg_ttl);
}

/* One commandstats line, for a command that ran or was refused. */
static void
info_cmdstat(const struct command *cmd, void *arg)
{
	struct info_cmdstat_ctx *ctx = arg;
	const struct command_stats *st = &ctx->srv->cmdstats[cmd->id];
	char name[64];

	if (st->calls == 0 && st->rejected == 0 && st->failed == 0)
		return;
	buf_catf(ctx->b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,"
	    "rejected_calls=%llu,failed_calls=%llu\r\n",
	    command_fullname(cmd, name), st->calls, st->usec,
	    st->calls != 0 ? (double)st->usec / (double)st->calls : 0.0,
	    st->rejected, st->failed);
}

static void
info_commandstats(struct resp_buf *b, struct server *srv)
{
	struct info_cmdstat_ctx ctx = { b, srv };

	buf_catf(b, "# Commandstats\r\n");
	commands_foreach(info_cmdstat, &ctx);
}

static void
info_errorstats(struct resp_buf *b, struct server *srv)
{
	int i;

	buf_catf(b, "# Errorstats\r\n");
	for (i = 0; i < srv->nerrstats; i++)
		buf_catf(b, "errorstat_%s:count=%llu\r\n",
		    srv->errstats[i].prefix, srv->errstats[i].count);
}

/* INFO sections in Redis's order; "default" means those that are not
 * marked extra (commandstats and errorstats come with "all" or by
 * name, as in Redis). */
static const struct {
	const char *name;
	void (*gen)(struct resp_buf *b, struct server *srv);
	int extra;
} info_sections[] = {
	{ "server", info_server, 0 },
	{ "clients", info_clients, 0 },
	{ "memory", info_memory, 0 },
	{ "persistence", info_persistence, 0 },
	{ "stats", info_stats, 0 },
	{ "replication", info_replication, 0 },
	{ "cpu", info_cpu, 0 },
	{ "commandstats", info_commandstats, 1 },
	{ "errorstats", info_errorstats, 1 },
	{ "cluster", info_cluster, 0 },
	{ "keyspace", info_keyspace, 0 },
};
#define INFO_NSECTIONS (sizeof(info_sections) / sizeof(info_sections[0]))

/*
 * INFO [section ...]: "# Section" blocks of "field:value" lines, CRLF
 * ended, a blank line between blocks, in one bulk string. Sections are
 * named in any case; "default" selects all but commandstats and
 * errorstats, "all" and "everything" select every one; unknown names
 * select nothing. Each section comes once, in
 * Redis's order, whatever the order asked.
 */
void
cmd_info(struct client *c)
{
	int want[INFO_NSECTIONS], i, any = 0;
	struct resp_buf out;
	size_t s;

	for (s = 0; s < INFO_NSECTIONS; s++)
		want[s] = c->argc == 1 && !info_sections[s].extra;
	for (i = 1; i < c->argc; i++) {
		const struct resp_arg *a = &c->argv[i];

		if (arg_is(a, "default")) {
			for (s = 0; s < INFO_NSECTIONS; s++)
				want[s] |= !info_sections[s].extra;
			continue;
		}
		if (arg_is(a, "all") || arg_is(a, "everything")) {
			for (s = 0; s < INFO_NSECTIONS; s++)
				want[s] = 1;
			continue;
		}
		for (s = 0; s < INFO_NSECTIONS; s++)
			if (arg_is(a, info_sections[s].name))
				want[s] = 1;
	}
	resp_buf_init(&out);
	for (s = 0; s < INFO_NSECTIONS; s++) {
		if (!want[s])
			continue;
		if (any)
			resp_buf_append(&out, "\r\n", 2);
		info_sections[s].gen(&out, c->srv);
		any = 1;
	}
	resp_add_bulk(&c->reply, out.data != NULL ? out.data : "", out.len);
	resp_buf_free(&out);
}
