/* Unit tests of the diagnosis rules and the log context: each known cause from the probe results
 * and log signals that reveal it, combined faults ranked, a healthy round ruling causes out, what
 * could not be checked (unverified, never none), a share the collector cannot see, the server
 * seen from the collector, the connector's Windows names, old events, and the JSON every 41220
 * carries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
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

#define ID_WIN "D:\\notes\\data\\connector.id"
#define INI_WIN "C:\\WINNT\\Notes.ini"

/* A round where everything passed; the files' Windows names known through path_map. */
static struct probe_report healthy(void)
{
    struct probe_report r;
    memset(&r, 0, sizeof(r));
    r.probed_at_ms = 1764410000123LL;
    snprintf(r.collector, sizeof(r.collector), "collector01");
    r.ini = PROBE_INI_OK;
    snprintf(r.ini_name, sizeof(r.ini_name), INI_WIN);
    snprintf(r.ini_detail, sizeof(r.ini_detail), "notes.ini is there");
    r.key = PROBE_KEY_MATCH;
    snprintf(r.key_value, sizeof(r.key_value), "connector.id");
    r.id_checked = true;
    r.id.status = PROBE_FILE_OK;
    snprintf(r.id_name, sizeof(r.id_name), ID_WIN);
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
    diagnosis_make(&connector, r, sig, NULL, true, &d);
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
    /* summary and fix speak the connector's language: its Windows paths, not the collector's */
    assert_non_null(strstr(str(j, "summary"), ID_WIN));
    assert_non_null(strstr(str(j, "summary"), INI_WIN));
    assert_null(strstr(str(j, "summary"), connector.id_file));
    const char *fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(fix, ID_WIN));
    assert_non_null(strstr(fix, INI_WIN));
    assert_null(strstr(fix, "/mnt/"));
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

    /* the file's Windows path unknown (no path_map entry holds it): the collector's, said so */
    r = healthy();
    r.id.status = PROBE_FILE_MISSING;
    r.id_name[0] = '\0';
    json_t *j = expect(&r, NULL, "id_file_missing", "high");
    assert_non_null(strstr(str(j, "summary"), "/mnt/exch01/d/notes/data/connector.id (its path on this collector)"));
    json_decref(j);

    /* the server is probed from this collector: medium on its own (see test_server_check_...) */
    r = healthy();
    r.server.status = PROBE_NET_UNRESOLVABLE;
    json_decref(expect(&r, NULL, "notes_server_unresolvable", "medium"));
    r.server.status = PROBE_NET_REFUSED;
    json_decref(expect(&r, NULL, "notes_server_unreachable", "medium"));
    r.server.status = PROBE_NET_TIMEOUT;
    j = expect(&r, NULL, "notes_server_unreachable", "medium");
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           "notes01.example.com, port 1352"));
    json_decref(j);
}

/* The server check is made from the collector: it says so, and it is high confidence only when
 * the connector's log agrees (a 64210 just before). */
static void test_server_check_is_the_collectors_view(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.server.status = PROBE_NET_REFUSED;
    snprintf(r.server.detail, sizeof(r.server.detail), "notes01.example.com:1352 refused the connection");
    json_t *j = expect(&r, NULL, "notes_server_unreachable", "medium");
    assert_non_null(strstr(str(j, "summary"), "from this collector (collector01)"));
    assert_non_null(strstr(str(j, "summary"), "whether the connector machine reaches it was not seen"));
    const char *fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_null(strstr(fix, "Restore the connection from the connector machine"));
    assert_non_null(strstr(fix, "From the connector machine, check"));
    json_t *ev = json_array_get(json_object_get(j, "evidence"), 3);
    assert_string_equal(str(ev, "check"), "notes_server");
    assert_non_null(strstr(str(ev, "detail"), "from this collector (collector01): notes01"));
    json_decref(j);

    struct context_signals cf = { .connect_failure = true };
    j = expect(&r, &cf, "notes_server_unreachable", "high");
    fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(fix, "Restore the connection from the connector machine"));
    json_decref(j);
    r.server.status = PROBE_NET_UNRESOLVABLE;
    json_decref(expect(&r, &cf, "notes_server_unresolvable", "high"));
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
    assert_string_equal(str(json_array_get(cands, 1), "confidence"), "medium");
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
    diagnosis_make(&connector, &r, NULL, NULL, false, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_NONE);
    assert_non_null(strstr(d.findings[0].summary, "notes_ini, keyfilename, id_file, notes_server"));
    r.server.status = PROBE_NET_REFUSED;
    diagnosis_make(&connector, &r, NULL, NULL, false, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_NOTES_SERVER_UNREACHABLE);
    struct lme_buf text = LME_BUF_INIT;
    assert_int_equal(diagnosis_to_text(&d, &text), 0);
    assert_int_equal(lme_buf_append(&text, "", 1), 0);
    assert_non_null(strstr(text.data, "connector notes-main: notes_server_unreachable (medium confidence)"));
    assert_non_null(strstr(text.data, "fix:"));
    lme_buf_free(&text);
}

