/* SPDX-License-Identifier: MIT */
/* Clocks (see clock.h): thin wrappers over clock_gettime. */
#include "config.h"

#include <time.h>

#include "clock.h"

static long long fixed_wall_us;        /* 0: the real clock */

/* Read a POSIX clock in microseconds. */
static long long
clock_read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
clock_wall_us(void)
{
	return fixed_wall_us != 0 ? fixed_wall_us :
	    clock_read_us(CLOCK_REALTIME);
}

long long
clock_wall_ms(void)
{
	return clock_wall_us() / 1000;
}

long long
clock_mono_us(void)
{
	return clock_read_us(CLOCK_MONOTONIC);
}

long long
clock_mono_ms(void)
{
	return clock_read_us(CLOCK_MONOTONIC) / 1000;
}

void
clock_set_fixed_wall_us(long long us)
{
	fixed_wall_us = us;
}
