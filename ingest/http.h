/* The metrics endpoint: /metrics, /health and /ready over HTTP (libmicrohttpd, its own thread),
 * served from a metrics snapshot (metrics.h). */
#ifndef LME_HTTP_H
#define LME_HTTP_H

#include "err.h"
#include "metrics.h"

struct http_server;

/* Listens on listen ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464") and serves snap (borrowed,
 * must outlive the server). Returns NULL with err filled (a bad address, the port in use). */
struct http_server *http_start(const char *listen, struct metrics_snapshot *snap,
                               struct lme_err *err);

/* Stops serving and frees the server; NULL-safe. */
void http_stop(struct http_server *h);

/* Parses "host:port" into a socket address; used by the config check too. Returns 0 or
 * LME_EINVAL with err saying why. */
struct sockaddr_storage;
int http_parse_listen(const char *listen, struct sockaddr_storage *addr, struct lme_err *err);

#endif
