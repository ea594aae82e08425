/* The 41220 diagnosis end to end, on fixtures the test builds: a mapped Windows tree with a real
 * Notes.ini and ID file, a loopback listener for a reachable Notes server, a closed loopback port
 * for a refused one, a .invalid name, real accounts (nobody, and one that does not exist), an
 * empty folder standing for a share that is not mounted, symlinks leading out of the mapping,
 * names that are not UTF-8. Each case through `lme-ingest diagnose --json` (cause, evidence, exit
 * status) and through `run --once` on a 41220 logged now; the Q197509 and Q320032 samples and a
 * 1998 log through `run --once`; the quick start's sample; a burst of 10,000 41220s costing one
 * probe round. Never connects outside loopback.
 * Usage: test_diagnose LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "run_cmd.h"

#define EXIT_FAULT 1
#define EXIT_UNVERIFIED 3

static const char *binary, *fixtures;
static char *tmp;
static int listener = -1, listen_port, closed_port;

/* A path in the test's folder, in one of a few rotating buffers: for immediate use only. */
static const char *in_tmp(const char *name)
{
    static char path[8][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", tmp, name);
    return p;
}

/* A path in the test's folder, kept in the caller's buffer (a struct conn outlives in_tmp's). */
static const char *path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmp, name);
    return buf;
}

static int loopback_socket(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* The mapped tree: c/winnt/Notes.ini naming KeyFileName (relative names read from
 * d:\notes\data), and d/Notes/Data/Connector.ID, which exists. */
static void write_tree_in(const char *key_file_name, const char *directory)
{
    char text[512];
    mkdir(in_tmp("c"), 0755);
    mkdir(in_tmp("c/winnt"), 0755);
    mkdir(in_tmp("d"), 0755);
    mkdir(in_tmp("d/Notes"), 0755);
    mkdir(in_tmp("d/Notes/Data"), 0755);
    int n = snprintf(text, sizeof(text), "\xef\xbb\xbf[Notes]\r\nKitType=1\r\nDirectory=%s\r\n"
                                         "; the connector's ID\r\nkeyfilename = %s\r\n",
                     directory, key_file_name);
    unlink(in_tmp("c/winnt/Notes.ini"));
    assert_int_equal(write_file(in_tmp("c/winnt/Notes.ini"), text, (size_t)n), 0);
    assert_int_equal(write_file(in_tmp("d/Notes/Data/Connector.ID"), "id-file-bytes", 13), 0);
    chmod(in_tmp("d/Notes/Data/Connector.ID"), 0644);
}

static void write_tree(const char *key_file_name)
{
    write_tree_in(key_file_name, "d:\\notes\\data");
}

static int setup(void **state)
{
    (void)state;
    if (!(tmp = make_temp_dir()))
        return -1;
    chmod(tmp, 0755); /* the service account must be able to look inside */
    listener = loopback_socket(&listen_port);
    int closed = loopback_socket(&closed_port);
    if (listener < 0 || closed < 0 || listen(listener, 128) != 0 ||
        fcntl(listener, F_SETFL, O_NONBLOCK) != 0)
        return -1;
    close(closed); /* nothing listens there now: connections are refused */
    write_tree("connector.id");
    return 0;
}

/* Every test starts from the healthy tree, whatever the one before left. */
static int reset_tree(void **state)
{
    (void)state;
    write_tree("connector.id");
    return 0;
}

/* The probes' connections to the listener, accepted and closed, so that its queue never fills
 * (a full queue would make the "reachable" server time out). */
static void drain_listener(void)
{
    int fd;
    while ((fd = accept(listener, NULL, NULL)) >= 0)
        close(fd);
}

static int teardown(void **state)
{
    (void)state;
    close(listener);
    remove_tree(tmp);
    free(tmp);
    return 0;
}

/* One connector; a NULL field (0 for port) keeps the healthy default. */
struct conn {
    const char *notes_ini;  /* default c/winnt/Notes.ini */
    const char *id_file;    /* default d/Notes/Data/Connector.ID */
    const char *host;       /* default 127.0.0.1 */
    int port;               /* default the listener's */
    const char *user;       /* default nobody; "" for no service_user at all */
    const char *path_map;   /* a JSON object; default C:\ -> c/, d:/ -> d/ */
    const char *enrichment; /* a JSON object; default a 1.5 s probe timeout */
};

static const char *write_config(const struct conn *c, const char *inputs)
{
    drain_listener();
    char text[16384], user[300] = "", map[2 * PATH_MAX + 64];
    if (!c->user || c->user[0])
        snprintf(user, sizeof(user), "\"service_user\":\"%s\",", c->user ? c->user : "nobody");
    snprintf(map, sizeof(map), "{\"C:\\\\\":\"%s/c/\",\"d:/\":\"%s/d/\"}", tmp, tmp);
    int n = snprintf(text, sizeof(text),
        "{\"host_name\":\"exch01\",\"state_dir\":\"%s/state\",\"inputs\":[%s],"
        "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/out.jsonl\"}],"
        "\"connectors\":{\"notes-main\":{\"notes_ini\":\"%s\",\"id_file\":\"%s\","
        "\"notes_server\":{\"host\":\"%s\",\"port\":%d},%s\"path_map\":%s}},"
        "\"enrichment\":%s}",
        tmp, inputs ? inputs : "{\"type\":\"file\",\"paths\":[\"/nonexistent/*.log\"]}", tmp,
        c->notes_ini ? c->notes_ini : in_tmp("c/winnt/Notes.ini"),
        c->id_file ? c->id_file : in_tmp("d/Notes/Data/Connector.ID"),
        c->host ? c->host : "127.0.0.1", c->port ? c->port : listen_port, user,
        c->path_map ? c->path_map : map,
        c->enrichment ? c->enrichment : "{\"probe_timeout_ms\":1500}");
    assert_true(n < (int)sizeof(text));
    assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
    return in_tmp("lme.json");
}

static const struct conn healthy = { 0 };

static int fill_accept_queue(int port);

static json_t *diagnose_json(const char *cfg, int expect_status)
{
    struct run_result res;
    char *argv[] = { (char *)binary, "diagnose", "--config", (char *)cfg, "--json", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    if (res.status != expect_status)
        fprintf(stderr, "status %d\nout: %s\nerr: %s\n", res.status, res.out, res.err);
    assert_int_equal(res.status, expect_status);
    json_t *j = json_loads(res.out, 0, NULL); /* fails on any byte that is not UTF-8 */
    if (!j)
        fprintf(stderr, "not JSON: %s\n", res.out);
    assert_non_null(j);
    run_result_free(&res);
    return j;
}

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The first evidence entry of check in a diagnosis (with that result, when result is given),
 * or NULL. */
static json_t *evidence_with(json_t *d, const char *check, const char *result)
{
    json_t *ev;
    size_t i;
    json_array_foreach(json_object_get(d, "evidence"), i, ev)
        if (strcmp(str(ev, "check"), check) == 0 && (!result || strcmp(str(ev, "result"), result) == 0))
            return ev;
    return NULL;
}

static json_t *evidence_of(json_t *d, const char *check)
{
    return evidence_with(d, check, NULL);
}

/* What a case expects of a diagnosis: the cause and, when check is set, the evidence of that
 * check (result, and reason when given). */
struct expect {
    const char *cause, *confidence, *check, *result, *reason;
};

static void check_diagnosis(json_t *d, const struct expect *x)
{
    char *dump = json_dumps(d, 0);
    if (strcmp(str(d, "cause"), x->cause) != 0)
        fail_msg("cause %s, expected %s: %s", str(d, "cause"), x->cause, dump);
    if (x->confidence && strcmp(str(d, "confidence"), x->confidence) != 0)
        fail_msg("confidence %s, expected %s: %s", str(d, "confidence"), x->confidence, dump);
    assert_string_equal(str(d, "connector"), "notes-main");
    json_t *ev = x->check ? evidence_with(d, x->check, x->result) : NULL;
    if (x->check && !ev)
        fail_msg("no evidence %s=%s in %s", x->check, x->result, dump);
    if (x->reason && (!str(ev, "reason") || strcmp(str(ev, "reason"), x->reason) != 0))
        fail_msg("no reason %s for %s in %s", x->reason, x->check, dump);
    free(dump);
}

static json_t *expect_diagnose(const struct conn *c, int status, const struct expect *x)
{
    json_t *j = diagnose_json(write_config(c, NULL), status);
    check_diagnosis(j, x);
    return j;
}

static void expect_cause(const struct conn *c, int status, const char *cause, const char *check,
                         const char *result)
{
    struct expect x = { cause, NULL, check, result, NULL };
    json_decref(expect_diagnose(c, status, &x));
}

/* ---- run --once ---- */

/* A browse-log record at time t (UTC), its trailer on the next line. */
static void add_record(char *out, size_t size, time_t t, const char *code_and_text)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t len = strlen(out);
    char when[32];
    strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm);
    snprintf(out + len, size - len, "%s - LME-NOTES-MEXNTS(0a18) 1 %s\r\n>> ntshcs(2055)\r\n", when,
             code_and_text);
}

