/* Unit tests of Windows paths seen from Linux: absolute or not, joins, the prefix map (longest
 * entry, case, either slash, separator boundary, ".."), its reverse (a local path back to the
 * connector's Windows path) and case-insensitive resolution on a real temporary tree, with
 * symlinks that stay inside it and symlinks that leave it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "winpath.h"

static char root[] = "/tmp/lme-wp-XXXXXX";
static char outside[] = "/tmp/lme-wp-out-XXXXXX";

static void make_file(const char *rel)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char path[400];
    if (!mkdtemp(root) || !mkdtemp(outside))
        return -1;
    snprintf(path, sizeof(path), "%s/Data", root);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/Dup", root);
    mkdir(path, 0700);
    make_file("Data/Connector.ID");
    make_file("Dup/File.txt");
    make_file("Dup/FILE.txt");
    snprintf(path, sizeof(path), "%s/secret.id", outside);
    fclose(fopen(path, "w"));
    static const char *const links[][2] = {
        { "Connector.ID", "Data/link.id" }, /* inside */
        { "Data", "LinkDir" },              /* inside, a directory */
        { "../..", "Data/up" },             /* relative, leads out */
        { "nothing.id", "Data/dangling" },
        { "../../lme-wp-nowhere/secret.id", "Data/gone-out" }, /* leads out, to nothing */
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", root, links[i][1]);
        if (symlink(links[i][0], path) != 0)
            return -1;
    }
    snprintf(path, sizeof(path), "%s/Data/escape", root);
    return symlink(outside, path);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    nftw(outside, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- absolute, join ---- */

static void test_is_absolute(void **state)
{
    (void)state;
    static const struct {
        const char *win;
        int expected;
    } cases[] = {
        { "C:\\x", 1 },         { "c:/x", 1 },          { "z:\\", 1 },
        { "\\\\server\\share\\x", 1 }, { "//server/share", 1 }, { "\\\\server", 1 },
        { "\\x", 0 },           { "/x", 0 },            { "c:x", 0 },
        { "c:", 0 },            { "notes.ini", 0 },     { "", 0 },
        { "\\\\", 0 },          { "\\\\\\x", 0 },       { "1:\\x", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i].win);
        assert_int_equal(winpath_is_absolute(cases[i].win), cases[i].expected);
    }
}

static void test_join(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        { "d:\\notes\\data", "connector.id", "d:\\notes\\data\\connector.id" },
        { "d:\\notes\\data\\", "connector.id", "d:\\notes\\data\\connector.id" },
        { "d:\\notes\\\\data\\\\", "ids\\\\connector.id", "d:\\notes\\data\\ids\\connector.id" },
        { "d:/notes/data", "ids/connector.id", "d:\\notes\\data\\ids\\connector.id" },
        { "d:\\notes\\data", "c:\\ids\\connector.id", "c:\\ids\\connector.id" },
        { "d:\\notes\\data", "C:/ids//x.id", "C:/ids//x.id" }, /* absolute: as is */
        { "d:\\notes\\data", "\\\\srv\\ids\\x.id", "\\\\srv\\ids\\x.id" },
        { "d:\\notes\\data", "\\ids\\c.id", "d:\\ids\\c.id" },
        { "\\\\exch01\\notes\\data", "\\ids\\c.id", "\\\\exch01\\notes\\ids\\c.id" },
        { "\\\\exch01\\notes\\data", "c.id", "\\\\exch01\\notes\\data\\c.id" },
        { "d:\\notes\\data", "D:c.id", "d:\\notes\\data\\c.id" },
        { "d:\\notes\\data", "e:c.id", "e:\\c.id" },
        { "", "c.id", "c.id" },
        { "d:\\notes\\data", "", "d:\\notes\\data" },
        { "data", "c.id", "data\\c.id" },
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s + %s\n", cases[i][0], cases[i][1]);
        assert_int_equal(winpath_join(cases[i][0], cases[i][1], out, sizeof(out)), 0);
        assert_string_equal(out, cases[i][2]);
    }
}

