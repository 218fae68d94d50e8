/*
 * curl_uv.c: libcurl multi on libuv, following curl's multi_socket model:
 *   - curl's socket callback creates, updates or closes one uv_poll_t per curl socket (stopped
 *     and closed on CURL_POLL_REMOVE, before curl closes the fd);
 *   - curl's timer callback arms one uv_timer_t (a 0 ms timeout becomes 1 ms, since libuv would
 *     run a 0 ms timer in the same loop iteration and curl asks for "as soon as possible");
 *   - every socket action is followed by draining curl_multi_info_read, so no completion waits
 *     for the next event;
 *   - poll errors are passed on as CURL_CSELECT_ERR so curl fails the transfer itself.
 * The object is freed only after its last handle's close callback.
 */
#include "curl_uv.h"

#include <stdlib.h>

#define CURL_UV_MAGIC 0x63757576u /* "cuuv" */
#define SOCK_MAGIC 0x736f636bu    /* "sock" */

struct pg_curl_uv {
    uint32_t magic;
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    int open_handles; /* the timer and every poll handle not yet closed */
    bool closing;
    pg_curl_uv_done_cb done;
    pg_curl_uv_after_cb after;
    void *data;
    void (*closed)(void *data);
    void *closed_data;
};

typedef struct sock {
    uint32_t magic;
    uv_poll_t poll;
    curl_socket_t fd;
    pg_curl_uv *cu;
} sock;

static pg_curl_uv *cu_of(void *p)
{
    pg_curl_uv *cu = p;
    PG_ASSERT(cu != NULL && cu->magic == CURL_UV_MAGIC);
    return cu;
}

static void maybe_closed(pg_curl_uv *cu)
{
    if (!cu->closing || cu->open_handles > 0)
        return;
    void (*cb)(void *) = cu->closed;
    void *data = cu->closed_data;
    cu->magic = 0;
    free(cu);
    if (cb != NULL)
        cb(data);
}

static void drain(pg_curl_uv *cu)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cu->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        curl_multi_remove_handle(cu->multi, easy);
        cu->done(cu->data, easy, res);
    }
}

static void act(pg_curl_uv *cu, curl_socket_t fd, int flags)
{
    int running;
    curl_multi_socket_action(cu->multi, fd, flags, &running);
    drain(cu);
    cu->after(cu->data);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock *s = h->data;
    PG_ASSERT(s->magic == SOCK_MAGIC);
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    act(s->cu, s->fd, flags);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock *s = h->data;
    PG_ASSERT(s->magic == SOCK_MAGIC);
    pg_curl_uv *cu = s->cu;
    s->magic = 0;
    free(s);
    cu->open_handles--;
    maybe_closed(cu);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    (void)easy;
    pg_curl_uv *cu = cu_of(userp);
    sock *s = socketp;
    if (action == CURL_POLL_REMOVE) {
        if (s != NULL) {
            PG_CHECK_UV(uv_poll_stop(&s->poll));
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
            curl_multi_assign(cu->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL)
            return -1;
        s->magic = SOCK_MAGIC;
        s->fd = fd;
        s->cu = cu;
        if (uv_poll_init_socket(cu->loop, &s->poll, fd) != 0) {
            free(s);
            return -1; /* curl fails the transfer */
        }
        s->poll.data = s;
        cu->open_handles++;
        curl_multi_assign(cu->multi, fd, s);
    }
    int ev = (action & CURL_POLL_IN ? UV_READABLE : 0) | (action & CURL_POLL_OUT ? UV_WRITABLE : 0);
    PG_CHECK_UV(uv_poll_start(&s->poll, ev, on_poll));
    return 0;
}

static void on_timer_fired(uv_timer_t *t)
{
    act(cu_of(t->data), CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    pg_curl_uv *cu = cu_of(userp);
    if (timeout_ms < 0)
        PG_CHECK_UV(uv_timer_stop(&cu->timer));
    else
        PG_CHECK_UV(uv_timer_start(&cu->timer, on_timer_fired, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms, 0));
    return 0;
}

pg_curl_uv *pg_curl_uv_new(uv_loop_t *loop, pg_curl_uv_done_cb done, pg_curl_uv_after_cb after, void *data)
{
    pg_curl_uv *cu = calloc(1, sizeof *cu);
    if (cu == NULL)
        return NULL;
    cu->multi = curl_multi_init();
    if (cu->multi == NULL) {
        free(cu);
        return NULL;
    }
    cu->magic = CURL_UV_MAGIC;
    cu->loop = loop;
    cu->done = done;
    cu->after = after;
    cu->data = data;
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    PG_CHECK_UV(uv_timer_init(loop, &cu->timer));
    cu->timer.data = cu;
    cu->open_handles = 1;
    return cu;
}

CURLM *pg_curl_uv_multi(pg_curl_uv *cu)
{
    return cu->multi;
}

int pg_curl_uv_add(pg_curl_uv *cu, CURL *easy)
{
    PG_ASSERT(!cu->closing);
    return curl_multi_add_handle(cu->multi, easy) == CURLM_OK ? PG_OK : PG_EIO;
}

void pg_curl_uv_remove(pg_curl_uv *cu, CURL *easy)
{
    curl_multi_remove_handle(cu->multi, easy);
}

static void on_timer_closed(uv_handle_t *h)
{
    pg_curl_uv *cu = cu_of(h->data);
    cu->open_handles--;
    maybe_closed(cu);
}

void pg_curl_uv_close(pg_curl_uv *cu, void (*closed)(void *data), void *data)
{
    PG_ASSERT(!cu->closing);
    cu->closing = true;
    cu->closed = closed;
    cu->closed_data = data;
    /* With every easy handle removed, curl has already reported its sockets closed
     * (CURL_POLL_REMOVE), so their poll handles are closing too. */
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    uv_close((uv_handle_t *)&cu->timer, on_timer_closed);
}
