/* Unit tests of the outbox of incident events: an entry stays until its last settlement, also
 * when a sink settles inside its send; tokens are the outbox's own; what is saved reads back as
 * the same event (log bytes that are not UTF-8 included); saved entries whose texts would go into
 * events broken are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "outbox.h"

#define ID "0123456789abcdef0123456789abcdef"

static struct lme_event incident_event(void)
{
    static const char host[] = "exch\xe9" "01", incident[] = "{\"id\":\"" ID "\"}";
    return (struct lme_event){ .host = { host, strlen(host) }, .component = { "MEXNTS", 6 },
                               .message = { "no session", 10 }, .incident = { incident, strlen(incident) },
                               .diagnosis = { "{\"cause\":\"unknown\"}", 19 }, .given_id = ID,
                               .alert_type = "start", .flags = LME_EV_INCIDENT, .time_ms = 1000,
                               .created_ms = 2000, .severity = 1, .thread_id = -1, .origin_line = -1 };
}

static void test_an_entry_stays_until_its_last_settlement(void **state)
{
    (void)state;
    struct outbox ob = { 0 };
    struct lme_event ev = incident_event();
    struct outbox_entry *a = outbox_add(&ob, &ev), *b = outbox_add(&ob, &ev);
    assert_true(outbox_owns(a->token) && outbox_owns(b->token) && a->token != b->token);
    assert_false(outbox_owns(42)); /* commit's */
    /* a: the file sink settles inside send, then Kafka takes two copies */
    assert_false(outbox_settle(&ob, a->token));
    uint64_t a_token = a->token;
    outbox_sent(&ob, a, 3);
    assert_int_equal(ob.n, 2);
    assert_false(outbox_settle(&ob, a_token));
    assert_true(outbox_settle(&ob, a_token));
    assert_int_equal(ob.n, 1);
    assert_false(outbox_settle(&ob, a_token)); /* a stray one: nothing */
    /* b: every copy settled inside send: it goes at outbox_sent */
    uint64_t b_token = b->token;
    assert_false(outbox_settle(&ob, b_token));
    outbox_sent(&ob, b, 1);
    assert_int_equal(ob.n, 0);
    outbox_free(&ob);
}

/* Many entries settled in random order (acknowledgements come out of order across partitions):
 * each goes at its own last settlement and no other, and a save, taken between settlements and
 * again after more of them, lists exactly those left, in the order added. */
static void test_entries_settled_out_of_order_leave_the_rest_intact(void **state)
{
    (void)state;
    enum { N = 300 };
    struct outbox ob = { 0 };
    uint64_t tokens[N];
    char ids[N][33];
    int due[N];
    for (int i = 0; i < N; i++) {
        struct lme_event ev = incident_event();
        snprintf(ids[i], sizeof(ids[i]), "%032x", i);
        ev.given_id = ids[i];
        struct outbox_entry *e = outbox_add(&ob, &ev);
        assert_non_null(e);
        tokens[i] = e->token;
        due[i] = 1 + i % 3;
        outbox_sent(&ob, e, due[i]);
    }
    unsigned seed = 7;
    for (int left = N, round = 0; left > 0; round++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % N);
        if (due[i] == 0) {
            assert_false(outbox_settle(&ob, tokens[i])); /* a stray one: nothing */
            continue;
        }
        bool last = --due[i] == 0;
        assert_int_equal(outbox_settle(&ob, tokens[i]), last);
        left -= last;
        assert_int_equal(ob.n, (size_t)left);
        if (round % 97 != 0)
            continue;
        for (int pass = 0; pass < 2; pass++) { /* the second from the entries' kept texts */
            struct lme_buf text = LME_BUF_INIT;
            assert_int_equal(outbox_save(&ob, &text), 0);
            json_t *saved = json_loadb(text.data, text.len, 0, NULL);
            assert_non_null(saved);
            size_t k = 0;
            for (int j = 0; j < N; j++) {
                if (due[j] == 0)
                    continue;
                assert_string_equal(json_string_value(json_object_get(json_array_get(saved, k), "id")),
                                    ids[j]);
                k++;
            }
            assert_int_equal(json_array_size(saved), k);
            json_decref(saved);
            lme_buf_free(&text);
        }
    }
    outbox_free(&ob);
}

static void test_what_is_saved_reads_back_as_the_same_event(void **state)
{
    (void)state;
    struct outbox ob = { 0 };
    struct lme_event ev = incident_event();
    assert_non_null(outbox_add(&ob, &ev));
    struct lme_buf text = LME_BUF_INIT;
    assert_int_equal(outbox_save(&ob, &text), 0);
    json_t *saved = json_loadb(text.data, text.len, 0, NULL);
    assert_true(json_is_array(saved));
    struct lme_buf raw = LME_BUF_INIT;
    struct lme_event back;
    assert_int_equal(outbox_saved_event(json_array_get(saved, 0), &raw, &back), 0);
    assert_int_equal(back.host.len, ev.host.len);
    assert_memory_equal(back.host.ptr, ev.host.ptr, ev.host.len);
    assert_memory_equal(back.message.ptr, "no session", 10);
    assert_memory_equal(back.incident.ptr, ev.incident.ptr, ev.incident.len);
    assert_string_equal(back.given_id, ID);
    assert_string_equal(back.alert_type, "start");
    assert_int_equal(back.time_ms, 1000);
    assert_int_equal(back.created_ms, 2000);
    assert_int_equal(back.flags, LME_EV_INCIDENT);
    json_decref(saved);
    lme_buf_free(&raw);
    lme_buf_free(&text);
    outbox_free(&ob);
}

static void test_broken_entries_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{}",
        "{\"id\":\"xyz\",\"type\":\"start\",\"diagnosis\":\"\",\"incident\":\"{}\"}",
        "{\"id\":\"" ID "\",\"type\":\"begin\",\"diagnosis\":\"\",\"incident\":\"{}\"}",
        "{\"id\":\"" ID "\",\"type\":\"start\",\"diagnosis\":\"}{\",\"incident\":\"{}\"}",
        "{\"id\":\"" ID "\",\"type\":\"start\",\"diagnosis\":\"\",\"incident\":\"\"}",
        "{\"id\":\"" ID "\",\"type\":\"start\",\"diagnosis\":\"\",\"incident\":\"{}\",\"host_hex\":\"zz\","
        "\"component_hex\":\"\",\"message_hex\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *e = json_loads(bad[i], 0, NULL);
        assert_non_null(e);
        struct lme_buf raw = LME_BUF_INIT;
        struct lme_event ev;
        assert_int_equal(outbox_saved_event(e, &raw, &ev), LME_EINVAL);
        lme_buf_free(&raw);
        json_decref(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_entry_stays_until_its_last_settlement),
        cmocka_unit_test(test_entries_settled_out_of_order_leave_the_rest_intact),
        cmocka_unit_test(test_what_is_saved_reads_back_as_the_same_event),
        cmocka_unit_test(test_broken_entries_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
