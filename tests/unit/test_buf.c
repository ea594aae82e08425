/* Unit tests of struct lme_buf (ingest/core/buf.h): append/reserve/grow keep the content across
 * every growth, reset keeps the memory, free is NULL-safe, and sizes that cannot fit are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

/* The byte at position i of the pattern the tests append: never 0, so a stray zero shows. */
static unsigned char pattern(size_t i)
{
    return (unsigned char)(1 + (i * 131 + i / 251) % 255);
}

static void assert_pattern(const struct lme_buf *b, size_t len)
{
    assert_int_equal(b->len, len);
    assert_true(b->cap >= b->len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)b->data[i] != pattern(i))
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, (unsigned char)b->data[i], pattern(i));
}

static void test_initialised_buffer_is_empty_and_owns_no_memory(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    lme_buf_free(&b);
}

static void test_append_of_every_size_up_to_1000_keeps_all_previous_content(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    unsigned char chunk[1000];
    size_t total = 0;
    for (size_t n = 0; n <= sizeof(chunk); n++) {
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(total + i);
        assert_int_equal(lme_buf_append(&b, chunk, n), 0);
        total += n;
        assert_pattern(&b, total);
    }
    assert_int_equal(total, 1000 * 1001 / 2);
    lme_buf_free(&b);
}

static void test_byte_at_a_time_append_grows_through_many_capacities(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    size_t growths = 0, last_cap = 0;
    for (size_t i = 0; i < 100000; i++) {
        unsigned char c = pattern(i);
        assert_int_equal(lme_buf_append(&b, &c, 1), 0);
        if (b.cap != last_cap) {
            assert_true(b.cap > last_cap);
            growths++;
            last_cap = b.cap;
        }
    }
    assert_pattern(&b, 100000);
    assert_true(growths >= 2);
    /* Growth is geometric, not one allocation per append. */
    assert_true(growths < 40);
    lme_buf_free(&b);
}

static void test_reserve_makes_room_without_changing_len_or_content(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 7, 255, 256, 257, 1000, 4096, 65537, 1u << 20 };
    struct lme_buf b = LME_BUF_INIT;
    size_t len = 0;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        assert_int_equal(lme_buf_reserve(&b, sizes[k]), 0);
        assert_true(b.cap - b.len >= sizes[k]);
        assert_pattern(&b, len);
        /* The reserved room is writable (AddressSanitizer checks the last byte). */
        if (sizes[k]) {
            b.data[b.len + sizes[k] - 1] = 'x';
            b.data[b.len] = 'y';
        }
        /* Then fill some of it through the public interface. */
        unsigned char c = pattern(len);
        assert_int_equal(lme_buf_append(&b, &c, 1), 0);
        len++;
        assert_pattern(&b, len);
    }
    lme_buf_free(&b);
}

static void test_reserve_within_capacity_does_not_reallocate(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_reserve(&b, 100), 0);
    char *data = b.data;
    size_t cap = b.cap;
    assert_int_equal(lme_buf_reserve(&b, cap), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    for (size_t i = 0; i < cap; i++) {
        unsigned char c = pattern(i);
        assert_int_equal(lme_buf_append(&b, &c, 1), 0);
    }
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_pattern(&b, cap);
    lme_buf_free(&b);
}

static void test_grow_reaches_the_needed_size_and_keeps_content(void **state)
{
    (void)state;
    static const size_t needs[] = { 1, 255, 256, 257, 511, 512, 513, 100000, 3000001 };
    struct lme_buf b = LME_BUF_INIT;
    unsigned char head[64];
    for (size_t i = 0; i < sizeof(head); i++)
        head[i] = pattern(i);
    assert_int_equal(lme_buf_append(&b, head, sizeof(head)), 0);
    for (size_t k = 0; k < sizeof(needs) / sizeof(needs[0]); k++) {
        size_t before = b.cap;
        assert_int_equal(lme_buf_grow(&b, needs[k]), 0);
        assert_true(b.cap >= needs[k]);
        assert_true(b.cap >= before); /* never shrinks */
        assert_pattern(&b, sizeof(head));
        b.data[b.cap - 1] = 'z'; /* the whole capacity is writable */
    }
    lme_buf_free(&b);
}

