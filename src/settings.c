/* SPDX-License-Identifier: MIT */
/* The settings table, parsing and formatting (see settings.h). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"
#include "resp.h"
#include "settings.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define F(field) offsetof(struct server_config, field)

static const char *const loglevel_names[] = {
	"debug", "verbose", "notice", "warning", "nothing", NULL,
};

static const char *const policy_names[] = {
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	"allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction", NULL,
};

static const char *const backend_names[] = {
	"auto", "epoll", "select", NULL,
};

static const char *const fsync_names[] = {
	"everysec", "always", "no", NULL,
};

static const char *const obuf_class_names[] = {
	"normal", "slave", "pubsub",
};

/*
 * The rows, sorted by name (CONFIG GET * lists them in this order).
 * Ranges and reasons are Redis 7.0's where Redis has the setting; the
 * defaults differ from Redis's where this is a local cache: port 5002,
 * unixsocketperm 700, a 1 GB output limit for normal clients.
 */
const struct setting settings_table[] = {
	{ .name = "active-expire-effort", .id = S_ACTIVE_EXPIRE_EFFORT,
	  .type = SETTING_INT, .offset = F(active_expire_effort), .min = 1,
	  .max = 10, .def = "1", .metavar = "N",
	  .help = "effort (1-10) the active expiry cycle spends on stale keys "
	  "(default 1)" },
	{ .name = "aof-load-truncated", .id = S_AOF_LOAD_TRUNCATED,
	  .type = SETTING_BOOL, .offset = F(aof_load_truncated),
	  .def = "yes", .metavar = "yes|no",
	  .help = "at start, cut a torn last command off the append-only "
	  "file and go on (default yes; no: refuse to start)" },
	{ .name = "appenddirname", .id = S_APPENDDIRNAME,
	  .type = SETTING_STRING, .flags = SETTING_IMMUTABLE | SETTING_NO_NUL,
	  .offset = F(appenddirname), .def = "appendonlydir", .metavar = "NAME",
	  .help = "the append-only files' directory, inside dir (default "
	  "appendonlydir)" },
	{ .name = "appendfilename", .id = S_APPENDFILENAME,
	  .type = SETTING_STRING, .flags = SETTING_IMMUTABLE | SETTING_NO_NUL,
	  .offset = F(appendfilename), .def = "appendonly.aof",
	  .metavar = "NAME",
	  .help = "the append-only files' name prefix (default "
	  "appendonly.aof)" },
	{ .name = "appendfsync", .id = S_APPENDFSYNC, .type = SETTING_ENUM,
	  .offset = F(appendfsync), .names = fsync_names, .def = "everysec",
	  .metavar = "POLICY",
	  .help = "fsync the append-only file: always (before each reply), "
	  "everysec (default; in the background, up to ~2 s lost on a "
	  "crash) or no (when the system decides)" },
	{ .name = "appendonly", .id = S_APPENDONLY, .type = SETTING_BOOL,
	  .offset = F(appendonly), .def = "no", .metavar = "yes|no",
	  .help = "log every write to the append-only file in dir and "
	  "replay it at start (default no)" },
	{ .name = "auto-aof-rewrite-min-size", .id = S_AOF_REWRITE_MIN_SIZE,
	  .type = SETTING_MEMORY, .offset = F(aof_rewrite_min_size), .min = 0,
	  .max = LLONG_MAX, .def = "64mb", .metavar = "BYTES",
	  .help = "no automatic rewrite while the append-only file is "
	  "smaller (same suffixes; default 64mb)" },
	{ .name = "auto-aof-rewrite-percentage", .id = S_AOF_REWRITE_PERC,
	  .type = SETTING_INT, .offset = F(aof_rewrite_perc), .min = 0,
	  .max = INT_MAX, .def = "100", .metavar = "PERCENT",
	  .help = "rewrite the append-only file in the background once it "
	  "grew by PERCENT since the last rewrite (default 100; 0: never)" },
	{ .name = "bind", .id = S_BIND, .type = SETTING_STRING,
	  .flags = SETTING_NO_NUL, .offset = F(bind), .def = "127.0.0.1",
	  .metavar = "ADDR",
	  .help = "addresses to listen on, space-separated (default 127.0.0.1; "
	  "IPv6 works, e.g. ::1; * or 0.0.0.0 exposes the cache to the "
	  "network; a leading - marks one that may be missing)" },
	{ .name = "busy-poll-us", .id = S_BUSY_POLL_US, .type = SETTING_INT,
	  .offset = F(busy_poll_us), .min = 0, .max = 100000, .def = "50",
	  .metavar = "N",
	  .help = "after serving requests, poll N microseconds for more before "
	  "sleeping (default 50; 0: off)" },
	{ .name = "client-output-buffer-limit", .id = S_CLIENT_OBUF,
	  .type = SETTING_OBUF, .offset = F(obuf),
	  .def = "normal 1gb 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60",
	  .metavar = "LIMIT",
	  .help = "disconnect a client whose unsent replies exceed LIMIT bytes "
	  "(k, kb, m, mb, g, gb suffixes; default 1gb; 0: no limit), or "
	  "Redis's 'normal HARD SOFT SECONDS ...'" },
	{ .name = "daemonize", .id = S_DAEMONIZE, .type = SETTING_FIXED,
	  .flags = SETTING_IMMUTABLE, .def = "no" },
	{ .name = "databases", .id = S_DATABASES, .type = SETTING_FIXED,
	  .flags = SETTING_IMMUTABLE, .def = "1" },
	/* No default: the working directory, which CONFIG GET shows. */
	{ .name = "dir", .id = S_DIR, .type = SETTING_STRING,
	  .flags = SETTING_PROTECTED | SETTING_NO_NUL, .offset = F(dir),
	  .metavar = "PATH",
	  .help = "data directory: the append-only files go in it "
	  "(default: the working directory; it must exist)" },
	{ .name = "event-backend", .id = S_EVENT_BACKEND, .type = SETTING_ENUM,
	  .flags = SETTING_IMMUTABLE, .offset = F(event_backend),
	  .names = backend_names, .def = "auto", .metavar = "NAME",
	  .help = "event loop backend: epoll (default where it exists) or "
	  "select" },
	{ .name = "hz", .id = S_HZ, .type = SETTING_INT, .offset = F(hz),
	  .min = 0, .max = INT_MAX, .def = "10", .metavar = "N",
	  .help = "background tasks (active expiry, timeouts) per second, "
	  "1-500 (default 10)" },
	{ .name = "lfu-decay-time", .id = S_LFU_DECAY_TIME,
	  .type = SETTING_INT, .offset = F(lfu_decay_time), .min = 0,
	  .max = INT_MAX, .def = "1", .metavar = "MINUTES",
	  .help = "decrement a key's LFU counter once per MINUTES idle "
	  "(default 1; 0: never)" },
	{ .name = "lfu-log-factor", .id = S_LFU_LOG_FACTOR,
	  .type = SETTING_INT, .offset = F(lfu_log_factor), .min = 0,
	  .max = INT_MAX, .def = "10", .metavar = "N",
	  .help = "how many hits the LFU counter needs to grow (default 10)" },
	{ .name = "list-compress-depth", .id = S_LIST_COMPRESS_DEPTH,
	  .type = SETTING_INT, .offset = F(list_compress_depth), .min = 0,
	  .max = INT_MAX, .def = "0", .metavar = "N",
	  .help = "list chunks kept uncompressed at each end (default 0: "
	  "none compressed)" },
	{ .name = "list-max-listpack-size", .alias = "list-max-ziplist-size",
	  .id = S_LIST_MAX_LISTPACK_SIZE, .type = SETTING_INT,
	  .offset = F(list_max_listpack_size), .min = INT_MIN, .max = INT_MAX,
	  .def = "-2", .metavar = "N",
	  .help = "a list chunk holds N elements (N > 0) or up to 4, 8, 16, "
	  "32 or 64 KB (N = -1 ... -5; default -2)" },
	{ .name = "logfile", .id = S_LOGFILE, .type = SETTING_STRING,
	  .flags = SETTING_IMMUTABLE | SETTING_NO_NUL, .offset = F(logfile),
	  .def = "", .metavar = "PATH",
	  .help = "append log lines to PATH instead of standard error" },
	{ .name = "loglevel", .id = S_LOGLEVEL, .type = SETTING_ENUM,
	  .offset = F(loglevel), .names = loglevel_names, .nsettable = 4,
	  .def = "notice", .metavar = "LEVEL",
	  .help = "debug, verbose, notice (default), warning, nothing" },
	{ .name = "maxclients", .id = S_MAXCLIENTS, .type = SETTING_INT,
	  .offset = F(maxclients), .min = 1, .max = 4294967295LL,
	  .def = "10000", .metavar = "N",
	  .help = "most simultaneous clients (default 10000)" },
	{ .name = "maxmemory", .id = S_MAXMEMORY, .type = SETTING_MEMORY,
	  .flags = SETTING_UNSIGNED, .offset = F(maxmemory), .def = "0",
	  .metavar = "BYTES",
	  .help = "memory limit for data (same suffixes; default 0: none); see "
	  "maxmemory-policy" },
	{ .name = "maxmemory-eviction-tenacity", .id = S_MAXMEMORY_TENACITY,
	  .type = SETTING_INT, .offset = F(maxmemory_tenacity), .min = 0,
	  .max = 100, .def = "10", .metavar = "N",
	  .help = "how long one command may spend evicting, 0-100 (default "
	  "10)" },
	{ .name = "maxmemory-policy", .id = S_MAXMEMORY_POLICY,
	  .type = SETTING_ENUM, .offset = F(maxmemory_policy),
	  .names = policy_names, .def = "noeviction", .metavar = "POLICY",
	  .help = "what goes at maxmemory: noeviction (default: writes get "
	  "OOM), allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, "
	  "volatile-lfu, volatile-random, volatile-ttl" },
	{ .name = "maxmemory-samples", .id = S_MAXMEMORY_SAMPLES,
	  .type = SETTING_INT, .offset = F(maxmemory_samples), .min = 1,
	  .max = INT_MAX, .def = "5", .metavar = "N",
	  .help = "keys sampled per eviction (default 5)" },
	{ .name = "port", .id = S_PORT, .type = SETTING_INT,
	  .offset = F(port), .min = 0,
	  .max = 65535, .def = "5002", .metavar = "N",
	  .help = "TCP port to listen on (default 5002; 0 picks a free port, "
	  "shown in the ready line; -1 disables TCP)" },
	{ .name = "protected-mode", .id = S_PROTECTED_MODE,
	  .type = SETTING_BOOL, .offset = F(protected_mode), .def = "yes",
	  .metavar = "yes|no",
	  .help = "without requirepass, refuse TCP clients other than "
	  "127.0.0.1 and ::1, as Redis does (default yes)" },
	{ .name = "proto-max-bulk-len", .id = S_PROTO_MAX_BULK_LEN,
	  .type = SETTING_MEMORY, .offset = F(proto_max_bulk_len),
	  .min = 1024 * 1024, .max = LLONG_MAX, .def = "512mb",
	  .metavar = "BYTES",
	  .help = "largest bulk argument (same suffixes; default 512mb; at "
	  "least 1mb)" },
	{ .name = "requirepass", .id = S_REQUIREPASS, .type = SETTING_STRING,
	  .flags = SETTING_NO_NUL, .offset = F(requirepass), .def = "",
	  .metavar = "PASSWORD",
	  .help = "clients must AUTH with PASSWORD first" },
	{ .name = "save", .id = S_SAVE, .type = SETTING_FIXED, .def = "" },
	{ .name = "tcp-backlog", .id = S_TCP_BACKLOG, .type = SETTING_INT,
	  .flags = SETTING_IMMUTABLE, .offset = F(tcp_backlog), .min = 0,
	  .max = INT_MAX, .def = "511", .metavar = "N",
	  .help = "queue of connections not yet accepted (default 511)" },
	{ .name = "tcp-keepalive", .id = S_TCP_KEEPALIVE, .type = SETTING_INT,
	  .offset = F(tcp_keepalive), .min = 0, .max = INT_MAX, .def = "300",
	  .metavar = "SECONDS",
	  .help = "TCP keepalive probes on idle connections (default 300; 0: "
	  "off)" },
	{ .name = "timeout", .id = S_TIMEOUT, .type = SETTING_INT,
	  .offset = F(timeout), .min = 0, .max = INT_MAX, .def = "0",
	  .metavar = "SECONDS",
	  .help = "close a connection idle this long (default 0: never)" },
	{ .name = "unixsocket", .id = S_UNIXSOCKET, .type = SETTING_STRING,
	  .flags = SETTING_IMMUTABLE | SETTING_NO_NUL, .offset = F(unixsocket),
	  .def = "", .metavar = "PATH",
	  .help = "also listen on a Unix socket at PATH" },
	{ .name = "unixsocketperm", .id = S_UNIXSOCKETPERM,
	  .type = SETTING_OCTAL, .flags = SETTING_IMMUTABLE,
	  .offset = F(unixsocketperm), .min = 0, .max = 0777, .def = "700",
	  .metavar = "MODE",
	  .help = "octal permissions of the Unix socket (default 700)" },
	{ .name = NULL },
};

