/* ID-file readability probe: see probe_file.h. Looks up the account (uid and every group), stats the
 * file and each directory on the way, and judges each by its mode bits as the kernel would. */
#include "probe_file.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "err.h"
#include "probe_mount.h"

#define DECIDED 1 /* a step's return: r holds the answer, stop checking */
#define PW_BUF_MAX (1 << 20)
#define GROUPS_MAX (1 << 17) /* above the kernel's NGROUPS_MAX (65536) */

struct account {
    char name[64]; /* for messages */
    uid_t uid;
    gid_t *groups; /* primary first, then supplementary; owned */
    int ngroups;
};

static void set(struct probe_file_result *r, enum probe_file_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(struct probe_file_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set(struct probe_file_result *r, enum probe_file_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    r->status = s;
}

static void append(struct probe_file_result *r, const char *fmt, ...)
{
    size_t len = strlen(r->detail);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + len, sizeof(r->detail) - len, fmt, ap);
    va_end(ap);
}

const char *probe_file_status_name(enum probe_file_status s)
{
    switch (s) {
    case PROBE_FILE_OK: return "ok";
    case PROBE_FILE_MISSING: return "missing";
    case PROBE_FILE_NOT_REGULAR: return "not_regular";
    case PROBE_FILE_EMPTY: return "empty";
    case PROBE_FILE_UNREADABLE: return "unreadable";
    case PROBE_FILE_UNKNOWN_USER: return "unknown_user";
    case PROBE_FILE_ERROR: return "error";
    case PROBE_FILE_NETWORK_FS: return "network_fs";
    }
    return "invalid";
}

/* ---- the account ---- */

/* getpwnam_r (or getpwuid_r of the effective uid when user is NULL), growing the buffer on ERANGE.
 * Returns 0 with *found set (NULL: no such account) and *sys_err the lookup's own error, or
 * LME_ENOMEM. *buf is the caller's to free. */
static int pw_get(const char *user, struct passwd *pw, char **buf, struct passwd **found, int *sys_err)
{
    for (size_t size = 1024;; size *= 2) {
        char *b = realloc(*buf, size);
        if (!b)
            return LME_ENOMEM;
        *buf = b;
        *found = NULL;
        *sys_err = user ? getpwnam_r(user, pw, b, size, found) : getpwuid_r(geteuid(), pw, b, size, found);
        if (*sys_err != ERANGE || size >= PW_BUF_MAX)
            return *sys_err == ENOMEM ? LME_ENOMEM : 0;
    }
}

static int groups_of_user(const char *name, gid_t primary, struct account *a)
{
    for (int n = 32; n <= GROUPS_MAX;) {
        gid_t *g = realloc(a->groups, (size_t)n * sizeof(*g));
        if (!g)
            return LME_ENOMEM;
        a->groups = g;
        int got = n;
        if (getgrouplist(name, primary, g, &got) >= 0) {
            a->ngroups = got;
            return 0;
        }
        n = got > n ? got : 2 * n; /* glibc says how many it needs; others may not */
    }
    return LME_ENOMEM;
}

/* The daemon's own groups: the effective gid and the process's supplementary groups, which is what
 * the kernel checks, whatever the group database says today. */
static int groups_of_self(struct account *a)
{
    int n = getgroups(0, NULL);
    a->groups = malloc(((size_t)(n > 0 ? n : 0) + 1) * sizeof(gid_t));
    if (!a->groups)
        return LME_ENOMEM;
    a->groups[0] = getegid();
    int got = n > 0 ? getgroups(n, a->groups + 1) : 0;
    a->ngroups = 1 + (got > 0 ? got : 0);
    return 0;
}

static bool is_not_found(int sys_err)
{
    /* getpwnam_r(3): "not found" is 0 or one of these, depending on the NSS module */
    return sys_err == 0 || sys_err == ENOENT || sys_err == ESRCH || sys_err == EBADF || sys_err == EPERM;
}

/* Fills a for user (NULL: the daemon). Returns 0, DECIDED (unknown user or a failed lookup, r
 * filled) or LME_ENOMEM. */
static int account_get(const char *user, struct account *a, struct probe_file_result *r)
{
    struct passwd pw, *found;
    char *buf = NULL;
    int sys_err;
    int rc = pw_get(user, &pw, &buf, &found, &sys_err);
    if (rc == 0 && !found && user) {
        if (is_not_found(sys_err))
            set(r, PROBE_FILE_UNKNOWN_USER, "user %s does not exist on this machine", user);
        else
            set(r, PROBE_FILE_ERROR, "cannot look up user %s: %s", user, strerror(sys_err));
        rc = DECIDED;
    }
    if (rc == 0) {
        a->uid = user ? found->pw_uid : geteuid();
        if (found)
            snprintf(a->name, sizeof(a->name), "%s", found->pw_name);
        else
            snprintf(a->name, sizeof(a->name), "%u", (unsigned)a->uid);
        rc = user ? groups_of_user(user, found->pw_gid, a) : groups_of_self(a);
    }
    free(buf);
    return rc;
}

/* ---- mode bits ---- */

static bool in_groups(const struct account *a, gid_t gid)
{
    for (int i = 0; i < a->ngroups; i++)
        if (a->groups[i] == gid)
            return true;
    return false;
}

/* Whether the kernel lets a do `want` (4 read, 1 search) on st: only the first class that matches
 * (owner, then group, then others) counts, so an owner without r may not read a world-readable file. */
static bool permits(const struct account *a, const struct stat *st, unsigned want)
{
    if (a->uid == 0)
        return true; /* CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH */
    if (st->st_uid == a->uid)
        return (st->st_mode >> 6) & want;
    if (in_groups(a, st->st_gid))
        return (st->st_mode >> 3) & want;
    return st->st_mode & want;
}

static bool has_acl(const char *path)
{
    return getxattr(path, "system.posix_acl_access", NULL, 0) > 0;
}

/* what is "" for the file or "directory " for one on the way; verb "read" or "search". */
static void set_denied(struct probe_file_result *r, const char *what, const char *path,
                       const struct stat *st, const struct account *a, const char *verb)
{
    unsigned mode = (unsigned)st->st_mode & 07777, owner = (unsigned)st->st_uid, group = (unsigned)st->st_gid;
    set(r, PROBE_FILE_UNREADABLE, "%s%s is mode %04o owned by uid %u; user %s (uid %u) ", what, path,
        mode, owner, a->name, (unsigned)a->uid);
    if (st->st_uid == a->uid)
        append(r, "owns it but the owner may not %s it", verb);
    else if (in_groups(a, st->st_gid))
        append(r, "is in its group %u, which may not %s it", group, verb);
    else
        append(r, "is neither owner nor in group %u and others may not %s it", group, verb);
    if (has_acl(path))
        append(r, " (it has a POSIX ACL, not evaluated here)");
}

/* ---- the path ---- */

/* Yields the directories a lookup of path passes through, outermost first: "/" or ".", then every
 * prefix that ends before a '/'. Start with *pos = 0; returns false when there are no more. */
static bool next_dir(const char *path, size_t *pos, char *out, size_t out_size)
{
    if (*pos == 0) {
        snprintf(out, out_size, "%s", path[0] == '/' ? "/" : ".");
        *pos = 1;
        return true;
    }
    for (size_t k = *pos; path[k]; k++) {
        if (path[k] != '/' || path[k - 1] == '/')
            continue;
        if (k >= out_size)
            return false;
        memcpy(out, path, k);
        out[k] = '\0';
        *pos = k + 1;
        return true;
    }
    return false;
}

static bool is_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Names the first component of a missing path that is absent, or the dangling symlink. */
static void set_missing(struct probe_file_result *r, const char *path)
{
    char dir[PATH_MAX], target[PATH_MAX];
    size_t pos = 0;
    struct stat st;
    while (next_dir(path, &pos, dir, sizeof(dir))) {
        bool exists = stat(dir, &st) == 0;
        if (!exists || !S_ISDIR(st.st_mode)) {
            set(r, PROBE_FILE_MISSING, "%s does not exist: %s is %s", path, dir,
                exists ? "not a directory" : "missing");
            return;
        }
    }
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n >= 0) {
        target[n] = '\0';
        set(r, PROBE_FILE_MISSING, "%s is a symlink to %s, which does not exist", path, target);
        return;
    }
    set(r, PROBE_FILE_MISSING, "%s does not exist", path);
}

