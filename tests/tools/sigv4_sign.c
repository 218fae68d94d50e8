/* Test helper: signs requests read from stdin with profgate's SigV4 code, one per line:
 *   METHOD \t TARGET \t NAME:VALUE|NAME:VALUE... \t AMZ_DATE \t REGION \t SERVICE \t SECRET
 * and prints the hex signature per line. test_sigv4_botocore.py compares it with botocore. */
#include "profgate/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    char line[65536];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *f[7];
        char *p = line;
        for (int i = 0; i < 7; i++) {
            f[i] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL && i < 6) {
                fprintf(stderr, "bad line\n");
                return 2;
            }
            if (tab) {
                *tab = '\0';
                p = tab + 1;
            }
        }
        pg_http_header hs[64];
        size_t n = 0;
        for (char *h = strtok(f[2], "|"); h && n < 64; h = strtok(NULL, "|")) {
            char *colon = strchr(h, ':');
            if (colon == NULL)
                continue;
            hs[n++] = (pg_http_header){h, (size_t)(colon - h), colon + 1, strlen(colon + 1)};
        }
        pg_slice path, query;
        pg_target_split(f[1], strlen(f[1]), &path, &query);
        pg_sigv4_input in = {.method = f[0], .path = path, .query = query, .headers = hs, .nheaders = n,
                             .payload_hash = PG_SHA256_HEX_EMPTY, .amz_date = f[3], .region = f[4], .service = f[5]};
        char sig[65];
        if (pg_sigv4_signature(&in, f[6], sig) != PG_OK) {
            fprintf(stderr, "cannot sign\n");
            return 2;
        }
        printf("%s\n", sig);
    }
    return 0;
}