/* Runs `run --once` on the log files the glob matches (an input in UTC) and returns the last
 * 41220 event; *err (when not NULL) gets the daemon's log, freed by the caller. */
static json_t *run_glob(const struct conn *c, const char *glob, char **err)
{
    char inputs[3 * PATH_MAX];
    snprintf(inputs, sizeof(inputs),
             "{\"type\":\"file\",\"paths\":[\"%s\"],\"connector\":\"notes-main\",\"timezone\":\"UTC\"}",
             glob);
    const char *cfg = write_config(c, inputs);
    unlink(in_tmp("out.jsonl"));
    remove_tree(in_tmp("state")); /* no checkpoints: read the log again */
    struct run_result res;
    char *argv[] = { (char *)binary, "run", "--config", (char *)cfg, "--once", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    if (res.status != 0)
        fprintf(stderr, "run: %s\n", res.err);
    assert_int_equal(res.status, 0);
    if (err)
        *err = strdup(res.err);
    run_result_free(&res);
    size_t len;
    char *text = read_file(in_tmp("out.jsonl"), &len);
    json_t *events = events_parse_records(text, len);
    free(text);
    json_t *found = NULL, *ev;
    size_t i;
    json_array_foreach(events, i, ev) {
        const char *code = event_str(ev, "event.code");
        if (code && strcmp(code, "41220") == 0) {
            json_decref(found);
            found = json_incref(ev);
        } else {
            assert_null(event_get(ev, "lme.diagnosis")); /* only 41220s get one */
        }
    }
    json_decref(events);
    assert_non_null(found);
    return found;
}

static json_t *run_sample(const struct conn *c, const char *sample)
{
    char glob[2 * PATH_MAX];
    snprintf(glob, sizeof(glob), "%s%s%s", sample[0] == '/' ? "" : fixtures,
             sample[0] == '/' ? "" : "/samples/", sample);
    return run_glob(c, glob, NULL);
}

/* A 41220 logged now (after a 64210 when with_64210), through `run --once`: its event. */
static json_t *run_now(const struct conn *c, bool with_64210, char **err)
{
    char log[1024] = "";
    time_t now = time(NULL);
    if (with_64210)
        add_record(log, sizeof(log), now, "64210:Unable to connect to to the Notes Server SERVERNAME/NOTESWAY.");
    add_record(log, sizeof(log), now, "41220:Error: no Notes Session Open.");
    assert_int_equal(write_file(in_tmp("now.log"), log, strlen(log)), 0);
    return run_glob(c, in_tmp("now.log"), err);
}

/* The case through `diagnose --json` (exit status, cause, evidence) and through `run --once` on
 * a 41220 logged now (the same cause, but unknown for none: an event always has a cause). */
static void expect_both(const struct conn *c, int status, const struct expect *x)
{
    json_decref(expect_diagnose(c, status, x));
    json_t *ev = run_now(c, false, NULL);
    struct expect for_event = *x;
    if (strcmp(x->cause, "none") == 0) {
        for_event.cause = "unknown";
        for_event.confidence = "low";
    }
    check_diagnosis(event_get(ev, "lme.diagnosis"), &for_event);
    json_int_t age = json_integer_value(event_get(ev, "lme.diagnosis.event_age_ms"));
    assert_non_null(event_get(ev, "lme.diagnosis.event_age_ms"));
    assert_true(age > -120000 && age < 120000); /* logged this second, probed about now */
    json_decref(ev);
}

/* ---- the tests ---- */

static void test_diagnose_healthy_connector(void **state)
{
    (void)state;
    json_t *j = diagnose_json(write_config(&healthy, NULL), 0);
    assert_string_equal(str(j, "cause"), "none");
    /* every check made and passed, found through the path map whatever the case of the names */
    json_t *ev;
    size_t i;
    json_array_foreach(json_object_get(j, "evidence"), i, ev) {
        const char *check = str(ev, "check");
        assert_string_equal(str(ev, "result"), strcmp(check, "notes_server") == 0 ? "reachable" : "ok");
        assert_null(json_object_get(ev, "reason"));
    }
    assert_int_equal(json_array_size(json_object_get(j, "evidence")), 6); /* two shares, four checks */
    json_decref(j);

    /* the text report an operator reads */
    struct run_result res;
    char *argv[] = { (char *)binary, "diagnose", "--config", (char *)in_tmp("lme.json"), NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "connector notes-main: none"));
    run_result_free(&res);

    /* and a 41220 logged now, with every probe passing: unknown, with what was ruled out */
    struct expect x = { "none", "high", "id_file", "ok", NULL };
    expect_both(&healthy, 0, &x);
}

