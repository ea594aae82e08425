/* Unit tests of the arena (sinks/arena.c): blocks taken and released in any order never overlap
 * and keep their bytes, a released block serves the next block of its class, a full arena says
 * so and has room again after a release, an empty one starts over from its front. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define CAP (4u << 20)

static void test_released_block_serves_the_next_of_its_class(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    char *first = arena_take(a, 700, NULL), *second = arena_take(a, 700, NULL);
    assert_non_null(first);
    assert_non_null(second);
    assert_true(second >= first + 700);
    arena_release(a, first);
    assert_ptr_equal(arena_take(a, 710, NULL), first); /* same class: 700 and 710 round to 768 */
    size_t carved = arena_carved(a);
    arena_release(a, first);
    assert_ptr_not_equal(arena_take(a, 3000, NULL), first); /* another class is carved anew */
    assert_true(arena_carved(a) > carved);
    arena_destroy(a);
}

/* The class arena_take tells is the block's own, also when a larger free block served: released
 * by it, the block serves its class again and the accounting comes back to zero. */
static void test_release_by_the_class_take_told(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    unsigned big, small;
    char *larger = arena_take(a, 900, &big);
    char *keep = arena_take(a, 100, NULL); /* keeps the arena from starting over */
    arena_release_class(a, larger, big);
    char *again = arena_take(a, 700, &small); /* 768's class is empty: 960's block serves */
    assert_ptr_equal(again, larger);
    assert_int_equal(small, big);
    arena_release_class(a, again, small);
    assert_ptr_equal(arena_take(a, 900, NULL), larger);
    arena_release(a, larger);
    arena_release(a, keep);
    assert_int_equal(arena_live(a), 0);
    arena_destroy(a);
}

static void test_a_free_block_a_little_larger_serves_before_carving(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    char *keep = arena_take(a, 100, NULL), *larger = arena_take(a, 900, NULL);
    arena_release(a, larger);
    size_t carved = arena_carved(a);
    assert_ptr_equal(arena_take(a, 700, NULL), larger); /* 768's class is empty: 960's block serves */
    assert_int_equal(arena_carved(a), carved);
    assert_ptr_not_equal(arena_take(a, 400, NULL), larger); /* far smaller: carved */
    assert_true(arena_carved(a) > carved);
    assert_int_equal(arena_peak(a), arena_carved(a));
    (void)keep;
    arena_destroy(a);
}

static void test_empty_arena_starts_over_from_its_front(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    char *first = arena_take(a, 100, NULL);
    char *second = arena_take(a, 5000, NULL);
    arena_release(a, second);
    arena_release(a, first);
    assert_int_equal(arena_carved(a), 0);
    assert_int_equal(arena_live(a), 0);
    assert_ptr_equal(arena_take(a, 5000, NULL), first); /* any class: the front again */
    arena_destroy(a);
}

static void test_full_arena_refuses_until_a_release(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    void *blocks[8192];
    size_t n = 0;
    while (n < 8192 && (blocks[n] = arena_take(a, 1000, NULL)) != NULL)
        n++;
    assert_true(n > 1000 && n < 8192);
    assert_null(arena_take(a, 1000, NULL));
    assert_true(arena_carved(a) <= CAP);
    arena_release(a, blocks[n / 2]);
    assert_ptr_equal(arena_take(a, 1000, NULL), blocks[n / 2]);
    assert_null(arena_take(a, 2000, NULL)); /* its class has nothing free, and nothing is left to carve */
    for (size_t i = 0; i < n; i++)
        arena_release(a, blocks[i]);
    assert_int_equal(arena_live(a), 0);
    assert_non_null(arena_take(a, 2000, NULL));
    arena_destroy(a);
}

static void test_block_larger_than_a_64th_is_refused(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    assert_non_null(arena_take(a, CAP / 64 - 64, NULL));
    assert_null(arena_take(a, CAP / 64 + 1, NULL));
    assert_null(arena_take(a, SIZE_MAX, NULL));
    arena_destroy(a);
}

/* Random takes and releases in random order: every live block is 8-byte aligned, keeps the
 * pattern written into it, and live bytes are never more than half over what was asked (an
 * eighth for the class, three classes more when a larger free block serves). */
static void test_random_takes_and_releases_keep_every_block_intact(void **state)
{
    (void)state;
    struct arena *a = arena_create(CAP);
    enum { MAX = 4096 };
    static struct {
        unsigned char *p;
        size_t n;
        unsigned char fill;
        unsigned cls;
    } live[MAX];
    size_t n_live = 0, asked = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        int take = n_live == 0 || (n_live < MAX && (seed >> 16) % 100 < 55);
        if (take) {
            size_t n = 1 + (seed >> 8) % ((seed >> 30) ? 1500 : (CAP / 64));
            unsigned cls;
            unsigned char *p = arena_take(a, n, &cls);
            if (!p)
                continue;
            assert_int_equal((uintptr_t)p % 8, 0);
            unsigned char fill = (unsigned char)(step & 0xff);
            memset(p, fill, n);
            live[n_live].p = p;
            live[n_live].n = n;
            live[n_live].fill = fill;
            live[n_live].cls = cls;
            n_live++;
            asked += n;
            assert_true(arena_live(a) <= asked + asked / 2 + 32 * n_live);
            continue;
        }
        size_t i = (seed >> 8) % n_live;
        for (size_t j = 0; j < live[i].n; j++)
            if (live[i].p[j] != live[i].fill)
                fail_msg("block %p lost its bytes at %zu", (void *)live[i].p, j);
        if (step & 1) /* both ways of giving back: by the class the take told, or by the header */
            arena_release_class(a, live[i].p, live[i].cls);
        else
            arena_release(a, live[i].p);
        asked -= live[i].n;
        live[i] = live[--n_live];
    }
    while (n_live > 0) /* every byte taken is given back: the accounting never drifts */
        arena_release(a, live[--n_live].p);
    assert_int_equal(arena_live(a), 0);
    assert_int_equal(arena_carved(a), 0);
    arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_released_block_serves_the_next_of_its_class),
        cmocka_unit_test(test_a_free_block_a_little_larger_serves_before_carving),
        cmocka_unit_test(test_release_by_the_class_take_told),
        cmocka_unit_test(test_empty_arena_starts_over_from_its_front),
        cmocka_unit_test(test_full_arena_refuses_until_a_release),
        cmocka_unit_test(test_block_larger_than_a_64th_is_refused),
        cmocka_unit_test(test_random_takes_and_releases_keep_every_block_intact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
