/* The incidents of connectors (docs/incidents.md): the stream of 41220s and the probe rounds
 * turned into one incident per failure, each change of its state one note for the caller to send.
 * Pure rules and state: no I/O, no threads and no clock of its own (every call says what time it
 * is), so that any sequence can be replayed in a test, and so that a replay of the same records
 * after a restart gives the same incidents with the same ids. */
#ifndef LME_INCIDENT_H
#define LME_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "enrich.h"
#include "err.h"

/* Keys tracked at once (those in an incident, and the connectors): beyond, a 41220 of a new key
 * gets no incident (counted by incident_untracked). A key holds its diagnosis, a kilobyte or two. */
#define INCIDENT_MAX_KEYS 4096

enum incident_state { INCIDENT_WELL, INCIDENT_PREDICTED, INCIDENT_OPEN, INCIDENT_RESOLVED };

struct incident_config {
    int64_t quiet_ms;  /* no 41220 for this long (log time): resolved */
    int64_t update_ms; /* an open incident's running count goes out at most this often */
};

/* One record, as the tracker needs it. */
struct incident_record {
    const char *connector;   /* the input's connector, or NULL: the key is host and component */
    struct lme_str host, component;
    int64_t time_ms;         /* log time */
    bool timed;              /* false: time_ms is when it was read (lme_no_timestamp) */
    int64_t read_ms;         /* monotonic, when it was read */
    int64_t wall_ms;         /* wall clock, when it was read */
    bool is_41220, is_41207;
    const char *event_id;    /* a 41220's event.id (32 hex): its incident's id is made from it */
    enum diagnosis_cause cause;        /* a 41220's */
    const char *diagnosis;             /* a 41220's lme.diagnosis text, or NULL */
    size_t diagnosis_len;
};

/* One probe round of a connector, as the tracker needs it. */
struct incident_round {
    const char *connector;
    enum diagnosis_cause cause; /* CAUSE_NONE: every check was made and passed */
    const char *diagnosis;      /* its lme.diagnosis text */
    size_t diagnosis_len;
    int64_t started_ms;         /* monotonic */
    int64_t probed_at_ms;       /* wall clock */
};

/* One change of an incident's state: what its event says. Valid until the next call. */
struct incident_note {
    char event_id[33];    /* of this event: the incident's id and the note's number, hashed */
    const char *type;     /* event.type: "start", "change" or "end" */
    int64_t time_ms;      /* @timestamp: log time of the change (wall time for probe rounds) */
    struct lme_buf host, component;
    struct lme_buf incident;  /* lme.incident, a JSON object */
    struct lme_buf diagnosis; /* lme.diagnosis of the moment, or empty */
    struct lme_buf message;
    enum diagnosis_cause cause;
    enum incident_state state; /* after the change */
    bool opened, resolved;     /* counted by the metrics */
};

struct incident_tracker;

/* Returns NULL when memory runs out. */
struct incident_tracker *incident_tracker_create(const struct incident_config *cfg);
void incident_tracker_destroy(struct incident_tracker *t); /* NULL-safe */

/* Whether a record with these traits can change anything: most cannot (no incident is open, or
 * none can have gone quiet by its time), and are spared the rest. incident_record asks it too. */
bool incident_may_change(struct incident_tracker *t, const char *connector, int64_t time_ms,
                         bool timed, bool is_41220, bool is_41207);

/* Judges one record, in log order per key. replayed: it was already judged before a restart (it
 * changes nothing; a 41220 only learns its incident's id). Fills *notes with the changes it made
 * (at most 2: the end of an incident gone quiet and a new one), and id (33 bytes) with the
 * incident id a 41220 belongs to ("" otherwise). Returns 0 or LME_ENOMEM. */
int incident_record(struct incident_tracker *t, const struct incident_record *rec, bool replayed,
                    char id[33], const struct incident_note **notes, size_t *n);

/* A probe round of a connector finished: a failing round predicts an incident; a passing one
 * resolves a predicted one, and an open one whose cause the probes can see when no 41220 came
 * since the round started. Same outputs as incident_record. */
int incident_round(struct incident_tracker *t, const struct incident_round *round,
                   const struct incident_note **notes, size_t *n);

/* While following, with now_ms monotonic: an open incident without a 41220 read for quiet_ms is
 * resolved (the log went silent). One at a time: call until *n is 0. Same outputs. */
int incident_idle(struct incident_tracker *t, int64_t now_ms, const struct incident_note **notes,
                  size_t *n);

/* The keys in an incident (open or predicted), for the metrics: up to max into out; returns how
 * many. */
struct incident_view {
    const char *key, *cause, *host;
    enum incident_state state;
    int64_t opened_wall_ms; /* wall clock of the open, for the age */
    uint64_t count;
};
size_t incident_list(const struct incident_tracker *t, struct incident_view *out, size_t max);

/* 41220s that got no incident because INCIDENT_MAX_KEYS keys were tracked. */
uint64_t incident_untracked(const struct incident_tracker *t);

/* A number that changes whenever what incident_save writes does. */
uint64_t incident_version(const struct incident_tracker *t);

/* How many keys are open and predicted now. */
void incident_count(const struct incident_tracker *t, size_t *open, size_t *predicted);

/* The state as JSON text (a state_dir file's part), appended to out; and back. A restore of text
 * that does not read back leaves the tracker empty and says why in err. now_ms: monotonic now,
 * taken as when the last 41220 of each open incident was read. */
int incident_save(const struct incident_tracker *t, struct lme_buf *out);
int incident_restore(struct incident_tracker *t, const char *text, int64_t now_ms,
                     struct lme_err *err);

const char *incident_state_name(enum incident_state s);

#endif
