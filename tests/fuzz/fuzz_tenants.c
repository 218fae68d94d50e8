/* Fuzz target: the tenants file parser (INI sections, keys, secrets, group globs, numbers) and the
 * glob matching it feeds. A failed load must leave the registry untouched; a successful one must
 * give lookups and matches that answer without crashing. The text is loaded twice, the second
 * time as a reload over the first. */
#include "profgate/tenants.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static pg_tenants ts, before;
    char err[256];
    /* Only the slots in use are copied and compared: the rest stay zero (the struct is 157 KB,
     * and whole copies made this the slowest target by far). */
    memset(&ts.t, 0, ts.n * sizeof ts.t[0]);
    ts.n = 0;
    for (int round = 0; round < 2; round++) {
        size_t used = ts.n;
        memcpy(before.t, ts.t, used * sizeof ts.t[0]);
        if (pg_tenants_load_string(&ts, text, "fuzz", 0, err, sizeof err) != PG_OK) {
            PG_ASSERT(ts.n == used && memcmp(ts.t, before.t, used * sizeof ts.t[0]) == 0);
            for (size_t i = used; i < PG_TENANTS_MAX; i += 16)
                PG_ASSERT(ts.t[i].name[0] == '\0'); /* untouched past the slots in use (sampled) */
            break;
        }
        PG_ASSERT(ts.n <= PG_TENANTS_MAX);
        for (size_t i = 0; i < ts.n; i++) {
            pg_tenant *t = &ts.t[i];
            if (!t->active)
                continue;
            PG_ASSERT(pg_tenants_by_key(&ts, t->access_key, strlen(t->access_key)) == t);
            (void)pg_tenant_may_read(t, "shop-frontend");
            (void)pg_tenant_may_read(t, t->name);
            (void)pg_tenant_take(t, (int64_t)round * PG_NS_PER_S);
        }
    }
    free(text);
    return 0;
}