static void test_diagnose_each_cause(void **state)
{
    (void)state;
    char path[2 * PATH_MAX];
    struct conn c = healthy;
    c.notes_ini = path_in(path, sizeof(path), "c/winnt/missing.ini");
    expect_cause(&c, EXIT_FAULT, "notes_ini_missing", "notes_ini", "missing");
    c.notes_ini = path_in(path, sizeof(path), "c/winnt");
    expect_cause(&c, EXIT_FAULT, "notes_ini_missing", "notes_ini", "not_a_file");
    c = healthy;
    c.id_file = path_in(path, sizeof(path), "d/Notes/Data/gone.id");
    expect_cause(&c, EXIT_FAULT, "keyfilename_mismatch", "id_file", "missing");
    c = healthy;
    c.host = "lme-test-notes.invalid";
    expect_cause(&c, EXIT_FAULT, "notes_server_unresolvable", NULL, NULL);
    c = healthy;
    c.port = closed_port;
    expect_cause(&c, EXIT_FAULT, "notes_server_unreachable", "notes_server", "refused");

    write_tree("admin.id"); /* KeyFileName names another ID */
    expect_cause(&healthy, EXIT_FAULT, "keyfilename_mismatch", "keyfilename", "mismatch");
    write_tree("connector.id");

    /* the ID file gone: KeyFileName still names it, the file is missing */
    unlink(in_tmp("d/Notes/Data/Connector.ID"));
    expect_cause(&healthy, EXIT_FAULT, "id_file_missing", "id_file", "missing");
    write_tree("connector.id");

    /* readable by the daemon (root) but not by the service account */
    chmod(in_tmp("d/Notes/Data/Connector.ID"), 0600);
    if (getpwnam("nobody") && geteuid() == 0)
        expect_cause(&healthy, EXIT_FAULT, "id_file_unreadable", "id_file", "unreadable");
    chmod(in_tmp("d/Notes/Data/Connector.ID"), 0644);
}

/* KeyFileName that cannot be checked (a UNC path, a drive no path_map entry covers, a '..'
 * path), a service_user unknown here, or none: unverified with why, never none; exit 3. */
