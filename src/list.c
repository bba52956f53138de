/* SPDX-License-Identifier: MIT */
/* The compact list: packed elements, packs and chunked heap lists (see
 * list.h). */
#include "config.h"

#include <string.h>

#include "list.h"
#include "mem.h"

/*
 * Chunks. A chunk's elements sit in buf[start, end) of its cap bytes, so
 * that it can grow at either end without moving them: a push at the head
 * writes just before start, one at the tail just after end, and only when
 * that side has no room left are the elements moved once to the far side
 * (or the buffer grown, doubling up to what the size rule allows). A
 * removal inside a chunk moves whichever side of the hole is shorter.
 * Chunks whose elements would fit in one under the rule are merged after
 * removals (LREM, LTRIM, ranged pops) and after an insertion that had to
 * split one; single pops never merge, so they stay O(1).
 */
struct list_chunk {
	struct list_chunk *prev, *next;
	size_t count;              /* elements */
	size_t start, end;         /* their bytes: buf[start, end) */
	size_t cap;                /* bytes in buf */
	unsigned char buf[];
};

#define LIST_SAFETY_LIMIT 8192     /* bytes a chunk holds with fill > 0
                                    * (Redis's SIZE_SAFETY_LIMIT) */
#define LIST_FILL_MAX 32767        /* Redis's FILL_MAX */
#define LIST_FILL_MIN (-5)
#define LIST_COMPRESS_MAX 65535    /* Redis's COMPRESS_MAX */
#define LIST_CHUNK_MIN_CAP 128     /* a new chunk's smallest buffer */
#define LIST_MERGE_STEPS 3         /* neighbour pairs tried after a
                                    * local change */

/* Bytes a chunk holds under fill -1 ... -5 (Redis's optimization_level). */
static const size_t list_levels[] = { 4096, 8192, 16384, 32768, 65536 };

/* ---- Packed elements ---- */

/* Bytes of the varint of v. */
static inline size_t
list_varint_len(size_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

size_t
list_elem_size(size_t len)
{
	return len + 2 * list_varint_len(len);
}

/* The varint goes before the bytes as is and after them reversed, so its
 * first byte (the low bits) is the last byte of the element. */
unsigned char *
list_elem_put(unsigned char *p, const void *v, size_t len)
{
	size_t n = list_varint_len(len), i, x = len;
	unsigned char *tail = p + n + len + n - 1;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)((x & 0x7f) |
		    (i + 1 < n ? 0x80 : 0));

		p[i] = b;
		tail[-(ptrdiff_t)i] = b;
		x >>= 7;
	}
	if (len != 0)
		memcpy(p + n, v, len);
	return p + 2 * n + len;
}