/* Whether the final component or a directory on the way is a symlink. */
static bool path_has_link(const char *path)
{
    char dir[PATH_MAX];
    size_t pos = 0;
    while (next_dir(path, &pos, dir, sizeof(dir)))
        if (is_link(dir))
            return true;
    return is_link(path);
}

/* Every directory on path's way must be searchable by a. */
static int check_dirs(const char *path, const struct account *a, struct probe_file_result *r)
{
    char dir[PATH_MAX];
    size_t pos = 0;
    struct stat st;
    while (next_dir(path, &pos, dir, sizeof(dir))) {
        if (stat(dir, &st) != 0) {
            set(r, PROBE_FILE_ERROR, "cannot stat directory %s: %s", dir, strerror(errno));
            return DECIDED;
        }
        if (!permits(a, &st, 1)) {
            set_denied(r, "directory ", dir, &st, a, "search");
            return DECIDED;
        }
    }
    return 0;
}

/* The directories of path's resolved form (symlinks followed) must be searchable too: the kernel
 * passes through them. Fills resolved. */
static int check_resolved_dirs(const char *path, const struct account *a, struct probe_file_result *r,
                               char *resolved)
{
    if (!realpath(path, resolved)) {
        if (errno == ENOMEM)
            return LME_ENOMEM;
        set(r, PROBE_FILE_ERROR, "cannot resolve the symlinks of %s: %s", path, strerror(errno));
        return DECIDED;
    }
    return check_dirs(resolved, a, r);
}

