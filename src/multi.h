/* SPDX-License-Identifier: MIT */
/*
 * Transactions, as Redis 7.0 has them: MULTI queues a client's commands
 * until EXEC runs them all at once (no other client's command runs in
 * between); an error while queuing makes EXEC refuse (EXECABORT); WATCH
 * makes EXEC refuse (a null reply) if a watched key was changed,
 * expired or deleted by anyone meanwhile, FLUSHALL included.
 */
#ifndef TMC_MULTI_H
#define TMC_MULTI_H

#include <stddef.h>

struct client;
struct command;
struct server;

/* 1 for the commands that run at once inside MULTI (EXEC, DISCARD,
 * MULTI, WATCH, QUIT); the others are queued. */
int multi_runs_now(const struct command *cmd);

/* Queue c's request for cmd until EXEC (the request is copied). */
void multi_queue(struct client *c, const struct command *cmd);

/* A request of c's was refused: if c is in MULTI, EXEC will abort. */
void multi_flag_error(struct client *c);

/* Leave MULTI: drop the queue and the flags, unwatch every key. */
void multi_discard(struct client *c);

/* Inside EXEC, before the first write is propagated: propagate a MULTI,
 * so the writes replay as one transaction (EXEC closes it). */
void multi_propagate_begin(struct client *c);

/* A key changed (key NULL: all of them, the keyspace is being flushed):
 * the transactions watching it will not run. */
void multi_touch(struct server *srv, const char *key, size_t klen);

/* Commands queued by c, or -1 if not in MULTI (CLIENT LIST multi=). */
int multi_queued(const struct client *c);
/* The flags of the commands c queued, or'd (0 if not in MULTI): EXEC
 * is refused as a write, or under maxmemory, when they say so. */
int multi_flags(const struct client *c);
/* Bytes c's queue holds (CLIENT LIST multi-mem=). */
size_t multi_memory(const struct client *c);

/* Forget everything of c's (it is being freed). */
void multi_free_client(struct client *c);

void multi_init(struct server *srv);
void multi_free(struct server *srv);

#endif
