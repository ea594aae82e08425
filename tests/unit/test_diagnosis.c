/* Unit tests of the diagnosis rules and the log context: each known cause from the probe results
 * and log signals that reveal it, combined faults ranked, a healthy round ruling causes out, and
 * the JSON every 41220 carries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "context.h"
#include "diagnosis.h"

static struct enrich_connector connector = {
    .name = "notes-main",
    .notes_ini = "/mnt/exch01/c/winnt/notes.ini",
    .id_file = "/mnt/exch01/d/notes/data/connector.id",
    .server_host = "notes01.example.com",
    .server_port = 1352,
    .service_user = "exchsvc",
};

/* A round where everything passed. */
static struct probe_report healthy(void)
{
    struct probe_report r;
    memset(&r, 0, sizeof(r));
    r.probed_at_ms = 1764410000123LL;
    r.ini = PROBE_INI_OK;
    snprintf(r.ini_detail, sizeof(r.ini_detail), "notes.ini is there");
    r.key = PROBE_KEY_MATCH;
    snprintf(r.key_value, sizeof(r.key_value), "connector.id");
    r.id_checked = true;
    r.id.status = PROBE_FILE_OK;
    r.server_checked = true;
    r.server.status = PROBE_NET_REACHABLE;
    return r;
}

static json_t *to_json(const struct diagnosis *d)
{
    struct lme_buf out = LME_BUF_INIT;
    assert_int_equal(diagnosis_to_json(d, &out), 0);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(j);
    lme_buf_free(&out);
    return j;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Diagnoses and checks the cause and confidence; returns the JSON (caller frees). */
static json_t *expect(const struct probe_report *r, const struct context_signals *sig,
                      const char *cause, const char *confidence)
{
    struct diagnosis d;
    diagnosis_make(&connector, r, sig, true, &d);
    json_t *j = to_json(&d);
    if (strcmp(str(j, "cause"), cause) != 0)
        fail_msg("cause %s, expected %s (%s)", str(j, "cause"), cause, str(j, "summary"));
    assert_string_equal(str(j, "confidence"), confidence);
    assert_string_equal(str(j, "connector"), "notes-main");
    assert_true(strlen(str(j, "summary")) > 20);
    assert_true(json_array_size(json_object_get(j, "remediation")) >= 1);
    assert_true(json_array_size(json_object_get(j, "references")) >= 1);
    return j;
}

static void test_keyfilename_mismatch(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.key = PROBE_KEY_MISMATCH;
    snprintf(r.key_value, sizeof(r.key_value), "d:\\notes\\data\\admin.id");
    json_t *j = expect(&r, NULL, "keyfilename_mismatch", "high");
    assert_non_null(strstr(str(j, "summary"), "admin.id"));
    /* the fix names the connector's ID file; the article is cited; the time of the round */
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           connector.id_file));
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "references"), 0)), "Q245545");
    assert_string_equal(str(j, "probed_at"), "2025-11-29T09:53:20.123Z");
    assert_int_equal(json_array_size(json_object_get(j, "candidates")), 0);
    /* every probe is evidence, the failing one included */
    json_t *ev = json_object_get(j, "evidence");
    assert_int_equal(json_array_size(ev), 4);
    assert_string_equal(str(json_array_get(ev, 1), "check"), "keyfilename");
    assert_string_equal(str(json_array_get(ev, 1), "result"), "mismatch");
    json_decref(j);

    r.key = PROBE_KEY_NO_LINE;
    json_decref(expect(&r, NULL, "keyfilename_mismatch", "high"));
}

static void test_each_probe_fault(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.ini = PROBE_INI_MISSING;
    r.key = PROBE_KEY_NOT_CHECKED;
    json_decref(expect(&r, NULL, "notes_ini_missing", "high"));
    r.ini = PROBE_INI_NOT_FILE;
    json_decref(expect(&r, NULL, "notes_ini_missing", "high"));

    r = healthy();
    r.id.status = PROBE_FILE_MISSING;
    json_decref(expect(&r, NULL, "id_file_missing", "high"));
    r.id.status = PROBE_FILE_EMPTY;
    json_decref(expect(&r, NULL, "id_file_missing", "high"));
    r.id.status = PROBE_FILE_UNREADABLE;
    json_decref(expect(&r, NULL, "id_file_unreadable", "high"));

    r = healthy();
    r.server.status = PROBE_NET_UNRESOLVABLE;
    json_decref(expect(&r, NULL, "notes_server_unresolvable", "high"));
    r.server.status = PROBE_NET_REFUSED;
    json_decref(expect(&r, NULL, "notes_server_unreachable", "high"));
    r.server.status = PROBE_NET_TIMEOUT;
    json_t *j = expect(&r, NULL, "notes_server_unreachable", "high");
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           "notes01.example.com, port 1352"));
    json_decref(j);
}

