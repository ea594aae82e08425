/* sink_thread: a real file sink on a thread of its own. Every event reaches the file whole and in
 * order, whether its JSON was lent to send or written into the buffer the sink lends; each token
 * settles exactly once and on the owner's thread, the counters add up, and the inner sink's
 * failure reaches the owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_sink.h"
#include "sink_thread.h"

struct seen {
    pthread_t owner;
    uint64_t *tokens;
    size_t n, cap;
    int on_other_thread;
};

static void on_settled(void *ctx, uint64_t token)
{
    struct seen *s = ctx;
    if (!pthread_equal(pthread_self(), s->owner))
        s->on_other_thread++;
    if (s->n < s->cap)
        s->tokens[s->n] = token;
    s->n++;
}

static struct sink *make(const char *path, struct seen *seen, size_t cap)
{
    struct lme_err err = { 0 };
    struct sink *inner = file_sink_create(path, &err);
    assert_non_null(inner);
    snprintf(inner->name, sizeof(inner->name), "file[3]");
    struct sink *s = sink_thread_create(inner, (size_t)10 << 20, &err);
    assert_non_null(s);
    assert_string_equal(s->name, "file[3]");
    memset(seen, 0, sizeof(*seen));
    seen->owner = pthread_self();
    seen->cap = cap;
    seen->tokens = calloc(cap ? cap : 1, sizeof(uint64_t));
    s->settled = on_settled;
    s->settled_ctx = seen;
    return s;
}

static int poll_until_settled(struct sink *s, struct lme_err *err)
{
    for (int i = 0; i < 1000 && s->stats.in_flight > 0; i++) {
        int rc = s->ops->poll(s, 10, err);
        if (rc)
            return rc;
    }
    return 0;
}

static char *temp_path(void)
{
    char *path = strdup("/tmp/test_sink_thread_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

/* Event i's JSON: sizes from 20 bytes to 1 KB, and one of 600 KB (more than a batch holds). */
static size_t event_json(size_t i, char *out, size_t size)
{
    size_t pad = i == 2500 ? 600 * 1024 : (i * 37) % 1000;
    int n = snprintf(out, size, "{\"n\":%zu,\"pad\":\"", i);
    memset(out + n, 'a' + (char)(i % 26), pad);
    memcpy(out + n + pad, "\"}", 3);
    return (size_t)n + pad + 2;
}

static void test_every_event_in_order_each_token_once(void **state)
{
    (void)state;
    enum { N = 5000 };
    char *path = temp_path();
    struct seen seen;
    struct sink *s = make(path, &seen, 2 * N);
    static char json[610 * 1024];
    struct lme_err err = { 0 };
    uint64_t bytes = 0;
    for (size_t i = 0; i < N; i++) {
        size_t len = event_json(i, json, sizeof(json));
        struct lme_event ev = { .host = { "exch01", 6 }, .component = { "LME-NOTES-MEXNTS", 16 },
                                .code = { "41220", 5 } };
        const char *sent = json;
        if (i % 3 != 0) { /* most written into the buffer the sink lends, as the router does */
            struct lme_buf *b;
            assert_int_equal(s->ops->json_buffer(s, &b, &err), 0);
            assert_int_equal(lme_buf_append(b, json, len), 0);
            sent = b->data + b->len - len;
        }
        assert_int_equal(s->ops->send(s, &ev, sent, len, 1000 + i, &err), 1);
        bytes += len;
        if (i % 1000 == 999)
            assert_int_equal(s->ops->poll(s, 0, &err), 0);
    }
    assert_int_equal(s->stats.accepted, N);
    assert_int_equal(poll_until_settled(s, &err), 0);
    assert_int_equal(s->stats.in_flight, 0);
    assert_int_equal(s->stats.in_flight_bytes, 0);
    assert_int_equal(s->stats.delivered, N);
    assert_int_equal(seen.on_other_thread, 0);
    assert_int_equal(seen.n, N); /* each once: no more, and every token below */
    char *got = calloc(N, 1);
    for (size_t k = 0; k < seen.n; k++) {
        assert_true(seen.tokens[k] >= 1000 && seen.tokens[k] < 1000 + N);
        assert_int_equal(got[seen.tokens[k] - 1000], 0);
        got[seen.tokens[k] - 1000] = 1;
    }
    s->ops->destroy(s);

    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[611 * 1024];
    size_t i = 0;
    uint64_t read_bytes = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t len = event_json(i, json, sizeof(json));
        assert_int_equal(strlen(line), len + 1);
        assert_memory_equal(line, json, len);
        read_bytes += len;
        i++;
    }
    fclose(f);
    assert_int_equal(i, N);
    assert_int_equal(read_bytes, bytes);
    unlink(path);
    free(path);
    free(got);
    free(seen.tokens);
}

/* What waits in a batch counts in the bytes in flight, which the pipeline's budget watches. */
static void test_batched_events_count_in_flight(void **state)
{
    (void)state;
    char *path = temp_path();
    struct seen seen;
    struct sink *s = make(path, &seen, 16);
    struct lme_err err = { 0 };
    struct lme_event ev = { .host = { "h", 1 } };
    for (int i = 0; i < 10; i++)
        assert_int_equal(s->ops->send(s, &ev, "{\"a\":1}", 7, (uint64_t)i, &err), 1);
    assert_int_equal(s->stats.in_flight, 10);
    assert_int_equal(s->stats.in_flight_bytes, 70); /* none handed over yet: a batch holds 1,024 */
    assert_int_equal(seen.n, 0);
    assert_int_equal(poll_until_settled(s, &err), 0);
    assert_int_equal(seen.n, 10);
    assert_int_equal(s->stats.in_flight_bytes, 0);
    s->ops->destroy(s);
    unlink(path);
    free(path);
    free(seen.tokens);
}

/* The inner sink cannot write (/dev/full): the owner's next poll says why, and stops there. */
static void test_inner_failure_reaches_owner(void **state)
{
    (void)state;
    struct seen seen;
    struct sink *s = make("/dev/full", &seen, 16);
    struct lme_err err = { 0 };
    struct lme_event ev = { .host = { "h", 1 } };
    assert_int_equal(s->ops->send(s, &ev, "{\"a\":1}", 7, 1, &err), 1);
    int rc = poll_until_settled(s, &err);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, "/dev/full"));
    assert_int_equal(seen.n, 0);
    assert_int_equal(s->stats.in_flight, 1); /* never settled: it stays uncommitted */
    struct lme_err again = { 0 };
    assert_int_equal(s->ops->poll(s, 0, &again), rc);
    assert_int_equal(s->ops->send(s, &ev, "{\"a\":1}", 7, 2, &again), rc);
    s->ops->destroy(s);
    free(seen.tokens);
}

/* Destroyed with batches queued and events unsent: no hang, nothing leaks (ASan). */
static void test_destroy_with_events_queued(void **state)
{
    (void)state;
    char *path = temp_path();
    struct seen seen;
    struct sink *s = make(path, &seen, 2000);
    struct lme_err err = { 0 };
    struct lme_event ev = { .host = { "h", 1 } };
    for (int i = 0; i < 1500; i++)
        assert_int_equal(s->ops->send(s, &ev, "{\"a\":1}", 7, (uint64_t)i, &err), 1);
    s->ops->destroy(s);
    unlink(path);
    free(path);
    free(seen.tokens);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_in_order_each_token_once),
        cmocka_unit_test(test_batched_events_count_in_flight),
        cmocka_unit_test(test_inner_failure_reaches_owner),
        cmocka_unit_test(test_destroy_with_events_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
