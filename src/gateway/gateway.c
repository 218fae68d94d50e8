/*
 * gateway.c: the gateway object's life: created from the modules main wired, told about the
 * server and reloads, freed last. Request handling lives in routes.c and getprofile.c.
 */
#include "gw.h"
#include "profgate/peers.h"
#include "profgate/settings.h"

#include <openssl/sha.h>

#include <stdlib.h>
#include <string.h>

pg_gateway *gw_of(void *data)
{
    pg_gateway *gw = data;
    PG_ASSERT(gw != NULL && gw->magic == GW_MAGIC);
    return gw;
}

/* Lists of profile times are small (a day of PT5M: 288 starts). */
#define TIMES_CACHE_BYTES ((size_t)16 << 20)


pg_gateway *pg_gateway_new(const pg_gateway_deps *deps)
{
    pg_gateway *gw = pg_xcalloc(1, sizeof *gw);
    gw->magic = GW_MAGIC;
    gw->d = *deps;
    pg_settings_planner(&gw->planner, deps->cfg);
    pg_profile_limits_default(&gw->limits);
    /* Always there, so a reload can resize them (from or to 0: holding nothing). */
    gw->answers = gw_answers_new((size_t)deps->cfg->cache_response_bytes);
    gw->runs = gw_runs_new((size_t)deps->cfg->cache_merged_bytes);
    gw->layouts = gw_layouts_new((size_t)deps->cfg->cache_merged_bytes);
    gw->times = gw_times_new(TIMES_CACHE_BYTES);
    gw->api_cache = gw_api_cache_new(GW_API_CACHE_BYTES);
    gw->gp_peers = pg_peers_new();
    PG_ASSERT(gw->answers != NULL && gw->runs != NULL && gw->layouts != NULL && gw->times != NULL && gw->api_cache != NULL &&
              gw->gp_peers != NULL);
    /* The cache namespace names the upstream (endpoint, region): every replica in front of it
     * shares it, so a nextToken one replica wrote is accepted by the others. */
    pg_upstream_cfg ucfg;
    char err[PG_CONFIG_ERR_MAX];
    PG_ASSERT(pg_settings_upstream(&ucfg, deps->cfg, err, sizeof err) == PG_OK); /* validated at start */
    pg_settings_cache_namespace(deps->cfg, &ucfg, gw->ns, sizeof gw->ns);
    snprintf(gw->region, sizeof gw->region, "%s", ucfg.region);
    char seed[128];
    int n = snprintf(seed, sizeof seed, "profgate ListProfileTimes nextToken|%s", gw->ns);
    PG_FMT_FITS(n, sizeof seed);
    SHA256((const unsigned char *)seed, (size_t)n, gw->token_key);
    gw->start_time = (double)pg_realtime_ns() / 1e9;
    return gw;
}

void pg_gateway_reconfigure(pg_gateway *gw)
{
    pg_settings_planner(&gw->planner, gw->d.cfg);
    pg_lru_set_capacity(gw->answers, (size_t)gw->d.cfg->cache_response_bytes);
    pg_lru_set_capacity(gw->runs, (size_t)gw->d.cfg->cache_merged_bytes);
    pg_lru_set_capacity(gw->layouts, (size_t)gw->d.cfg->cache_merged_bytes / 4); /* as gw_layouts_new */
}

void pg_gateway_set_server(pg_gateway *gw, pg_http_server *server)
{
    gw->server = server;
}

void pg_gateway_set_stopping(pg_gateway *gw)
{
    gw->stopping = true;
}

void pg_gateway_count_reload(pg_gateway *gw, bool ok)
{
    gw->m.reloads[ok ? PG_MRL_OK : PG_MRL_FAILED]++;
}

void pg_gateway_free(pg_gateway *gw)
{
    if (gw == NULL)
        return;
    PG_ASSERT(gw->active == 0 && gw->inflight == 0 && gw->wait.n == 0 && gw->spilled == 0);
    pg_peers_free(gw->gp_peers);
    gw_listtimes_free(gw);
    gw_api_free(gw);
    pg_lru_free(gw->answers);
    pg_lru_free(gw->runs);
    pg_lru_free(gw->layouts);
    gw->magic = 0;
    free(gw);
}
