/* The commit of acknowledgements to checkpoints: each followed file is tracked here with its own
 * acknowledgement queue (acks.h); the sinks' settlements move its committed offset, and the
 * committed offsets are written to state_dir/checkpoints.json (checkpoint.h) from the main loop,
 * within checkpoint_interval_ms of an advance and at most once per interval. Knows files by
 * identity only (path, device, inode, first bytes): never opens or reads them.
 *
 * Threads: one. Settlements (commit_settle) arrive on the thread that calls the sinks' send and
 * poll (see sink.h), which is this one; they only mark records, and commit_advance, called from
 * the main loop, moves the offsets. Nothing here is ever done inside a parser callback but
 * commit_add, commit_expect and commit_settle, which touch no file. */
#ifndef LME_COMMIT_H
#define LME_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "checkpoint.h"
#include "err.h"
#include "metrics.h"

struct commit_stats {
    uint64_t saves_ok, saves_failed;
    int64_t last_save_us;              /* how long the last save took (write, fsync, rename) */
    struct metrics_histogram latency;  /* read -> committed, seconds */
};

struct commit;

/* Loads state_dir's checkpoints (state_dir must exist). A checkpoints file that cannot be read
 * back is reported through commit_bad_checkpoints, not as an error. interval_ms: the least time
 * between two saves. Returns NULL with err filled when memory runs out. */
struct commit *commit_create(const char *state_dir, int interval_ms, struct lme_err *err);

/* NULL-safe. Records in flight are abandoned (their files are read again from their last saved
 * offset at the next start). */
void commit_destroy(struct commit *c);

/* No checkpoints file existed at creation: the daemon's very first start. */
bool commit_first_start(const struct commit *c);

/* The checkpoints file existed but could not be read back; err (may be NULL) gets why. */
bool commit_bad_checkpoints(const struct commit *c, struct lme_err *why);

/* The saved checkpoint of (dev, ino), or NULL. Borrowed until the next commit_* call. */
const struct checkpoint *commit_find(const struct commit *c, uint64_t dev, uint64_t ino);

/* Starts tracking a file (id: its identity; id->offset: where reading starts, committed as
 * such). *file names it from now on. Returns 0 or LME_ENOMEM. */
int commit_track(struct commit *c, const struct checkpoint *id, uint32_t *file);

/* The file's path or first bytes changed (renamed, or it grew past a short fingerprint). */
int commit_identify(struct commit *c, uint32_t file, const char *path, uint64_t fingerprint,
                    uint32_t fingerprint_len);

/* A newer reading of the same file replaced this one (copy-truncate): its late settlements no
 * longer move any checkpoint. */
void commit_supersede(struct commit *c, uint32_t file);

/* Stops tracking a file whose records are all committed (commit_pending == 0): its last offset
 * stays in the checkpoints until the file is gone. The name may be reused. */
void commit_untrack(struct commit *c, uint32_t file);

/* Records of the file handed to the sinks and not committed yet. */
uint64_t commit_pending(const struct commit *c, uint32_t file);

/* Where every record before it was settled by every sink. */
uint64_t commit_offset(const struct commit *c, uint32_t file);

/* A record of `file` ending at end_offset, read at read_ms (monotonic), is handed to the sinks:
 * *token names it in their settlements. Returns 0 or LME_ENOMEM. */
int commit_add(struct commit *c, uint32_t file, uint64_t end_offset, int64_t read_ms,
               uint64_t *token);

/* The record waits for n more settlements (one per copy a sink made). */
void commit_expect(struct commit *c, uint64_t token, int n);

/* One settlement (a sink_settled_fn: ctx is the commit). Unknown tokens are ignored. */
void commit_settle(void *ctx, uint64_t token);

/* Moves each file's committed offset past its settled records (now_ms: monotonic, for the
 * latency histogram). Returns true when some offset moved. */
bool commit_advance(struct commit *c, int64_t now_ms);

/* Whether the record of `file` ending at end_offset was handed to the sinks before this start:
 * the file was resumed from its checkpoint and the record lies between the committed offset and
 * where sending had got to (its `added`) when the checkpoint was saved. */
bool commit_replayed(const struct commit *c, uint32_t file, uint64_t end_offset);

/* Whether the record of file (dev, ino) ending at end_offset is committed for good: the file's
 * committed offset passed it, or the file is no longer followed nor saved (it is gone). */
bool commit_position_settled(const struct commit *c, uint64_t dev, uint64_t ino,
                             uint64_t end_offset);

/* The state saved with the checkpoints (commit_set_state), as loaded at creation: JSON text, or
 * NULL. Borrowed until the next commit_set_state. */
const char *commit_state(const struct commit *c);

/* What the next save writes with the checkpoints, in the same file (copied; NULL: nothing).
 * A state that must match the offsets is set just before commit_save. Returns 0 or LME_ENOMEM. */
int commit_set_state(struct commit *c, const char *state);

/* Something saved with the checkpoints changed: a save is due as if an offset had moved. */
void commit_touch(struct commit *c);

/* Milliseconds until a save is due: 0 now, INT32_MAX when nothing changed since the last. */
int commit_save_due_in(const struct commit *c, int64_t now_ms);

/* Writes every tracked file's committed offset to state_dir/checkpoints.json (atomically),
 * dropping the entries of files that are gone. Returns 0, or an error with err filled (the
 * previous file stays, and the next commit_save_due_in says when to try again). */
int commit_save(struct commit *c, struct lme_err *err);

/* Counters and the latency histogram. Borrowed until commit_destroy. */
const struct commit_stats *commit_stats(const struct commit *c);

#endif