static void test_without_probes_every_config_cause_stays_possible(void **state)
{
    (void)state;
    struct context_signals cf = { .connect_failure = true, .mail_system_failure = true };
    struct diagnosis d;
    /* no connector for the input: only what the log points at */
    diagnosis_make(NULL, NULL, &cf, NULL, true, &d);
    json_t *j = to_json(&d);
    assert_string_equal(str(j, "cause"), "unknown");
    assert_non_null(strstr(str(j, "summary"), "No connector"));
    assert_int_equal(json_array_size(json_object_get(j, "candidates")), 2);
    json_decref(j);
    /* a connector whose round came too late: every configuration cause stays possible */
    diagnosis_make(&connector, NULL, &cf, NULL, true, &d);
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

/* The evidence entry for check, or NULL. */
static json_t *evidence_of(json_t *j, const char *check)
{
    json_t *ev;
    size_t i;
    json_array_foreach(json_object_get(j, "evidence"), i, ev)
        if (strcmp(str(ev, "check"), check) == 0)
            return ev;
    return NULL;
}

static bool has_candidate(json_t *j, const char *cause)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(j, "candidates"), i, c)
        if (strcmp(str(c, "cause"), cause) == 0)
            return true;
    return false;
}

static enum diagnosis_cause diagnose_cause(const struct probe_report *r)
{
    struct diagnosis d;
    diagnosis_make(&connector, r, NULL, NULL, false, &d);
    return diagnosis_cause(&d);
}

/* A check that could not be made says why; with nothing failed the cause is unverified (low),
 * for an event and for `diagnose` alike, never none. */
static void test_what_could_not_be_checked_is_unverified_never_none(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.key = PROBE_KEY_UNVERIFIED;
    r.key_why = PROBE_WHY_UNMAPPED_PATH;
    snprintf(r.key_value, sizeof(r.key_value), "\\\\fileserver\\ids\\connector.id");
    snprintf(r.key_name, sizeof(r.key_name), "\\\\fileserver\\ids\\connector.id");
    json_t *j = expect(&r, NULL, "unverified", "low");
    json_t *ev = evidence_of(j, "keyfilename");
    assert_string_equal(str(ev, "result"), "unverified");
    assert_string_equal(str(ev, "reason"), "unmapped_path");
    assert_null(json_object_get(evidence_of(j, "notes_ini"), "reason")); /* only with unverified */
    assert_non_null(strstr(str(j, "summary"), "keyfilename (unmapped_path)"));
    assert_true(has_candidate(j, "keyfilename_mismatch"));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           "path_map entry"));
    json_decref(j);
    assert_int_equal(diagnose_cause(&r), CAUSE_UNVERIFIED);

    static const enum probe_why id_whys[] = { PROBE_WHY_UNKNOWN_ACCOUNT, PROBE_WHY_NO_ACCOUNT,
                                              PROBE_WHY_NETWORK_FS, PROBE_WHY_OUTSIDE_MAPPING };
    static const char *const names[] = { "unknown_account", "no_account", "network_fs", "outside_mapping" };
    for (size_t i = 0; i < 4; i++) {
        r = healthy();
        r.id_why = id_whys[i];
        j = expect(&r, NULL, "unverified", "low");
        assert_string_equal(str(evidence_of(j, "id_file"), "result"), "unverified");
        assert_string_equal(str(evidence_of(j, "id_file"), "reason"), names[i]);
        assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                               i == 3 ? "connector machine" : ID_WIN));
        json_decref(j);
        assert_int_equal(diagnose_cause(&r), CAUSE_UNVERIFIED);
    }

    /* the text report says why too */
    struct diagnosis d;
    r = healthy();
    r.id_why = PROBE_WHY_UNKNOWN_ACCOUNT;
    diagnosis_make(&connector, &r, NULL, NULL, false, &d);
    struct lme_buf text = LME_BUF_INIT;
    assert_int_equal(diagnosis_to_text(&d, &text), 0);
    assert_int_equal(lme_buf_append(&text, "", 1), 0);
    assert_non_null(strstr(text.data, "connector notes-main: unverified (low confidence)"));
    assert_non_null(strstr(text.data, "id_file: unverified (unknown_account)"));
    lme_buf_free(&text);

    /* a fault found beside it is still the cause */
    r.server.status = PROBE_NET_REFUSED;
    json_decref(expect(&r, NULL, "notes_server_unreachable", "medium"));
}

/* The mapped folder is empty (the share is not mounted): the collector cannot see the connector's
 * disk. Nothing on it is reported as missing. */