static void test_log_signals(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    struct context_signals sig = { .lock_timeout = true };
    json_decref(expect(&r, &sig, "notes_api_lock_timeout", "high"));
    json_decref(expect(NULL, &sig, "notes_api_lock_timeout", "high")); /* no probes needed */

    struct context_signals nf = { .mailbox_not_found = true };
    json_t *j = expect(&r, &nf, "mail_router_mailbox_not_found", "medium");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "references"), 0)), "Q293227");
    json_decref(j);

    /* 64210 while the server answers now: a passing outage, medium */
    struct context_signals cf = { .connect_failure = true, .mail_system_failure = true };
    snprintf(cf.server, sizeof(cf.server), "SERVERNAME/NOTESWAY");
    j = expect(&r, &cf, "notes_server_unreachable", "medium");
    assert_non_null(strstr(str(j, "summary"), "SERVERNAME/NOTESWAY"));
    json_decref(j);
    /* 64210 and the server refuses now: high */
    r.server.status = PROBE_NET_REFUSED;
    json_decref(expect(&r, &cf, "notes_server_unreachable", "high"));
}

static void test_combined_faults_are_all_reported_most_likely_first(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.key = PROBE_KEY_MISMATCH;
    r.server.status = PROBE_NET_REFUSED;
    r.id.status = PROBE_FILE_UNREADABLE;
    json_t *j = expect(&r, NULL, "keyfilename_mismatch", "high");
    json_t *cands = json_object_get(j, "candidates");
    assert_int_equal(json_array_size(cands), 2);
    assert_string_equal(str(json_array_get(cands, 0), "cause"), "id_file_unreadable");
    assert_string_equal(str(json_array_get(cands, 1), "cause"), "notes_server_unreachable");
    assert_string_equal(str(json_array_get(cands, 1), "confidence"), "high");
    json_decref(j);

    /* a lock timeout in the log beside a config fault: the config fault first, both reported */
    struct context_signals sig = { .lock_timeout = true };
    r = healthy();
    r.ini = PROBE_INI_MISSING;
    r.key = PROBE_KEY_NOT_CHECKED;
    j = expect(&r, &sig, "notes_ini_missing", "high");
    assert_string_equal(str(json_array_get(json_object_get(j, "candidates"), 0), "cause"),
                        "notes_api_lock_timeout");
    json_decref(j);
}

static void test_healthy_round_is_unknown_with_what_was_ruled_out(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    json_t *j = expect(&r, NULL, "unknown", "low");
    json_t *ev = json_object_get(j, "evidence");
    assert_int_equal(json_array_size(ev), 4);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(str(json_array_get(ev, i), "result"), "ok");
    assert_string_equal(str(json_array_get(ev, 3), "result"), "reachable");
    assert_int_equal(json_array_size(json_object_get(j, "candidates")), 0);
    json_decref(j);

    /* `diagnose`: a healthy round is no fault at all */
    struct diagnosis d;
    diagnosis_make(&connector, &r, NULL, false, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_NONE);
    r.server.status = PROBE_NET_REFUSED;
    diagnosis_make(&connector, &r, NULL, false, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_NOTES_SERVER_UNREACHABLE);
    struct lme_buf text = LME_BUF_INIT;
    assert_int_equal(diagnosis_to_text(&d, &text), 0);
    assert_int_equal(lme_buf_append(&text, "", 1), 0);
    assert_non_null(strstr(text.data, "connector notes-main: notes_server_unreachable (high confidence)"));
    assert_non_null(strstr(text.data, "fix:"));
    lme_buf_free(&text);
}

