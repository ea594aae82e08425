/* The file inputs: see inputs.h. Files live in a table whose slots may move when it grows (only
 * inputs_scan and a truncation's new reading grow it, never while an event is out). A slot is
 * freed only when commit says none of its records is in flight. */
#include "inputs.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "source.h"
#include "tz.h"
#include "watch.h"

#define READ_CHUNK (1024 * 1024)
#define CHUNKS_PER_TURN 4 /* per file and turn, so that one busy file does not starve the others */
#define MIN_OPEN_FILES 8
#define RESERVED_FDS 128       /* checkpoints, the dead-letter and output files, probes, stdio */
#define RESERVED_FDS_HTTP 272  /* the metrics endpoint's connection limit, and its own */
#define RESERVED_FDS_SINK 32   /* a Kafka sink's sockets (a few per broker) and pipes */
#define KEEP_OPEN_MS 1000      /* a file opened this recently is not closed for another */
#define TO_THE_END (-1)

static const char *const start_ats[] = { "beginning", "end", NULL };
static const char *const encodings[] = { "auto", "utf-8", "utf-16le", NULL };

static const struct conf_key keys[] = {
    CONF_OWN_KEY("type", true, "file"),
    CONF_STRINGS_KEY(struct config_input, paths, n_paths, "paths", "glob patterns"),
    CONF_STRING_KEY(struct config_input, timezone, "timezone", NULL,
                    "IANA zone the logs' local times are written in; NULL: the machine's"),
    CONF_STRING_KEY(struct config_input, connector, "connector", NULL,
                    "the connector these logs belong to (a name from connectors)"),
    CONF_STRING_KEY(struct config_input, host_name, "host_name", NULL,
                    "host.name of this input's events; NULL: the top-level one"),
    CONF_CHOICE_KEY(struct config_input, start_at, "start_at", CONFIG_START_BEGINNING, start_ats,
                    "where files found at the input's first start are read from"),
    CONF_INT_KEY(struct config_input, max_read_back_bytes, "max_read_back_bytes", 0, 0, 1LL << 50,
                 "a new file is read from at most this many bytes before its end (0: no cap)"),
    CONF_CHOICE_KEY(struct config_input, encoding, "encoding", CONFIG_ENCODING_AUTO, encodings,
                    "auto (a UTF-16LE BOM decides), utf-8 or utf-16le"),
    CONF_INT_KEY(struct config_input, multiline_flush_ms, "multiline_flush_ms", 2000, 0, 3600000,
                 "a silent file's last record goes out after this"),
    CONF_INT_KEY(struct config_input, rotate_wait_ms, "rotate_wait_ms", 5000, 0, 3600000,
                 "a renamed or deleted file is read this long after its last growth"),
    CONF_INT_KEY(struct config_input, close_inactive_ms, "close_inactive_ms", 300000, 1000, 86400000,
                 "a file silent this long is closed (reopened when it changes)"),
    CONF_BOOL_KEY(struct config_input, follow_symlinks, "follow_symlinks", 0,
                  "true: matches that are symbolic links are read, if they stay in the folders"),
};

const struct conf_table inputs_config_keys = CONF_TABLE("inputs[]", keys);

struct input_file {
    struct source src;       /* src.tail.path set: the slot is in use */
    uint32_t input;
    uint32_t file;           /* commit's name for it */
    uint64_t records;        /* events emitted */
    int64_t last_growth_ms;  /* monotonic */
    bool rotated;            /* renamed away or deleted: read to its end, then done */
    bool done;               /* read for good; kept until committed */
    bool superseded;         /* a newer reading of the same file replaced it (truncation) */
    bool seen;               /* matched by the latest scan */
    bool flushed;            /* its pending record was flushed since it last grew */
    bool waiting;            /* wants its descriptor back (it changed while closed) */
    int64_t opened_ms;       /* monotonic: when it was last opened */
};

struct inputs {
    const struct config *cfg;
    struct commit *commit;
    bool *new_input;                    /* per input: start_at applies to its files */
    struct source_config *source_cfgs;  /* per input */
    struct lme_tz **zones;              /* per input */
    struct input_file *files;
    size_t n_files;
    struct watch *watch;
    uint64_t *reported;                 /* hashes of paths already reported (unreadable, refused) */
    size_t n_reported, cap_reported;
    size_t max_open;                    /* the descriptor budget of input files */
    bool said_waiting;                  /* "files wait for a descriptor" logged, not yet cleared */
    char *chunk;
    int64_t last_scan_ms;
    struct inputs_stats stats;
    struct lag *lags;
    volatile sig_atomic_t *stop, *reload;
};

