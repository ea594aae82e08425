/* The diagnosis rules: see diagnosis.h and docs/diagnosis.md. Every probe and log signal becomes
 * evidence; each fault found becomes a finding with a score, and the highest score is the cause.
 * Scores encode how directly a signal explains a 41220: a probe that fails for good outranks a
 * log line that only fits, a check made from the collector (the Notes server) counts fully only
 * when the connector's log agrees, a transient sign (a 64210 while the server answers now) ranks
 * low, and probes run long after the event are squeezed below high. A check that could not be
 * made leaves its cause a low candidate; when nothing else is found the cause is `unverified`. */
#include "diagnosis.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_str.h"
#include "tz.h"

#define SCORE_FOUND 50      /* a finding at least this likely is the cause */
#define SCORE_HIGH 80
#define SCORE_CANDIDATE 30  /* a cause a check that could not be made leaves open */

/* What a fixed remedy's %s stand for: the connector's names of its files. */
enum fix_args { FIX_NO_ARG, FIX_INI, FIX_ID, FIX_INI_ID };

struct cause_info {
    const char *name;
    const char *references[3];
    enum fix_args args;
    const char *remediation[3]; /* fixed steps; NULL first: made by set_remediation */
};

static const struct cause_info causes[CAUSE_COUNT] = {
    [CAUSE_NONE] = { "none", { NULL }, FIX_NO_ARG, { NULL } },
    [CAUSE_NOTES_INI_MISSING] = { "notes_ini_missing", { "Q320032", "Q245545" }, FIX_INI, {
        "In the connector's properties (Advanced tab), set \"Notes INI file location\" to the "
        "full path and name of the Notes.ini it must use (%s), e.g. C:\\WINNT\\Notes.ini.",
        "Make sure that file exists and the connector's service account can read it.",
        "Restart the connector and check the browse log for 41207 \"Successfully Initialized\"." } },
    [CAUSE_KEYFILENAME_MISMATCH] = { "keyfilename_mismatch", { "Q245545" }, FIX_INI_ID, {
        "Edit the Notes.ini the connector uses (%s) so that its KeyFileName= line names the "
        "connector's ID file (%s); a relative name is read from the Directory= folder.",
        "Restart the connector.",
        "On the Notes server console, \"show users\" should then list the connector's ID." } },
    [CAUSE_ID_FILE_MISSING] = { "id_file_missing", { "Q245545" }, FIX_ID, {
        "Put the connector's ID file back at %s (from a backup, or exported again by the Notes "
        "administrator) and keep KeyFileName= pointing at it.",
        "Restart the connector." } },
    [CAUSE_ID_FILE_UNREADABLE] = { "id_file_unreadable", { "Q245545" }, FIX_ID, {
        "Give the connector's service account read access to its ID file (%s) and to the "
        "folders above it.",
        "Restart the connector." } },
    [CAUSE_NOTES_SERVER_UNRESOLVABLE] = { "notes_server_unresolvable", { "Q245545", "Q198832" },
                                          FIX_NO_ARG, { NULL } },
    [CAUSE_NOTES_SERVER_UNREACHABLE] = { "notes_server_unreachable", { "Q245545", "Q198832" },
                                         FIX_NO_ARG, { NULL } },
    [CAUSE_NOTES_API_LOCK_TIMEOUT] = { "notes_api_lock_timeout", { "Q197509" }, FIX_NO_ARG, {
        "Restart the connector: two of its processes raced for the Notes API's start-up lock, "
        "which is transient.",
        "If it happens at every start, install the Exchange 5.5 update that makes the connector "
        "restart by itself." } },
    [CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND] = { "mail_router_mailbox_not_found", { "Q293227" },
                                              FIX_NO_ARG, {
        "The Notes server has several mailboxes (Mail1.box, Mail2.box, ...) while the connector "
        "routes to Mail.box: set the connector's Notes Mail Router mailbox to Mail1.box.",
        "Restart the connector." } },
    [CAUSE_SHARE_UNAVAILABLE] = { "share_unavailable", { "Q245545" }, FIX_NO_ARG, { NULL } },
    [CAUSE_UNVERIFIED] = { "unverified", { "Q245545" }, FIX_NO_ARG, { NULL } },
    [CAUSE_UNKNOWN] = { "unknown", { "Q245545" }, FIX_NO_ARG, {
        "On the Notes server console, run \"show users\": the connector's ID must be connected.",
        "Read the connector's records just before this one for the first failure, and run "
        "`lme-ingest diagnose` again when it recurs." } },
};

const char *diagnosis_cause_name(enum diagnosis_cause c)
{
    return causes[c].name;
}

