/* The metrics port against clients that do not play along, with the real binary and real
 * sockets: 100 clients sending a header line every 3 s, 30 sending one every 250 ms, a
 * connect/close loop and bad requests that make libmicrohttpd talk, while /health must answer
 * within a second and the log stays in its format and bounded. Also: an address that cannot be
 * listened on stops the start; a reload that cannot move the endpoint keeps the old one; the
 * daemon holding more than FD_SETSIZE descriptors still answers.
 * Usage: test_http_hostile LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "run_cmd.h"

static const char *binary;
static char *tmp;

static int setup(void **state)
{
    (void)state;
    return (tmp = make_temp_dir()) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static const char *in_tmp(const char *name)
{
    static char path[8][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", tmp, name);
    return p;
}

/* A loopback socket bound to a port nobody uses; listening when asked (a port in use). */
static int bound_socket(int *port, bool listening)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (listening)
        assert_int_equal(listen(fd, 4), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Connects to 127.0.0.1:port within timeout_ms; returns a non-blocking socket or -1. */
static int connect_to(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd p = { fd, POLLOUT, 0 };
    int err = 0;
    socklen_t len = sizeof(err);
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
        err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends request and reads the answer until the server closes, within timeout_ms. Returns the
 * HTTP status (the whole answer in out, NUL-terminated) or -1. */
static int exchange(int port, const char *request, int timeout_ms, char *out, size_t size)
{
    int64_t deadline = mono_ms() + timeout_ms;
    int fd = connect_to(port, timeout_ms);
    if (fd < 0)
        return -1;
    size_t len = strlen(request), got = 0;
    if (send(fd, request, len, MSG_NOSIGNAL) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    for (;;) {
        int64_t left = deadline - mono_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, (int)left) != 1 || got + 1 >= size)
            break;
        ssize_t r = recv(fd, out + got, size - 1 - got, 0);
        if (r <= 0 && !(r < 0 && errno == EAGAIN))
            break;
        got += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    out[got] = '\0';
    int status;
    return sscanf(out, "HTTP/1.%*d %d", &status) == 1 && mono_ms() <= deadline ? status : -1;
}

static int get(int port, const char *path, int timeout_ms, char *out, size_t size)
{
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    return exchange(port, req, timeout_ms, out, size);
}

static int health(int port, int timeout_ms)
{
    char out[4096];
    return get(port, "/health", timeout_ms, out, sizeof(out));
}

static int wait_health(int port, int timeout_ms)
{
    for (int64_t end = mono_ms() + timeout_ms; mono_ms() < end; sleep_ms(50))
        if (health(port, 1000) == 200)
            return 1;
    return 0;
}

static void write_config(const char *name, const char *listen, const char *format)
{
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"exch01\",\"state_dir\":\"%s/state\",\"log_format\":\"%s\","
                     "\"metrics\":{\"listen\":\"%s\"},"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/logs/*.log\"]}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/out.jsonl\"}]}",
                     tmp, format, listen, tmp, tmp);
    mkdir(in_tmp("logs"), 0755);
    assert_int_equal(write_file(in_tmp(name), text, (size_t)n), 0);
}

static void start_daemon(const char *config, const char *log, struct proc *d)
{
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp(config), NULL },
                                in_tmp(log), d), 0);
}

static void stop_daemon(struct proc *d)
{
    kill(d->pid, SIGTERM);
    assert_int_equal(proc_wait(d, 15000), 0);
    proc_stop(d);
}

/* One logfmt value: bare (no space, quote or '=') or quoted with \" \\ \n \xNN escapes. */
static const char *logfmt_value(const char *p)
{
    if (*p != '"') {
        const char *start = p;
        while (*p && *p != ' ' && *p != '"' && *p != '=')
            p++;
        return p > start ? p : NULL;
    }
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\')
            continue;
        p++;
        if (*p == 'x' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2]))
            p += 2;
        else if (*p != '"' && *p != '\\' && *p != 'n')
            return NULL;
    }
    return *p == '"' ? p + 1 : NULL;
}

