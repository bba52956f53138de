/* SPDX-License-Identifier: MIT */
/*
 * Introspection and configuration: COMMAND (INFO, DOCS, LIST, COUNT),
 * CONFIG, CLIENT, INFO and HELLO, with replies laid out as Redis 7.0
 * lays them out, so redis-cli, redis-benchmark and client libraries that
 * ask the server about itself work unchanged.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "db.h"
#include "event.h"
#include "glob.h"
#include "mem.h"
#include "resp.h"
#include "server.h"
#include "state.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* The Redis version we answer as (INFO redis_version, HELLO version):
 * clients pick features by it, and we follow Redis 7.0's behaviour. */
#define CMD_SERVER_REDIS_VERSION "7.0.15"

/* ---- Subcommand tables ---- */

/*
 * Rows as in command_table (commands.c): name, arity (Redis 7.0's, counting
 * the container and the subcommand), flags, handler, key positions, ACL
 * categories, no subcommands, the container's name.
 */
const struct command command_command_sub[] = {
	{ "count", 2, CMD_LOADING | CMD_STALE, cmd_command_count, 0, 0, 0,
	  "@slow @connection", NULL, "command" },
	{ "docs", -2, CMD_LOADING | CMD_STALE, cmd_command_docs, 0, 0, 0,
	  "@slow @connection", NULL, "command" },
	{ "info", -2, CMD_LOADING | CMD_STALE, cmd_command_info, 0, 0, 0,
	  "@slow @connection", NULL, "command" },
	{ "list", -2, CMD_LOADING | CMD_STALE, cmd_command_list, 0, 0, 0,
	  "@slow @connection", NULL, "command" },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_command_help, 0, 0, 0,
	  "@slow @connection", NULL, "command" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
};

const struct command command_config_sub[] = {
	{ "get", -3, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_get, 0, 0, 0, "@admin @slow @dangerous", NULL, "config" },
	{ "set", -4, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_set, 0, 0, 0, "@admin @slow @dangerous", NULL, "config" },
	{ "resetstat", 2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_config_resetstat, 0, 0, 0, "@admin @slow @dangerous", NULL,
	  "config" },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_config_help, 0, 0, 0,
	  "@slow", NULL, "config" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
};

/* CLIENT SETINFO comes from Redis 7.2 (7.0 lacks it): client libraries
 * send it on connect and it costs nothing to accept. */
const struct command command_client_sub[] = {
	{ "setname", 3, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_setname, 0, 0, 0, "@slow @connection", NULL, "client" },
	{ "getname", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_getname, 0, 0, 0, "@slow @connection", NULL, "client" },
	{ "id", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, cmd_client_id,
	  0, 0, 0, "@slow @connection", NULL, "client" },
	{ "setinfo", 4, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_setinfo, 0, 0, 0, "@slow @connection", NULL, "client" },
	{ "info", 2, CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, cmd_client_info,
	  0, 0, 0, "@slow @connection", NULL, "client" },
	{ "list", -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
	  cmd_client_list, 0, 0, 0, "@admin @slow @dangerous @connection",
	  NULL, "client" },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_client_help, 0, 0, 0,
	  "@slow @connection", NULL, "client" },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
};

/* ---- Documentation (COMMAND DOCS) and the rest of COMMAND INFO ---- */

#define DOC_OPTIONAL       (1 << 0)   /* "optional" */
#define DOC_MULTIPLE       (1 << 1)   /* "multiple" */
#define DOC_MULTIPLE_TOKEN (1 << 2)   /* "multiple_token" */

/*
 * One argument as COMMAND DOCS describes it. An argument of type "key"
 * refers to key spec 0 (key_spec_index), the only key spec our commands
 * have; "oneof" and "block" arguments list their members in sub.
 */
struct doc_arg {
	const char *name;
	const char *type;                /* "key", "string", "oneof", ... */
	const char *token;               /* literal keyword, or NULL */
	const char *since;               /* Redis version, or NULL */
	const char *deprecated;          /* deprecated_since, or NULL */
	int flags;                       /* DOC_* */
	const struct doc_arg *sub;       /* members, NULL-name terminated */
};

/* One history note: the Redis version and what changed. */
struct doc_history {
	const char *version;
	const char *text;
};

/*
 * What the command table does not say about a command: its
 * documentation, the tips and the key spec flags COMMAND INFO reports.
 * The facts are Redis 7.0.15's (COMMAND DOCS / COMMAND INFO), restricted
 * to the arguments we accept.
 */
struct command_doc {
	const char *name;                /* full name: "get", "config|get" */
	const char *summary;
	const char *since;
	const char *group;
	const char *complexity;
	const struct doc_history *history; /* NULL-version terminated */
	const struct doc_arg *args;      /* NULL-name terminated */
	const char *tips;                /* space-separated, or NULL */
	const char *key_flags;           /* key spec flags, space-separated */
	const char *key_notes;           /* key spec notes, or NULL */
};

#define DOC_ARGS(...) \
	((const struct doc_arg[]){ __VA_ARGS__, { .name = NULL } })
#define DOC_HISTORY(...) \
	((const struct doc_history[]){ __VA_ARGS__, { .version = NULL } })

