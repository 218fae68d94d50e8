/*
 * gp.h: one GetProfile in progress (gpreq) and the steps of its life, shared by the files that
 * carry it: getprofile.c (the state machine, fetching, encoding and streaming), answers.c (the
 * stored-answer cache), runs.c (merged runs), auth.c (admission) and access_log.c (what is
 * logged and counted at its end). Private to src/gateway.
 */
#ifndef PG_GP_H
#define PG_GP_H

#include "gw.h"

#include "profgate/gzip.h"
#include "profgate/peers.h"
#include "profgate/folded.h"
#include "profgate/pprof.h"
#include "profgate/speedscope.h"
#include "profgate/diff.h"
#include "profgate/profile.h"

/*
 * A GetProfile's steps (docs/ARCHITECTURE.md has the diagram). AUTH, VALIDATE and PLAN run
 * synchronously inside the handler; PLAN either answers from the answer cache (DONE) or asks
 * for every bucket (FETCH), first waiting in ADMIT while the memory budget for answers in flight
 * is spent (admit.c; DONE with 503 when the wait runs out). When the last bucket is in, ENCODE makes the first piece: an answer
 * that fits goes out whole (DONE), a larger one is STREAMed, PAUSED while the connection's queue
 * is full. A client that leaves ends FETCH and PAUSED at once; while the gateway itself is on the
 * stack (ENCODE, STREAM) it moves to ABORTED and the code on the stack ends the request.
 * A diff (/_profgate/diff) runs PLAN and FETCH twice: when the base range's last bucket is in,
 * its tree is kept aside and FETCH goes back to PLAN for the head range; admission is once.
 * gp_set_step is the only writer of the step and checks every move.
 */
typedef enum {
    GP_AUTH,
    GP_VALIDATE,
    GP_PLAN,
    GP_ADMIT,
    GP_FETCH,
    GP_ENCODE,
    GP_STREAM,
    GP_PAUSED,
    GP_ABORTED,
    GP_DONE,
    GP_STEP_COUNT
} gp_step;

/* The context of one awaited bucket: which request, which slot. */
typedef struct gpslot {
    gpreq *g;
    size_t i;
    bool coalesced; /* joined a lookup already under way */
} gpslot;

/* A run: consecutive complete buckets, merged once and kept (gw->runs), so later requests
 * covering the same run fold one profile instead of each bucket (runs.c). Being built: acc, and
 * the pieces (buckets, or runs inside a span) it still waits for. */
typedef struct gprun {
    size_t first, count, pending;
    pg_profile *acc;
    uint8_t parent; /* the span it is folded into, or GP_NO_RUN: the answer */
} gprun;

#define GP_NO_RUN UINT8_MAX
/* Group names are at most 255 bytes (validated), so a run's key always fits. */
#define GP_RUN_KEY_MAX 400

#define GP_MAGIC 0x67707271u /* "gprq" */


struct gpreq {
    gw_note note; /* first: what the on_done hook reads */
    uint32_t magic;
    gp_step step;
    pg_gateway *gw;
    pg_http_req *req;
    gp_kind kind;
    pg_getprofile_req r; /* a diff: the base range first, then the head's (head_r) */
    pg_getprofile_req head_r;
    pg_profile base;      /* a diff: the base's merged tree, once it is complete (has_base) */
    bool has_base;
    int64_t base_start_s, base_end_s; /* the base's covered range */
    size_t planned;       /* a diff: the base plan's buckets (the counts below cover both plans) */
    bool gzip;      /* the body is compressed: Accept-Encoding, or the format is gzip (pprof) */
    bool gzip_body; /* the format itself is gzip: no Content-Encoding */
    pg_plan plan;
    pg_up_origin origin; /* for the upstream calls this request starts */
    pg_tenant *tenant;   /* who signed it (auth.mode = sigv4), else NULL */
    pg_profile acc;      /* the answer, buckets folded in as they arrive */
    size_t pending;      /* buckets not yet in */
    size_t hits, fetched, coalesced;
    /* Output: the writer, the piece being made, gzip state, the copy kept for the answer cache. */
    pg_pwriter *writer;  /* JSON or Ion */
    pg_fwriter *fwriter; /* or folded stacks (the view route's format=collapsed) */
    pg_ppwriter *ppwriter; /* or pprof (format=pprof) */
    pg_sswriter *sswriter; /* or speedscope (format=speedscope) */
    pg_dwriter *dwriter;   /* or a diff */
    char counter[PG_COUNTER_MAX + 1]; /* the counter a one-value format shows ("": none) */
    pg_buf piece, zpiece;
    pg_gzip_stream *gz;
    pg_buf keep;
    bool keeping;
    pg_fetch_waiter *waiters[PG_PLAN_MAX];
    gpslot slots[PG_PLAN_MAX];
    gprun runs[PG_PLAN_MAX / 2 + 1]; /* period runs have 2+ buckets each; spans hold 2+ pieces */
    size_t nruns;
    uint8_t run_of[PG_PLAN_MAX]; /* the run a bucket is folded into, or GP_NO_RUN */
    /* While the answer holds nothing but a stored run (a sliding window's span), that run's key:
     * the run merged with a live bucket is kept too (runs.c). */
    bool acc_is_run;
    char acc_run_key[GP_RUN_KEY_MAX];
    size_t acc_run_klen;
    unsigned acc_folds; /* profiles folded into the answer so far */
    /* The answer is a view of this kept profile (a stored run, or one merged with live buckets:
     * gw->runs), held until the request ends, instead of a copy of it: a sliding window's
     * answer is one, and copying it on every request was most of an Ion answer's time. acc is
     * then a shallow copy of its struct (its own start and end), owned by nobody; gp_acc_own
     * makes it a copy before anything is merged into it. NULL: acc is the request's own. */
    pg_lru_entry *acc_kept;
    bool skip[PG_PLAN_MAX];      /* covered by a stored run */
    /* The memory budget (admit.c): what this request holds, its place while waiting, its
     * client's count of GetProfiles in progress, and its answer when spilled to a file. */
    size_t charged;
    size_t reserve;            /* charged at least this until its tree is complete (ENCODE) */
    gpreq *wprev, *wnext;
    uv_timer_t wait_timer;
    bool wait_timer_init, waiting;
    pg_peer_key peer;
    bool peer_counted;
    int spill_fd;              /* -1 unless the rest of the answer goes to a file */
    uint64_t spill_off, spill_len; /* sent from it, written to it */
    bool spilling;             /* still being written, a step per loop turn (wait_timer) */
    bool spill_whole;          /* the file holds the whole answer from byte 0 (for the answer cache) */
    bool pump_waits_spill;     /* PAUSED because the client caught up with the file */
};