static void test_join_too_small(void **state)
{
    (void)state;
    char out[27]; /* "d:\\notes\\data\\connector.id" is 26 bytes */
    assert_int_equal(winpath_join("d:\\notes\\data", "connector.id", out, sizeof(out)), 0);
    assert_string_equal(out, "d:\\notes\\data\\connector.id");
    assert_int_equal(winpath_join("d:\\notes\\data", "connector.id", out, 26), LME_ERANGE);
    assert_string_equal(out, "");
    assert_int_equal(winpath_join("d:\\notes\\data", "c:\\a\\connector.id.long.name.here", out, sizeof(out)),
                     LME_ERANGE);
    assert_int_equal(winpath_join("d:\\", "x", out, 0), LME_ERANGE);
}

/* ---- map ---- */

static const struct winpath_map map[] = {
    { "C:\\", "/mnt/exch01/c/" },
    { "c:/WINNT", "/srv/winnt" },
    { "C:\\no", "/wrong" },
    { "\\\\exch01\\exchsrvr\\", "/srv/exchsrvr" },
    { "D:", "/mnt/exch01/d" },
    { "", "/never" },
};
#define N_MAP (sizeof(map) / sizeof(map[0]))

static void test_map_longest_prefix_wins(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "C:\\WinNT\\Notes.ini", "/srv/winnt/Notes.ini" },
        { "c:/winnt", "/srv/winnt" },
        { "C:\\\\WINNT\\\\notes.ini", "/srv/winnt/notes.ini" },
        { "C:\\notes\\x", "/mnt/exch01/c/notes/x" }, /* "C:\\no" stops short of a boundary */
        { "C:\\no\\x", "/wrong/x" },
        { "C:\\winntx\\a", "/mnt/exch01/c/winntx/a" },
        { "C:\\", "/mnt/exch01/c/" },
        { "c:/Program Files/Lotus/Notes.INI", "/mnt/exch01/c/Program Files/Lotus/Notes.INI" },
        { "\\\\EXCH01\\ExchSrvr\\Connect\\Exchconn\\Exchconn.ini",
          "/srv/exchsrvr/Connect/Exchconn/Exchconn.ini" },
        { "//exch01/exchsrvr/connect", "/srv/exchsrvr/connect" },
        { "d:\\notes\\\\data\\.\\connector.id", "/mnt/exch01/d/notes/data/connector.id" },
        { "C:\\a\\..b\\...\\x", "/mnt/exch01/c/a/..b/.../x" },
    };
    char out[128];
    struct lme_err err = { 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i][0]);
        assert_int_equal(winpath_map(map, N_MAP, cases[i][0], out, sizeof(out), &err), 0);
        assert_string_equal(out, cases[i][1]);
    }
}

static void test_map_unmapped(void **state)
{
    (void)state;
    static const char *const cases[] = { "E:\\x", "notes.ini", "\\winnt\\notes.ini", "\\\\other\\share\\x",
                                         "\\\\exch01\\exchsrvrx\\y", "" };
    char out[128], expected[300];
    struct lme_err err = { 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i]);
        assert_int_equal(winpath_map(map, N_MAP, cases[i], out, sizeof(out), &err), LME_ENOENT);
        assert_string_equal(out, "");
        snprintf(expected, sizeof(expected),
                 "no path map entry covers the Windows path '%s': add one for its drive or share", cases[i]);
        assert_string_equal(err.msg, expected);
    }
    assert_int_equal(winpath_map(map, 0, "C:\\x", out, sizeof(out), &err), LME_ENOENT);
}