/* time=... level=... msg=... then key=value pairs, one space apart. */
static bool is_logfmt(const char *line)
{
    static const char *const first[] = { "time=", "level=", "msg=" };
    const char *p = line;
    for (int i = 0; *p; i++) {
        if (i < 3 && strncmp(p, first[i], strlen(first[i])) != 0)
            return false;
        const char *key = p;
        while (*p == '_' || islower((unsigned char)*p))
            p++;
        if (p == key || *p++ != '=' || !(p = logfmt_value(p)))
            return false;
        if (*p == ' ')
            p++;
        else if (*p)
            return false;
    }
    return p > line;
}

/* Every line of the log in its format; returns the number of lines. */
static int check_log_format(const char *path, bool json)
{
    size_t len;
    char *log = read_file(path, &len);
    assert_non_null(log);
    assert_true(len > 0 && log[len - 1] == '\n');
    int lines = 0;
    for (char *line = log, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        *nl = '\0';
        json_t *j = json ? json_loads(line, 0, NULL) : NULL;
        if (json ? !j || !json_is_string(json_object_get(j, "msg")) : !is_logfmt(line))
            fail_msg("not %s: %s", json ? "JSON" : "logfmt", line);
        json_decref(j);
    }
    free(log);
    return lines;
}

/* The hostile clients, on their own thread until stop. */
enum { SLOW, TRICKLE, KINDS };
#define SLOW_CLIENTS 100
#define TRICKLE_CLIENTS 30
#define CLIENTS (SLOW_CLIENTS + TRICKLE_CLIENTS)

struct client {
    int fd;
    int kind;
    int64_t connected_ms, next_send_ms;
};

struct load {
    int port;
    atomic_bool stop;
    struct client clients[CLIENTS];
    int cuts[KINDS];            /* connections the server closed */
    int64_t min_age[KINDS], max_age[KINDS];
    long connects;              /* of the connect/close loop */
    long bad_requests;          /* answered 505: each makes the library log a line */
};

static const int every_ms[KINDS] = { 3000, 250 };

static void client_open(struct load *l, struct client *c)
{
    c->fd = connect_to(l->port, 1000);
    c->connected_ms = mono_ms();
    c->next_send_ms = c->connected_ms + every_ms[c->kind];
    if (c->fd >= 0)
        send(c->fd, "GET /health HTTP/1.1\r\n", 22, MSG_NOSIGNAL);
}

/* The server closed it (end of file, reset, or a write refused): count it, open another. */
static void client_cut(struct load *l, struct client *c)
{
    int64_t age = mono_ms() - c->connected_ms;
    int k = c->kind;
    if (l->cuts[k]++ == 0 || age < l->min_age[k])
        l->min_age[k] = age;
    if (age > l->max_age[k])
        l->max_age[k] = age;
    close(c->fd);
    client_open(l, c);
}

static void client_step(struct load *l, struct client *c, short revents)
{
    if (c->fd < 0) {
        client_open(l, c);
        return;
    }
    if (revents) {
        char buf[512];
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r == 0 || (r < 0 && errno != EAGAIN))
            client_cut(l, c);
        return;
    }
    if (mono_ms() < c->next_send_ms)
        return;
    c->next_send_ms += every_ms[c->kind];
    if (send(c->fd, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) != 11)
        client_cut(l, c);
}

static void connect_close(struct load *l)
{
    for (int i = 0; i < 10; i++) {
        int fd = connect_to(l->port, 1000);
        if (fd >= 0) {
            close(fd);
            l->connects++;
        }
    }
}

static void bad_request(struct load *l)
{
    char out[2048];
    if (exchange(l->port, "GET /health HTTP/9.9\r\n\r\n", 2000, out, sizeof(out)) == 505)
        l->bad_requests++;
}

