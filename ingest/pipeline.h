/* The pipeline: the file inputs (inputs.h) -> the router (router.h: enrichment, JSON, every
 * sink) -> the commit of acknowledgements to checkpoints (commit.h), wired and run in one loop.
 * The only module that knows more than one stage. Following files, parsing, encoding, serving
 * the sinks' acknowledgements and saving checkpoints all happen on the caller's thread, in turn;
 * a Kafka sink produces on a thread of its own (sink_thread.h), behind the sink interface, and
 * its acknowledgements still arrive on the caller's thread. */
#ifndef LME_PIPELINE_H
#define LME_PIPELINE_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

struct pipeline;

/* The checks made before anything starts, shared with check-config so that its "ok" means run
 * will start: state_dir (a folder we may write, owned by us or root, not writable by others, or
 * creatable), the files the sinks write (output, dead-letter) and the files librdkafka will read
 * (TLS, keytab). The metrics address is not tried: a running daemon may hold it. Returns 0 or
 * an error with err filled. */
int pipeline_preflight(const struct config *cfg, struct lme_err *err);

/* Builds the sinks and the inputs' zones from cfg (borrowed until pipeline_destroy), creates
 * state_dir when missing and loads its checkpoints. previous is the configuration this one
 * replaces (a reload) or NULL: an input it did not have counts as new, and start_at applies to
 * new inputs only (at the very first start, every input is new). Returns NULL with err filled. */
struct pipeline *pipeline_create(const struct config *cfg, const struct config *previous,
                                 struct lme_err *err);

/* NULL-safe. Events still in flight are abandoned: drain first. */
void pipeline_destroy(struct pipeline *p);

/* run --once: reads every file the inputs' globs match to its end (from its checkpoint when one
 * names the same file: device, inode and first bytes), its last record included, handing each
 * event to every sink. start_at does not apply: this is a backfill. When the bytes in flight
 * reach the budget, reading waits for the sinks (backpressure). Stops early when *stop becomes
 * non-zero. Returns 0, or a negative code with err filled when a sink fails for good (files that
 * cannot be read are logged and skipped). */
int pipeline_read_inputs(struct pipeline *p, volatile sig_atomic_t *stop, struct lme_err *err);

/* The daemon: follows the inputs (new files, growth, rotation, truncation, deletion; see
 * docs/config.md) and serves the sinks, until *stop or *reload becomes non-zero. Returns 0, or a
 * negative code with err filled when a sink fails for good. */
int pipeline_follow(struct pipeline *p, volatile sig_atomic_t *stop,
                    volatile sig_atomic_t *reload, struct lme_err *err);

/* Before stopping or reloading: files renamed away or deleted are read to their end and their
 * last record emitted, since the next run may not find them again. */
int pipeline_release_rotated(struct pipeline *p, struct lme_err *err);

/* Serves the sinks until nothing is in flight, timeout_ms passes (negative: no limit) or *stop
 * becomes non-zero. Returns the number of events not settled yet (0: all delivered or set
 * aside), or a negative code with err filled. */
int64_t pipeline_drain(struct pipeline *p, int timeout_ms, volatile sig_atomic_t *stop,
                       struct lme_err *err);

/* Writes every file's settled offset to state_dir/checkpoints.json (atomically); also done by the
 * loops above within checkpoint_interval_ms of an offset moving (at most once per interval).
 * Entries of files that are gone are dropped. Returns 0, or an error with err filled (the
 * previous checkpoints stay). */
int pipeline_checkpoint(struct pipeline *p, struct lme_err *err);

struct metrics_snapshot;

/* Publishes the pipeline's metrics, health and readiness to snap (borrowed) at least once a
 * second from now on; started_ms (wall clock) is when the daemon started, for uptime. */
void pipeline_set_metrics(struct pipeline *p, struct metrics_snapshot *snap, int64_t started_ms);

/* A reload: next (just built) takes over prev's counters, so that every Prometheus counter and
 * the exit totals count the whole run, not only since the last reload. Call before destroying
 * prev. Returns 0 or LME_ENOMEM (next then counts from 0). */
int pipeline_carry_counters(struct pipeline *next, struct pipeline *prev);

/* Publishes now (at start, before stopping). */
void pipeline_publish_metrics(struct pipeline *p);

/* From now on /ready says no: the pipeline is stopping or being replaced. */
void pipeline_stopping(struct pipeline *p);

/* Logs one summary line per sink (accepted, delivered, dead-lettered, retried, in flight) and
 * one per file: the offset up to which every sink settled it (what a checkpoint may record). */
void pipeline_log_stats(const struct pipeline *p);

#endif
