/* SPDX-License-Identifier: MIT */
/*
 * What a keyspace entry's meta word says about its value: the type
 * (TYPE's names), the encoding (OBJECT ENCODING's names, chosen as Redis
 * 7.0 chooses them), and the access clock that LRU and LFU eviction read:
 * 24 bits, either tenths of seconds (LRU) or 16 bits of minutes plus
 * an 8-bit logarithmic counter (LFU), as in Redis.
 *
 *	bits 0-2 type | 3-6 encoding | 7 DICT_META_EXPIRE | 8-31 access clock
 */
#ifndef TMC_OBJECT_H
#define TMC_OBJECT_H

#include <stddef.h>
#include <stdint.h>

enum obj_type {
	OBJ_STRING = 0,
	OBJ_LIST = 1,
};

enum obj_encoding {
	OBJ_ENC_RAW = 0,           /* "raw": a string over 44 bytes, or edited */
	OBJ_ENC_INT = 1,           /* "int": a canonical 64-bit integer */
	OBJ_ENC_EMBSTR = 2,        /* "embstr": a string of up to 44 bytes */
	OBJ_ENC_QUICKLIST = 3,     /* "quicklist": a list of chunks */
	OBJ_ENC_LISTPACK = 4,      /* "listpack": a small packed list */
};

#define OBJ_EMBSTR_MAX 44          /* longest "embstr" (Redis's limit) */

#define OBJ_CLOCK_BITS 24
#define OBJ_CLOCK_MAX ((1u << OBJ_CLOCK_BITS) - 1)
#define OBJ_LFU_INIT 5             /* a new key's LFU counter (Redis) */

static inline uint32_t
obj_meta(int type, int enc, unsigned clock)
{
	return (uint32_t)type | (uint32_t)enc << 3 |
	    (uint32_t)(clock & OBJ_CLOCK_MAX) << 8;
}

static inline int
obj_meta_type(uint32_t meta)
{
	return (int)(meta & 7);
}

static inline int
obj_meta_encoding(uint32_t meta)
{
	return (int)(meta >> 3 & 15);
}

static inline unsigned
obj_meta_clock(uint32_t meta)
{
	return (unsigned)(meta >> 8);
}

/* meta with its encoding or its clock replaced (other bits kept). */
static inline uint32_t
obj_meta_with_encoding(uint32_t meta, int enc)
{
	return (meta & ~(15u << 3)) | (uint32_t)enc << 3;
}

static inline uint32_t
obj_meta_with_clock(uint32_t meta, unsigned clock)
{
	return (meta & 0xffu) | (uint32_t)(clock & OBJ_CLOCK_MAX) << 8;
}

const char *obj_type_name(int type);        /* "string", "list" */
const char *obj_encoding_name(int enc);     /* "raw", "int", ... */

/* The encoding Redis gives a string value stored as sent (SET, MSET,
 * APPEND to a missing key ...): int, embstr or raw. */
int obj_string_encoding(const char *v, size_t len);

/* Free what a value of this type and encoding owns beyond its bytes in
 * the entry (nothing, for strings). */
void obj_free_value(int type, int enc, char *val, size_t vlen);

/* ---- The access clock ---- */

/* The LRU clock for now (wall-clock ms): tenths of seconds, wrapping at
 * 24 bits (19 days). */
unsigned obj_lru_clock(long long now_ms);
/* Milliseconds since a key with LRU clock lru was touched. */
long long obj_lru_idle_ms(unsigned lru, long long now_ms);

/* A new key's LFU clock: the minute now and the initial counter. */
unsigned obj_lfu_new(long long now_ms);
/* The counter of LFU clock c after decay (one step per decay_time
 * minutes idle; decay_time 0: no decay). */
unsigned obj_lfu_decayed(unsigned c, long long now_ms, int decay_time);
/* LFU clock c after an access: decayed, then incremented with
 * probability 1 / ((counter - OBJ_LFU_INIT) * log_factor + 1). */
unsigned obj_lfu_touch(unsigned c, long long now_ms, int log_factor,
    int decay_time, uint64_t *rng);

#endif
