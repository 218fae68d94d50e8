/*
 * layouts.c: Ion layouts of kept answers. An Ion writer numbers the call tree's symbols and
 * writes the tree (backwards: Ion puts lengths first), which is nearly all of writing an answer.
 * A sliding window's answer is a view of a kept merge (runs.c) until a live bucket changes,
 * written again on every request; so the layout its first writer made (the symbols and the tree
 * as written) is kept here, keyed by the profile's origin (pg_profile.origin: the kept profile's
 * content, which its copies and views share), and the next writers of that content copy the tree.
 * Sized at a quarter of cache.merged_bytes, on top of it (a layout is about its Ion answer's size,
 * and only Ion answers make them).
 */
#include "gp.h"

#include <stdlib.h>

static void free_layout(void *v)
{
    pg_ion_layout_unref(v);
}

pg_lru *gw_layouts_new(size_t merged_bytes)
{
    return pg_lru_new(merged_bytes / 4, free_layout);
}

int gw_ion_writer(pg_gateway *gw, const pg_profile *p, pg_pwriter **out)
{
    const uint64_t key = p->origin; /* 0: merged for this request only, nothing to share */
    if (key == 0 || pg_lru_capacity(gw->layouts) == 0)
        return pg_pwriter_new(p, true, 0, out);
    pg_lru_entry *e = pg_lru_get(gw->layouts, &key, sizeof key);
    pg_ion_layout *kept = e != NULL ? pg_lru_value(e) : NULL;
    int rc = pg_pwriter_new_ion(p, kept, out); /* the writer holds its own reference */
    if (e != NULL)
        pg_lru_release(gw->layouts, e);
    if (rc != PG_OK)
        return rc;
    pg_ion_layout *L = pg_pwriter_layout(*out);
    if (L == kept) {
        gw->layout_hits++;
        return PG_OK;
    }
    /* A new layout, or one for a head with names the kept one lacks: it replaces the old. */
    if (pg_lru_put(gw->layouts, &key, sizeof key, pg_ion_layout_ref(L), pg_ion_layout_memory(L)) == PG_OK)
        gw->layout_stores++;
    return PG_OK;
}
