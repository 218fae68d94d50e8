/*
 * supervisor.c: the process edge of server.workers (see supervisor.h): fork, waitpid, kill,
 * signalfd and poll. What to do about each event (restart or give up, when, with what exit
 * status) is workers.c's; this file only carries it out.
 *
 * The supervisor waits in poll(2) on a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP, blocked so
 * they arrive only there) and on each starting worker's readiness pipe, with a timeout for the
 * next restart or the kill deadline of a stop. No signal handler runs any code, so nothing here
 * has to be async-signal-safe.
 */
#include "profgate/supervisor.h"
#include "profgate/clock.h"
#include "profgate/log.h"
#include "profgate/service.h"
#include "profgate/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

/* After the workers' own shutdown_timeout, how long their teardown may take before SIGKILL. */
#define STOP_MARGIN_MS 5000
/* A restart that cannot fork (EAGAIN: out of processes) is tried again after this. */
#define FORK_RETRY_NS (INT64_C(1) * PG_NS_PER_S)

typedef struct sup {
    const pg_supervisor_cfg *cfg;
    pg_worker_main fn;
    void *data;
    pg_workers ws;
    int ready[PG_WORKERS_MAX]; /* read ends of the readiness pipes; -1 when closed */
    int reserved[PG_LISTEN_MAX];
    size_t nreserved;
    int sfd;
    sigset_t blocked, old_mask;
    pid_t self;
    pg_listen_addrs resolved; /* the listen addresses, port 0 resolved */
    char listen[PG_LISTEN_MAX * 56]; /* the same, as the workers' --listen */
    int64_t kill_at_ns; /* INT64_MAX when not stopping */
    bool pid_written;
} sup;

static void describe_status(int status, char *buf, size_t len)
{
    if (status > 128)
        snprintf(buf, len, "killed by signal %d (%s)", status - 128, strsignal(status - 128));
    else
        snprintf(buf, len, "exit status %d", status);
}

/* Binds (without listening) every address, which reserves the ports and resolves port 0; the
 * workers bind the same resolved addresses with SO_REUSEPORT. */
static int reserve_ports(sup *s)
{
    pg_listen_addrs *resolved = &s->resolved;
    *resolved = s->cfg->listen;
    for (size_t i = 0; i < s->cfg->listen.n; i++) {
        int fd, rc = pg_listen_socket(&s->cfg->listen.addr[i], true, false, 0, &fd);
        if (rc == 0 && (rc = pg_listen_bound(fd, &resolved->addr[i])) != 0)
            close(fd);
        if (rc != 0) {
            pg_listen_addrs one = {.n = 1, .addr = {s->cfg->listen.addr[i]}};
            char what[64] = "?";
            pg_listen_format(&one, what, sizeof what);
            pg_log(PG_LOG_ERROR, "cannot listen on %s: %s", what, strerror(-rc));
            return EX_OSERR;
        }
        s->reserved[s->nreserved++] = fd;
    }
    PG_ASSERT(pg_listen_format(resolved, s->listen, sizeof s->listen) == PG_OK);
    return 0;
}

/* In the new worker: drop what belongs to the supervisor, undo its signal set-up, make sure the
 * worker ends with the supervisor, then run the worker. Never returns. */
static void become_worker(sup *s, size_t i, int ready_fd) __attribute__((noreturn));
static void become_worker(sup *s, size_t i, int ready_fd)
{
    /* If the supervisor dies (even by SIGKILL), the kernel sends SIGTERM: a graceful stop. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != s->self)
        _exit(EX_OSERR); /* the supervisor is already gone */
    close(s->sfd);
    for (size_t k = 0; k < s->nreserved; k++)
        close(s->reserved[k]);
    for (size_t k = 0; k < s->ws.n; k++)
        if (s->ready[k] >= 0)
            close(s->ready[k]);
    /* A SIGHUP passed on before the worker watches for it must not kill it (the default action):
     * it is ignored until the worker's own handler replaces this, and the worker reads the
     * configuration file as it starts anyway. */
    signal(SIGHUP, SIG_IGN);
    sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
    unsetenv("NOTIFY_SOCKET"); /* systemd hears from the supervisor only */
    pg_worker_ctx ctx = {.index = (unsigned)i + 1, .count = (unsigned)s->ws.n, .ready_fd = ready_fd,
                         .listen = s->listen, .stats = s->cfg->stats};
    int rc = s->fn(&ctx, s->data);
    exit(rc); /* exit, not _exit: stdio is flushed and, under ASan, leaks are checked */
}

