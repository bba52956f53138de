/* SPDX-License-Identifier: MIT */
/*
 * Shared by the fuzz targets and the corpus replayer: the libFuzzer entry
 * point, the target's name (it picks the corpus directories) and checks.
 */
#ifndef TMC_FUZZ_H
#define TMC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input; 0 always (a broken invariant aborts). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target's name, e.g. "fuzz_resp": the replayer reads
 * fuzz/corpus/<name>/ and fuzz/regressions/<name>/. */
extern const char fuzz_target_name[];

/* Abort with the failed condition: libFuzzer and the replayer both
 * report an abort as a crash and keep the input. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* FNV-1a over the input: a deterministic seed for choices (chunk sizes)
 * the input does not spell out. */
static inline uint64_t
fuzz_hash(const uint8_t *data, size_t size)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < size; i++) {
		h ^= data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Next value of a xorshift64 generator (state must not be 0). */
static inline uint64_t
fuzz_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

#endif