static void test_unverified_checks(void **state)
{
    (void)state;
    static const struct {
        const char *key, *reason;
    } keys[] = {
        { "\\\\fileserver\\ids\\connector.id", "unmapped_path" },
        { "e:\\notes\\data\\connector.id", "unmapped_path" },
        { "..\\..\\notes\\data\\connector.id", "refused_path" },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        write_tree(keys[i].key);
        struct expect x = { "unverified", "low", "keyfilename", "unverified", keys[i].reason };
        expect_both(&healthy, EXIT_UNVERIFIED, &x);
    }
    write_tree("connector.id");

    struct conn c = healthy;
    c.user = "lme-no-such-user";
    struct expect x = { "unverified", "low", "id_file", "unverified", "unknown_account" };
    json_t *j = expect_diagnose(&c, EXIT_UNVERIFIED, &x);
    assert_non_null(strstr(str(j, "summary"), "id_file (unknown_account)"));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           "lme-no-such-user does not exist on this collector"));
    json_decref(j);
    expect_both(&c, EXIT_UNVERIFIED, &x);

    c.user = ""; /* no service_user: the file is there, who may read it is not known */
    struct expect none = { "unverified", "low", "id_file", "unverified", "no_account" };
    expect_both(&c, EXIT_UNVERIFIED, &none);

    /* a missing ID file is still a fault whatever the account */
    char gone[2 * PATH_MAX];
    c.user = "lme-no-such-user";
    c.id_file = path_in(gone, sizeof(gone), "d/Notes/Data/gone.id");
    expect_cause(&c, EXIT_FAULT, "keyfilename_mismatch", "id_file", "missing");
}

/* A path that resolves outside its mapped folder through a symlink is neither stat()ed nor
 * opened: its check is unverified (outside_mapping). The links here lead to the connector's own
 * files (a hard link outside the mapping), so following them would have said "ok". */
static void test_symlink_out_of_the_mapping_is_not_followed(void **state)
{
    (void)state;
    mkdir(in_tmp("outside"), 0755);
    unlink(in_tmp("outside/connector.id"));
    assert_int_equal(link(in_tmp("d/Notes/Data/Connector.ID"), in_tmp("outside/connector.id")), 0);
    const char *text = "[Notes]\r\nKeyFileName=d:\\notes\\data\\connector.id\r\n";
    assert_int_equal(write_file(in_tmp("outside/notes.ini"), text, strlen(text)), 0);

    /* the ID file named in the config is such a link */
    unlink(in_tmp("d/Notes/Data/link.id"));
    assert_int_equal(symlink(in_tmp("outside/connector.id"), in_tmp("d/Notes/Data/link.id")), 0);
    char link_id[2 * PATH_MAX];
    struct conn c = healthy;
    c.id_file = path_in(link_id, sizeof(link_id), "d/Notes/Data/link.id");
    struct expect x = { "unverified", "low", "id_file", "unverified", "outside_mapping" };
    json_t *j = expect_diagnose(&c, EXIT_UNVERIFIED, &x);
    assert_null(strstr(str(evidence_of(j, "id_file"), "detail"), "bytes")); /* never stat()ed */
    json_decref(j);
    expect_both(&c, EXIT_UNVERIFIED, &x);

    /* KeyFileName leads to such a link (relative: "../../outside/..." from the share) */
    unlink(in_tmp("d/Notes/Data/other.id"));
    assert_int_equal(symlink("../../../outside/connector.id", in_tmp("d/Notes/Data/other.id")), 0);
    write_tree("other.id");
    struct expect key = { "unverified", "low", "keyfilename", "unverified", "outside_mapping" };
    expect_both(&healthy, EXIT_UNVERIFIED, &key);
    write_tree("connector.id");

    /* the Notes.ini itself: a link out of C: */
    unlink(in_tmp("c/winnt/Notes.ini"));
    assert_int_equal(symlink(in_tmp("outside/notes.ini"), in_tmp("c/winnt/Notes.ini")), 0);
    struct expect ini = { "unverified", "low", "notes_ini", "unverified", "outside_mapping" };
    expect_both(&healthy, EXIT_UNVERIFIED, &ini);
    write_tree("connector.id");
}

/* The folder C: is mapped to is an empty mount point (or missing): the collector cannot see
 * the connector's disk. share_unavailable, and nothing on it reported missing. */
static void test_share_not_mounted(void **state)
{
    (void)state;
    mkdir(in_tmp("mnt-c"), 0755); /* a mount point whose share is not mounted */
    char map[2 * PATH_MAX + 64], ini[2 * PATH_MAX];
    snprintf(map, sizeof(map), "{\"C:\\\\\":\"%s/mnt-c/\",\"d:/\":\"%s/d/\"}", tmp, tmp);
    struct conn c = healthy;
    c.notes_ini = path_in(ini, sizeof(ini), "mnt-c/winnt/notes.ini");
    c.path_map = map;
    struct expect x = { "share_unavailable", "medium", "share", "unavailable", NULL };
    json_t *j = expect_diagnose(&c, EXIT_FAULT, &x);
    assert_non_null(strstr(str(j, "summary"), "the connector itself may be fine"));
    assert_string_equal(str(evidence_of(j, "notes_ini"), "reason"), "share_unavailable");
    assert_string_equal(str(evidence_of(j, "id_file"), "result"), "ok"); /* D: is there */
    json_t *ev, *cand;
    size_t i;
    json_array_foreach(json_object_get(j, "evidence"), i, ev)
        assert_string_not_equal(str(ev, "result"), "missing");
    json_array_foreach(json_object_get(j, "candidates"), i, cand)
        assert_null(strstr(str(cand, "cause"), "missing"));
    const char *fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(fix, "Mount the connector's C:\\"));
    assert_null(strstr(fix, "Notes INI file location"));
    json_decref(j);
    expect_both(&c, EXIT_FAULT, &x);

    /* the mount point itself missing */
    snprintf(map, sizeof(map), "{\"C:\\\\\":\"%s/mnt-gone/\",\"d:/\":\"%s/d/\"}", tmp, tmp);
    c.notes_ini = path_in(ini, sizeof(ini), "mnt-gone/winnt/notes.ini");
    expect_both(&c, EXIT_FAULT, &x);
}