static const char *type_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

/* The file itself: it exists, is a non-empty regular file. Fills r's size, mode, uid, gid. */
static int check_file(const char *path, struct stat *st, struct probe_file_result *r)
{
    if (stat(path, st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            set_missing(r, path);
        else
            set(r, PROBE_FILE_ERROR, "cannot stat %s: %s", path, strerror(errno));
        return DECIDED;
    }
    r->size = (uint64_t)st->st_size;
    r->mode = (unsigned)st->st_mode & 07777;
    r->uid = (unsigned)st->st_uid;
    r->gid = (unsigned)st->st_gid;
    if (!S_ISREG(st->st_mode)) {
        set(r, PROBE_FILE_NOT_REGULAR, "%s is %s, not a regular file", path, type_name(st->st_mode));
        return DECIDED;
    }
    if (st->st_size == 0) {
        set(r, PROBE_FILE_EMPTY, "%s is empty (0 bytes)", path);
        return DECIDED;
    }
    return 0;
}

static void note_symlinks(struct probe_file_result *r, const char *path, char *resolved)
{
    if (r->status == PROBE_FILE_MISSING || r->status == PROBE_FILE_ERROR)
        return; /* set_missing names a dangling link; an error speaks for itself */
    if (!resolved[0] && !realpath(path, resolved))
        return;
    append(r, "; the path goes through symlinks to %s", resolved);
}

/* On an SMB share mounted without cifsacl every file shows the mount's mode, owner and group:
 * judging the account by them would be a guess presented as a fact. */
static int check_mount(const char *path, const struct stat *st, const struct account *a,
                       struct probe_file_result *r)
{
    struct probe_mount m;
    if (probe_mount_of(st->st_dev, &m) != 0 || !probe_mount_bits_are_the_mounts(&m))
        return 0;
    set(r, PROBE_FILE_NETWORK_FS,
        "%s is on a %s mount of %s at %s, whose mode bits (%04o, uid %u, gid %u) are set by the "
        "mount, not by the file's Windows ACL: whether user %s may read it cannot be told here",
        path, m.fstype, m.source, m.point, r->mode, r->uid, r->gid, a->name);
    return DECIDED;
}

/* Checks for user, in the order the header promises. */
static int judge(const char *path, const char *user, struct probe_file_result *r)
{
    struct stat st;
    char resolved[PATH_MAX] = "";
    struct account acc = { 0 }, *a = &acc;
    bool via_link = path_has_link(path);
    int rc = check_file(path, &st, r);
    if (rc == 0)
        rc = account_get(user, a, r);
    if (rc == 0)
        rc = check_mount(path, &st, a, r);
    if (rc == 0)
        rc = check_dirs(path, a, r);
    if (rc == 0 && via_link)
        rc = check_resolved_dirs(path, a, r, resolved);
    if (rc == 0 && !permits(a, &st, 4)) {
        set_denied(r, "", path, &st, a, "read");
        rc = DECIDED;
    }
    if (rc == 0)
        set(r, PROBE_FILE_OK,
            "%s is a readable regular file of %llu bytes (mode %04o, uid %u, gid %u) for user %s (uid %u)",
            path, (unsigned long long)r->size, r->mode, r->uid, r->gid, a->name, (unsigned)a->uid);
    if (rc >= 0 && via_link)
        note_symlinks(r, path, resolved);
    free(acc.groups);
    return rc < 0 ? rc : 0;
}

int probe_file_readable(const char *path, const char *user, struct probe_file_result *r)
{
    if (!r || !path)
        return LME_EINVAL;
    memset(r, 0, sizeof(*r));
    if (!path[0]) {
        set(r, PROBE_FILE_MISSING, "the ID file path is empty");
        return 0;
    }
    return judge(path, user, r);
}

int probe_file_present(const char *path, struct probe_file_result *r)
{
    if (!r || !path)
        return LME_EINVAL;
    memset(r, 0, sizeof(*r));
    struct stat st;
    if (!path[0])
        set(r, PROBE_FILE_MISSING, "the ID file path is empty");
    else if (check_file(path, &st, r) == 0)
        set(r, PROBE_FILE_OK, "%s is a regular file of %llu bytes (mode %04o, uid %u, gid %u)", path,
            (unsigned long long)r->size, r->mode, r->uid, r->gid);
    return 0;
}
