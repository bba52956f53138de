/* SPDX-License-Identifier: MIT */
/*
 * COMMAND (INFO, DOCS, LIST, COUNT, HELP): what the server says about its
 * commands, laid out as Redis 7.0 lays it out, so redis-cli and client
 * libraries that ask the server about itself work unchanged. A command's
 * row (commands.h) gives its arity, flags, key positions and ACL
 * categories; its documentation row (command_docs.h) the rest: tips, key
 * specs and everything COMMAND DOCS reports.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "command_docs.h"
#include "commands.h"
#include "glob.h"
#include "resp.h"

/* ---- Subcommands ---- */

/*
 * Rows as in the family tables (commands.c): name, arity (Redis 7.0's, counting
 * the container and the subcommand), flags, handler, key positions, ACL
 * categories, no subcommands, the container's name.
 */
struct command command_command_sub[] = {
	{ "count", 2, CMD_LOADING | CMD_STALE, cmd_command_count, 0, 0, 0,
	  "@slow @connection", NULL, "command", 0 },
	{ "docs", -2, CMD_LOADING | CMD_STALE, cmd_command_docs, 0, 0, 0,
	  "@slow @connection", NULL, "command", 0 },
	{ "info", -2, CMD_LOADING | CMD_STALE, cmd_command_info, 0, 0, 0,
	  "@slow @connection", NULL, "command", 0 },
	{ "list", -2, CMD_LOADING | CMD_STALE, cmd_command_list, 0, 0, 0,
	  "@slow @connection", NULL, "command", 0 },
	{ "help", 2, CMD_LOADING | CMD_STALE, cmd_command_help, 0, 0, 0,
	  "@slow @connection", NULL, "command", 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* COMMAND's row (see commands.c for the fields). */
struct command command_commands[] = {
	{ "command", -1, CMD_LOADING | CMD_STALE | CMD_SENTINEL, cmd_command,
	  0, 0, 0, "@slow @connection", command_command_sub, NULL, 0 },
	{ NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0 },
};

/* ---- Word lists ---- */

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

/* Number of rows in a NULL-name terminated command table (NULL: 0). */
static long long
table_count(const struct command *table)
{
	long long n = 0;

	while (table != NULL && table[n].name != NULL)
		n++;
	return n;
}

/* ---- Flag lists ---- */

/* A flag and the name Redis replies for it. */
struct flag_name {
	int flag;
	const char *name;
};

/* Command flags in the order Redis 7.0 lists them. CMD_SENTINEL is not
 * listed: Redis 7.0 does not report it either. */
static const struct flag_name command_flag_names[] = {
	{ CMD_WRITE, "write" },
	{ CMD_READONLY, "readonly" },
	{ CMD_DENYOOM, "denyoom" },
	{ CMD_ADMIN, "admin" },
	{ CMD_PUBSUB, "pubsub" },
	{ CMD_NOSCRIPT, "noscript" },
	{ CMD_BLOCKING, "blocking" },
	{ CMD_LOADING, "loading" },
	{ CMD_STALE, "stale" },
	{ CMD_SKIP_SLOWLOG, "skip_slowlog" },
	{ CMD_FAST, "fast" },
	{ CMD_NOAUTH, "no_auth" },
	{ CMD_MAY_REPLICATE, "may_replicate" },
	{ CMD_NO_ASYNC_LOADING, "no_async_loading" },
	{ CMD_NOMULTI, "no_multi" },
	{ CMD_MOVABLEKEYS, "movablekeys" },
	{ CMD_ALLOWBUSY, "allow_busy" },
	{ 0, NULL },
};

/* Key spec flags, argument flags and documentation flags, likewise. */
static const struct flag_name key_flag_names[] = {
	{ DOC_KEY_RO, "RO" },
	{ DOC_KEY_RW, "RW" },
	{ DOC_KEY_OW, "OW" },
	{ DOC_KEY_RM, "RM" },
	{ DOC_KEY_ACCESS, "access" },
	{ DOC_KEY_UPDATE, "update" },
	{ DOC_KEY_INSERT, "insert" },
	{ DOC_KEY_DELETE, "delete" },
	{ DOC_KEY_NOT_KEY, "not_key" },
	{ DOC_KEY_INCOMPLETE, "incomplete" },
	{ DOC_KEY_VARIABLE_FLAGS, "variable_flags" },
	{ 0, NULL },
};
static const struct flag_name arg_flag_names[] = {
	{ DOC_ARG_OPTIONAL, "optional" },
	{ DOC_ARG_MULTIPLE, "multiple" },
	{ DOC_ARG_MULTIPLE_TOKEN, "multiple_token" },
	{ 0, NULL },
};
static const struct flag_name doc_flag_names[] = {
	{ DOC_DEPRECATED, "deprecated" },
	{ DOC_SYSCMD, "syscmd" },
	{ 0, NULL },
};

/* Reply the names of the flags set in flags, as an array of status
 * replies (a set in Redis's RESP3 replies). */
static void
reply_flags(struct resp_buf *b, int flags, const struct flag_name *names)
{
	long long n = 0;
	int i;

	for (i = 0; names[i].name != NULL; i++)
		if (flags & names[i].flag)
			n++;
	resp_add_array_len(b, n);
	for (i = 0; names[i].name != NULL; i++)
		if (flags & names[i].flag)
			resp_add_simple(b, names[i].name);
}

/* ---- Documentation rows ---- */

/* Compare a full name with a row's name (bsearch). */
static int
doc_compare(const void *name, const void *row)
{
	return strcmp(name, ((const struct command_doc *)row)->name);
}

/* The rows are sorted by name (the generator writes them so, and the
 * unit test checks it). */
const struct command_doc *
command_doc_find(const char *fullname)
{
	return bsearch(fullname, command_docs, command_docs_count,
	    sizeof(command_docs[0]), doc_compare);
}

/* ---- COMMAND INFO ---- */

/* Reply a key spec's begin_search map (flat), as Redis 7.0 does. */
static void
reply_begin_search(struct resp_buf *b, const struct doc_key_spec *ks)
{
	resp_add_array_len(b, 4);
	resp_add_bulk_str(b, "type");
	switch (ks->begin) {
	case DOC_BEGIN_INDEX:
		resp_add_bulk_str(b, "index");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 2);
		resp_add_bulk_str(b, "index");
		resp_add_int(b, ks->index);
		break;
	case DOC_BEGIN_KEYWORD:
		resp_add_bulk_str(b, "keyword");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 4);
		resp_add_bulk_str(b, "keyword");
		resp_add_bulk_str(b, ks->keyword);
		resp_add_bulk_str(b, "startfrom");
		resp_add_int(b, ks->startfrom);
		break;
	default:
		resp_add_bulk_str(b, "unknown");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 0);
		break;
	}
}

