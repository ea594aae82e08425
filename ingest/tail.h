/* One followed file: opened once and known by device and inode, read by offset, and checked for
 * what happened to it (grown, truncated, renamed away, deleted). Knows nothing of records. */
#ifndef LME_TAIL_H
#define LME_TAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct tail_file {
    char *path;               /* absolute; where it was last seen. Owned. */
    int fd;                   /* -1 while closed */
    uint64_t dev, ino;
    uint64_t fingerprint;     /* of the first fingerprint_len bytes (see checkpoint.h) */
    uint32_t fingerprint_len;
    uint64_t offset;          /* the next byte to read */
    uint64_t size;            /* as last seen by tail_check */
};

enum tail_change {
    TAIL_SAME,      /* still at its path; may have grown */
    TAIL_TRUNCATED, /* shorter than what was read: copied and truncated, or rewritten */
    TAIL_MOVED,     /* its path now names another file, or none: renamed away */
    TAIL_DELETED,   /* no name left; the open descriptor still reads it */
};

/* Opens path (a regular file) and fills t: identity, fingerprint, offset 0, absolute path (links
 * resolved). follow_link false: a path that is a symbolic link is refused (O_NOFOLLOW), so a
 * file swapped for a link between a check and the open is not read through. Returns 0, or an
 * error with err filled (t holds nothing to free then). */
int tail_open(struct tail_file *t, const char *path, bool follow_link, struct lme_err *err);

/* Opens t->path again after tail_close; fails with LME_EIO when it no longer names the same
 * device and inode, or is now a symbolic link (a followed file replaced by a link is let go). */
int tail_reopen(struct tail_file *t, struct lme_err *err);

/* Reads up to cap bytes at t->offset and advances it. Returns the count, 0 at the end, or
 * -errno. */
ssize_t tail_read(struct tail_file *t, char *buf, size_t cap);

/* Looks at the open file and at its path. */
enum tail_change tail_check(struct tail_file *t);

/* Recomputes the fingerprint when it covers fewer bytes than it may (the file was short when
 * opened); a no-op when closed. */
void tail_refresh_fingerprint(struct tail_file *t);

/* Where to start reading a file seen the first time so that at most `back` bytes before its
 * end are read: the start of the first line at or after size - back (0 when the file is no
 * larger than back). back 0: the start of its last line when that line is not complete yet, else
 * its end (start_at "end"). */
uint64_t tail_start_near_end(struct tail_file *t, uint64_t back);

/* Closes the descriptor; identity, path and offset stay. */
void tail_close(struct tail_file *t);

/* Closes and frees the path; NULL-safe. */
void tail_free(struct tail_file *t);

#endif