static void test_without_probes_every_config_cause_stays_possible(void **state)
{
    (void)state;
    struct context_signals cf = { .connect_failure = true, .mail_system_failure = true };
    struct diagnosis d;
    /* no connector for the input: only what the log points at */
    diagnosis_make(NULL, NULL, &cf, true, &d);
    json_t *j = to_json(&d);
    assert_string_equal(str(j, "cause"), "unknown");
    assert_non_null(strstr(str(j, "summary"), "No connector"));
    assert_int_equal(json_array_size(json_object_get(j, "candidates")), 2);
    json_decref(j);
    /* a connector whose round came too late: every configuration cause stays possible */
    diagnosis_make(&connector, NULL, &cf, true, &d);
    j = to_json(&d);
    assert_string_equal(str(j, "cause"), "unknown");
    json_t *cands = json_object_get(j, "candidates");
    assert_true(json_array_size(cands) >= 6);
    /* the two a 64210 points at come first */
    const char *first = str(json_array_get(cands, 0), "cause");
    const char *second = str(json_array_get(cands, 1), "cause");
    assert_true((strcmp(first, "notes_ini_missing") == 0 && strcmp(second, "notes_server_unreachable") == 0) ||
                (strcmp(first, "notes_server_unreachable") == 0 && strcmp(second, "notes_ini_missing") == 0));
    assert_null(json_object_get(j, "probed_at"));
    json_decref(j);
}

/* Log text is any bytes (a Windows code page): the diagnosis stays valid JSON. */
static void test_log_text_that_is_not_utf8(void **state)
{
    (void)state;
    struct context_signals sig = { .lock_timeout = true, .n_seen = 1 };
    snprintf(sig.seen[0].code, sizeof(sig.seen[0].code), "01211");
    snprintf(sig.seen[0].text, sizeof(sig.seen[0].text), "Unable to lock \"caf\xe9\"\x01");
    json_t *j = expect(NULL, &sig, "notes_api_lock_timeout", "high");
    const char *detail = str(json_array_get(json_object_get(j, "evidence"), 0), "detail");
    assert_string_equal(detail, "01211: Unable to lock \"caf\xc3\xa9\"\x01");
    json_decref(j);
}

static struct lme_event event(const char *component, const char *code, const char *status,
                              const char *message, int64_t time_ms)
{
    struct lme_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.host = (struct lme_str){ "exch01", 6 };
    ev.component = (struct lme_str){ component, strlen(component) };
    ev.code = (struct lme_str){ code, strlen(code) };
    ev.error_type = (struct lme_str){ status, strlen(status) };
    ev.message = (struct lme_str){ message, strlen(message) };
    ev.time_ms = time_ms;
    return ev;
}

/* The Q197509 and Q320032 sequences, as the parser gives them. */
static void test_context_reads_the_records_before_a_41220(void **state)
{
    (void)state;
    struct lme_err err;
    struct context *c = context_create(16, 60000, &err);
    assert_non_null(c);
    struct lme_event seq[] = {
        event("LME-NOTES-MEXNTS", "41207", "", "Successfully Initialized Notes Interface", 1000),
        event("LME-NOTES-MEXNTS", "01211", "Timeout on resource lock",
              "Error {Timeout on resource lock}: Unable to lock the LME-NOTESOPEN shared memory object", 2000),
        event("LME-NOTES-MEXNTS", "00510", "", "Error (Timeout on resource lock}: The application failed to initialize.", 2000),
        event("LME-NOTES-NTSMEX", "64210", "", "Unable to connect to to the Notes Server SERVERNAME/NOTESWAY.", 2000),
    };
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        assert_int_equal(context_observe(c, &seq[i]), 0);

    struct lme_event e41220 = event("LME-NOTES-MEXNTS", "41220", "", "Error: no Notes Session Open", 2000);
    struct context_signals sig;
    context_signals(c, &e41220, &sig);
    assert_true(sig.lock_timeout);
    assert_false(sig.connect_failure); /* another process's record */
    assert_int_equal(sig.n_seen, 2);
    assert_string_equal(sig.seen[0].code, "01211");

    struct lme_event other = event("LME-NOTES-NTSMEX", "41220", "", "Error: no Notes Session Open", 2500);
    context_signals(c, &other, &sig);
    assert_true(sig.connect_failure);
    assert_false(sig.lock_timeout);
    assert_string_equal(sig.server, "SERVERNAME/NOTESWAY");

    /* too old to count */
    struct lme_event later = event("LME-NOTES-MEXNTS", "41220", "", "x", 2000 + 60001);
    context_signals(c, &later, &sig);
    assert_int_equal(sig.n_seen, 0);
    context_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyfilename_mismatch),
        cmocka_unit_test(test_each_probe_fault),
        cmocka_unit_test(test_log_signals),
        cmocka_unit_test(test_combined_faults_are_all_reported_most_likely_first),
        cmocka_unit_test(test_healthy_round_is_unknown_with_what_was_ruled_out),
        cmocka_unit_test(test_without_probes_every_config_cause_stays_possible),
        cmocka_unit_test(test_context_reads_the_records_before_a_41220),
        cmocka_unit_test(test_log_text_that_is_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