/* Reply a key spec's find_keys map (flat), as Redis 7.0 does. */
static void
reply_find_keys(struct resp_buf *b, const struct doc_key_spec *ks)
{
	resp_add_array_len(b, 4);
	resp_add_bulk_str(b, "type");
	switch (ks->find) {
	case DOC_FIND_RANGE:
		resp_add_bulk_str(b, "range");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 6);
		resp_add_bulk_str(b, "lastkey");
		resp_add_int(b, ks->lastkey);
		resp_add_bulk_str(b, "keystep");
		resp_add_int(b, ks->keystep);
		resp_add_bulk_str(b, "limit");
		resp_add_int(b, ks->limit);
		break;
	case DOC_FIND_KEYNUM:
		resp_add_bulk_str(b, "keynum");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 6);
		resp_add_bulk_str(b, "keynumidx");
		resp_add_int(b, ks->keynumidx);
		resp_add_bulk_str(b, "firstkey");
		resp_add_int(b, ks->firstkey);
		resp_add_bulk_str(b, "keystep");
		resp_add_int(b, ks->keystep);
		break;
	default:
		resp_add_bulk_str(b, "unknown");
		resp_add_bulk_str(b, "spec");
		resp_add_array_len(b, 0);
		break;
	}
}

/* Reply the key specs of a documentation row (none without a row): one
 * map each of notes (if any), flags, begin_search and find_keys. */
static void
reply_key_specs(struct resp_buf *b, const struct command_doc *d)
{
	const struct doc_key_spec *specs = d != NULL ? d->key_specs : NULL;
	const struct doc_key_spec *ks;
	long long n = 0;

	while (specs != NULL && specs[n].begin != 0)
		n++;
	resp_add_array_len(b, n);
	for (ks = specs; ks != NULL && ks->begin != 0; ks++) {
		resp_add_array_len(b, ks->notes != NULL ? 8 : 6);
		if (ks->notes != NULL) {
			resp_add_bulk_str(b, "notes");
			resp_add_bulk_str(b, ks->notes);
		}
		resp_add_bulk_str(b, "flags");
		reply_flags(b, ks->flags, key_flag_names);
		resp_add_bulk_str(b, "begin_search");
		reply_begin_search(b, ks);
		resp_add_bulk_str(b, "find_keys");
		reply_find_keys(b, ks);
	}
}

/* Reply one COMMAND INFO entry (Redis 7.0's ten fields: the row's facts,
 * then the documentation row's tips and key specs), recursing into the
 * subcommands. */
static void
reply_command_info(struct resp_buf *b, const struct command *cmd)
{
	const struct command_doc *d;
	const struct command *sub;
	char full[64];

	command_fullname(cmd, full);
	d = command_doc_find(full);
	resp_add_array_len(b, 10);
	resp_add_bulk_str(b, full);
	resp_add_int(b, cmd->arity);
	reply_flags(b, cmd->flags, command_flag_names);
	resp_add_int(b, cmd->first_key);
	resp_add_int(b, cmd->last_key);
	resp_add_int(b, cmd->key_step);
	reply_words(b, cmd->acl, 1);
	reply_words(b, d != NULL ? d->tips : NULL, 0);
	reply_key_specs(b, d);
	resp_add_array_len(b, table_count(cmd->sub));
	for (sub = cmd->sub; sub != NULL && sub->name != NULL; sub++)
		reply_command_info(b, sub);
}

