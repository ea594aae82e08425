/* The metrics endpoint: /metrics, /health and /ready over HTTP (libmicrohttpd with epoll or poll,
 * on its own thread, plus a watchdog thread), served from a metrics snapshot (metrics.h). Clients
 * cannot hold it: 256 connections at most, a connection silent for 2 s is closed, and one that
 * has not had a request answered 5 s after connecting (or after its last answer) is cut. The
 * library's messages go to the daemon's log (log.h), at most 10 a second. */
#ifndef LME_HTTP_H
#define LME_HTTP_H

#include "err.h"
#include "metrics.h"

struct http_server;

/* Listens on listen ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464") and serves snap (borrowed,
 * must outlive the server). Returns NULL with err filled: "cannot listen on 127.0.0.1:9464:
 * Address already in use" (or "Cannot assign requested address", "Permission denied"), or a
 * malformed address. */
struct http_server *http_start(const char *listen, struct metrics_snapshot *snap,
                               struct lme_err *err);

/* Stops serving (open connections are closed), reports log records still suppressed and frees
 * the server; NULL-safe. */
void http_stop(struct http_server *h);

/* Parses "host:port" into a socket address; used by the config check too. Returns 0 or
 * LME_EINVAL with err saying why. */
struct sockaddr_storage;
int http_parse_listen(const char *listen, struct sockaddr_storage *addr, struct lme_err *err);

/* The port of a "host:port" address, or -1 when it does not parse. */
int http_listen_port(const char *listen);

#endif
