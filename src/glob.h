/* SPDX-License-Identifier: MIT */
/*
 * Redis-compatible glob matching for KEYS: '*', '?', '[abc]', '[^a]',
 * '[a-z]' and '\' escapes, length-delimited on both sides, with a
 * recursion cap and a guard against exponential backtracking.
 */
#ifndef TMC_GLOB_H
#define TMC_GLOB_H

#include <stddef.h>

/* 1 if str matches pat (exactly as Redis's stringmatchlen), else 0. */
int glob_match(const char *pat, size_t plen, const char *str, size_t slen,
    int nocase);

/* If pat is a literal prefix followed by one final '*' (no other special
 * character, "*" alone included), set *prefix_len and return 1, so the
 * caller can match with memcmp. Otherwise return 0. */
int glob_is_prefix(const char *pat, size_t plen, size_t *prefix_len);

#endif