static void *load_main(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < CLIENTS; i++) {
        l->clients[i].kind = i < SLOW_CLIENTS ? SLOW : TRICKLE;
        client_open(l, &l->clients[i]);
    }
    while (!atomic_load(&l->stop)) {
        struct pollfd p[CLIENTS];
        for (int i = 0; i < CLIENTS; i++)
            p[i] = (struct pollfd){ l->clients[i].fd, POLLIN, 0 };
        poll(p, CLIENTS, 10);
        for (int i = 0; i < CLIENTS; i++)
            client_step(l, &l->clients[i], p[i].revents);
        connect_close(l);
        bad_request(l);
    }
    for (int i = 0; i < CLIENTS; i++)
        if (l->clients[i].fd >= 0)
            close(l->clients[i].fd);
    return NULL;
}

/* Per wall-clock second of the JSON log: the most records of the metrics endpoint (its own and
 * the "log records suppressed" ones); in all: how many it wrote, and how many it suppressed. */
static void endpoint_records(const char *path, int *most_in_a_second, long *written,
                             long *suppressed)
{
    size_t len;
    char *log = read_file(path, &len);
    char second[32] = "";
    int in_second = 0;
    *most_in_a_second = 0;
    *written = *suppressed = 0;
    for (char *line = log, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        const char *time = json_string_value(json_object_get(j, "time"));
        bool report = msg && strcmp(msg, "log records suppressed") == 0;
        if (report)
            *suppressed += atol(json_string_value(json_object_get(j, "suppressed")));
        bool own = msg && strncmp(msg, "metrics endpoint: ", 18) == 0;
        *written += own;
        if (own || report) {
            if (strncmp(time, second, 19) != 0) {
                snprintf(second, sizeof(second), "%.19s", time);
                in_second = 0;
            }
            if (++in_second > *most_in_a_second)
                *most_in_a_second = in_second;
        }
        json_decref(j);
    }
    free(log);
}

static void test_health_answers_despite_slow_clients(void **state)
{
    (void)state;
    int port = free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    write_config("hostile.json", listen, "json");
    struct proc d;
    start_daemon("hostile.json", "hostile.log", &d);
    assert_true(wait_health(port, 10000));

    struct load *l = calloc(1, sizeof(*l));
    l->port = port;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_main, l), 0);
    int64_t worst = 0, checks = 0, failures = 0;
    for (int64_t end = mono_ms() + 13000; mono_ms() < end; sleep_ms(100), checks++) {
        int64_t t0 = mono_ms();
        int status = health(port, 1000);
        int64_t took = mono_ms() - t0;
        worst = took > worst ? took : worst;
        if (status != 200) {
            failures++;
            fprintf(stderr, "/health: status %d after %lld ms\n", status, (long long)took);
        }
    }
    atomic_store(&l->stop, true);
    pthread_join(t, NULL);
    fprintf(stderr, "/health: %lld checks, worst %lld ms; slow clients cut %d times after %lld to "
            "%lld ms; trickling clients cut %d times after %lld to %lld ms; %ld connect/close, "
            "%ld bad requests\n", (long long)checks, (long long)worst, l->cuts[SLOW],
            (long long)l->min_age[SLOW], (long long)l->max_age[SLOW], l->cuts[TRICKLE],
            (long long)l->min_age[TRICKLE], (long long)l->max_age[TRICKLE], l->connects,
            l->bad_requests);
    assert_int_equal(failures, 0);
    assert_true(worst < 1000);
    /* silent for 2 s: closed before their next line at 3 s */
    assert_true(l->cuts[SLOW] >= 2 * SLOW_CLIENTS);
    assert_true(l->min_age[SLOW] >= 1500 && l->max_age[SLOW] < 3500);
    /* never silent, never done: cut at the 5 s deadline */
    assert_true(l->cuts[TRICKLE] >= 2 * TRICKLE_CLIENTS);
    assert_true(l->min_age[TRICKLE] >= 4900 && l->max_age[TRICKLE] < 6000);
    assert_true(l->connects > 1000);
    assert_true(l->bad_requests > 200);

    stop_daemon(&d);
    int lines = check_log_format(in_tmp("hostile.log"), true);
    int most;
    long written, suppressed;
    endpoint_records(in_tmp("hostile.log"), &most, &written, &suppressed);
    fprintf(stderr, "log: %d lines, %ld from the endpoint (at most %d in a second), %ld "
            "suppressed\n", lines, written, most, suppressed);
    /* 10 a monotonic second and 2 reports, so up to twice that in a wall-clock one */
    assert_true(most <= 24);
    assert_true(suppressed > 0);
    assert_true(lines < 60 + 24 * 16);
    /* every bad request was logged or counted */
    assert_true(written + suppressed >= l->bad_requests);
    free(l);
}