const char *diagnosis_confidence_name(enum diagnosis_confidence c)
{
    static const char *const names[] = { "low", "medium", "high" };
    return names[c];
}

enum diagnosis_confidence diagnosis_confidence_of(int score)
{
    return score >= SCORE_HIGH ? CONFIDENCE_HIGH : score >= SCORE_FOUND ? CONFIDENCE_MEDIUM
                                                                        : CONFIDENCE_LOW;
}

enum diagnosis_cause diagnosis_cause(const struct diagnosis *d)
{
    return d->n_findings ? d->findings[0].cause : CAUSE_UNKNOWN;
}

/* Why a check could not be made, as a clause. */
static const char *why_text(enum probe_why w)
{
    switch (w) {
    case PROBE_WHY_UNMAPPED_PATH: return "its path is in no path_map entry";
    case PROBE_WHY_REFUSED_PATH: return "its path has a '..' component, which the probes do not follow";
    case PROBE_WHY_OUTSIDE_MAPPING: return "its path leads outside its mapped folder on this collector";
    case PROBE_WHY_SHARE_UNAVAILABLE: return "this collector cannot see the share it is on";
    case PROBE_WHY_UNKNOWN_ACCOUNT: return "service_user does not exist on this collector";
    case PROBE_WHY_NO_ACCOUNT: return "no service_user is configured";
    case PROBE_WHY_NETWORK_FS: return "the share's mode bits are the mount's, not the file's Windows ACL";
    case PROBE_WHY_LOOKUP_FAILED: return "this collector could not look it up";
    default: return "";
    }
}

static const char *why_word(enum probe_why w)
{
    return w ? probes_why_name(w) : NULL;
}

/* The connector's own name for a file: its Windows path when path_map holds it, else the
 * collector's path, said to be one. */
static const char *conn_name(const char *win, const char *local, char *buf, size_t size)
{
    if (win && win[0])
        return win;
    snprintf(buf, size, "%s (its path on this collector)", local ? local : "?");
    return buf;
}

