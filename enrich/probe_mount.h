/* Which file system a file lives on, read from /proc/self/mountinfo, and whether its mode bits
 * are its own. On an SMB/CIFS mount without `cifsacl` (or `modefromsid`) every file shows the
 * mode, owner and group the mount was given (file_mode, dir_mode, uid, gid): they say nothing of
 * the Windows ACL the connector's account meets, so a readability verdict from them is a guess. */
#ifndef LME_PROBE_MOUNT_H
#define LME_PROBE_MOUNT_H

#include <stdio.h>
#include <sys/types.h>

struct probe_mount {
    char fstype[64];   /* "ext4", "cifs", "fuse.smbnetfs"... */
    char source[256];  /* "//exch01/d", "/dev/sda1" */
    char point[1024];  /* where it is mounted */
    char options[1024]; /* the mount's and the superblock's options, comma-separated */
};

/* Finds the mount of device dev (st_dev) in f, which reads text in the format of
 * /proc/self/mountinfo (proc(5)); the first line for it wins (bind mounts share the file system).
 * Fields longer than m's are cut. Returns 0 with m filled, or LME_ENOENT. Reads f to the end at
 * most; any thread. */
int probe_mount_find(FILE *f, dev_t dev, struct probe_mount *m);

/* probe_mount_find on /proc/self/mountinfo. Returns 0, LME_ENOENT (not found, or no /proc). */
int probe_mount_of(dev_t dev, struct probe_mount *m);

/* 1 when m's files carry mode bits set for the whole mount rather than their own: cifs and smb3
 * without cifsacl or modefromsid, smbfs, fuse.smbnetfs. 0 otherwise (local disks, NFS, whose
 * bits come from the file server). */
int probe_mount_bits_are_the_mounts(const struct probe_mount *m);

#endif