/* A share the daemon's own account may not list (diagnose run as nobody): unavailable too, and
 * the fix asks for access rather than a mount. */
static void test_share_the_collector_may_not_list(void **state)
{
    (void)state;
    if (geteuid() != 0 || !getpwnam("nobody") || access("/usr/bin/setpriv", X_OK) != 0) {
        print_message("skipped: needs root, user nobody and setpriv\n");
        skip();
        return;
    }
    mkdir(in_tmp("locked"), 0700);
    mkdir(in_tmp("locked/winnt"), 0755);
    assert_int_equal(write_file(in_tmp("locked/winnt/notes.ini"), "[Notes]\r\n", 9), 0);
    char map[2 * PATH_MAX + 64], ini[2 * PATH_MAX];
    snprintf(map, sizeof(map), "{\"C:\\\\\":\"%s/locked\",\"d:/\":\"%s/d/\"}", tmp, tmp);
    struct conn c = healthy;
    c.notes_ini = path_in(ini, sizeof(ini), "locked/winnt/notes.ini");
    c.path_map = map;
    const char *cfg = write_config(&c, NULL);
    chmod(cfg, 0644);
    struct run_result res;
    char *argv[] = { "/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                     (char *)binary, "diagnose", "--config", (char *)cfg, "--json", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, EXIT_FAULT);
    json_t *j = json_loads(res.out, 0, NULL);
    assert_non_null(j);
    struct expect x = { "share_unavailable", "medium", "share", "unavailable", NULL };
    check_diagnosis(j, &x);
    assert_non_null(strstr(str(evidence_with(j, "share", "unavailable"), "detail"), "cannot be listed"));
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                           "read and search access"));
    json_decref(j);
    run_result_free(&res);
}

/* Summaries and fixes name the connector's own Windows paths; the local ones stay in the
 * evidence. */
static void test_fixes_speak_the_connectors_language(void **state)
{
    (void)state;
    write_tree("admin.id");
    struct expect x = { "keyfilename_mismatch", "high", "keyfilename", "mismatch", NULL };
    json_t *j = expect_diagnose(&healthy, EXIT_FAULT, &x);
    const char *summary = str(j, "summary");
    const char *fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(summary, "C:\\winnt\\Notes.ini"));
    assert_non_null(strstr(summary, "d:\\Notes\\Data\\Connector.ID"));
    assert_non_null(strstr(summary, "d:\\notes\\data\\admin.id"));
    assert_non_null(strstr(fix, "C:\\winnt\\Notes.ini"));
    assert_non_null(strstr(fix, "d:\\Notes\\Data\\Connector.ID"));
    assert_null(strstr(summary, tmp));
    assert_null(strstr(fix, tmp));
    assert_non_null(strstr(str(evidence_of(j, "keyfilename"), "detail"), tmp));
    json_decref(j);
    expect_both(&healthy, EXIT_FAULT, &x);

    /* the Notes.ini missing: the fix names where the connector is set to look */
    char ini[2 * PATH_MAX];
    struct conn c = healthy;
    c.notes_ini = path_in(ini, sizeof(ini), "c/WINNT/notes.ini");
    unlink(in_tmp("c/winnt/Notes.ini"));
    struct expect gone = { "notes_ini_missing", "high", "notes_ini", "missing", NULL };
    j = expect_diagnose(&c, EXIT_FAULT, &gone);
    fix = json_string_value(json_array_get(json_object_get(j, "remediation"), 0));
    assert_non_null(strstr(fix, "(C:\\WINNT\\notes.ini)"));
    assert_null(strstr(fix, tmp));
    json_decref(j);
    expect_both(&c, EXIT_FAULT, &gone);
    write_tree("connector.id");
}

/* The server check runs from this collector: it says so, and is high only when the connector's
 * log agrees (a 64210 just before). */
static void test_server_check_is_made_from_the_collector(void **state)
{
    (void)state;
    struct conn c = healthy;
    c.port = closed_port;
    struct expect x = { "notes_server_unreachable", "medium", "notes_server", "refused", NULL };
    json_t *j = expect_diagnose(&c, EXIT_FAULT, &x);
    assert_non_null(strstr(str(j, "summary"), "from this collector"));
    assert_non_null(strstr(str(evidence_of(j, "notes_server"), "detail"), "from this collector ("));
    assert_null(strstr(json_string_value(json_array_get(json_object_get(j, "remediation"), 0)),
                       "Restore the connection from the connector machine"));
    json_decref(j);
    expect_both(&c, EXIT_FAULT, &x);

    json_t *ev = run_now(&c, true, NULL); /* the log agrees */
    x.confidence = "high";
    check_diagnosis(event_get(ev, "lme.diagnosis"), &x);
    json_decref(ev);
}