static void add_evidence(struct diagnosis *d, const char *source, const char *check,
                         const char *result, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void add_evidence(struct diagnosis *d, const char *source, const char *check,
                         const char *result, const char *reason, const char *fmt, ...)
{
    if (d->n_evidence == DIAGNOSIS_MAX_EVIDENCE)
        return;
    struct diagnosis_evidence *e = &d->evidence[d->n_evidence++];
    e->source = source;
    e->check = check;
    e->result = result;
    e->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

/* Adds a finding, or raises the score of the same cause found again. */
static void add_finding(struct diagnosis *d, enum diagnosis_cause cause, int score, bool probe,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void add_finding(struct diagnosis *d, enum diagnosis_cause cause, int score, bool probe,
                        const char *fmt, ...)
{
    struct diagnosis_finding *f = NULL;
    for (int i = 0; i < d->n_findings && !f; i++)
        if (d->findings[i].cause == cause)
            f = &d->findings[i];
    if (f && f->score >= score)
        return;
    if (!f && d->n_findings == DIAGNOSIS_MAX_FINDINGS)
        return;
    if (!f)
        f = &d->findings[d->n_findings++];
    f->cause = cause;
    f->score = score;
    f->probe = probe;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->summary, sizeof(f->summary), fmt, ap);
    va_end(ap);
}

/* ---- the probes ---- */

static void judge_shares(struct diagnosis *d, const struct probe_report *r)
{
    for (int i = 0; i < r->n_shares; i++) {
        const struct probe_share *s = &r->shares[i];
        add_evidence(d, "probe", "share", s->available ? "ok" : "unavailable", NULL, "%s", s->detail);
        if (!s->available)
            add_finding(d, CAUSE_SHARE_UNAVAILABLE, 75, true,
                        "This collector cannot see the connector's disk: %s. Nothing on it was "
                        "checked; the connector itself may be fine.", s->detail);
    }
}

/* A cause a check that could not be made leaves open, unless the share it is on is out of
 * sight: then the share finding speaks for everything on it. */
static void leave_open(struct diagnosis *d, enum probe_why why, enum diagnosis_cause cause,
                       const char *what)
{
    if (why != PROBE_WHY_SHARE_UNAVAILABLE)
        add_finding(d, cause, SCORE_CANDIDATE, true, "%s could not be checked: %s.", what,
                    why_text(why));
}

static void judge_keyfilename(struct diagnosis *d, const struct probe_report *r, const char *ini)
{
    char id_buf[PATH_MAX + 64], what[1400];
    const struct enrich_connector *c = d->connector;
    const char *id = conn_name(r->id_name, c ? c->id_file : NULL, id_buf, sizeof(id_buf));
    bool joined = r->key_name[0] && strcmp(r->key_name, r->key_value) != 0;
    if (r->key == PROBE_KEY_NOT_CHECKED)
        return;
    add_evidence(d, "probe", "keyfilename", probes_key_status_name(r->key), why_word(r->key_why),
                 "%s", r->key_detail);
    if (r->key == PROBE_KEY_NO_LINE)
        add_finding(d, CAUSE_KEYFILENAME_MISMATCH, 92, true,
                    "The connector's Notes.ini (%s) has no KeyFileName= line, so the Notes API "
                    "does not open the connector's ID.", ini);
    else if (r->key == PROBE_KEY_MISMATCH)
        add_finding(d, CAUSE_KEYFILENAME_MISMATCH, 92, true,
                    "The connector's Notes.ini (%s) names KeyFileName=%s%s%s, not the connector's "
                    "ID file %s.", ini, r->key_value, joined ? ", that is " : "",
                    joined ? r->key_name : "", id);
    if (r->key != PROBE_KEY_UNVERIFIED)
        return;
    snprintf(what, sizeof(what), "Whether KeyFileName=%.300s names the connector's ID file %.900s",
             r->key_value, id);
    leave_open(d, r->key_why, CAUSE_KEYFILENAME_MISMATCH, what);
}

static void judge_notes_ini(struct diagnosis *d, const struct probe_report *r)
{
    char ini_buf[PATH_MAX + 64], what[1400];
    const struct enrich_connector *c = d->connector;
    const char *ini = conn_name(r->ini_name, c ? c->notes_ini : NULL, ini_buf, sizeof(ini_buf));
    if (r->ini == PROBE_INI_NOT_CONFIGURED)
        return;
    add_evidence(d, "probe", "notes_ini", probes_ini_status_name(r->ini), why_word(r->ini_why),
                 "%s", r->ini_detail);
    if (r->ini == PROBE_INI_UNVERIFIED) {
        snprintf(what, sizeof(what), "Whether the connector's Notes.ini %.1200s is there", ini);
        leave_open(d, r->ini_why, CAUSE_NOTES_INI_MISSING, what);
    } else if (r->ini != PROBE_INI_OK) {
        add_finding(d, CAUSE_NOTES_INI_MISSING, 95, true,
                    "The Notes.ini the connector is set to use (%s) is %s, so the Notes API "
                    "cannot open a session.", ini,
                    r->ini == PROBE_INI_MISSING ? "missing" : r->ini == PROBE_INI_NOT_FILE
                        ? "not a file" : r->ini == PROBE_INI_TOO_LARGE ? "not a Notes.ini (too large)"
                        : "unreadable");
    }
    judge_keyfilename(d, r, ini);
}

static void judge_id_file(struct diagnosis *d, const struct probe_report *r)
{
    char id_buf[PATH_MAX + 64], what[1400];
    const struct enrich_connector *c = d->connector;
    const char *id = conn_name(r->id_name, c ? c->id_file : NULL, id_buf, sizeof(id_buf));
    enum probe_file_status s = r->id.status;
    if (!r->id_checked)
        return;
    add_evidence(d, "probe", "id_file", probes_id_result(r), why_word(r->id_why), "%s", r->id.detail);
    if (r->id_why == PROBE_WHY_UNKNOWN_ACCOUNT || r->id_why == PROBE_WHY_NO_ACCOUNT ||
        r->id_why == PROBE_WHY_NETWORK_FS) {
        snprintf(what, sizeof(what), "Whether the connector's account may read its ID file %.1200s", id);
        leave_open(d, r->id_why, CAUSE_ID_FILE_UNREADABLE, what);
    } else if (r->id_why) {
        snprintf(what, sizeof(what), "Whether the connector's ID file %.1200s is there", id);
        leave_open(d, r->id_why, CAUSE_ID_FILE_MISSING, what);
    } else if (s == PROBE_FILE_MISSING || s == PROBE_FILE_NOT_REGULAR || s == PROBE_FILE_EMPTY) {
        add_finding(d, CAUSE_ID_FILE_MISSING, 90, true, "The connector's ID file %s is %s.", id,
                    s == PROBE_FILE_MISSING ? "missing" : s == PROBE_FILE_EMPTY ? "empty"
                                                                                : "not a file");
    } else if (s == PROBE_FILE_UNREADABLE) {
        add_finding(d, CAUSE_ID_FILE_UNREADABLE, 88, true,
                    "The connector's service account (%s on this collector) may not read its ID "
                    "file %s.", c && c->service_user ? c->service_user : "?", id);
    }
}

/* The server is probed from this collector: what the connector machine meets is only known when
 * its log says so (a 64210 just before). */
static void judge_server(struct diagnosis *d, const struct probe_report *r,
                         const struct context_signals *sig)
{
    if (!r->server_checked)
        return;
    enum probe_net_status s = r->server.status;
    bool agrees = sig && sig->connect_failure;
    const char *seen = agrees ? "; the connector logged 64210 just before: it could not reach it either"
                              : "; whether the connector machine reaches it was not seen";
    add_evidence(d, "probe", "notes_server", probe_net_status_name(s), NULL,
                 "from this collector (%s): %s",
                 r->collector, r->server.detail);
    if (s == PROBE_NET_UNRESOLVABLE || s == PROBE_NET_RESOLVE_TIMEOUT)
        add_finding(d, CAUSE_NOTES_SERVER_UNRESOLVABLE,
                    s == PROBE_NET_RESOLVE_TIMEOUT ? 60 : agrees ? 86 : 70, true,
                    "The Notes server's name does not resolve from this collector (%s): %s%s.",
                    r->collector, r->server.detail, seen);
    else if (s != PROBE_NET_REACHABLE)
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, agrees ? 90 : 70, true,
                    "The Notes server cannot be reached from this collector (%s): %s%s.",
                    r->collector, r->server.detail, seen);
    else if (agrees)
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, 55, true,
                    "The connector could not connect to the Notes server%s%s (64210) although it "
                    "answers this collector now: a passing outage.", sig->server[0] ? " " : "",
                    sig->server);
}