static void test_map_refuses_dotdot(void **state)
{
    (void)state;
    static const char *const cases[] = { "C:\\notes\\..\\..\\etc\\passwd", "C:\\..", "c:/a/..",
                                         "D:\\..\\x", "\\\\exch01\\exchsrvr\\..\\..\\etc" };
    char out[128];
    struct lme_err err = { 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i]);
        assert_int_equal(winpath_map(map, N_MAP, cases[i], out, sizeof(out), &err), LME_EINVAL);
        assert_string_equal(out, "");
    }
    assert_string_equal(err.msg, "the Windows path '\\\\exch01\\exchsrvr\\..\\..\\etc' has a '..' component: "
                                 "refused, it could lead outside the mapped tree");
}

static void test_map_too_small(void **state)
{
    (void)state;
    char out[21]; /* "/srv/winnt/Notes.ini" is 20 bytes */
    struct lme_err err = { 0 };
    assert_int_equal(winpath_map(map, N_MAP, "C:\\WinNT\\Notes.ini", out, sizeof(out), &err), 0);
    assert_string_equal(out, "/srv/winnt/Notes.ini");
    assert_int_equal(winpath_map(map, N_MAP, "C:\\WinNT\\Notes.ini", out, 20, &err), LME_ERANGE);
    assert_string_equal(out, "");
    assert_string_equal(err.msg,
                        "the Windows path 'C:\\WinNT\\Notes.ini' maps to a local path longer than 19 bytes");
}

/* ---- local to Windows ---- */

static void test_entry_of_finds_the_longest_local_folder(void **state)
{
    (void)state;
    static const struct winpath_map m[] = {
        { "C:\\", "/mnt/exch01/c/" },
        { "C:\\WINNT", "/mnt/exch01/c/winnt-copy" },
        { "D:", "/mnt/exch01/d" },
        { "", "/mnt" }, /* no Windows prefix: never an answer */
    };
    assert_ptr_equal(winpath_entry_of(m, 4, "/mnt/exch01/c/x/y"), &m[0]);
    assert_ptr_equal(winpath_entry_of(m, 4, "/mnt/exch01/c"), &m[0]);
    assert_ptr_equal(winpath_entry_of(m, 4, "/mnt/exch01/c/winnt-copy/notes.ini"), &m[1]);
    assert_ptr_equal(winpath_entry_of(m, 4, "/mnt/exch01/d/notes"), &m[2]);
    assert_null(winpath_entry_of(m, 4, "/mnt/exch01/dd/notes")); /* not at a '/' */
    assert_null(winpath_entry_of(m, 4, "/srv/copy/notes.ini"));
    assert_null(winpath_entry_of(m, 0, "/mnt/exch01/c/x"));
}

static void test_unmap_gives_the_connectors_path(void **state)
{
    (void)state;
    static const struct winpath_map m[] = {
        { "C:\\", "/mnt/exch01/c/" },
        { "d:/", "/mnt/exch01/d" },
        { "\\\\exch01\\exchsrvr", "/srv/exchsrvr/" },
        { "E:", "relative/e" },
    };
    static const char *const cases[][2] = {
        { "/mnt/exch01/c/WINNT/Notes.ini", "C:\\WINNT\\Notes.ini" },
        { "/mnt/exch01/c", "C:\\" },
        { "/mnt/exch01/d/notes//data/connector.id", "d:\\notes\\data\\connector.id" },
        { "/srv/exchsrvr/connect/exchconn.ini", "\\\\exch01\\exchsrvr\\connect\\exchconn.ini" },
        { "relative/e/x.id", "E:\\x.id" },
        { "/mnt/exch01/c/caf\xe9.id", "C:\\caf\xe9.id" }, /* bytes as they are */
    };
    char out[128];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(winpath_unmap(m, 4, cases[i][0], out, sizeof(out)), 0);
        assert_string_equal(out, cases[i][1]);
    }
    assert_int_equal(winpath_unmap(m, 4, "/etc/passwd", out, sizeof(out)), LME_ENOENT);
    assert_string_equal(out, "");
    assert_int_equal(winpath_unmap(m, 4, "/mnt/exch01/c/WINNT/Notes.ini", out, 8), LME_ERANGE);
    assert_string_equal(out, "");
}