static const struct command_doc command_docs[] = {
	{ .name = "get",
	  .summary = "Get the value of a key",
	  .since = "1.0.0", .group = "string",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key" }),
	  .key_flags = "RO access" },
	/* Without Redis's "expiration" argument: no EX/PX/KEEPTTL yet. */
	{ .name = "set",
	  .summary = "Set the string value of a key",
	  .since = "1.0.0", .group = "string",
	  .complexity = "O(1)",
	  .history = DOC_HISTORY(
		{ "2.6.12",
		    "Added the `EX`, `PX`, `NX` and `XX` options." },
		{ "6.0.0",
		    "Added the `KEEPTTL` option." },
		{ "6.2.0",
		    "Added the `GET`, `EXAT` and `PXAT` option." },
		{ "7.0.0",
		    "Allowed the `NX` and `GET` options to be used "
		    "together." }),
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key" },
		{ .name = "value", .type = "string" },
		{ .name = "condition", .type = "oneof", .since = "2.6.12",
		  .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "nx", .type = "pure-token", .token = "NX" },
			{ .name = "xx", .type = "pure-token",
			  .token = "XX" }) },
		{ .name = "get", .type = "pure-token", .token = "GET",
		  .since = "6.2.0", .flags = DOC_OPTIONAL }),
	  .key_notes = "RW and ACCESS due to the optional `GET` argument",
	  .key_flags = "RW access update variable_flags" },
	{ .name = "mget",
	  .summary = "Get the values of all the given keys",
	  .since = "1.0.0", .group = "string",
	  .complexity = "O(N) where N is the number of keys to retrieve.",
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key", .flags = DOC_MULTIPLE }),
	  .tips = "request_policy:multi_shard",
	  .key_flags = "RO access" },
	{ .name = "mset",
	  .summary = "Set multiple keys to multiple values",
	  .since = "1.0.1", .group = "string",
	  .complexity = "O(N) where N is the number of keys to set.",
	  .args = DOC_ARGS(
		{ .name = "key_value", .type = "block", .flags = DOC_MULTIPLE,
		  .sub = DOC_ARGS(
			{ .name = "key", .type = "key" },
			{ .name = "value", .type = "string" }) }),
	  .tips = "request_policy:multi_shard "
		    "response_policy:all_succeeded",
	  .key_flags = "OW update" },
	{ .name = "getdel",
	  .summary = "Get the value of a key and delete the key",
	  .since = "6.2.0", .group = "string",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key" }),
	  .key_flags = "RW access delete" },
	{ .name = "del",
	  .summary = "Delete a key",
	  .since = "1.0.0", .group = "generic",
	  .complexity = "O(N) where N is the number of keys that will be "
		    "removed. When a key to remove holds a value other "
		    "than a string, the individual complexity for this "
		    "key is O(M) where M is the number of elements in "
		    "the list, set, sorted set or hash. Removing a "
		    "single key that holds a string value is O(1).",
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key", .flags = DOC_MULTIPLE }),
	  .tips = "request_policy:multi_shard response_policy:agg_sum",
	  .key_flags = "RM delete" },
	{ .name = "exists",
	  .summary = "Determine if a key exists",
	  .since = "1.0.0", .group = "generic",
	  .complexity = "O(N) where N is the number of keys to check.",
	  .history = DOC_HISTORY(
		{ "3.0.3",
		    "Accepts multiple `key` arguments." }),
	  .args = DOC_ARGS(
		{ .name = "key", .type = "key", .flags = DOC_MULTIPLE }),
	  .tips = "request_policy:multi_shard response_policy:agg_sum",
	  .key_flags = "RO" },
	{ .name = "keys",
	  .summary = "Find all keys matching the given pattern",
	  .since = "1.0.0", .group = "generic",
	  .complexity = "O(N) with N being the number of keys in the "
		    "database, under the assumption that the key names "
		    "in the database and the given pattern have limited "
		    "length.",
	  .args = DOC_ARGS(
		{ .name = "pattern", .type = "pattern" }),
	  .tips = "request_policy:all_shards "
		    "nondeterministic_output_order" },
	{ .name = "dbsize",
	  .summary = "Return the number of keys in the selected database",
	  .since = "1.0.0", .group = "server",
	  .complexity = "O(1)",
	  .tips = "request_policy:all_shards response_policy:agg_sum" },
	{ .name = "ping",
	  .summary = "Ping the server",
	  .since = "1.0.0", .group = "connection",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "message", .type = "string", .flags = DOC_OPTIONAL }),
	  .tips = "request_policy:all_shards "
		    "response_policy:all_succeeded" },
	{ .name = "echo",
	  .summary = "Echo the given string",
	  .since = "1.0.0", .group = "connection",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "message", .type = "string" }) },
	{ .name = "quit",
	  .summary = "Close the connection",
	  .since = "1.0.0", .group = "connection",
	  .complexity = "O(1)" },
	{ .name = "select",
	  .summary = "Change the selected database for the current "
		    "connection",
	  .since = "1.0.0", .group = "connection",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "index", .type = "integer" }) },
	{ .name = "flushdb",
	  .summary = "Remove all keys from the current database",
	  .since = "1.0.0", .group = "server",
	  .complexity = "O(N) where N is the number of keys in the selected "
		    "database",
	  .history = DOC_HISTORY(
		{ "4.0.0",
		    "Added the `ASYNC` flushing mode modifier." },
		{ "6.2.0",
		    "Added the `SYNC` flushing mode modifier." }),
	  .args = DOC_ARGS(
		{ .name = "async", .type = "oneof", .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "async", .type = "pure-token",
			  .token = "ASYNC", .since = "4.0.0" },
			{ .name = "sync", .type = "pure-token",
			  .token = "SYNC", .since = "6.2.0" }) }),
	  .tips = "request_policy:all_shards "
		    "response_policy:all_succeeded" },
	{ .name = "flushall",
	  .summary = "Remove all keys from all databases",
	  .since = "1.0.0", .group = "server",
	  .complexity = "O(N) where N is the total number of keys in all "
		    "databases",
	  .history = DOC_HISTORY(
		{ "4.0.0",
		    "Added the `ASYNC` flushing mode modifier." },
		{ "6.2.0",
		    "Added the `SYNC` flushing mode modifier." }),
	  .args = DOC_ARGS(
		{ .name = "async", .type = "oneof", .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "async", .type = "pure-token",
			  .token = "ASYNC", .since = "4.0.0" },
			{ .name = "sync", .type = "pure-token",
			  .token = "SYNC", .since = "6.2.0" }) }),
	  .tips = "request_policy:all_shards "
		    "response_policy:all_succeeded" },
	{ .name = "shutdown",
	  .summary = "Synchronously save the dataset to disk and then "
		    "shut down the server",
	  .since = "1.0.0", .group = "server",
	  .complexity = "O(N) when saving, where N is the total number of "
		    "keys in all databases when saving data, otherwise "
		    "O(1)",
	  .history = DOC_HISTORY(
		{ "7.0.0",
		    "Added the `NOW`, `FORCE` and `ABORT` modifiers." }),
	  .args = DOC_ARGS(
		{ .name = "nosave_save", .type = "oneof",
		  .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "nosave", .type = "pure-token",
			  .token = "NOSAVE" },
			{ .name = "save", .type = "pure-token",
			  .token = "SAVE" }) },
		{ .name = "now", .type = "pure-token", .token = "NOW",
		  .since = "7.0.0", .flags = DOC_OPTIONAL },
		{ .name = "force", .type = "pure-token", .token = "FORCE",
		  .since = "7.0.0", .flags = DOC_OPTIONAL },
		{ .name = "abort", .type = "pure-token", .token = "ABORT",
		  .since = "7.0.0", .flags = DOC_OPTIONAL }) },
	{ .name = "command",
	  .summary = "Get array of Redis command details",
	  .since = "2.8.13", .group = "server",
	  .complexity = "O(N) where N is the total number of Redis commands",
	  .tips = "nondeterministic_output_order" },
	{ .name = "command|count",
	  .summary = "Get total number of Redis commands",
	  .since = "2.8.13", .group = "server",
	  .complexity = "O(1)" },
	{ .name = "command|docs",
	  .summary = "Get array of specific Redis command documentation",
	  .since = "7.0.0", .group = "server",
	  .complexity = "O(N) where N is the number of commands to look up",
	  .args = DOC_ARGS(
		{ .name = "command-name", .type = "string",
		  .flags = DOC_OPTIONAL | DOC_MULTIPLE }),
	  .tips = "nondeterministic_output_order" },
	{ .name = "command|info",
	  .summary = "Get array of specific Redis command details, or "
		    "all when no argument is given.",
	  .since = "2.8.13", .group = "server",
	  .complexity = "O(N) where N is the number of commands to look up",
	  .history = DOC_HISTORY(
		{ "7.0.0",
		    "Allowed to be called with no argument to get info "
		    "on all commands." }),
	  .args = DOC_ARGS(
		{ .name = "command-name", .type = "string",
		  .flags = DOC_OPTIONAL | DOC_MULTIPLE }),
	  .tips = "nondeterministic_output_order" },
	{ .name = "command|list",
	  .summary = "Get an array of Redis command names",
	  .since = "7.0.0", .group = "server",
	  .complexity = "O(N) where N is the total number of Redis commands",
	  .args = DOC_ARGS(
		{ .name = "filterby", .type = "oneof", .token = "FILTERBY",
		  .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "module-name", .type = "string",
			  .token = "MODULE" },
			{ .name = "category", .type = "string",
			  .token = "ACLCAT" },
			{ .name = "pattern", .type = "pattern",
			  .token = "PATTERN" }) }),
	  .tips = "nondeterministic_output_order" },
	{ .name = "command|help",
	  .summary = "Show helpful text about the different subcommands",
	  .since = "5.0.0", .group = "server",
	  .complexity = "O(1)" },
	{ .name = "config",
	  .summary = "A container for server configuration commands",
	  .since = "2.0.0", .group = "server",
	  .complexity = "Depends on subcommand." },
	{ .name = "config|get",
	  .summary = "Get the values of configuration parameters",
	  .since = "2.0.0", .group = "server",
	  .complexity = "O(N) when N is the number of configuration "
		    "parameters provided",
	  .history = DOC_HISTORY(
		{ "7.0.0",
		    "Added the ability to pass multiple pattern "
		    "parameters in one call" }),
	  .args = DOC_ARGS(
		{ .name = "parameter", .type = "block", .flags = DOC_MULTIPLE,
		  .sub = DOC_ARGS(
			{ .name = "parameter", .type = "string" }) }) },
	{ .name = "config|set",
	  .summary = "Set configuration parameters to the given values",
	  .since = "2.0.0", .group = "server",
	  .complexity = "O(N) when N is the number of configuration "
		    "parameters provided",
	  .history = DOC_HISTORY(
		{ "7.0.0",
		    "Added the ability to set multiple parameters in "
		    "one call." }),
	  .args = DOC_ARGS(
		{ .name = "parameter_value", .type = "block",
		  .flags = DOC_MULTIPLE,
		  .sub = DOC_ARGS(
			{ .name = "parameter", .type = "string" },
			{ .name = "value", .type = "string" }) }),
	  .tips = "request_policy:all_nodes "
		    "response_policy:all_succeeded" },
	{ .name = "config|resetstat",
	  .summary = "Reset the stats returned by INFO",
	  .since = "2.0.0", .group = "server",
	  .complexity = "O(1)" },
	{ .name = "config|help",
	  .summary = "Show helpful text about the different subcommands",
	  .since = "5.0.0", .group = "server",
	  .complexity = "O(1)" },
	{ .name = "client",
	  .summary = "A container for client connection commands",
	  .since = "2.4.0", .group = "connection",
	  .complexity = "Depends on subcommand." },
	{ .name = "client|setname",
	  .summary = "Set the current connection name",
	  .since = "2.6.9", .group = "connection",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "connection-name", .type = "string" }) },
	{ .name = "client|getname",
	  .summary = "Get the current connection name",
	  .since = "2.6.9", .group = "connection",
	  .complexity = "O(1)" },
	{ .name = "client|id",
	  .summary = "Returns the client ID for the current connection",
	  .since = "5.0.0", .group = "connection",
	  .complexity = "O(1)" },
	/* Redis 7.2's (7.0 has no CLIENT SETINFO). */
	{ .name = "client|setinfo",
	  .summary = "Set client or connection specific info",
	  .since = "7.2.0", .group = "connection",
	  .complexity = "O(1)",
	  .args = DOC_ARGS(
		{ .name = "attr", .type = "oneof",
		  .sub = DOC_ARGS(
			{ .name = "libname", .type = "string",
			  .token = "LIB-NAME" },
			{ .name = "libver", .type = "string",
			  .token = "LIB-VER" }) }) },
	{ .name = "client|info",
	  .summary = "Returns information about the current client "
		    "connection.",
	  .since = "6.2.0", .group = "connection",
	  .complexity = "O(1)",
	  .tips = "nondeterministic_output" },
	{ .name = "client|list",
	  .summary = "Get the list of client connections",
	  .since = "2.4.0", .group = "connection",
	  .complexity = "O(N) where N is the number of client connections",
	  .history = DOC_HISTORY(
		{ "2.8.12",
		    "Added unique client `id` field." },
		{ "5.0.0",
		    "Added optional `TYPE` filter." },
		{ "6.0.0",
		    "Added `user` field." },
		{ "6.2.0",
		    "Added `argv-mem`, `tot-mem`, `laddr` and `redir` "
		    "fields and the optional `ID` filter." },
		{ "7.0.0",
		    "Added `resp`, `multi-mem`, `rbs` and `rbp` fields." },
		{ "7.0.3",
		    "Added `ssub` field." }),
	  .args = DOC_ARGS(
		{ .name = "normal_master_replica_pubsub", .type = "oneof",
		  .token = "TYPE", .since = "5.0.0", .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "normal", .type = "pure-token",
			  .token = "NORMAL" },
			{ .name = "master", .type = "pure-token",
			  .token = "MASTER" },
			{ .name = "replica", .type = "pure-token",
			  .token = "REPLICA" },
			{ .name = "pubsub", .type = "pure-token",
			  .token = "PUBSUB" }) },
		{ .name = "id", .type = "block", .token = "ID",
		  .since = "6.2.0", .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "client-id", .type = "integer",
			  .flags = DOC_MULTIPLE }) }),
	  .tips = "nondeterministic_output" },
	{ .name = "client|help",
	  .summary = "Show helpful text about the different subcommands",
	  .since = "5.0.0", .group = "connection",
	  .complexity = "O(1)" },
	{ .name = "info",
	  .summary = "Get information and statistics about the server",
	  .since = "1.0.0", .group = "server",
	  .complexity = "O(1)",
	  .history = DOC_HISTORY(
		{ "7.0.0",
		    "Added support for taking multiple section "
		    "arguments." }),
	  .args = DOC_ARGS(
		{ .name = "section", .type = "string",
		  .flags = DOC_OPTIONAL | DOC_MULTIPLE }),
	  .tips = "nondeterministic_output request_policy:all_shards "
		    "response_policy:special" },
	{ .name = "auth",
	  .summary = "Authenticate to the server",
	  .since = "1.0.0", .group = "connection",
	  .complexity = "O(N) where N is the number of passwords defined for "
		"the user",
	  .history = DOC_HISTORY(
		{ "6.0.0", "Added ACL style (username and password)." }),
	  .args = DOC_ARGS(
		{ .name = "username", .type = "string", .since = "6.0.0",
		  .flags = DOC_OPTIONAL },
		{ .name = "password", .type = "string" }) },
	{ .name = "hello",
	  .summary = "Handshake with Redis",
	  .since = "6.0.0", .group = "connection",
	  .complexity = "O(1)",
	  .history = DOC_HISTORY(
		{ "6.2.0",
		    "`protover` made optional; when called without "
		    "arguments the command reports the current "
		    "connection's context." }),
	  .args = DOC_ARGS(
		{ .name = "arguments", .type = "block", .flags = DOC_OPTIONAL,
		  .sub = DOC_ARGS(
			{ .name = "protover", .type = "integer" },
			{ .name = "username_password", .type = "block",
			  .token = "AUTH", .flags = DOC_OPTIONAL,
			  .sub = DOC_ARGS(
				{ .name = "username", .type = "string" },
				{ .name = "password", .type = "string" }) },
			{ .name = "clientname", .type = "string",
			  .token = "SETNAME", .flags = DOC_OPTIONAL }) }) },
};

