/* Unit tests of the header lists (sinks/kafka_headers.c): a list carries lme.schema_version and
 * the event.code it was asked for; one given back serves the next message of the same code and
 * never one of another; lists are built in batches, within the idle limit; beyond the idle limit
 * or the table's codes lists are built each time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "event.h"
#include "kafka_headers.h"

static void assert_header(rd_kafka_headers_t *h, const char *name, const char *want)
{
    const void *v;
    size_t size;
    if (!want) {
        assert_int_equal(rd_kafka_header_get_last(h, name, &v, &size), RD_KAFKA_RESP_ERR__NOENT);
        return;
    }
    assert_int_equal(rd_kafka_header_get_last(h, name, &v, &size), 0);
    assert_int_equal(size, strlen(want));
    assert_memory_equal(v, want, size);
}

static void test_list_carries_the_schema_version_and_the_code(void **state)
{
    (void)state;
    struct kafka_headers *kh = kafka_headers_create(16);
    char version[2] = { '0' + LME_SCHEMA_VERSION, 0 };
    rd_kafka_headers_t *with = kafka_headers_get(kh, "41220"), *without = kafka_headers_get(kh, "");
    assert_header(with, "lme.schema_version", version);
    assert_header(with, "event.code", "41220");
    assert_int_equal(rd_kafka_header_cnt(with), 2);
    assert_header(without, "lme.schema_version", version);
    assert_header(without, "event.code", NULL);
    assert_int_equal(rd_kafka_header_cnt(without), 1);
    kafka_headers_put(kh, with, "41220");
    kafka_headers_put(kh, without, "");
    kafka_headers_destroy(kh);
}

static void test_list_given_back_serves_only_its_own_code(void **state)
{
    (void)state;
    struct kafka_headers *kh = kafka_headers_create(16);
    rd_kafka_headers_t *a = kafka_headers_get(kh, "41220");
    kafka_headers_put(kh, a, "41220");
    rd_kafka_headers_t *b = kafka_headers_get(kh, "04108");
    assert_ptr_not_equal(b, a);
    assert_header(b, "event.code", "04108");
    rd_kafka_headers_t *none = kafka_headers_get(kh, "");
    assert_ptr_not_equal(none, a);
    assert_header(none, "event.code", NULL);
    assert_ptr_equal(kafka_headers_get(kh, "41220"), a); /* the last given back comes first */
    assert_header(a, "event.code", "41220");
    kafka_headers_put(kh, a, "41220");
    kafka_headers_put(kh, b, "04108");
    kafka_headers_put(kh, none, "");
    kafka_headers_destroy(kh);
}

/* The first list of a code comes with seven more built beside it, idle: the next seven cost
 * nothing; then batches grow with what the code used. */
static void test_lists_are_built_in_batches(void **state)
{
    (void)state;
    struct kafka_headers *kh = kafka_headers_create(1000);
    rd_kafka_headers_t *h[40];
    h[0] = kafka_headers_get(kh, "00505");
    assert_int_equal(kafka_headers_built(kh), 8);
    for (int i = 1; i < 8; i++)
        h[i] = kafka_headers_get(kh, "00505");
    assert_int_equal(kafka_headers_built(kh), 8);
    h[8] = kafka_headers_get(kh, "00505"); /* a batch of as many as it had: 8 */
    assert_int_equal(kafka_headers_built(kh), 16);
    for (int i = 9; i < 40; i++)
        h[i] = kafka_headers_get(kh, "00505");
    assert_int_equal(kafka_headers_built(kh), 64); /* 8 + 8 + 16 + 32 */
    for (int i = 0; i < 40; i++) {
        assert_header(h[i], "event.code", "00505");
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(h[i], h[j]);
        kafka_headers_put(kh, h[i], "00505");
    }
    kafka_headers_destroy(kh);
}

static void test_idle_limit_destroys_what_is_beyond(void **state)
{
    (void)state;
    struct kafka_headers *kh = kafka_headers_create(2);
    rd_kafka_headers_t *h[3];
    for (int i = 0; i < 3; i++)
        h[i] = kafka_headers_get(kh, "00505");
    assert_int_equal(kafka_headers_built(kh), 3); /* a batch, but no more idle than 2 */
    for (int i = 0; i < 3; i++)
        kafka_headers_put(kh, h[i], "00505"); /* the third is destroyed (valgrind/ASan: no leak) */
    for (int i = 0; i < 2; i++)
        h[i] = kafka_headers_get(kh, "00505");
    assert_int_equal(kafka_headers_built(kh), 3); /* two came back idle */
    h[2] = kafka_headers_get(kh, "00505");
    assert_true(kafka_headers_built(kh) > 3); /* the third was built again */
    for (int i = 0; i < 3; i++)
        kafka_headers_put(kh, h[i], "00505");
    kafka_headers_destroy(kh);
}

static void test_codes_beyond_the_table_are_built_each_time(void **state)
{
    (void)state;
    struct kafka_headers *kh = kafka_headers_create(100000);
    char code[6];
    for (int i = 0; i < 2000; i++) { /* more codes than the table keeps */
        snprintf(code, sizeof(code), "%05d", i);
        kafka_headers_put(kh, kafka_headers_get(kh, code), code);
    }
    size_t built = kafka_headers_built(kh);
    assert_true(built > 2000);
    for (int i = 0; i < 2000; i++) {
        snprintf(code, sizeof(code), "%05d", i);
        rd_kafka_headers_t *h = kafka_headers_get(kh, code);
        assert_header(h, "event.code", code);
        kafka_headers_put(kh, h, code);
    }
    size_t rebuilt = kafka_headers_built(kh) - built;
    assert_true(rebuilt > 0 && rebuilt < 2000); /* the codes kept were reused, the rest built */
    kafka_headers_destroy(kh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_carries_the_schema_version_and_the_code),
        cmocka_unit_test(test_list_given_back_serves_only_its_own_code),
        cmocka_unit_test(test_lists_are_built_in_batches),
        cmocka_unit_test(test_idle_limit_destroys_what_is_beyond),
        cmocka_unit_test(test_codes_beyond_the_table_are_built_each_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
