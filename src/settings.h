/* SPDX-License-Identifier: MIT */
/*
 * The one table of settings. Each row names a setting (Redis's name where
 * Redis has it), its type, range, default and whether CONFIG SET may
 * change it; the command line (--name value), the Python keyword
 * arguments (name_with_underscores=...), CONFIG GET/SET and the checks
 * at startup all go through it, so a setting is added in one place and
 * is validated, and refused with the same words, everywhere. The words
 * are Redis 7.0's CONFIG SET reasons.
 */
#ifndef TMC_SETTINGS_H
#define TMC_SETTINGS_H

#include <stddef.h>

#include "log.h"

#define SETTING_ERR_LEN 256          /* room for a reason */
#define SETTING_VALUE_MAX 4096       /* longest value CONFIG GET shows */

/* Client classes of client-output-buffer-limit (Redis's order). */
enum obuf_class { OBUF_NORMAL, OBUF_REPLICA, OBUF_PUBSUB, OBUF_CLASSES };

struct obuf_limit {
	long long hard;                  /* bytes; 0: none */
	long long soft;                  /* bytes; 0: none */
	long long soft_seconds;          /* over soft this long: closed */
};

/* maxmemory-policy values (settings.c has the names, in Redis's order). */
enum maxmemory_policy {
	MM_VOLATILE_LRU, MM_VOLATILE_LFU, MM_VOLATILE_RANDOM, MM_VOLATILE_TTL,
	MM_ALLKEYS_LRU, MM_ALLKEYS_LFU, MM_ALLKEYS_RANDOM, MM_NOEVICTION,
};

/* appendfsync values, in the order Redis names them in its errors. */
enum aof_fsync_policy { AOF_FSYNC_EVERYSEC, AOF_FSYNC_ALWAYS, AOF_FSYNC_NO };

/* One field per setting; server_config_init() fills in the defaults.
 * Strings are owned by the struct (server_config_free releases them). */
struct server_config {
	char *bind;                      /* "bind" */
	long long port;                  /* "port": 0 picks one, -1 none */
	char *unixsocket;                /* "unixsocket"; NULL: none */
	long long unixsocketperm;        /* "unixsocketperm" */
	long long maxclients;            /* "maxclients" */
	long long tcp_backlog;           /* "tcp-backlog" */
	long long tcp_keepalive;         /* "tcp-keepalive", seconds */
	long long timeout;               /* "timeout": idle seconds, 0 off */
	int protected_mode;              /* "protected-mode" */
	char *requirepass;               /* "requirepass"; NULL: none */
	long long proto_max_bulk_len;    /* "proto-max-bulk-len" */
	struct obuf_limit obuf[OBUF_CLASSES]; /* client-output-buffer-limit */
	int loglevel;                    /* "loglevel": enum log_level */
	char *logfile;                   /* "logfile"; NULL: stderr */
	char *event_backend;             /* "event-backend"; NULL: best */
	long long busy_poll_us;          /* "busy-poll-us" */
	long long hz;                    /* "hz", as given (1-500 used) */
	long long active_expire_effort;  /* "active-expire-effort" */
	long long maxmemory;             /* "maxmemory" (unsigned bits);
	                                  * 0: no limit */
	int maxmemory_policy;            /* "maxmemory-policy" */
	long long maxmemory_samples;     /* "maxmemory-samples" */
	long long maxmemory_tenacity;    /* "maxmemory-eviction-tenacity" */
	long long lfu_log_factor;        /* "lfu-log-factor" */
	long long lfu_decay_time;        /* "lfu-decay-time" */
	long long list_max_listpack_size; /* "list-max-listpack-size": > 0
	                                  * entries a list chunk holds, < 0
	                                  * its size (-1: 4 KB ... -5: 64 KB) */
	long long list_compress_depth;   /* "list-compress-depth" */
	char *dir;                       /* "dir"; NULL: the working one */
	int appendonly;                  /* "appendonly" */
	int appendfsync;                 /* "appendfsync": aof_fsync_policy */
	char *appenddirname;             /* "appenddirname" (under dir) */
	char *appendfilename;            /* "appendfilename": file prefix */
	long long aof_rewrite_perc;      /* "auto-aof-rewrite-percentage" */
	long long aof_rewrite_min_size;  /* "auto-aof-rewrite-min-size" */
	int aof_load_truncated;          /* "aof-load-truncated" */

	/* Not settings: hooks for embedders. */
	/* Called on the server thread about every tick_ms milliseconds
	 * (default 100); the Python extension checks for signals here. */
	void (*tick)(void *arg);
	void *tick_arg;
	int tick_ms;
	/* If set, log lines go here instead of the log file. */
	log_sink *log_sink;
	void *log_sink_arg;
};

enum setting_type {
	SETTING_BOOL,                    /* yes / no */
	SETTING_INT,                     /* decimal integer in [min, max] */
	SETTING_OCTAL,                   /* octal integer in [min, max] */
	SETTING_MEMORY,                  /* bytes, with k/kb/m/mb/g/gb */
	SETTING_ENUM,                    /* one of names (any case) */
	SETTING_STRING,                  /* text; "" means unset */
	SETTING_OBUF,                    /* client-output-buffer-limit */
	SETTING_FIXED,                   /* only its one value (CONFIG SET
	                                  * accepts that and nothing else) */
};