static void test_grow_refuses_a_size_that_cannot_be_allocated_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_append_str(&b, "keep me"), 0);
    char *data = b.data;
    size_t cap = b.cap;
    assert_int_equal(lme_buf_grow(&b, SIZE_MAX), LME_ENOMEM);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "keep me", 7);
    lme_buf_free(&b);
}

/* len + extra must not wrap around: a reserve that cannot be satisfied fails instead of
 * reporting room the buffer does not have. */
static void test_reserve_whose_total_overflows_size_t_fails_with_enomem(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_append_str(&b, "0123456789"), 0);
    char *data = b.data;
    size_t cap = b.cap;
    int rc = lme_buf_reserve(&b, SIZE_MAX - 4); /* len + extra wraps to 5 */
    if (rc == 0)
        assert_true(b.cap - b.len >= SIZE_MAX - 4); /* only true if it really made the room */
    assert_int_equal(rc, LME_ENOMEM);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "0123456789", 10);
    lme_buf_free(&b);
}

static void test_reset_empties_but_keeps_memory_and_capacity(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    unsigned char chunk[3000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = pattern(i);
    assert_int_equal(lme_buf_append(&b, chunk, sizeof(chunk)), 0);
    char *data = b.data;
    size_t cap = b.cap;
    lme_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    /* Refilling up to the old size reuses the same memory. */
    assert_int_equal(lme_buf_append(&b, chunk, sizeof(chunk)), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_pattern(&b, sizeof(chunk));
    lme_buf_free(&b);
}

static void test_reset_of_an_empty_buffer_is_harmless(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    lme_buf_reset(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
}

static void test_free_releases_and_leaves_an_empty_reusable_buffer(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    lme_buf_free(&b); /* never allocated */
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);

    assert_int_equal(lme_buf_append_str(&b, "hello"), 0);
    lme_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    lme_buf_free(&b); /* twice is fine: it is empty now */
    assert_null(b.data);

    assert_int_equal(lme_buf_append_str(&b, "again"), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "again", 5);
    lme_buf_free(&b);
}

static void test_append_str_appends_the_characters_without_the_nul(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_append_str(&b, "abc"), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(lme_buf_append_str(&b, ""), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(lme_buf_append_str(&b, "d\xc3\xa9" "f"), 0);
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.data, "abcd\xc3\xa9" "f", 7);
    lme_buf_free(&b);
}

static void test_append_of_zero_bytes_to_an_unallocated_buffer_is_a_noop(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_append(&b, "x", 0), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(lme_buf_append_str(&b, ""), 0);
    assert_int_equal(b.len, 0);
    lme_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initialised_buffer_is_empty_and_owns_no_memory),
        cmocka_unit_test(test_append_of_every_size_up_to_1000_keeps_all_previous_content),
        cmocka_unit_test(test_byte_at_a_time_append_grows_through_many_capacities),
        cmocka_unit_test(test_reserve_makes_room_without_changing_len_or_content),
        cmocka_unit_test(test_reserve_within_capacity_does_not_reallocate),
        cmocka_unit_test(test_grow_reaches_the_needed_size_and_keeps_content),
        cmocka_unit_test(test_grow_refuses_a_size_that_cannot_be_allocated_and_leaves_buffer_unchanged),
        cmocka_unit_test(test_reserve_whose_total_overflows_size_t_fails_with_enomem),
        cmocka_unit_test(test_reset_empties_but_keeps_memory_and_capacity),
        cmocka_unit_test(test_reset_of_an_empty_buffer_is_harmless),
        cmocka_unit_test(test_free_releases_and_leaves_an_empty_reusable_buffer),
        cmocka_unit_test(test_append_str_appends_the_characters_without_the_nul),
        cmocka_unit_test(test_append_of_zero_bytes_to_an_unallocated_buffer_is_a_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
