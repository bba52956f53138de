/* SPDX-License-Identifier: MIT */
/*
 * Allocation wrappers with memory accounting (see mem.h).
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef HAVE_MALLOC_H
#include <malloc.h>
#endif

#include "mem.h"

/* Relaxed atomics: the server thread does almost all the work, but the
 * Python extension may allocate (codec buffers) from other threads. */
static atomic_size_t used_bytes;
static atomic_size_t peak_bytes;       /* highest used_bytes sampled */

/* Bytes glibc's malloc keeps in front of each chunk (its size word):
 * counted with the usable size so that used_memory follows what the
 * process really holds, which maxmemory is meant to bound. */
#define MEM_CHUNK_OVERHEAD sizeof(size_t)
#define MEM_GRANULE 16                  /* glibc's chunk size step */

/* Report an allocation failure and stop: there is no safe way to go on. */
static void
mem_oom(size_t size)
{
	fprintf(stderr, "tiny-mp-cache: out of memory allocating %zu bytes\n",
	    size);
	fflush(stderr);
	abort();
}

/* The allocator's size of a block (non-const, so the compiler does not
 * take it for a read of the fresh, uninitialized block). */
static size_t
alloc_size(void *ptr)
{
#ifdef HAVE_MALLOC_USABLE_SIZE
	return ptr != NULL ? malloc_usable_size(ptr) + MEM_CHUNK_OVERHEAD : 0;
#else
	(void)ptr;
	return 0;
#endif
}

size_t
mem_usable(const void *ptr)
{
	return alloc_size((void *)(uintptr_t)ptr);
}

int
mem_fits(size_t usable, size_t size)
{
	/* What the block holds: its cost less glibc's size word (0 when
	 * the allocator cannot say). glibc keeps a block whose spare bytes
	 * cannot make a chunk. */
	size_t room = usable > MEM_CHUNK_OVERHEAD ?
	    usable - MEM_CHUNK_OVERHEAD : 0;

	return size <= room && room - size < MEM_GRANULE;
}

/*
 * No fastbins: a freed small block merges with its free neighbours at
 * once, instead of all of them in one go when a larger request comes.
 * After a mass expiry that one go stalled a cycle for 140-195 ms; without
 * fastbins the longest wait seen was 26-30 ms, and instructions per
 * SET/GET did not change. Process-wide (the embedding Python process
 * too), which only changes how glibc reuses small blocks.
 */
void
mem_tune(void)
{
#if defined(HAVE_MALLOC_H) && defined(M_MXFAST)
	mallopt(M_MXFAST, 0);
#endif
}

size_t
mem_peak(void)
{
	size_t used = mem_used(), peak = atomic_load_explicit(&peak_bytes,
	    memory_order_relaxed);

	if (used > peak) {
		atomic_store_explicit(&peak_bytes, used, memory_order_relaxed);
		peak = used;
	}
	return peak;
}

void
mem_peak_reset(void)
{
	atomic_store_explicit(&peak_bytes, mem_used(), memory_order_relaxed);
}

void *
mem_alloc(size_t size)
{
	void *p = malloc(size != 0 ? size : 1);

	if (p == NULL)
		mem_oom(size);
	atomic_fetch_add_explicit(&used_bytes, alloc_size(p),
	    memory_order_relaxed);
	return p;
}

void *
mem_alloc_usable(size_t size, size_t *usable)
{
	void *p = malloc(size != 0 ? size : 1);

	if (p == NULL)
		mem_oom(size);
	*usable = alloc_size(p);
	atomic_fetch_add_explicit(&used_bytes, *usable, memory_order_relaxed);
	return p;
}

void *
mem_calloc(size_t n, size_t size)
{
	void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);

	if (p == NULL)
		mem_oom(n * size);
	atomic_fetch_add_explicit(&used_bytes, alloc_size(p),
	    memory_order_relaxed);
	return p;
}

void *
mem_realloc(void *ptr, size_t size)
{
	size_t old = alloc_size(ptr);
	void *p = realloc(ptr, size != 0 ? size : 1);

	if (p == NULL)
		mem_oom(size);
	atomic_fetch_sub_explicit(&used_bytes, old, memory_order_relaxed);
	atomic_fetch_add_explicit(&used_bytes, alloc_size(p),
	    memory_order_relaxed);
	return p;
}

void
mem_free(void *ptr)
{
	if (ptr == NULL)
		return;
	atomic_fetch_sub_explicit(&used_bytes, alloc_size(ptr),
	    memory_order_relaxed);
	free(ptr);
}

char *
mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = mem_alloc(n);

	memcpy(p, s, n);
	return p;
}

size_t
mem_used(void)
{
	return atomic_load_explicit(&used_bytes, memory_order_relaxed);
}