/* ---- Small helpers ---- */

/* Length of an argument as a C string sees it: Redis formats names in
 * error texts with %s, which stops at the first NUL byte. */
static int
arg_cstrlen(const struct resp_arg *a)
{
	const char *nul = memchr(a->ptr, '\0', a->len);
	size_t n = nul != NULL ? (size_t)(nul - a->ptr) : a->len;

	return n > INT_MAX ? INT_MAX : (int)n;
}

/* Whether an argument is word, ignoring case. */
static int
arg_is(const struct resp_arg *a, const char *word)
{
	size_t n = strlen(word);

	return a->len == n && strncasecmp(a->ptr, word, n) == 0;
}

/* Reply Redis's "-ERR syntax error". */
static void
reply_syntax_error(struct client *c)
{
	resp_add_error(&c->reply, "syntax error", 12);
}

/* Append printf-style text to b (no RESP framing). */
static void __attribute__((format(printf, 2, 3)))
buf_catf(struct resp_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	resp_buf_reserve(b, 256);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		resp_buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Count the words of a space-separated list (NULL: none). */
static long long
words_count(const char *words)
{
	long long n = 0;
	const char *p = words;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		n++;
		while (*p != '\0' && *p != ' ')
			p++;
	}
	return n;
}

/* Reply a space-separated word list as an array of status replies
 * (status != 0, for flags and categories) or of bulk strings. */
static void
reply_words(struct resp_buf *b, const char *words, int status)
{
	const char *p = words, *start;

	resp_add_array_len(b, words_count(words));
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if (status) {
			resp_buf_append(b, "+", 1);
			resp_buf_append(b, start, (size_t)(p - start));
			resp_buf_append(b, "\r\n", 2);
		} else
			resp_add_bulk(b, start, (size_t)(p - start));
	}
}

/* Whether the space-separated list words holds word (any case). */
static int
words_have(const char *words, const char *word, size_t len)
{
	const char *p = words, *start;

	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		start = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if ((size_t)(p - start) == len && len > 0 &&
		    strncasecmp(start, word, len) == 0)
			return 1;
	}
	return 0;
}

/*
 * Reply a HELP listing as Redis's addReplyHelp does: a title naming the
 * container, the lines (NULL-terminated), then HELP itself, all as
 * status replies.
 */
