/* The file inputs: matching the globs, following each file (growth, partial lines, the last
 * record's flush, rotation by rename, copy-truncate, deletion, idle files, inode reuse) and
 * reading it through its parser (source.h), for run --once and for the daemon. Every event goes
 * to the caller's callback with its origin (origin.h). Each file is tracked by commit.h from the
 * moment it is found until every record of it is committed; this module asks commit where a file
 * starts and whether a file's records are all committed, and tells it when a file's identity
 * changes. See docs/config.md, "Following files".
 *
 * Threads: one. The callback runs inside inputs_turn, inputs_backfill and
 * inputs_release_rotated; while it runs, the inputs may be read (inputs_lags, inputs_stats) but
 * not changed. */
#ifndef LME_INPUTS_H
#define LME_INPUTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "conf.h"
#include "config.h"
#include "err.h"
#include "origin.h"

struct inputs;

/* The keys of `inputs[]` (conf.h), over struct config_input. */
extern const struct conf_table inputs_config_keys;

/* Counters of one config input. */
struct inputs_counts {
    uint64_t bytes; /* read from its files */
    uint64_t files; /* followed now (as of the last inputs_lags) */
};

struct inputs_stats {
    struct inputs_counts *inputs; /* per config input */
    uint64_t truncations;         /* files read again from their start (copy-truncate) */
    uint64_t refused;             /* matches the symlink policy refused (each path once) */
    uint64_t waiting;             /* files waiting for a descriptor now */
    uint64_t max_open;            /* the descriptor budget of input files */
};

/* One followed file's distance from its checkpoint: lme_checkpoint_lag_bytes. */
struct lag {
    const char *path; /* borrowed until the inputs change */
    uint64_t bytes;
};

/* cfg and commit are borrowed until inputs_destroy. previous is the configuration this one
 * replaces (a reload) or NULL: an input it did not have is new, and start_at applies to new
 * inputs only (at the very first start, commit_first_start, every input is new). Opens each
 * input's time zone. Returns NULL with err filled. */
struct inputs *inputs_create(const struct config *cfg, const struct config *previous,
                             struct commit *commit, struct lme_err *err);

/* NULL-safe. Stops tracking nothing in commit: destroy commit after. */
void inputs_destroy(struct inputs *in);

/* Reading stops between chunks once *stop or *reload (either may be NULL) becomes non-zero. */
void inputs_set_interrupts(struct inputs *in, volatile sig_atomic_t *stop,
                           volatile sig_atomic_t *reload);

/* Matches every glob: new files are added (at_start: the daemon's first scan; once: run --once,
 * where start_at does not apply), known ones revisited; a file done and committed that no glob
 * matches any more is let go. Files that cannot be read are logged once and skipped. Returns 0,
 * or LME_ENOMEM with err filled. */
int inputs_scan(struct inputs *in, bool at_start, bool once, struct lme_err *err);

/* Whether scan_interval_ms passed since the last scan. */
bool inputs_scan_due(const struct inputs *in, int64_t now_ms);

/* One pass over the open files: reads a few chunks of each, then sees what happened to it
 * (rotation, truncation, silence: the last record's flush, idle close). *busy: some file had
 * more to read than one turn takes. Returns 0 or emit's error (err filled). */
int inputs_turn(struct inputs *in, origin_emit_fn emit, void *ctx, bool *busy,
                struct lme_err *err);

/* run --once, one step: reads a few chunks of the first file not read to its end yet, and
 * finishes it (its last record emitted) at its end. *done: every file is read. Returns as
 * inputs_turn. */
int inputs_backfill(struct inputs *in, origin_emit_fn emit, void *ctx, bool *done,
                    struct lme_err *err);

/* Before stopping or reloading: files renamed away or deleted are read to their end and their
 * last record emitted, since the next run may not find them again. Returns as inputs_turn. */
int inputs_release_rotated(struct inputs *in, origin_emit_fn emit, void *ctx,
                           struct lme_err *err);

/* Milliseconds until a silent file's last record falls due (multiline_flush_ms), at most
 * max_ms. */
int inputs_due_in(const struct inputs *in, int64_t now_ms, int max_ms);

/* Waits up to timeout_ms for a change in the inputs' folders (inotify; a plain sleep without
 * it). Returns true when files were created, renamed or deleted: scan now. */
bool inputs_wait(struct inputs *in, int timeout_ms);

/* Files not read to their end yet and the bytes left in them, for a backfill's progress. */
void inputs_backlog(const struct inputs *in, size_t *files, uint64_t *bytes);

/* One lag per followed file (and each input's file count in the stats). *lags is borrowed until
 * the next call or inputs_destroy. Returns how many, 0 when memory runs out. */
size_t inputs_lags(struct inputs *in, const struct lag **lags);

/* Counters. Borrowed until inputs_destroy. */
const struct inputs_stats *inputs_stats(const struct inputs *in);

/* Logs one line per followed file: the offset up to which every sink settled it (what a
 * checkpoint may record) and how far it was read. */
void inputs_log_files(const struct inputs *in);

#endif
