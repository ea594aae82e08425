/* Unit tests of the commit of acknowledgements to checkpoints: each file moves on its own (one
 * stuck record holds back its own file only, the old global ring's flaw), every sink copy must
 * settle, a superseded reading no longer moves its checkpoint, names are reused without stray
 * settlements leaking into the new file, and saves are coalesced: due at once after the first
 * advance, then at most once per interval, never when nothing moved. Real files in a temporary
 * state_dir, read back with checkpoints_load. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "commit.h"

static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_commit.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd);
}

static uint32_t track(struct commit *c, const char *path, uint64_t ino, uint64_t offset)
{
    struct checkpoint id = { (char *)path, 1, ino, 42, 10, offset, offset };
    uint32_t file;
    assert_int_equal(commit_track(c, &id, &file), 0);
    return file;
}

static uint64_t send(struct commit *c, uint32_t file, uint64_t end, int copies)
{
    uint64_t token;
    assert_int_equal(commit_add(c, file, end, lme_mono_ms(), &token), 0);
    commit_expect(c, token, copies);
    return token;
}

/* The offset checkpoints.json holds for inode ino, or -1. */
static long long saved_offset(uint64_t ino)
{
    struct checkpoints cps = { 0 };
    struct lme_err err;
    assert_int_equal(checkpoints_load(dir, &cps, &err), 0);
    const struct checkpoint *cp = checkpoints_find(&cps, 1, ino);
    long long off = cp ? (long long)cp->offset : -1;
    checkpoints_free(&cps);
    return off;
}

static void test_a_stuck_file_holds_back_only_itself(void **state)
{
    (void)state;
    struct lme_err err;
    struct commit *c = commit_create(dir, 1000, &err);
    assert_non_null(c);
    assert_true(commit_first_start(c));
    uint32_t a = track(c, "/logs/a.log", 100, 0), b = track(c, "/logs/b.log", 200, 0);
    uint64_t stuck = send(c, a, 10, 1);
    uint64_t a2 = send(c, a, 20, 1);
    uint64_t b1 = send(c, b, 30, 1), b2 = send(c, b, 40, 1);
    commit_settle(c, a2);
    commit_settle(c, b2);
    commit_settle(c, b1);
    assert_true(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_offset(c, a), 0);  /* its first record is still out */
    assert_int_equal(commit_offset(c, b), 40); /* b went on regardless */
    assert_int_equal(commit_pending(c, a), 2);
    assert_int_equal(commit_pending(c, b), 0);
    commit_settle(c, stuck);
    assert_true(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_offset(c, a), 20);
    commit_destroy(c);
}

static void test_every_copy_and_stray_tokens(void **state)
{
    (void)state;
    struct lme_err err;
    struct commit *c = commit_create(dir, 1000, &err);
    uint32_t a = track(c, "/logs/a.log", 100, 5);
    assert_int_equal(commit_offset(c, a), 5);
    uint64_t t = send(c, a, 50, 2);
    commit_settle(c, t);
    assert_false(commit_advance(c, lme_mono_ms()));
    commit_settle(c, t + 12345);           /* unknown token: ignored */
    commit_settle(c, (UINT64_C(77) << 40) | 1); /* unknown file: ignored */
    assert_false(commit_advance(c, lme_mono_ms()));
    commit_settle(c, t);
    assert_true(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_offset(c, a), 50);
    /* let the file go with nothing pending, and reuse its name: a late settlement of the old
     * token must not settle the new file's first record */
    commit_untrack(c, a);
    uint32_t b = track(c, "/logs/b.log", 200, 0);
    assert_int_equal(b, a);
    uint64_t t2 = send(c, b, 70, 1);
    commit_settle(c, t);
    assert_false(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_offset(c, b), 0);
    commit_settle(c, t2);
    assert_true(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_offset(c, b), 70);
    commit_destroy(c);
}