const unsigned char *
list_elem_next(const unsigned char *p, const unsigned char **v, size_t *len)
{
	size_t n = 0, x = 0;
	unsigned shift = 0;
	unsigned char b;

	if (p[0] < 0x80) {
		*len = p[0];
		*v = p + 1;
		return p + 2 + p[0];
	}
	do {
		b = p[n++];
		x |= (size_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	*len = x;
	*v = p + n;
	return p + 2 * n + x;
}

const unsigned char *
list_elem_prev(const unsigned char *end, const unsigned char **v,
    size_t *len)
{
	const unsigned char *q = end;
	size_t n = 0, x = 0;
	unsigned shift = 0;
	unsigned char b;

	if (end[-1] < 0x80) {
		*len = end[-1];
		*v = end - 1 - end[-1];
		return end - 2 - end[-1];
	}
	do {
		b = *--q;
		n++;
		x |= (size_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	*len = x;
	*v = end - n - x;
	return end - 2 * n - x;
}

/* The start of the element after the one at p. */
static inline const unsigned char *
list_skip_next(const unsigned char *p)
{
	const unsigned char *v;
	size_t len;

	return list_elem_next(p, &v, &len);
}

/* The start of the element that ends at end. */
static inline const unsigned char *
list_skip_prev(const unsigned char *end)
{
	const unsigned char *v;
	size_t len;

	return list_elem_prev(end, &v, &len);
}

/* The start of element i of the count elements in [lo, hi), walking
 * from the nearer end. */
static const unsigned char *
list_run_seek(const unsigned char *lo, const unsigned char *hi, size_t count,
    size_t i)
{
	const unsigned char *p;
	size_t n;

	if (i <= count / 2) {
		for (p = lo; i > 0; i--)
			p = list_skip_next(p);
		return p;
	}
	for (p = hi, n = count - i; n > 0; n--)
		p = list_skip_prev(p);
	return p;
}

/* 1 if the element of ev[0..elen) is v[0..len). */
static inline int
list_elem_is(const unsigned char *ev, size_t elen, const void *v, size_t len)
{
	return elen == len && (len == 0 || memcmp(ev, v, len) == 0);
}

/* ---- The size rule ---- */

int
list_fill_clamp(long long fill)
{
	if (fill > LIST_FILL_MAX)
		return LIST_FILL_MAX;
	if (fill < LIST_FILL_MIN)
		return LIST_FILL_MIN;
	return (int)fill;
}

int
list_fits(int fill, size_t bytes, size_t count)
{
	if (count <= 1)
		return 1;
	if (count > LIST_CHUNK_MAX_COUNT)
		return 0;
	if (fill < 0)
		return bytes <= list_levels[-fill - 1];
	return bytes <= LIST_SAFETY_LIMIT && count <= (size_t)fill;
}

/* The buffer size for a chunk that must hold need bytes and had cap:
 * doubled from LIST_CHUNK_MIN_CAP up to what the rule lets a chunk hold,
 * or need itself for a bigger element. */
static size_t
list_grow_cap(int fill, size_t cap, size_t need)
{
	size_t max = fill < 0 ? list_levels[-fill - 1] : LIST_SAFETY_LIMIT;
	size_t c = cap > LIST_CHUNK_MIN_CAP ? cap : LIST_CHUNK_MIN_CAP;

	while (c < need && c < max)
		c *= 2;
	if (c > max)
		c = max;
	return c < need ? need : c;
}

/* ---- Packs ---- */

size_t
list_pack_count(const char *pack)
{
	const unsigned char *p = (const unsigned char *)pack;

	return (size_t)p[0] | (size_t)p[1] << 8;
}

void
list_pack_set_count(char *pack, size_t count)
{
	pack[0] = (char)(count & 0xff);
	pack[1] = (char)(count >> 8 & 0xff);
}

/* ---- Chunks ---- */

/* A chunk of cap bytes, empty, its room after (tail side) or before
 * (head side) the elements to come. Not linked. */
static struct list_chunk *
chunk_new(struct list *l, size_t cap, int where)
{
	struct list_chunk *ch = mem_alloc(sizeof(*ch) + cap);

	ch->prev = ch->next = NULL;
	ch->count = 0;
	ch->start = ch->end = where == LIST_HEAD ? cap : 0;
	ch->cap = cap;
	l->alloc += sizeof(*ch) + cap;
	l->chunks++;
	return ch;
}

/* Link ch after at (at NULL: as the head). */
static void
chunk_link_after(struct list *l, struct list_chunk *at,
    struct list_chunk *ch)
{
	ch->prev = at;
	ch->next = at != NULL ? at->next : l->head;
	if (ch->next != NULL)
		ch->next->prev = ch;
	else
		l->tail = ch;
	if (at != NULL)
		at->next = ch;
	else
		l->head = ch;
}

/* Unlink ch and free it. */
static void
chunk_drop(struct list *l, struct list_chunk *ch)
{
	if (ch->prev != NULL)
		ch->prev->next = ch->next;
	else
		l->head = ch->next;
	if (ch->next != NULL)
		ch->next->prev = ch->prev;
	else
		l->tail = ch->prev;
	l->alloc -= sizeof(*ch) + ch->cap;
	l->chunks--;
	mem_free(ch);
}

/* Give ch a buffer of cap bytes (>= its end); the chunk may move. */
static struct list_chunk *
chunk_resize(struct list *l, struct list_chunk *ch, size_t cap)
{
	l->alloc += cap;
	l->alloc -= ch->cap;
	ch = mem_realloc(ch, sizeof(*ch) + cap);
	ch->cap = cap;
	if (ch->prev != NULL)
		ch->prev->next = ch;
	else
		l->head = ch;
	if (ch->next != NULL)
		ch->next->prev = ch;
	else
		l->tail = ch;
	return ch;
}

/* Make room for n bytes before ch's elements. */
static struct list_chunk *
chunk_room_front(struct list *l, struct list_chunk *ch, size_t n)
{
	size_t used = ch->end - ch->start;

	if (ch->start >= n)
		return ch;
	if (ch->cap - used < n)
		ch = chunk_resize(l, ch, list_grow_cap(l->fill, ch->cap,
		    used + n));
	memmove(ch->buf + ch->cap - used, ch->buf + ch->start, used);
	ch->start = ch->cap - used;
	ch->end = ch->cap;
	return ch;
}

/* Make room for n bytes after ch's elements. */
static struct list_chunk *
chunk_room_back(struct list *l, struct list_chunk *ch, size_t n)
{
	size_t used = ch->end - ch->start;

	if (ch->cap - ch->end >= n)
		return ch;
	if (ch->cap - used < n)
		ch = chunk_resize(l, ch, list_grow_cap(l->fill, ch->cap,
		    used + n));
	if (ch->cap - ch->end < n) {
		memmove(ch->buf, ch->buf + ch->start, used);
		ch->start = 0;
		ch->end = used;
	}
	return ch;
}

/*
 * Replace the del bytes at buffer offset off of ch by room for ins bytes,
 * moving whichever side of the change is shorter (or both, to the start
 * of a grown buffer, when neither side has the room). Returns ch (which
 * may have moved); *at gets the offset of the room.
 */
static struct list_chunk *
chunk_splice(struct list *l, struct list_chunk *ch, size_t off, size_t del,
    size_t ins, size_t *at)
{
	size_t front = off - ch->start, back = ch->end - off - del, d, used;

	if (ins <= del) {
		d = del - ins;
		if (front < back) {
			memmove(ch->buf + ch->start + d, ch->buf + ch->start,
			    front);
			ch->start += d;
			*at = off + d;
		} else {
			memmove(ch->buf + off + ins, ch->buf + off + del, back);
			ch->end -= d;
			*at = off;
		}
		return ch;
	}
	d = ins - del;
	if (ch->start < d && ch->cap - ch->end < d) {
		used = ch->end - ch->start;
		if (ch->cap - used < d)
			ch = chunk_resize(l, ch, list_grow_cap(l->fill, ch->cap,
			    used + d));
		memmove(ch->buf, ch->buf + ch->start, used);
		off -= ch->start;
		ch->start = 0;
		ch->end = used;
	}
	if (ch->start >= d && (front <= back || ch->cap - ch->end < d)) {
		memmove(ch->buf + ch->start - d, ch->buf + ch->start, front);
		ch->start -= d;
		*at = off - d;
	} else {
		memmove(ch->buf + off + ins, ch->buf + off + del, back);
		ch->end += d;
		*at = off;
	}
	return ch;
}

/* Give back most of a buffer that removals left mostly empty. */
static struct list_chunk *
chunk_shrink(struct list *l, struct list_chunk *ch)
{
	size_t used = ch->end - ch->start;

	if (ch->cap <= LIST_CHUNK_MIN_CAP || used >= ch->cap / 4)
		return ch;
	memmove(ch->buf, ch->buf + ch->start, used);
	ch->start = 0;
	ch->end = used;
	return chunk_resize(l, ch, list_grow_cap(l->fill, 0, used));
}

/* Merge ch->next into ch if their elements fit in one chunk: returns
 * ch (it may have moved), or NULL if they do not fit. */
static struct list_chunk *
chunk_merge(struct list *l, struct list_chunk *ch)
{
	struct list_chunk *nx = ch->next;
	size_t n;

	if (nx == NULL || !list_fits(l->fill, ch->end - ch->start + nx->end -
	    nx->start, ch->count + nx->count))
		return NULL;
	n = nx->end - nx->start;
	ch = chunk_room_back(l, ch, n);
	nx = ch->next;
	memcpy(ch->buf + ch->end, nx->buf + nx->start, n);
	ch->end += n;
	ch->count += nx->count;
	chunk_drop(l, nx);
	return ch;
}

/* Try merging neighbour pairs from ch (NULL: the head) on, for up to
 * steps merges or moves on. */
static void
list_merge_from(struct list *l, struct list_chunk *ch, size_t steps)
{
	struct list_chunk *m;

	if (ch == NULL)
		ch = l->head;
	while (ch != NULL && ch->next != NULL && steps-- > 0) {
		m = chunk_merge(l, ch);
		ch = m != NULL ? m : ch->next;
	}
}

/* The chunk of element idx (< l->count); *li gets its index there. */
static struct list_chunk *
list_locate(const struct list *l, size_t idx, size_t *li)
{
	struct list_chunk *ch;
	size_t back;

	if (idx < l->count / 2) {
		for (ch = l->head; idx >= ch->count; ch = ch->next)
			idx -= ch->count;
		*li = idx;
		return ch;
	}
	back = l->count - 1 - idx;
	for (ch = l->tail; back >= ch->count; ch = ch->prev)
		back -= ch->count;
	*li = ch->count - 1 - back;
	return ch;
}

/* Buffer offset of element li of ch. */
static size_t
chunk_offset(const struct list_chunk *ch, size_t li)
{
	return (size_t)(list_run_seek(ch->buf + ch->start, ch->buf + ch->end,
	    ch->count, li) - ch->buf);
}

/* Normalize a signed index: 1 and *out set if it is in range. */
static int
list_norm_index(const struct list *l, long long idx, size_t *out)
{
	if (idx < 0) {
		if ((unsigned long long)-(idx + 1) >= l->count)
			return 0;
		*out = l->count - 1 - (size_t)-(idx + 1);
		return 1;
	}
	if ((unsigned long long)idx >= l->count)
		return 0;
	*out = (size_t)idx;
	return 1;
}

/* ---- Heap lists ---- */

struct list *
list_new(long long fill, long long compress)
{
	struct list *l = mem_alloc(sizeof(*l));

	l->head = l->tail = NULL;
	l->count = 0;
	l->chunks = 0;
	l->alloc = sizeof(*l);
	l->fill = list_fill_clamp(fill);
	l->compress = compress < 0 ? 0 : compress > LIST_COMPRESS_MAX ?
	    LIST_COMPRESS_MAX : (int)compress;
	return l;
}

void
list_free(struct list *l)
{
	struct list_chunk *ch, *next;

	if (l == NULL)
		return;
	for (ch = l->head; ch != NULL; ch = next) {
		next = ch->next;
		mem_free(ch);
	}
	mem_free(l);
}

size_t
list_memory(const struct list *l)
{
	return l->alloc;
}

struct list *
list_from_pack(long long fill, long long compress, const char *pack,
    size_t plen)
{
	struct list *l = list_new(fill, compress);
	const unsigned char *p = (const unsigned char *)pack + LIST_PACK_HDR;
	const unsigned char *end = (const unsigned char *)pack + plen, *v;
	size_t len;

	while (p < end) {
		p = list_elem_next(p, &v, &len);
		list_push(l, LIST_TAIL, v, len);
	}
	return l;
}

size_t
list_pack_bytes(const struct list *l)
{
	const struct list_chunk *ch;
	size_t n = LIST_PACK_HDR;

	for (ch = l->head; ch != NULL; ch = ch->next)
		n += ch->end - ch->start;
	return n;
}

void
list_to_pack(const struct list *l, char *out)
{
	const struct list_chunk *ch;
	size_t off = LIST_PACK_HDR;

	list_pack_set_count(out, l->count);
	for (ch = l->head; ch != NULL; ch = ch->next) {
		memcpy(out + off, ch->buf + ch->start, ch->end - ch->start);
		off += ch->end - ch->start;
	}
}

int
list_should_pack(const struct list *l)
{
	return l->chunks == 1 && list_fits(l->fill,
	    2 * (l->head->end - l->head->start), 2 * l->count);
}

void
list_push(struct list *l, int where, const void *v, size_t len)
{
	size_t es = list_elem_size(len);
	struct list_chunk *ch = where == LIST_HEAD ? l->head : l->tail;

	if (ch == NULL || !list_fits(l->fill, ch->end - ch->start + es,
	    ch->count + 1)) {
		ch = chunk_new(l, list_grow_cap(l->fill, 0, es), where);
		chunk_link_after(l, where == LIST_HEAD ? NULL : l->tail, ch);
	}
	if (where == LIST_HEAD) {
		ch = chunk_room_front(l, ch, es);
		ch->start -= es;
		list_elem_put(ch->buf + ch->start, v, len);
	} else {
		ch = chunk_room_back(l, ch, es);
		list_elem_put(ch->buf + ch->end, v, len);
		ch->end += es;
	}
	ch->count++;
	l->count++;
}

void
list_peek(const struct list *l, int where, const unsigned char **v,
    size_t *len)
{
	const struct list_chunk *ch = where == LIST_HEAD ? l->head : l->tail;

	if (where == LIST_HEAD)
		list_elem_next(ch->buf + ch->start, v, len);
	else
		list_elem_prev(ch->buf + ch->end, v, len);
}

void
list_pop(struct list *l, int where)
{
	struct list_chunk *ch = where == LIST_HEAD ? l->head : l->tail;

	if (where == LIST_HEAD)
		ch->start = (size_t)(list_skip_next(ch->buf + ch->start) -
		    ch->buf);
	else
		ch->end = (size_t)(list_skip_prev(ch->buf + ch->end) - ch->buf);
	ch->count--;
	l->count--;
	if (ch->count == 0)
		chunk_drop(l, ch);
}

int
list_index(const struct list *l, long long idx, const unsigned char **v,
    size_t *len)
{
	const struct list_chunk *ch;
	size_t i, li;

	if (!list_norm_index(l, idx, &i))
		return 0;
	ch = list_locate(l, i, &li);
	list_elem_next(ch->buf + chunk_offset(ch, li), v, len);
	return 1;
}

/*
 * Insert v at buffer offset off of ch (an element boundary). Where ch
 * has no room under the rule, the element goes to the end of the
 * previous chunk or the start of the next one if it sits at ch's edge
 * and they have room; otherwise ch is split at off, and v joins one of
 * the halves or, if neither can take it, a chunk of its own between
 * them. After a split, neighbours are merged where they fit.
 */
static void
list_insert_at(struct list *l, struct list_chunk *ch, size_t off,
    const void *v, size_t len)
{
	size_t es = list_elem_size(len), at, moved, n;
	struct list_chunk *nw, *left;
	const unsigned char *p;

	if (list_fits(l->fill, ch->end - ch->start + es, ch->count + 1)) {
		ch = chunk_splice(l, ch, off, 0, es, &at);
		goto put;
	}
	if (off == ch->start && ch->prev != NULL && list_fits(l->fill,
	    ch->prev->end - ch->prev->start + es, ch->prev->count + 1)) {
		ch = chunk_room_back(l, ch->prev, es);
		at = ch->end;
		ch->end += es;
		goto put;
	}
	if (off == ch->end && ch->next != NULL && list_fits(l->fill,
	    ch->next->end - ch->next->start + es, ch->next->count + 1)) {
		ch = chunk_room_front(l, ch->next, es);
		ch->start -= es;
		at = ch->start;
		goto put;
	}
	left = off == ch->start ? ch->prev : ch;
	if (off != ch->start && off != ch->end) {
		/* Split: the elements from off on move to a new chunk. */
		moved = ch->end - off;
		for (n = 0, p = ch->buf + off; p < ch->buf + ch->end; n++)
			p = list_skip_next(p);
		nw = chunk_new(l, list_grow_cap(l->fill, 0, moved), LIST_TAIL);
		memcpy(nw->buf, ch->buf + off, moved);
		nw->end = moved;
		nw->count = n;
		ch->end = off;
		ch->count -= n;
		chunk_link_after(l, ch, nw);
		if (list_fits(l->fill, ch->end - ch->start + es,
		    ch->count + 1)) {
			ch = chunk_room_back(l, ch, es);
			at = ch->end;
			ch->end += es;
			goto split;
		}
		if (list_fits(l->fill, moved + es, n + 1)) {
			ch = chunk_room_front(l, nw, es);
			ch->start -= es;
			at = ch->start;
			goto split;
		}
	}
	/* A chunk of its own, after left (NULL: at the head). */
	ch = chunk_new(l, list_grow_cap(l->fill, 0, es), LIST_TAIL);
	chunk_link_after(l, left, ch);
	at = 0;
	ch->end = es;
split:
	list_elem_put(ch->buf + at, v, len);
	ch->count++;
	l->count++;
	/* Merge around the change: from two chunks before ch on. */
	nw = ch->prev != NULL && ch->prev->prev != NULL ? ch->prev->prev :
	    l->head;
	list_merge_from(l, nw, 2 * LIST_MERGE_STEPS);
	return;
put:
	list_elem_put(ch->buf + at, v, len);
	ch->count++;
	l->count++;
}

int
list_replace(struct list *l, long long idx, const void *v, size_t len)
{
	struct list_chunk *ch;
	size_t i, li, off, old, es = list_elem_size(len), at, back;

	if (!list_norm_index(l, idx, &i))
		return 0;
	ch = list_locate(l, i, &li);
	off = chunk_offset(ch, li);
	old = (size_t)(list_skip_next(ch->buf + off) - (ch->buf + off));
	if (list_fits(l->fill, ch->end - ch->start - old + es, ch->count)) {
		ch = chunk_splice(l, ch, off, old, es, &at);
		list_elem_put(ch->buf + at, v, len);
		return 1;
	}
	/* Too big for its chunk: take the old element out (the chunk keeps
	 * others: one element always fits) and insert the new one there. */
	back = ch->end - off - old;
	ch = chunk_splice(l, ch, off, old, 0, &at);
	ch->count--;
	l->count--;
	list_insert_at(l, ch, ch->end - back, v, len);
	return 1;
}

int
list_insert(struct list *l, const void *pivot, size_t plen, int after,
    const void *v, size_t len)
{
	struct list_chunk *ch;
	const unsigned char *p, *q, *ev;
	size_t elen;

	for (ch = l->head; ch != NULL; ch = ch->next) {
		for (p = ch->buf + ch->start; p < ch->buf + ch->end; p = q) {
			q = list_elem_next(p, &ev, &elen);
			if (!list_elem_is(ev, elen, pivot, plen))
				continue;
			list_insert_at(l, ch, (size_t)((after ? q : p) -
			    ch->buf), v, len);
			return 1;
		}
	}
	return 0;
}

void
list_del_range(struct list *l, size_t start, size_t n)
{
	struct list_chunk *ch, *next, *before;
	size_t li, k, a, b, at;
	const unsigned char *p;

	if (n == 0)
		return;
	ch = list_locate(l, start, &li);
	before = ch->prev;
	while (n > 0) {
		next = ch->next;
		if (li == 0 && n >= ch->count) {
			n -= ch->count;
			l->count -= ch->count;
			chunk_drop(l, ch);
			ch = next;
			continue;
		}
		k = n < ch->count - li ? n : ch->count - li;
		a = chunk_offset(ch, li);
		if (li + k == ch->count) {
			b = ch->end;
		} else {
			for (p = ch->buf + a, b = k; b > 0; b--)
				p = list_skip_next(p);
			b = (size_t)(p - ch->buf);
		}
		ch = chunk_splice(l, ch, a, b - a, 0, &at);
		ch->count -= k;
		l->count -= k;
		n -= k;
		ch = chunk_shrink(l, ch);
		li = 0;
		ch = ch->next;
	}
	list_merge_from(l, before, LIST_MERGE_STEPS);
}

/* LREM's walk from the head: remove up to lim (0: all) elements equal
 * to v; returns how many. */
static size_t
list_remove_forward(struct list *l, const void *v, size_t len, size_t lim)
{
	struct list_chunk *ch, *next;
	const unsigned char *q, *ev;
	size_t removed = 0, off, es, elen, back, at;

	for (ch = l->head; ch != NULL; ch = next) {
		off = ch->start;
		while (off < ch->end && (lim == 0 || removed < lim)) {
			q = list_elem_next(ch->buf + off, &ev, &elen);
			es = (size_t)(q - (ch->buf + off));
			if (!list_elem_is(ev, elen, v, len)) {
				off += es;
				continue;
			}
			back = ch->end - off - es;
			ch = chunk_splice(l, ch, off, es, 0, &at);
			ch->count--;
			l->count--;
			removed++;
			off = ch->end - back;
		}
		next = ch->next;
		if (ch->count == 0)
			chunk_drop(l, ch);
		if (lim != 0 && removed == lim)
			break;
	}
	return removed;
}

/* LREM's walk from the tail (as list_remove_forward). */
static size_t
list_remove_backward(struct list *l, const void *v, size_t len, size_t lim)
{
	struct list_chunk *ch, *prev;
	const unsigned char *p, *ev;
	size_t removed = 0, e, es, elen, front, at;

	for (ch = l->tail; ch != NULL; ch = prev) {
		e = ch->end;
		while (e > ch->start && (lim == 0 || removed < lim)) {
			p = list_elem_prev(ch->buf + e, &ev, &elen);
			es = (size_t)(ch->buf + e - p);
			if (!list_elem_is(ev, elen, v, len)) {
				e -= es;
				continue;
			}
			front = e - es - ch->start;
			ch = chunk_splice(l, ch, e - es, es, 0, &at);
			ch->count--;
			l->count--;
			removed++;
			e = ch->start + front;
		}
		prev = ch->prev;
		if (ch->count == 0)
			chunk_drop(l, ch);
		if (lim != 0 && removed == lim)
			break;
	}
	return removed;
}

size_t
list_remove(struct list *l, const void *v, size_t len, long long count)
{
	struct list_chunk *ch;
	size_t removed;

	if (count >= 0)
		removed = list_remove_forward(l, v, len, (size_t)count);
	else
		removed = list_remove_backward(l, v, len,
		    (size_t)-(count + 1) + 1);
	if (removed == 0)
		return 0;
	for (ch = l->head; ch != NULL; ch = ch->next)
		ch = chunk_shrink(l, ch);
	list_merge_from(l, NULL, 2 * l->chunks);
	return removed;
}

int
list_check(const struct list *l)
{
	const struct list_chunk *ch, *prev = NULL;
	const unsigned char *p;
	size_t count = 0, chunks = 0, alloc = sizeof(*l), n;

	for (ch = l->head; ch != NULL; prev = ch, ch = ch->next) {
		if (ch->prev != prev || ch->start > ch->end ||
		    ch->end > ch->cap || ch->count == 0 ||
		    !list_fits(l->fill, ch->end - ch->start, ch->count))
			return -1;
		for (n = 0, p = ch->buf + ch->start; p < ch->buf + ch->end; n++)
			p = list_skip_next(p);
		if (p != ch->buf + ch->end || n != ch->count)
			return -1;
		count += n;
		chunks++;
		alloc += sizeof(*ch) + ch->cap;
	}
	return l->tail == prev && count == l->count && chunks == l->chunks &&
	    alloc == l->alloc ? 0 : -1;
}

/* ---- Iteration ---- */

/* Enter chunk ch (NULL: done) at its first (dir LIST_TAIL) or last
 * element. */
static void
list_iter_enter(struct list_iter *it, const struct list_chunk *ch)
{
	it->ch = ch;
	if (ch == NULL) {
		it->p = NULL;
		return;
	}
	it->lo = ch->buf + ch->start;
	it->hi = ch->buf + ch->end;
	it->p = it->dir == LIST_TAIL ? it->lo : list_skip_prev(it->hi);
}

void
list_iter_init(struct list_iter *it, const struct list *l, size_t idx,
    int dir)
{
	size_t li;
	const struct list_chunk *ch = list_locate(l, idx, &li);

	it->dir = dir;
	it->ch = ch;
	it->lo = ch->buf + ch->start;
	it->hi = ch->buf + ch->end;
	it->p = list_run_seek(it->lo, it->hi, ch->count, li);
}

void
list_iter_init_pack(struct list_iter *it, const char *pack, size_t plen,
    size_t idx, int dir)
{
	it->dir = dir;
	it->ch = NULL;
	it->lo = (const unsigned char *)pack + LIST_PACK_HDR;
	it->hi = (const unsigned char *)pack + plen;
	it->p = list_run_seek(it->lo, it->hi, list_pack_count(pack), idx);
}

int
list_iter_next(struct list_iter *it, const unsigned char **v, size_t *len)
{
	const unsigned char *q;

	if (it->p == NULL)
		return 0;
	q = list_elem_next(it->p, v, len);
	if (it->dir == LIST_TAIL && q < it->hi)
		it->p = q;
	else if (it->dir == LIST_HEAD && it->p > it->lo)
		it->p = list_skip_prev(it->p);
	else if (it->ch == NULL)
		it->p = NULL;
	else
		list_iter_enter(it, it->dir == LIST_TAIL ? it->ch->next :
		    it->ch->prev);
	return 1;
}
