/*
 * slab.c: the block allocator. A block is PG_SLAB_BLOCK bytes at an address that is a multiple of
 * PG_SLAB_BLOCK, so an object's block is found by masking its address. Its header is followed by
 * the objects: those never handed out yet (carved counts them, from the front), then those freed
 * and kept on the block's free list.
 */
#include "profgate/slab.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct pg_slab_block {
    pg_slab *owner;
    pg_slab_block *prev, *next; /* in owner->avail while it has room */
    void *free;                 /* freed objects, linked through their first word */
    size_t used, carved;
    bool listed;
};

#define HEAD_SIZE ((sizeof(pg_slab_block) + 15) & ~(size_t)15)

static char *objects(pg_slab_block *b)
{
    return (char *)b + HEAD_SIZE;
}

void pg_slab_init(pg_slab *s, size_t size)
{
    PG_ASSERT(size > 0 && size <= PG_SLAB_BLOCK / 4);
    memset(s, 0, sizeof *s);
    s->size = (size + 15) & ~(size_t)15;
    s->per_block = (PG_SLAB_BLOCK - HEAD_SIZE) / s->size;
}

/* A block-aligned mapping: twice the size mapped, the unaligned ends unmapped. */
static pg_slab_block *block_map(void)
{
    size_t len = 2 * PG_SLAB_BLOCK;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + PG_SLAB_BLOCK - 1) & ~(uintptr_t)(PG_SLAB_BLOCK - 1);
    size_t lead = start - (uintptr_t)p, tail = len - lead - PG_SLAB_BLOCK;
    if (lead > 0)
        munmap(p, lead);
    if (tail > 0)
        munmap((char *)start + PG_SLAB_BLOCK, tail);
    return (pg_slab_block *)start;
}

static void avail_push(pg_slab *s, pg_slab_block *b)
{
    PG_ASSERT(!b->listed);
    b->prev = NULL;
    b->next = s->avail;
    if (s->avail)
        s->avail->prev = b;
    s->avail = b;
    b->listed = true;
}

static void avail_unlink(pg_slab *s, pg_slab_block *b)
{
    PG_ASSERT(b->listed);
    if (b->prev)
        b->prev->next = b->next;
    else
        s->avail = b->next;
    if (b->next)
        b->next->prev = b->prev;
    b->prev = b->next = NULL;
    b->listed = false;
}

void *pg_slab_alloc(pg_slab *s)
{
    pg_slab_block *b = s->avail;
    if (b == NULL) {
        if ((b = block_map()) == NULL)
            return NULL;
        /* Fresh anonymous pages read as zero: only the header is written. */
        b->owner = s;
        POISON(objects(b), s->per_block * s->size);
        s->blocks++;
        s->empty++;
        avail_push(s, b);
    }
    void *p;
    if (b->free != NULL) {
        p = b->free;
        UNPOISON(p, s->size);
        memcpy(&b->free, p, sizeof(void *));
    } else {
        PG_ASSERT(b->carved < s->per_block);
        p = objects(b) + b->carved++ * s->size;
        UNPOISON(p, s->size);
    }
    memset(p, 0, s->size);
    if (b->used++ == 0)
        s->empty--;
    if (b->used == s->per_block)
        avail_unlink(s, b);
    s->live++;
    return p;
}

void pg_slab_free(pg_slab *s, void *p)
{
    PG_ASSERT(p != NULL);
    pg_slab_block *b = (pg_slab_block *)((uintptr_t)p & ~(uintptr_t)(PG_SLAB_BLOCK - 1));
    PG_ASSERT(b->owner == s && b->used > 0);
    PG_ASSERT(((size_t)((char *)p - objects(b)) % s->size) == 0 && (char *)p < objects(b) + b->carved * s->size);
    memcpy(p, &b->free, sizeof(void *));
    b->free = p;
    POISON(p, s->size);
    if (b->used-- == s->per_block)
        avail_push(s, b);
    s->live--;
    if (b->used > 0)
        return;
    if (s->empty == 0) {
        s->empty++; /* kept: the next object needs no new mapping */
        return;
    }
    avail_unlink(s, b);
    UNPOISON(b, PG_SLAB_BLOCK);
    munmap(b, PG_SLAB_BLOCK);
    s->blocks--;
}

void pg_slab_destroy(pg_slab *s)
{
    PG_ASSERT(s->live == 0);
    while (s->avail != NULL) {
        pg_slab_block *b = s->avail;
        avail_unlink(s, b);
        UNPOISON(b, PG_SLAB_BLOCK);
        munmap(b, PG_SLAB_BLOCK);
        s->blocks--;
    }
    PG_ASSERT(s->blocks == 0);
    s->empty = 0;
}
