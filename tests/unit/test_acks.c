/* Unit tests of acknowledgement tracking: out-of-order settlements, several copies per record,
 * settlements before their expectation, interleaved sources, growth of the ring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "acks.h"

struct committed {
    uint64_t offset[4]; /* per source */
    uint64_t calls;
};

static void on_committed(void *ctx, uint32_t source, uint64_t end_offset, int64_t added_ms)
{
    struct committed *c = ctx;
    assert_int_equal(added_ms, 7); /* handed back as it was given */
    assert_true(end_offset >= c->offset[source]); /* never backwards */
    c->offset[source] = end_offset;
    c->calls++;
}

static void test_commit_waits_for_every_earlier_record(void **state)
{
    (void)state;
    struct lme_err err;
    struct acks *a = acks_create(&err);
    struct committed c = { { 0 }, 0 };
    uint64_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(acks_add(a, 0, 100 * (uint64_t)(i + 1), 7, &t[i]), 0);
        acks_expect(a, t[i], 1);
    }
    assert_int_equal(t[0], 1);
    assert_int_equal(t[3], 4);
    acks_settle(a, t[2]);
    acks_settle(a, t[1]);
    assert_int_equal(acks_advance(a, on_committed, &c), 4);
    assert_int_equal(c.offset[0], 0); /* record 0 still out: nothing may be committed */
    acks_settle(a, t[0]);
    assert_int_equal(acks_advance(a, on_committed, &c), 1);
    assert_int_equal(c.offset[0], 300);
    acks_settle(a, t[3]);
    assert_int_equal(acks_advance(a, on_committed, &c), 0);
    assert_int_equal(c.offset[0], 400);
    acks_destroy(a);
}

static void test_every_copy_must_settle(void **state)
{
    (void)state;
    struct lme_err err;
    struct acks *a = acks_create(&err);
    struct committed c = { { 0 }, 0 };
    uint64_t t;
    assert_int_equal(acks_add(a, 1, 50, 7, &t), 0);
    acks_settle(a, t);    /* settled inside send(), before the expectation */
    acks_expect(a, t, 2); /* two sinks, or an event and its alert copy */
    acks_expect(a, t, 1); /* a third sink */
    assert_int_equal(acks_advance(a, on_committed, &c), 1);
    acks_settle(a, t);
    assert_int_equal(acks_advance(a, on_committed, &c), 1);
    acks_settle(a, t);
    assert_int_equal(acks_advance(a, on_committed, &c), 0);
    assert_int_equal(c.offset[1], 50);
    acks_settle(a, t); /* a stray settlement of a gone record changes nothing */
    assert_int_equal(acks_pending(a), 0);
    acks_destroy(a);
}

static void test_sources_interleave_and_ring_grows(void **state)
{
    (void)state;
    struct lme_err err;
    struct acks *a = acks_create(&err);
    struct committed c = { { 0 }, 0 };
    enum { N = 10000 };
    uint64_t *tokens = malloc(N * sizeof(*tokens));
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(acks_add(a, (uint32_t)(i % 3), i + 1, 7, &tokens[i]), 0);
        acks_expect(a, tokens[i], 1);
    }
    for (uint64_t i = N; i-- > 1;) /* settle backwards: nothing can commit until the first */
        acks_settle(a, tokens[i]);
    assert_int_equal(acks_advance(a, on_committed, &c), N);
    acks_settle(a, tokens[0]);
    assert_int_equal(acks_advance(a, on_committed, &c), 0);
    assert_int_equal(c.calls, N);
    assert_int_equal(c.offset[0], N);     /* record 9999: 9999 % 3 == 0 */
    assert_int_equal(c.offset[1], N - 2); /* record 9997 */
    assert_int_equal(c.offset[2], N - 1); /* record 9998 */
    /* and it keeps working after wrapping around */
    for (uint64_t round = 0; round < 3000; round++) {
        uint64_t t;
        assert_int_equal(acks_add(a, 3, round, 7, &t), 0);
        acks_expect(a, t, 1);
        acks_settle(a, t);
        assert_int_equal(acks_advance(a, on_committed, &c), 0);
    }
    assert_int_equal(c.offset[3], 2999);
    free(tokens);
    acks_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_waits_for_every_earlier_record),
        cmocka_unit_test(test_every_copy_must_settle),
        cmocka_unit_test(test_sources_interleave_and_ring_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
