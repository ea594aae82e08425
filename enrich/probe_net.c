/* Notes server reachability probe: see probe_net.h. A detached thread runs getaddrinfo while the
 * caller waits on a condition variable until the deadline; then non-blocking connects, one address
 * at a time, each waited on with poll.
 *
 * Why a thread of our own and not getaddrinfo_a: a lookup abandoned at the deadline must be freed
 * by whoever finishes last, and glibc's getaddrinfo_a leaves that ambiguous on its error paths (it
 * may notify for a request it never queued, or queue one and never notify). Here the caller and the
 * thread share one reference-counted block, and the last to let go frees it. */
#include "probe_net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

#define DECIDED 1 /* a step's return: r holds the answer, stop */

/* Shared by the caller and the resolver thread; refs, done, rc, sys_errno and res under mu. */
struct lookup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int rc, sys_errno;     /* getaddrinfo's answer */
    struct addrinfo *res;  /* owned by the block until the caller takes it */
    char service[8];
    char host[];
};

static void set(struct probe_net_result *r, enum probe_net_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set(struct probe_net_result *r, enum probe_net_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->status = s;
}

const char *probe_net_status_name(enum probe_net_status s)
{
    switch (s) {
    case PROBE_NET_REACHABLE: return "reachable";
    case PROBE_NET_UNRESOLVABLE: return "unresolvable";
    case PROBE_NET_RESOLVE_TIMEOUT: return "resolve_timeout";
    case PROBE_NET_REFUSED: return "refused";
    case PROBE_NET_TIMEOUT: return "timeout";
    case PROBE_NET_UNREACHABLE: return "unreachable";
    }
    return "invalid";
}

/* ---- resolving ---- */

static struct lookup *lookup_new(const char *host, int port)
{
    size_t len = strlen(host);
    struct lookup *l = calloc(1, sizeof(*l) + len + 1);
    if (!l)
        return NULL;
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&l->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&l->mu, NULL) != 0) {
        if (ok)
            pthread_cond_destroy(&l->cv);
        free(l);
        return NULL;
    }
    memcpy(l->host, host, len + 1);
    snprintf(l->service, sizeof(l->service), "%d", port);
    l->refs = 2; /* the caller and the thread */
    return l;
}

/* Drops one reference; the last one frees the block and any result nobody took. */
static void lookup_release(struct lookup *l)
{
    pthread_mutex_lock(&l->mu);
    bool last = --l->refs == 0;
    pthread_mutex_unlock(&l->mu);
    if (!last)
        return;
    if (l->res)
        freeaddrinfo(l->res);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void *lookup_run(void *arg)
{
    struct lookup *l = arg;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_protocol = IPPROTO_TCP, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(l->host, l->service, &hints, &res);
    int sys_errno = errno;
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    l->sys_errno = sys_errno;
    l->res = res;
    l->done = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    lookup_release(l);
    return NULL;
}

/* Starts the detached resolver thread with every signal blocked, so that signals meant for the
 * daemon never land in it. Returns 0 or LME_ENOMEM (the thread's reference is dropped then). */
static int lookup_start(struct lookup *l)
{
    pthread_attr_t attr;
    sigset_t all, old;
    if (pthread_attr_init(&attr) != 0)
        return LME_ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    int rc = pthread_create(&tid, &attr, lookup_run, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        lookup_release(l);
        return LME_ENOMEM;
    }
    return 0;
}

/* Waits until the thread is done or deadline passes. Returns whether it is done; when it is, the
 * caller gets the answer (*res is then the caller's). */
static bool lookup_wait(struct lookup *l, int64_t deadline, int *rc, int *sys_errno, struct addrinfo **res)
{
    struct timespec until = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };
    pthread_mutex_lock(&l->mu);
    while (!l->done && pthread_cond_timedwait(&l->cv, &l->mu, &until) == 0)
        ; /* 0 is a wake-up, maybe spurious; ETIMEDOUT ends the wait */
    bool done = l->done;
    if (done) {
        *rc = l->rc;
        *sys_errno = l->sys_errno;
        *res = l->res;
        l->res = NULL;
    }
    pthread_mutex_unlock(&l->mu);
    return done;
}

static void set_unresolvable(struct probe_net_result *r, const char *host, int rc, int sys_errno)
{
    set(r, PROBE_NET_UNRESOLVABLE, "%s cannot be resolved to an address: %s", host,
        rc == EAI_SYSTEM ? strerror(sys_errno) : gai_strerror(rc));
}

/* Returns 0 with *res (the caller frees it with freeaddrinfo), DECIDED with r filled, or
 * LME_ENOMEM. Fills r->resolve_ms. */
static int resolve(const char *host, int port, int64_t start, int64_t deadline,
                   struct probe_net_result *r, struct addrinfo **res)
{
    struct lookup *l = lookup_new(host, port);
    if (!l)
        return LME_ENOMEM;
    if (lookup_start(l) != 0) {
        lookup_release(l);
        return LME_ENOMEM;
    }
    int rc = 0, sys_errno = 0;
    bool done = lookup_wait(l, deadline, &rc, &sys_errno, res);
    lookup_release(l); /* an unfinished lookup frees itself when getaddrinfo returns */
    r->resolve_ms = (int)(lme_mono_ms() - start);
    if (!done) {
        set(r, PROBE_NET_RESOLVE_TIMEOUT,
            "%s was not resolved within %d ms: the DNS server may be down or unreachable", host, r->resolve_ms);
        return DECIDED;
    }
    if (rc == EAI_MEMORY)
        return LME_ENOMEM;
    if (rc != 0) {
        set_unresolvable(r, host, rc, sys_errno);
        return DECIDED;
    }
    return 0;
}