/* A 1998 log diagnosed with probes run now: probe-based causes at most medium, the summary says
 * the probes show today's state, event_age_ms tells by how much; the log keeps its weight. */
static void test_old_event_from_1998(void **state)
{
    (void)state;
    write_tree("admin.id");
    const char *log = "1998/03/17 22:41:08 - LME-NOTES-MEXNTS(0a18) 1 41220:Error: no Notes\r\n"
                      "Session Open.\r\n>> ntshcs(2055)\r\n";
    assert_int_equal(write_file(in_tmp("1998.log"), log, strlen(log)), 0);
    json_t *ev = run_glob(&healthy, in_tmp("1998.log"), NULL);
    struct expect x = { "keyfilename_mismatch", "medium", "keyfilename", "mismatch", NULL };
    check_diagnosis(event_get(ev, "lme.diagnosis"), &x);
    assert_non_null(strstr(event_str(ev, "lme.diagnosis.summary"), "today's state"));
    json_int_t age = json_integer_value(event_get(ev, "lme.diagnosis.event_age_ms"));
    assert_true(age > 28LL * 365 * 86400000); /* 1998-03-17T22:41:08Z to now */
    json_decref(ev);

    /* a horizon wider than that: the probes weigh fully again */
    struct conn c = healthy;
    c.enrichment = "{\"probe_timeout_ms\":1500,\"probe_horizon_ms\":3153600000000}";
    ev = run_glob(&c, in_tmp("1998.log"), NULL);
    x.confidence = "high";
    check_diagnosis(event_get(ev, "lme.diagnosis"), &x);
    assert_null(strstr(event_str(ev, "lme.diagnosis.summary"), "today's state"));
    json_decref(ev);

    /* logged now: high */
    ev = run_now(&healthy, false, NULL);
    check_diagnosis(event_get(ev, "lme.diagnosis"), &x);
    json_decref(ev);
    write_tree("connector.id");

    /* Q197509 (1998): the lock timeout of the time keeps its weight */
    ev = run_sample(&healthy, "Q197509.log");
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_api_lock_timeout");
    assert_string_equal(event_str(ev, "lme.diagnosis.confidence"), "high");
    assert_true(json_integer_value(event_get(ev, "lme.diagnosis.event_age_ms")) > 3600000);
    json_decref(ev);
}

/* The probe round's log line names the cause and the checks that failed or could not be made. */
static void test_probe_round_log_says_what_was_found(void **state)
{
    (void)state;
    write_tree("admin.id");
    struct conn c = healthy;
    c.user = "";
    c.port = closed_port;
    char *err = NULL;
    json_decref(run_now(&c, false, &err));
    const char *line = strstr(err, "probe round done");
    assert_non_null(line);
    char *end = strchr(line, '\n');
    if (end)
        *end = '\0';
    assert_non_null(strstr(line, "cause=keyfilename_mismatch"));
    assert_non_null(strstr(line, "failed=keyfilename,notes_server"));
    assert_non_null(strstr(line, "unverified=id_file(no_account)"));
    assert_non_null(strstr(err, "level=warn"));
    free(err);
    write_tree("connector.id");

    json_decref(run_now(&healthy, false, &err));
    assert_non_null(strstr(err, "cause=none failed=\"\" unverified=\"\""));
    free(err);
}

/* Windows names are bytes of a code page (0xE9 is é in 1252): found, shown, valid JSON. */
static void test_names_that_are_not_utf8(void **state)
{
    (void)state;
    mkdir(in_tmp("d/Notes/Donn\xe9" "es"), 0755);
    unlink(in_tmp("d/Notes/Donn\xe9" "es/connector.id"));
    assert_int_equal(link(in_tmp("d/Notes/Data/Connector.ID"), in_tmp("d/Notes/Donn\xe9" "es/connector.id")), 0);
    write_tree_in("connector.id", "d:\\notes\\DONN\xe9" "ES");
    struct expect ok = { "none", "high", "keyfilename", "ok", NULL };
    expect_both(&healthy, 0, &ok);

    write_tree_in("admin.id", "d:\\notes\\donn\xe9" "es");
    struct expect x = { "keyfilename_mismatch", "high", "keyfilename", "mismatch", NULL };
    json_t *j = expect_diagnose(&healthy, EXIT_FAULT, &x);
    assert_non_null(strstr(str(j, "summary"), "d:\\notes\\donn\xc3\xa9" "es\\admin.id"));
    json_decref(j);
    expect_both(&healthy, EXIT_FAULT, &x);

    struct run_result res; /* the text report carries the bytes as they are */
    char *argv[] = { (char *)binary, "diagnose", "--config", (char *)in_tmp("lme.json"), NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_non_null(strstr(res.out, "donn\xe9" "es"));
    run_result_free(&res);
    write_tree("connector.id");
}

static void test_diagnose_exit_codes(void **state)
{
    (void)state;
    struct run_result res;
    write_config(&healthy, NULL);
    char *unknown[] = { (char *)binary, "diagnose", "--config", (char *)in_tmp("lme.json"),
                        "--connector", "other", NULL };
    assert_int_equal(run_cmd(unknown, NULL, 0, &res), 0);
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, "no such connector"));
    run_result_free(&res);
    char *usage[] = { (char *)binary, "diagnose", NULL };
    assert_int_equal(run_cmd(usage, NULL, 0, &res), 0);
    assert_int_equal(res.status, 2);
    run_result_free(&res);

    /* the horizon is checked like every enrichment key */
    struct conn c = healthy;
    c.enrichment = "{\"probe_horizon_ms\":-1}";
    char *check[] = { (char *)binary, "check-config", "--config", (char *)write_config(&c, NULL), NULL };
    assert_int_equal(run_cmd(check, NULL, 0, &res), 0);
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, "key 'enrichment.probe_horizon_ms': expected an integer from 0 to"));
    run_result_free(&res);
}

