/* Fuzz target: the INI configuration parser and every directive's value parser. A failed load
 * must leave the configuration untouched. */
#include "profgate/config.h"

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
    static pg_config cfg, before;
    char err[PG_CONFIG_ERR_MAX];
    pg_config_defaults(&cfg);
    before = cfg;
    if (pg_config_load_string(&cfg, text, "fuzz", err, sizeof err) != PG_OK)
        PG_ASSERT(memcmp(&cfg, &before, sizeof cfg) == 0);
    free(text);
    return 0;
}