/** Whether an answer is still being encoded (a writer exists). */
static inline bool gp_encoding(const gpreq *g)
{
    return g->writer != NULL || g->fwriter != NULL || g->ppwriter != NULL || g->sswriter != NULL || g->dwriter != NULL;
}

/** The request behind a callback's data pointer (checked). */
gpreq *gp_of(void *data);

/** Moves g to its next step; aborts on a move the diagram does not have. */
void gp_set_step(gpreq *g, gp_step next);
/** The one place a request ends (step DONE, nothing pending): everything it holds is released. */
void gp_end_request(gpreq *g);

/* profgate's response headers for a profile; the strings live in the caller's storage. */
typedef struct gp_headers {
    char buckets[128], range[96], base_range[96];
    pg_http_out_header h[7];
    size_t n;
} gp_headers;
void gp_headers_make(const gpreq *g, gp_headers *ph);

/* answers.c */
/** Can this request's answer be stored for repeats (all buckets complete, cache on)? */
bool gp_answer_cacheable(const gpreq *g);
/** Answers a repeat of an all-complete request from the stored answer; false when there is none. */
bool gp_answer_from_cache(gpreq *g);
/** Keeps an all-complete answer for repeats; the cache takes body's buffer. */
void gp_store_answer(gpreq *g, pg_buf *body);
/** Keeps an all-complete answer whose len bytes are in the file fd (a spilled answer): the cache
 *  holds its own descriptor of the file, so no byte is copied. */
void gp_store_answer_file(gpreq *g, int fd, size_t len);

/* runs.c */
/** Splits the plan into runs, folds the ones already stored (their buckets are skipped), and
 *  gives the others an accumulator. */
int gp_plan_runs(gpreq *g);
/** Folds bucket i (d, a reference the caller keeps) into its run, or into the answer; a run
 *  whose last bucket is in is folded into the answer and stored. */
int gp_fold_bucket(gpreq *g, size_t i, const pg_bucket_data *d);
/** Frees the runs still being built. */
void gp_runs_free(gpreq *g);
/** Makes the answer the request's own (a copy of the kept profile it views, if it views one).
 *  PG_ENOMEM. */
int gp_acc_own(gpreq *g);
/** Frees the answer's tree, or lets go of the kept profile it views. */
void gp_acc_free(gpreq *g);

/* admit.c */
/** Counts g against server.max_getprofile_per_client; answers 429 and returns false past it. */
bool gp_per_client(gpreq *g);
/** Recomputes what g holds and charges the budget with it; less than before lets waiters in. */
void gp_charge(gpreq *g);
/** After PLAN: true to fetch now; false when g waits in ADMIT (admit.c then fetches it, or
 *  answers 503 and ends it). */
bool gp_enter(gpreq *g);
/** A waiting request whose client left: out of the queue. */
void gp_unwait(gpreq *g);
/** At the end of a request: its charge, its client's count and its spill file go. */
void gp_release(gpreq *g);
/** Its tree is complete (ENCODE): from now on it is charged what it holds, and its size teaches
 *  the budget what the next requests will take. */
void gp_tree_complete(gpreq *g);
/** Whether a paused answer should go to a file now (memory is short, or it is large). */
bool gp_should_spill(const gpreq *g);
/** Opens an unlinked file for a spilled answer; -1 when none can be had. */
int gp_spill_open(const pg_gateway *gw);
/** Frees g now, or once its wait timer has closed. */
void gp_free(gpreq *g);
/** Starts the next fetches the budget has room for (getprofile.c's gp_fetch). */
void gw_admit_waiting(pg_gateway *gw);
void gp_fetch_admitted(gpreq *g);

/* auth.c */
/** Quota and group access for a signed request; answers and returns false when refused. */
bool gp_admit(gpreq *g);

#endif
