/* Unit tests of a probe round (probes_run) on real folders in a temporary directory, no network:
 * a healthy mapped tree, a share that is an empty or missing folder, KeyFileName paths that
 * cannot be checked (UNC, an unmapped drive, '..'), symlinks leading out of a mapped folder (not
 * followed: nothing about their targets is reported), accounts unknown or not configured, the
 * Windows names of the files, and the outcome of each check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probes.h"

static char dir[] = "/tmp/lme-probes-XXXXXX";
static char c_root[300], d_root[300], ini_path[300], id_path[300], me[64];
static struct enrich_path_map map[2];
static struct enrich_connector conn;

static const char *in_dir(const char *name)
{
    static char path[8][400];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

static void put(const char *name, const char *text)
{
    const char *path = in_dir(name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* C: holds winnt/Notes.ini naming KeyFileName in d:\notes\data (D: holds notes/data/connector.id,
 * written by reset). */
static void tree(const char *key_file_name)
{
    char text[2048];
    snprintf(text, sizeof(text), "[Notes]\r\nDirectory=d:\\notes\\data\r\nKeyFileName=%s\r\n",
             key_file_name);
    put("c/winnt/Notes.ini", text);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || chmod(dir, 0755) != 0)
        return -1;
    static const char *const dirs[] = { "c", "c/winnt", "d", "d/notes", "d/notes/data", "outside",
                                        "empty" };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (mkdir(in_dir(dirs[i]), 0755) != 0)
            return -1;
    struct passwd *pw = getpwuid(geteuid());
    if (!pw)
        return -1;
    snprintf(me, sizeof(me), "%s", pw->pw_name);
    snprintf(c_root, sizeof(c_root), "%s/c/", dir);
    snprintf(d_root, sizeof(d_root), "%s/d", dir);
    snprintf(ini_path, sizeof(ini_path), "%s/c/WINNT/notes.ini", dir); /* case differs on disk */
    snprintf(id_path, sizeof(id_path), "%s/d/notes/data/connector.id", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Before each test: the healthy tree and connector. */
static int reset(void **state)
{
    (void)state;
    put("d/notes/data/connector.id", "id");
    tree("connector.id");
    map[0] = (struct enrich_path_map){ "C:\\", c_root };
    map[1] = (struct enrich_path_map){ "D:", d_root };
    conn = (struct enrich_connector){ .name = "c", .notes_ini = ini_path, .id_file = id_path,
                                      .service_user = me, .path_map = map, .n_path_map = 2 };
    return 0;
}

static void run(struct probe_report *r)
{
    assert_int_equal(probes_run(&conn, 1000, r), 0);
}

static void test_healthy_tree_with_windows_names(void **state)
{
    (void)state;
    struct probe_report r;
    run(&r);
    assert_int_equal(r.ini, PROBE_INI_OK);
    assert_int_equal(r.key, PROBE_KEY_MATCH);
    assert_int_equal(r.id_why, PROBE_WHY_NONE);
    assert_int_equal(r.id.status, PROBE_FILE_OK);
    assert_int_equal(r.n_shares, 2);
    assert_true(r.shares[0].available && r.shares[1].available);
    assert_string_equal(r.ini_name, "C:\\winnt\\Notes.ini"); /* the real case, found on disk */
    assert_string_equal(r.id_name, "D:\\notes\\data\\connector.id");
    assert_string_equal(r.key_name, "d:\\notes\\data\\connector.id");
    assert_true(r.collector[0] != '\0');

    struct enrich_check checks[ENRICH_MAX_CHECKS];
    const char *subjects[ENRICH_MAX_CHECKS];
    size_t n = probes_outcomes(&r, checks, subjects, ENRICH_MAX_CHECKS);
    assert_int_equal(n, 5); /* notes_ini, keyfilename, id_file and the two shares */
    assert_string_equal(checks[0].name, "notes_ini");
    assert_string_equal(checks[3].name, "share");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(checks[i].result, ENRICH_CHECK_PASSED);
        assert_null(checks[i].reason);
    }
    assert_string_equal(subjects[3], "D:");
}

