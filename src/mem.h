/* SPDX-License-Identifier: MIT */
/*
 * Allocation wrappers with memory accounting: every byte the server holds
 * on the heap goes through here, so INFO can report used_memory.
 * Allocation failure is fatal (as in Redis's zmalloc): the process logs and
 * aborts rather than run on with a half-applied command.
 */
#ifndef TMC_MEM_H
#define TMC_MEM_H

#include <stddef.h>

void *mem_alloc(size_t size);                  /* never returns NULL */
/* mem_alloc that also stores what the block costs (mem_usable). */
void *mem_alloc_usable(size_t size, size_t *usable);
void *mem_calloc(size_t n, size_t size);       /* zeroed; never NULL */
void *mem_realloc(void *ptr, size_t size);     /* never returns NULL */
void mem_free(void *ptr);                      /* NULL is fine */
char *mem_strdup(const char *s);
size_t mem_used(void);                         /* bytes currently allocated */
/* Tune the allocator for a server (process-wide): no fastbins. */
void mem_tune(void);
size_t mem_usable(const void *ptr);            /* bytes ptr really costs */
/* Whether mem_realloc to size would keep a block that costs usable bytes
 * (its mem_usable) as it is: it holds size bytes with less than a
 * granule to spare (0 when unknown). */
int mem_fits(size_t usable, size_t size);
size_t mem_peak(void);                         /* highest mem_used() seen
                                                * by calls to mem_peak */
void mem_peak_reset(void);                     /* the peak is now */

#endif
