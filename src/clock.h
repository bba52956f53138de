/* SPDX-License-Identifier: MIT */
/*
 * Clocks: the wall clock (expiry times are absolute wall-clock
 * milliseconds, as in Redis) and the monotonic clock (durations, idle
 * times). The keyspace never reads a clock itself: the command layer
 * reads one "now" per command and hands it down, so every expiry
 * decision within a command sees the same instant. Tests and the fuzz
 * harness may fix the wall clock.
 */
#ifndef TMC_CLOCK_H
#define TMC_CLOCK_H

long long clock_wall_us(void);          /* microseconds since the epoch */
long long clock_wall_ms(void);          /* milliseconds since the epoch */
long long clock_mono_us(void);          /* monotonic microseconds */
long long clock_mono_ms(void);          /* monotonic milliseconds */

/* Make clock_wall_us()/clock_wall_ms() return us (microseconds since the
 * epoch) until called again with 0, which restores the real clock. For
 * tests only: it is process-wide and not thread-safe. */
void clock_set_fixed_wall_us(long long us);

#endif
