/* The metrics endpoint: see http.h. libmicrohttpd does the HTTP on its own thread, with epoll (or
 * poll: no FD_SETSIZE ceiling, so descriptors above 1024 work); this file maps three paths to the
 * snapshot's pages and bounds what clients can hold: HTTP_MAX_CONNECTIONS at once, none silent
 * for HTTP_IDLE_TIMEOUT_S (the library's timeout), and none working on a request for longer than
 * HTTP_REQUEST_DEADLINE_MS (from connecting, or from its last answer, to its next answer sent
 * whole). The library only knows idle timeouts, which a client sending a byte now and then never
 * meets; so a watchdog thread shuts down the sockets of connections past the deadline, and the
 * library then closes them as if the client had. The library's own messages go to the daemon's
 * log, at most HTTP_LOG_PER_SECOND a second. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* A scrape takes one connection for milliseconds: 256 leaves room for many slow clients while
 * bounding the descriptors and memory (libmicrohttpd's 32 KiB pool each) they can take. */
#define HTTP_MAX_CONNECTIONS 256
/* Shorter than any scrape interval: idle keep-alive connections go quietly, well before the
 * deadline below would log them. */
#define HTTP_IDLE_TIMEOUT_S 2
#define HTTP_REQUEST_DEADLINE_MS 5000
#define HTTP_LOG_PER_SECOND 10

/* A connection the watchdog keeps an eye on. */
struct conn {
    int fd;           /* -1: a free slot */
    int64_t since_ms; /* when it connected, or when its last request was answered */
    bool cut;         /* shut down already: the library has yet to close it */
};

struct http_server {
    struct MHD_Daemon *mhd;
    struct metrics_snapshot *snap;
    struct lme_log_limit log_limit;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t wake;
    struct conn conns[HTTP_MAX_CONNECTIONS];
    bool stopping;
    bool watchdog_running;
    pthread_t watchdog;
    bool starting;       /* the library's messages are kept in start_msg, not logged */
    char start_msg[512]; /* why the library could not start */
};

int http_parse_listen(const char *listen, struct sockaddr_storage *addr, struct lme_err *err)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof(host))
        return lme_err_set(err, LME_EINVAL, "'%s': expected HOST:PORT, e.g. 127.0.0.1:9464", listen);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return lme_err_set(err, LME_EINVAL, "'%s': the port must be 1 to 65535", listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') { /* [::1]:9464 */
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1) {
            v6->sin6_family = AF_INET6;
            v6->sin6_port = htons((uint16_t)port);
            return 0;
        }
    } else if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    return lme_err_set(err, LME_EINVAL, "'%s': the host must be an IP address (127.0.0.1, [::1], 0.0.0.0)",
                       listen);
}

int http_listen_port(const char *listen)
{
    struct sockaddr_storage addr;
    if (http_parse_listen(listen, &addr, NULL) != 0)
        return -1;
    return addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libmicrohttpd's messages: one line each, without the library's trailing newline. */
static void on_library_message(void *ctx, const char *fmt, va_list ap)
{
    struct http_server *h = ctx;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    pthread_mutex_lock(&h->mu);
    bool starting = h->starting;
    if (starting)
        snprintf(h->start_msg, sizeof(h->start_msg), "%s", text);
    pthread_mutex_unlock(&h->mu);
    if (!starting)
        lme_log_limited(&h->log_limit, LME_LOG_WARN, "metrics endpoint: libmicrohttpd", "error",
                        text, NULL);
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Library thread: a connection opened (taken into a free slot) or closed (its slot freed before
 * the library closes the descriptor, so the watchdog never shuts down a reused number). */
static void on_connection(void *ctx, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode what)
{
    struct http_server *h = ctx;
    pthread_mutex_lock(&h->mu);
    if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *slot = *socket_ctx;
        if (slot)
            slot->fd = -1;
        *socket_ctx = NULL;
    } else {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        for (int i = 0; ci && i < HTTP_MAX_CONNECTIONS && !*socket_ctx; i++)
            if (h->conns[i].fd < 0) {
                h->conns[i] = (struct conn){ .fd = ci->connect_fd, .since_ms = now_ms() };
                *socket_ctx = &h->conns[i];
            }
    }
    pthread_mutex_unlock(&h->mu);
}

/* Library thread: a request answered; the connection's next one gets a fresh deadline. */
static void on_request_done(void *ctx, struct MHD_Connection *c, void **request_ctx,
                            enum MHD_RequestTerminationCode why)
{
    (void)request_ctx;
    (void)why;
    struct http_server *h = ctx;
    pthread_mutex_lock(&h->mu);
    struct conn *slot = conn_of(c);
    if (slot)
        slot->since_ms = now_ms();
    pthread_mutex_unlock(&h->mu);
}

/* With h->mu held: shuts down the connections past the deadline; returns how many. */
static int cut_overdue(struct http_server *h)
{
    int64_t now = now_ms();
    int cut = 0;
    for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++) {
        struct conn *slot = &h->conns[i];
        if (slot->fd < 0 || slot->cut || now - slot->since_ms < HTTP_REQUEST_DEADLINE_MS)
            continue;
        shutdown(slot->fd, SHUT_RDWR);
        slot->cut = true;
        cut++;
    }
    return cut;
}

/* With h->mu held: when the watchdog must look next, at the latest a second from now (it also
 * reports what the log rate limit suppressed). */
static struct timespec next_look(const struct http_server *h)
{
    int64_t at = now_ms() + 1000;
    for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++) {
        const struct conn *slot = &h->conns[i];
        if (slot->fd >= 0 && !slot->cut && slot->since_ms + HTTP_REQUEST_DEADLINE_MS < at)
            at = slot->since_ms + HTTP_REQUEST_DEADLINE_MS;
    }
    return (struct timespec){ .tv_sec = at / 1000, .tv_nsec = (long)(at % 1000) * 1000000 };
}

static void log_cut(struct http_server *h, int cut)
{
    char n[16], ms[16];
    snprintf(n, sizeof(n), "%d", cut);
    snprintf(ms, sizeof(ms), "%d", HTTP_REQUEST_DEADLINE_MS);
    lme_log_limited(&h->log_limit, LME_LOG_WARN,
                    "metrics endpoint: cut connections with no request answered in time",
                    "connections", n, "deadline_ms", ms, NULL);
}

static void *watchdog_main(void *arg)
{
    struct http_server *h = arg;
    int64_t flushed_ms = now_ms();
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        struct timespec until = next_look(h);
        pthread_cond_timedwait(&h->wake, &h->mu, &until);
        int cut = cut_overdue(h);
        /* unlocked: a standard error slow to take the line must not hold up the library */
        pthread_mutex_unlock(&h->mu);
        if (cut > 0)
            log_cut(h, cut);
        if (now_ms() - flushed_ms >= 1000) { /* it may look more often: report once a second */
            lme_log_limit_flush(&h->log_limit);
            flushed_ms = now_ms();
        }
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, char *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *ctx, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    struct http_server *h = ctx;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, strdup("only GET\n"), 9, "text/plain");
    enum metrics_page page;
    const char *type = "application/json";
    if (strcmp(url, "/metrics") == 0) {
        page = METRICS_PAGE_METRICS;
        type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(url, "/health") == 0) {
        page = METRICS_PAGE_HEALTH;
    } else if (strcmp(url, "/ready") == 0) {
        page = METRICS_PAGE_READY;
    } else {
        return reply(c, 404, strdup("not found: /metrics, /health, /ready\n"), 36, "text/plain");
    }
    char *body;
    size_t len;
    int status;
    if (metrics_snapshot_page(h->snap, page, &body, &len, &status) != 0)
        return MHD_NO;
    return reply(c, status, body, len, type);
}

/* Binds a socket of our own to addr and lets it go at once: the library would only say "failed
 * to bind" in a log message, this gives the reason (in use, not an address of this machine, a
 * privileged port) to the caller. */
static int try_bind(const struct sockaddr_storage *addr, const char *listen, struct lme_err *err)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return lme_err_set(err, LME_EIO, "cannot listen on %s: %s", listen, strerror(errno));
    int on = 1; /* as libmicrohttpd does: a previous run's connections in TIME_WAIT don't count */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    int rc = bind(fd, (const struct sockaddr *)addr, len);
    int e = errno;
    close(fd);
    if (rc != 0)
        return lme_err_set(err, LME_EIO, "cannot listen on %s: %s", listen, strerror(e));
    return 0;
}

/* epoll where the library has it, poll otherwise; never select (FD_SETSIZE). */
static int polling_flag(unsigned *flag, struct lme_err *err)
{
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        *flag = MHD_USE_EPOLL;
    else if (MHD_is_feature_supported(MHD_FEATURE_POLL) == MHD_YES)
        *flag = MHD_USE_POLL;
    else
        return lme_err_set(err, LME_EIO, "metrics: this libmicrohttpd has neither epoll nor poll");
    return 0;
}

static struct http_server *server_new(struct metrics_snapshot *snap)
{
    struct http_server *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->snap = snap;
    for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++)
        h->conns[i].fd = -1;
    lme_log_limit_init(&h->log_limit, "http", HTTP_LOG_PER_SECOND);
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

static struct MHD_Daemon *start_library(struct http_server *h, const struct sockaddr_storage *addr,
                                        unsigned polling)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | polling;
    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = addr->ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)addr)->sin6_port)
                                                : ntohs(((struct sockaddr_in *)addr)->sin_port);
    pthread_mutex_lock(&h->mu);
    h->starting = true;
    pthread_mutex_unlock(&h->mu);
    /* The logger first: it also hears what goes wrong while the other options are read. */
    struct MHD_Daemon *mhd = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_library_message, h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_NOTIFY_COMPLETED,
        on_request_done, h, MHD_OPTION_END);
    pthread_mutex_lock(&h->mu);
    h->starting = false;
    pthread_mutex_unlock(&h->mu);
    return mhd;
}

struct http_server *http_start(const char *listen, struct metrics_snapshot *snap,
                               struct lme_err *err)
{
    struct sockaddr_storage addr;
    unsigned polling = 0;
    if (http_parse_listen(listen, &addr, err) != 0 || polling_flag(&polling, err) != 0 ||
        try_bind(&addr, listen, err) != 0)
        return NULL;
    struct http_server *h = server_new(snap);
    if (!h) {
        lme_err_set(err, LME_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    h->mhd = start_library(h, &addr, polling);
    if (!h->mhd) {
        lme_err_set(err, LME_EIO, "cannot listen on %s: %s", listen,
                    h->start_msg[0] ? h->start_msg : "libmicrohttpd could not start");
        http_stop(h);
        return NULL;
    }
    if (h->start_msg[0]) /* not fatal, then: a warning worth passing on */
        lme_log(LME_LOG_WARN, "metrics endpoint: libmicrohttpd", "error", h->start_msg, NULL);
    int rc = pthread_create(&h->watchdog, NULL, watchdog_main, h);
    if (rc != 0) {
        lme_err_set(err, LME_EIO, "metrics: cannot start a thread: %s", strerror(rc));
        http_stop(h);
        return NULL;
    }
    h->watchdog_running = true;
    return h;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    if (h->watchdog_running) {
        pthread_mutex_lock(&h->mu);
        h->stopping = true;
        pthread_cond_signal(&h->wake);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->watchdog, NULL);
    }
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    lme_log_limit_destroy(&h->log_limit);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
