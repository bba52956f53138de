/* SPDX-License-Identifier: MIT */
/*
 * What the command table does not say about a command: the documentation
 * COMMAND DOCS reports and the tips and key spec flags COMMAND INFO
 * reports, as Redis 7.0.15 reports them, restricted to the arguments we
 * accept. The rows are data, in command_docs.c.
 */
#ifndef TMC_COMMAND_DOCS_H
#define TMC_COMMAND_DOCS_H

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

/* The documentation row for a full name ("get", "config|get"), or NULL. */
const struct command_doc *command_doc_find(const char *fullname);

#endif