static void
reply_help(struct client *c, const char *container, const char *const *lines)
{
	long long n = 0;
	char title[128];

	while (lines[n] != NULL)
		n++;
	resp_add_array_len(&c->reply, n + 3);
	snprintf(title, sizeof(title),
	    "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	    container);
	resp_add_simple(&c->reply, title);
	for (n = 0; lines[n] != NULL; n++)
		resp_add_simple(&c->reply, lines[n]);
	resp_add_simple(&c->reply, "HELP");
	resp_add_simple(&c->reply, "    Prints this help.");
}

/* Number of rows in a NULL-name terminated command table (NULL: 0). */
static long long
table_count(const struct command *table)
{
	long long n = 0;

	while (table != NULL && table[n].name != NULL)
		n++;
	return n;
}

/*
 * Find a command by its full name, any case: "get", or "config|get" for
 * a subcommand. NULL if there is none (also for more than one '|', as in
 * Redis).
 */
static const struct command *
command_lookup_full(const char *name, size_t len)
{
	const struct command *parent;
	const char *bar = memchr(name, '|', len);
	size_t plen;

	if (bar == NULL)
		return command_find(command_table, name, len);
	plen = (size_t)(bar - name);
	parent = command_find(command_table, name, plen);
	if (parent == NULL || parent->sub == NULL ||
	    memchr(bar + 1, '|', len - plen - 1) != NULL)
		return NULL;
	return command_find(parent->sub, bar + 1, len - plen - 1);
}

/* The documentation row for a full name, or NULL. */
static const struct command_doc *
doc_find(const char *fullname)
{
	size_t i;

	for (i = 0; i < sizeof(command_docs) / sizeof(command_docs[0]); i++)
		if (strcmp(command_docs[i].name, fullname) == 0)
			return &command_docs[i];
	return NULL;
}

/* ---- COMMAND INFO ---- */

/* Flag names in the order Redis 7.0 lists them. CMD_SENTINEL is not
 * listed: Redis 7.0 does not report it either. */
static const struct {
	int flag;
	const char *name;
} command_flag_names[] = {
	{ CMD_WRITE, "write" },
	{ CMD_READONLY, "readonly" },
	{ CMD_DENYOOM, "denyoom" },
	{ CMD_ADMIN, "admin" },
	{ CMD_NOSCRIPT, "noscript" },
	{ CMD_LOADING, "loading" },
	{ CMD_STALE, "stale" },
	{ CMD_FAST, "fast" },
	{ CMD_NOAUTH, "no_auth" },
	{ CMD_NOMULTI, "no_multi" },
	{ CMD_ALLOWBUSY, "allow_busy" },
	{ 0, NULL },
};

/* Reply a command's flags as an array of status replies. */
static void
reply_command_flags(struct resp_buf *b, int flags)
{
	long long n = 0;
	int i;

	for (i = 0; command_flag_names[i].name != NULL; i++)
		if (flags & command_flag_names[i].flag)
			n++;
	resp_add_array_len(b, n);
	for (i = 0; command_flag_names[i].name != NULL; i++)
		if (flags & command_flag_names[i].flag)
			resp_add_simple(b, command_flag_names[i].name);
}

/*
 * Reply the key specs: none for a command without keys, else one spec
 * of the "index" + "range" kind built from the row's key positions, with
 * the flags and notes of the documentation row.
 */
static void
reply_key_specs(struct resp_buf *b, const struct command *cmd,
    const struct command_doc *d)
{
	int notes = d != NULL && d->key_notes != NULL;

	if (cmd->first_key <= 0) {
		resp_add_array_len(b, 0);
		return;
	}
	resp_add_array_len(b, 1);
	resp_add_array_len(b, notes ? 8 : 6);
	if (notes) {
		resp_add_bulk_str(b, "notes");
		resp_add_bulk_str(b, d->key_notes);
	}
	resp_add_bulk_str(b, "flags");
	reply_words(b, d != NULL ? d->key_flags : NULL, 1);
	resp_add_bulk_str(b, "begin_search");
	resp_add_array_len(b, 4);
	resp_add_bulk_str(b, "type");
	resp_add_bulk_str(b, "index");
	resp_add_bulk_str(b, "spec");
	resp_add_array_len(b, 2);
	resp_add_bulk_str(b, "index");
	resp_add_int(b, cmd->first_key);
	resp_add_bulk_str(b, "find_keys");
	resp_add_array_len(b, 4);
	resp_add_bulk_str(b, "type");
	resp_add_bulk_str(b, "range");
	resp_add_bulk_str(b, "spec");
	resp_add_array_len(b, 6);
	resp_add_bulk_str(b, "lastkey");
	/* Relative to the first key, or counted from the end if < 0. */
	resp_add_int(b, cmd->last_key < 0 ? cmd->last_key :
	    cmd->last_key - cmd->first_key);
	resp_add_bulk_str(b, "keystep");
	resp_add_int(b, cmd->key_step);
	resp_add_bulk_str(b, "limit");
	resp_add_int(b, 0);
}

/* Reply one COMMAND INFO entry (Redis 7.0's ten fields), recursing into
 * the subcommands. */
static void
reply_command_info(struct resp_buf *b, const struct command *cmd)
{
	const struct command_doc *d;
	const struct command *sub;
	char full[64];

	command_fullname(cmd, full);
	d = doc_find(full);
	resp_add_array_len(b, 10);
	resp_add_bulk_str(b, full);
	resp_add_int(b, cmd->arity);
	reply_command_flags(b, cmd->flags);
	resp_add_int(b, cmd->first_key);
	resp_add_int(b, cmd->last_key);
	resp_add_int(b, cmd->key_step);
	reply_words(b, cmd->acl, 1);
	reply_words(b, d != NULL ? d->tips : NULL, 0);
	reply_key_specs(b, cmd, d);
	resp_add_array_len(b, table_count(cmd->sub));
	for (sub = cmd->sub; sub != NULL && sub->name != NULL; sub++)
		reply_command_info(b, sub);
}

/* ---- COMMAND DOCS ---- */

/* Reply an argument list as Redis 7.0's COMMAND DOCS does: one map per
 * argument, with only the fields that are set. */
static void
reply_doc_args(struct resp_buf *b, const struct doc_arg *args)
{
	const struct doc_arg *a;
	long long n = 0, fields;

	for (a = args; a->name != NULL; a++)
		n++;
	resp_add_array_len(b, n);
	for (a = args; a->name != NULL; a++) {
		int key = strcmp(a->type, "key") == 0;
		int nested = a->sub != NULL;

		fields = 2 + key + (a->token != NULL) + (a->since != NULL) +
		    (a->deprecated != NULL) + (a->flags != 0) + nested;
		resp_add_array_len(b, fields * 2);
		resp_add_bulk_str(b, "name");
		resp_add_bulk_str(b, a->name);
		resp_add_bulk_str(b, "type");
		resp_add_bulk_str(b, a->type);
		if (key) {
			resp_add_bulk_str(b, "key_spec_index");
			resp_add_int(b, 0);
		}
		if (a->token != NULL) {
			resp_add_bulk_str(b, "token");
			resp_add_bulk_str(b, a->token);
		}
		if (a->since != NULL) {
			resp_add_bulk_str(b, "since");
			resp_add_bulk_str(b, a->since);
		}
		if (a->deprecated != NULL) {
			resp_add_bulk_str(b, "deprecated_since");
			resp_add_bulk_str(b, a->deprecated);
		}
		if (a->flags != 0) {
			char words[48];

			snprintf(words, sizeof(words), "%s %s %s",
			    (a->flags & DOC_OPTIONAL) ? "optional" : "",
			    (a->flags & DOC_MULTIPLE) ? "multiple" : "",
			    (a->flags & DOC_MULTIPLE_TOKEN) ?
			    "multiple_token" : "");
			resp_add_bulk_str(b, "flags");
			reply_words(b, words, 1);
		}
		if (nested) {
			resp_add_bulk_str(b, "arguments");
			reply_doc_args(b, a->sub);
		}
	}
}

/* Reply the documentation map of one command (a flat array in RESP2),
 * its subcommands' maps nested under "subcommands". */
static void
reply_command_docs(struct resp_buf *b, const struct command *cmd)
{
	const struct command_doc *d;
	const struct doc_history *h;
	const struct command *sub;
	long long fields, n;
	char full[64];

	command_fullname(cmd, full);
	d = doc_find(full);
	if (d == NULL) {
		/* Every row should have documentation; stay well-formed. */
		resp_add_array_len(b, 0);
		return;
	}
	fields = 4 + (d->history != NULL) + (d->args != NULL) +
	    (cmd->sub != NULL);
	resp_add_array_len(b, fields * 2);
	resp_add_bulk_str(b, "summary");
	resp_add_bulk_str(b, d->summary);
	resp_add_bulk_str(b, "since");
	resp_add_bulk_str(b, d->since);
	resp_add_bulk_str(b, "group");
	resp_add_bulk_str(b, d->group);
	resp_add_bulk_str(b, "complexity");
	resp_add_bulk_str(b, d->complexity);
	if (d->history != NULL) {
		resp_add_bulk_str(b, "history");
		for (n = 0, h = d->history; h->version != NULL; h++)
			n++;
		resp_add_array_len(b, n);
		for (h = d->history; h->version != NULL; h++) {
			resp_add_array_len(b, 2);
			resp_add_bulk_str(b, h->version);
			resp_add_bulk_str(b, h->text);
		}
	}
	if (d->args != NULL) {
		resp_add_bulk_str(b, "arguments");
		reply_doc_args(b, d->args);
	}
	if (cmd->sub != NULL) {
		resp_add_bulk_str(b, "subcommands");
		resp_add_array_len(b, table_count(cmd->sub) * 2);
		for (sub = cmd->sub; sub->name != NULL; sub++) {
			resp_add_bulk_str(b, command_fullname(sub, full));
			reply_command_docs(b, sub);
		}
	}
}

/* ---- COMMAND ---- */

/* COMMAND: COMMAND INFO for every command. */
void
cmd_command(struct client *c)
{
	const struct command *cmd;

	resp_add_array_len(&c->reply, table_count(command_table));
	for (cmd = command_table; cmd->name != NULL; cmd++)
		reply_command_info(&c->reply, cmd);
}

/* COMMAND COUNT: the top-level commands (subcommands are not counted,
 * as in Redis). */
void
cmd_command_count(struct client *c)
{
	resp_add_int(&c->reply, table_count(command_table));
}

/* COMMAND INFO [name ...]: every command, or the ones named (nil for an
 * unknown name; "config|get" names a subcommand). */
void
cmd_command_info(struct client *c)
{
	const struct command *cmd;
	int i;

	if (c->argc == 2) {
		cmd_command(c);
		return;
	}
	resp_add_array_len(&c->reply, c->argc - 2);
	for (i = 2; i < c->argc; i++) {
		cmd = command_lookup_full(c->argv[i].ptr, c->argv[i].len);
		if (cmd == NULL)
			resp_add_null(&c->reply);
		else
			reply_command_info(&c->reply, cmd);
	}
}

/* COMMAND DOCS [name ...]: a map (flat array) of full name to
 * documentation; unknown names are left out. */
void
cmd_command_docs(struct client *c)
{
	const struct command *cmd;
	char full[64];
	long long n = 0;
	int i;

	if (c->argc == 2) {
		resp_add_array_len(&c->reply, table_count(command_table) * 2);
		for (cmd = command_table; cmd->name != NULL; cmd++) {
			resp_add_bulk_str(&c->reply, cmd->name);
			reply_command_docs(&c->reply, cmd);
		}
		return;
	}
	for (i = 2; i < c->argc; i++)
		if (command_lookup_full(c->argv[i].ptr, c->argv[i].len) != NULL)
			n++;
	resp_add_array_len(&c->reply, n * 2);
	for (i = 2; i < c->argc; i++) {
		cmd = command_lookup_full(c->argv[i].ptr, c->argv[i].len);
		if (cmd == NULL)
			continue;
		resp_add_bulk_str(&c->reply, command_fullname(cmd, full));
		reply_command_docs(&c->reply, cmd);
	}
}

#define LIST_ALL 0           /* COMMAND LIST filters */
#define LIST_MODULE 1
#define LIST_ACLCAT 2
#define LIST_PATTERN 3

/* Whether cmd passes a COMMAND LIST filter on value arg. */
static int
command_list_match(const struct command *cmd, int filter,
    const struct resp_arg *arg)
{
	char full[64];

	switch (filter) {
	case LIST_MODULE:
		return 0;            /* no modules here */
	case LIST_ACLCAT:
		/* A category is named without its '@'. */
		if (arg->len >= sizeof(full) - 1 ||
		    memchr(arg->ptr, '\0', arg->len) != NULL)
			return 0;
		snprintf(full, sizeof(full), "@%.*s", (int)arg->len, arg->ptr);
		return words_have(cmd->acl, full, arg->len + 1);
	case LIST_PATTERN:
		command_fullname(cmd, full);
		return glob_match(arg->ptr, arg->len, full, strlen(full), 1);
	default:
		return 1;
	}
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pat]:
 * full names of the commands and subcommands that pass the filter. */
void
cmd_command_list(struct client *c)
{
	const struct command *cmd, *sub;
	const struct resp_arg *arg = NULL;
	size_t off = c->reply.len;
	char full[64];
	long long n = 0;
	int filter = LIST_ALL;

	if (c->argc == 5 && arg_is(&c->argv[2], "filterby")) {
		arg = &c->argv[4];
		if (arg_is(&c->argv[3], "module"))
			filter = LIST_MODULE;
		else if (arg_is(&c->argv[3], "aclcat"))
			filter = LIST_ACLCAT;
		else if (arg_is(&c->argv[3], "pattern"))
			filter = LIST_PATTERN;
		else {
			reply_syntax_error(c);
			return;
		}
	} else if (c->argc != 2) {
		reply_syntax_error(c);
		return;
	}
	for (cmd = command_table; cmd->name != NULL; cmd++) {
		if (command_list_match(cmd, filter, arg)) {
			resp_add_bulk_str(&c->reply, cmd->name);
			n++;
		}
		for (sub = cmd->sub; sub != NULL && sub->name != NULL; sub++) {
			if (!command_list_match(sub, filter, arg))
				continue;
			resp_add_bulk_str(&c->reply,
			    command_fullname(sub, full));
			n++;
		}
	}
	resp_insert_array_len(&c->reply, off, n);
}

/* COMMAND HELP: Redis's text for the subcommands we have. */
void
cmd_command_help(struct client *c)
{
	static const char *const lines[] = {
		"(no subcommand)",
		"    Return details about all Redis commands.",
		"COUNT",
		"    Return the total number of commands in this Redis server.",
		"LIST",
		"    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]",
		"    Return details about multiple Redis commands.",
		"    If no command names are given, documentation details for "
		"all",
		"    commands are returned.",
		"DOCS [<command-name> ...]",
		"    Return documentation details about multiple Redis "
		"commands.",
		"    If no command names are given, documentation details for "
		"all",
		"    commands are returned.",
		NULL,
	};

	reply_help(c, "COMMAND", lines);
}

/* ---- CONFIG ---- */

#define CONFIG_IMMUTABLE 0   /* CONFIG SET refuses it */
#define CONFIG_FIXED 1       /* CONFIG SET accepts only its current value
                              * (so "CONFIG SET save ''" works) */
#define CONFIG_MUTABLE 2     /* CONFIG SET changes it */

enum config_id {
	CFG_APPENDONLY, CFG_BIND, CFG_CLIENT_OBUF, CFG_DAEMONIZE, CFG_DATABASES, CFG_DIR,
	CFG_HZ, CFG_LOGFILE, CFG_LOGLEVEL, CFG_MAXCLIENTS, CFG_MAXMEMORY,
	CFG_MAXMEMORY_POLICY, CFG_PORT, CFG_PROTO_MAX_BULK_LEN, CFG_SAVE,
	CFG_TCP_BACKLOG, CFG_TCP_KEEPALIVE, CFG_TIMEOUT, CFG_UNIXSOCKET,
	CFG_UNIXSOCKETPERM, CFG_REQUIREPASS, CFG_BUSY_POLL_US,
};

/* The parameters CONFIG GET knows, with Redis's names. */
static const struct config_param {
	const char *name;
	enum config_id id;
	int kind;                        /* CONFIG_* */
} config_params[] = {
	{ "appendonly", CFG_APPENDONLY, CONFIG_FIXED },
	{ "bind", CFG_BIND, CONFIG_IMMUTABLE },
	{ "busy-poll-us", CFG_BUSY_POLL_US, CONFIG_MUTABLE },
	{ "client-output-buffer-limit", CFG_CLIENT_OBUF, CONFIG_IMMUTABLE },
	{ "daemonize", CFG_DAEMONIZE, CONFIG_IMMUTABLE },
	{ "databases", CFG_DATABASES, CONFIG_IMMUTABLE },
	{ "dir", CFG_DIR, CONFIG_IMMUTABLE },
	{ "hz", CFG_HZ, CONFIG_IMMUTABLE },
	{ "logfile", CFG_LOGFILE, CONFIG_IMMUTABLE },
	{ "loglevel", CFG_LOGLEVEL, CONFIG_MUTABLE },
	{ "maxclients", CFG_MAXCLIENTS, CONFIG_MUTABLE },
	{ "maxmemory", CFG_MAXMEMORY, CONFIG_FIXED },
	{ "maxmemory-policy", CFG_MAXMEMORY_POLICY, CONFIG_FIXED },
	{ "port", CFG_PORT, CONFIG_IMMUTABLE },
	{ "proto-max-bulk-len", CFG_PROTO_MAX_BULK_LEN, CONFIG_MUTABLE },
	{ "requirepass", CFG_REQUIREPASS, CONFIG_MUTABLE },
	{ "save", CFG_SAVE, CONFIG_FIXED },
	{ "tcp-backlog", CFG_TCP_BACKLOG, CONFIG_IMMUTABLE },
	{ "tcp-keepalive", CFG_TCP_KEEPALIVE, CONFIG_IMMUTABLE },
	{ "timeout", CFG_TIMEOUT, CONFIG_FIXED },
	{ "unixsocket", CFG_UNIXSOCKET, CONFIG_IMMUTABLE },
	{ "unixsocketperm", CFG_UNIXSOCKETPERM, CONFIG_IMMUTABLE },
};
#define CONFIG_NPARAMS (sizeof(config_params) / sizeof(config_params[0]))

/* CONFIG SET loglevel accepts Redis 7.0's four names; "nothing" (a
 * command-line level, as in Redis 7.2) is only reported. */
static const char *const config_loglevels[] = {
	"debug", "verbose", "notice", "warning", "nothing",
};
#define CONFIG_SET_LOGLEVELS 4

/* The parameter named name (any case), or NULL. */
static const struct config_param *
config_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CONFIG_NPARAMS; i++)
		if (strlen(config_params[i].name) == len &&
		    strncasecmp(config_params[i].name, name, len) == 0)
			return &config_params[i];
	return NULL;
}