/* ---- connecting ---- */

/* "127.0.0.1" into ip, "127.0.0.1:1352" or "[::1]:1352" into r->address. */
static void format_address(const struct addrinfo *ai, int port, char *ip, size_t ip_size,
                           struct probe_net_result *r)
{
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, (socklen_t)ip_size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(ip, ip_size, "?");
    snprintf(r->address, sizeof(r->address), ai->ai_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

/* Waits for a non-blocking connect on fd until deadline. Returns 0 (connected), ETIMEDOUT, or the
 * connection's error. */
static int wait_connected(int fd, int64_t deadline)
{
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    for (;;) {
        int64_t left = deadline - lme_mono_ms();
        if (left <= 0)
            return ETIMEDOUT;
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return errno;
    }
    int so = 0;
    socklen_t len = sizeof(so);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
        return errno;
    return so;
}

/* One attempt on one address; closes the socket before returning. Returns 0 (connected) or an
 * errno value; *sock_failed tells a local socket() failure from a connection error. */
static int try_connect(const struct addrinfo *ai, int64_t deadline, bool *sock_failed)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    *sock_failed = fd < 0;
    if (fd < 0)
        return errno;
    int e = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    /* EINTR: a non-blocking connect goes on asynchronously, as for EINPROGRESS */
    if (e == EINPROGRESS || e == EINTR)
        e = wait_connected(fd, deadline);
    close(fd);
    return e;
}

static bool out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* The outcome of the last attempt, in r. */
static void set_failure(struct probe_net_result *r, const char *host, int port, const char *ip, int e,
                        int share_ms, int tried)
{
    if (e == ECONNREFUSED)
        set(r, PROBE_NET_REFUSED, "%s:%d refused the connection (%s)", host, port, ip);
    else if (e == ETIMEDOUT)
        set(r, PROBE_NET_TIMEOUT,
            "%s:%d did not answer within %d ms (%s): a firewall may drop the packets or the host is down", host,
            port, share_ms, ip);
    else
        set(r, PROBE_NET_UNREACHABLE, "%s:%d cannot be reached (%s): %s", host, port, ip, strerror(e));
    if (tried > 1) {
        size_t len = strlen(r->detail);
        snprintf(r->detail + len, sizeof(r->detail) - len, "; none of the %d addresses tried accepted", tried);
    }
}

/* Tries each address with an equal share of the time left. Returns 0 with r filled or LME_ENOMEM. */
static int connect_any(const char *host, int port, const struct addrinfo *res, int64_t deadline,
                       struct probe_net_result *r)
{
    int n = 0, tried = 0, e = ETIMEDOUT, share_ms = 0;
    char ip[INET6_ADDRSTRLEN + 16];
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        n++;
    for (const struct addrinfo *ai = res; ai && lme_mono_ms() < deadline; ai = ai->ai_next, tried++) {
        int64_t begin = lme_mono_ms();
        share_ms = (int)((deadline - begin) / (n - tried));
        bool sock_failed;
        format_address(ai, port, ip, sizeof(ip), r);
        e = try_connect(ai, begin + (share_ms > 0 ? share_ms : 1), &sock_failed);
        if (sock_failed && out_of_resources(e))
            return LME_ENOMEM;
        if (e == 0) {
            r->connect_ms = (int)(lme_mono_ms() - begin);
            set(r, PROBE_NET_REACHABLE, "%s:%d accepted a TCP connection at %s in %d ms", host, port,
                r->address, r->connect_ms);
            return 0;
        }
    }
    if (tried == 0)
        set(r, PROBE_NET_TIMEOUT, "resolving %s took the whole %d ms; no time was left to connect", host,
            r->resolve_ms);
    else
        set_failure(r, host, port, ip, e, share_ms, tried);
    return 0;
}

static int check_args(const char *host, int port, int timeout_ms, struct probe_net_result *r)
{
    if (!host || !host[0])
        set(r, PROBE_NET_UNRESOLVABLE, "no Notes server host name given");
    else if (port < 1 || port > 65535)
        set(r, PROBE_NET_UNREACHABLE, "port %d is outside 1..65535", port);
    else if (timeout_ms <= 0)
        set(r, PROBE_NET_TIMEOUT, "timeout %d ms is not positive", timeout_ms);
    else
        return 0;
    return LME_EINVAL;
}

int probe_net_connect(const char *host, int port, int timeout_ms, struct probe_net_result *r)
{
    if (!r)
        return LME_EINVAL;
    memset(r, 0, sizeof(*r));
    int rc = check_args(host, port, timeout_ms, r);
    if (rc != 0)
        return rc;
    int64_t start = lme_mono_ms(), deadline = start + timeout_ms;
    struct addrinfo *res = NULL;
    rc = resolve(host, port, start, deadline, r, &res);
    if (rc == 0) {
        rc = connect_any(host, port, res, deadline, r);
        freeaddrinfo(res);
    }
    return rc < 0 ? rc : 0;
}