static void judge_exchconn(struct diagnosis *d, const struct probe_report *r)
{
    if (r->exchconn_checked)
        add_evidence(d, "probe", "exchconn",
                     r->exchconn_why ? "unverified" : r->exchconn_read ? "read" : "unreadable",
                     why_word(r->exchconn_why), "%s", r->exchconn_detail);
}

/* Probes tell how things are now: for an event logged long before them, what they found is
 * squeezed into medium, keeping its rank among them. */
static void weigh_age(struct diagnosis *d)
{
    for (int i = 0; i < d->n_findings; i++) {
        struct diagnosis_finding *f = &d->findings[i];
        if (f->probe && f->score >= SCORE_FOUND)
            f->score = SCORE_FOUND + (f->score - SCORE_FOUND) * (SCORE_HIGH - 1 - SCORE_FOUND) / 50;
    }
}

/* ---- the log ---- */

static void judge_log(struct diagnosis *d, const struct context_signals *sig, bool probed)
{
    for (int i = 0; i < sig->n_seen; i++) {
        const struct context_record *rec = &sig->seen[i];
        add_evidence(d, "log", rec->code, "present", NULL, "%s%s%s%s", rec->code,
                     rec->status[0] ? " {" : "", rec->status, rec->status[0] ? "}" : "");
        size_t len = strlen(d->evidence[d->n_evidence - 1].detail);
        snprintf(d->evidence[d->n_evidence - 1].detail + len,
                 sizeof(d->evidence[0].detail) - len, ": %s", rec->text);
    }
    int config_fault = 0;
    for (int i = 0; i < d->n_findings; i++)
        if (d->findings[i].score > config_fault)
            config_fault = d->findings[i].score;
    if (sig->lock_timeout)
        add_finding(d, CAUSE_NOTES_API_LOCK_TIMEOUT, config_fault >= 85 ? 80 : 93, false,
                    "Just before, the connector timed out on the Notes API's start-up lock "
                    "(01211 {Timeout on resource lock}): a start-up race, not a configuration fault.");
    if (sig->mailbox_not_found)
        add_finding(d, CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND, config_fault >= 85 ? 60 : 75, false,
                    "Just before, the connector failed with {Not found}: on a Notes server with "
                    "several mailboxes, its mail router still aims at Mail.box.");
    if ((sig->connect_failure || sig->mail_system_failure) && !probed) {
        /* 64210 / {Mail system failure}: a Notes.ini path or the server; only probes tell */
        add_finding(d, CAUSE_NOTES_INI_MISSING, 45, false,
                    "The connector could not reach the Notes server (64210, {Mail system "
                    "failure}): its Notes.ini location may be wrong (no probe results to tell).");
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, 45, false,
                    "The connector could not reach the Notes server%s%s (64210): it may be down "
                    "or unreachable (no probe results to tell).", sig->server[0] ? " " : "",
                    sig->server);
    }
}

