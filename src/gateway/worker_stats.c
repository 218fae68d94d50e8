/*
 * worker_stats.c: the shared metrics region of server.workers (see worker_stats.h). A slot's
 * sequence number is odd while its worker writes; a reader copies between two even, equal
 * readings. A worker that dies mid-write leaves the sequence odd: readers skip the slot after
 * READ_TRIES, and the supervisor clears it.
 */
#include "profgate/worker_stats.h"

#include <string.h>
#include <sys/mman.h>

#define READ_TRIES 64

typedef struct slot {
    uint64_t seq;
    bool present;
    pg_metrics_snap snap;
} slot;

struct pg_worker_stats {
    unsigned n;
    size_t bytes;
    slot slots[];
};

pg_worker_stats *pg_worker_stats_new(unsigned n)
{
    PG_ASSERT(n >= 1);
    size_t bytes = sizeof(pg_worker_stats) + (size_t)n * sizeof(slot);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    pg_worker_stats *ws = p; /* mmap gives zeroed pages: every slot absent, sequence 0 */
    ws->n = n;
    ws->bytes = bytes;
    return ws;
}

void pg_worker_stats_free(pg_worker_stats *ws)
{
    if (ws != NULL)
        munmap(ws, ws->bytes);
}

unsigned pg_worker_stats_count(const pg_worker_stats *ws)
{
    return ws->n;
}

static void write_slot(slot *sl, const pg_metrics_snap *s)
{
    uint64_t seq = __atomic_load_n(&sl->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&sl->seq, seq | 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    sl->present = s != NULL;
    if (s != NULL)
        memcpy(&sl->snap, s, sizeof *s);
    __atomic_store_n(&sl->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
}

void pg_worker_stats_publish(pg_worker_stats *ws, unsigned index, const pg_metrics_snap *s)
{
    PG_ASSERT(index >= 1 && index <= ws->n);
    write_slot(&ws->slots[index - 1], s);
}

void pg_worker_stats_clear(pg_worker_stats *ws, unsigned index)
{
    PG_ASSERT(index >= 1 && index <= ws->n);
    write_slot(&ws->slots[index - 1], NULL);
}

bool pg_worker_stats_read(const pg_worker_stats *ws, unsigned index, pg_metrics_snap *out)
{
    PG_ASSERT(index >= 1 && index <= ws->n);
    const slot *sl = &ws->slots[index - 1];
    for (int i = 0; i < READ_TRIES; i++) {
        uint64_t s1 = __atomic_load_n(&sl->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            continue;
        bool present = sl->present;
        if (present)
            memcpy(out, &sl->snap, sizeof *out);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sl->seq, __ATOMIC_RELAXED) == s1)
            return present;
    }
    return false;
}
