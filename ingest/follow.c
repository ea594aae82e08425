/* The file inputs: matching the globs, following each file (growth, partial lines, the last
 * record's flush, rotation by rename, copy-truncate, deletion, idle files, inode reuse) and
 * reading it into the parser, for run --once and for the daemon. Files are sources (source.c)
 * in a table whose slots stay put while their events are in flight, since acks.c names a source
 * by its slot. See docs/config.md, "Following files". */
#include "pipeline_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"

#define CHUNKS_PER_TURN 4 /* per file and turn, so that one busy file does not starve the others */
#define IN_FLIGHT_WAIT_MS 10 /* wait between turns while acknowledgements are due */

/* Drops the entries of files no source follows and whose path no longer names them: deleted,
 * or renamed away from where they were last seen. */
void follow_prune_checkpoints(struct pipeline *p)
{
    for (size_t i = p->checkpoints.n; i-- > 0;) {
        const struct checkpoint *cp = &p->checkpoints.v[i];
        bool followed = false;
        for (size_t k = 0; k < p->n_sources && !followed; k++) {
            const struct source *s = &p->sources[k];
            followed = source_used(s) && !s->superseded && s->tail.dev == cp->dev &&
                       s->tail.ino == cp->ino;
        }
        struct stat st;
        if (!followed && (stat(cp->path, &st) != 0 || (uint64_t)st.st_dev != cp->dev ||
                          (uint64_t)st.st_ino != cp->ino))
            checkpoints_remove(&p->checkpoints, i);
    }
}

/* A free slot (reusing one whose file is done and settled), or -1 when memory runs out. */
static long take_slot(struct pipeline *p)
{
    for (size_t i = 0; i < p->n_sources; i++)
        if (!source_used(&p->sources[i]))
            return (long)i;
    struct source *v = realloc(p->sources, (p->n_sources + 1) * sizeof(*v));
    if (!v)
        return -1;
    p->sources = v;
    memset(&p->sources[p->n_sources], 0, sizeof(*v));
    return (long)p->n_sources++;
}

/* Logs a file that cannot be read once, not at every scan. */
static void report_unreadable(struct pipeline *p, const char *path, const char *why)
{
    uint64_t h = lme_hash64(path, strlen(path), 0);
    for (size_t i = 0; i < p->n_unreadable; i++)
        if (p->unreadable[i] == h)
            return;
    if (p->n_unreadable < MAX_UNREADABLE)
        p->unreadable[p->n_unreadable++] = h;
    lme_log(LME_LOG_ERROR, "cannot read input", "file", path, "error", why, NULL);
}

/* Where a file with no checkpoint starts: start_at, then the input's read-back cap. */
static uint64_t first_offset(struct pipeline *p, struct source *s, bool at_start, bool once)
{
    const struct config_input *in = &p->cfg->inputs[s->input];
    bool at_end = in->start_at == CONFIG_START_END && p->new_input[s->input];
    if (p->bad_checkpoints) /* we cannot know where we were: the operator chose */
        at_end = p->cfg->on_bad_checkpoints == CONFIG_START_END;
    if (!once && at_start && at_end)
        return tail_start_near_end(&s->tail, 0);
    if (in->max_read_back_bytes > 0)
        return tail_start_near_end(&s->tail, (uint64_t)in->max_read_back_bytes);
    return 0;
}

/* Where reading a file starts: the checkpoint's offset when one names this very file (same
 * device, inode and first bytes) and the file is not shorter than it; else first_offset. */
static uint64_t start_offset(struct pipeline *p, struct source *s, bool at_start, bool once)
{
    struct tail_file *t = &s->tail;
    struct checkpoint *cp = checkpoints_find(&p->checkpoints, t->dev, t->ino);
    if (!cp)
        return first_offset(p, s, at_start, once);
    uint64_t fp;
    uint32_t got;
    if (checkpoint_fingerprint(t->fd, cp->fingerprint_len, &fp, &got) != 0 ||
        got != cp->fingerprint_len || fp != cp->fingerprint) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                t->path, NULL);
        return 0;
    }
    if (cp->offset > t->size) {
        lme_log(LME_LOG_WARN, "file shorter than its checkpoint (truncated): reading it from its start",
                "file", t->path, NULL);
        return 0;
    }
    char off[24];
    if (cp->offset > 0)
        lme_log(LME_LOG_INFO, "resuming", "file", t->path, "offset", u64(off, sizeof(off), cp->offset),
                NULL);
    return cp->offset;
}