static void test_superseded_reading_moves_no_checkpoint(void **state)
{
    (void)state;
    struct lme_err err;
    struct commit *c = commit_create(dir, 1000, &err);
    uint32_t old = track(c, "/logs/a.log", 100, 0);
    assert_int_equal(commit_save(c, &err), 0);
    uint64_t t = send(c, old, 900, 1);
    commit_supersede(c, old); /* copy-truncate: a new reading of the same file starts at 0 */
    uint32_t fresh = track(c, "/logs/a.log", 100, 0);
    commit_settle(c, t);
    assert_false(commit_advance(c, lme_mono_ms())); /* the old reading's offset is no checkpoint */
    uint64_t t2 = send(c, fresh, 30, 1);
    commit_settle(c, t2);
    assert_true(commit_advance(c, lme_mono_ms()));
    assert_int_equal(commit_save(c, &err), 0);
    assert_int_equal(saved_offset(100), 30);
    commit_destroy(c);
}

static void test_saves_are_due_within_the_interval_of_an_advance(void **state)
{
    (void)state;
    struct lme_err err;
    struct commit *c = commit_create(dir, 1000, &err);
    uint32_t a = track(c, "/logs/a.log", 100, 0);
    int64_t now = lme_mono_ms();
    int first = commit_save_due_in(c, now); /* a file to record: within the interval */
    assert_true(first > 0 && first <= 1000);
    assert_int_equal(commit_save_due_in(c, now + 1000), 0);
    assert_int_equal(commit_save(c, &err), 0);
    assert_int_equal(saved_offset(100), 0);
    assert_int_equal(commit_save_due_in(c, now), INT32_MAX); /* nothing moved since */
    uint64_t t = send(c, a, 10, 1);
    commit_settle(c, t);
    assert_true(commit_advance(c, now));
    int due = commit_save_due_in(c, lme_mono_ms());
    assert_true(due > 0 && due <= 1000); /* coalesced: not again before the interval */
    assert_int_equal(commit_save_due_in(c, lme_mono_ms() + 1000), 0);
    assert_int_equal(commit_save(c, &err), 0);
    assert_int_equal(saved_offset(100), 10);
    assert_int_equal(commit_stats(c)->saves_ok, 2);
    assert_int_equal(commit_stats(c)->latency.count, 1);
    commit_destroy(c);
    /* the next start finds the file it saved */
    c = commit_create(dir, 1000, &err);
    assert_false(commit_first_start(c));
    assert_false(commit_bad_checkpoints(c, NULL));
    commit_destroy(c);
}

static void test_gone_files_are_pruned_at_save(void **state)
{
    (void)state;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/gone.log", dir);
    struct lme_err err;
    struct commit *c = commit_create(dir, 1000, &err);
    uint32_t a = track(c, path, 300, 0);
    commit_untrack(c, a); /* not followed any more, and its path names nothing */
    assert_int_equal(commit_save(c, &err), 0);
    assert_int_equal(saved_offset(300), -1);
    commit_destroy(c);
}

/* Where sending had got to is saved beside the committed offset, with the state given, in one
 * file: after a restart the same reading of the file knows which records it sent before
 * (commit_replayed); another reading of it (other first bytes) knows none. */
static void test_what_was_sent_before_a_restart_is_known(void **state)
{
    (void)state;
    struct lme_err err;
    struct commit *c = commit_create(dir, 0, &err);
    assert_non_null(c);
    uint32_t a = track(c, "/logs/a.log", 100, 0);
    uint64_t first = send(c, a, 10, 1);
    send(c, a, 20, 1);
    send(c, a, 30, 1);
    commit_settle(c, first);
    commit_advance(c, lme_mono_ms());
    assert_null(commit_state(c));
    assert_int_equal(commit_set_state(c, "{\"k\":[1,2]}"), 0);
    assert_int_equal(commit_save(c, &err), 0);
    commit_destroy(c);

    c = commit_create(dir, 0, &err);
    assert_non_null(c);
    assert_string_equal(commit_state(c), "{\"k\":[1,2]}");
    uint32_t again = track(c, "/logs/a.log", 100, 10); /* resumed where it committed */
    assert_true(commit_replayed(c, again, 20));
    assert_true(commit_replayed(c, again, 30));
    assert_false(commit_replayed(c, again, 31));
    struct checkpoint other = { "/logs/a.log", 1, 100, 43, 10, 0, 0 };
    uint32_t replaced;
    assert_int_equal(commit_track(c, &other, &replaced), 0);
    assert_false(commit_replayed(c, replaced, 20));
    commit_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_stuck_file_holds_back_only_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_copy_and_stray_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_superseded_reading_moves_no_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saves_are_due_within_the_interval_of_an_advance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gone_files_are_pruned_at_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_was_sent_before_a_restart_is_known, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