static bool used(const struct input_file *f)
{
    return f->src.tail.path != NULL;
}

static bool interrupted(const struct inputs *in)
{
    return (in->stop && *in->stop) || (in->reload && *in->reload);
}

static const char *u64(char *buf, size_t size, uint64_t v)
{
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

/* ---- creation ---- */

static bool same_paths(const struct config_input *a, const struct config_input *b)
{
    if (a->n_paths != b->n_paths)
        return false;
    for (size_t i = 0; i < a->n_paths; i++)
        if (strcmp(a->paths[i], b->paths[i]) != 0)
            return false;
    return true;
}

/* start_at is for an input's first start: at the daemon's very first (no checkpoints yet), or
 * when a reload adds it. A restart must not skip what was written while the daemon was down. */
static void mark_new_inputs(struct inputs *in, const struct config *previous)
{
    bool first_start = commit_first_start(in->commit);
    for (size_t i = 0; i < in->cfg->n_inputs; i++) {
        bool known = !first_start && !previous;
        for (size_t k = 0; previous && k < previous->n_inputs && !known; k++)
            known = same_paths(&in->cfg->inputs[i], &previous->inputs[k]);
        in->new_input[i] = !known;
    }
}

static int open_zones(struct inputs *in, struct lme_err *err)
{
    const struct config *cfg = in->cfg;
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        if (!(in->zones[i] = lme_tz_open(cfg->inputs[i].timezone, err)))
            return err->code;
        in->source_cfgs[i] = (struct source_config){
            .host = cfg->inputs[i].host_name ? cfg->inputs[i].host_name : cfg->host_name,
            .tz = in->zones[i],
            .max_record_bytes = cfg->max_record_bytes,
            .encoding = cfg->inputs[i].encoding,
            .follow_symlinks = cfg->inputs[i].follow_symlinks != 0,
        };
    }
    return 0;
}

/* How many input files may be open at once: the soft descriptor limit (raised to the hard one at
 * start) less what everything else may need, so that saving checkpoints, the sinks and the
 * metrics endpoint never run out of descriptors because of the inputs. */
static size_t open_budget(const struct config *cfg)
{
    struct rlimit rl;
    long long limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                          ? (long long)rl.rlim_cur : 1024;
    long long reserve = RESERVED_FDS + (cfg->metrics_listen ? RESERVED_FDS_HTTP : 0) +
                        RESERVED_FDS_SINK * (long long)cfg->n_sinks;
    long long budget = limit - reserve;
    return budget < MIN_OPEN_FILES ? MIN_OPEN_FILES : (size_t)budget;
}

struct inputs *inputs_create(const struct config *cfg, const struct config *previous,
                             struct commit *commit, struct lme_err *err)
{
    size_t n = cfg->n_inputs ? cfg->n_inputs : 1;
    struct inputs *in = calloc(1, sizeof(*in));
    if (!in || !(in->new_input = calloc(n, sizeof(*in->new_input))) ||
        !(in->source_cfgs = calloc(n, sizeof(*in->source_cfgs))) ||
        !(in->zones = calloc(n, sizeof(*in->zones))) ||
        !(in->stats.inputs = calloc(n, sizeof(*in->stats.inputs))) ||
        !(in->chunk = malloc(READ_CHUNK))) {
        lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
        goto fail;
    }
    in->cfg = cfg;
    in->commit = commit;
    in->max_open = in->stats.max_open = open_budget(cfg);
    mark_new_inputs(in, previous);
    if (open_zones(in, err) != 0 || !(in->watch = watch_create(cfg->inotify, err)))
        goto fail;
    return in;
fail:
    inputs_destroy(in);
    return NULL;
}

void inputs_destroy(struct inputs *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_files; i++)
        source_free(&in->files[i].src);
    free(in->files);
    for (size_t i = 0; in->zones && i < in->cfg->n_inputs; i++)
        lme_tz_destroy(in->zones[i]);
    watch_destroy(in->watch);
    free(in->new_input);
    free(in->source_cfgs);
    free(in->zones);
    free(in->stats.inputs);
    free(in->chunk);
    free(in->lags);
    free(in->reported);
    free(in);
}

void inputs_set_interrupts(struct inputs *in, volatile sig_atomic_t *stop,
                           volatile sig_atomic_t *reload)
{
    in->stop = stop;
    in->reload = reload;
}

/* ---- finding files ---- */

/* A free slot (reusing one let go), or -1 when memory runs out. May move the table. */
static long take_slot(struct inputs *in)
{
    for (size_t i = 0; i < in->n_files; i++)
        if (!used(&in->files[i]))
            return (long)i;
    struct input_file *v = realloc(in->files, (in->n_files + 1) * sizeof(*v));
    if (!v)
        return -1;
    in->files = v;
    memset(&in->files[in->n_files], 0, sizeof(*v));
    return (long)in->n_files++;
}