static void test_samples_through_run_once(void **state)
{
    (void)state;
    /* Q197509: a lock timeout just before; the probes pass */
    json_t *ev = run_sample(&healthy, "Q197509.log");
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_api_lock_timeout");
    assert_string_equal(event_str(ev, "lme.diagnosis.confidence"), "high");
    assert_non_null(event_get(ev, "lme.diagnosis.probed_at"));
    json_decref(ev);

    /* Q320032 (no dates: no event_age_ms): 64210 and {Mail system failure}; the probes tell */
    char ini[2 * PATH_MAX];
    struct conn c = healthy;
    c.notes_ini = path_in(ini, sizeof(ini), "c/winnt/missing.ini");
    ev = run_sample(&c, "Q320032.log");
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_ini_missing");
    assert_null(event_get(ev, "lme.diagnosis.event_age_ms"));
    json_decref(ev);
    c = healthy;
    c.port = closed_port;
    ev = run_sample(&c, "Q320032.log");
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_server_unreachable");
    assert_string_equal(event_str(ev, "lme.diagnosis.confidence"), "high"); /* the log agrees */
    json_decref(ev);
    ev = run_sample(&healthy, "Q320032.log"); /* the server answers now: a passing outage */
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_server_unreachable");
    assert_string_equal(event_str(ev, "lme.diagnosis.confidence"), "medium");
    json_decref(ev);
}

/* The quick start's sample (deploy/sample, deploy/config/quickstart.json's connector): its
 * Notes.ini names the wrong ID, and a keyfilename_mismatch alert says so. */
static void test_quick_start_sample_shows_keyfilename_mismatch(void **state)
{
    (void)state;
    char sample[PATH_MAX], map[2 * PATH_MAX], ini[2 * PATH_MAX], id[2 * PATH_MAX], glob[2 * PATH_MAX];
    snprintf(sample, sizeof(sample), "%s/../../deploy/sample", fixtures);
    snprintf(map, sizeof(map), "{\"C:\\\\\":\"%s/connector/c/\"}", sample);
    snprintf(ini, sizeof(ini), "%s/connector/c/winnt/Notes.ini", sample);
    snprintf(id, sizeof(id), "%s/connector/c/notes/data/Connector.id", sample);
    snprintf(glob, sizeof(glob), "%s/*.log", sample);
    struct conn c = { .notes_ini = ini, .id_file = id, .port = closed_port, .user = "", .path_map = map };
    json_t *ev = run_glob(&c, glob, NULL);
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "keyfilename_mismatch");
    assert_non_null(strstr(event_str(ev, "lme.diagnosis.summary"), "C:\\notes\\data\\Connector.id"));
    json_decref(ev);
}

/* Q293227's situation, written by the test (no article prints the lines): the mail router's
 * {Not found} just before the 41220, every probe passing. */
static void test_mailbox_not_found_from_the_log(void **state)
{
    (void)state;
    const char *log =
        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 00510:Error {Not found}: The\r\n"
        "application failed to initialize.\r\n>> stdmain(863)\r\n"
        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 3 00505:LME-NOTES-MEXNTS is ending, last\r\n"
        "return code was {Not found}\r\n>> stdmain(958)\r\n"
        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\r\n"
        ">> ntshcs(2317)\r\n";
    assert_int_equal(write_file(in_tmp("notfound.log"), log, strlen(log)), 0);
    json_t *ev = run_sample(&healthy, in_tmp("notfound.log"));
    assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "mail_router_mailbox_not_found");
    assert_string_equal(event_str(ev, "lme.diagnosis.confidence"), "medium");
    json_decref(ev);
}

/* A Notes server that never answers (its accept queue full): `diagnose` says timeout. */
static void test_diagnose_server_timeout(void **state)
{
    (void)state;
    int port = 0;
    int deaf = loopback_socket(&port);
    assert_true(deaf >= 0);
    assert_int_equal(listen(deaf, 0), 0);
    if (!fill_accept_queue(port)) {
        print_message("skipped: this kernel completes connections to a full accept queue\n");
        close(deaf);
        skip();
        return;
    }
    struct conn c = healthy;
    c.port = port;
    expect_cause(&c, EXIT_FAULT, "notes_server_unreachable", "notes_server", "timeout");
    close(deaf);
}

