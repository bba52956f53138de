/* SPDX-License-Identifier: MIT */
/*
 * The compact list behind Redis's list commands, in two forms.
 *
 * Elements are packed: each is its length as a varint (7 bits a byte,
 * low bits first), its bytes, and the same varint again with its bytes
 * reversed, so a run of elements can be walked from either end (a 32-byte
 * element costs 34 bytes, as in a Redis listpack).
 *
 * A small list is a "pack": a 2-byte element count (little endian) and
 * the packed elements, kept inline as a keyspace entry's value bytes
 * (OBJ_ENC_LISTPACK): no allocation of its own. A list that outgrows one
 * chunk under list-max-listpack-size becomes a struct list on the heap
 * (OBJ_ENC_QUICKLIST; the entry's value is the pointer): a doubly linked
 * list of chunks of packed elements, each with its element count, as
 * Redis's quicklist of listpacks. A chunk keeps its elements in the
 * middle of its buffer, free room on both sides, so a push onto either
 * end and a pop from either end are O(1); LINDEX and LRANGE skip whole
 * chunks by their counts and walk from the nearer end.
 *
 * The chunk size rule is Redis 7.0's (quicklist.c): fill > 0 allows fill
 * elements a chunk, up to 8 KB; fill -1 ... -5 allows 4, 8, 16, 32 or
 * 64 KB; fill 0 one element; a chunk always takes its first element,
 * however big. A list keeps the fill it was created with, as Redis's
 * quicklist does. list-compress-depth is kept but compresses nothing:
 * chunks are never compressed (Redis's default depth 0 behaves alike).
 */
#ifndef TMC_LIST_H
#define TMC_LIST_H

#include <stddef.h>

#define LIST_HEAD 0                /* the left end (LPUSH, LPOP) */
#define LIST_TAIL 1                /* the right end (RPUSH, RPOP) */

#define LIST_PACK_HDR 2            /* a pack's count header */
#define LIST_CHUNK_MAX_COUNT 65535 /* elements a chunk (or pack) holds */

/* ---- Packed elements ---- */

/* Bytes an element of len bytes takes packed. */
size_t list_elem_size(size_t len);
/* Pack v (len bytes) at p; returns the end of the element. */
unsigned char *list_elem_put(unsigned char *p, const void *v, size_t len);
/* The element starting at p: *v and *len get its bytes; returns its
 * end (the next element's start). */
const unsigned char *list_elem_next(const unsigned char *p,
    const unsigned char **v, size_t *len);
/* The element ending at end: *v and *len get its bytes; returns its
 * start (the previous element's end). */
const unsigned char *list_elem_prev(const unsigned char *end,
    const unsigned char **v, size_t *len);

/* ---- The size rule ---- */

/* fill clamped as Redis clamps list-max-listpack-size (-5 ... 32767). */
int list_fill_clamp(long long fill);
/* 1 if a chunk of count elements in bytes packed bytes is within the
 * rule for fill (one element always is). */
int list_fits(int fill, size_t bytes, size_t count);

/* ---- Packs (the inline form) ---- */

size_t list_pack_count(const char *pack);
void list_pack_set_count(char *pack, size_t count);

/* ---- Heap lists ---- */

struct list_chunk;

struct list {
	struct list_chunk *head, *tail;
	size_t count;              /* elements */
	size_t chunks;             /* chunks */
	size_t alloc;              /* bytes held (MEMORY USAGE) */
	int fill;                  /* the size rule, clamped */
	int compress;              /* list-compress-depth (unused) */
};

/* An empty list with the settings list-max-listpack-size fill and
 * list-compress-depth compress (both clamped as Redis does). */
struct list *list_new(long long fill, long long compress);
void list_free(struct list *l);
/* Bytes the list holds: header, chunks. */
size_t list_memory(const struct list *l);

/* A list holding the elements of pack (plen bytes, header included). */
struct list *list_from_pack(long long fill, long long compress,
    const char *pack, size_t plen);
/* Bytes list_to_pack writes (header included). */
size_t list_pack_bytes(const struct list *l);
/* Write l as a pack into out (list_pack_bytes(l) bytes). */
void list_to_pack(const struct list *l, char *out);
/* 1 if l is small enough to go back inline: one chunk, at most half
 * of what the rule allows (so a list near the limit does not flip
 * between the forms). */
int list_should_pack(const struct list *l);

void list_push(struct list *l, int where, const void *v, size_t len);
/* The element at end where (the list is not empty). */
void list_peek(const struct list *l, int where, const unsigned char **v,
    size_t *len);
/* Remove the element at end where (the list is not empty). */
void list_pop(struct list *l, int where);
/* The element at index idx (0-based; negative counts from the tail):
 * 1 and *v, *len set, or 0 if out of range. */
int list_index(const struct list *l, long long idx, const unsigned char **v,
    size_t *len);
/* Replace the element at index idx (as list_index): 1, or 0 if out of
 * range. */
int list_replace(struct list *l, long long idx, const void *v, size_t len);
/* Insert v before (after 0) or after (after 1) the first element equal
 * to pivot: 1, or 0 if no element is. */
int list_insert(struct list *l, const void *pivot, size_t plen, int after,
    const void *v, size_t len);
/* Remove n elements from index start (0 <= start, start + n <= count). */
void list_del_range(struct list *l, size_t start, size_t n);
/* LREM: remove elements equal to v, from the head (count > 0), from the
 * tail (count < 0), at most |count| of them, or all (count 0). Returns
 * how many were removed. */
size_t list_remove(struct list *l, const void *v, size_t len,
    long long count);

/* 0 if l's chunks are consistent (links, counts, the size rule, the
 * bytes accounted), else -1: for the tests. */
int list_check(const struct list *l);

/* ---- Iteration over either form ---- */

struct list_iter {
	const struct list_chunk *ch;    /* current chunk; NULL for a pack */
	const unsigned char *lo, *hi;   /* its elements' bytes */
	const unsigned char *p;         /* current element's start; NULL
	                                 * when done */
	int dir;                        /* LIST_TAIL: towards the tail */
};

/* Start at index idx (0 <= idx < count) of l, moving towards the tail
 * (dir LIST_TAIL) or the head (LIST_HEAD). */
void list_iter_init(struct list_iter *it, const struct list *l, size_t idx,
    int dir);
/* The same over a pack. */
void list_iter_init_pack(struct list_iter *it, const char *pack,
    size_t plen, size_t idx, int dir);
/* The current element and a step on: 1, or 0 past the end. */
int list_iter_next(struct list_iter *it, const unsigned char **v,
    size_t *len);

#endif