/* Write the current value of a parameter into buf. */
static void
config_value(struct server *srv, enum config_id id, char *buf, size_t size)
{
	const char *s = NULL;
	int level;

	switch (id) {
	case CFG_APPENDONLY:
	case CFG_DAEMONIZE:
		s = "no";
		break;
	case CFG_BIND:
		s = srv->bind != NULL ? srv->bind : "";
		break;
	case CFG_BUSY_POLL_US:
		snprintf(buf, size, "%ld", srv->cfg.busy_poll_us);
		return;
	case CFG_CLIENT_OBUF:
		/* Redis's three classes; only "normal" clients exist here. */
		snprintf(buf, size, "normal %lld 0 0 slave 268435456 67108864 60 "
		    "pubsub 33554432 8388608 60", srv->cfg.client_obuf_limit);
		return;
	case CFG_DATABASES:
		s = "1";             /* SELECT accepts only 0 */
		break;
	case CFG_REQUIREPASS:
		s = srv->requirepass != NULL ? srv->requirepass : "";
		break;
	case CFG_DIR:
		if (getcwd(buf, size) == NULL)
			buf[0] = '\0';
		return;
	case CFG_HZ:
		snprintf(buf, size, "%d", SERVER_HZ);
		return;
	case CFG_LOGFILE:
		s = srv->logfile != NULL ? srv->logfile : "";
		break;
	case CFG_LOGLEVEL:
		level = (int)srv->cfg.loglevel;
		s = level >= 0 && level < 5 ? config_loglevels[level] : "";
		break;
	case CFG_MAXCLIENTS:
		snprintf(buf, size, "%d", srv->cfg.maxclients);
		return;
	case CFG_MAXMEMORY:
	case CFG_TCP_KEEPALIVE:
	case CFG_TIMEOUT:
		s = "0";
		break;
	case CFG_MAXMEMORY_POLICY:
		s = "noeviction";
		break;
	case CFG_PORT:
		snprintf(buf, size, "%d", srv->port >= 0 ? srv->port : 0);
		return;
	case CFG_PROTO_MAX_BULK_LEN:
		snprintf(buf, size, "%lld", srv->cfg.proto_max_bulk_len);
		return;
	case CFG_SAVE:
		s = "";
		break;
	case CFG_TCP_BACKLOG:
		snprintf(buf, size, "%d", srv->cfg.tcp_backlog > 0 ?
		    srv->cfg.tcp_backlog : 511);
		return;
	case CFG_UNIXSOCKET:
		s = srv->unixsocket != NULL ? srv->unixsocket : "";
		break;
	case CFG_UNIXSOCKETPERM:
		snprintf(buf, size, "%o", (unsigned)srv->cfg.unixsocketperm);
		return;
	}
	snprintf(buf, size, "%s", s != NULL ? s : "");
}