/* Causes no probe could rule out, when the connector's probe round came too late. */
static void add_unprobed(struct diagnosis *d)
{
    static const enum diagnosis_cause config_causes[] = {
        CAUSE_KEYFILENAME_MISMATCH, CAUSE_NOTES_INI_MISSING, CAUSE_NOTES_SERVER_UNREACHABLE,
        CAUSE_ID_FILE_UNREADABLE, CAUSE_ID_FILE_MISSING, CAUSE_NOTES_SERVER_UNRESOLVABLE,
    };
    for (size_t i = 0; i < sizeof(config_causes) / sizeof(config_causes[0]); i++)
        add_finding(d, config_causes[i], 20 - (int)i, false, "Not probed in time.");
}

static void sort_findings(struct diagnosis *d)
{
    for (int i = 1; i < d->n_findings; i++) { /* insertion sort: stable, and a dozen at most */
        struct diagnosis_finding f = d->findings[i];
        int k = i;
        for (; k > 0 && d->findings[k - 1].score < f.score; k--)
            d->findings[k] = d->findings[k - 1];
        d->findings[k] = f;
    }
}

/* ---- nothing found ---- */

/* The finding that leads when none explains the 41220: what could not be checked, or nothing. */
static void set_fallback(struct diagnosis *d, const struct probe_report *r, bool for_event)
{
    struct diagnosis_finding *f = &d->findings[0];
    char list[800];
    int unverified = r ? probes_list(r, ENRICH_CHECK_UNVERIFIED, false, list, sizeof(list)) : 0;
    f->probe = r != NULL;
    if (unverified) {
        f->cause = CAUSE_UNVERIFIED;
        f->score = 40;
        snprintf(f->summary, sizeof(f->summary), "No check failed, but %d could not be made: %s. "
                 "%s", unverified, list, for_event ? "What caused this 41220 is not known."
                                                    : "The connector is not known to be healthy.");
    } else if (!for_event) {
        f->cause = CAUSE_NONE;
        f->score = 100;
        if (!r || !probes_list(r, ENRICH_CHECK_PASSED, false, list, sizeof(list)))
            snprintf(list, sizeof(list), "none configured");
        snprintf(f->summary, sizeof(f->summary), "Every configured check was made and passed: %s.",
                 list);
    } else {
        f->cause = CAUSE_UNKNOWN;
        f->score = 0;
        snprintf(f->summary, sizeof(f->summary), "%s",
                 r ? "No probe failed and the records before it show no known cause; the "
                     "evidence lists what was ruled out."
                 : d->connector ? "The probes did not finish in time and the records before it "
                                  "point at no single cause; the candidates list what remains "
                                  "possible."
                                : "No connector is configured for this input, so nothing was "
                                  "probed, and the records before it point at no single cause.");
    }
}

static void make_room_at_top(struct diagnosis *d)
{
    int keep = d->n_findings < DIAGNOSIS_MAX_FINDINGS ? d->n_findings : DIAGNOSIS_MAX_FINDINGS - 1;
    memmove(&d->findings[1], &d->findings[0], sizeof(d->findings[0]) * (size_t)keep);
    d->n_findings = keep + 1;
}

/* "1 hour", "2 days": a horizon in words. */
static void format_span(int64_t ms, char *out, size_t size)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = { { 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" }, { 1000, "second" } };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (ms >= units[i].ms && ms % units[i].ms == 0) {
            long long n = (long long)(ms / units[i].ms);
            snprintf(out, size, "%lld %s%s", n, units[i].unit, n == 1 ? "" : "s");
            return;
        }
    snprintf(out, size, "%lld ms", (long long)ms);
}

/* The leading summary of an old event says that its probes show another day. */
static void note_age(struct diagnosis *d, const struct diagnosis_age *age)
{
    struct diagnosis_finding *f = &d->findings[0];
    if (!d->old_event || !f->probe)
        return;
    char span[64];
    format_span(age->horizon_ms, span, sizeof(span));
    size_t len = strlen(f->summary);
    snprintf(f->summary + len, sizeof(f->summary) - len,
             " This 41220 was logged more than %s before its probes ran (event_age_ms): they "
             "show today's state, not the state then.", span);
}

/* ---- the fix ---- */

