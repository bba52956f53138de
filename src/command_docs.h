/* SPDX-License-Identifier: MIT */
/*
 * What the command table does not say about a command: the documentation
 * COMMAND DOCS reports, and the tips and key specs COMMAND INFO reports,
 * as Redis 7.0.15 reports them. The rows are data, in command_docs.c,
 * which tools/gen_command_docs.py writes from a running redis-server.
 */
#ifndef TMC_COMMAND_DOCS_H
#define TMC_COMMAND_DOCS_H

#include <stddef.h>

/* Argument flags (COMMAND DOCS "flags"), in the order Redis lists them. */
#define DOC_ARG_OPTIONAL       (1 << 0)   /* "optional" */
#define DOC_ARG_MULTIPLE       (1 << 1)   /* "multiple" */
#define DOC_ARG_MULTIPLE_TOKEN (1 << 2)   /* "multiple_token" */

/* Command documentation flags (COMMAND DOCS "doc_flags"). */
#define DOC_DEPRECATED (1 << 0)           /* "deprecated" */
#define DOC_SYSCMD     (1 << 1)           /* "syscmd" */

/* Key spec flags (COMMAND INFO), in the order Redis lists them. */
#define DOC_KEY_RO             (1 << 0)   /* "RO": read only */
#define DOC_KEY_RW             (1 << 1)   /* "RW": read and write */
#define DOC_KEY_OW             (1 << 2)   /* "OW": overwrite */
#define DOC_KEY_RM             (1 << 3)   /* "RM": remove */
#define DOC_KEY_ACCESS         (1 << 4)   /* "access": returns the value */
#define DOC_KEY_UPDATE         (1 << 5)   /* "update": changes the value */
#define DOC_KEY_INSERT         (1 << 6)   /* "insert": adds to it */
#define DOC_KEY_DELETE         (1 << 7)   /* "delete": removes from it */
#define DOC_KEY_NOT_KEY        (1 << 8)   /* "not_key" */
#define DOC_KEY_INCOMPLETE     (1 << 9)   /* "incomplete" */
#define DOC_KEY_VARIABLE_FLAGS (1 << 10)  /* "variable_flags" */

/* How a key spec finds its first key (begin_search "type"); 0 ends a
 * list of key specs. */
#define DOC_BEGIN_INDEX   1               /* "index": at a fixed argv index */
#define DOC_BEGIN_KEYWORD 2               /* "keyword": after a word */
#define DOC_BEGIN_UNKNOWN 3               /* "unknown" */

/* How a key spec finds the keys from there (find_keys "type"). */
#define DOC_FIND_RANGE    1               /* "range" */
#define DOC_FIND_KEYNUM   2               /* "keynum": a count, then keys */
#define DOC_FIND_UNKNOWN  3               /* "unknown" */

/*
 * One key spec: where a command's keys are and what it does to them.
 * Which fields count depends on begin and find (Redis's names in
 * quotes); positions are argv indexes, the command name being 0.
 */
struct doc_key_spec {
	const char *notes;               /* "notes", or NULL */
	int flags;                       /* DOC_KEY_* */
	int begin;                       /* DOC_BEGIN_* */
	int index;                       /* INDEX: "index" of the first key */
	const char *keyword;             /* KEYWORD: "keyword" before keys */
	int startfrom;                   /* KEYWORD: "startfrom", where the
	                                  * search starts (< 0: from the end,
	                                  * backwards) */
	int find;                        /* DOC_FIND_* */
	int lastkey;                     /* RANGE: "lastkey", relative to the
	                                  * first key (< 0: from the end) */
	int keystep;                     /* RANGE, KEYNUM: "keystep" */
	int limit;                       /* RANGE: "limit" (lastkey -1: up to
	                                  * 1/limit of the rest, 0: all) */
	int keynumidx;                   /* KEYNUM: "keynumidx", the key
	                                  * count, relative to the begin */
	int firstkey;                    /* KEYNUM: "firstkey", relative */
};

/*
 * One argument as COMMAND DOCS describes it; "oneof" and "block"
 * arguments list their members in sub.
 */
struct doc_arg {
	const char *name;
	const char *type;                /* "key", "string", "oneof", ... */
	int key_spec;                    /* DOC_KEY_SPEC(index of the key
	                                  * spec it names), or 0: none */
	const char *token;               /* literal keyword (may be ""), or
	                                  * NULL */
	const char *since;               /* Redis version, or NULL */
	const char *deprecated_since;    /* Redis version, or NULL */
	int flags;                       /* DOC_ARG_* */
	const struct doc_arg *sub;       /* members, NULL-name terminated */
};

/* One history note: the Redis version and what changed. */
struct doc_history {
	const char *version;
	const char *text;
};

/*
 * Everything COMMAND DOCS says about a command, and what COMMAND INFO
 * says beyond its row in the command table (commands.h): tips and key
 * specs. Optional fields are NULL (or 0) when Redis reports nothing.
 */
struct command_doc {
	const char *name;                /* full name: "get", "config|get" */
	const char *summary;
	const char *since;
	const char *group;
	const char *complexity;
	int doc_flags;                   /* DOC_DEPRECATED, DOC_SYSCMD */
	const char *deprecated_since;
	const char *replaced_by;
	const struct doc_history *history; /* NULL-version terminated */
	const struct doc_arg *args;      /* NULL-name terminated */
	const char *tips;                /* space-separated, or NULL */
	const struct doc_key_spec *key_specs; /* ended by a .begin of 0, or
	                                  * NULL */
};

/* How rows write their lists (command_docs.c). */
#define DOC_ARGS(...) \
	((const struct doc_arg[]){ __VA_ARGS__, { .name = NULL } })
#define DOC_HISTORY(...) \
	((const struct doc_history[]){ __VA_ARGS__, { .version = NULL } })
#define DOC_KEY_SPECS(...) \
	((const struct doc_key_spec[]){ __VA_ARGS__, { .begin = 0 } })
/* An argument's "key_spec_index" (0 in .key_spec means none). */
#define DOC_KEY_SPEC(i) ((i) + 1)
/* A key spec's begin_search and find_keys, inside its braces (the
 * "unknown" kinds set .begin or .find alone). */
#define DOC_INDEX(i) .begin = DOC_BEGIN_INDEX, .index = (i)
#define DOC_KEYWORD(word, from) \
	.begin = DOC_BEGIN_KEYWORD, .keyword = (word), .startfrom = (from)
#define DOC_RANGE(last, step, lim) \
	.find = DOC_FIND_RANGE, .lastkey = (last), .keystep = (step), \
	.limit = (lim)
#define DOC_KEYNUM(idx, first, step) \
	.find = DOC_FIND_KEYNUM, .keynumidx = (idx), .firstkey = (first), \
	.keystep = (step)

/* The rows, sorted by name (strcmp order), and how many there are. */
extern const struct command_doc command_docs[];
extern const size_t command_docs_count;

/* The documentation row for a full name ("get", "config|get"), or NULL
 * (a binary search, in cmd_command.c). */
const struct command_doc *command_doc_find(const char *fullname);

#endif
