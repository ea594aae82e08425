/* The enrichment stage, and the only header of enrich/ that code outside it includes: watches
 * every event for log context and gives each 41220 its diagnosis (lme.diagnosis), from probes of
 * its connector run on a thread of their own and cached, so a burst of 41220s costs one probe
 * round. A 41220 waits for a running round at most max_wait_ms; then it goes out with what is
 * known. What the rest of the daemon needs of a probe result it asks for here (the checks of a
 * connector's last round, a `diagnose` report); the probes' and rules' own types stay inside. */
#ifndef LME_ENRICH_H
#define LME_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "event.h"

/* The probable causes of a 41220, stable ids (docs/diagnosis.md). */
enum diagnosis_cause {
    CAUSE_NONE, /* `diagnose` only: every check was made and passed */
    CAUSE_NOTES_INI_MISSING,
    CAUSE_KEYFILENAME_MISMATCH,
    CAUSE_ID_FILE_MISSING,
    CAUSE_ID_FILE_UNREADABLE,
    CAUSE_NOTES_SERVER_UNRESOLVABLE,
    CAUSE_NOTES_SERVER_UNREACHABLE,
    CAUSE_NOTES_API_LOCK_TIMEOUT,
    CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND,
    CAUSE_SHARE_UNAVAILABLE, /* the collector cannot see the connector's disk */
    CAUSE_UNVERIFIED,        /* nothing failed, but some check could not be made */
    CAUSE_UNKNOWN,
    CAUSE_COUNT
};

/* One path_map entry: a Windows path prefix ("C:\\", "\\\\exch01\\share") and the local folder
 * it is seen at here. Both owned by whoever fills the connector (the config). */
struct enrich_path_map {
    char *windows;
    char *local;
};

/* What the probes need to know about one connector (docs/config.md, `connectors`). Local paths
 * are the daemon's view of the files; Windows paths inside them go through path_map. */
struct enrich_connector {
    char *name;
    char *notes_ini;    /* local path of the Notes.ini the connector uses; NULL: not checked */
    char *id_file;      /* local path of the connector's ID file; NULL: not checked */
    char *server_host;  /* the Notes server's host name; NULL: not checked */
    int server_port;    /* 1352 by convention */
    char *service_user; /* the local account the share maps the connector's account to; NULL:
                           none, the ID file's readability is then unverified */
    char *exchconn_ini; /* local path of Exchconn.ini; NULL: not read */
    struct enrich_path_map *path_map;
    size_t n_path_map;
    int probe_interval_ms; /* while following: a probe round this often (predictions); 0: off */
};

struct enrich_config {
    int enabled;           /* 0: events pass through untouched (for comparisons) */
    const struct enrich_connector *connectors; /* borrowed; must outlive the stage */
    size_t n_connectors;
    int cache_ms;          /* a probe round's results serve this long */
    int max_wait_ms;       /* the longest a 41220 waits for its probes */
    int probe_timeout_ms;  /* a round's network budget */
    int context_records;   /* kept per host and component */
    int context_max_age_ms;
    int64_t probe_horizon_ms; /* a 41220 logged longer than this before its probes ran gets
                                 probe-based causes at most medium confidence */
    int incidents;               /* turn 41220s into incidents (docs/incidents.md) */
    int64_t incident_quiet_ms;   /* log time without a 41220 that resolves an incident */
    int64_t incident_update_ms;  /* an open incident's running count at most this often */
};

/* The stage's configuration keys (conf.h): `enrichment` over struct enrich_config; each
 * `connectors` entry over struct enrich_connector (its `notes_server` object: the second table;
 * `path_map` is read by the loader itself). */
extern const struct conf_table enrich_config_keys;
extern const struct conf_table enrich_connector_keys;
extern const struct conf_table enrich_server_keys;

struct enrich_stats {
    uint64_t diagnosed;
    uint64_t probe_rounds;
    uint64_t late; /* 41220s sent before their probes finished */
    uint64_t by_cause[CAUSE_COUNT];
};

/* How one check of a probe round came out. */
enum enrich_check_result {
    ENRICH_CHECK_PASSED,
    ENRICH_CHECK_FAILED,
    ENRICH_CHECK_UNVERIFIED, /* it could not be made (reason says why) */
};

struct enrich_check {
    const char *name;   /* "notes_ini", "keyfilename", "id_file", "notes_server"; static */
    enum enrich_check_result result;
    const char *reason; /* unverified: "unmapped_path", "unknown_account"...; else NULL. Static */
};

#define ENRICH_MAX_CHECKS 8

struct enrich;

/* Starts the probe thread. Returns NULL with err filled. */
struct enrich *enrich_create(const struct enrich_config *cfg, struct lme_err *err);

