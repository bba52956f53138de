/* SPDX-License-Identifier: MIT */
/*
 * The append-only file, in Redis 7.0's multi-part layout: under
 * dir/appenddirname a base file, incremental files and the manifest
 * that lists them (appendonly.aof.manifest), so a data directory moves
 * between this server and redis-server. Every write reaches it through
 * the propagation hook as a RESP command; the loop writes what gathered
 * once per round before the replies leave (group commit), fsyncs at
 * once with appendfsync always, in a thread once a second with
 * everysec. At start the files are replayed through the normal
 * dispatch. BGREWRITEAOF (and the automatic rewrite) writes a new base
 * in a forked child.
 */
#ifndef TMC_AOF_H
#define TMC_AOF_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "resp.h"

struct server;
struct client;

#define AOF_PARSE_OK 0               /* a command was read */
#define AOF_PARSE_END 1              /* the input ends cleanly */
#define AOF_PARSE_TRUNCATED 2        /* it ends inside a command */
#define AOF_PARSE_BAD -1             /* not the AOF format */

/* What a manifest lists. */
struct aof_manifest {
	char *base;                      /* base file name, or NULL */
	long long base_seq;              /* its sequence (the last used) */
	char **incr;                     /* incremental files, in order */
	long long *incr_seq;
	int nincr;
	char **hist;                     /* history files: replaced by a
	                                  * rewrite, to be deleted */
	long long *hist_seq;
	int nhist;
};

/* The background fsync of appendfsync everysec. */
struct aof_syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int started;                     /* the thread runs */
	int stop;                        /* asked to end */
	int busy;                        /* a job waits or runs */
	int fd;                          /* the job's file */
	unsigned long long target;       /* bytes the job makes durable */
	unsigned long long done;         /* bytes made durable so far */
	int err;                         /* errno of the last failed job */
};

struct aof {
	int on;                          /* appendonly in effect */
	int fd;                          /* the incremental file, or -1 */
	char *dirpath;                   /* dir/appenddirname */
	struct aof_manifest man;         /* the files, as the manifest has
	                                  * them; the last incr is written */
	long long incr_seq;              /* the last incr sequence used */
	struct resp_buf buf;             /* records not yet written */
	int selected;                    /* SELECT 0 is in this incr file */
	unsigned long long fed;          /* bytes of records made, ever */
	unsigned long long written;      /* of those, bytes written */
	unsigned long long synced;       /* of those, bytes fsync'd */
	int write_errno;                 /* last write failed: its errno */
	int fsync_errno;                 /* last fsync failed: its errno */
	long long error_logged_ms;       /* when an error was last logged */
	long long fsync_ms;              /* last background fsync asked */
	long long current_size;          /* aof_current_size */
	long long base_size;             /* aof_base_size */
	int loading;                     /* replaying the files */
	long long loading_start;         /* when it began (wall clock, s) */
	unsigned long long loading_total; /* bytes the files hold */
	unsigned long long loading_done; /* of those, replayed */
	struct aof_syncer syncer;

	/* The background rewrite (BGREWRITEAOF). */
	pid_t child;                     /* its process, or -1 */
	int child_nincr;                 /* incrs[] it makes obsolete */
	int scheduled;                   /* to start once possible */
	int wait_rewrite;                /* on, but no base yet: turned on
	                                  * at run time */
	long long rewrite_start_ms;      /* when it began (monotonic) */
	long long last_rewrite_ms;       /* how long the last one took, -1 */
	long long rewrite_tried_ms;      /* last start (for retries) */
	int last_rewrite_ok;             /* aof_last_bgrewrite_status */
	unsigned long long rewrites;     /* aof_rewrites */
	unsigned long long rewrite_failures; /* in a row */
	long long rewrite_base_size;     /* size after the last rewrite (the
	                                  * automatic rewrite's base) */
};

/*
 * At server start, with appendonly yes: load the files the manifest
 * lists (or create the directory, an empty base, the first incremental
 * file and the manifest), open the incremental file for appending, and
 * start feeding it. 0, or -1 with the reason in err (SERVER_ERR_LEN)
 * naming the file, the offset and what to do.
 */
int aof_start(struct server *srv, char *err);

/* Write and fsync what is left, stop the fsync thread, close. */
void aof_stop(struct server *srv);

/* Once per round of the loop, before the replies leave: write the
 * gathered records and fsync as appendfsync says. */
void aof_flush(struct server *srv);

/* Bytes of records the replies may now depend on: written, and with
 * appendfsync always also fsync'd. */
unsigned long long aof_durable(const struct server *srv);

/* Periodic: retry a failed write or fsync. */
void aof_cron(struct server *srv);

/* errno of the failure that refuses writes (MISCONF), or 0. */
int aof_error(const struct server *srv);

/* CONFIG SET appendonly took a new value: follow it (turning it on
 * starts a rewrite, as in Redis). 0, or -1 with the reason in err
 * (SETTING_ERR_LEN). */
int aof_apply(struct server *srv, char *err);

/*
 * Start a background rewrite: a new incremental file takes the writes
 * from now on while a forked child (C only, then _exit: safe inside
 * Python) writes a new base from its copy of the keyspace. 0, or -1
 * with the reason in err (SETTING_ERR_LEN).
 */
int aof_rewrite_start(struct server *srv, char *err);


/* INFO persistence's AOF lines. */
void aof_info(struct server *srv, struct resp_buf *b);
/* Its loading_* lines, while the files load (nothing otherwise). */
void aof_info_loading(struct server *srv, struct resp_buf *b);

/* Read the whole file at path into *data (*n bytes, room for one more
 * after them); 0, or -1 with errno set (a read error too: never a
 * short file). */
int aof_read_file(const char *path, char **data, size_t *n);

/* Read the manifest at path into m, checked as Redis 7.0 checks it. 0,
 * or -1 with the reason in err (SERVER_ERR_LEN): the file, the line and
 * Redis's words ("Invalid AOF manifest file format" ...). */
int aof_manifest_load(const char *path, struct aof_manifest *m, char *err);
/* Release what m holds. */
void aof_manifest_free(struct aof_manifest *m);

/*
 * Read one command of the AOF format from buf[*pos..len): "*N\r\n" then
 * N bulk strings (lines starting with '#' are annotations, skipped).
 * On AOF_PARSE_OK *argc and *argv (pointing into buf; *argv grown as
 * needed, *cap its room) hold it and *pos is past it. On
 * AOF_PARSE_TRUNCATED and AOF_PARSE_BAD, *pos is where the broken
 * command starts and *bad the offset of the offending byte.
 */
int aof_parse(const char *buf, size_t len, size_t *pos, int *argc,
    struct resp_arg **argv, int *cap, size_t *bad);

#endif