static void test_share_unavailable_reports_nothing_on_it_as_missing(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.n_shares = 1;
    snprintf(r.shares[0].windows, sizeof(r.shares[0].windows), "C:\\");
    snprintf(r.shares[0].local, sizeof(r.shares[0].local), "/mnt/exch01/c/");
    snprintf(r.shares[0].detail, sizeof(r.shares[0].detail),
             "C:\\ is mapped to /mnt/exch01/c/, which is empty: the share is not mounted here");
    r.ini = PROBE_INI_UNVERIFIED;
    r.ini_why = PROBE_WHY_SHARE_UNAVAILABLE;
    r.key = PROBE_KEY_NOT_CHECKED;
    r.id_why = PROBE_WHY_SHARE_UNAVAILABLE;
    json_t *j = expect(&r, NULL, "share_unavailable", "medium");
    assert_non_null(strstr(str(j, "summary"), "cannot see the connector's disk"));
    assert_non_null(strstr(str(j, "summary"), "the connector itself may be fine"));
    assert_string_equal(str(evidence_of(j, "share"), "result"), "unavailable");
    assert_string_equal(str(evidence_of(j, "notes_ini"), "reason"), "share_unavailable");
    assert_false(has_candidate(j, "notes_ini_missing"));
    assert_false(has_candidate(j, "id_file_missing"));
    assert_false(has_candidate(j, "id_file_unreadable"));
    const char *fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(fix, "Mount the connector's C:\\ at /mnt/exch01/c/"));
    assert_null(strstr(fix, "Notes INI file location"));
    json_decref(j);
    assert_int_equal(diagnose_cause(&r), CAUSE_SHARE_UNAVAILABLE);

    /* the server refusing this collector too does not outrank it: the collector's own view is
     * in doubt; with the connector's 64210 agreeing, the server comes first */
    r.server.status = PROBE_NET_REFUSED;
    json_decref(expect(&r, NULL, "share_unavailable", "medium"));
    struct context_signals cf = { .connect_failure = true };
    j = expect(&r, &cf, "notes_server_unreachable", "high");
    assert_true(has_candidate(j, "share_unavailable"));
    json_decref(j);
}

/* Probes tell how things are now: a 41220 logged past the horizon before them gets probe-based
 * causes at most medium, said in its summary; the log keeps its weight. */
static void test_old_event_weighs_probes_less(void **state)
{
    (void)state;
    struct probe_report r = healthy();
    r.key = PROBE_KEY_MISMATCH;
    struct diagnosis_age old = { .age_ms = 2LL * 86400000, .horizon_ms = 3600000 };
    struct diagnosis_age recent = { .age_ms = 60000, .horizon_ms = 3600000 };
    struct diagnosis d;
    diagnosis_make(&connector, &r, NULL, &old, true, &d);
    json_t *j = to_json(&d);
    assert_string_equal(str(j, "cause"), "keyfilename_mismatch");
    assert_string_equal(str(j, "confidence"), "medium");
    assert_non_null(strstr(str(j, "summary"), "logged more than 1 hour before its probes ran"));
    assert_non_null(strstr(str(j, "summary"), "today's state"));
    json_decref(j);
    diagnosis_make(&connector, &r, NULL, &recent, true, &d);
    j = to_json(&d);
    assert_string_equal(str(j, "confidence"), "high");
    assert_null(strstr(str(j, "summary"), "today's state"));
    json_decref(j);

    /* the log keeps its weight: the lock timeout of the time outranks today's probe */
    struct context_signals sig = { .lock_timeout = true };
    diagnosis_make(&connector, &r, &sig, &old, true, &d);
    j = to_json(&d);
    assert_string_equal(str(j, "cause"), "notes_api_lock_timeout");
    assert_string_equal(str(j, "confidence"), "high");
    assert_null(strstr(str(j, "summary"), "today's state")); /* not a probe's finding */
    assert_string_equal(str(json_array_get(json_object_get(j, "candidates"), 0), "confidence"), "medium");
    json_decref(j);

    /* faults keep their order among themselves: a missing Notes.ini before the server */
    r = healthy();
    r.ini = PROBE_INI_MISSING;
    r.key = PROBE_KEY_NOT_CHECKED;
    r.server.status = PROBE_NET_REFUSED;
    struct context_signals cf = { .connect_failure = true };
    diagnosis_make(&connector, &r, &cf, &old, true, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_NOTES_INI_MISSING);
    assert_int_equal(diagnosis_confidence_of(d.findings[0].score), CONFIDENCE_MEDIUM);
    assert_int_equal(d.findings[1].cause, CAUSE_NOTES_SERVER_UNREACHABLE);

    /* with every check passing, the summary still says the probes show today */
    r = healthy();
    diagnosis_make(&connector, &r, NULL, &old, true, &d);
    assert_int_equal(diagnosis_cause(&d), CAUSE_UNKNOWN);
    assert_non_null(strstr(d.findings[0].summary, "today's state"));
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
        cmocka_unit_test(test_server_check_is_the_collectors_view),
        cmocka_unit_test(test_what_could_not_be_checked_is_unverified_never_none),
        cmocka_unit_test(test_share_unavailable_reports_nothing_on_it_as_missing),
        cmocka_unit_test(test_old_event_weighs_probes_less),
        cmocka_unit_test(test_log_signals),
        cmocka_unit_test(test_combined_faults_are_all_reported_most_likely_first),
        cmocka_unit_test(test_healthy_round_is_unknown_with_what_was_ruled_out),
        cmocka_unit_test(test_without_probes_every_config_cause_stays_possible),
        cmocka_unit_test(test_context_reads_the_records_before_a_41220),
        cmocka_unit_test(test_log_text_that_is_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