/* Stops the probe thread (waiting for a running round) and frees everything. NULL-safe. */
void enrich_destroy(struct enrich *e);

/* Called with every event, in order, but 41220s: keeps the log context. Cheap for events that
 * cannot explain a 41220. Returns 0 or LME_ENOMEM. */
int enrich_observe(struct enrich *e, const struct lme_event *ev);

/* Called with each 41220 (enrich_wants): fills ev->diagnosis (valid until the next call) and
 * sets LME_EV_DIAGNOSED; *cause tells which. connector: the name the event's input gives, or
 * NULL. While it waits for probes it calls waiting(ctx) about every 10 ms (the pipeline serves
 * its sinks then). Returns 0 or LME_ENOMEM. */
int enrich_event(struct enrich *e, const char *connector, struct lme_event *ev,
                 void (*waiting)(void *ctx), void *ctx, enum diagnosis_cause *cause);

/* Connector i's probe rounds so far and, when one finished, the checks of its last round that
 * were configured (up to ENRICH_MAX_CHECKS, into checks; *n how many). Returns 1 when a round
 * finished, else 0 (*n is 0). Any thread. */
int enrich_connector_checks(struct enrich *e, size_t i, uint64_t *rounds,
                            struct enrich_check *checks, size_t *n);

/* ---- incidents (docs/incidents.md) ----
 * Each change of an incident's state is an event of its own (LME_EV_INCIDENT) for the caller to
 * send before the record that caused it. The state is the caller's to keep with its checkpoints:
 * enrich_incidents_save gives it as text and enrich_incidents_restore takes it back. */

/* Judges ev (every event, in order, after enrich_event for a 41220) for its connector's incident.
 * replayed: it was judged before a restart (see commit_replayed); it then changes nothing. A 41220
 * gets the id of its incident in incident_id (32 hex digits; "" for other events, and for a
 * replayed 41220 the tracker cannot place). *out gets the incident events it caused (*n of them,
 * valid until the next call), to be sent before ev. Returns 0 or LME_ENOMEM. */
int enrich_incidents_record(struct enrich *e, const char *connector, const struct lme_event *ev,
                            bool replayed, char incident_id[33], const struct lme_event **out,
                            size_t *n);

/* While following: asks for each connector's periodic probe round when it is due, judges the
 * rounds that finished since the last call, and resolves incidents whose log went quiet. *out gets
 * the events (*n, valid until the next call); call again while *n > 0. Returns 0 or LME_ENOMEM. */
int enrich_incidents_tick(struct enrich *e, const struct lme_event **out, size_t *n);

/* The incidents' state as JSON text, appended to out; and back (err says why text did not read
 * back: the tracker then starts empty). Return 0 or an error code. */
int enrich_incidents_save(struct enrich *e, struct lme_buf *out);
uint64_t enrich_incidents_version(struct enrich *e); /* changes whenever the saved text would */
int enrich_incidents_restore(struct enrich *e, const char *text, struct lme_err *err);

/* The incident state of one key, for the metrics. */
struct enrich_incident_view {
    const char *key, *cause, *host, *state;
    int64_t opened_wall_ms;
    uint64_t count;
};

struct enrich_incident_stats {
    uint64_t opened[CAUSE_COUNT], resolved[CAUSE_COUNT], predicted[CAUSE_COUNT];
    uint64_t open_now, predicted_now;
    uint64_t untracked; /* 41220s of new keys while 4096 keys were tracked: no incident */
};

/* Up to max open or predicted incidents into out; returns how many. Pipeline thread only. */
size_t enrich_incidents_list(struct enrich *e, struct enrich_incident_view *out, size_t max);
const struct enrich_incident_stats *enrich_incidents_stats(struct enrich *e);

/* A consistent copy of the counters (the probe thread updates some). */
void enrich_get_stats(struct enrich *e, struct enrich_stats *out);

/* 1 when the event is a 41220 (the only ones enrich_event changes). */
int enrich_wants(const struct lme_event *ev);

/* `lme-ingest diagnose`: runs every probe of connector c now, on the calling thread (bounded by
 * cfg->probe_timeout_ms for the network), and appends its report to out: one JSON object
 * (docs/diagnosis.md) when json, else text an operator reads; *cause tells which. Returns 0 or
 * LME_ENOMEM. */
int enrich_diagnose(const struct enrich_config *cfg, const struct enrich_connector *c, bool json,
                    struct lme_buf *out, enum diagnosis_cause *cause);

/* The cause's stable id ("keyfilename_mismatch"); static storage. */
const char *enrich_cause_name(enum diagnosis_cause c);

#endif