/* Whether the argument holds one of the glob characters Redis looks for
 * (up to a NUL byte, as strpbrk would). */
static int
config_is_pattern(const struct resp_arg *a)
{
	size_t i, n = (size_t)arg_cstrlen(a);

	for (i = 0; i < n; i++)
		if (a->ptr[i] == '*' || a->ptr[i] == '?' || a->ptr[i] == '[')
			return 1;
	return 0;
}

/*
 * CONFIG GET pattern [pattern ...]: name/value pairs, each parameter
 * once. A name without glob characters is looked up directly and
 * answered under the spelling given, a pattern matches (ignoring case)
 * and answers with the canonical names, as Redis 7.0 does. Redis's pairs
 * come in hash order; ours in the order of the patterns and the table.
 */
void
cmd_config_get(struct client *c)
{
	const struct resp_arg *shown[CONFIG_NPARAMS];
	size_t order[CONFIG_NPARAMS], n = 0, i, j;
	const struct config_param *p;
	char value[PATH_MAX + 1];
	int k;

	memset(shown, 0, sizeof(shown));
	for (k = 2; k < c->argc && n < CONFIG_NPARAMS; k++) {
		const struct resp_arg *a = &c->argv[k];

		if (!config_is_pattern(a)) {
			p = config_find(a->ptr, a->len);
			if (p == NULL)
				continue;
			i = (size_t)(p - config_params);
			for (j = 0; j < n && order[j] != i; j++)
				;
			if (j == n) {
				order[n++] = i;
				shown[i] = a;
			}
			continue;
		}
		for (i = 0; i < CONFIG_NPARAMS; i++) {
			p = &config_params[i];
			for (j = 0; j < n && order[j] != i; j++)
				;
			if (j == n && glob_match(a->ptr, a->len, p->name,
			    strlen(p->name), 1))
				order[n++] = i;
		}
	}
	resp_add_array_len(&c->reply, (long long)n * 2);
	for (j = 0; j < n; j++) {
		i = order[j];
		if (shown[i] != NULL)
			resp_add_bulk(&c->reply, shown[i]->ptr, shown[i]->len);
		else
			resp_add_bulk_str(&c->reply, config_params[i].name);
		config_value(c->srv, config_params[i].id, value,
		    sizeof(value));
		resp_add_bulk_str(&c->reply, value);
	}
}

/*
 * Parse a memory value as Redis's memtoull: digits and an optional unit
 * (b, k, kb, m, mb, g, gb, any case; k = 1000, kb = 1024). The product
 * is not checked for overflow, as in Redis (the range check catches it).
 * Returns 0, or -1 if s is not a memory value.
 */
static int
config_parse_memory(const char *s, size_t len, long long *out)
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
	unsigned long long val;
	size_t d = 0, i;
	char *end;

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
	errno = 0;
	val = strtoull(digits, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*out = (long long)(val * units[i].mul);
	return 0;
}

/*
 * Check that the process can hold n clients: the event loop's fd table
 * (it cannot grow) and the open-files limit (raised if needed, as Redis
 * does). Returns NULL, or the reason (in buf) why not.
 */
static const char *
config_check_maxclients(struct server *srv, long long n, char *buf,
    size_t size)
{
	rlim_t need = (rlim_t)n + SERVER_RESERVED_FDS;
	struct rlimit rl;
	long long fit;

	if (n + SERVER_RESERVED_FDS > event_setsize(srv->el))
		return "The event loop API used by the server is not able to "
		    "handle the specified number of clients";
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < need) {
			if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
				rl.rlim_cur = 0;
			fit = (long long)rl.rlim_cur - SERVER_RESERVED_FDS;
			snprintf(buf, size, "The operating system is not able "
			    "to handle the specified number of clients, try "
			    "with %lld", fit > 0 ? fit : 1);
			return buf;
		}
	}
	return NULL;
}

/*
 * Parse the value for a parameter CONFIG SET may change into *out.
 * Returns NULL, or the reason it is refused, worded as Redis 7.0 words
 * it (buf holds formatted reasons).
 */
static const char *
config_parse(struct server *srv, const struct config_param *p,
    const struct resp_arg *v, long long *out, char *buf, size_t size)
{
	char cur[PATH_MAX + 1];
	int i;

	switch (p->id) {
	case CFG_LOGLEVEL:
		for (i = 0; i < CONFIG_SET_LOGLEVELS; i++)
			if (arg_is(v, config_loglevels[i])) {
				*out = i;
				return NULL;
			}
		return "argument(s) must be one of the following: debug, "
		    "verbose, notice, warning";
	case CFG_MAXCLIENTS:
		if (!resp_str_to_ll(v->ptr, v->len, out))
			return "argument couldn't be parsed into an integer";
		if (*out < 1 || *out > 4294967295LL)
			return "argument must be between 1 and 4294967295 "
			    "inclusive";
		if (*out > INT_MAX - SERVER_RESERVED_FDS)
			return "The event loop API used by the server is not "
			    "able to handle the specified number of clients";
		return config_check_maxclients(srv, *out, buf, size);
	case CFG_BUSY_POLL_US:
		if (!resp_str_to_ll(v->ptr, v->len, out))
			return "argument couldn't be parsed into an integer";
		if (*out >= 0 && *out <= SERVER_BUSY_POLL_MAX)
			return NULL;
		snprintf(buf, size, "argument must be between 0 and %d "
		    "inclusive", SERVER_BUSY_POLL_MAX);
		return buf;
	case CFG_REQUIREPASS:
		/* Applied from the argument itself in cmd_config_set. */
		*out = 0;
		return memchr(v->ptr, '\0', v->len) != NULL ?
		    "argument must not contain NUL bytes" : NULL;
	case CFG_PROTO_MAX_BULK_LEN:
		if (config_parse_memory(v->ptr, v->len, out) == -1)
			return "argument must be a memory value";
		if (*out < 1024 * 1024)
			return "argument must be between 1048576 and "
			    "9223372036854775807 inclusive";
		return NULL;
	default:
		/* CONFIG_FIXED: only the value it already has. */
		config_value(srv, p->id, cur, sizeof(cur));
		if (arg_is(v, cur))
			return NULL;
		snprintf(buf, size, "this server only supports %s '%.64s'",
		    p->name, cur);
		return buf;
	}
}

/* Apply a parsed value. */
static void
config_apply(struct server *srv, const struct config_param *p, long long v,
    const struct resp_arg *arg)
{
	struct client *cl;

	switch (p->id) {
	case CFG_LOGLEVEL:
		srv->cfg.loglevel = (enum server_loglevel)v;
		break;
	case CFG_MAXCLIENTS:
		srv->cfg.maxclients = (int)v;
		break;
	case CFG_BUSY_POLL_US:
		server_set_busy_poll(srv, (long)v);
		break;
	case CFG_PROTO_MAX_BULK_LEN:
		/* Every connection's parser checks against its own copy. */
		srv->cfg.proto_max_bulk_len = v;
		for (cl = srv->clients; cl != NULL; cl = cl->next)
			cl->parser.bulk_max = v;
		break;
	case CFG_REQUIREPASS:
		/* Connections already in stay authenticated, as in Redis;
		 * an empty password turns authentication off. */
		mem_free(srv->requirepass);
		srv->requirepass = NULL;
		if (arg->len > 0) {
			srv->requirepass = mem_alloc(arg->len + 1);
			memcpy(srv->requirepass, arg->ptr, arg->len);
			srv->requirepass[arg->len] = '\0';
		}
		srv->cfg.requirepass = srv->requirepass;
		break;
	default:
		break;
	}
}

/*
 * CONFIG SET name value [name value ...]: all or nothing. Names are
 * checked first (unknown, immutable, given twice), then every value,
 * then all are applied; the first problem is reported with Redis 7.0's
 * text.
 */
void
cmd_config_set(struct client *c)
{
	const struct config_param **params = NULL;
	long long *values = NULL;
	const char *why;
	char buf[256];
	int npairs, i, j;

	if ((c->argc - 2) % 2 != 0) {
		reply_syntax_error(c);
		return;
	}
	npairs = (c->argc - 2) / 2;
	params = mem_alloc((size_t)npairs * sizeof(*params));
	values = mem_alloc((size_t)npairs * sizeof(*values));
	for (i = 0; i < npairs; i++) {
		const struct resp_arg *name = &c->argv[2 + i * 2];

		params[i] = config_find(name->ptr, name->len);
		if (params[i] == NULL) {
			resp_add_errorf(&c->reply, "Unknown option or number "
			    "of arguments for CONFIG SET - '%.*s'",
			    arg_cstrlen(name), name->ptr);
			goto done;
		}
		why = NULL;
		if (params[i]->kind == CONFIG_IMMUTABLE)
			why = "can't set immutable config";
		for (j = 0; j < i && why == NULL; j++)
			if (params[j] == params[i])
				why = "duplicate parameter";
		if (why != NULL) {
			resp_add_errorf(&c->reply, "CONFIG SET failed "
			    "(possibly related to argument '%.*s') - %s",
			    arg_cstrlen(name), name->ptr, why);
			goto done;
		}
	}
	for (i = 0; i < npairs; i++) {
		why = config_parse(c->srv, params[i], &c->argv[3 + i * 2],
		    &values[i], buf, sizeof(buf));
		if (why != NULL) {
			resp_add_errorf(&c->reply, "CONFIG SET failed "
			    "(possibly related to argument '%s') - %s",
			    params[i]->name, why);
			goto done;
		}
	}
	for (i = 0; i < npairs; i++)
		config_apply(c->srv, params[i], values[i],
		    &c->argv[3 + i * 2]);
	resp_add_ok(&c->reply);
done:
	mem_free(params);
	mem_free(values);
}