#define SETTING_IMMUTABLE (1 << 0)   /* CONFIG SET refuses it */
#define SETTING_NO_NUL    (1 << 1)   /* strings: no NUL byte */
#define SETTING_PROTECTED (1 << 3)   /* CONFIG SET refuses it as Redis
                                      * does its protected configs */
#define SETTING_UNSIGNED  (1 << 2)   /* memory: any 64-bit unsigned value,
                                      * kept in the field's bits, shown
                                      * unsigned (maxmemory, as Redis) */

/* Identifies a setting for the code that applies changes. */
enum setting_id {
	S_BIND, S_PORT, S_UNIXSOCKET, S_UNIXSOCKETPERM, S_MAXCLIENTS,
	S_TCP_BACKLOG, S_TCP_KEEPALIVE, S_TIMEOUT, S_PROTECTED_MODE,
	S_REQUIREPASS, S_PROTO_MAX_BULK_LEN, S_CLIENT_OBUF, S_LOGLEVEL,
	S_LOGFILE, S_EVENT_BACKEND, S_BUSY_POLL_US, S_HZ,
	S_ACTIVE_EXPIRE_EFFORT, S_MAXMEMORY, S_MAXMEMORY_POLICY,
	S_MAXMEMORY_SAMPLES, S_MAXMEMORY_TENACITY, S_LFU_LOG_FACTOR,
	S_LFU_DECAY_TIME, S_APPENDONLY, S_DAEMONIZE, S_DATABASES, S_DIR,
	S_SAVE, S_LIST_MAX_LISTPACK_SIZE, S_LIST_COMPRESS_DEPTH,
	S_APPENDFSYNC, S_APPENDDIRNAME, S_APPENDFILENAME,
	S_AOF_REWRITE_PERC, S_AOF_REWRITE_MIN_SIZE, S_AOF_LOAD_TRUNCATED,
};

struct setting {
	const char *name;                /* "maxmemory-policy" */
	const char *alias;               /* an older name, or NULL */
	enum setting_id id;
	enum setting_type type;
	int flags;                       /* SETTING_* */
	size_t offset;                   /* of the field in server_config */
	long long min, max;              /* numbers */
	const char *const *names;        /* SETTING_ENUM, NULL-terminated */
	int nsettable;                   /* enum: names[0..n) CONFIG SET
	                                  * takes (0: all); the rest only
	                                  * at startup */
	const char *def;                 /* the default, as text (NULL:
	                                  * computed, e.g. dir; for
	                                  * SETTING_FIXED: its one value) */
	const char *metavar;             /* for --help: "N", "PATH" ... */
	const char *help;                /* one line for --help; NULL:
	                                  * not a command-line option */
};

/* A parsed value, ready to store. */
struct setting_value {
	long long num;                   /* numbers, bools, enum indexes */
	const char *str;                 /* strings: into the input */
	size_t len;
	struct obuf_limit obuf[OBUF_CLASSES];
	int obuf_given;                  /* bit c: class c was given */
};

/* The table, terminated by a row whose name is NULL. */
extern const struct setting settings_table[];

/* The setting named name or its alias (any case), or NULL. */
const struct setting *settings_find(const char *name, size_t len);

/* Number of rows in the table. */
size_t settings_count(void);

/*
 * Parse v (len bytes) for s into *out, as CONFIG SET would (runtime 1)
 * or as the command line would (runtime 0: enum values meant for startup
 * only are taken too). Returns 0, or -1 with Redis's reason in err
 * (SETTING_ERR_LEN), e.g. "argument must be between 1 and 10 inclusive".
 * SETTING_FIXED values are checked against cur (its current value).
 */
int settings_parse(const struct setting *s, const char *v, size_t len,
    int runtime, struct setting_value *out, char *err);

/* Store a parsed value into cfg (strings are copied). */
void settings_store(struct server_config *cfg, const struct setting *s,
    const struct setting_value *v);

/* Write the value of s in cfg as CONFIG GET shows it; returns buf. */
const char *settings_format(const struct server_config *cfg,
    const struct setting *s, char *buf, size_t size);

/* Fill cfg with every default. */
void server_config_init(struct server_config *cfg);
/* Release the strings cfg owns (cfg itself is the caller's). */
void server_config_free(struct server_config *cfg);
/* Make dst a deep copy of src. */
void server_config_copy(struct server_config *dst,
    const struct server_config *src);

/*
 * Set the setting called name (its Redis name, or with '_' for '-') in
 * cfg from text, as the command line does. Returns 0, or -1 with the
 * reason in err (SETTING_ERR_LEN): "unknown setting" when no such
 * setting exists, else Redis's reason.
 */
int server_config_set(struct server_config *cfg, const char *name,
    const char *value, size_t vlen, char *err);

/* The name of a maxmemory-policy value. */
const char *settings_policy_name(int policy);

/* Parse a Redis memory value ("1gb") as Redis's memtoull: 0, or -1. */
int settings_parse_memory(const char *s, size_t len,
    unsigned long long *out);

#endif