static void step(struct diagnosis *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void step(struct diagnosis *d, const char *fmt, ...)
{
    if (d->n_remediation == DIAGNOSIS_MAX_STEPS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->remediation[d->n_remediation++], sizeof(d->remediation[0]), fmt, ap);
    va_end(ap);
}

/* The connector's names of its files and server, for the steps. */
struct names {
    char ini[PATH_MAX + 64], id[PATH_MAX + 64], server[320];
};

static void names_of(const struct diagnosis *d, const struct probe_report *r, struct names *n)
{
    const struct enrich_connector *c = d->connector;
    char buf[PATH_MAX + 64];
    snprintf(n->ini, sizeof(n->ini), "%s", conn_name(r ? r->ini_name : NULL, c ? c->notes_ini : NULL, buf, sizeof(buf)));
    snprintf(n->id, sizeof(n->id), "%s", conn_name(r ? r->id_name : NULL, c ? c->id_file : NULL, buf, sizeof(buf)));
    if (c && c->server_host)
        snprintf(n->server, sizeof(n->server), "%s, port %d", c->server_host, c->server_port);
    else
        snprintf(n->server, sizeof(n->server), "see the connector's configuration");
}

/* One step per check that could not be made: what makes it possible, or how to check by hand. */
static void fix_unverified(struct diagnosis *d, const struct probe_report *r, const struct names *n)
{
    const struct enrich_connector *c = d->connector;
    const char *user = c && c->service_user ? c->service_user : "";
    if (r->key_why == PROBE_WHY_UNMAPPED_PATH)
        step(d, "Add a path_map entry for the drive or share of %s (KeyFileName) so that it can be "
             "compared with the connector's ID file.", r->key_name);
    else if (r->key_why == PROBE_WHY_REFUSED_PATH)
        step(d, "On the connector machine, check that KeyFileName=%s names the connector's ID file "
             "%s, or write its full path without '..' so that it can be checked from here.",
             r->key_value, n->id);
    else if (r->key_why)
        step(d, "On the connector machine, check that KeyFileName=%s in %s names the connector's "
             "ID file %s: %s.", r->key_value, n->ini, n->id, why_text(r->key_why));
    if (r->ini_why)
        step(d, "On the connector machine, check that %s is there and readable: %s.", n->ini,
             why_text(r->ini_why));
    if (r->id_why == PROBE_WHY_UNKNOWN_ACCOUNT)
        step(d, "Set service_user to the local account the share maps the connector's Windows "
             "account to (%s does not exist on this collector), or check on the connector machine "
             "that its service account can read %s.", user, n->id);
    else if (r->id_why == PROBE_WHY_NO_ACCOUNT || r->id_why == PROBE_WHY_NETWORK_FS)
        step(d, "On the connector machine, check that the connector's service account can read its "
             "ID file %s: %s.", n->id, r->id_why == PROBE_WHY_NETWORK_FS
                 ? "this collector sees the share's mode bits, not the file's Windows ACL (a cifs "
                   "mount with cifsacl shows the ACL)"
                 : "no service_user names the local account the share maps it to");
    else if (r->id_why)
        step(d, "On the connector machine, check that its ID file %s is there and readable by its "
             "service account: %s.", n->id, why_text(r->id_why));
}

static void fix_server(struct diagnosis *d, const struct probe_report *r,
                       const struct context_signals *sig, const struct names *n, bool resolve)
{
    bool agrees = sig && sig->connect_failure;
    if (r && r->server_checked && r->server.status == PROBE_NET_REACHABLE) {
        step(d, "The Notes server (%s) answers this collector now: restart the connector if it has "
             "not recovered by itself, and if 41220 recurs check the network between the "
             "connector machine and the server at those times.", n->server);
        return;
    }
    if (agrees && resolve)
        step(d, "Make the Notes server's name (%s) resolve on the connector machine (DNS, or the "
             "hosts file).", n->server);
    else if (agrees)
        step(d, "Restore the connection from the connector machine to the Notes server (%s): the "
             "server and its Notes RPC port up, no firewall in between.", n->server);
    else
        step(d, "From the connector machine, check that a Notes client can open the Notes server "
             "(%s): it did not %s this collector, and whether it does for the connector machine "
             "was not seen.", n->server, resolve ? "resolve on" : "answer");
    step(d, agrees ? "Check that a Notes client on that machine can open the server, then restart "
                     "the connector."
                   : "If it cannot, restore name resolution and connectivity (the server and its "
                     "Notes RPC port up, no firewall in between), then restart the connector.");
}

static void fix_share(struct diagnosis *d, const struct probe_report *r)
{
    for (int i = 0; r && i < r->n_shares; i++) {
        const struct probe_share *s = &r->shares[i];
        if (s->available)
            continue;
        if (s->error == EACCES || s->error == EPERM)
            step(d, "Give this collector's account read and search access to %s, where the "
                 "connector's %s is mapped, then run `lme-ingest diagnose` again: until then "
                 "nothing on it can be checked.", s->local, s->windows);
        else
            step(d, "Mount the connector's %s at %s on this collector (or correct its path_map "
                 "entry), then run `lme-ingest diagnose` again: until then nothing on it can be "
                 "checked.", s->windows, s->local);
    }
    step(d, "The connector itself may be fine: its browse log, just before a 41220, names the first "
         "failure.");
}

/* A cause's fixed steps, its %s filled with the connector's names. */
static void fixed_steps(struct diagnosis *d, const struct cause_info *info, const struct names *n)
{
    char text[1024];
    const char *first = info->args == FIX_ID ? n->id : n->ini;
    for (int i = 0; i < 3 && info->remediation[i]; i++) {
        if (info->args == FIX_NO_ARG || i > 0)
            snprintf(text, sizeof(text), "%s", info->remediation[i]);
        else
            snprintf(text, sizeof(text), info->remediation[i], first, n->id);
        step(d, "%s", text);
    }
}

static void set_remediation(struct diagnosis *d, const struct probe_report *r,
                            const struct context_signals *sig)
{
    struct names n;
    names_of(d, r, &n);
    enum diagnosis_cause cause = diagnosis_cause(d);
    if (cause == CAUSE_NOTES_SERVER_UNRESOLVABLE || cause == CAUSE_NOTES_SERVER_UNREACHABLE)
        fix_server(d, r, sig, &n, cause == CAUSE_NOTES_SERVER_UNRESOLVABLE);
    else if (cause == CAUSE_SHARE_UNAVAILABLE)
        fix_share(d, r);
    else if (cause == CAUSE_UNVERIFIED && r)
        fix_unverified(d, r, &n);
    else
        fixed_steps(d, &causes[cause], &n);
}

/* ---- making it ---- */

static void judge_probes(struct diagnosis *d, const struct probe_report *r,
                         const struct context_signals *signals)
{
    d->probed_at_ms = r->probed_at_ms;
    judge_shares(d, r);
    judge_notes_ini(d, r);
    judge_id_file(d, r);
    judge_server(d, r, signals);
    judge_exchconn(d, r);
}

void diagnosis_make(const struct enrich_connector *connector, const struct probe_report *report,
                    const struct context_signals *signals, const struct diagnosis_age *age,
                    bool for_event, struct diagnosis *d)
{
    /* the header only: every entry of the arrays is written whole when it is added, and zeroing
     * them all (about 70 KiB) cost more than the whole rest of a diagnosis */
    memset(d, 0, offsetof(struct diagnosis, findings));
    d->n_findings = d->n_evidence = d->n_remediation = 0;
    d->connector = connector;
    d->probed = report != NULL;
    d->old_event = report && age && age->age_ms > age->horizon_ms;
    if (report)
        judge_probes(d, report, signals);
    if (d->old_event)
        weigh_age(d);
    if (signals)
        judge_log(d, signals, report != NULL);
    sort_findings(d);
    if (d->n_findings == 0 || d->findings[0].score < SCORE_FOUND) {
        make_room_at_top(d);
        set_fallback(d, report, for_event);
    }
    if (d->old_event)
        note_age(d, age);
    if (!report && for_event && connector)
        add_unprobed(d); /* without a connector, none of them can ever be probed: not listed */
    set_remediation(d, report, signals);
}

/* ---- output ---- */

void diagnosis_format_time(int64_t ms, char out[64])
{
    lme_utc_format(ms, out);
}

/* ---- JSON, written directly: a diagnosis is made for every new 41220 situation, so it must be
 * cheap, and log text and paths in it may be any bytes (json_str.h makes them valid JSON). ---- */

static int put_lit(struct lme_buf *out, const char *s)
{
    return lme_buf_append_str(out, s);
}

static int put_str(struct lme_buf *out, const char *s)
{
    return lme_json_append_string(out, s, strlen(s));
}

/* ,"key":"value" (or without the comma for the first member) */
static int put_member(struct lme_buf *out, bool first, const char *key, const char *value)
{
    int rc = put_lit(out, first ? "\"" : ",\"");
    if (!rc)
        rc = put_lit(out, key);
    if (!rc)
        rc = put_lit(out, "\":");
    return rc ? rc : put_str(out, value);
}

static int put_remediation(struct lme_buf *out, const struct diagnosis *d, enum diagnosis_cause cause)
{
    int rc = put_lit(out, ",\"remediation\":[");
    for (int i = 0; !rc && i < d->n_remediation; i++)
        rc = (i ? put_lit(out, ",") : 0) || put_str(out, d->remediation[i]);
    if (!rc)
        rc = put_lit(out, "],\"references\":[");
    for (int i = 0; !rc && i < 3 && causes[cause].references[i]; i++)
        rc = (i ? put_lit(out, ",") : 0) || put_str(out, causes[cause].references[i]);
    return rc ? LME_ENOMEM : put_lit(out, "]");
}

static int put_evidence(struct lme_buf *out, const struct diagnosis *d)
{
    int rc = put_lit(out, ",\"evidence\":[");
    for (int i = 0; !rc && i < d->n_evidence; i++) {
        const struct diagnosis_evidence *e = &d->evidence[i];
        rc = put_lit(out, i ? ",{" : "{") || put_member(out, true, "source", e->source) ||
             put_member(out, false, "check", e->check) || put_member(out, false, "result", e->result) ||
             (e->reason && put_member(out, false, "reason", e->reason)) ||
             put_member(out, false, "detail", e->detail) || put_lit(out, "}");
    }
    return rc ? LME_ENOMEM : put_lit(out, "]");
}

static int put_candidates(struct lme_buf *out, const struct diagnosis *d)
{
    int rc = put_lit(out, ",\"candidates\":[");
    for (int i = 1; !rc && i < d->n_findings; i++) {
        const struct diagnosis_finding *f = &d->findings[i];
        rc = put_lit(out, i > 1 ? ",{" : "{") || put_member(out, true, "cause", causes[f->cause].name) ||
             put_member(out, false, "confidence",
                        diagnosis_confidence_name(diagnosis_confidence_of(f->score))) ||
             put_member(out, false, "summary", f->summary) || put_lit(out, "}");
    }
    return rc ? LME_ENOMEM : put_lit(out, "]");
}

int diagnosis_to_json(const struct diagnosis *d, struct lme_buf *out)
{
    const struct diagnosis_finding *top = &d->findings[0];
    int rc = put_lit(out, "{") || put_member(out, true, "cause", causes[top->cause].name) ||
             put_member(out, false, "confidence",
                        diagnosis_confidence_name(diagnosis_confidence_of(top->score))) ||
             put_member(out, false, "summary", top->summary);
    if (!rc && d->connector)
        rc = put_member(out, false, "connector", d->connector->name);
    if (!rc)
        rc = put_evidence(out, d) || put_remediation(out, d, top->cause);
    if (!rc && d->probed) {
        char when[64];
        diagnosis_format_time(d->probed_at_ms, when);
        rc = put_member(out, false, "probed_at", when);
    }
    if (!rc && d->probes_late)
        rc = put_lit(out, ",\"probes_late\":true");
    if (!rc)
        rc = put_candidates(out, d) || put_lit(out, "}");
    return rc ? LME_ENOMEM : 0;
}

static int appendf(struct lme_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int appendf(struct lme_buf *out, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return lme_buf_append_str(out, line);
}

int diagnosis_to_text(const struct diagnosis *d, struct lme_buf *out)
{
    const struct diagnosis_finding *top = &d->findings[0];
    int rc = appendf(out, "connector %s: %s (%s confidence)\n  %s\n",
                     d->connector ? d->connector->name : "(none)", causes[top->cause].name,
                     diagnosis_confidence_name(diagnosis_confidence_of(top->score)), top->summary);
    if (!rc && d->n_evidence)
        rc = appendf(out, "  evidence:\n");
    for (int i = 0; !rc && i < d->n_evidence; i++) {
        const struct diagnosis_evidence *e = &d->evidence[i];
        rc = appendf(out, "    [%s] %s: %s%s%s%s - %s\n", e->source, e->check, e->result,
                     e->reason ? " (" : "", e->reason ? e->reason : "", e->reason ? ")" : "",
                     e->detail);
    }
    for (int i = 0; !rc && i < d->n_remediation; i++)
        rc = appendf(out, "%s    %d. %s\n", i == 0 ? "  fix:\n" : "", i + 1, d->remediation[i]);
    for (int i = 0; !rc && i < 3 && causes[top->cause].references[i]; i++)
        rc = appendf(out, "%s%s%s", i == 0 ? "  references: " : ", ", causes[top->cause].references[i],
                     i == 2 || !causes[top->cause].references[i + 1] ? "\n" : "");
    for (int i = 1; !rc && i < d->n_findings; i++)
        rc = appendf(out, "%s    %s (%s): %s\n", i == 1 ? "  also possible:\n" : "",
                     causes[d->findings[i].cause].name,
                     diagnosis_confidence_name(diagnosis_confidence_of(d->findings[i].score)),
                     d->findings[i].summary);
    return rc;
}
