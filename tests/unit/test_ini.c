/* Unit tests of the lenient INI reader: the forms Windows editors write (CRLF, BOM, comments,
 * any case, quotes, duplicates), code-page bytes kept as written, and every error of ini_load
 * on real files (missing, a directory, a FIFO, no permission, over the cap). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ini.h"

#define CAP 65536

static char dir[] = "/tmp/lme-ini-XXXXXX";
static char file[300];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof(file), "%s/notes.ini", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(file);
    rmdir(dir);
    return 0;
}

static void write_bytes(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static struct ini *parse(const char *text)
{
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    assert_int_equal(ini_parse(text, strlen(text), &ini, &err), 0);
    assert_non_null(ini);
    return ini;
}

/* Collects section names into a "|"-joined string. */
struct names {
    char s[256];
    int calls, stop_after;
};

static int collect(const char *section, void *ctx)
{
    struct names *n = ctx;
    strncat(n->s, "|", sizeof(n->s) - strlen(n->s) - 1);
    strncat(n->s, section, sizeof(n->s) - strlen(n->s) - 1);
    return ++n->calls == n->stop_after;
}

static void assert_sections(const struct ini *ini, const char *expected)
{
    struct names n = { "", 0, 0 };
    ini_foreach_section(ini, collect, &n);
    assert_string_equal(n.s, expected);
}

static void test_windows_editor_forms(void **state)
{
    (void)state;
    struct ini *ini = parse("\xEF\xBB\xBF"
                            "top = before\r\n"
                            "; KeyFileName=commented.id\r\n"
                            "# KitType=9\r\n"
                            "\r\n"
                            "  [ Notes ]  \r\n"
                            "KeyFileName  =  \"connector.id\"  \r\n"
                            "\tDirectory\t=\td:\\notes\\data\t\r\n"
                            "a line without an equals sign\r\n"
                            "KEYFILENAME=second.id\r\n"
                            "Empty=\r\n"
                            "Quoted=\"\"\r\n"
                            "Half=\"open\r\n"
                            "Inner=a \"b\" c ; not a comment\r\n"
                            "Eq=a=b\r\n"
                            "=no key\r\n");
    assert_string_equal(ini_get(ini, "", "TOP"), "before");
    assert_string_equal(ini_get(ini, "notes", "keyfilename"), "second.id"); /* the later one */
    assert_string_equal(ini_get(ini, "NOTES", "directory"), "d:\\notes\\data");
    assert_string_equal(ini_get(ini, "Notes", "Empty"), "");
    assert_string_equal(ini_get(ini, "Notes", "Quoted"), "");
    assert_string_equal(ini_get(ini, "Notes", "Half"), "\"open");
    assert_string_equal(ini_get(ini, "Notes", "Inner"), "a \"b\" c ; not a comment");
    assert_string_equal(ini_get(ini, "Notes", "Eq"), "a=b");
    assert_null(ini_get(ini, "Notes", "a line without an equals sign"));
    assert_null(ini_get(ini, "Notes", ""));
    assert_null(ini_get(ini, "Notes", "KitType"));
    assert_null(ini_get(ini, "", "; KeyFileName"));
    assert_null(ini_get(ini, "", "KeyFileName"));
    assert_null(ini_get(ini, "Other", "KeyFileName"));
    assert_null(ini_get(ini, " Notes ", "KeyFileName")); /* the caller's names are not trimmed */
    assert_null(ini_get(NULL, "Notes", "KeyFileName"));
    assert_sections(ini, "||Notes");
    ini_free(ini);
}

static void test_lf_and_cr_only_line_ends(void **state)
{
    (void)state;
    struct ini *ini = parse("[A]\nx=1\n\n[B]\ry=2\r\rz=3\n\rw=4");
    assert_string_equal(ini_get(ini, "a", "x"), "1");
    assert_string_equal(ini_get(ini, "b", "y"), "2");
    assert_string_equal(ini_get(ini, "b", "z"), "3");
    assert_string_equal(ini_get(ini, "b", "w"), "4"); /* last line without a line end */
    assert_null(ini_get(ini, "a", "y"));
    assert_sections(ini, "|A|B");
    ini_free(ini);
}

static void test_code_page_bytes_are_kept(void **state)
{
    (void)state;
    /* Windows-1252: e-acute, and the 0xA0 padding one browse log sample shows */
    struct ini *ini = parse("[S\xE9]\r\nName=Caf\xE9\xA0\r\nPad=\xA0\xA0x\xA0\r\n\xC4X=1\r\n");
    assert_string_equal(ini_get(ini, "s\xE9", "name"), "Caf\xE9\xA0");
    assert_string_equal(ini_get(ini, "S\xE9", "pad"), "\xA0\xA0x\xA0");
    assert_string_equal(ini_get(ini, "S\xE9", "\xC4x"), "1");
    assert_null(ini_get(ini, "S\xE9", "\xE4x")); /* only ASCII letters ignore case */
    assert_null(ini_get(ini, "S\xC9", "name"));
    ini_free(ini);
}