/* Largest heap use seen, for INFO's used_memory_peak (sampled when INFO
 * or CONFIG RESETSTAT runs). */
static size_t mem_peak;

/* Update and return the memory peak. */
static size_t
memory_peak(void)
{
	size_t used = mem_used();

	if (used > mem_peak)
		mem_peak = used;
	return mem_peak;
}

/* CONFIG RESETSTAT: zero the counters INFO reports, as Redis does. */
void
cmd_config_resetstat(struct client *c)
{
	struct server *srv = c->srv;

	srv->stat_connections = 0;
	srv->stat_commands = 0;
	srv->stat_rejected = 0;
	srv->stat_net_input = 0;
	srv->stat_net_output = 0;
	event_busy_poll_stats_reset(srv->el);
	srv->stat_protocol_errors = 0;
	srv->db.hits = 0;
	srv->db.misses = 0;
	mem_peak = 0;
	memory_peak();
	resp_add_ok(&c->reply);
}

/* CONFIG HELP: Redis's text for the subcommands we have. */
void
cmd_config_help(struct client *c)
{
	static const char *const lines[] = {
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and "
		"their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		NULL,
	};

	reply_help(c, "CONFIG", lines);
}

/* ---- CLIENT ---- */

/*
 * Check a client name or library attribute as Redis does: printable
 * ASCII without spaces ('!' to '~'). Returns 1 if valid.
 */
static int
client_attr_valid(const struct resp_arg *v)
{
	size_t i;

	for (i = 0; i < v->len; i++)
		if (v->ptr[i] < '!' || v->ptr[i] > '~')
			return 0;
	return 1;
}

/* Replace *dst with a copy of v, or clear it if v is empty. */
static void
client_attr_set(char **dst, const struct resp_arg *v)
{
	mem_free(*dst);
	*dst = NULL;
	if (v->len > 0) {
		*dst = mem_alloc(v->len + 1);
		memcpy(*dst, v->ptr, v->len);
		(*dst)[v->len] = '\0';
	}
}

/* Set the connection name (empty clears it); on a bad name reply the
 * error and return -1. */
static int
client_set_name(struct client *c, const struct resp_arg *v)
{
	if (!client_attr_valid(v)) {
		resp_add_errorf(&c->reply, "Client names cannot contain "
		    "spaces, newlines or special characters.");
		return -1;
	}
	if (v->len > CLIENT_NAME_MAX) {
		resp_add_errorf(&c->reply, "Client names cannot be longer "
		    "than %d bytes.", CLIENT_NAME_MAX);
		return -1;
	}
	client_attr_set(&c->name, v);
	return 0;
}

/* Append one CLIENT LIST line describing cl (without the newline), in
 * Redis 7.2's format (7.0's plus lib-name and lib-ver). */
static void
client_info_line(struct resp_buf *b, const struct client *cl)
{
	char flags[8], events[3], cmd[64];
	long long now = server_mono_ms();
	size_t argv_mem = 0, tot_mem;
	int i = 0, mask = event_fd_mask(cl->srv->el, cl->fd);

	if (cl->flags & CLIENT_CLOSE_AFTER_REPLY)
		flags[i++] = 'c';
	if (cl->flags & CLIENT_CLOSE_ASAP)
		flags[i++] = 'A';
	if (cl->flags & CLIENT_UNIX_SOCKET)
		flags[i++] = 'U';
	if (i == 0)
		flags[i++] = 'N';
	flags[i] = '\0';
	i = 0;
	if (mask & EV_READABLE)
		events[i++] = 'r';
	if (mask & EV_WRITABLE)
		events[i++] = 'w';
	events[i] = '\0';
	for (i = 0; i < cl->argc; i++)
		argv_mem += cl->argv[i].len;
	tot_mem = sizeof(*cl) + cl->qcap + cl->reply.cap +
	    (size_t)cl->parser.argv_cap * sizeof(struct resp_arg);
	if (cl->lastcmd != NULL)
		command_fullname(cl->lastcmd, cmd);
	else
		snprintf(cmd, sizeof(cmd), "NULL");
	buf_catf(b, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld "
	    "idle=%lld flags=%s db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=%zu "
	    "qbuf-free=%zu argv-mem=%zu multi-mem=0 rbs=%zu rbp=%zu obl=%zu "
	    "oll=0 omem=0 tot-mem=%zu events=%s cmd=%s user=default redir=-1 "
	    "resp=%d lib-name=%s lib-ver=%s",
	    cl->id, cl->addr, cl->laddr, cl->fd,
	    cl->name != NULL ? cl->name : "",
	    (now - cl->ctime_ms) / 1000, (now - cl->last_ms) / 1000, flags,
	    cl->qlen, cl->qcap - cl->qlen, argv_mem, cl->reply.cap,
	    cl->reply.cap, cl->reply.len - cl->reply_sent, tot_mem, events, cmd,
	    cl->resp, cl->lib_name != NULL ? cl->lib_name : "",
	    cl->lib_ver != NULL ? cl->lib_ver : "");
}

/* CLIENT SETNAME name: printable ASCII without spaces; empty clears. */
void
cmd_client_setname(struct client *c)
{
	if (client_set_name(c, &c->argv[2]) == 0)
		resp_add_ok(&c->reply);
}

/* CLIENT GETNAME: the name, or nil. */
void
cmd_client_getname(struct client *c)
{
	if (c->name == NULL)
		resp_add_null(&c->reply);
	else
		resp_add_bulk_str(&c->reply, c->name);
}

/* CLIENT ID */
void
cmd_client_id(struct client *c)
{
	resp_add_int(&c->reply, (long long)c->id);
}

/*
 * CLIENT SETINFO LIB-NAME name | LIB-VER version, as in Redis 7.2 (7.0
 * has no SETINFO): client libraries send it after connecting, and it
 * shows in CLIENT LIST.
 */
void
cmd_client_setinfo(struct client *c)
{
	const struct resp_arg *attr = &c->argv[2], *val = &c->argv[3];
	char **dst;

	if (arg_is(attr, "lib-name"))
		dst = &c->lib_name;
	else if (arg_is(attr, "lib-ver"))
		dst = &c->lib_ver;
	else {
		resp_add_errorf(&c->reply, "Unrecognized option '%.*s'",
		    arg_cstrlen(attr), attr->ptr);
		return;
	}
	if (!client_attr_valid(val)) {
		resp_add_errorf(&c->reply, "%.*s cannot contain spaces, "
		    "newlines or special characters.", arg_cstrlen(attr),
		    attr->ptr);
		return;
	}
	if (val->len > CLIENT_NAME_MAX) {
		resp_add_errorf(&c->reply, "%.*s cannot be longer than %d "
		    "bytes.", arg_cstrlen(attr), attr->ptr, CLIENT_NAME_MAX);
		return;
	}
	client_attr_set(dst, val);
	resp_add_ok(&c->reply);
}

/* CLIENT INFO: this connection's CLIENT LIST line. */
void
cmd_client_info(struct client *c)
{
	struct resp_buf line;

	resp_buf_init(&line);
	client_info_line(&line, c);
	resp_buf_append(&line, "\n", 1);
	resp_add_bulk(&c->reply, line.data, line.len);
	resp_buf_free(&line);
}

/* The client with the given id, or NULL. */
static const struct client *
client_by_id(struct server *srv, long long id)
{
	const struct client *cl;

	for (cl = srv->clients; cl != NULL; cl = cl->next)
		if ((long long)cl->id == id)
			return cl;
	return NULL;
}

/*
 * CLIENT LIST [TYPE type | ID id [id ...]]: one line per connection,
 * oldest first as in Redis. Every client here is of type "normal"; the
 * other types Redis knows select nobody.
 */
void
cmd_client_list(struct client *c)
{
	static const char *const types[] = {
		"normal", "master", "slave", "replica", "pubsub", NULL,
	};
	const struct client *cl, *last = NULL;
	struct resp_buf out;
	long long id;
	int i;

	resp_buf_init(&out);
	if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
		for (i = 0; types[i] != NULL; i++)
			if (arg_is(&c->argv[3], types[i]))
				break;
		if (types[i] == NULL) {
			resp_add_errorf(&c->reply, "Unknown client type '%.*s'",
			    arg_cstrlen(&c->argv[3]), c->argv[3].ptr);
			goto done;
		}
		if (i != 0)
			goto reply;
	} else if (c->argc > 3 && arg_is(&c->argv[2], "id")) {
		for (i = 3; i < c->argc; i++) {
			if (!resp_str_to_ll(c->argv[i].ptr, c->argv[i].len,
			    &id)) {
				resp_add_error(&c->reply, "Invalid client ID",
				    17);
				goto done;
			}
			cl = client_by_id(c->srv, id);
			if (cl != NULL) {
				client_info_line(&out, cl);
				resp_buf_append(&out, "\n", 1);
			}
		}
		goto reply;
	} else if (c->argc != 2) {
		reply_syntax_error(c);
		goto done;
	}
	/* The list is newest first: walk it backwards. */
	for (cl = c->srv->clients; cl != NULL; cl = cl->next)
		last = cl;
	for (cl = last; cl != NULL; cl = cl->prev) {
		client_info_line(&out, cl);
		resp_buf_append(&out, "\n", 1);
	}
