/* SPDX-License-Identifier: MIT */
/*
 * The command table and dispatch. One row per command: name, arity,
 * flags, handler, key positions, ACL categories; command_docs.c holds the
 * documentation COMMAND DOCS reports. Lookup, arity, authentication and
 * the out-of-memory check happen here, once, with Redis's texts; handlers
 * never re-check argc. Every command also leaves through here: its
 * statistics, and (if it changed the keyspace) its propagation, are
 * done in one place, the single write point.
 *
 * Handlers live in cmd_<family>.c: string, keyspace, conn, config, info,
 * command, admin. The helpers they share are declared at the bottom.
 */
#ifndef TMC_COMMANDS_H
#define TMC_COMMANDS_H

#include <stddef.h>

#include "db.h"

struct client;
struct resp_arg;
struct resp_buf;
struct server;

/* Flags (reported by COMMAND INFO under Redis's names). */
#define CMD_WRITE     (1 << 0)   /* "write" */
#define CMD_READONLY  (1 << 1)   /* "readonly" */
#define CMD_FAST      (1 << 2)   /* "fast" */
#define CMD_ADMIN     (1 << 3)   /* "admin" */
#define CMD_NOSCRIPT  (1 << 4)   /* "noscript" */
#define CMD_LOADING   (1 << 5)   /* "loading" */
#define CMD_STALE     (1 << 6)   /* "stale" */
#define CMD_NOAUTH    (1 << 7)   /* "no_auth" */
#define CMD_SENTINEL  (1 << 8)   /* "sentinel" */
#define CMD_DENYOOM   (1 << 9)   /* "denyoom" */
#define CMD_NOMULTI   (1 << 10)  /* "no_multi" */
#define CMD_ALLOWBUSY (1 << 11)  /* "allow_busy" */
#define CMD_PUBSUB    (1 << 12)  /* "pubsub" */
#define CMD_BLOCKING  (1 << 13)  /* "blocking" */
#define CMD_SKIP_SLOWLOG (1 << 14) /* "skip_slowlog" */
#define CMD_NO_ASYNC_LOADING (1 << 15) /* "no_async_loading" */
#define CMD_MAY_REPLICATE (1 << 16) /* "may_replicate" */
#define CMD_MOVABLEKEYS (1 << 17) /* "movablekeys" */

typedef void command_proc(struct client *c);

struct command {
	const char *name;            /* lower case: "get", "get" under config */
	int arity;                   /* counts the name; -N means >= N */
	int flags;                   /* CMD_* */
	command_proc *proc;          /* handler; argc already checked */
	int first_key;               /* argv index of the first key, 0: none */
	int last_key;                /* last key index; -1: the last arg */
	int key_step;                /* between keys */
	const char *acl;             /* ACL categories, e.g. "@read @string @fast" */
	struct command *sub;         /* subcommands (NULL-name terminated) */
	const char *parent;          /* container's name for subcommands */
	int id;                      /* index into the statistics (set by
	                              * commands_init) */
};

/* Per-command statistics (INFO commandstats). */
struct command_stats {
	unsigned long long calls;    /* times it ran */
	unsigned long long usec;     /* microseconds spent running it */
	unsigned long long rejected; /* refused before running (arity ...) */
	unsigned long long failed;   /* ran and replied an error */
};

/* The family tables (cmd_*.c), each terminated by a row whose name is
 * NULL; commands.c lists them. */
extern struct command string_commands[], list_commands[],
    keyspace_commands[], conn_commands[], config_commands[], info_commands[],
    command_commands[], admin_commands[];

/* Number the commands and build the lookup table; idempotent and
 * thread-safe (the first server_create calls it). */
void commands_init(void);

/* Commands and subcommands in all (the size of the statistics array). */
int commands_count(void);

/* The top-level commands: how many, and the i-th (NULL past the end). */
int commands_top_count(void);
const struct command *commands_top(int i);

/* Call fn for every command and subcommand, in table order. */
void commands_foreach(void (*fn)(const struct command *cmd, void *arg),
    void *arg);

/* Find a top-level command by case-insensitive name (NULL if absent). */
const struct command *command_lookup(const char *name, size_t len);
/* Find a command by case-insensitive name in table (NULL if absent). */
const struct command *command_find(const struct command *table,
    const char *name, size_t len);
/* Find a command by its full name, any case: "get", or "config|get". */
const struct command *command_lookup_full(const char *name, size_t len);

/* Run the request in c->argc/c->argv: look the command up (with its
 * subcommand), check arity, authentication and memory, call the
 * handler, count statistics and propagate what it changed. */
void command_dispatch(struct client *c);

/* Run cmd (already checked) for the request in c->argc/c->argv, which
 * started at start (wall-clock us): the handler, the statistics, the
 * propagation. EXEC runs each queued command through it. */