static void test_repeated_section_and_duplicate_keys(void **state)
{
    (void)state;
    struct ini *ini = parse("[Notes]\nA=1\nC=5\n[Other]\nA=2\n[NOTES]\nA=3\nB=4\n");
    assert_string_equal(ini_get(ini, "notes", "a"), "3");
    assert_string_equal(ini_get(ini, "notes", "b"), "4");
    assert_string_equal(ini_get(ini, "notes", "c"), "5");
    assert_string_equal(ini_get(ini, "other", "a"), "2");
    assert_sections(ini, "|Notes|Other"); /* listed once, as first written */
    ini_free(ini);
}

static void test_section_header_forms(void **state)
{
    (void)state;
    struct ini *ini = parse("[Unclosed\nk=1\n[Closed] ; trailing text\nk=2\n[]\nk=3\n[ a b ]\nk=4\n");
    assert_string_equal(ini_get(ini, "Unclosed", "k"), "1");
    assert_string_equal(ini_get(ini, "Closed", "k"), "2");
    assert_string_equal(ini_get(ini, "", "k"), "3");
    assert_string_equal(ini_get(ini, "A B", "k"), "4");
    assert_sections(ini, "|Unclosed|Closed||a b");
    ini_free(ini);
}

static void test_empty_text(void **state)
{
    (void)state;
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    assert_int_equal(ini_parse("", 0, &ini, &err), 0);
    assert_null(ini_get(ini, "", "x"));
    assert_sections(ini, "");
    ini_free(ini);
    assert_int_equal(ini_parse(NULL, 0, &ini, &err), 0);
    assert_sections(ini, "");
    ini_free(ini);
    ini = parse("\xEF\xBB\xBF\r\n; only a comment\r\n");
    assert_sections(ini, "");
    ini_free(ini);
    ini_free(NULL);
}

static void test_text_not_ansi_is_refused(void **state)
{
    (void)state;
    struct ini *ini = (struct ini *)&ini; /* must come back NULL */
    struct lme_err err = { 0 };
    static const char utf16[] = "\xFF\xFE[\0N\0]\0";
    assert_int_equal(ini_parse(utf16, sizeof(utf16) - 1, &ini, &err), LME_EINVAL);
    assert_null(ini);
    assert_string_equal(err.msg, "INI text: UTF-16 text (it starts with a UTF-16 byte-order mark); the "
                                 "connector reads INI files as ANSI text: save it as ANSI");
    static const char nul[] = "[A]\nk=v\0x\n";
    assert_int_equal(ini_parse(nul, sizeof(nul) - 1, &ini, &err), LME_EINVAL);
    assert_null(ini);
    assert_string_equal(err.msg, "INI text: NUL byte at offset 7: not ANSI text (UTF-16 without a "
                                 "byte-order mark, or not a text file)");
}

static void test_foreach_stops_when_asked(void **state)
{
    (void)state;
    struct ini *ini = parse("[One]\n[Two]\n[Three]\n");
    struct names n = { "", 0, 2 };
    ini_foreach_section(ini, collect, &n);
    assert_string_equal(n.s, "|One|Two");
    assert_int_equal(n.calls, 2);
    ini_free(ini);
}

/* ---- real files ---- */

static void test_load_notes_ini(void **state)
{
    (void)state;
    static const char text[] = "[Notes]\r\nKitType=1\r\nDirectory=d:\\notes\\data\r\n"
                               "KeyFileName=connector.id\r\n";
    write_bytes(file, text, sizeof(text) - 1);
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    assert_int_equal(ini_load(file, CAP, &ini, &err), 0);
    assert_string_equal(ini_get(ini, "Notes", "KitType"), "1");
    assert_string_equal(ini_get(ini, "notes", "directory"), "d:\\notes\\data");
    assert_string_equal(ini_get(ini, "NOTES", "KEYFILENAME"), "connector.id");
    assert_sections(ini, "|Notes");
    ini_free(ini);
}

