/* Can the Notes server be reached? A probe behind event 41220: resolve the server's host name and
 * open a TCP connection to it (Notes RPC listens on TCP 1352 by convention) [Q245545, Q198832]. */
#ifndef LME_PROBE_NET_H
#define LME_PROBE_NET_H

#define PROBE_NET_NOTES_PORT 1352

enum probe_net_status {
    PROBE_NET_REACHABLE,
    PROBE_NET_UNRESOLVABLE,    /* no such name, no address, or the resolver failed */
    PROBE_NET_RESOLVE_TIMEOUT, /* no answer from the resolver within the time given */
    PROBE_NET_REFUSED,
    PROBE_NET_TIMEOUT,         /* no answer to the connection attempt within the time given */
    PROBE_NET_UNREACHABLE,     /* other connect errors: no route, network unreachable */
};

struct probe_net_result {
    enum probe_net_status status;
    char address[64];          /* the address tried last, as text ("127.0.0.1:1352", "[::1]:1352");
                                  empty when the name did not resolve */
    int resolve_ms, connect_ms; /* connect_ms: the successful attempt's, meaningful when reachable */
    char detail[256];          /* one sentence, e.g. "notes01.example.com:1352 refused the connection
                                  (127.0.0.1)" */
};

/* Resolves host (a name or a numeric address), then opens a TCP connection to each of its
 * addresses in turn until one accepts; closes it at once and sends nothing.
 *
 * The whole call is bounded by timeout_ms: resolution runs through getaddrinfo_a and is abandoned
 * when time runs out (a .invalid name or a dead DNS server cannot hang the caller; an abandoned
 * lookup finishes and frees itself in the background). Each connection attempt gets an equal share
 * of the time left, so one black-holed address does not starve the next. When no address accepts,
 * status and address are those of the last attempt.
 *
 * Blocking for up to about timeout_ms; any thread (no signals, no global state).
 *
 * Returns 0 with r filled (status and detail always); LME_EINVAL when host is NULL or empty, port is
 * outside 1..65535 or timeout_ms is not positive (r->detail says which, when r is given);
 * LME_ENOMEM when memory, a socket or a resolver thread cannot be had. */
int probe_net_connect(const char *host, int port, int timeout_ms, struct probe_net_result *r);

/* "reachable", "unresolvable", "resolve_timeout", "refused", "timeout", "unreachable"; "invalid"
 * for a value outside the enum. Static storage. */
const char *probe_net_status_name(enum probe_net_status s);

#endif