static void run_expecting_failure(const char *listen, const char *reason)
{
    write_config("bad.json", listen, "logfmt");
    char *argv[] = { (char *)binary, "run", "--config", (char *)in_tmp("bad.json"), NULL };
    struct run_result res;
    int64_t t0 = mono_ms();
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_true(mono_ms() - t0 < 10000);
    assert_int_equal(res.status, 2);
    char want[512];
    snprintf(want, sizeof(want), "bad.json: key 'metrics.listen': ");
    if (!strstr(res.err, want) || !strstr(res.err, reason))
        fail_msg("no \"%s ... %s\" in: %s", want, reason, res.err);
    assert_null(strstr(res.err, "msg=started"));
    assert_int_equal(write_file(in_tmp("bad.log"), res.err, res.err_len), 0);
    check_log_format(in_tmp("bad.log"), false);
    run_result_free(&res);
}

static void test_unusable_address_stops_the_start(void **state)
{
    (void)state;
    int port;
    int taken = bound_socket(&port, true);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    run_expecting_failure(listen, "cannot listen on 127.0.0.1:");
    run_expecting_failure(listen, ": Address already in use");
    close(taken);
    /* TEST-NET-1: an address of no machine here */
    snprintf(listen, sizeof(listen), "192.0.2.1:%d", port);
    run_expecting_failure(listen, ": Cannot assign requested address");
    run_expecting_failure("localhost:9464", "the host must be an IP address");
}

/* Waits until the log at path holds text (the whole file, however long). */
static bool log_has(const char *path, const char *text, int timeout_ms)
{
    for (int64_t end = mono_ms() + timeout_ms;; sleep_ms(20)) {
        size_t len;
        char *log = read_file(path, &len);
        bool found = log && strstr(log, text);
        free(log);
        if (found || mono_ms() >= end)
            return found;
    }
}

/* Bad requests so that the library's own lines are in the log too. */
static void provoke_library(int port)
{
    char out[2048];
    for (int i = 0; i < 30; i++)
        assert_int_equal(exchange(port, "GET / HTTP/9.9\r\n\r\n", 2000, out, sizeof(out)), 505);
}

static void reload_with(struct proc *d, const char *listen, const char *log, int reloads)
{
    write_config("reload.json", listen, "logfmt");
    kill(d->pid, SIGHUP);
    char want[64];
    snprintf(want, sizeof(want), "msg=reloaded");
    /* the n-th "reloaded": wait for the log to hold as many */
    for (int64_t end = mono_ms() + 15000;; sleep_ms(20)) {
        size_t len;
        char *text = read_file(in_tmp(log), &len);
        int n = 0;
        for (const char *p = text; (p = strstr(p, want)); p++)
            n++;
        free(text);
        if (n >= reloads)
            return;
        assert_true(mono_ms() < end);
    }
}

