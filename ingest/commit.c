/* The commit of acknowledgements to checkpoints: see commit.h. A token is the file's name in its
 * upper bits and the record's sequence number in the file's queue in the lower ones; names are
 * reused only once every record of the previous file is committed, and sequence numbers go on
 * from where the previous file's stopped, so a stray late settlement can never hit a new file. */
#include "commit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acks.h"
#include "clock.h"

#define SEQ_BITS 40
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)

struct tracked {
    bool used, superseded;
    struct checkpoint id; /* path owned; offset: committed */
    struct acks acks;
    uint64_t added;        /* end of the last record handed to the sinks */
    uint64_t replay_until; /* resumed from a checkpoint: records ending up to here were handed
                              to the sinks before the restart */
};

struct commit {
    char *state_dir;
    int interval_ms;
    struct checkpoints saved;  /* as loaded, updated by each save */
    struct tracked *files;
    size_t n_files;
    bool dirty;                /* something changed since the last save */
    int64_t last_save_ms;      /* monotonic */
    bool first_start;
    struct lme_err bad;        /* why the checkpoints file could not be read, or code 0 */
    struct commit_stats stats;
    int64_t now_ms;            /* while advancing */
};

struct commit *commit_create(const char *state_dir, int interval_ms, struct lme_err *err)
{
    struct commit *c = calloc(1, sizeof(*c));
    if (!c || !(c->state_dir = strdup(state_dir))) {
        free(c);
        lme_err_set(err, LME_ENOMEM, "checkpoints: out of memory");
        return NULL;
    }
    c->interval_ms = interval_ms;
    c->last_save_ms = lme_mono_ms(); /* the first save comes interval_ms after the start */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/checkpoints.json", state_dir);
    c->first_start = access(path, F_OK) != 0;
    checkpoints_load(state_dir, &c->saved, &c->bad);
    return c;
}

void commit_destroy(struct commit *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].id.path);
        acks_free(&c->files[i].acks);
    }
    free(c->files);
    checkpoints_free(&c->saved);
    free(c->state_dir);
    free(c);
}

bool commit_first_start(const struct commit *c)
{
    return c->first_start;
}

bool commit_bad_checkpoints(const struct commit *c, struct lme_err *why)
{
    if (why)
        *why = c->bad;
    return c->bad.code != 0;
}

const struct checkpoint *commit_find(const struct commit *c, uint64_t dev, uint64_t ino)
{
    return checkpoints_find((struct checkpoints *)&c->saved, dev, ino);
}

/* A free name, reusing an untracked one first; or -1 when memory runs out. */
static long free_name(struct commit *c)
{
    for (size_t i = 0; i < c->n_files; i++)
        if (!c->files[i].used)
            return (long)i;
    if (c->n_files > (SIZE_MAX >> SEQ_BITS) - 1)
        return -1;
    struct tracked *v = realloc(c->files, (c->n_files + 1) * sizeof(*v));
    if (!v)
        return -1;
    c->files = v;
    memset(&v[c->n_files], 0, sizeof(*v));
    acks_init(&v[c->n_files].acks);
    return (long)c->n_files++;
}

int commit_track(struct commit *c, const struct checkpoint *id, uint32_t *file)
{
    long i = free_name(c);
    char *path = i >= 0 ? strdup(id->path) : NULL;
    if (!path)
        return LME_ENOMEM;
    struct tracked *t = &c->files[i];
    t->used = true;
    t->superseded = false;
    t->id = *id;
    t->id.path = path;
    t->added = id->offset;
    /* the same reading of the same file as the saved entry, resumed where it committed */
    const struct checkpoint *was = checkpoints_find(&c->saved, id->dev, id->ino);
    t->replay_until = was && was->fingerprint == id->fingerprint &&
                              was->fingerprint_len == id->fingerprint_len && was->offset == id->offset
                          ? was->added : 0;
    *file = (uint32_t)i;
    c->dirty = true;
    return 0;
}

int commit_identify(struct commit *c, uint32_t file, const char *path, uint64_t fingerprint,
                    uint32_t fingerprint_len)
{
    struct tracked *t = &c->files[file];
    if (strcmp(path, t->id.path) != 0) {
        char *copy = strdup(path);
        if (!copy)
            return LME_ENOMEM;
        free(t->id.path);
        t->id.path = copy;
    }
    t->id.fingerprint = fingerprint;
    t->id.fingerprint_len = fingerprint_len;
    c->dirty = true;
    return 0;
}

void commit_supersede(struct commit *c, uint32_t file)
{
    c->files[file].superseded = true;
}

void commit_untrack(struct commit *c, uint32_t file)
{
    struct tracked *t = &c->files[file];
    /* its last offset goes on being saved until the file is gone: a copy, since t is reused */
    t->id.added = t->id.offset; /* nothing of it is in flight */
    if (!t->superseded && checkpoints_set(&c->saved, &t->id) == 0)
        c->dirty = true;
    free(t->id.path);
    t->id.path = NULL;
    acks_free(&t->acks);
    t->used = false;
}

uint64_t commit_pending(const struct commit *c, uint32_t file)
{
    return acks_pending(&c->files[file].acks);
}

uint64_t commit_offset(const struct commit *c, uint32_t file)
{
    return c->files[file].id.offset;
}