/* An empty mount point (or a missing one): nothing below it is looked at, nothing is missing. */
static void test_share_that_is_an_empty_folder(void **state)
{
    (void)state;
    char empty[300], ini[400];
    snprintf(empty, sizeof(empty), "%s/empty/", dir);
    snprintf(ini, sizeof(ini), "%s/empty/winnt/notes.ini", dir);
    map[0].local = empty;
    conn.notes_ini = ini;
    struct probe_report r;
    run(&r);
    assert_int_equal(r.ini, PROBE_INI_UNVERIFIED);
    assert_int_equal(r.ini_why, PROBE_WHY_SHARE_UNAVAILABLE);
    assert_int_equal(r.key, PROBE_KEY_NOT_CHECKED);
    assert_int_equal(r.id.status, PROBE_FILE_OK); /* D: is there */
    const struct probe_share *c = strcmp(r.shares[0].windows, "C:\\") == 0 ? &r.shares[0] : &r.shares[1];
    assert_false(c->available);
    assert_non_null(strstr(c->detail, "is empty: the share is not mounted here"));
    assert_non_null(strstr(r.ini_detail, "cannot see"));
    assert_null(strstr(r.ini_detail, "no such file"));

    assert_int_equal(c->error, 0); /* listed, and empty */

    snprintf(empty, sizeof(empty), "%s/not-there", dir);
    snprintf(ini, sizeof(ini), "%s/not-there/winnt/notes.ini", dir);
    run(&r);
    assert_int_equal(r.ini_why, PROBE_WHY_SHARE_UNAVAILABLE);
    c = strcmp(r.shares[0].windows, "C:\\") == 0 ? &r.shares[0] : &r.shares[1];
    assert_int_equal(c->error, ENOENT);
    assert_non_null(strstr(c->detail, "does not exist"));

    snprintf(empty, sizeof(empty), "%s/c/winnt/Notes.ini", dir); /* a file */
    snprintf(ini, sizeof(ini), "%s/c/winnt/Notes.ini/x.ini", dir);
    run(&r);
    assert_int_equal(r.ini_why, PROBE_WHY_SHARE_UNAVAILABLE);

    /* the ID file on it too: unverified, not missing */
    conn.id_file = ini;
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_SHARE_UNAVAILABLE);
}

static void test_keyfilename_that_cannot_be_checked(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        enum probe_why why;
    } cases[] = {
        { "\\\\fileserver\\ids\\connector.id", PROBE_WHY_UNMAPPED_PATH },
        { "E:\\notes\\data\\connector.id", PROBE_WHY_UNMAPPED_PATH },
        { "..\\data\\connector.id", PROBE_WHY_REFUSED_PATH },
        { "d:\\notes\\..\\notes\\data\\connector.id", PROBE_WHY_REFUSED_PATH },
    };
    struct probe_report r;
    char longer[1200]; /* longer than any path: not cut into another one */
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, "d:\\", 3);
    tree(longer);
    run(&r);
    assert_int_equal(r.key, PROBE_KEY_UNVERIFIED);
    assert_int_equal(r.key_why, PROBE_WHY_REFUSED_PATH);
    tree(longer + 3); /* relative: joined to Directory= */
    run(&r);
    assert_int_equal(r.key_why, PROBE_WHY_REFUSED_PATH);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tree(cases[i].key);
        run(&r);
        if (r.key != PROBE_KEY_UNVERIFIED || r.key_why != cases[i].why)
            fail_msg("%s: %s (%s): %s", cases[i].key, probes_key_status_name(r.key),
                     probes_why_name(r.key_why), r.key_detail);
    }
}

/* Symlinks in a share that lead out of its folder: the probes do not go there. The targets here
 * are the connector's own files, so following the links would have found them "ok". */
