/* Checkpoints: see checkpoint.h. JSON through jansson (small, off the hot path). */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "io.h"

#define FILE_NAME "checkpoints.json"
#define FORMAT_VERSION 1

void checkpoints_free(struct checkpoints *cps)
{
    if (!cps)
        return;
    for (size_t i = 0; i < cps->n; i++)
        free(cps->v[i].path);
    free(cps->v);
    cps->v = NULL;
    cps->n = cps->cap = 0;
    free(cps->state);
    cps->state = NULL;
}

struct checkpoint *checkpoints_find(struct checkpoints *cps, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < cps->n; i++)
        if (cps->v[i].dev == dev && cps->v[i].ino == ino)
            return &cps->v[i];
    return NULL;
}

void checkpoints_remove(struct checkpoints *cps, size_t i)
{
    free(cps->v[i].path);
    cps->v[i] = cps->v[--cps->n];
}

int checkpoints_set(struct checkpoints *cps, const struct checkpoint *cp)
{
    char *path = strdup(cp->path ? cp->path : "");
    if (!path)
        return LME_ENOMEM;
    struct checkpoint *old = checkpoints_find(cps, cp->dev, cp->ino);
    if (old) {
        free(old->path);
        *old = *cp;
        old->path = path;
        return 0;
    }
    if (cps->n == cps->cap) {
        size_t cap = cps->cap ? 2 * cps->cap : 16;
        struct checkpoint *v = realloc(cps->v, cap * sizeof(*v));
        if (!v) {
            free(path);
            return LME_ENOMEM;
        }
        cps->v = v;
        cps->cap = cap;
    }
    cps->v[cps->n] = *cp;
    cps->v[cps->n++].path = path;
    return 0;
}

int checkpoint_fingerprint(int fd, uint32_t len, uint64_t *fingerprint, uint32_t *got)
{
    char buf[CHECKPOINT_FINGERPRINT_BYTES];
    if (len > sizeof(buf))
        len = sizeof(buf);
    ssize_t n = pread(fd, buf, len, 0);
    if (n < 0)
        return LME_EIO;
    *fingerprint = lme_hash64(buf, (size_t)n, 0x6c6d652d66707269ULL);
    *got = (uint32_t)n;
    return 0;
}

/* ---- reading ---- */

static int get_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    /* 64-bit identities and fingerprints are stored as decimal strings: JSON numbers are not */
    if (!json_is_string(v))
        return -1;
    char *end;
    errno = 0;
    *out = strtoull(json_string_value(v), &end, 10);
    return errno || *end || end == json_string_value(v) ? -1 : 0;
}

static int read_entry(json_t *e, struct checkpoints *cps)
{
    struct checkpoint cp = { 0 };
    uint64_t fp_len;
    json_t *path = json_object_get(e, "path");
    if (!json_is_object(e) || !json_is_string(path) || get_u64(e, "dev", &cp.dev) ||
        get_u64(e, "ino", &cp.ino) || get_u64(e, "fingerprint", &cp.fingerprint) ||
        get_u64(e, "fingerprint_len", &fp_len) || fp_len > CHECKPOINT_FINGERPRINT_BYTES ||
        get_u64(e, "offset", &cp.offset))
        return LME_EINVAL;
    if (get_u64(e, "added", &cp.added) || cp.added < cp.offset)
        cp.added = cp.offset; /* written before the field existed, or nothing was in flight */
    cp.fingerprint_len = (uint32_t)fp_len;
    cp.path = (char *)json_string_value(path);
    return checkpoints_set(cps, &cp);
}

int checkpoints_load(const char *state_dir, struct checkpoints *cps, struct lme_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" FILE_NAME, state_dir);
    checkpoints_free(cps);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return lme_err_set(err, LME_EINVAL, "%s: unreadable checkpoints: %s", path, jerr.text);
    json_t *files = json_object_get(root, "files");
    int rc = json_is_array(files) && json_integer_value(json_object_get(root, "version")) == FORMAT_VERSION
                 ? 0 : LME_EINVAL;
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e) {
        if (rc)
            break;
        rc = read_entry(e, cps);
    }
    json_t *state = json_object_get(root, "state");
    if (!rc && state && !(cps->state = json_dumps(state, JSON_COMPACT)))
        rc = LME_ENOMEM;
    json_decref(root);
    if (rc) {
        checkpoints_free(cps);
        return lme_err_set(err, rc, "%s: unreadable checkpoints: %s", path,
                           rc == LME_ENOMEM ? "out of memory" : "unexpected content");
    }
    return 0;
}

/* ---- writing ---- */

static json_t *to_json(const struct checkpoints *cps)
{
    json_t *files = json_array();
    for (size_t i = 0; files && i < cps->n; i++) {
        const struct checkpoint *c = &cps->v[i];
        char dev[24], ino[24], fp[24];
        snprintf(dev, sizeof(dev), "%llu", (unsigned long long)c->dev);
        snprintf(ino, sizeof(ino), "%llu", (unsigned long long)c->ino);
        snprintf(fp, sizeof(fp), "%llu", (unsigned long long)c->fingerprint);
        json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "path", c->path, "dev", dev, "ino",
                              ino, "fingerprint", fp, "fingerprint_len", (json_int_t)c->fingerprint_len,
                              "offset", (json_int_t)c->offset);
        if (e && c->added > c->offset &&
            json_object_set_new(e, "added", json_integer((json_int_t)c->added)) != 0) {
            json_decref(e);
            e = NULL;
        }
        if (!e || json_array_append_new(files, e) != 0) {
            json_decref(files);
            return NULL;
        }
    }
    return files ? json_pack("{s:i, s:o}", "version", FORMAT_VERSION, "files", files) : NULL;
}

/* The file's text: the entries, and the state as it was given (JSON already: not parsed again). */
static char *to_text(const struct checkpoints *cps)
{
    json_t *root = to_json(cps);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text || !cps->state)
        return text;
    size_t len = strlen(text), state_len = strlen(cps->state);
    char *whole = realloc(text, len + state_len + sizeof(",\"state\":"));
    if (!whole) {
        free(text);
        return NULL;
    }
    snprintf(whole + len - 1, state_len + sizeof(",\"state\":}"), ",\"state\":%s}", cps->state);
    return whole;
}

static int write_all_sync(int fd, const char *p, size_t n)
{
    int rc = lme_write_all(fd, p, n);
    if (rc) {
        errno = -rc;
        return -1;
    }
    return fsync(fd);
}

int checkpoints_save(const char *state_dir, const struct checkpoints *cps, struct lme_err *err)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/" FILE_NAME, state_dir);
    snprintf(tmp, sizeof(tmp), "%s/." FILE_NAME ".tmp", state_dir);
    char *text = to_text(cps);
    if (!text)
        return lme_err_set(err, LME_ENOMEM, "checkpoints: out of memory");

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = fd < 0 || write_all_sync(fd, text, strlen(text)) != 0;
    int saved_errno = errno;
    if (fd >= 0 && close(fd) != 0 && !rc) {
        rc = 1;
        saved_errno = errno;
    }
    free(text);
    if (!rc && rename(tmp, path) != 0) {
        rc = 1;
        saved_errno = errno;
    }
    if (rc) {
        unlink(tmp);
        return lme_err_set(err, LME_EIO, "cannot write %s: %s (the previous checkpoints stay)",
                           path, strerror(saved_errno));
    }
    /* the rename itself is durable only once the directory is */
    int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