size_t
settings_count(void)
{
	return sizeof(settings_table) / sizeof(settings_table[0]) - 1;
}

/* 1 if name (len bytes) names s, taking '_' for '-' and any case. */
static int
settings_name_is(const char *want, const char *name, size_t len)
{
	size_t i;

	if (strlen(want) != len)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i] == '_' ? '-' : name[i];

		if ((c | 0x20) != (want[i] | 0x20) && c != want[i])
			return 0;
	}
	return 1;
}

const struct setting *
settings_find(const char *name, size_t len)
{
	const struct setting *s;

	for (s = settings_table; s->name != NULL; s++)
		if ((strlen(s->name) == len &&
		    strncasecmp(s->name, name, len) == 0) ||
		    (s->alias != NULL && strlen(s->alias) == len &&
		    strncasecmp(s->alias, name, len) == 0))
			return s;
	return NULL;
}

const char *
settings_policy_name(int policy)
{
	return policy >= 0 && policy <= MM_NOEVICTION ? policy_names[policy] :
	    "";
}

/*
 * Redis's memtoull: digits (none means 0) and an optional unit (b, k,
 * kb, m, mb, g, gb, any case; k = 1000, kb = 1024); no sign, no spaces.
 * Like Redis, a number too big saturates and the product wraps: the range
 * check that follows refuses what does not fit. 0, or -1 if s is not a
 * memory value.
 */
