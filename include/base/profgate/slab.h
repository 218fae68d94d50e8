/*
 * slab.h: objects of one size in 64 KiB blocks mapped for them alone, outside the heap.
 *
 * Why: a server's connections live for minutes while each request's allocations live for
 * milliseconds. From one heap, a request's freed chunks end up split by the next connection's
 * struct, leaving holes that neither the next request (too small) nor the kernel (less than a
 * page) can use: bench/connections measured 398 bytes per idle connection in most runs and 800 to
 * 2,100 in others from the same client. nginx avoids this by allocating its connections up front
 * in one array; this does the same lazily: a block is mapped when the first object needs it,
 * its pages are touched only as objects are carved from it, and it is unmapped when its last
 * object is freed (one empty block is kept, so a count going back and forth across a block's
 * edge does not map and unmap on every step).
 *
 * Objects are zeroed when handed out. Under ASan, free slots and uncarved space are poisoned, so a
 * use after free is still reported as it would be with malloc.
 */
#ifndef PG_SLAB_H
#define PG_SLAB_H

#include "profgate/common.h"

#define PG_SLAB_BLOCK ((size_t)64 * 1024)

typedef struct pg_slab_block pg_slab_block;

typedef struct pg_slab {
    size_t size;          /* per object, rounded up to 16 bytes */
    size_t per_block;
    pg_slab_block *avail; /* blocks with room, most recently freed-into first */
    size_t blocks;        /* mapped */
    size_t empty;         /* mapped with nothing live (at most 1 once a free has run) */
    size_t live;          /* objects handed out */
} pg_slab;

/** A slab of objects of size bytes (at most a quarter of a block). */
void pg_slab_init(pg_slab *s, size_t size);
/** A zeroed object; NULL when no block can be mapped. */
void *pg_slab_alloc(pg_slab *s);
/** Gives back an object from pg_slab_alloc of this slab. */
void pg_slab_free(pg_slab *s, void *p);
/** Unmaps every block; nothing may be live. */
void pg_slab_destroy(pg_slab *s);

#endif
