/* SPDX-License-Identifier: MIT */
/* Command documentation rows (see command_docs.h). */
#include "config.h"

#include <string.h>

#include "command_docs.h"

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


const struct command_doc *
command_doc_find(const char *fullname)
{
	size_t i;

	for (i = 0; i < sizeof(command_docs) / sizeof(command_docs[0]); i++)
		if (strcmp(command_docs[i].name, fullname) == 0)
			return &command_docs[i];
	return NULL;
}
