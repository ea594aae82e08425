/* Unit tests of the checkpoint store on real files: round trip, a missing or corrupt file, an
 * update in place, a failed save leaving the previous file intact, fingerprints. */
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
#include <unistd.h>

#include "checkpoint.h"

static char dir[] = "/tmp/lme-cp-XXXXXX";
static char file[300];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof(file), "%s/checkpoints.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(file);
    rmdir(dir);
    return 0;
}

static void write_text(const char *text)
{
    FILE *f = fopen(file, "w");
    fputs(text, f);
    fclose(f);
}

static void test_round_trip_and_update(void **state)
{
    (void)state;
    struct checkpoints cps = { 0 }, back = { 0 };
    struct lme_err err;
    struct checkpoint a = { "/logs/a.log", 2049, 18446744073709551615ULL, 0xfedcba9876543210ULL, 1024, 123456789, 123456789 };
    struct checkpoint b = { "/logs/b.log", 2049, 7, 1, 10, 0, 0 };
    assert_int_equal(checkpoints_set(&cps, &a), 0);
    assert_int_equal(checkpoints_set(&cps, &b), 0);
    a.offset = 999999999999ULL; /* same file: updated, not added */
    a.path = "/logs/a.log.1";
    assert_int_equal(checkpoints_set(&cps, &a), 0);
    assert_int_equal(cps.n, 2);
    assert_int_equal(checkpoints_save(dir, &cps, &err), 0);
    assert_int_equal(access(file, F_OK), 0);
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s/.checkpoints.json.tmp", dir);
    assert_int_not_equal(access(tmp, F_OK), 0); /* nothing left behind */

    assert_int_equal(checkpoints_load(dir, &back, &err), 0);
    assert_int_equal(back.n, 2);
    struct checkpoint *got = checkpoints_find(&back, 2049, 18446744073709551615ULL);
    assert_non_null(got);
    assert_string_equal(got->path, "/logs/a.log.1");
    assert_true(got->fingerprint == 0xfedcba9876543210ULL);
    assert_int_equal(got->fingerprint_len, 1024);
    assert_true(got->offset == 999999999999ULL);
    assert_null(checkpoints_find(&back, 2050, 7));
    checkpoints_remove(&back, (size_t)(got - back.v));
    assert_int_equal(back.n, 1);
    assert_null(checkpoints_find(&back, 2049, 18446744073709551615ULL));
    assert_non_null(checkpoints_find(&back, 2049, 7));
    checkpoints_free(&cps);
    checkpoints_free(&back);
}

static void test_missing_file_is_empty(void **state)
{
    (void)state;
    struct checkpoints cps = { 0 };
    struct lme_err err;
    unlink(file);
    assert_int_equal(checkpoints_load(dir, &cps, &err), 0);
    assert_int_equal(cps.n, 0);
}

static void test_corrupt_files_are_refused_by_name(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"version\":1,\"files\":[{\"path\":\"/a\",\"dev\":\"1\",\"ino\"", /* cut short */
        "",
        "{\"version\":2,\"files\":[]}",
        "{\"version\":1,\"files\":[{\"path\":\"/a\",\"dev\":\"x\",\"ino\":\"1\",\"fingerprint\":\"1\","
        "\"fingerprint_len\":1,\"offset\":1}]}",
        "{\"version\":1,\"files\":[{\"path\":\"/a\",\"dev\":\"1\",\"ino\":\"1\",\"fingerprint\":\"1\","
        "\"fingerprint_len\":5000,\"offset\":1}]}",
        "{\"version\":1,\"files\":[{\"path\":\"/a\",\"dev\":\"1\",\"ino\":\"1\",\"fingerprint\":\"1\","
        "\"fingerprint_len\":1,\"offset\":-5}]}",
        "[1,2,3]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct checkpoints cps = { 0 };
        struct lme_err err = { 0 };
        write_text(bad[i]);
        assert_int_equal(checkpoints_load(dir, &cps, &err), LME_EINVAL);
        assert_non_null(strstr(err.msg, file));
        assert_int_equal(cps.n, 0);
    }
}

static void test_failed_save_keeps_the_previous_file(void **state)
{
    (void)state;
    struct checkpoints cps = { 0 };
    struct lme_err err;
    struct checkpoint a = { "/a", 1, 2, 3, 4, 5, 5 };
    assert_int_equal(checkpoints_set(&cps, &a), 0);
    assert_int_equal(checkpoints_save(dir, &cps, &err), 0);
    assert_int_not_equal(checkpoints_save("/nonexistent/dir", &cps, &err), 0);
    assert_non_null(strstr(err.msg, "/nonexistent/dir/checkpoints.json"));
    /* a temporary file in the way (a directory) makes the save fail: the old file stays */
    char tmp[320];
    snprintf(tmp, sizeof(tmp), "%s/.checkpoints.json.tmp", dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    a.offset = 99;
    assert_int_equal(checkpoints_set(&cps, &a), 0);
    assert_int_equal(checkpoints_save(dir, &cps, &err), LME_EIO);
    rmdir(tmp);
    struct checkpoints back = { 0 };
    assert_int_equal(checkpoints_load(dir, &back, &err), 0);
    assert_int_equal(back.v[0].offset, 5);
    checkpoints_free(&cps);
    checkpoints_free(&back);
}

static void test_fingerprint_of_short_and_long_files(void **state)
{
    (void)state;
    char path[320];
    snprintf(path, sizeof(path), "%s/f.log", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(write(fd, "hello", 5) == 5);
    uint64_t fp1, fp2;
    uint32_t got;
    assert_int_equal(checkpoint_fingerprint(fd, CHECKPOINT_FINGERPRINT_BYTES, &fp1, &got), 0);
    assert_int_equal(got, 5);
    char more[2000];
    memset(more, 'x', sizeof(more));
    assert_true(write(fd, more, sizeof(more)) == (ssize_t)sizeof(more));
    assert_int_equal(checkpoint_fingerprint(fd, 5, &fp2, &got), 0); /* the same first 5 bytes */
    assert_true(fp1 == fp2);
    assert_int_equal(checkpoint_fingerprint(fd, CHECKPOINT_FINGERPRINT_BYTES, &fp2, &got), 0);
    assert_int_equal(got, CHECKPOINT_FINGERPRINT_BYTES);
    assert_true(fp1 != fp2);
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_update),
        cmocka_unit_test(test_missing_file_is_empty),
        cmocka_unit_test(test_corrupt_files_are_refused_by_name),
        cmocka_unit_test(test_failed_save_keeps_the_previous_file),
        cmocka_unit_test(test_fingerprint_of_short_and_long_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
