/* SPDX-License-Identifier: MIT */
/*
 * The command table and dispatch. One const row per command: name, arity,
 * flags, handler, key positions, ACL categories; cmd_server.c adds the
 * documentation COMMAND DOCS reports. Arity and unknown-command errors are checked here,
 * once, with Redis's texts; handlers never re-check argc.
 */
#ifndef TMC_COMMANDS_H
#define TMC_COMMANDS_H

#include <stddef.h>

struct client;
struct resp_arg;

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
	const struct command *sub;   /* subcommands (NULL-name terminated) */
	const char *parent;          /* container's name for subcommands */
};

/* The top-level table, terminated by a row whose name is NULL. */
extern const struct command command_table[];

/* Find a command by case-insensitive name in table (NULL if absent). */
const struct command *command_find(const struct command *table,
    const char *name, size_t len);

/* Run the request in c->argc/c->argv: look the command up (with its
 * subcommand), check arity, call the handler, count statistics. */
void command_dispatch(struct client *c);

/* Check a user and password (user NULL: "default") for AUTH and HELLO:
 * 0 and the client is authenticated, or -1 with WRONGPASS replied. */
int command_authenticate(struct client *c, const struct resp_arg *user,
    const struct resp_arg *pass);

/* The command's full name ("get", "config|get") into buf (64 bytes). */
const char *command_fullname(const struct command *cmd, char *buf);

/* ---- Handlers (commands.c: keyspace and connection) ---- */
command_proc cmd_auth, cmd_get, cmd_set, cmd_mget, cmd_mset, cmd_getdel, cmd_del, cmd_exists, cmd_keys,
    cmd_dbsize, cmd_ping, cmd_echo, cmd_quit, cmd_select, cmd_flushdb,
    cmd_flushall, cmd_shutdown;

/* ---- cmd_server.c: introspection and configuration ---- */

/* Subcommand tables of the container commands (NULL-name terminated). */
extern const struct command command_command_sub[];
extern const struct command command_config_sub[];
extern const struct command command_client_sub[];

command_proc cmd_info, cmd_command, cmd_command_count, cmd_command_docs,
    cmd_command_info, cmd_command_list, cmd_command_help,
    cmd_config_get, cmd_config_set, cmd_config_resetstat, cmd_config_help,
    cmd_client_setname, cmd_client_getname, cmd_client_id,
    cmd_client_setinfo, cmd_client_info, cmd_client_list,
    cmd_client_help, cmd_hello;

#endif
