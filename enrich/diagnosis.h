/* The diagnosis of a 41220: from a probe round and the log context, the probable cause (a stable
 * id from docs/diagnosis.md), how sure we are, the evidence, the fix, and the other causes still
 * possible, ranked. What could not be checked is said so (unverified), never taken for passed;
 * what the collector saw is not presented as what the connector sees; probes run long after the
 * event weigh less. Pure rules: no I/O, so every combination is testable. */
#ifndef LME_DIAGNOSIS_H
#define LME_DIAGNOSIS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "context.h"
#include "enrich.h"
#include "probes.h"

enum diagnosis_confidence { CONFIDENCE_LOW, CONFIDENCE_MEDIUM, CONFIDENCE_HIGH };

#define DIAGNOSIS_MAX_FINDINGS 14
#define DIAGNOSIS_MAX_EVIDENCE 20
#define DIAGNOSIS_MAX_STEPS 4

/* A cause found, with its weight (higher: more likely) and what it rests on. */
struct diagnosis_finding {
    enum diagnosis_cause cause;
    int score;  /* 0..100 */
    bool probe; /* rests on a probe (how things are now), not only on the log */
    char summary[1200];
};

struct diagnosis_evidence {
    const char *source; /* "probe" or "log" */
    const char *check;  /* "share", "notes_ini", "keyfilename", "id_file", "notes_server", "exchconn", or a code */
    const char *result; /* a stable word: "ok", "missing", "refused", "unverified", "present"... */
    const char *reason; /* with "unverified": why ("unmapped_path"...); NULL otherwise */
    char detail[1200];
};

/* When the 41220 was logged, relative to its probe round. */
struct diagnosis_age {
    int64_t age_ms;     /* probed_at minus the event's @timestamp */
    int64_t horizon_ms; /* older than this, the probes show another day's state */
};

struct diagnosis {
    const struct enrich_connector *connector; /* NULL: the input names none. Borrowed. */
    bool probed;                    /* a probe round's results are included */
    bool probes_late;               /* they did not come within the wait: log context only */
    bool old_event;                 /* logged past the horizon before its probes */
    int64_t probed_at_ms;
    struct diagnosis_finding findings[DIAGNOSIS_MAX_FINDINGS]; /* most likely first */
    int n_findings;
    struct diagnosis_evidence evidence[DIAGNOSIS_MAX_EVIDENCE];
    int n_evidence;
    char remediation[DIAGNOSIS_MAX_STEPS][1024]; /* the fix of the cause, in the connector's terms */
    int n_remediation;
};

/* Builds the diagnosis of a 41220 from the probe report (NULL when none is available), the log
 * signals (NULL when none were kept) and the event's age (NULL: unknown, or a `diagnose` run).
 * for_event 0: a `diagnose` run, where a round with every check made and passed is CAUSE_NONE
 * rather than CAUSE_UNKNOWN. */
void diagnosis_make(const struct enrich_connector *connector, const struct probe_report *report,
                    const struct context_signals *signals, const struct diagnosis_age *age,
                    bool for_event, struct diagnosis *d);

/* The most likely finding. */
enum diagnosis_cause diagnosis_cause(const struct diagnosis *d);

/* Appends lme.diagnosis as a JSON object (docs/diagnosis.md) to out. Returns 0 or LME_ENOMEM. */
int diagnosis_to_json(const struct diagnosis *d, struct lme_buf *out);

/* Appends a report an operator reads (several lines) to out. Returns 0 or LME_ENOMEM. */
int diagnosis_to_text(const struct diagnosis *d, struct lme_buf *out);

const char *diagnosis_cause_name(enum diagnosis_cause c);

/* ms since the epoch as "1998-03-18T03:22:50.000Z" (UTC). */
void diagnosis_format_time(int64_t ms, char out[64]);
const char *diagnosis_confidence_name(enum diagnosis_confidence c);
enum diagnosis_confidence diagnosis_confidence_of(int score);

#endif