/* Lets a file go: nothing of it is in flight any more. */
static void release(struct inputs *in, struct input_file *f)
{
    commit_untrack(in->commit, f->file);
    source_free(&f->src);
}

/* Whether path was reported already (once per path and reason, not at every scan); remembers it
 * when not. */
static bool reported_before(struct inputs *in, const char *path, const char *why)
{
    uint64_t h = lme_hash64(why, strlen(why), lme_hash64(path, strlen(path), 0));
    for (size_t i = 0; i < in->n_reported; i++)
        if (in->reported[i] == h)
            return true;
    if (in->n_reported == in->cap_reported) {
        size_t cap = in->cap_reported ? 2 * in->cap_reported : 64;
        uint64_t *v = realloc(in->reported, cap * sizeof(*v));
        if (!v)
            return false; /* out of memory: said again, which is only noise */
        in->reported = v;
        in->cap_reported = cap;
    }
    in->reported[in->n_reported++] = h;
    return false;
}

static void report_unreadable(struct inputs *in, const char *path, const char *why)
{
    if (!reported_before(in, path, why))
        lme_log(LME_LOG_ERROR, "cannot read input", "file", path, "error", why, NULL);
}

/* A glob match the symlink policy refuses: logged once, counted once. */
static void report_refused(struct inputs *in, const char *path, const char *why)
{
    if (reported_before(in, path, why))
        return;
    in->stats.refused++;
    lme_log(LME_LOG_WARN, "input file refused", "file", path, "reason", why, NULL);
}

/* Where a file with no checkpoint starts: start_at, then the input's read-back cap. */
static uint64_t first_offset(struct inputs *in, struct input_file *f, bool at_start, bool once)
{
    const struct config_input *ci = &in->cfg->inputs[f->input];
    bool at_end = ci->start_at == CONFIG_START_END && in->new_input[f->input];
    if (commit_bad_checkpoints(in->commit, NULL)) /* we cannot know where we were: the operator chose */
        at_end = in->cfg->on_bad_checkpoints == CONFIG_START_END;
    if (!once && at_start && at_end)
        return tail_start_near_end(&f->src.tail, 0);
    if (ci->max_read_back_bytes > 0)
        return tail_start_near_end(&f->src.tail, (uint64_t)ci->max_read_back_bytes);
    return 0;
}

/* Where reading a file starts: the checkpoint's offset when one names this very file (same
 * device, inode and first bytes) and the file is not shorter than it; else first_offset. */
static uint64_t start_offset(struct inputs *in, struct input_file *f, bool at_start, bool once)
{
    struct tail_file *t = &f->src.tail;
    const struct checkpoint *cp = commit_find(in->commit, t->dev, t->ino);
    if (!cp)
        return first_offset(in, f, at_start, once);
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

/* Input files open now. */
static size_t open_files(const struct inputs *in)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n_files; i++)
        n += used(&in->files[i]) && in->files[i].src.tail.fd >= 0;
    return n;
}

/* Starts tracking f's file in commit from its current offset. */
static int track(struct inputs *in, struct input_file *f)
{
    const struct tail_file *t = &f->src.tail;
    struct checkpoint id = { t->path, t->dev, t->ino, t->fingerprint, t->fingerprint_len,
                             t->offset, t->offset };
    return commit_track(in->commit, &id, &f->file);
}

