/* Checkpoints: how far each file was settled by every sink, kept in state_dir/checkpoints.json
 * so a restart resumes there. A file is known by device and inode, and a fingerprint of its first
 * bytes tells a reused inode from the same file. The file is replaced atomically (write a
 * temporary file, fsync, rename, fsync the directory): a crash leaves the old or the new one. */
#ifndef LME_CHECKPOINT_H
#define LME_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CHECKPOINT_FINGERPRINT_BYTES 1024

struct checkpoint {
    char *path;           /* where it was last seen (informative) */
    uint64_t dev, ino;
    uint64_t fingerprint; /* hash of the first fingerprint_len bytes */
    uint32_t fingerprint_len;
    uint64_t offset;      /* every record before it was settled */
    uint64_t added;       /* every record before it was handed to the sinks (>= offset): after
                             a restart, the records between the two are sent again */
};

struct checkpoints {
    struct checkpoint *v;
    size_t n, cap;
    char *state; /* what the rest of the daemon keeps with the checkpoints (JSON text, owned,
                    written as it is: it must be valid JSON), saved and loaded in the same file so
                    that both change at once; NULL: none */
};

/* Reads state_dir's checkpoints into cps (emptied first). A missing file is an empty set.
 * Returns 0, or LME_EINVAL with err naming the file when it cannot be read back (cps is then
 * empty: the caller decides where to start). */
int checkpoints_load(const char *state_dir, struct checkpoints *cps, struct lme_err *err);

/* Replaces state_dir's checkpoints atomically. Returns 0 or LME_EIO with err filled; the
 * previous file is intact then. */
int checkpoints_save(const char *state_dir, const struct checkpoints *cps, struct lme_err *err);

/* The entry for (dev, ino), or NULL. Borrowed until the set changes. */
struct checkpoint *checkpoints_find(struct checkpoints *cps, uint64_t dev, uint64_t ino);

/* Adds or updates the entry for (dev, ino). Returns 0 or LME_ENOMEM. */
int checkpoints_set(struct checkpoints *cps, const struct checkpoint *cp);

/* Removes entry i (order is not kept). */
void checkpoints_remove(struct checkpoints *cps, size_t i);

/* Releases the entries; NULL-safe. */
void checkpoints_free(struct checkpoints *cps);

/* Fingerprint of the first `len` bytes of fd (fewer if the file is shorter; *got says how many).
 * Returns 0 or LME_EIO. */
int checkpoint_fingerprint(int fd, uint32_t len, uint64_t *fingerprint, uint32_t *got);

#endif