/* ---- COMMAND DOCS ---- */

/* Add a "name" -> bulk string pair when the value is set; return 1 if
 * it was added (for counting a map's fields, pass b NULL). */
static int
reply_opt_str(struct resp_buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	if (b != NULL) {
		resp_add_bulk_str(b, name);
		resp_add_bulk_str(b, value);
	}
	return 1;
}

/* Reply an argument list as Redis 7.0's COMMAND DOCS does: one map per
 * argument, with only the fields that are set, members nested. */
static void
reply_doc_args(struct resp_buf *b, const struct doc_arg *args)
{
	const struct doc_arg *a;
	long long n = 0, fields;

	for (a = args; a->name != NULL; a++)
		n++;
	resp_add_array_len(b, n);
	for (a = args; a->name != NULL; a++) {
		fields = 2 + (a->key_spec > 0) +
		    reply_opt_str(NULL, "token", a->token) +
		    reply_opt_str(NULL, "since", a->since) +
		    reply_opt_str(NULL, "deprecated_since",
		    a->deprecated_since) + (a->flags != 0) + (a->sub != NULL);
		resp_add_array_len(b, fields * 2);
		resp_add_bulk_str(b, "name");
		resp_add_bulk_str(b, a->name);
		resp_add_bulk_str(b, "type");
		resp_add_bulk_str(b, a->type);
		if (a->key_spec > 0) {
			resp_add_bulk_str(b, "key_spec_index");
			resp_add_int(b, a->key_spec - DOC_KEY_SPEC(0));
		}
		reply_opt_str(b, "token", a->token);
		reply_opt_str(b, "since", a->since);
		reply_opt_str(b, "deprecated_since", a->deprecated_since);
		if (a->flags != 0) {
			resp_add_bulk_str(b, "flags");
			reply_flags(b, a->flags, arg_flag_names);
		}
		if (a->sub != NULL) {
			resp_add_bulk_str(b, "arguments");
			reply_doc_args(b, a->sub);
		}
	}
}

/* Reply a history list: [version, text] pairs. */
static void
reply_doc_history(struct resp_buf *b, const struct doc_history *history)
{
	const struct doc_history *h;
	long long n = 0;

	for (h = history; h->version != NULL; h++)
		n++;
	resp_add_array_len(b, n);
	for (h = history; h->version != NULL; h++) {
		resp_add_array_len(b, 2);
		resp_add_bulk_str(b, h->version);
		resp_add_bulk_str(b, h->text);
	}
}

/* Reply the documentation map of one command (a flat array in RESP2) in
 * Redis 7.0's field order, its subcommands' maps nested under
 * "subcommands". */
static void
reply_command_docs(struct resp_buf *b, const struct command *cmd)
{
	const struct command_doc *d;
	const struct command *sub;
	long long fields;
	char full[64];

	command_fullname(cmd, full);
	d = command_doc_find(full);
	if (d == NULL) {
		/* Every row has documentation (the unit test checks it);
		 * stay well-formed anyway. */
		resp_add_array_len(b, 0);
		return;
	}
	fields = 1 + reply_opt_str(NULL, "summary", d->summary) +
	    reply_opt_str(NULL, "since", d->since) +
	    reply_opt_str(NULL, "complexity", d->complexity) +
	    (d->doc_flags != 0) +
	    reply_opt_str(NULL, "deprecated_since", d->deprecated_since) +
	    reply_opt_str(NULL, "replaced_by", d->replaced_by) +
	    (d->history != NULL) + (d->args != NULL) + (cmd->sub != NULL);
	resp_add_array_len(b, fields * 2);
	reply_opt_str(b, "summary", d->summary);
	reply_opt_str(b, "since", d->since);
	resp_add_bulk_str(b, "group");
	resp_add_bulk_str(b, d->group);
	reply_opt_str(b, "complexity", d->complexity);
	if (d->doc_flags != 0) {
		resp_add_bulk_str(b, "doc_flags");
		reply_flags(b, d->doc_flags, doc_flag_names);
	}
	reply_opt_str(b, "deprecated_since", d->deprecated_since);
	reply_opt_str(b, "replaced_by", d->replaced_by);
	if (d->history != NULL) {
		resp_add_bulk_str(b, "history");
		reply_doc_history(b, d->history);
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

	int i;

	resp_add_array_len(&c->reply, commands_top_count());
	for (i = 0; (cmd = commands_top(i)) != NULL; i++)
		reply_command_info(&c->reply, cmd);
}

/* COMMAND COUNT: the top-level commands (subcommands are not counted,
 * as in Redis). */
void
cmd_command_count(struct client *c)
{
	resp_add_int(&c->reply, commands_top_count());
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
		resp_add_array_len(&c->reply,
		    (long long)commands_top_count() * 2);
		for (i = 0; (cmd = commands_top(i)) != NULL; i++) {
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
	int filter = LIST_ALL, i;

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
	for (i = 0; (cmd = commands_top(i)) != NULL; i++) {
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

