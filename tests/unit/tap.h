/* SPDX-License-Identifier: MIT */
/*
 * A few TAP macros for the C unit tests: ok(), is_int(), diag(),
 * done_testing(). Output goes to stdout for automake's tap-driver.
 */
#ifndef TMC_TAP_H
#define TMC_TAP_H

#include <stdio.h>

static int tap_count;      /* tests run */
static int tap_failed;     /* tests failed */

/* Report one test: cond true passes. Returns cond. */
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Compare two long long values, printing both on failure. */
#define is_int(got, want, ...) do { \
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want); \
	if (!ok(tap_g_ == tap_w_, __VA_ARGS__)) \
		diag("  got %lld, want %lld", tap_g_, tap_w_); \
} while (0)

#define diag(...) do { \
	printf("# "); printf(__VA_ARGS__); printf("\n"); fflush(stdout); \
} while (0)

static int tap_ok(int cond, const char *file, int line, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

#include <stdarg.h>

static int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

/* Print the plan; returns the exit status for main(). */
static inline int
done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif
