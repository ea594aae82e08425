/* The metrics endpoint: see http.h. libmicrohttpd does the HTTP; this file maps three paths to
 * the snapshot's pages and refuses everything else. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct http_server {
    struct MHD_Daemon *mhd;
    struct metrics_snapshot *snap;
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

struct http_server *http_start(const char *listen, struct metrics_snapshot *snap,
                               struct lme_err *err)
{
    struct sockaddr_storage addr;
    if (http_parse_listen(listen, &addr, err) != 0)
        return NULL;
    struct http_server *h = calloc(1, sizeof(*h));
    if (!h) {
        lme_err_set(err, LME_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    h->snap = snap;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = addr.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&addr)->sin6_port)
                                               : ntohs(((struct sockaddr_in *)&addr)->sin_port);
    h->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)10, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                              MHD_OPTION_END);
    if (!h->mhd) {
        free(h);
        lme_err_set(err, LME_EIO, "metrics: cannot listen on %s (in use, or not an address of this machine)",
                    listen);
        return NULL;
    }
    return h;
}

void http_stop(struct http_server *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->mhd);
    free(h);
}