static int add_source(struct pipeline *p, size_t input, const char *path, bool at_start,
                      bool once, struct lme_err *err)
{
    long slot = take_slot(p);
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    struct source *s = &p->sources[slot];
    struct lme_err oerr;
    if (source_open(s, path, &p->source_cfgs[input], &oerr) != 0) {
        report_unreadable(p, path, oerr.msg);
        source_free(s);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    s->input = input;
    s->tail.offset = start_offset(p, s, at_start, once);
    s->committed = s->tail.offset;
    s->last_growth_ms = mono_ms();
    s->seen = true;
    if (source_start(s, &oerr) != 0) {
        report_unreadable(p, path, oerr.msg);
        source_free(s);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    char off[24];
    lme_log(LME_LOG_INFO, "following file", "file", s->tail.path, "offset",
            u64(off, sizeof(off), s->tail.offset), NULL);
    return 0;
}

/* The source following (dev, ino), superseded readings aside; or NULL. */
static struct source *find_source(struct pipeline *p, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (source_used(s) && !s->superseded && s->tail.dev == dev && s->tail.ino == ino)
            return s;
    }
    return NULL;
}

/* Whether the file at path is still the one s read: a closed file's inode may have been freed
 * (deleted) and given to a new file, which then starts otherwise. An open file's inode cannot. */
static bool same_file_content(const struct source *s, const char *path)
{
    if (s->tail.fd >= 0 || s->tail.fingerprint_len == 0)
        return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return true; /* gone meanwhile: nothing to mistake */
    uint64_t fp;
    uint32_t got;
    bool same = checkpoint_fingerprint(fd, s->tail.fingerprint_len, &fp, &got) == 0 &&
                got == s->tail.fingerprint_len && fp == s->tail.fingerprint;
    close(fd);
    return same;
}

/* A known file found by a scan: follows its new name, and opens it again when it changed while
 * closed (idle, or done after a rotation). Returns false when the inode now holds another file:
 * the caller lets s go and takes the file as new. */
static bool revisit(struct source *s, const char *path, const struct stat *st)
{
    if (!same_file_content(s, path)) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                path, NULL);
        s->superseded = true; /* freed once settled; its checkpoint is not saved again */
        s->done = true;
        return false;
    }
    s->seen = true;
    char absolute[PATH_MAX];
    if (realpath(path, absolute) && strcmp(absolute, s->tail.path) != 0) {
        char *copy = strdup(absolute);
        if (copy) {
            free(s->tail.path);
            s->tail.path = copy;
            s->rotated = false; /* found again under a name the inputs follow */
        }
    }
    if (s->tail.fd >= 0 || (uint64_t)st->st_size == s->tail.offset)
        return true;
    struct lme_err err;
    if (source_resume(s, &err) != 0)
        return true; /* replaced meanwhile: the next scan meets the new file */
    s->done = false;
    s->rotated = false;
    s->last_growth_ms = mono_ms();
    lme_log(LME_LOG_INFO, "file changed: reopened", "file", s->tail.path, NULL);
    return true;
}

static int scan_glob(struct pipeline *p, size_t input, const char *pattern, bool at_start,
                     bool once, struct lme_err *err)
{
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH && at_start)
        lme_log(LME_LOG_WARN, "no file matches (yet)", "path", pattern, NULL);
    if (grc != 0)
        return 0;
    int rc = 0;
    for (size_t f = 0; f < g.gl_pathc && !rc; f++) {
        struct stat st;
        if (stat(g.gl_pathv[f], &st) != 0 || S_ISDIR(st.st_mode))
            continue;
        struct source *s = find_source(p, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (!s || !revisit(s, g.gl_pathv[f], &st))
            rc = add_source(p, input, g.gl_pathv[f], at_start, once, err);
    }
    globfree(&g);
    return rc;
}

/* Matches every glob again: new files are added, known ones revisited; a file done and settled
 * that no glob matches any more is let go. */
static int scan_inputs(struct pipeline *p, bool at_start, bool once, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++)
        p->sources[i].seen = false;
    for (size_t i = 0; i < p->cfg->n_inputs; i++) {
        const struct config_input *in = &p->cfg->inputs[i];
        for (size_t k = 0; k < in->n_paths; k++) {
            watch_add_glob(p->watch, in->paths[k]);
            int rc = scan_glob(p, i, in->paths[k], at_start, once, err);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (source_used(s) && (s->done || s->superseded || s->tail.fd < 0) && !s->seen &&
            s->pending == 0)
            source_free(s); /* the slot is free again */
    }
    p->last_scan_ms = mono_ms();
    return 0;
}

#define TO_THE_END (-1)

/* Reads up to max_chunks chunks of the file, stopping early when interrupted; TO_THE_END reads
 * it to its end whatever happens. *eof tells whether its end was reached. */
