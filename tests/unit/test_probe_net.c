/* Unit tests of the Notes server reachability probe, on loopback only: a listener (reachable), a
 * closed port (refused), a listener whose accept queue is full so that SYNs are dropped (timeout),
 * an unresolvable .invalid name (bounded in time), and argument checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "probe_net.h"

#define MAX_FILL 64

static int fds[MAX_FILL + 1]; /* a listener and connections that fill its queue; closed after each test */
static int nfds;

static int close_all(void **state)
{
    (void)state;
    while (nfds > 0)
        close(fds[--nfds]);
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket on 127.0.0.1, bound to a free port (returned), listening with backlog unless it is -1. */
static int loopback_socket(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    *port = ntohs(a.sin_port);
    fds[nfds++] = fd;
    return fd;
}

static void probe(const char *host, int port, int timeout_ms, struct probe_net_result *r,
                  enum probe_net_status want)
{
    assert_int_equal(probe_net_connect(host, port, timeout_ms, r), 0);
    if (r->status != want)
        print_message("got %s: %s\n", probe_net_status_name(r->status), r->detail);
    assert_int_equal(r->status, want);
}

static void test_listening_port_is_reachable(void **state)
{
    (void)state;
    struct probe_net_result r;
    int port;
    loopback_socket(8, &port);
    probe("127.0.0.1", port, 2000, &r, PROBE_NET_REACHABLE);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    assert_string_equal(r.address, want);
    assert_true(r.connect_ms >= 0 && r.resolve_ms >= 0);
    assert_non_null(strstr(r.detail, "accepted"));
    /* by name: localhost may list ::1 first, which refuses; the probe goes on to 127.0.0.1 */
    probe("localhost", port, 2000, &r, PROBE_NET_REACHABLE);
    assert_string_equal(r.address, want);
}

static void test_ipv6_address_is_bracketed(void **state)
{
    (void)state;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        print_message("skipped: no IPv6 loopback here\n");
        if (fd >= 0)
            close(fd);
        skip();
        return;
    }
    fds[nfds++] = fd;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    assert_int_equal(listen(fd, 8), 0);
    struct probe_net_result r;
    probe("::1", ntohs(a.sin6_port), 2000, &r, PROBE_NET_REACHABLE);
    char want[64];
    snprintf(want, sizeof(want), "[::1]:%d", ntohs(a.sin6_port));
    assert_string_equal(r.address, want);
}

static void test_closed_port_is_refused(void **state)
{
    (void)state;
    struct probe_net_result r;
    int port;
    loopback_socket(-1, &port); /* bound, never listening, then closed: nobody listens there */
    close(fds[--nfds]);
    probe("127.0.0.1", port, 2000, &r, PROBE_NET_REFUSED);
    char want[100];
    snprintf(want, sizeof(want), "127.0.0.1:%d refused the connection (127.0.0.1)", port);
    assert_string_equal(r.detail, want);
}

/* Opens connections to port until one is still pending after 100 ms: the accept queue is full and
 * further SYNs are dropped. Returns whether that happened within MAX_FILL connections. */
static int fill_accept_queue(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    while (nfds <= MAX_FILL) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        fds[nfds++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
            return 0;
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, 100) == 0)
            return 1;
    }
    return 0;
}

static void test_dropped_syns_time_out_in_time(void **state)
{
    (void)state;
    struct probe_net_result r;
    int port;
    loopback_socket(0, &port); /* never accepts: one queued connection fills it */
    if (!fill_accept_queue(port)) {
        print_message("skipped: %d connections to a full accept queue all completed\n", MAX_FILL);
        skip();
        return;
    }
    int64_t start = now_ms();
    probe("127.0.0.1", port, 300, &r, PROBE_NET_TIMEOUT);
    int64_t took = now_ms() - start;
    assert_true(took >= 250 && took < 800);
    assert_non_null(strstr(r.detail, "did not answer within"));
}

static void test_invalid_name_fails_within_the_timeout(void **state)
{
    (void)state;
    struct probe_net_result r;
    int64_t start = now_ms();
    assert_int_equal(probe_net_connect("lme-probe-test.invalid", PROBE_NET_NOTES_PORT, 1000, &r), 0);
    int64_t took = now_ms() - start;
    print_message("lme-probe-test.invalid: %s after %lld ms: %s\n", probe_net_status_name(r.status),
                  (long long)took, r.detail);
    assert_true(r.status == PROBE_NET_UNRESOLVABLE || r.status == PROBE_NET_RESOLVE_TIMEOUT);
    assert_true(took <= 1000 + 500);
    assert_string_equal(r.address, "");
    assert_non_null(strstr(r.detail, "lme-probe-test.invalid"));
}

static void test_bad_arguments_are_refused(void **state)
{
    (void)state;
    struct probe_net_result r;
    assert_int_equal(probe_net_connect("127.0.0.1", 0, 100, &r), LME_EINVAL);
    assert_non_null(strstr(r.detail, "port 0"));
    assert_int_equal(probe_net_connect("127.0.0.1", 70000, 100, &r), LME_EINVAL);
    assert_int_equal(probe_net_connect("127.0.0.1", -1, 100, &r), LME_EINVAL);
    assert_int_equal(probe_net_connect("127.0.0.1", 1352, 0, &r), LME_EINVAL);
    assert_int_equal(probe_net_connect(NULL, 1352, 100, &r), LME_EINVAL);
    assert_int_equal(probe_net_connect("", 1352, 100, &r), LME_EINVAL);
    assert_int_equal(probe_net_connect("127.0.0.1", 1352, 100, NULL), LME_EINVAL);
}

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[] = { "reachable", "unresolvable", "resolve_timeout", "refused",
                                         "timeout", "unreachable" };
    for (int s = PROBE_NET_REACHABLE; s <= PROBE_NET_UNREACHABLE; s++)
        assert_string_equal(probe_net_status_name((enum probe_net_status)s), names[s]);
    assert_string_equal(probe_net_status_name((enum probe_net_status)-1), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_listening_port_is_reachable, close_all),
        cmocka_unit_test_teardown(test_ipv6_address_is_bracketed, close_all),
        cmocka_unit_test_teardown(test_closed_port_is_refused, close_all),
        cmocka_unit_test_teardown(test_dropped_syns_time_out_in_time, close_all),
        cmocka_unit_test(test_invalid_name_fails_within_the_timeout),
        cmocka_unit_test(test_bad_arguments_are_refused),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