int commit_add(struct commit *c, uint32_t file, uint64_t end_offset, int64_t read_ms,
               uint64_t *token)
{
    uint64_t seq;
    struct tracked *t = &c->files[file];
    if (acks_add(&t->acks, end_offset, read_ms, &seq) != 0)
        return LME_ENOMEM;
    if (end_offset > t->added)
        t->added = end_offset;
    *token = ((uint64_t)file << SEQ_BITS) | (seq & SEQ_MASK);
    return 0;
}

/* The queue and full sequence number a token names, or NULL. */
static struct acks *token_queue(struct commit *c, uint64_t token, uint64_t *seq)
{
    uint64_t file = token >> SEQ_BITS;
    if (file >= c->n_files || !c->files[file].used)
        return NULL;
    struct acks *a = &c->files[file].acks;
    /* the low bits of a sequence number near the head: the head's high bits, or one more */
    uint64_t s = (a->head_seq & ~SEQ_MASK) | (token & SEQ_MASK);
    if (s < a->head_seq)
        s += UINT64_C(1) << SEQ_BITS;
    *seq = s;
    return a;
}

void commit_expect(struct commit *c, uint64_t token, int n)
{
    uint64_t seq;
    struct acks *a = token_queue(c, token, &seq);
    if (a)
        acks_expect(a, seq, n);
}

void commit_settle(void *ctx, uint64_t token)
{
    uint64_t seq;
    struct acks *a = token_queue(ctx, token, &seq);
    if (a)
        acks_settle(a, seq);
}

struct advancing {
    struct commit *c;
    struct tracked *t;
};

static void on_committed(void *ctx, uint64_t end_offset, int64_t added_ms)
{
    struct advancing *adv = ctx;
    adv->t->id.offset = end_offset;
    metrics_histogram_observe(&adv->c->stats.latency, (double)(adv->c->now_ms - added_ms) / 1000.0);
}

bool commit_advance(struct commit *c, int64_t now_ms)
{
    bool moved = false;
    c->now_ms = now_ms;
    for (size_t i = 0; i < c->n_files; i++) {
        struct tracked *t = &c->files[i];
        if (!t->used || acks_pending(&t->acks) == 0)
            continue;
        uint64_t before = t->id.offset;
        struct advancing adv = { c, t };
        acks_advance(&t->acks, on_committed, &adv);
        moved |= t->id.offset != before && !t->superseded;
    }
    c->dirty |= moved;
    return moved;
}

int commit_save_due_in(const struct commit *c, int64_t now_ms)
{
    if (!c->dirty)
        return INT32_MAX;
    int64_t due = c->last_save_ms + c->interval_ms - now_ms;
    return due <= 0 ? 0 : (int)due;
}

/* Whether a tracked file (not superseded) is this entry's file. */
static bool followed(const struct commit *c, const struct checkpoint *cp)
{
    for (size_t i = 0; i < c->n_files; i++) {
        const struct tracked *t = &c->files[i];
        if (t->used && !t->superseded && t->id.dev == cp->dev && t->id.ino == cp->ino)
            return true;
    }
    return false;
}

/* Drops the entries of files nobody follows whose path no longer names them: deleted, or
 * renamed away from where they were last seen. */
static void prune(struct commit *c)
{
    for (size_t i = c->saved.n; i-- > 0;) {
        const struct checkpoint *cp = &c->saved.v[i];
        struct stat st;
        if (!followed(c, cp) && (stat(cp->path, &st) != 0 || (uint64_t)st.st_dev != cp->dev ||
                                 (uint64_t)st.st_ino != cp->ino))
            checkpoints_remove(&c->saved, i);
    }
}

bool commit_replayed(const struct commit *c, uint32_t file, uint64_t end_offset)
{
    return end_offset <= c->files[file].replay_until;
}

bool commit_position_settled(const struct commit *c, uint64_t dev, uint64_t ino,
                             uint64_t end_offset)
{
    for (size_t i = 0; i < c->n_files; i++) {
        const struct tracked *t = &c->files[i];
        if (t->used && !t->superseded && t->id.dev == dev && t->id.ino == ino)
            return t->id.offset >= end_offset;
    }
    for (size_t i = 0; i < c->saved.n; i++)
        if (c->saved.v[i].dev == dev && c->saved.v[i].ino == ino)
            return c->saved.v[i].offset >= end_offset;
    return true;
}

const char *commit_state(const struct commit *c)
{
    return c->saved.state;
}

int commit_set_state(struct commit *c, const char *state)
{
    char *copy = state ? strdup(state) : NULL;
    if (state && !copy)
        return LME_ENOMEM;
    free(c->saved.state);
    c->saved.state = copy;
    return 0;
}

void commit_touch(struct commit *c)
{
    c->dirty = true;
}

int commit_save(struct commit *c, struct lme_err *err)
{
    for (size_t i = 0; i < c->n_files; i++) {
        struct tracked *t = &c->files[i];
        t->id.added = t->added > t->id.offset ? t->added : t->id.offset;
        if (t->used && !t->superseded && checkpoints_set(&c->saved, &t->id) != 0)
            return lme_err_set(err, LME_ENOMEM, "checkpoints: out of memory");
    }
    prune(c);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = checkpoints_save(c->state_dir, &c->saved, err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    c->stats.last_save_us = (b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000;
    c->last_save_ms = lme_mono_ms();
    c->stats.saves_ok += rc == 0;
    c->stats.saves_failed += rc != 0;
    if (rc == 0)
        c->dirty = false;
    return rc;
}

const struct commit_stats *commit_stats(const struct commit *c)
{
    return &c->stats;
}