static int read_source(struct pipeline *p, size_t idx, int max_chunks, bool *eof,
                       struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    *eof = false;
    p->current = (uint32_t)idx;
    for (int i = 0; max_chunks == TO_THE_END || (i < max_chunks && !interrupted(p)); i++) {
        size_t got;
        struct lme_err rerr = { 0 };
        p->read_at_ms = mono_ms();
        int rc = source_read(s, p->chunk, READ_CHUNK, wall_ms(), pipeline_on_event, p, &got, &rerr);
        if (rc == LME_EIO && rerr.code == LME_EIO) {
            report_unreadable(p, s->tail.path, rerr.msg);
            *eof = true;
            return 0;
        }
        if (rc && rerr.code) {
            *err = rerr;
            return rc;
        }
        if (rc)
            return pipeline_stage_failed(p, rc, s->tail.path, err);
        if (got == 0) {
            *eof = true;
            return 0;
        }
        p->stats.inputs[s->input].bytes += got;
        s->last_growth_ms = mono_ms();
        s->flushed = false;
    }
    return 0;
}

static void log_file_done(const struct source *s, const char *msg)
{
    char records[24], offset[24];
    lme_log(LME_LOG_INFO, msg, "file", s->tail.path, "records",
            u64(records, sizeof(records), s->records), "offset",
            u64(offset, sizeof(offset), s->tail.offset), NULL);
}

static int finish_source(struct pipeline *p, size_t idx, const char *msg, struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    p->current = (uint32_t)idx;
    p->read_at_ms = mono_ms();
    int rc = source_finish(s, wall_ms(), pipeline_on_event, p);
    s->done = true;
    log_file_done(s, msg);
    return rc ? pipeline_stage_failed(p, rc, s->tail.path, err) : 0;
}

/* A file shorter than what was read (copy-and-truncate): the old reading is finished and set
 * aside (its events still settle, but no longer move the checkpoint) and a new reading of the
 * same file starts at 0. */
static int restart_truncated(struct pipeline *p, size_t idx, struct lme_err *err)
{
    char was[24];
    p->stats.truncations++;
    lme_log(LME_LOG_WARN, "file truncated: reading it again from its start", "file",
            p->sources[idx].tail.path, "offset",
            u64(was, sizeof(was), p->sources[idx].tail.offset), NULL);
    long slot = take_slot(p); /* may move the table */
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    struct source *old = &p->sources[idx], *s = &p->sources[slot];
    *s = (struct source){ .cfg = old->cfg, .input = old->input, .seen = true };
    s->tail = old->tail; /* the new reading takes the descriptor */
    if (!(s->tail.path = strdup(old->tail.path)))
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    old->tail.fd = -1;
    old->superseded = true;
    p->current = (uint32_t)idx;
    int rc = source_finish(old, wall_ms(), pipeline_on_event, p);
    old->done = true;
    if (rc)
        return pipeline_stage_failed(p, rc, old->tail.path, err);
    s->tail.offset = 0;
    s->tail.fingerprint_len = 0; /* the new content's first bytes, once there */
    s->last_growth_ms = mono_ms();
    struct lme_err serr;
    if (source_start(s, &serr) != 0) {
        report_unreadable(p, s->tail.path, serr.msg);
        s->done = true;
    }
    return 0;
}

/* After reading a file to its end: what happened to it, and what is due now that it is silent. */
static int check_source(struct pipeline *p, size_t idx, int64_t now, struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    const struct config_input *in = &p->cfg->inputs[s->input];
    int64_t silent = now - s->last_growth_ms;
    enum tail_change change = tail_check(&s->tail);
    if (change == TAIL_TRUNCATED)
        return restart_truncated(p, idx, err);
    if ((change == TAIL_MOVED || change == TAIL_DELETED) && !s->rotated) {
        s->rotated = true;
        lme_log(LME_LOG_INFO,
                change == TAIL_MOVED ? "file renamed away: reading it to its end"
                                     : "file deleted: reading it to its end",
                "file", s->tail.path, NULL);
    }
    if (s->rotated && silent >= in->rotate_wait_ms)
        return finish_source(p, idx, "file done", err);
    if (source_holds(s) && !s->flushed && silent >= in->multiline_flush_ms) {
        p->current = (uint32_t)idx;
        p->read_at_ms = mono_ms();
        s->flushed = true; /* a partial line left: it waits for its end, not for a timer */
        int rc = source_flush(s, wall_ms(), pipeline_on_event, p);
        if (rc)
            return pipeline_stage_failed(p, rc, s->tail.path, err);
    }
    if (!s->rotated && silent >= in->close_inactive_ms) {
        source_suspend(s);
        lme_log(LME_LOG_INFO, "file inactive: closed until it changes", "file", s->tail.path, NULL);
    }
    return 0;
}

/* One pass over the open files. *busy: some file had more to read than one turn takes. */
static int follow_turn(struct pipeline *p, bool *busy, struct lme_err *err)
{
    *busy = false;
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->n_sources && !interrupted(p); i++) {
        if (!source_used(&p->sources[i]) || p->sources[i].tail.fd < 0)
            continue;
        bool eof;
        int rc = read_source(p, i, CHUNKS_PER_TURN, &eof, err);
        if (!rc && eof)
            rc = check_source(p, i, now, err);
        if (rc)
            return rc;
        *busy |= !eof;
    }
    return 0;
}