reply:
	resp_add_bulk(&c->reply, out.data != NULL ? out.data : "", out.len);
done:
	resp_buf_free(&out);
}

/* CLIENT HELP: Redis's text for the subcommands we have (SETINFO's from
 * Redis 7.2). */
void
cmd_client_help(struct client *c)
{
	static const char *const lines[] = {
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"SETINFO <option> <value>",
		"    Set client meta attr. Options are:",
		"    * LIB-NAME: the client lib name.",
		"    * LIB-VER: the client lib version.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		NULL,
	};

	reply_help(c, "CLIENT", lines);
}

/* ---- HELLO ---- */

/*
 * HELLO [protover [AUTH username password] [SETNAME name]]
 * Only RESP2 is spoken: protocol 3 (and anything but 2) gets Redis's
 * NOPROTO error. AUTH checks the "default" user's password (requirepass;
 * any password when none is set); without it, a client that has not
 * authenticated gets Redis's NOAUTH error.
 */
void
cmd_hello(struct client *c)
{
	const struct resp_arg *user = NULL, *pass = NULL, *name = NULL;
	long long ver;
	int j, more;

	if (c->argc >= 2) {
		if (!resp_str_to_ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
			resp_add_errorf(&c->reply, "Protocol version is not an "
			    "integer or out of range");
			return;
		}
		if (ver != 2) {
			resp_add_errorf(&c->reply,
			    "-NOPROTO unsupported protocol version");
			return;
		}
	}
	for (j = 2; j < c->argc; j++) {
		more = c->argc - 1 - j;
		if (arg_is(&c->argv[j], "auth") && more >= 2) {
			user = &c->argv[j + 1];
			pass = &c->argv[j + 2];
			j += 2;
		} else if (arg_is(&c->argv[j], "setname") && more >= 1) {
			name = &c->argv[j + 1];
			j++;
		} else {
			resp_add_errorf(&c->reply,
			    "Syntax error in HELLO option '%.*s'",
			    arg_cstrlen(&c->argv[j]), c->argv[j].ptr);
			return;
		}
	}
	if (user != NULL && command_authenticate(c, user, pass) == -1)
		return;
	if (!c->authenticated) {
		resp_add_errorf(&c->reply, "-NOAUTH HELLO must be called with the "
		    "client already authenticated, otherwise the HELLO AUTH "
		    "<user> <pass> option can be used to authenticate the "
		    "client and select the RESP protocol version at the same "
		    "time");
		return;
	}
	if (name != NULL && client_set_name(c, name) == -1)
		return;
	c->resp = 2;
	resp_add_array_len(&c->reply, 14);
	resp_add_bulk_str(&c->reply, "server");
	resp_add_bulk_str(&c->reply, "redis");
	resp_add_bulk_str(&c->reply, "version");
	resp_add_bulk_str(&c->reply, CMD_SERVER_REDIS_VERSION);
	resp_add_bulk_str(&c->reply, "proto");
	resp_add_int(&c->reply, 2);
	resp_add_bulk_str(&c->reply, "id");
	resp_add_int(&c->reply, (long long)c->id);
	resp_add_bulk_str(&c->reply, "mode");
	resp_add_bulk_str(&c->reply, "standalone");
	resp_add_bulk_str(&c->reply, "role");
	resp_add_bulk_str(&c->reply, "master");
	resp_add_bulk_str(&c->reply, "modules");
	resp_add_array_len(&c->reply, 0);
}

/* ---- INFO ---- */

/* Format a byte count as Redis's bytesToHuman does ("1.16M"). */
static void
info_human(char *buf, size_t size, unsigned long long n)
{
	static const char units[] = "KMGTP";
	double d = (double)n;
	int i;

	if (n < 1024) {
		snprintf(buf, size, "%lluB", n);
		return;
	}
	for (i = 0; units[i] != '\0'; i++) {
		d /= 1024;
		if (d < 1024 || units[i + 1] == '\0')
			break;
	}
	snprintf(buf, size, "%.2f%c", d, units[i]);
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
	long long up = (server_mono_ms() - srv->start_mono_ms) / 1000;
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
	    CMD_SERVER_REDIS_VERSION, server_version(), un.sysname,
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
	    up / 86400, SERVER_HZ, SERVER_HZ, exe);
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
	    "maxclients:%d\r\n"
	    "client_recent_max_input_buffer:%zu\r\n"
	    "client_recent_max_output_buffer:%zu\r\n"
	    "blocked_clients:0\r\n"
	    "tracking_clients:0\r\n"
	    "clients_in_timeout_table:0\r\n",
	    srv->nclients, srv->cfg.maxclients, in, out);
}

static void
info_memory(struct resp_buf *b, struct server *srv)
{
	unsigned long long used = mem_used(), peak = memory_peak();
	unsigned long long rss = info_rss(), total = 0;
	char h_used[32], h_rss[32], h_peak[32], h_total[32];

	(void)srv;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
	if (sysconf(_SC_PHYS_PAGES) > 0 && sysconf(_SC_PAGESIZE) > 0)
		total = (unsigned long long)sysconf(_SC_PHYS_PAGES) *
		    (unsigned long long)sysconf(_SC_PAGESIZE);
#endif
	info_human(h_used, sizeof(h_used), used);
	info_human(h_rss, sizeof(h_rss), rss);
	info_human(h_peak, sizeof(h_peak), peak);
	info_human(h_total, sizeof(h_total), total);
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
	    "maxmemory:0\r\n"
	    "maxmemory_human:0B\r\n"
	    "maxmemory_policy:noeviction\r\n"
	    "mem_fragmentation_ratio:%.2f\r\n"
	    "mem_allocator:libc\r\n",
	    used, h_used, rss, h_rss, peak, h_peak,
	    peak > 0 ? (double)used * 100 / (double)peak : 100.0,
	    total, h_total, used > 0 ? (double)rss / (double)used : 0.0);
}

static void
info_persistence(struct resp_buf *b, struct server *srv)
{
	(void)srv;
	buf_catf(b, "# Persistence\r\n"
	    "loading:0\r\n"
	    "async_loading:0\r\n"
	    "rdb_bgsave_in_progress:0\r\n"
	    "rdb_last_bgsave_status:ok\r\n"
	    "aof_enabled:0\r\n"
	    "aof_rewrite_in_progress:0\r\n"
	    "aof_last_write_status:ok\r\n");
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
	    "expired_keys:0\r\n"
	    "evicted_keys:0\r\n"
	    "keyspace_hits:%llu\r\n"
	    "keyspace_misses:%llu\r\n"
	    "pubsub_channels:0\r\n"
	    "pubsub_patterns:0\r\n"
	    "total_protocol_errors:%llu\r\n"
	    "busy_poll_hits:%llu\r\n"
	    "busy_poll_misses:%llu\r\n",
	    srv->stat_connections, srv->stat_commands, srv->stat_net_input,
	    srv->stat_net_output, srv->stat_rejected, srv->db.hits,
	    srv->db.misses, srv->stat_protocol_errors, hits, misses);
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
		buf_catf(b, "db0:keys=%zu,expires=0,avg_ttl=0\r\n", keys);
}

/* INFO sections in Redis's order; all are in the default set. */
static const struct {
	const char *name;
	void (*gen)(struct resp_buf *b, struct server *srv);
} info_sections[] = {
	{ "server", info_server },
	{ "clients", info_clients },
	{ "memory", info_memory },
	{ "persistence", info_persistence },
	{ "stats", info_stats },
	{ "replication", info_replication },
	{ "cpu", info_cpu },
	{ "cluster", info_cluster },
	{ "keyspace", info_keyspace },
};
#define INFO_NSECTIONS (sizeof(info_sections) / sizeof(info_sections[0]))

/*
 * INFO [section ...]: "# Section" blocks of "field:value" lines, CRLF
 * ended, a blank line between blocks, in one bulk string. Sections are
 * named in any case; "default", "all" and "everything" select all of
 * ours; unknown names select nothing. Each section comes once, in
 * Redis's order, whatever the order asked.
 */
void
cmd_info(struct client *c)
{
	int want[INFO_NSECTIONS], i, any = 0;
	struct resp_buf out;
	size_t s;

	for (s = 0; s < INFO_NSECTIONS; s++)
		want[s] = c->argc == 1;
	for (i = 1; i < c->argc; i++) {
		const struct resp_arg *a = &c->argv[i];

		if (arg_is(a, "default") || arg_is(a, "all") ||
		    arg_is(a, "everything")) {
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
