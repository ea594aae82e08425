/* Unit tests of the ID-file readability probe on real files in a temporary directory: each status,
 * the owner/group/others rule for another account ("nobody"), unsearchable directories on the way
 * (also behind a symlink), and the daemon's own account; the file itself judged before the
 * account; the mount lookup that tells a share whose mode bits are the mount's (mountinfo text
 * as the kernel writes it: no SMB share can be mounted in a test). Cases that need files owned
 * by another uid run only as root (chown) and are skipped with a message otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "err.h"
#include "probe_file.h"
#include "probe_mount.h"

static char dir[] = "/tmp/lme-pf-XXXXXX";
static uid_t nobody_uid;
static gid_t nobody_gid;
static int have_nobody;

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || chmod(dir, 0755) != 0) /* mkdtemp makes it 0700: nobody could not enter */
        return -1;
    struct passwd *pw = getpwnam("nobody");
    if (pw) {
        have_nobody = 1;
        nobody_uid = pw->pw_uid;
        nobody_gid = pw->pw_gid;
    }
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *in_dir(const char *name)
{
    static char path[4][300];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
    return p;
}

/* Creates (or replaces) name with text, then sets its mode and, when uid is not -1, its owner. */
static const char *make_file(const char *name, const char *text, mode_t mode, uid_t uid, gid_t gid)
{
    const char *path = in_dir(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    if (uid != (uid_t)-1)
        assert_int_equal(chown(path, uid, gid), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static const char *make_dir(const char *name, mode_t mode)
{
    const char *path = in_dir(name);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static int need_nobody(void)
{
    if (!have_nobody || getuid() == nobody_uid)
        print_message("skipped: no user nobody, or the test runs as nobody\n");
    return have_nobody && getuid() != nobody_uid;
}

static int need_root(void)
{
    if (!need_nobody())
        return 0;
    if (geteuid() != 0)
        print_message("skipped: chown to another uid needs root\n");
    return geteuid() == 0;
}

static void probe(const char *path, const char *user, struct probe_file_result *r,
                  enum probe_file_status want)
{
    assert_int_equal(probe_file_readable(path, user, r), 0);
    if (r->status != want)
        print_message("got %s: %s\n", probe_file_status_name(r->status), r->detail);
    assert_int_equal(r->status, want);
}

static void test_readable_file_is_ok_with_its_attributes(void **state)
{
    (void)state;
    struct probe_file_result r;
    const char *path = make_file("connector.id", "not really an ID", 0644, (uid_t)-1, 0);
    probe(path, NULL, &r, PROBE_FILE_OK);
    assert_true(r.size == 16);
    assert_int_equal(r.mode, 0644);
    assert_int_equal(r.uid, geteuid());
    assert_non_null(strstr(r.detail, path));
    if (need_nobody())
        probe(path, "nobody", &r, PROBE_FILE_OK);
}

static void test_missing_file_and_missing_directory_are_named(void **state)
{
    (void)state;
    struct probe_file_result r;
    probe(in_dir("no-such.id"), NULL, &r, PROBE_FILE_MISSING);
    assert_non_null(strstr(r.detail, "does not exist"));
    probe(in_dir("no-such-dir/connector.id"), NULL, &r, PROBE_FILE_MISSING);
    assert_non_null(strstr(r.detail, "no-such-dir is missing"));
    const char *file = make_file("plain", "x", 0644, (uid_t)-1, 0);
    probe(in_dir("plain/connector.id"), NULL, &r, PROBE_FILE_MISSING); /* a file used as a directory */
    assert_non_null(strstr(r.detail, file));
    assert_non_null(strstr(r.detail, "not a directory"));
    probe("", NULL, &r, PROBE_FILE_MISSING);
}

static void test_directory_and_fifo_are_not_regular(void **state)
{
    (void)state;
    struct probe_file_result r;
    probe(dir, NULL, &r, PROBE_FILE_NOT_REGULAR);
    assert_non_null(strstr(r.detail, "a directory"));
    const char *fifo = in_dir("fifo.id");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    probe(fifo, NULL, &r, PROBE_FILE_NOT_REGULAR); /* must not block: the file is never opened */
    assert_non_null(strstr(r.detail, "a FIFO"));
}

static void test_empty_file(void **state)
{
    (void)state;
    struct probe_file_result r;
    probe(make_file("empty.id", "", 0644, (uid_t)-1, 0), NULL, &r, PROBE_FILE_EMPTY);
    assert_true(r.size == 0);
}

static void test_owner_only_file_is_unreadable_for_another_user(void **state)
{
    (void)state;
    if (!need_nobody()) {
        skip();
        return;
    }
    struct probe_file_result r;
    const char *path = make_file("private.id", "secret", 0600, (uid_t)-1, 0); /* ours: root here */
    probe(path, "nobody", &r, PROBE_FILE_UNREADABLE);
    char want[300];
    snprintf(want, sizeof(want),
             "%s is mode 0600 owned by uid %u; user nobody (uid %u) is neither owner nor in group %u and "
             "others may not read it", path, (unsigned)geteuid(), (unsigned)nobody_uid, r.gid);
    assert_string_equal(r.detail, want);
    assert_int_equal(r.mode, 0600);
}

static void test_group_bits_decide_for_a_group_member(void **state)
{
    (void)state;
    if (!need_root()) {
        skip();
        return;
    }
    struct probe_file_result r;
    probe(make_file("group.id", "id", 0640, 0, nobody_gid), "nobody", &r, PROBE_FILE_OK);
    assert_int_equal(r.gid, nobody_gid);
    /* group members get the group's bits, not the others': 0604 shuts nobody's group out */
    probe(make_file("group-shut.id", "id", 0604, 0, nobody_gid), "nobody", &r, PROBE_FILE_UNREADABLE);
    assert_non_null(strstr(r.detail, "is in its group"));
}

static void test_owner_bits_decide_for_the_owner(void **state)
{
    (void)state;
    if (!need_root()) {
        skip();
        return;
    }
    struct probe_file_result r;
    const char *shut = make_file("owner-shut.id", "id", 0044, nobody_uid, nobody_gid);
    probe(shut, "nobody", &r, PROBE_FILE_UNREADABLE); /* only the owner's bits count for the owner */
    assert_non_null(strstr(r.detail, "owns it but the owner may not read it"));
    probe(make_file("owner-only.id", "id", 0400, nobody_uid, 0), "nobody", &r, PROBE_FILE_OK);
}

static void test_unsearchable_directory_on_the_way(void **state)
{
    (void)state;
    if (!need_nobody()) {
        skip();
        return;
    }
    struct probe_file_result r;
    const char *locked = make_dir("locked", 0700);
    const char *path = make_file("locked/connector.id", "id", 0644, (uid_t)-1, 0);
    probe(path, "nobody", &r, PROBE_FILE_UNREADABLE);
    assert_non_null(strstr(r.detail, locked));
    assert_non_null(strstr(r.detail, "directory "));
    assert_non_null(strstr(r.detail, "may not search it"));
    probe(path, NULL, &r, PROBE_FILE_OK); /* the owner itself may */
}

static void test_directory_behind_a_symlink_is_checked_where_it_really_is(void **state)
{
    (void)state;
    if (!need_nobody()) {
        skip();
        return;
    }
    struct probe_file_result r;
    make_dir("vault", 0700);
    make_dir("vault/inner", 0755);
    make_file("vault/inner/connector.id", "id", 0644, (uid_t)-1, 0);
    assert_int_equal(symlink("vault/inner", in_dir("shortcut")), 0);
    /* every directory spelled in the path is searchable; the real one above it is not */
    probe(in_dir("shortcut/connector.id"), "nobody", &r, PROBE_FILE_UNREADABLE);
    assert_non_null(strstr(r.detail, "vault is mode 0700"));
}

static void test_symlinks_are_reported(void **state)
{
    (void)state;
    struct probe_file_result r;
    make_file("target.id", "id", 0644, (uid_t)-1, 0);
    assert_int_equal(symlink("target.id", in_dir("link.id")), 0);
    probe(in_dir("link.id"), NULL, &r, PROBE_FILE_OK);
    assert_non_null(strstr(r.detail, "symlinks to "));
    assert_non_null(strstr(r.detail, "target.id"));
    assert_int_equal(symlink("gone.id", in_dir("dangling.id")), 0);
    probe(in_dir("dangling.id"), NULL, &r, PROBE_FILE_MISSING);
    assert_non_null(strstr(r.detail, "is a symlink to gone.id, which does not exist"));
}

static void test_unknown_user(void **state)
{
    (void)state;
    struct probe_file_result r;
    const char *path = make_file("any.id", "id", 0644, (uid_t)-1, 0);
    probe(path, "no-such-user-lme", &r, PROBE_FILE_UNKNOWN_USER);
    assert_non_null(strstr(r.detail, "no-such-user-lme"));
    /* the file itself comes first: missing or empty whoever asks */
    probe(in_dir("not-there.id"), "no-such-user-lme", &r, PROBE_FILE_MISSING);
    probe(make_file("empty2.id", "", 0644, (uid_t)-1, 0), "no-such-user-lme", &r, PROBE_FILE_EMPTY);
}

static void test_present_judges_the_file_only(void **state)
{
    (void)state;
    struct probe_file_result r;
    const char *path = make_file("mode0-present.id", "id", 0000, (uid_t)-1, 0);
    assert_int_equal(probe_file_present(path, &r), 0);
    assert_int_equal(r.status, PROBE_FILE_OK); /* no account: readability is not judged */
    assert_non_null(strstr(r.detail, "regular file of 2 bytes"));
    assert_int_equal(probe_file_present(in_dir("nope.id"), &r), 0);
    assert_int_equal(r.status, PROBE_FILE_MISSING);
    assert_int_equal(probe_file_present(dir, &r), 0);
    assert_int_equal(r.status, PROBE_FILE_NOT_REGULAR);
    assert_int_equal(probe_file_present(NULL, &r), LME_EINVAL);
}

/* Lines as /proc/self/mountinfo writes them (proc(5)), optional fields and octal escapes included. */
static const char mountinfo[] =
    "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
    "26 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "40 26 0:45 / /mnt/exch01/c rw,relatime shared:20 - cifs //exch01/c$ rw,vers=3.0,uid=999,file_mode=0640,dir_mode=0750\n"
    "41 26 0:46 / /mnt/exch01/d rw,relatime - cifs //exch01/d rw,vers=3.0,cifsacl,noperm\n"
    "42 26 0:47 / /mnt/exch\\040two rw - smb3 //exch02/c rw,modefromsid\n"
    "43 26 0:48 / /mnt/nfs rw - nfs4 filer:/notes rw,vers=4.2\n"
    "44 26 0:49 / /mnt/fuse rw,nosuid - fuse.smbnetfs smbnetfs rw,user_id=0\n";

static int find(unsigned major, unsigned minor, struct probe_mount *m)
{
    FILE *f = fmemopen((void *)mountinfo, sizeof(mountinfo) - 1, "r");
    assert_non_null(f);
    int rc = probe_mount_find(f, makedev(major, minor), m);
    fclose(f);
    return rc;
}

static void test_mount_whose_mode_bits_are_the_mounts(void **state)
{
    (void)state;
    struct probe_mount m;
    assert_int_equal(find(0, 45, &m), 0);
    assert_string_equal(m.fstype, "cifs");
    assert_string_equal(m.source, "//exch01/c$");
    assert_string_equal(m.point, "/mnt/exch01/c");
    assert_true(probe_mount_bits_are_the_mounts(&m)); /* file_mode: the mount's bits */
    assert_int_equal(find(0, 46, &m), 0);
    assert_false(probe_mount_bits_are_the_mounts(&m)); /* cifsacl: the ACL's */
    assert_int_equal(find(0, 47, &m), 0);
    assert_string_equal(m.point, "/mnt/exch two");
    assert_false(probe_mount_bits_are_the_mounts(&m)); /* modefromsid */
    assert_int_equal(find(0, 48, &m), 0);
    assert_false(probe_mount_bits_are_the_mounts(&m)); /* NFS: the file server's bits */
    assert_int_equal(find(0, 49, &m), 0);
    assert_true(probe_mount_bits_are_the_mounts(&m));
    assert_int_equal(find(8, 1, &m), 0);
    assert_string_equal(m.fstype, "ext4");
    assert_false(probe_mount_bits_are_the_mounts(&m));
    assert_int_equal(find(9, 9, &m), LME_ENOENT);

    /* this machine's own mounts: the test's folder is found, and it is no SMB share */
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(probe_mount_of(st.st_dev, &m), 0);
    assert_true(m.fstype[0] != '\0');
    assert_false(probe_mount_bits_are_the_mounts(&m));
}

static void test_null_user_is_the_daemon_itself(void **state)
{
    (void)state;
    struct probe_file_result r;
    const char *path = make_file("mode0.id", "id", 0000, (uid_t)-1, 0);
    /* the kernel lets root read a mode 0000 file; anyone else not even its owner */
    probe(path, NULL, &r, geteuid() == 0 ? PROBE_FILE_OK : PROBE_FILE_UNREADABLE);
    char uid[32];
    snprintf(uid, sizeof(uid), "(uid %u)", (unsigned)geteuid());
    assert_non_null(strstr(r.detail, uid));
}

static void test_bad_arguments_and_status_names(void **state)
{
    (void)state;
    struct probe_file_result r;
    assert_int_equal(probe_file_readable(NULL, NULL, &r), LME_EINVAL);
    assert_int_equal(probe_file_readable(dir, NULL, NULL), LME_EINVAL);
    static const char *const names[] = { "ok", "missing", "not_regular", "empty", "unreadable",
                                         "unknown_user", "error", "network_fs" };
    for (int s = PROBE_FILE_OK; s <= PROBE_FILE_NETWORK_FS; s++)
        assert_string_equal(probe_file_status_name((enum probe_file_status)s), names[s]);
    assert_string_equal(probe_file_status_name((enum probe_file_status)99), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readable_file_is_ok_with_its_attributes),
        cmocka_unit_test(test_missing_file_and_missing_directory_are_named),
        cmocka_unit_test(test_directory_and_fifo_are_not_regular),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_owner_only_file_is_unreadable_for_another_user),
        cmocka_unit_test(test_group_bits_decide_for_a_group_member),
        cmocka_unit_test(test_owner_bits_decide_for_the_owner),
        cmocka_unit_test(test_unsearchable_directory_on_the_way),
        cmocka_unit_test(test_directory_behind_a_symlink_is_checked_where_it_really_is),
        cmocka_unit_test(test_symlinks_are_reported),
        cmocka_unit_test(test_unknown_user),
        cmocka_unit_test(test_present_judges_the_file_only),
        cmocka_unit_test(test_mount_whose_mode_bits_are_the_mounts),
        cmocka_unit_test(test_null_user_is_the_daemon_itself),
        cmocka_unit_test(test_bad_arguments_and_status_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
