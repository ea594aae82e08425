/* Can the connector's service account read its ID file? A probe behind event 41220: the ID file is
 * there and the session connects, but the account lacks read access [Q245545]. */
#ifndef LME_PROBE_FILE_H
#define LME_PROBE_FILE_H

#include <stdint.h>

enum probe_file_status {
    PROBE_FILE_OK,            /* a regular, non-empty file the user can read */
    PROBE_FILE_MISSING,       /* no such file (or a path component missing) */
    PROBE_FILE_NOT_REGULAR,   /* a directory, FIFO, device... */
    PROBE_FILE_EMPTY,
    PROBE_FILE_UNREADABLE,    /* the user may not read it (mode, owner, groups), or a directory on the
                                 way may not be searched by the user */
    PROBE_FILE_UNKNOWN_USER,  /* the account does not exist on this machine */
    PROBE_FILE_ERROR,         /* stat failed otherwise (EACCES for the daemon itself, ELOOP...) */
    PROBE_FILE_NETWORK_FS,    /* on a share whose mode bits are the mount's, not the file's
                                 Windows ACL (probe_mount.h): readability cannot be told here */
};

struct probe_file_result {
    enum probe_file_status status;
    uint64_t size;            /* the following four are filled once the file could be stat'ed */
    unsigned mode;            /* permission bits (st_mode & 07777) */
    unsigned uid, gid;
    char detail[256];         /* one sentence for an operator, e.g. "/mnt/c/notes/connector.id is mode
                                 0600 owned by uid 0; user nobody (uid 65534) is neither owner nor in
                                 group 0 and others may not read it" */
};

/* Checks whether user may read the file at path: user is an account name, or NULL for the daemon's
 * own effective user (its uid, effective gid and supplementary groups).
 *
 * Decides from the file's mode, owner and group and the user's uid, primary and supplementary
 * groups (getpwnam_r + getgrouplist), not from access(2), so it answers for the service account,
 * not for the daemon. Root (uid 0) may read and search anything, as the kernel allows. On a
 * mount whose mode bits are the mount's (an SMB share without cifsacl) no verdict is given:
 * PROBE_FILE_NETWORK_FS. Every
 * directory on the way must be searchable (x) by the user: for an absolute path from "/", for a
 * relative one from ".". When the path goes through symlinks, the directories of its resolved form
 * are checked too and the detail says so. POSIX ACLs are not evaluated (the detail mentions one when
 * it would matter). The status order is: missing, not_regular, empty (the file itself, whoever
 * asks), then unknown_user, network_fs, unreadable.
 *
 * Never opens the file. Stats run with the daemon's credentials: a path the daemon itself may not
 * stat gives PROBE_FILE_ERROR. Blocking (stat, the user database); any thread.
 *
 * Returns 0 with r filled (status and detail always; an empty path is missing), LME_EINVAL when
 * path or r is NULL, or LME_ENOMEM. */
int probe_file_readable(const char *path, const char *user, struct probe_file_result *r);

/* Only whether the file at path is there, a regular file and not empty (PROBE_FILE_OK,
 * _MISSING, _NOT_REGULAR, _EMPTY, _ERROR), for when no account is known to judge readability
 * for. Returns 0 with r filled, or LME_EINVAL when path or r is NULL. Blocking (stat). */
int probe_file_present(const char *path, struct probe_file_result *r);

/* "ok", "missing", "not_regular", "empty", "unreadable", "unknown_user", "error", "network_fs";
 * "invalid" for a value outside the enum. Static storage. */
const char *probe_file_status_name(enum probe_file_status s);

#endif
