/* SPDX-License-Identifier: MIT */
/*
 * Log lines, Redis-like ("pid:M 25 Nov 2026 03:10:57.123 * message"),
 * to a file or to a sink the embedder provides (the Python extension
 * hands them to Python's logging). Depends on nothing else here, so any
 * layer may log.
 */
#ifndef TMC_LOG_H
#define TMC_LOG_H

#include <stdio.h>

/* Levels, most verbose first (Redis's names and marks: . - * #). */
enum log_level {
	LL_DEBUG,
	LL_VERBOSE,
	LL_NOTICE,
	LL_WARNING,
	LL_NOTHING,              /* nothing is logged */
};

#define LOG_LINE_MAX 1024    /* longest message; longer ones are cut */

/* Called with each message (without the prefix) instead of writing it. */
typedef void log_sink(void *arg, enum log_level level, const char *msg);

struct log {
	enum log_level level;    /* lines below this level are dropped */
	FILE *file;              /* where lines go; NULL: standard error */
	log_sink *sink;          /* if set, gets the lines instead */
	void *sink_arg;
};

/* Log one line at level (printf-style). lg NULL: standard error, notice. */
void log_write(const struct log *lg, enum log_level level, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* The level's name ("debug" ... "nothing"). */
const char *log_level_name(enum log_level level);

#endif