static void test_burst_of_41220s_costs_one_probe_round(void **state)
{
    (void)state;
    const char *rec = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                      "Session Open >> ntshcs(2317)\r\n";
    size_t len = strlen(rec);
    char *text = malloc(len * 10000);
    for (int i = 0; i < 10000; i++)
        memcpy(text + (size_t)i * len, rec, len);
    assert_int_equal(write_file(in_tmp("burst.log"), text, len * 10000), 0);
    free(text);
    char inputs[2 * PATH_MAX];
    snprintf(inputs, sizeof(inputs),
             "{\"type\":\"file\",\"paths\":[\"%s\"],\"connector\":\"notes-main\"}", in_tmp("burst.log"));
    struct conn c = healthy;
    c.port = closed_port;
    const char *cfg = write_config(&c, inputs);
    unlink(in_tmp("out.jsonl"));
    struct run_result res;
    char *argv[] = { (char *)binary, "run", "--config", (char *)cfg, "--once", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    int rounds = 0;
    for (const char *p = res.err; (p = strstr(p, "probe round done")); p++)
        rounds++;
    assert_int_equal(rounds, 1);
    run_result_free(&res);
    size_t out_len;
    char *out = read_file(in_tmp("out.jsonl"), &out_len);
    json_t *events = events_parse_records(out, out_len);
    free(out);
    assert_int_equal(json_array_size(events), 10000);
    json_t *ev;
    size_t i;
    json_array_foreach(events, i, ev) {
        assert_string_equal(event_str(ev, "lme.diagnosis.cause"), "notes_server_unreachable");
        assert_non_null(event_get(ev, "lme.diagnosis.event_age_ms"));
    }
    json_decref(events);
}

/* Connections to port until one is still pending after 100 ms: the accept queue of a listener
 * that never accepts is full and new SYNs are dropped, so a probe times out. Returns 1 then;
 * the sockets stay open (closed at exit). */
static int fill_accept_queue(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int i = 0; i < 64; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS))
            return 0;
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, 100) == 0)
            return 1;
    }
    return 0;
}

/* A probe round slower than max_wait_ms: the 41220 goes out on time with what the log says,
 * marked probes_late (the daemon still lets the round end before it exits: it is bounded by
 * probe_timeout_ms). */
static void test_slow_probes_do_not_hold_a_41220_past_max_wait(void **state)
{
    (void)state;
    int port = 0;
    int deaf = loopback_socket(&port);
    assert_true(deaf >= 0);
    assert_int_equal(listen(deaf, 0), 0);
    if (!fill_accept_queue(port)) {
        print_message("skipped: this kernel completes connections to a full accept queue\n");
        close(deaf);
        skip();
        return;
    }
    char inputs[PATH_MAX + 256];
    snprintf(inputs, sizeof(inputs),
             "{\"type\":\"file\",\"paths\":[\"%s/samples/Q197509.log\"],\"connector\":\"notes-main\"}",
             fixtures);
    char text[8192];
    int n = snprintf(text, sizeof(text),
        "{\"state_dir\":\"%s/state\",\"inputs\":[%s],"
        "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/out.jsonl\"}],"
        "\"connectors\":{\"notes-main\":{\"notes_server\":{\"host\":\"127.0.0.1\",\"port\":%d}}},"
        "\"enrichment\":{\"probe_timeout_ms\":4000,\"max_wait_ms\":200}}",
        tmp, inputs, tmp, port);
    assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
    unlink(in_tmp("out.jsonl"));
    remove_tree(in_tmp("state"));
    struct run_result res;
    char *argv[] = { (char *)binary, "run", "--config", (char *)in_tmp("lme.json"), "--once", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    run_result_free(&res);
    size_t len;
    char *out = read_file(in_tmp("out.jsonl"), &len);
    json_t *events = events_parse_records(out, len);
    free(out);
    json_t *ev, *found = NULL;
    size_t i;
    json_array_foreach(events, i, ev)
        if (event_get(ev, "lme.diagnosis"))
            found = ev;
    assert_non_null(found);
    assert_true(json_is_true(event_get(found, "lme.diagnosis.probes_late")));
    assert_null(event_get(found, "lme.diagnosis.probed_at"));
    assert_null(event_get(found, "lme.diagnosis.event_age_ms"));
    assert_string_equal(event_str(found, "lme.diagnosis.cause"), "notes_api_lock_timeout");
    json_decref(events);
    close(deaf);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_diagnose_healthy_connector, reset_tree),
        cmocka_unit_test_setup(test_diagnose_each_cause, reset_tree),
        cmocka_unit_test_setup(test_unverified_checks, reset_tree),
        cmocka_unit_test_setup(test_symlink_out_of_the_mapping_is_not_followed, reset_tree),
        cmocka_unit_test_setup(test_share_not_mounted, reset_tree),
        cmocka_unit_test_setup(test_share_the_collector_may_not_list, reset_tree),
        cmocka_unit_test_setup(test_fixes_speak_the_connectors_language, reset_tree),
        cmocka_unit_test_setup(test_server_check_is_made_from_the_collector, reset_tree),
        cmocka_unit_test_setup(test_old_event_from_1998, reset_tree),
        cmocka_unit_test_setup(test_probe_round_log_says_what_was_found, reset_tree),
        cmocka_unit_test_setup(test_names_that_are_not_utf8, reset_tree),
        cmocka_unit_test_setup(test_diagnose_exit_codes, reset_tree),
        cmocka_unit_test_setup(test_samples_through_run_once, reset_tree),
        cmocka_unit_test_setup(test_quick_start_sample_shows_keyfilename_mismatch, reset_tree),
        cmocka_unit_test_setup(test_mailbox_not_found_from_the_log, reset_tree),
        cmocka_unit_test_setup(test_diagnose_server_timeout, reset_tree),
        cmocka_unit_test_setup(test_burst_of_41220s_costs_one_probe_round, reset_tree),
        cmocka_unit_test_setup(test_slow_probes_do_not_hold_a_41220_past_max_wait, reset_tree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