int
settings_parse_memory(const char *s, size_t len, unsigned long long *out)
{
	static const struct {
		const char *unit;
		unsigned long long mul;
	} units[] = {
		{ "", 1 }, { "b", 1 }, { "k", 1000 }, { "kb", 1024 },
		{ "m", 1000 * 1000 }, { "mb", 1024 * 1024 },
		{ "g", 1000ULL * 1000 * 1000 }, { "gb", 1024ULL * 1024 * 1024 },
	};
	char digits[128];
	size_t d = 0, i;

	if (memchr(s, '\0', len) != NULL || (len > 0 && s[0] == '-'))
		return -1;
	while (d < len && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d >= sizeof(digits))
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].unit) == len - d &&
		    strncasecmp(units[i].unit, s + d, len - d) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return -1;
	memcpy(digits, s, d);
	digits[d] = '\0';
	*out = strtoull(digits, NULL, 10) * units[i].mul;
	return 0;
}

/* Copy a value into a C string (NUL bytes end it, as in Redis). */
static void
settings_cstr(char *dst, size_t size, const char *v, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Parse client-output-buffer-limit: a single memory value (the normal
 * class's hard limit), or Redis's "class hard soft seconds" groups. */
static int
settings_parse_obuf(const char *v, size_t len, struct setting_value *out,
    char *err)
{
	char buf[512], *words[64], *save = NULL, *w;
	int n = 0, i, c;
	unsigned long long u, u2;
	long long secs;

	if (len >= sizeof(buf)) {
		snprintf(err, SETTING_ERR_LEN, "Wrong number of arguments in "
		    "buffer limit configuration.");
		return -1;
	}
	settings_cstr(buf, sizeof(buf), v, len);
	for (w = strtok_r(buf, " ", &save); w != NULL && n < 64;
	    w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	if (n == 1 && settings_parse_memory(words[0], strlen(words[0]),
	    &u) == 0 && (long long)u >= 0) {
		out->obuf[OBUF_NORMAL].hard = (long long)u;
		out->obuf[OBUF_NORMAL].soft = 0;
		out->obuf[OBUF_NORMAL].soft_seconds = 0;
		out->obuf_given = 1 << OBUF_NORMAL;
		return 0;
	}
	if (n == 0 || n % 4 != 0) {
		snprintf(err, SETTING_ERR_LEN, "Wrong number of arguments in "
		    "buffer limit configuration.");
		return -1;
	}
	for (i = 0; i < n; i += 4) {
		for (c = 0; c < OBUF_CLASSES; c++)
			if (strcasecmp(words[i], obuf_class_names[c]) == 0 ||
			    (c == OBUF_REPLICA &&
			    strcasecmp(words[i], "replica") == 0))
				break;
		if (c == OBUF_CLASSES || (c == OBUF_NORMAL &&
		    strcasecmp(words[i], "normal") != 0)) {
			snprintf(err, SETTING_ERR_LEN, "Invalid client class "
			    "specified in buffer limit configuration.");
			return -1;
		}
		if (settings_parse_memory(words[i + 1], strlen(words[i + 1]),
		    &u) == -1 || settings_parse_memory(words[i + 2],
		    strlen(words[i + 2]), &u2) == -1 || (long long)u < 0 ||
		    (long long)u2 < 0 ||
		    !resp_str_to_ll(words[i + 3], strlen(words[i + 3]), &secs) ||
		    secs < 0) {
			snprintf(err, SETTING_ERR_LEN, "Error in hard, soft or "
			    "soft_seconds setting in buffer limit "
			    "configuration.");
			return -1;
		}
		out->obuf[c].hard = (long long)u;
		out->obuf[c].soft = (long long)u2;
		out->obuf[c].soft_seconds = secs;
		out->obuf_given |= 1 << c;
	}
	return 0;
}

/* Check a number against s's range, with Redis's reason. */
static int
settings_range(const struct setting *s, long long n, char *err)
{
	if (n >= s->min && n <= s->max)
		return 0;
	snprintf(err, SETTING_ERR_LEN, "argument must be between %lld and "
	    "%lld inclusive", s->min, s->max);
	return -1;
}

int
settings_parse(const struct setting *s, const char *v, size_t len,
    int runtime, struct setting_value *out, char *err)
{
	char buf[64], *end;
	unsigned long long u;
	int i, n;

	memset(out, 0, sizeof(*out));
	switch (s->type) {
	case SETTING_BOOL:
		if (len == 3 && strncasecmp(v, "yes", 3) == 0)
			out->num = 1;
		else if (len == 2 && strncasecmp(v, "no", 2) == 0)
			out->num = 0;
		else {
			snprintf(err, SETTING_ERR_LEN,
			    "argument must be 'yes' or 'no'");
			return -1;
		}
		return 0;
	case SETTING_INT:
		if (!resp_str_to_ll(v, len, &out->num)) {
			snprintf(err, SETTING_ERR_LEN, "argument couldn't be "
			    "parsed into an integer");
			return -1;
		}
		/* At startup, port -1 means no TCP at all (CONFIG SET keeps
		 * Redis's range, 0-65535). */
		if (s->id == S_PORT && !runtime && out->num == -1)
			return 0;
		return settings_range(s, out->num, err);
	case SETTING_OCTAL:
		settings_cstr(buf, sizeof(buf), v, len);
		errno = 0;
		out->num = strtoll(buf, &end, 8);
		if (len == 0 || len >= sizeof(buf) || *end != '\0' ||
		    errno != 0 || buf[0] == '-' || buf[0] == '+' ||
		    buf[0] == ' ') {
			snprintf(err, SETTING_ERR_LEN, "argument couldn't be "
			    "parsed into an integer");
			return -1;
		}
		if (out->num < s->min || out->num > s->max) {
			snprintf(err, SETTING_ERR_LEN, "argument must be "
			    "between %llo and %llo inclusive",
			    (unsigned long long)s->min,
			    (unsigned long long)s->max);
			return -1;
		}
		return 0;
	case SETTING_MEMORY:
		if (settings_parse_memory(v, len, &u) == -1) {
			snprintf(err, SETTING_ERR_LEN,
			    "argument must be a memory value");
			return -1;
		}
		/* An unsigned setting takes any 64-bit value (its bits are
		 * kept in the long long); a signed one must fit its range. */
		out->num = (long long)u;
		return (s->flags & SETTING_UNSIGNED) ? 0 :
		    settings_range(s, out->num, err);
	case SETTING_ENUM:
		n = 0;
		while (s->names[n] != NULL)
			n++;
		if (runtime && s->nsettable > 0)
			n = s->nsettable;
		for (i = 0; i < n; i++)
			if (strlen(s->names[i]) == len &&
			    strncasecmp(s->names[i], v, len) == 0) {
				out->num = i;
				return 0;
			}
		n = snprintf(err, SETTING_ERR_LEN,
		    "argument(s) must be one of the following: ");
		for (i = 0; s->names[i] != NULL &&
		    (!runtime || s->nsettable == 0 || i < s->nsettable); i++)
			n += snprintf(err + n, (size_t)(SETTING_ERR_LEN - n),
			    "%s%s", i > 0 ? ", " : "", s->names[i]);
		return -1;
	case SETTING_STRING:
		if ((s->flags & SETTING_NO_NUL) && memchr(v, '\0', len)) {
			snprintf(err, SETTING_ERR_LEN,
			    "argument must not contain NUL bytes");
			return -1;
		}
		out->str = v;
		out->len = len;
		return 0;
	case SETTING_OBUF:
		return settings_parse_obuf(v, len, out, err);
	case SETTING_FIXED:
		if (strlen(s->def) == len &&
		    strncasecmp(s->def, v, len) == 0)
			return 0;
		snprintf(err, SETTING_ERR_LEN, "this server only supports %s "
		    "'%.64s'", s->name, s->def);
		return -1;
	}
	return -1;
}

void
settings_store(struct server_config *cfg, const struct setting *s,
    const struct setting_value *v)
{
	char *field = (char *)cfg + s->offset;
	char **str;
	int c;

	switch (s->type) {
	case SETTING_BOOL:
		*(int *)(void *)field = (int)v->num;
		break;
	case SETTING_ENUM:
		if (s->id == S_EVENT_BACKEND) {
			str = (char **)(void *)field;
			mem_free(*str);
			*str = v->num == 0 ? NULL :
			    mem_strdup(s->names[v->num]);
		} else
			*(int *)(void *)field = (int)v->num;
		break;
	case SETTING_INT:
	case SETTING_OCTAL:
	case SETTING_MEMORY:
		*(long long *)(void *)field = v->num;
		break;
	case SETTING_STRING:
		str = (char **)(void *)field;
		mem_free(*str);
		*str = NULL;
		if (v->len > 0) {
			*str = mem_alloc(v->len + 1);
			memcpy(*str, v->str, v->len);
			(*str)[v->len] = '\0';
		}
		break;
	case SETTING_OBUF:
		/* Classes not named keep their limits, as in Redis. */
		for (c = 0; c < OBUF_CLASSES; c++)
			if (v->obuf_given & (1 << c))
				cfg->obuf[c] = v->obuf[c];
		break;
	case SETTING_FIXED:
		break;
	}
}

/* The client-output-buffer-limit value, as Redis shows it. */
static void
settings_format_obuf(const struct server_config *cfg, char *buf,
    size_t size)
{
	size_t off = 0;
	int c;

	buf[0] = '\0';
	for (c = 0; c < OBUF_CLASSES && off < size; c++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s %lld %lld "
		    "%lld", c > 0 ? " " : "", obuf_class_names[c],
		    cfg->obuf[c].hard, cfg->obuf[c].soft,
		    cfg->obuf[c].soft_seconds);
}

/* The data directory dir (NULL: the working one) as an absolute path. */
static void
settings_format_dir(const char *dir, char *buf, size_t size)
{
	char path[PATH_MAX + 1];

	if (dir == NULL ? getcwd(path, sizeof(path)) == NULL :
	    realpath(dir, path) == NULL)
		snprintf(path, sizeof(path), "%s", dir != NULL ? dir : "");
	snprintf(buf, size, "%s", path);
}

const char *
settings_format(const struct server_config *cfg, const struct setting *s,
    char *buf, size_t size)
{
	const char *field = (const char *)cfg + s->offset;
	const char *str;

	switch (s->type) {
	case SETTING_BOOL:
		snprintf(buf, size, "%s", *(const int *)(const void *)field ?
		    "yes" : "no");
		break;
	case SETTING_ENUM:
		if (s->id == S_EVENT_BACKEND) {
			str = *(char *const *)(const void *)field;
			snprintf(buf, size, "%s", str != NULL ? str : "auto");
		} else
			snprintf(buf, size, "%s",
			    s->names[*(const int *)(const void *)field]);
		break;
	case SETTING_INT:
	case SETTING_MEMORY:
		snprintf(buf, size, (s->flags & SETTING_UNSIGNED) ? "%llu" :
		    "%lld", *(const long long *)(const void *)field);
		break;
	case SETTING_OCTAL:
		snprintf(buf, size, "%llo",
		    (unsigned long long)*(const long long *)(const void *)field);
		break;
	case SETTING_STRING:
		str = *(char *const *)(const void *)field;
		/* dir reads as Redis shows it: the absolute directory. */
		if (s->id == S_DIR)
			settings_format_dir(str, buf, size);
		else
			snprintf(buf, size, "%s", str != NULL ? str : "");
		break;
	case SETTING_OBUF:
		settings_format_obuf(cfg, buf, size);
		break;
	case SETTING_FIXED:
		snprintf(buf, size, "%s", s->def);
		break;
	}
	return buf;
}

/* Fill cfg with every setting's default, parsed from the table. */
void
server_config_init(struct server_config *cfg)
{
	const struct setting *s;
	struct setting_value v;
	char err[SETTING_ERR_LEN];

	memset(cfg, 0, sizeof(*cfg));
	for (s = settings_table; s->name != NULL; s++) {
		if (s->type == SETTING_FIXED || s->def == NULL)
			continue;
		if (settings_parse(s, s->def, strlen(s->def), 0, &v, err) == -1)
			abort();        /* a bad default: a bug in the table */
		settings_store(cfg, s, &v);
	}
	cfg->tick_ms = 100;
}

/* The string fields, for freeing and copying. */
static char **
settings_strings(struct server_config *cfg, size_t i)
{
	char **fields[] = {
		&cfg->bind, &cfg->unixsocket, &cfg->requirepass,
		&cfg->logfile, &cfg->event_backend, &cfg->dir,
		&cfg->appenddirname, &cfg->appendfilename,
	};

	return i < sizeof(fields) / sizeof(fields[0]) ? fields[i] : NULL;
}

void
server_config_free(struct server_config *cfg)
{
	char **s;
	size_t i;

	for (i = 0; (s = settings_strings(cfg, i)) != NULL; i++) {
		mem_free(*s);
		*s = NULL;
	}
}

void
server_config_copy(struct server_config *dst,
    const struct server_config *src)
{
	char **s;
	size_t i;

	*dst = *src;
	for (i = 0; (s = settings_strings(dst, i)) != NULL; i++)
		if (*s != NULL)
			*s = mem_strdup(*s);
}

int
server_config_set(struct server_config *cfg, const char *name,
    const char *value, size_t vlen, char *err)
{
	const struct setting *s;
	struct setting_value v;

	for (s = settings_table; s->name != NULL; s++)
		if (settings_name_is(s->name, name, strlen(name)) ||
		    (s->alias != NULL &&
		    settings_name_is(s->alias, name, strlen(name))))
			break;
	if (s->name == NULL) {
		snprintf(err, SETTING_ERR_LEN, "unknown setting");
		return -1;
	}
	if (settings_parse(s, value, vlen, 0, &v, err) == -1)
		return -1;
	settings_store(cfg, s, &v);
	return 0;
}