static void test_symlinks_out_of_the_mapping(void **state)
{
    (void)state;
    struct probe_report r;
    unlink(in_dir("outside/connector.id"));
    assert_int_equal(link(id_path, in_dir("outside/connector.id")), 0);
    unlink(in_dir("d/notes/data/link.id"));
    assert_int_equal(symlink(in_dir("outside/connector.id"), in_dir("d/notes/data/link.id")), 0);

    tree("link.id"); /* KeyFileName leads there */
    run(&r);
    assert_int_equal(r.key, PROBE_KEY_UNVERIFIED);
    assert_int_equal(r.key_why, PROBE_WHY_OUTSIDE_MAPPING);

    tree("connector.id");
    char link_id[400];
    snprintf(link_id, sizeof(link_id), "%s/d/notes/data/link.id", dir);
    conn.id_file = link_id; /* the configured ID file is one */
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_OUTSIDE_MAPPING);
    assert_true(r.id.size == 0 && r.id.mode == 0); /* never stat()ed */
    assert_int_equal(r.key, PROBE_KEY_UNVERIFIED);

    /* a link out to nothing: refused as well, not reported missing (where it leads is not
     * looked at) */
    unlink(in_dir("d/notes/data/gone-out.id"));
    assert_int_equal(symlink(in_dir("outside/no-such.id"), in_dir("d/notes/data/gone-out.id")), 0);
    snprintf(link_id, sizeof(link_id), "%s/d/notes/data/gone-out.id", dir);
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_OUTSIDE_MAPPING);

    /* a folder on the way is one */
    conn.id_file = id_path;
    unlink(in_dir("c/linked"));
    assert_int_equal(symlink(in_dir("outside"), in_dir("c/linked")), 0);
    put("outside/notes.ini", "[Notes]\r\nKeyFileName=d:\\notes\\data\\connector.id\r\n");
    char ini[400];
    snprintf(ini, sizeof(ini), "%s/c/linked/notes.ini", dir);
    conn.notes_ini = ini;
    run(&r);
    assert_int_equal(r.ini, PROBE_INI_UNVERIFIED);
    assert_int_equal(r.ini_why, PROBE_WHY_OUTSIDE_MAPPING);
    assert_int_equal(r.key, PROBE_KEY_NOT_CHECKED); /* its KeyFileName was never read */

    /* a link that stays inside is followed */
    unlink(in_dir("d/notes/data/inside.id"));
    assert_int_equal(symlink("connector.id", in_dir("d/notes/data/inside.id")), 0);
    conn.notes_ini = ini_path;
    tree("inside.id");
    run(&r);
    assert_int_equal(r.key, PROBE_KEY_MATCH);
}

static void test_accounts(void **state)
{
    (void)state;
    struct probe_report r;
    conn.service_user = "lme-no-such-user";
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_UNKNOWN_ACCOUNT);

    conn.service_user = NULL; /* none: the file is there, who may read it is not known */
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_NO_ACCOUNT);
    assert_int_equal(r.id.status, PROBE_FILE_OK);
    assert_non_null(strstr(r.id.detail, "no service_user is configured"));
    struct enrich_check checks[ENRICH_MAX_CHECKS];
    size_t n = probes_outcomes(&r, checks, NULL, ENRICH_MAX_CHECKS);
    assert_string_equal(checks[2].name, "id_file");
    assert_int_equal(checks[2].result, ENRICH_CHECK_UNVERIFIED);
    assert_string_equal(checks[2].reason, "no_account");
    assert_true(n >= 3);

    /* a file that is not there is missing, whoever asks */
    conn.service_user = "lme-no-such-user";
    unlink(id_path);
    run(&r);
    assert_int_equal(r.id_why, PROBE_WHY_NONE);
    assert_int_equal(r.id.status, PROBE_FILE_MISSING);
}

/* Windows names written in a code page (0xE9 is é in 1252) are found byte for byte. */
static void test_names_that_are_not_utf8(void **state)
{
    (void)state;
    tree("d:\\NOTES\\donn\xe9" "es\\CONNECTOR.ID");
    mkdir(in_dir("d/notes/Donn\xe9" "es"), 0755);
    unlink(in_dir("d/notes/Donn\xe9" "es/connector.id"));
    assert_int_equal(link(id_path, in_dir("d/notes/Donn\xe9" "es/connector.id")), 0);
    struct probe_report r;
    run(&r);
    assert_int_equal(r.key, PROBE_KEY_MATCH);
    assert_non_null(strstr(r.key_local, "/d/notes/Donn\xe9" "es/connector.id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_healthy_tree_with_windows_names, reset),
        cmocka_unit_test_setup(test_share_that_is_an_empty_folder, reset),
        cmocka_unit_test_setup(test_keyfilename_that_cannot_be_checked, reset),
        cmocka_unit_test_setup(test_symlinks_out_of_the_mapping, reset),
        cmocka_unit_test_setup(test_accounts, reset),
        cmocka_unit_test_setup(test_names_that_are_not_utf8, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