/* A backfill's progress on a terminal: files and bytes done, the rate, the time left. */
struct progress {
    bool on;
    size_t files, files_done;
    uint64_t bytes, bytes_at_start;
    int64_t start_ms, last_ms;
};

static uint64_t bytes_read_so_far(const struct pipeline *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        n += p->stats.inputs[i].bytes;
    return n;
}

static void progress_start(struct pipeline *p, struct progress *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->on = isatty(STDERR_FILENO);
    pr->start_ms = pr->last_ms = mono_ms();
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->done)
            continue;
        pr->files++;
        pr->bytes += s->tail.size > s->tail.offset ? s->tail.size - s->tail.offset : 0;
    }
    pr->bytes_at_start = bytes_read_so_far(p);
}

static void progress_show(struct pipeline *p, struct progress *pr, bool last)
{
    int64_t now = mono_ms();
    if (!pr->on || (!last && now - pr->last_ms < 1000))
        return;
    pr->last_ms = now;
    uint64_t done = bytes_read_so_far(p) - pr->bytes_at_start, records = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        records += p->stats.inputs[i].records;
    double secs = (double)(now - pr->start_ms) / 1000.0;
    double left = done > 0 && pr->bytes > done ? secs * (double)(pr->bytes - done) / (double)done : 0;
    fprintf(stderr, "\rlme-ingest: %zu/%zu files, %.1f of %.1f MB, %.0f records/s, %d:%02d left  %s",
            pr->files_done, pr->files, (double)done / 1e6, (double)pr->bytes / 1e6,
            secs > 0 ? (double)records / secs : 0, (int)left / 60, (int)left % 60, last ? "\n" : "");
    fflush(stderr);
}

int pipeline_read_inputs(struct pipeline *p, volatile sig_atomic_t *stop, struct lme_err *err)
{
    p->stop = stop;
    int rc = scan_inputs(p, true, true, err);
    p->ready = true;
    struct progress pr;
    progress_start(p, &pr);
    for (size_t i = 0; !rc && i < p->n_sources && !interrupted(p); i++) {
        if (!source_used(&p->sources[i]) || p->sources[i].done)
            continue;
        bool eof = false;
        while (!rc && !eof && !interrupted(p)) {
            rc = read_source(p, i, CHUNKS_PER_TURN, &eof, err);
            progress_show(p, &pr, false);
        }
        if (!rc && eof)
            rc = finish_source(p, i, "file read", err);
        pr.files_done++;
    }
    progress_show(p, &pr, true);
    return rc;
}

/* How long the follow loop may sleep: until the next poll, or sooner when a silent file's last
 * record falls due (multiline_flush_ms), so that it goes out on time. */
static int idle_wait_ms(const struct pipeline *p)
{
    int wait = pipeline_in_flight(p) > 0 ? IN_FLIGHT_WAIT_MS : p->cfg->poll_interval_ms;
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->tail.fd < 0 || s->flushed || !source_holds(s))
            continue;
        int64_t due = s->last_growth_ms + p->cfg->inputs[s->input].multiline_flush_ms - now;
        if (due < wait)
            wait = due > 1 ? (int)due : 1;
    }
    return wait;
}

int pipeline_follow(struct pipeline *p, volatile sig_atomic_t *stop,
                    volatile sig_atomic_t *reload, struct lme_err *err)
{
    p->stop = stop;
    p->reload = reload;
    int rc = scan_inputs(p, true, false, err);
    p->ready = true;
    if (p->snap)
        pipeline_publish_metrics(p);
    bool names_changed = false;
    while (!rc && !interrupted(p)) {
        if (names_changed || mono_ms() - p->last_scan_ms >= p->cfg->scan_interval_ms)
            rc = scan_inputs(p, false, false, err);
        bool busy = false;
        if (!rc)
            rc = follow_turn(p, &busy, err);
        if (!rc)
            rc = pipeline_poll_sinks(p, 0, err);
        if (rc || busy)
            continue;
        names_changed = watch_wait(p->watch, idle_wait_ms(p)) == WATCH_NAMES;
    }
    return rc;
}

int pipeline_release_rotated(struct pipeline *p, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (!source_used(s) || s->done || s->tail.fd < 0 || (!s->rotated && !s->superseded))
            continue;
        /* the budget still holds unless stopping cuts its wait short: then what is left of
         * these files (normally the last moments' writes) goes over it */
        bool eof;
        int rc = read_source(p, i, TO_THE_END, &eof, err);
        if (!rc)
            rc = finish_source(p, i, "file done", err);
        if (rc)
            return rc;
    }
    return 0;
}

