/* Unit tests of one source's acknowledgement queue: out-of-order settlements, several copies
 * per record, settlements before their expectation, growth and wrap-around of the ring, and
 * sequence numbers that go on after the queue is emptied and reused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "acks.h"

struct committed {
    uint64_t offset;
    uint64_t calls;
};

static void on_committed(void *ctx, uint64_t end_offset, int64_t added_ms)
{
    struct committed *c = ctx;
    assert_int_equal(added_ms, 7); /* handed back as it was given */
    assert_true(end_offset >= c->offset); /* never backwards */
    c->offset = end_offset;
    c->calls++;
}

static void test_commit_waits_for_every_earlier_record(void **state)
{
    (void)state;
    struct acks a;
    acks_init(&a);
    struct committed c = { 0, 0 };
    uint64_t t[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(acks_add(&a, 100 * (uint64_t)(i + 1), 7, &t[i]), 0);
        acks_expect(&a, t[i], 1);
    }
    assert_int_equal(t[0], 1);
    assert_int_equal(t[3], 4);
    acks_settle(&a, t[2]);
    acks_settle(&a, t[1]);
    assert_int_equal(acks_advance(&a, on_committed, &c), 4);
    assert_int_equal(c.offset, 0); /* record 0 still out: nothing may be committed */
    acks_settle(&a, t[0]);
    assert_int_equal(acks_advance(&a, on_committed, &c), 1);
    assert_int_equal(c.offset, 300);
    acks_settle(&a, t[3]);
    assert_int_equal(acks_advance(&a, on_committed, &c), 0);
    assert_int_equal(c.offset, 400);
    acks_free(&a);
}

static void test_every_copy_must_settle(void **state)
{
    (void)state;
    struct acks a;
    acks_init(&a);
    struct committed c = { 0, 0 };
    uint64_t t;
    assert_int_equal(acks_add(&a, 50, 7, &t), 0);
    acks_settle(&a, t);    /* settled inside send(), before the expectation */
    acks_expect(&a, t, 2); /* two sinks, or an event and its alert copy */
    acks_expect(&a, t, 1); /* a third sink */
    assert_int_equal(acks_advance(&a, on_committed, &c), 1);
    acks_settle(&a, t);
    assert_int_equal(acks_advance(&a, on_committed, &c), 1);
    acks_settle(&a, t);
    assert_int_equal(acks_advance(&a, on_committed, &c), 0);
    assert_int_equal(c.offset, 50);
    acks_settle(&a, t); /* a stray settlement of a gone record changes nothing */
    assert_int_equal(acks_pending(&a), 0);
    acks_free(&a);
}

static void test_ring_grows_and_wraps(void **state)
{
    (void)state;
    struct acks a;
    acks_init(&a);
    struct committed c = { 0, 0 };
    enum { N = 10000 };
    uint64_t *seqs = malloc(N * sizeof(*seqs));
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(acks_add(&a, i + 1, 7, &seqs[i]), 0);
        acks_expect(&a, seqs[i], 1);
    }
    for (uint64_t i = N; i-- > 1;) /* settle backwards: nothing can commit until the first */
        acks_settle(&a, seqs[i]);
    assert_int_equal(acks_advance(&a, on_committed, &c), N);
    acks_settle(&a, seqs[0]);
    assert_int_equal(acks_advance(&a, on_committed, &c), 0);
    assert_int_equal(c.calls, N);
    assert_int_equal(c.offset, N);
    /* and it keeps working after wrapping around */
    for (uint64_t round = 0; round < 3000; round++) {
        uint64_t s;
        assert_int_equal(acks_add(&a, N + round, 7, &s), 0);
        acks_expect(&a, s, 1);
        acks_settle(&a, s);
        assert_int_equal(acks_advance(&a, on_committed, &c), 0);
    }
    assert_int_equal(c.offset, N + 2999);
    free(seqs);
    acks_free(&a);
}

static void test_sequence_goes_on_after_reuse(void **state)
{
    (void)state;
    struct acks a;
    acks_init(&a);
    struct committed c = { 0, 0 };
    uint64_t old, fresh;
    assert_int_equal(acks_add(&a, 10, 7, &old), 0);
    acks_expect(&a, old, 2);
    acks_settle(&a, old);
    acks_free(&a); /* the source is let go with one copy still out */
    assert_int_equal(acks_add(&a, 20, 7, &fresh), 0);
    assert_true(fresh > old);
    acks_expect(&a, fresh, 1);
    acks_settle(&a, old); /* the late copy of the old record must not settle the new one */
    assert_int_equal(acks_advance(&a, on_committed, &c), 1);
    assert_int_equal(c.calls, 0);
    acks_settle(&a, fresh);
    assert_int_equal(acks_advance(&a, on_committed, &c), 0);
    assert_int_equal(c.offset, 20);
    acks_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_waits_for_every_earlier_record),
        cmocka_unit_test(test_every_copy_must_settle),
        cmocka_unit_test(test_ring_grows_and_wraps),
        cmocka_unit_test(test_sequence_goes_on_after_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