static int spawn(sup *s, size_t i)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -errno;
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return -e;
    }
    if (pid == 0) {
        close(p[0]);
        become_worker(s, i, p[1]);
    }
    close(p[1]);
    s->ready[i] = p[0];
    bool restart = s->ws.w[i].state == PG_WK_WAITING;
    pg_workers_started(&s->ws, i, pid, pg_monotonic_ns());
    pg_log(PG_LOG_INFO, "worker %zu %s (pid %d)", i + 1, restart ? "restarted" : "started", (int)pid);
    return 0;
}

static void close_ready(sup *s, size_t i)
{
    if (s->ready[i] >= 0) {
        close(s->ready[i]);
        s->ready[i] = -1;
    }
}

static void signal_workers(sup *s, int sig, pg_wk_state only1, pg_wk_state only2)
{
    for (size_t i = 0; i < s->ws.n; i++)
        if (s->ws.w[i].state == only1 || s->ws.w[i].state == only2)
            kill(s->ws.w[i].pid, sig);
}

static void stop(sup *s, const char *why)
{
    if (s->ws.stopping)
        return;
    pg_workers_stop(&s->ws);
    pg_service_notify("STOPPING=1");
    int64_t grace = s->cfg->stop_grace_ms + STOP_MARGIN_MS;
    s->kill_at_ns = pg_monotonic_ns() + grace * PG_NS_PER_MS;
    pg_log(PG_LOG_INFO, "%s: stopping %zu worker(s) (killed if still running after %lld ms)", why, s->ws.n,
           (long long)grace);
    signal_workers(s, SIGTERM, PG_WK_STOPPING, PG_WK_STOPPING);
}

/* Every worker listens: the service is up. */
static void started(sup *s)
{
    char err[256];
    if (s->cfg->pid_file != NULL) {
        if (pg_pidfile_write(s->cfg->pid_file, err, sizeof err) != PG_OK) {
            pg_log(PG_LOG_ERROR, "--pid-file: %s", err);
            s->ws.status = EX_CANTCREAT;
            stop(s, "no pid file");
            return;
        }
        s->pid_written = true;
    }
    for (size_t i = 0; i < s->resolved.n; i++) {
        pg_listen_addrs one = {.n = 1, .addr = {s->resolved.addr[i]}};
        char addr[64];
        PG_ASSERT(pg_listen_format(&one, addr, sizeof addr) == PG_OK);
        pg_log(PG_LOG_INFO, "listening on %s", addr);
    }
    pg_log(PG_LOG_INFO, "profgate %s ready: %zu workers (supervisor pid %d)", PG_VERSION, s->ws.n, (int)s->self);
    pg_service_notify("READY=1\nSTATUS=listening");
}

static void on_ready_pipe(sup *s, size_t i)
{
    char c;
    ssize_t n = read(s->ready[i], &c, 1);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    close_ready(s, i); /* one byte, or EOF from a worker that failed (its exit follows) */
    if (n == 1 && pg_workers_ready(&s->ws, i))
        started(s);
}

static void reap(sup *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        size_t i = pg_workers_find(&s->ws, pid);
        if (i == s->ws.n)
            continue;
        int status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        char how[96];
        describe_status(status, how, sizeof how);
        close_ready(s, i);
        if (s->cfg->stats != NULL)
            pg_worker_stats_clear(s->cfg->stats, (unsigned)i + 1); /* its counters died with it */
        switch (pg_workers_exited(&s->ws, i, status, pg_monotonic_ns())) {
        case PG_WK_GONE:
            pg_log(status == 0 ? PG_LOG_INFO : PG_LOG_WARN, "worker %zu (pid %d) exited: %s", i + 1, (int)pid, how);
            break;
        case PG_WK_RESTART:
            pg_log(PG_LOG_ERROR, "worker %zu (pid %d) died: %s; restarting in %lld ms", i + 1, (int)pid, how,
                   (long long)((s->ws.w[i].restart_at_ns - pg_monotonic_ns()) / PG_NS_PER_MS));
            break;
        case PG_WK_GIVE_UP:
            pg_log(PG_LOG_ERROR, "worker %zu (pid %d) failed to start: %s", i + 1, (int)pid, how);
            stop(s, "start-up failed");
            break;
        }
    }
}

static void on_signals(sup *s)
{
    struct signalfd_siginfo si;
    while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD: reap(s); break;
        case SIGHUP:
            pg_log(PG_LOG_INFO, "SIGHUP: passed on to the workers, each reloads the configuration");
            signal_workers(s, SIGHUP, PG_WK_READY, PG_WK_STARTING);
            break;
        default:
            if (s->ws.stopping) {
                pg_log(PG_LOG_WARN, "second signal %u: the stop deadline still applies", si.ssi_signo);
                break;
            }
            char why[32];
            snprintf(why, sizeof why, "signal %u", si.ssi_signo);
            stop(s, why);
        }
    }
}

