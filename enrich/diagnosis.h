/* The diagnosis of a 41220: from a probe round and the log context, the probable cause (a stable
 * id from docs/diagnosis.md), how sure we are, the evidence, the fix, and the other causes still
 * possible, ranked. Pure rules: no I/O, so every combination is testable. */
#ifndef LME_DIAGNOSIS_H
#define LME_DIAGNOSIS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "context.h"
#include "probes.h"

enum diagnosis_cause {
    CAUSE_NONE, /* `diagnose` only: every probe passed */
    CAUSE_NOTES_INI_MISSING,
    CAUSE_KEYFILENAME_MISMATCH,
    CAUSE_ID_FILE_MISSING,
    CAUSE_ID_FILE_UNREADABLE,
    CAUSE_NOTES_SERVER_UNRESOLVABLE,
    CAUSE_NOTES_SERVER_UNREACHABLE,
    CAUSE_NOTES_API_LOCK_TIMEOUT,
    CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND,
    CAUSE_UNKNOWN,
    CAUSE_COUNT
};

enum diagnosis_confidence { CONFIDENCE_LOW, CONFIDENCE_MEDIUM, CONFIDENCE_HIGH };

#define DIAGNOSIS_MAX_FINDINGS 12
#define DIAGNOSIS_MAX_EVIDENCE 16

/* A cause found, with its weight (higher: more likely) and what it rests on. */
struct diagnosis_finding {
    enum diagnosis_cause cause;
    int score; /* 0..100 */
    char summary[1200];
};

struct diagnosis_evidence {
    const char *source; /* "probe" or "log" */
    const char *check;  /* "notes_ini", "keyfilename", "id_file", "notes_server", "exchconn", or a code */
    const char *result; /* a stable word: "ok", "missing", "refused", "present"... */
    char detail[1200];
};

struct diagnosis {
    const struct enrich_connector *connector; /* NULL: the input names none. Borrowed. */
    bool probed;                    /* a probe round's results are included */
    bool probes_late;               /* they did not come within the wait: log context only */
    int64_t probed_at_ms;
    struct diagnosis_finding findings[DIAGNOSIS_MAX_FINDINGS]; /* most likely first */
    int n_findings;
    struct diagnosis_evidence evidence[DIAGNOSIS_MAX_EVIDENCE];
    int n_evidence;
};

/* Builds the diagnosis of a 41220 from the probe report (NULL when none is available) and the
 * log signals (NULL when none were kept). for_event 0: a `diagnose` run, where a healthy round
 * is CAUSE_NONE rather than CAUSE_UNKNOWN. */
void diagnosis_make(const struct enrich_connector *connector, const struct probe_report *report,
                    const struct context_signals *signals, bool for_event, struct diagnosis *d);

/* The most likely finding. */
enum diagnosis_cause diagnosis_cause(const struct diagnosis *d);

/* Appends lme.diagnosis as a JSON object (docs/diagnosis.md) to out. Returns 0 or LME_ENOMEM. */
int diagnosis_to_json(const struct diagnosis *d, struct lme_buf *out);

/* Appends a report an operator reads (several lines) to out. Returns 0 or LME_ENOMEM. */
int diagnosis_to_text(const struct diagnosis *d, struct lme_buf *out);

const char *diagnosis_cause_name(enum diagnosis_cause c);
const char *diagnosis_confidence_name(enum diagnosis_confidence c);
enum diagnosis_confidence diagnosis_confidence_of(int score);

#endif