static void test_reload_keeps_the_endpoint_it_cannot_move(void **state)
{
    (void)state;
    int a = free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", a);
    write_config("reload.json", listen, "logfmt");
    struct proc d;
    start_daemon("reload.json", "reload.log", &d);
    assert_true(wait_health(a, 10000));

    int b;
    int taken = bound_socket(&b, true);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", b);
    reload_with(&d, listen, "reload.log", 1);
    assert_true(log_has(in_tmp("reload.log"), "msg=\"metrics endpoint not moved: it stays where "
                                              "it was\"", 1000));
    assert_true(log_has(in_tmp("reload.log"), "key 'metrics.listen': cannot listen on", 1000));
    assert_true(log_has(in_tmp("reload.log"), "Address already in use", 1000));
    assert_int_equal(health(a, 1000), 200);
    close(taken);

    /* the same port on every address: the old endpoint is in the way and steps aside */
    snprintf(listen, sizeof(listen), "0.0.0.0:%d", a);
    reload_with(&d, listen, "reload.log", 2);
    char want[64];
    snprintf(want, sizeof(want), "msg=\"metrics endpoint\" listen=0.0.0.0:%d", a);
    assert_true(log_has(in_tmp("reload.log"), want, 1000));
    assert_int_equal(health(a, 1000), 200);

    int c = free_port();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", c);
    reload_with(&d, listen, "reload.log", 3);
    assert_true(wait_health(c, 5000));
    assert_int_equal(health(a, 1000), -1); /* the old one is gone */
    provoke_library(c);
    stop_daemon(&d);
    check_log_format(in_tmp("reload.log"), false);
    assert_true(log_has(in_tmp("reload.log"), "msg=\"metrics endpoint: libmicrohttpd\"", 0));
}

/* Descriptors of the daemon: how many, and whether every number below 1024 is taken (so that
 * the next socket it accepts lands above FD_SETSIZE). */
static int daemon_fds(pid_t pid, bool *low_all_taken)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *dp = opendir(dir);
    if (!dp)
        return -1;
    int n = 0, low = 0;
    for (struct dirent *e; (e = readdir(dp));) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        low += atoi(e->d_name) < 1024;
    }
    closedir(dp);
    *low_all_taken = low == 1024;
    return n;
}

#define MANY_FILES 1100

static void write_many_logs(void)
{
    const char *record = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                         "Session Open >> ntshcs(2317)\r\n";
    mkdir(in_tmp("logs"), 0755);
    for (int i = 0; i < MANY_FILES; i++) {
        char name[64];
        snprintf(name, sizeof(name), "logs/f%04d.log", i);
        assert_int_equal(write_file(in_tmp(name), record, strlen(record)), 0);
    }
}

static void test_descriptors_above_fd_setsize(void **state)
{
    (void)state;
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    if (saved.rlim_max < MANY_FILES + 200) {
        fprintf(stderr, "hard RLIMIT_NOFILE %llu: too low for this test\n",
                (unsigned long long)saved.rlim_max);
        skip();
    }
    write_many_logs();
    int port = free_port();
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    write_config("fds.json", listen, "logfmt");
    /* started with the soft limit services often get: the daemon must raise it itself */
    struct rlimit low = { .rlim_cur = 1024, .rlim_max = saved.rlim_max };
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct proc d;
    start_daemon("fds.json", "fds.log", &d);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

    bool low_taken = false;
    int fds = 0;
    for (int64_t end = mono_ms() + 30000; mono_ms() < end && !(fds > MANY_FILES && low_taken);
         sleep_ms(50))
        fds = daemon_fds(d.pid, &low_taken);
    fprintf(stderr, "the daemon holds %d descriptors\n", fds);
    assert_true(fds > MANY_FILES && low_taken);
    char want[128];
    snprintf(want, sizeof(want), "msg=\"descriptor limit raised\" nofile=%llu was=1024",
             (unsigned long long)saved.rlim_max);
    assert_true(log_has(in_tmp("fds.log"), want, 1000));

    for (int i = 0; i < 20; i++) {
        int64_t t0 = mono_ms();
        assert_int_equal(health(port, 1000), 200);
        assert_true(mono_ms() - t0 < 1000);
    }
    size_t size = 4 << 20;
    char *page = malloc(size);
    assert_int_equal(get(port, "/metrics", 5000, page, size), 200);
    assert_non_null(strstr(page, "\nlme_input_files{input=\"0\",host=\"exch01\"} 1100\n"));
    free(page);
    daemon_fds(d.pid, &low_taken);
    assert_true(low_taken); /* still: the sockets above were all past 1024 */
    stop_daemon(&d);
    check_log_format(in_tmp("fds.log"), false);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_answers_despite_slow_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_address_stops_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_the_endpoint_it_cannot_move, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_descriptors_above_fd_setsize, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