static void restart_due(sup *s)
{
    int64_t now = pg_monotonic_ns();
    for (size_t i = 0; i < s->ws.n; i++) {
        if (!pg_workers_due(&s->ws, i, now))
            continue;
        int rc = spawn(s, i);
        if (rc != 0) {
            /* Only the time of the next try changes; the worker stays WAITING. */
            pg_log(PG_LOG_ERROR, "worker %zu: cannot fork: %s; trying again in 1 s", i + 1, strerror(-rc));
            s->ws.w[i].restart_at_ns = now + FORK_RETRY_NS;
        }
    }
}

static int run(sup *s)
{
    for (size_t i = 0; i < s->ws.n; i++) {
        int rc = spawn(s, i);
        if (rc != 0) {
            pg_log(PG_LOG_ERROR, "cannot start worker %zu: %s", i + 1, strerror(-rc));
            s->ws.status = EX_OSERR;
            stop(s, "start-up failed");
            break;
        }
    }
    while (!(s->ws.stopping && pg_workers_all_exited(&s->ws))) {
        restart_due(s);
        struct pollfd fds[1 + PG_WORKERS_MAX];
        size_t who[1 + PG_WORKERS_MAX], nfds = 1;
        fds[0] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
        for (size_t i = 0; i < s->ws.n; i++) {
            if (s->ready[i] >= 0) {
                who[nfds] = i;
                fds[nfds++] = (struct pollfd){.fd = s->ready[i], .events = POLLIN};
            }
        }
        int64_t next = PG_MIN(pg_workers_next_restart(&s->ws), s->kill_at_ns), now = pg_monotonic_ns();
        int timeout = next == INT64_MAX ? -1 : next <= now ? 0 : (int)PG_MIN((next - now) / PG_NS_PER_MS + 1, 60000);
        if (poll(fds, nfds, timeout) < 0 && errno != EINTR) {
            pg_log(PG_LOG_ERROR, "poll: %s", strerror(errno));
            return EX_OSERR;
        }
        if (s->ws.stopping && pg_monotonic_ns() >= s->kill_at_ns) {
            pg_log(PG_LOG_ERROR, "workers still running at the stop deadline: killing them");
            signal_workers(s, SIGKILL, PG_WK_STOPPING, PG_WK_STOPPING);
            s->kill_at_ns = INT64_MAX; /* their exits arrive as SIGCHLD */
        }
        for (size_t k = 1; k < nfds; k++)
            if (fds[k].revents != 0)
                on_ready_pipe(s, who[k]);
        if (fds[0].revents != 0)
            on_signals(s);
    }
    return 0;
}

int pg_supervise(const pg_supervisor_cfg *cfg, pg_worker_main fn, void *data)
{
    static sup s; /* static: large, and there is one */
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.fn = fn;
    s.data = data;
    s.self = getpid();
    s.kill_at_ns = INT64_MAX;
    s.sfd = -1;
    for (size_t i = 0; i < PG_WORKERS_MAX; i++)
        s.ready[i] = -1;
    pg_workers_init(&s.ws, cfg->workers);
    int status = reserve_ports(&s);
    if (status == 0) {
        sigemptyset(&s.blocked);
        sigaddset(&s.blocked, SIGCHLD);
        sigaddset(&s.blocked, SIGTERM);
        sigaddset(&s.blocked, SIGINT);
        sigaddset(&s.blocked, SIGHUP);
        PG_ASSERT(sigprocmask(SIG_BLOCK, &s.blocked, &s.old_mask) == 0);
        s.sfd = signalfd(-1, &s.blocked, SFD_NONBLOCK | SFD_CLOEXEC);
        if (s.sfd < 0) {
            pg_log(PG_LOG_ERROR, "signalfd: %s", strerror(errno));
            status = EX_OSERR;
        } else {
            pg_log(PG_LOG_INFO, "supervisor (pid %d): starting %zu workers on %s", (int)s.self, s.ws.n, s.listen);
            status = run(&s);
            if (status == 0)
                status = s.ws.status;
            close(s.sfd);
        }
        sigprocmask(SIG_SETMASK, &s.old_mask, NULL);
    }
    for (size_t i = 0; i < s.nreserved; i++)
        close(s.reserved[i]);
    for (size_t i = 0; i < s.ws.n; i++)
        close_ready(&s, i);
    if (s.pid_written)
        pg_pidfile_remove(cfg->pid_file);
    pg_log(status == 0 ? PG_LOG_INFO : PG_LOG_ERROR, "supervisor exiting (status %d)", status);
    return status;
}
