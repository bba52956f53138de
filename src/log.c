/* SPDX-License-Identifier: MIT */
/* Log lines (see log.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {
	"debug", "verbose", "notice", "warning", "nothing",
};

const char *
log_level_name(enum log_level level)
{
	return level >= LL_DEBUG && level <= LL_NOTHING ?
	    level_names[level] : "";
}

void
log_write(const struct log *lg, enum log_level level, const char *fmt, ...)
{
	static const char marks[] = ".-*#";
	char when[64], msg[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t off;
	FILE *f;

	if (level >= LL_NOTHING || level < (lg != NULL ? lg->level : LL_NOTICE))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lg != NULL && lg->sink != NULL) {
		lg->sink(lg->sink_arg, level, msg);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	off = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S", &tm);
	snprintf(when + off, sizeof(when) - off, ".%03d",
	    (int)(tv.tv_usec / 1000));
	f = lg != NULL && lg->file != NULL ? lg->file : stderr;
	fprintf(f, "%d:M %s %c %s\n", (int)getpid(), when, marks[level], msg);
	fflush(f);
}