static void test_load_exchconn_ini_sections(void **state)
{
    (void)state;
    static const char text[] = "[LME-NOTES-NTSMEX]\r\nNOTESSERVER=Test/Notes\r\n\r\n"
                               "[LME-NOTES-MEXNTS]\r\nNOTESSERVER=Test/Notes\r\n\r\n"
                               "[LME-NOTES-DXANOTES]\r\n";
    write_bytes(file, text, sizeof(text) - 1);
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    assert_int_equal(ini_load(file, CAP, &ini, &err), 0);
    assert_sections(ini, "|LME-NOTES-NTSMEX|LME-NOTES-MEXNTS|LME-NOTES-DXANOTES");
    assert_string_equal(ini_get(ini, "lme-notes-ntsmex", "NotesServer"), "Test/Notes");
    assert_string_equal(ini_get(ini, "LME-NOTES-MEXNTS", "notesserver"), "Test/Notes");
    assert_null(ini_get(ini, "LME-NOTES-DXANOTES", "NOTESSERVER"));
    ini_free(ini);
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct ini *ini = (struct ini *)&ini;
    struct lme_err err = { 0 };
    char path[400], expected[600];
    snprintf(path, sizeof(path), "%s/missing.ini", dir);
    assert_int_equal(ini_load(path, CAP, &ini, &err), LME_ENOENT);
    assert_null(ini);
    snprintf(expected, sizeof(expected), "%s: no such file", path);
    assert_string_equal(err.msg, expected);
    assert_int_equal(err.code, LME_ENOENT);

    write_bytes(file, "", 0); /* a file where a directory should be: ENOTDIR */
    snprintf(path, sizeof(path), "%s/notes.ini/x.ini", dir);
    assert_int_equal(ini_load(path, CAP, &ini, &err), LME_ENOENT);
}

static void test_load_directory(void **state)
{
    (void)state;
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    char expected[600];
    assert_int_equal(ini_load(dir, CAP, &ini, &err), LME_EINVAL);
    assert_null(ini);
    snprintf(expected, sizeof(expected),
             "%s: not a regular file (a directory): name the INI file itself", dir);
    assert_string_equal(err.msg, expected);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_load_fifo_returns_promptly(void **state)
{
    (void)state;
    char path[400], expected[600];
    snprintf(path, sizeof(path), "%s/fifo.ini", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    alarm(10); /* a blocking open would hang the test: let SIGALRM end it instead */
    double t0 = now();
    int rc = ini_load(path, CAP, &ini, &err);
    double took = now() - t0;
    alarm(0);
    unlink(path);
    assert_int_equal(rc, LME_EINVAL);
    assert_true(took < 1.0);
    snprintf(expected, sizeof(expected), "%s: not a regular file (a FIFO): name the INI file itself", path);
    assert_string_equal(err.msg, expected);
}

static void test_load_unreadable_file(void **state)
{
    (void)state;
    write_bytes(file, "[Notes]\r\n", 9);
    assert_int_equal(chmod(file, 0), 0);
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    int rc = ini_load(file, CAP, &ini, &err);
    ini_free(ini);
    chmod(file, 0600);
    if (geteuid() == 0) {
        print_message("running as root: mode 000 does not stop reading, LME_EIO not checked\n");
        return;
    }
    char expected[600];
    snprintf(expected, sizeof(expected),
             "%s: cannot open: Permission denied (give the daemon's account read access)", file);
    assert_int_equal(rc, LME_EIO);
    assert_string_equal(err.msg, expected);
}

static void test_load_over_the_cap(void **state)
{
    (void)state;
    char text[100], expected[600];
    memset(text, 'x', sizeof(text));
    memcpy(text, "[Notes]\nk=", 10);
    write_bytes(file, text, sizeof(text));
    struct ini *ini = NULL;
    struct lme_err err = { 0 };
    assert_int_equal(ini_load(file, 99, &ini, &err), LME_ERANGE);
    assert_null(ini);
    snprintf(expected, sizeof(expected), "%s: 100 bytes, more than the 99-byte limit for INI files", file);
    assert_string_equal(err.msg, expected);

    assert_int_equal(ini_load(file, 100, &ini, &err), 0); /* exactly at the cap */
    assert_int_equal(strlen(ini_get(ini, "Notes", "k")), 90);
    ini_free(ini);

    write_bytes(file, "", 0);
    assert_int_equal(ini_load(file, 0, &ini, &err), 0);
    assert_sections(ini, "");
    ini_free(ini);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows_editor_forms),
        cmocka_unit_test(test_lf_and_cr_only_line_ends),
        cmocka_unit_test(test_code_page_bytes_are_kept),
        cmocka_unit_test(test_repeated_section_and_duplicate_keys),
        cmocka_unit_test(test_section_header_forms),
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_text_not_ansi_is_refused),
        cmocka_unit_test(test_foreach_stops_when_asked),
        cmocka_unit_test(test_load_notes_ini),
        cmocka_unit_test(test_load_exchconn_ini_sections),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_load_directory),
        cmocka_unit_test(test_load_fifo_returns_promptly),
        cmocka_unit_test(test_load_unreadable_file),
        cmocka_unit_test(test_load_over_the_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