void command_call(struct client *c, const struct command *cmd,
    long long start);

/* Check a user and password (user NULL: "default") for AUTH and HELLO:
 * 0 and the client is authenticated, or -1 with WRONGPASS replied. */
int command_authenticate(struct client *c, const struct resp_arg *user,
    const struct resp_arg *pass);

/* The command's full name ("get", "config|get") into buf (64 bytes). */
const char *command_fullname(const struct command *cmd, char *buf);

/* Count an error reply's prefix ("ERR", "WRONGTYPE") for INFO
 * errorstats; msg is the reply without its leading '-'. */
void command_count_error(struct server *srv, const char *msg, size_t len);

/* Propagate a change to the keyspace in replayable form (argv), through
 * the one hook every write leaves by. */
void command_propagate(struct server *srv, int argc,
    const struct resp_arg *argv);

/*
 * Make the running command propagate as argc words (copied) instead of
 * as it was sent, when it changes the keyspace: SET ... EX 10 as SET ...
 * PXAT <ms>, EXPIRE as PEXPIREAT, and so on, so that a replay gives the
 * same keyspace whenever it runs. words[i] is lens[i] bytes.
 */
void command_rewrite(struct client *c, int argc, const char *const *words,
    const size_t *lens);

/* ---- Helpers the handlers share (commands.c) ---- */

/* Whether an argument is word, ignoring case. */
int arg_is(const struct resp_arg *a, const char *word);
/* The same, reading the argument as a C string, up to its first NUL byte,
 * as Redis reads option words ("NX\0x" is NX there). */
int arg_is_word(const struct resp_arg *a, const char *word);
/* Length of an argument as a C string sees it (to the first NUL): Redis
 * formats names in error texts with %s. */
int arg_cstrlen(const struct resp_arg *a);
/* Parse a whole argument as a long long (Redis's string2ll); on failure
 * reply "value is not an integer or out of range" and return -1. */
int arg_ll(struct client *c, const struct resp_arg *a, long long *out);
/* Parse an argument as a long double as Redis's getLongDoubleFromObject
 * does; on failure reply "value is not a valid float", return -1. */
int arg_ld(struct client *c, const struct resp_arg *a, long double *out);
/* Redis's string2ld over s[0..len): 1 and *out set, or 0. */
int str_to_ld(const char *s, size_t len, long double *out);

void reply_syntax_error(struct client *c);  /* -ERR syntax error */
void reply_wrongtype(struct client *c);     /* -WRONGTYPE ... */
/* Reply a HELP listing as Redis's addReplyHelp does (lines NULL-ended). */
void reply_help(struct client *c, const char *container,
    const char *const *lines);
/* Append printf-style text to b (no RESP framing). */
void buf_catf(struct resp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Look key up for a command that needs a value of type (OBJ_STRING ...):
 * returns 0 with *k set (NULL if the key does not exist), or -1 after
 * replying WRONGTYPE. flags as for db_find.
 */
int lookup_typed(struct client *c, const struct resp_arg *key, int type,
    int flags, dbkey **k);

/* ---- cmd_string.c ---- */
command_proc cmd_get, cmd_set, cmd_mget, cmd_mset, cmd_getdel;

/* ---- cmd_keyspace.c ---- */
command_proc cmd_del, cmd_exists, cmd_keys, cmd_dbsize, cmd_flushdb,
    cmd_flushall;

/* ---- cmd_conn.c ---- */
extern struct command command_client_sub[];
command_proc cmd_auth, cmd_ping, cmd_echo, cmd_quit, cmd_select, cmd_hello,
    cmd_client_setname, cmd_client_getname, cmd_client_id,
    cmd_client_setinfo, cmd_client_info, cmd_client_list, cmd_client_unblock,
    cmd_client_help;

/* ---- cmd_config.c ---- */
extern struct command command_config_sub[];
command_proc cmd_config_get, cmd_config_set, cmd_config_resetstat,
    cmd_config_help;

/* ---- cmd_info.c ---- */
command_proc cmd_info;
/* The Redis version we answer as (INFO redis_version, HELLO version):
 * clients pick features by it, and we follow Redis 7.0's behaviour. */
#define REDIS_COMPAT_VERSION "7.0.15"

/* ---- cmd_command.c ---- */
extern struct command command_command_sub[];
command_proc cmd_command, cmd_command_count, cmd_command_docs,
    cmd_command_info, cmd_command_list, cmd_command_help;

/* ---- cmd_multi.c ---- */
command_proc cmd_multi, cmd_exec, cmd_discard, cmd_watch, cmd_unwatch;
extern struct command multi_commands[];

/* ---- cmd_admin.c ---- */
command_proc cmd_shutdown, cmd_bgrewriteaof;

#endif
