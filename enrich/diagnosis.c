/* The diagnosis rules: see diagnosis.h and docs/diagnosis.md. Every probe and log signal becomes
 * evidence; each fault found becomes a finding with a score, and the highest score is the cause.
 * Scores encode how directly a signal explains a 41220: a probe that fails for good outranks a
 * log line that only fits, and a transient sign (a 64210 while the server answers now) ranks low. */
#include "diagnosis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_str.h"

struct cause_info {
    const char *name;
    const char *references[3];
    const char *remediation[3]; /* %s: the connector's file or server, see fix_arg */
};

static const struct cause_info causes[CAUSE_COUNT] = {
    [CAUSE_NONE] = { "none", { NULL }, { NULL } },
    [CAUSE_NOTES_INI_MISSING] = { "notes_ini_missing", { "Q320032", "Q245545" }, {
        "In the connector's properties (Advanced tab), set \"Notes INI file location\" to the full "
        "path and name of the Notes.ini it must use (%s), e.g. C:\\WINNT\\Notes.ini.",
        "Make sure that file exists and the connector's service account can read it.",
        "Restart the connector and check the browse log for 41207 \"Successfully Initialized\"." } },
    [CAUSE_KEYFILENAME_MISMATCH] = { "keyfilename_mismatch", { "Q245545" }, {
        "Edit the Notes.ini the connector uses so that its KeyFileName= line names the connector's "
        "ID file (%s); a relative name is read from the Directory= folder.",
        "Restart the connector.",
        "On the Notes server console, \"show users\" should then list the connector's ID." } },
    [CAUSE_ID_FILE_MISSING] = { "id_file_missing", { "Q245545" }, {
        "Put the connector's ID file back at %s (from a backup, or exported again by the Notes "
        "administrator) and keep KeyFileName= pointing at it.",
        "Restart the connector." } },
    [CAUSE_ID_FILE_UNREADABLE] = { "id_file_unreadable", { "Q245545" }, {
        "Give the connector's service account read access to its ID file (%s) and to the "
        "folders above it.",
        "Restart the connector." } },
    [CAUSE_NOTES_SERVER_UNRESOLVABLE] = { "notes_server_unresolvable", { "Q245545", "Q198832" }, {
        "Make the Notes server's name (%s) resolve on the connector machine (DNS, or the hosts "
        "file).",
        "Check that a Notes client on that machine can open the server, then restart the "
        "connector." } },
    [CAUSE_NOTES_SERVER_UNREACHABLE] = { "notes_server_unreachable", { "Q245545", "Q198832" }, {
        "Restore the connection from the connector machine to the Notes server (%s): the server "
        "and its Notes RPC port up, no firewall in between.",
        "Check that a Notes client on that machine can open the server, then restart the "
        "connector." } },
    [CAUSE_NOTES_API_LOCK_TIMEOUT] = { "notes_api_lock_timeout", { "Q197509" }, {
        "Restart the connector: two of its processes raced for the Notes API's start-up lock, "
        "which is transient.",
        "If it happens at every start, install the Exchange 5.5 update that makes the connector "
        "restart by itself." } },
    [CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND] = { "mail_router_mailbox_not_found", { "Q293227" }, {
        "The Notes server has several mailboxes (Mail1.box, Mail2.box, ...) while the connector "
        "routes to Mail.box: set the connector's Notes Mail Router mailbox to Mail1.box.",
        "Restart the connector." } },
    [CAUSE_UNKNOWN] = { "unknown", { "Q245545" }, {
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
    return score >= 80 ? CONFIDENCE_HIGH : score >= 50 ? CONFIDENCE_MEDIUM : CONFIDENCE_LOW;
}

enum diagnosis_cause diagnosis_cause(const struct diagnosis *d)
{
    return d->n_findings ? d->findings[0].cause : CAUSE_UNKNOWN;
}

static void add_evidence(struct diagnosis *d, const char *source, const char *check,
                         const char *result, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add_evidence(struct diagnosis *d, const char *source, const char *check,
                         const char *result, const char *fmt, ...)
{
    if (d->n_evidence == DIAGNOSIS_MAX_EVIDENCE)
        return;
    struct diagnosis_evidence *e = &d->evidence[d->n_evidence++];
    e->source = source;
    e->check = check;
    e->result = result;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
}

/* Adds a finding, or raises the score of the same cause found again. */
static void add_finding(struct diagnosis *d, enum diagnosis_cause cause, int score,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add_finding(struct diagnosis *d, enum diagnosis_cause cause, int score,
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
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->summary, sizeof(f->summary), fmt, ap);
    va_end(ap);
}

static void judge_notes_ini(struct diagnosis *d, const struct probe_report *r)
{
    const char *ini = d->connector && d->connector->notes_ini ? d->connector->notes_ini : "?";
    if (r->ini != PROBE_INI_NOT_CONFIGURED)
        add_evidence(d, "probe", "notes_ini", probes_ini_status_name(r->ini), "%s", r->ini_detail);
    if (r->ini != PROBE_INI_OK && r->ini != PROBE_INI_NOT_CONFIGURED)
        add_finding(d, CAUSE_NOTES_INI_MISSING, 95,
                    "The Notes.ini the connector is set to use (%s) is %s, so the Notes API "
                    "cannot open a session.", ini,
                    r->ini == PROBE_INI_MISSING ? "missing" : r->ini == PROBE_INI_NOT_FILE
                        ? "not a file" : r->ini == PROBE_INI_TOO_LARGE ? "not a Notes.ini (too large)"
                        : "unreadable");
    if (r->key == PROBE_KEY_NOT_CHECKED)
        return;
    add_evidence(d, "probe", "keyfilename", probes_key_status_name(r->key), "%s", r->key_detail);
    if (r->key == PROBE_KEY_NO_LINE)
        add_finding(d, CAUSE_KEYFILENAME_MISMATCH, 92,
                    "The connector's Notes.ini (%s) has no KeyFileName= line, so the Notes API "
                    "does not open the connector's ID.", ini);
    else if (r->key == PROBE_KEY_MISMATCH)
        add_finding(d, CAUSE_KEYFILENAME_MISMATCH, 92,
                    "The connector's Notes.ini names KeyFileName=%s, not the connector's ID file "
                    "%s.", r->key_value, d->connector && d->connector->id_file ? d->connector->id_file : "?");
    else if (r->key == PROBE_KEY_UNMAPPED)
        add_finding(d, CAUSE_KEYFILENAME_MISMATCH, 30,
                    "KeyFileName=%s could not be compared with the connector's ID file (its path "
                    "is outside path_map).", r->key_value);
}

static void judge_id_file(struct diagnosis *d, const struct probe_report *r)
{
    if (!r->id_checked)
        return;
    enum probe_file_status s = r->id.status;
    add_evidence(d, "probe", "id_file", probe_file_status_name(s), "%s", r->id.detail);
    if (s == PROBE_FILE_MISSING || s == PROBE_FILE_NOT_REGULAR || s == PROBE_FILE_EMPTY)
        add_finding(d, CAUSE_ID_FILE_MISSING, 90, "The connector's ID file is %s: %s",
                    s == PROBE_FILE_MISSING ? "missing" : s == PROBE_FILE_EMPTY ? "empty"
                                                                                : "not a file",
                    r->id.detail);
    else if (s == PROBE_FILE_UNREADABLE)
        add_finding(d, CAUSE_ID_FILE_UNREADABLE, 88,
                    "The connector's service account cannot read its ID file: %s", r->id.detail);
    else if (s != PROBE_FILE_OK)
        add_finding(d, CAUSE_ID_FILE_UNREADABLE, 30,
                    "Whether the service account can read the ID file could not be told: %s",
                    r->id.detail);
}

static void judge_server(struct diagnosis *d, const struct probe_report *r,
                         const struct context_signals *sig)
{
    if (!r->server_checked)
        return;
    enum probe_net_status s = r->server.status;
    add_evidence(d, "probe", "notes_server", probe_net_status_name(s), "%s", r->server.detail);
    if (s == PROBE_NET_UNRESOLVABLE || s == PROBE_NET_RESOLVE_TIMEOUT)
        add_finding(d, CAUSE_NOTES_SERVER_UNRESOLVABLE, s == PROBE_NET_UNRESOLVABLE ? 86 : 60,
                    "The Notes server's name does not resolve on this machine: %s", r->server.detail);
    else if (s != PROBE_NET_REACHABLE)
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, sig && sig->connect_failure ? 90 : 85,
                    "The Notes server cannot be reached: %s", r->server.detail);
    else if (sig && sig->connect_failure)
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, 55,
                    "The connector could not connect to the Notes server%s%s (64210) although it "
                    "answers now: a passing outage.", sig->server[0] ? " " : "", sig->server);
}

static void judge_log(struct diagnosis *d, const struct context_signals *sig, bool probed)
{
    for (int i = 0; i < sig->n_seen; i++) {
        const struct context_record *rec = &sig->seen[i];
        add_evidence(d, "log", rec->code, "present", "%s%s%s%s", rec->code,
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
        add_finding(d, CAUSE_NOTES_API_LOCK_TIMEOUT, config_fault >= 85 ? 80 : 93,
                    "Just before, the connector timed out on the Notes API's start-up lock "
                    "(01211 {Timeout on resource lock}): a start-up race, not a configuration fault.");
    if (sig->mailbox_not_found)
        add_finding(d, CAUSE_MAIL_ROUTER_MAILBOX_NOT_FOUND, config_fault >= 85 ? 60 : 75,
                    "Just before, the connector failed with {Not found}: on a Notes server with "
                    "several mailboxes, its mail router still aims at Mail.box.");
    if ((sig->connect_failure || sig->mail_system_failure) && !probed) {
        /* 64210 / {Mail system failure}: a Notes.ini path or the server; only probes tell */
        add_finding(d, CAUSE_NOTES_INI_MISSING, 45,
                    "The connector could not reach the Notes server (64210, {Mail system "
                    "failure}): its Notes.ini location may be wrong (no probe results to tell).");
        add_finding(d, CAUSE_NOTES_SERVER_UNREACHABLE, 45,
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
        add_finding(d, config_causes[i], 20 - (int)i, "Not probed in time.");
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

void diagnosis_make(const struct enrich_connector *connector, const struct probe_report *report,
                    const struct context_signals *signals, bool for_event, struct diagnosis *d)
{
    memset(d, 0, sizeof(*d));
    d->connector = connector;
    d->probed = report != NULL;
    if (report) {
        d->probed_at_ms = report->probed_at_ms;
        judge_notes_ini(d, report);
        judge_id_file(d, report);
        judge_server(d, report, signals);
        if (report->exchconn_checked)
            add_evidence(d, "probe", "exchconn", "read", "%s", report->exchconn_detail);
    }
    if (signals)
        judge_log(d, signals, report != NULL);
    sort_findings(d);
    bool found = d->n_findings > 0 && d->findings[0].score >= 50;
    if (!found) { /* nothing explains it: say so, with what was ruled out */
        memmove(&d->findings[1], &d->findings[0],
                sizeof(d->findings[0]) * (size_t)(d->n_findings < DIAGNOSIS_MAX_FINDINGS - 1
                                                      ? d->n_findings : DIAGNOSIS_MAX_FINDINGS - 1));
        d->n_findings = d->n_findings < DIAGNOSIS_MAX_FINDINGS ? d->n_findings + 1 : d->n_findings;
        d->findings[0].cause = for_event ? CAUSE_UNKNOWN : CAUSE_NONE;
        d->findings[0].score = for_event ? 0 : 100;
        snprintf(d->findings[0].summary, sizeof(d->findings[0].summary), "%s",
                 !for_event ? "Every probe passed."
                 : report   ? "No probe failed and the records before it show no known cause; "
                              "the evidence lists what was ruled out."
                 : connector ? "The probes did not finish in time and the records before it "
                               "point at no single cause; the candidates list what remains "
                               "possible."
                             : "No connector is configured for this input, so nothing was "
                               "probed, and the records before it point at no single cause.");
    }
    if (!report && for_event && connector)
        add_unprobed(d); /* without a connector, none of them can ever be probed: not listed */
}

/* ---- output ---- */

static void format_time(int64_t ms, char out[64])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The file or server a remedy is about. */
static const char *fix_arg(const struct diagnosis *d, enum diagnosis_cause cause, char *buf,
                           size_t size)
{
    const struct enrich_connector *c = d->connector;
    if (!c)
        return "see the connector's configuration";
    if (cause == CAUSE_NOTES_INI_MISSING)
        return c->notes_ini ? c->notes_ini : "see the connector's configuration";
    if (cause == CAUSE_NOTES_SERVER_UNRESOLVABLE || cause == CAUSE_NOTES_SERVER_UNREACHABLE) {
        if (!c->server_host)
            return "see the connector's configuration";
        snprintf(buf, size, "%s, port %d", c->server_host, c->server_port);
        return buf;
    }
    return c->id_file ? c->id_file : "see the connector's configuration";
}

/* ---- JSON, written directly: a diagnosis is made for every new 41220 situation, so it must be
 * cheap, and log text in it may be any bytes (json_str.h makes them valid JSON). ---- */

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
    char arg[320], step[1024];
    int rc = put_lit(out, ",\"remediation\":[");
    for (int i = 0; !rc && i < 3 && causes[cause].remediation[i]; i++) {
        snprintf(step, sizeof(step), causes[cause].remediation[i], fix_arg(d, cause, arg, sizeof(arg)));
        rc = (i ? put_lit(out, ",") : 0) || put_str(out, step);
    }
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
        format_time(d->probed_at_ms, when);
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
    for (int i = 0; !rc && i < d->n_evidence; i++)
        rc = appendf(out, "    [%s] %s: %s - %s\n", d->evidence[i].source, d->evidence[i].check,
                     d->evidence[i].result, d->evidence[i].detail);
    char arg[320], step[1024];
    for (int i = 0; !rc && i < 3 && causes[top->cause].remediation[i]; i++) {
        snprintf(step, sizeof(step), causes[top->cause].remediation[i],
                 fix_arg(d, top->cause, arg, sizeof(arg)));
        rc = appendf(out, "%s    %d. %s\n", i == 0 ? "  fix:\n" : "", i + 1, step);
    }
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