/* ---- resolve ---- */

static int resolve(const char *local_rel, char *out, size_t size, struct lme_err *err)
{
    char local[400];
    snprintf(local, sizeof(local), "%s/%s", root, local_rel);
    return winpath_resolve(root, local, out, size, err);
}

static void assert_path(const char *out, const char *rel)
{
    char expected[400];
    snprintf(expected, sizeof(expected), "%s/%s", root, rel);
    assert_string_equal(out, expected);
}

static void test_resolve_ignores_case(void **state)
{
    (void)state;
    char out[400], local[400];
    struct lme_err err = { 0 };
    assert_int_equal(resolve("data/connector.id", out, sizeof(out), &err), 0);
    assert_path(out, "Data/Connector.ID");
    assert_int_equal(resolve("Data/Connector.ID", out, sizeof(out), &err), 0);
    assert_path(out, "Data/Connector.ID");
    assert_int_equal(resolve("DATA//./CONNECTOR.id", out, sizeof(out), &err), 0);
    assert_path(out, "Data/Connector.ID");
    assert_int_equal(resolve("dup/file.txt", out, sizeof(out), &err), 0);
    assert_path(out, "Dup/FILE.txt"); /* two candidates: the smallest in byte order */
    assert_int_equal(resolve("Dup/File.txt", out, sizeof(out), &err), 0);
    assert_path(out, "Dup/File.txt"); /* the exact name first */

    char slashed[400];
    snprintf(slashed, sizeof(slashed), "%s/", root); /* a map's local side often ends with '/' */
    snprintf(local, sizeof(local), "%s/data/connector.id", root);
    assert_int_equal(winpath_resolve(slashed, local, out, sizeof(out), &err), 0);
    assert_path(out, "Data/Connector.ID");
    assert_int_equal(winpath_resolve(root, root, out, sizeof(out), &err), 0);
    assert_string_equal(out, root);
}

static void test_resolve_missing_component(void **state)
{
    (void)state;
    char out[400], local[400], expected[600];
    struct lme_err err = { 0 };
    snprintf(local, sizeof(local), "%s/data/missing.id", root);
    assert_int_equal(winpath_resolve(root, local, out, sizeof(out), &err), LME_ENOENT);
    assert_string_equal(out, local);
    snprintf(expected, sizeof(expected), "%s/Data/: no entry named 'missing.id', even ignoring case", root);
    assert_string_equal(err.msg, expected);

    snprintf(local, sizeof(local), "%s/nodir/connector.id", root);
    assert_int_equal(winpath_resolve(root, local, out, sizeof(out), &err), LME_ENOENT);
    assert_string_equal(out, local);

    snprintf(local, sizeof(local), "%s/data/connector.id/x", root);
    assert_int_equal(winpath_resolve(root, local, out, sizeof(out), &err), LME_ENOENT);
    assert_string_equal(out, local);
    snprintf(expected, sizeof(expected),
             "%s/Data/Connector.ID/x: a component above it is not a directory", root);
    assert_string_equal(err.msg, expected);

    snprintf(local, sizeof(local), "%s/data/dangling", root);
    assert_int_equal(winpath_resolve(root, local, out, sizeof(out), &err), LME_ENOENT);
    assert_string_equal(out, local);

    assert_int_equal(
        winpath_resolve("/nonexistent-lme-root", "/nonexistent-lme-root/x", out, sizeof(out), &err),
        LME_ENOENT);
    assert_string_equal(out, "/nonexistent-lme-root/x");
}

