/* Fuzz target for the incidents' saved state (enrich/incident.c), the part of checkpoints.json a
 * restart reads back: incident_restore of the input. Checked beyond what ASan and UBSan see, from
 * incident.h's contract:
 *   - a refusal leaves the tracker empty and says why;
 *   - what was taken back saves to text that restores again, and saves the same: nothing is lost
 *     or invented in a round trip;
 *   - the restored tracker judges records and probe rounds (a 41220, a 41207, a quiet record, a
 *     passing and a failing round) without fault. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_incident_state: %s\n", what);
    abort();
}

static const struct incident_config config = { 900000, 300000 };

static char *saved(struct incident_tracker *t)
{
    struct lme_buf b = LME_BUF_INIT;
    if (incident_save(t, &b) != 0 || lme_buf_append(&b, "", 1) != 0)
        die("incident_save failed");
    return b.data;
}

static void exercise(struct incident_tracker *t)
{
    static const char *const codes[] = { "41220", "41207", "41210" };
    char id[33];
    const struct incident_note *notes;
    size_t n;
    for (int i = 0; i < 3; i++) {
        struct incident_record rec = { .connector = i ? NULL : "notes-main",
                                       .host = { "exch01", 6 }, .component = { "LME-NOTES-MEXNTS", 16 },
                                       .time_ms = 890191370000LL + i * 1000000LL, .timed = true,
                                       .is_41220 = strcmp(codes[i], "41220") == 0,
                                       .is_41207 = strcmp(codes[i], "41207") == 0,
                                       .event_id = "0123456789abcdef0123456789abcdef",
                                       .cause = CAUSE_UNKNOWN };
        if (incident_record(t, &rec, i == 2, id, &notes, &n) != 0)
            die("incident_record failed");
    }
    struct incident_round failing = { "notes-main", CAUSE_ID_FILE_MISSING, "{}", 2, 1, 2 };
    struct incident_round passing = { "notes-main", CAUSE_NONE, "{}", 2, 3, 4 };
    if (incident_round(t, &failing, &notes, &n) != 0 || incident_round(t, &passing, &notes, &n) != 0 ||
        incident_idle(t, INT64_MAX / 2, &notes, &n) != 0)
        die("a round or the idle check failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct incident_tracker *t = incident_tracker_create(&config);
    struct lme_err err;
    if (!t)
        die("out of memory");
    if (incident_restore(t, text, 0, &err) != 0) {
        struct incident_view v[1];
        if (incident_list(t, v, 1) != 0 || !strstr(err.msg, "incidents:"))
            die("a refused state left entries, or no reason");
    } else {
        char *first = saved(t);
        struct incident_tracker *again = incident_tracker_create(&config);
        if (!again || incident_restore(again, first, 0, &err) != 0)
            die("a saved state does not restore");
        char *second = saved(again);
        if (strcmp(first, second) != 0)
            die("a round trip changed the state");
        exercise(again);
        free(first);
        free(second);
        incident_tracker_destroy(again);
    }
    incident_tracker_destroy(t);
    free(text);
    return 0;
}