static int add_file(struct inputs *in, uint32_t input, const char *path, bool at_start, bool once,
                    struct lme_err *err)
{
    long slot = take_slot(in);
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
    struct input_file *f = &in->files[slot];
    struct lme_err oerr;
    if (source_open(&f->src, path, &in->source_cfgs[input], &oerr) != 0) {
        report_unreadable(in, path, oerr.msg);
        source_free(&f->src);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    *f = (struct input_file){ .src = f->src, .input = input, .seen = true,
                              .last_growth_ms = lme_mono_ms() };
    f->src.tail.offset = start_offset(in, f, at_start, once);
    if (source_start(&f->src, &oerr) != 0) {
        report_unreadable(in, path, oerr.msg);
        source_free(&f->src);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    if (track(in, f) != 0) {
        source_free(&f->src);
        return lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
    }
    f->opened_ms = f->last_growth_ms;
    char off[24];
    lme_log(LME_LOG_INFO, "following file", "file", f->src.tail.path, "offset",
            u64(off, sizeof(off), f->src.tail.offset), NULL);
    if (open_files(in) > in->max_open) { /* known now; read when a descriptor is free */
        source_suspend(&f->src);
        f->waiting = true;
    }
    return 0;
}

/* The file following (dev, ino), superseded readings aside; or NULL. */
static struct input_file *find_file(struct inputs *in, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < in->n_files; i++) {
        struct input_file *f = &in->files[i];
        if (used(f) && !f->superseded && f->src.tail.dev == dev && f->src.tail.ino == ino)
            return f;
    }
    return NULL;
}

/* Whether the file at path is still the one f read: a closed file's inode may have been freed
 * (deleted) and given to a new file, which then starts otherwise. An open file's inode cannot. */
static bool same_file_content(const struct input_file *f, const char *path)
{
    const struct tail_file *t = &f->src.tail;
    if (t->fd >= 0 || t->fingerprint_len == 0)
        return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return true; /* gone meanwhile: nothing to mistake */
    uint64_t fp;
    uint32_t got;
    bool same = checkpoint_fingerprint(fd, t->fingerprint_len, &fp, &got) == 0 &&
                got == t->fingerprint_len && fp == t->fingerprint;
    close(fd);
    return same;
}

/* f's file is now known by another name: commit records the new one. */
static void rename_file(struct inputs *in, struct input_file *f, const char *path)
{
    struct tail_file *t = &f->src.tail;
    char *copy = strdup(path);
    if (!copy || commit_identify(in->commit, f->file, path, t->fingerprint, t->fingerprint_len))
        return free(copy); /* out of memory: the old name stays, which is only informative */
    free(t->path);
    t->path = copy;
    f->rotated = false; /* found again under a name the inputs follow */
}

/* A known file found by a scan: follows its new name, and opens it again when it changed while
 * closed (idle, or done after a rotation). Returns false when the inode now holds another file:
 * the caller lets f go and takes the file as new. */
static bool revisit(struct inputs *in, struct input_file *f, const char *path,
                    const struct stat *st)
{
    if (!same_file_content(f, path)) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                path, NULL);
        f->superseded = true; /* let go once committed; its checkpoint is not saved again */
        f->done = true;
        commit_supersede(in->commit, f->file);
        return false;
    }
    f->seen = true;
    char absolute[PATH_MAX];
    if (realpath(path, absolute) && strcmp(absolute, f->src.tail.path) != 0)
        rename_file(in, f, absolute);
    if (f->src.tail.fd >= 0 || (uint64_t)st->st_size == f->src.tail.offset)
        return true;
    if (open_files(in) >= in->max_open) {
        f->waiting = true; /* reopened in turn (inputs_balance) */
        return true;
    }
    struct lme_err err;
    if (source_resume(&f->src, &err) != 0)
        return true; /* replaced meanwhile: the next scan meets the new file */
    f->done = false;
    f->rotated = false;
    f->waiting = false;
    f->last_growth_ms = f->opened_ms = lme_mono_ms();
    lme_log(LME_LOG_INFO, "file changed: reopened", "file", f->src.tail.path, NULL);
    return true;
}

/* The symlink policy (docs/config.md, "Symbolic links"): a match that is a link is read only when
 * its input opts in, and no match may resolve outside the folder its glob names (root: that
 * folder with its own links resolved). Returns NULL when path may be read, else why not. */
static const char *refusal(const struct config_input *ci, const char *path, const char *dir,
                           const char *root)
{
    struct stat lst;
    if (lstat(path, &lst) != 0)
        return NULL; /* gone: the open says so */
    if (S_ISLNK(lst.st_mode) && !ci->follow_symlinks)
        return "a symbolic link, not followed (follow_symlinks is off)";
    size_t d = strlen(dir);
    if (!S_ISLNK(lst.st_mode) && strncmp(path, dir, d) == 0 && path[d] == '/' &&
        !strchr(path + d + 1, '/'))
        return NULL; /* not a link, right in the glob's folder: inside, no realpath needed */
    char real[PATH_MAX];
    if (!realpath(path, real))
        return S_ISLNK(lst.st_mode) ? "a symbolic link to nothing" : NULL;
    size_t n = strlen(root);
    bool inside = strcmp(root, "/") == 0 || (strncmp(real, root, n) == 0 && real[n] == '/');
    return inside ? NULL : "resolves outside the input's folder: refused";
}