static void test_resolve_symlink_inside_root(void **state)
{
    (void)state;
    char out[400];
    struct lme_err err = { 0 };
    assert_int_equal(resolve("data/link.id", out, sizeof(out), &err), 0);
    assert_path(out, "Data/link.id");
    assert_int_equal(resolve("linkdir/connector.id", out, sizeof(out), &err), 0);
    assert_path(out, "LinkDir/Connector.ID");
}

static void test_resolve_symlink_leaving_root(void **state)
{
    (void)state;
    static const char *const cases[] = { "data/escape/secret.id", "Data/escape", "data/up", "data/UP/x",
                                         "data/gone-out" };
    char out[400], expected[600];
    struct lme_err err = { 0 };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("%s\n", cases[i]);
        assert_int_equal(resolve(cases[i], out, sizeof(out), &err), LME_EINVAL);
        assert_string_equal(out, "");
    }
    char *real_root = realpath(root, NULL);
    assert_non_null(real_root);
    snprintf(expected, sizeof(expected), "%s/Data/gone-out: a symlink leading outside %s: refused",
             root, real_root);
    free(real_root);
    assert_string_equal(err.msg, expected);
}

static void test_resolve_refuses_bad_input(void **state)
{
    (void)state;
    char out[400], local[400];
    struct lme_err err = { 0 };
    assert_int_equal(resolve("data/../data/connector.id", out, sizeof(out), &err), LME_EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(winpath_resolve(root, "/etc/passwd", out, sizeof(out), &err), LME_EINVAL);
    snprintf(local, sizeof(local), "%sx/data", root); /* a sibling sharing the prefix */
    assert_int_equal(winpath_resolve(root, local, out, sizeof(out), &err), LME_EINVAL);

    snprintf(local, sizeof(local), "%s/data/connector.id", root);
    assert_int_equal(winpath_resolve(root, local, out, strlen(local), &err), LME_ERANGE);
    assert_string_equal(out, "");
    assert_int_equal(winpath_resolve(root, local, out, strlen(local) + 1, &err), 0);
    assert_path(out, "Data/Connector.ID");
}

static void test_resolve_unlistable_directory(void **state)
{
    (void)state;
    char dir[400], out[400], local[400], expected[600];
    struct lme_err err = { 0 };
    snprintf(dir, sizeof(dir), "%s/Locked", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    make_file("Locked/Inner.id");
    assert_int_equal(chmod(dir, 0300), 0); /* names can be looked up, not listed */
    snprintf(local, sizeof(local), "%s/Locked/Inner.id", root);
    int exact = winpath_resolve(root, local, out, sizeof(out), &err);
    snprintf(local, sizeof(local), "%s/locked/inner.id", root);
    int folded = winpath_resolve(root, local, out, sizeof(out), &err);
    chmod(dir, 0700);
    assert_int_equal(exact, 0);
    if (geteuid() == 0) {
        print_message("running as root: every directory can be listed, LME_EIO not checked\n");
        return;
    }
    assert_int_equal(folded, LME_EIO);
    assert_string_equal(out, "");
    snprintf(expected, sizeof(expected),
             "%s/Locked/inner.id: cannot list its directory to match 'inner.id' ignoring case: "
             "Permission denied",
             root);
    assert_string_equal(err.msg, expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_absolute),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_too_small),
        cmocka_unit_test(test_map_longest_prefix_wins),
        cmocka_unit_test(test_map_unmapped),
        cmocka_unit_test(test_map_refuses_dotdot),
        cmocka_unit_test(test_map_too_small),
        cmocka_unit_test(test_entry_of_finds_the_longest_local_folder),
        cmocka_unit_test(test_unmap_gives_the_connectors_path),
        cmocka_unit_test(test_resolve_ignores_case),
        cmocka_unit_test(test_resolve_missing_component),
        cmocka_unit_test(test_resolve_symlink_inside_root),
        cmocka_unit_test(test_resolve_symlink_leaving_root),
        cmocka_unit_test(test_resolve_refuses_bad_input),
        cmocka_unit_test(test_resolve_unlistable_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