static int scan_glob(struct inputs *in, uint32_t input, const char *pattern, bool at_start,
                     bool once, struct lme_err *err)
{
    const struct config_input *ci = &in->cfg->inputs[input];
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH && at_start)
        lme_log(LME_LOG_WARN, "no file matches (yet)", "path", pattern, NULL);
    if (grc != 0)
        return 0;
    char dir[PATH_MAX], root[PATH_MAX];
    watch_glob_dir(pattern, dir, sizeof(dir));
    if (!realpath(dir, root)) { /* the folder went away since the glob */
        globfree(&g);
        return 0;
    }
    int rc = 0;
    for (size_t k = 0; k < g.gl_pathc && !rc; k++) {
        const char *why = refusal(ci, g.gl_pathv[k], dir, root);
        if (why) {
            report_refused(in, g.gl_pathv[k], why);
            continue;
        }
        struct stat st;
        if (stat(g.gl_pathv[k], &st) != 0 || S_ISDIR(st.st_mode))
            continue;
        struct input_file *f = find_file(in, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (!f || !revisit(in, f, g.gl_pathv[k], &st))
            rc = add_file(in, input, g.gl_pathv[k], at_start, once, err);
    }
    globfree(&g);
    return rc;
}

int inputs_scan(struct inputs *in, bool at_start, bool once, struct lme_err *err)
{
    for (size_t i = 0; i < in->n_files; i++)
        in->files[i].seen = false;
    for (size_t i = 0; i < in->cfg->n_inputs; i++) {
        const struct config_input *ci = &in->cfg->inputs[i];
        for (size_t k = 0; k < ci->n_paths; k++) {
            watch_add_glob(in->watch, ci->paths[k]);
            int rc = scan_glob(in, (uint32_t)i, ci->paths[k], at_start, once, err);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < in->n_files; i++) {
        struct input_file *f = &in->files[i];
        if (used(f) && (f->done || f->superseded || f->src.tail.fd < 0) && !f->seen &&
            commit_pending(in->commit, f->file) == 0)
            release(in, f); /* the slot is free again */
    }
    in->last_scan_ms = lme_mono_ms();
    lme_log(LME_LOG_DEBUG, "inputs scanned", NULL);
    return 0;
}

bool inputs_scan_due(const struct inputs *in, int64_t now_ms)
{
    return now_ms - in->last_scan_ms >= in->cfg->scan_interval_ms;
}

/* ---- the descriptor budget ---- */

/* Whether f may give its descriptor to a waiting file now. Never a file renamed away or deleted
 * (it could not be opened again). Not, unless any (a backfill reads one file after the other): a
 * file opened a moment ago and not read to its end, nor one whose last record waits for its
 * flush (closing it would drop the record and start its wait again). */
static bool may_close(const struct input_file *f, int64_t now, bool any)
{
    const struct tail_file *t = &f->src.tail;
    if (!used(f) || t->fd < 0 || f->rotated || f->superseded || f->done)
        return false;
    if (any)
        return true;
    if (t->offset < t->size && now - f->opened_ms < KEEP_OPEN_MS)
        return false;
    return !(source_holds(&f->src) && !f->flushed);
}

/* The open file to close for a waiting one: the least recently active of those that may close,
 * one holding no partial record first. NULL when none may. */
static struct input_file *eviction_victim(struct inputs *in, int64_t now,
                                          const struct input_file *keep, bool any)
{
    struct input_file *best = NULL;
    for (size_t i = 0; i < in->n_files; i++) {
        struct input_file *f = &in->files[i];
        if (f == keep || !may_close(f, now, any))
            continue;
        bool holds = source_holds(&f->src);
        if (!best || (source_holds(&best->src) && !holds) ||
            (source_holds(&best->src) == holds && f->last_growth_ms < best->last_growth_ms))
            best = f;
    }
    return best;
}

/* The waiting file that has waited longest (by its last activity), or NULL. */
static struct input_file *longest_waiting(struct inputs *in)
{
    struct input_file *best = NULL;
    for (size_t i = 0; i < in->n_files; i++) {
        struct input_file *f = &in->files[i];
        if (used(f) && f->waiting && f->src.tail.fd < 0 &&
            (!best || f->last_growth_ms < best->last_growth_ms))
            best = f;
    }
    return best;
}

/* Opens f again within the budget (open: the files open now, kept up to date), closing another
 * file for it when needed. */
static bool give_descriptor(struct inputs *in, struct input_file *f, int64_t now, bool any,
                            size_t *open)
{
    if (*open >= in->max_open) {
        struct input_file *victim = eviction_victim(in, now, f, any);
        if (!victim)
            return false;
        source_suspend(&victim->src);
        /* back in turn when it has more to read; else the next scan sees it change */
        victim->waiting = victim->src.tail.offset < victim->src.tail.size;
        (*open)--;
    }
    struct lme_err err;
    f->waiting = false;
    if (source_resume(&f->src, &err) != 0)
        return true; /* replaced meanwhile: the next scan meets the new file */
    (*open)++;
    f->last_growth_ms = f->opened_ms = now;
    f->flushed = false;
    return true;
}

/* Counts the files waiting for a descriptor; says in the log when files start and stop waiting. */
static void count_waiting(struct inputs *in)
{
    size_t waiting = 0;
    for (size_t i = 0; i < in->n_files; i++)
        waiting += used(&in->files[i]) && in->files[i].waiting;
    in->stats.waiting = waiting;
    char n[24], budget[24];
    if (waiting > 0 && !in->said_waiting)
        lme_log(LME_LOG_WARN, "files wait for a descriptor: read in turn", "waiting",
                u64(n, sizeof(n), waiting), "open_files_budget",
                u64(budget, sizeof(budget), in->max_open), NULL);
    else if (waiting == 0 && in->said_waiting)
        lme_log(LME_LOG_INFO, "every file has a descriptor again", NULL);
    in->said_waiting = waiting > 0;
}

/* Files waiting for a descriptor get one in turn, the longest waiting first, each by closing the
 * least recently active open file: any number of files is read within the budget. */
static void balance(struct inputs *in)
{
    int64_t now = lme_mono_ms();
    size_t moves = 0, open = open_files(in);
    struct input_file *f;
    while ((f = longest_waiting(in)) != NULL && moves++ < in->max_open)
        if (!give_descriptor(in, f, now, false, &open))
            break;
    count_waiting(in);
}

/* ---- reading ---- */

/* One read of one file: what the parser's callback needs to hand each event on. */
struct reading {
    struct input_file *f;
    origin_emit_fn emit;
    void *ctx;
    struct lme_err *err;
    struct origin from;
    bool failed; /* emit failed (err filled), as opposed to the parser itself */
};

static int on_parsed(const struct lme_event *ev, void *ctx)
{
    struct reading *r = ctx;
    r->f->records++;
    int rc = r->emit(r->ctx, ev, &r->from, r->err);
    r->failed = rc != 0;
    return rc;
}

static struct reading reading_of(struct input_file *f, origin_emit_fn emit, void *ctx,
                                 struct lme_err *err)
{
    return (struct reading){ f, emit, ctx, err, { f->file, f->input, lme_mono_ms() }, false };
}

/* A non-zero return of a source call: emit's failure (err filled), or the parser's own. */
static int read_failed(const struct reading *r, int rc)
{
    if (!r->failed)
        lme_err_set(r->err, rc, "parsing %s: out of memory", r->f->src.tail.path);
    return rc;
}

/* The file grew while its fingerprint covers fewer bytes than it may: commit keeps the new one,
 * so that a restart recognizes the file by as many first bytes as possible. */
static void refresh_fingerprint(struct inputs *in, struct input_file *f)
{
    struct tail_file *t = &f->src.tail;
    uint32_t before = t->fingerprint_len;
    if (before >= CHECKPOINT_FINGERPRINT_BYTES)
        return;
    tail_refresh_fingerprint(t);
    if (t->fingerprint_len != before)
        commit_identify(in->commit, f->file, t->path, t->fingerprint, t->fingerprint_len);
}

/* Reads up to max_chunks chunks of slot idx, stopping early when interrupted; TO_THE_END reads
 * it to its end whatever happens. *eof tells whether its end was reached. */
static int read_file(struct inputs *in, size_t idx, int max_chunks, origin_emit_fn emit, void *ctx,
                     bool *eof, struct lme_err *err)
{
    struct input_file *f = &in->files[idx];
    *eof = false;
    for (int i = 0; max_chunks == TO_THE_END || (i < max_chunks && !interrupted(in)); i++) {
        size_t got;
        struct lme_err rerr = { 0 };
        struct reading r = reading_of(f, emit, ctx, err);
        int rc = source_read(&f->src, in->chunk, READ_CHUNK, lme_wall_ms(), on_parsed, &r, &got,
                             &rerr);
        if (rc == LME_EIO && rerr.code == LME_EIO) {
            report_unreadable(in, f->src.tail.path, rerr.msg);
            *eof = true;
            return 0;
        }
        if (rc && rerr.code) {
            *err = rerr;
            return rc;
        }
        if (rc)
            return read_failed(&r, rc);
        if (got == 0) {
            *eof = true;
            return 0;
        }
        in->stats.inputs[f->input].bytes += got;
        f->last_growth_ms = lme_mono_ms();
        f->flushed = false;
        refresh_fingerprint(in, f);
    }
    return 0;
}

static void log_file_done(const struct input_file *f, const char *msg)
{
    char records[24], offset[24];
    lme_log(LME_LOG_INFO, msg, "file", f->src.tail.path, "records",
            u64(records, sizeof(records), f->records), "offset",
            u64(offset, sizeof(offset), f->src.tail.offset), NULL);
}

static int finish_file(struct inputs *in, size_t idx, const char *msg, origin_emit_fn emit,
                       void *ctx, struct lme_err *err)
{
    struct input_file *f = &in->files[idx];
    struct reading r = reading_of(f, emit, ctx, err);
    int rc = source_finish(&f->src, lme_wall_ms(), on_parsed, &r);
    f->done = true;
    log_file_done(f, msg);
    return rc ? read_failed(&r, rc) : 0;
}

/* A file shorter than what was read (copy-and-truncate): the old reading is finished and set
 * aside (its events still settle, but no longer move the checkpoint) and a new reading of the
 * same file starts at 0. */
static int restart_truncated(struct inputs *in, size_t idx, origin_emit_fn emit, void *ctx,
                             struct lme_err *err)
{
    char was[24];
    in->stats.truncations++;
    lme_log(LME_LOG_WARN, "file truncated: reading it again from its start", "file",
            in->files[idx].src.tail.path, "offset",
            u64(was, sizeof(was), in->files[idx].src.tail.offset), NULL);
    long slot = take_slot(in); /* may move the table */
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
    struct input_file *old = &in->files[idx], *f = &in->files[slot];
    *f = (struct input_file){ .input = old->input, .seen = true, .last_growth_ms = lme_mono_ms() };
    f->src.cfg = old->src.cfg;
    f->src.tail = old->src.tail; /* the new reading takes the descriptor */
    if (!(f->src.tail.path = strdup(old->src.tail.path)))
        return lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
    old->src.tail.fd = -1;
    old->superseded = true;
    commit_supersede(in->commit, old->file);
    int rc = finish_file(in, idx, "file done", emit, ctx, err);
    if (rc)
        return rc;
    f = &in->files[slot];
    f->src.tail.offset = 0;
    f->src.tail.fingerprint_len = 0; /* the new content's first bytes, once there */
    struct lme_err serr;
    if (source_start(&f->src, &serr) != 0) {
        report_unreadable(in, f->src.tail.path, serr.msg);
        f->done = true;
    }
    if (track(in, f) != 0)
        return lme_err_set(err, LME_ENOMEM, "inputs: out of memory");
    return 0;
}

/* After reading a file to its end: what happened to it, and what is due now that it is silent. */
static int check_file(struct inputs *in, size_t idx, int64_t now, origin_emit_fn emit, void *ctx,
                      struct lme_err *err)
{
    struct input_file *f = &in->files[idx];
    const struct config_input *ci = &in->cfg->inputs[f->input];
    int64_t silent = now - f->last_growth_ms;
    enum tail_change change = tail_check(&f->src.tail);
    if (change == TAIL_TRUNCATED)
        return restart_truncated(in, idx, emit, ctx, err);
    if ((change == TAIL_MOVED || change == TAIL_DELETED) && !f->rotated) {
        f->rotated = true;
        lme_log(LME_LOG_INFO,
                change == TAIL_MOVED ? "file renamed away: reading it to its end"
                                     : "file deleted: reading it to its end",
                "file", f->src.tail.path, NULL);
    }
    if (f->rotated && silent >= ci->rotate_wait_ms)
        return finish_file(in, idx, "file done", emit, ctx, err);
    if (source_holds(&f->src) && !f->flushed && silent >= ci->multiline_flush_ms) {
        f->flushed = true; /* a partial line left: it waits for its end, not for a timer */
        struct reading r = reading_of(f, emit, ctx, err);
        int rc = source_flush(&f->src, lme_wall_ms(), on_parsed, &r);
        if (rc)
            return read_failed(&r, rc);
    }
    if (!f->rotated && silent >= ci->close_inactive_ms) {
        source_suspend(&f->src);
        lme_log(LME_LOG_INFO, "file inactive: closed until it changes", "file", f->src.tail.path,
                NULL);
    }
    return 0;
}

int inputs_turn(struct inputs *in, origin_emit_fn emit, void *ctx, bool *busy,
                struct lme_err *err)
{
    *busy = false;
    balance(in);
    int64_t now = lme_mono_ms();
    for (size_t i = 0; i < in->n_files && !interrupted(in); i++) {
        if (!used(&in->files[i]) || in->files[i].src.tail.fd < 0)
            continue;
        bool eof;
        int rc = read_file(in, i, CHUNKS_PER_TURN, emit, ctx, &eof, err);
        if (!rc && eof)
            rc = check_file(in, i, now, emit, ctx, err);
        if (rc)
            return rc;
        *busy |= !eof;
    }
    return 0;
}

int inputs_backfill(struct inputs *in, origin_emit_fn emit, void *ctx, bool *done,
                    struct lme_err *err)
{
    *done = true;
    for (size_t i = 0; i < in->n_files && !interrupted(in); i++) {
        if (!used(&in->files[i]) || in->files[i].done)
            continue;
        *done = false;
        size_t open = open_files(in);
        if (in->files[i].src.tail.fd < 0 &&
            !give_descriptor(in, &in->files[i], lme_mono_ms(), true, &open))
            return lme_err_set(err, LME_EIO, "no descriptor for %s", in->files[i].src.tail.path);
        count_waiting(in);
        bool eof = false;
        int rc = read_file(in, i, CHUNKS_PER_TURN, emit, ctx, &eof, err);
        if (!rc && eof)
            rc = finish_file(in, i, "file read", emit, ctx, err);
        return rc;
    }
    return 0;
}

int inputs_release_rotated(struct inputs *in, origin_emit_fn emit, void *ctx,
                           struct lme_err *err)
{
    for (size_t i = 0; i < in->n_files; i++) {
        struct input_file *f = &in->files[i];
        if (!used(f) || f->done || f->src.tail.fd < 0 || (!f->rotated && !f->superseded))
            continue;
        /* the budget still holds unless stopping cuts its wait short: then what is left of
         * these files (normally the last moments' writes) goes over it */
        bool eof;
        int rc = read_file(in, i, TO_THE_END, emit, ctx, &eof, err);
        if (!rc)
            rc = finish_file(in, i, "file done", emit, ctx, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- waiting, progress, statistics ---- */

int inputs_due_in(const struct inputs *in, int64_t now_ms, int max_ms)
{
    int wait = max_ms;
    for (size_t i = 0; i < in->n_files; i++) {
        const struct input_file *f = &in->files[i];
        if (!used(f) || f->src.tail.fd < 0 || f->flushed || !source_holds(&f->src))
            continue;
        int64_t due = f->last_growth_ms + in->cfg->inputs[f->input].multiline_flush_ms - now_ms;
        if (due < wait)
            wait = due > 1 ? (int)due : 1;
    }
    return wait;
}

bool inputs_wait(struct inputs *in, int timeout_ms)
{
    return watch_wait(in->watch, timeout_ms) == WATCH_NAMES;
}

void inputs_backlog(const struct inputs *in, size_t *files, uint64_t *bytes)
{
    *files = 0;
    *bytes = 0;
    for (size_t i = 0; i < in->n_files; i++) {
        const struct input_file *f = &in->files[i];
        if (!used(f) || f->done)
            continue;
        const struct tail_file *t = &f->src.tail;
        (*files)++;
        *bytes += t->size > t->offset ? t->size - t->offset : 0;
    }
}

size_t inputs_lags(struct inputs *in, const struct lag **out)
{
    size_t n = 0;
    for (size_t i = 0; i < in->cfg->n_inputs; i++)
        in->stats.inputs[i].files = 0;
    struct lag *lags = realloc(in->lags, (in->n_files + 1) * sizeof(*lags));
    if (!lags)
        return 0;
    in->lags = lags;
    for (size_t i = 0; i < in->n_files; i++) {
        const struct input_file *f = &in->files[i];
        if (!used(f) || f->superseded || f->done)
            continue;
        in->stats.inputs[f->input].files++;
        const struct tail_file *t = &f->src.tail;
        uint64_t end = t->size > t->offset ? t->size : t->offset;
        uint64_t committed = commit_offset(in->commit, f->file);
        lags[n++] = (struct lag){ t->path, end > committed ? end - committed : 0 };
    }
    *out = lags;
    return n;
}

const struct inputs_stats *inputs_stats(const struct inputs *in)
{
    return &in->stats;
}

void inputs_log_files(const struct inputs *in)
{
    for (size_t i = 0; i < in->n_files; i++) {
        const struct input_file *f = &in->files[i];
        if (!used(f) || f->superseded)
            continue;
        char committed[24], read[24];
        lme_log(LME_LOG_INFO, "file settled up to", "file", f->src.tail.path, "offset",
                u64(committed, sizeof(committed), commit_offset(in->commit, f->file)), "read",
                u64(read, sizeof(read), f->src.tail.offset), NULL);
    }
    if (in->stats.truncations > 0) {
        char n[24];
        lme_log(LME_LOG_INFO, "files truncated while followed", "count",
                u64(n, sizeof(n), in->stats.truncations), NULL);
    }
}
