/* Windows paths seen from Linux: see winpath.h. The string functions write through a small
 * bounded writer that keeps counting past the end, so a too-small buffer is one check at the
 * end. winpath_resolve walks local one component at a time below root, trying the exact name
 * first and a case-insensitive directory scan second, and checks every symlink it meets. */
#include "winpath.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_sep(char c)
{
    return c == '\\' || c == '/';
}

static int lower(char c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : (unsigned char)c;
}

static int has_drive(const char *p)
{
    return ((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')) && p[1] == ':';
}

static size_t sep_run(const char *s)
{
    size_t n = 0;
    while (is_sep(s[n]))
        n++;
    return n;
}

int winpath_is_absolute(const char *win)
{
    if (has_drive(win))
        return is_sep(win[2]);
    return is_sep(win[0]) && is_sep(win[1]) && win[2] != '\0' && !is_sep(win[2]);
}

/* ---- bounded writer ---- */

struct writer {
    char *out;
    size_t size, len; /* len may pass size: the overflow is reported by writer_end */
    char prev;        /* the last character put, written or not */
};

static void put(struct writer *w, char c)
{
    if (w->len + 1 < w->size)
        w->out[w->len] = c;
    w->len++;
    w->prev = c;
}

/* Writes sep unless the last character already is one. */
static void put_sep(struct writer *w, char sep)
{
    if (w->len == 0 || w->prev != sep)
        put(w, sep);
}

static int writer_end(struct writer *w)
{
    if (w->len < w->size) {
        w->out[w->len] = '\0';
        return 0;
    }
    if (w->size > 0)
        w->out[0] = '\0';
    return LME_ERANGE;
}

/* Writes n bytes of a Windows path with every run of separators as one '\\'; a leading run of
 * two or more (a UNC path) is kept as two, when nothing was written before it. */
static void put_win(struct writer *w, const char *s, size_t n)
{
    size_t i = 0;
    if (w->len == 0 && n >= 2 && is_sep(s[0]) && is_sep(s[1])) {
        put(w, '\\');
        put(w, '\\');
        i = sep_run(s);
    }
    for (; i < n; i++) {
        if (is_sep(s[i]))
            put_sep(w, '\\');
        else
            put(w, s[i]);
    }
}

/* ---- join ---- */

/* Length of dir's root: "d:" of "d:\\x", "\\\\srv\\share" of "\\\\srv\\share\\x", else 0. */
static size_t root_len(const char *dir)
{
    if (has_drive(dir))
        return 2;
    size_t lead = sep_run(dir);
    if (lead < 2)
        return 0;
    size_t i = lead;
    for (int part = 0; part < 2; part++) { /* server, then share */
        while (dir[i] && !is_sep(dir[i]))
            i++;
        if (part == 0 && dir[i])
            i += sep_run(dir + i);
    }
    return i;
}

int winpath_join(const char *dir, const char *rel, char *out, size_t size)
{
    struct writer w = { out, size, 0, '\0' };
    if (winpath_is_absolute(rel)) {
        for (const char *p = rel; *p; p++)
            put(&w, *p);
        return writer_end(&w);
    }
    if (has_drive(rel) && (!has_drive(dir) || lower(rel[0]) != lower(dir[0]))) {
        put(&w, rel[0]); /* another drive: its current folder is unknown, its root is the guess */
        put(&w, ':');
        put(&w, '\\');
        put_win(&w, rel + 2, strlen(rel + 2));
        return writer_end(&w);
    }
    const char *r = has_drive(rel) ? rel + 2 : rel;
    put_win(&w, dir, is_sep(r[0]) ? root_len(dir) : strlen(dir));
    if (w.len > 0 && r[0] != '\0')
        put_sep(&w, '\\');
    put_win(&w, r, strlen(r));
    return writer_end(&w);
}

/* ---- map ---- */

/* How many bytes of win the prefix covers, or 0 when it does not cover win. */
static size_t prefix_match(const char *prefix, const char *win)
{
    size_t i = sep_run(prefix), j = sep_run(win);
    if ((i == 0) != (j == 0) || (i >= 2) != (j >= 2)) /* relative, rooted and UNC differ */
        return 0;
    while (prefix[i]) {
        if (is_sep(prefix[i])) {
            if (!is_sep(win[j]))
                return 0;
            i += sep_run(prefix + i);
            j += sep_run(win + j);
            continue;
        }
        if (lower(prefix[i]) != lower(win[j]))
            return 0;
        i++;
        j++;
    }
    if (i == 0)
        return 0;
    return is_sep(prefix[i - 1]) || win[j] == '\0' || is_sep(win[j]) ? j : 0;
}

static const struct winpath_map *best_entry(const struct winpath_map *map, size_t n, const char *win,
                                            size_t *covered)
{
    const struct winpath_map *best = NULL;
    *covered = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = map[i].windows && map[i].local ? prefix_match(map[i].windows, win) : 0;
        if (c > *covered) {
            best = &map[i];
            *covered = c;
        }
    }
    return best;
}

/* Appends the components of a Windows path rest to w as "/a/b"; refuses "..". */
static int put_rest(struct writer *w, const char *rest)
{
    const char *p = rest;
    while (*p) {
        p += sep_run(p);
        size_t n = 0;
        while (p[n] && !is_sep(p[n]))
            n++;
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return LME_EINVAL;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            put_sep(w, '/');
            for (size_t k = 0; k < n; k++)
                put(w, p[k]);
        }
        p += n;
    }
    return 0;
}

int winpath_map(const struct winpath_map *map, size_t n, const char *win, char *out, size_t size,
                struct lme_err *err)
{
    if (size > 0)
        out[0] = '\0';
    size_t covered;
    const struct winpath_map *e = best_entry(map, n, win, &covered);
    if (!e)
        return lme_err_set(err, LME_ENOENT,
                           "no path map entry covers the Windows path '%s': add one for its drive or share",
                           win);
    struct writer w = { out, size, 0, '\0' };
    for (const char *p = e->local; *p; p++)
        put(&w, *p);
    if (put_rest(&w, win + covered) != 0) {
        if (size > 0)
            out[0] = '\0';
        return lme_err_set(err, LME_EINVAL,
                           "the Windows path '%s' has a '..' component: refused, it could lead "
                           "outside the mapped tree",
                           win);
    }
    if (writer_end(&w) != 0)
        return lme_err_set(err, LME_ERANGE,
                           "the Windows path '%s' maps to a local path longer than %zu bytes", win,
                           size > 0 ? size - 1 : 0);
    return 0;
}

/* ---- local to Windows ---- */

static int is_under(const char *path, const char *dir, size_t dlen)
{
    if (dlen == 0 || strncmp(path, dir, dlen) != 0)
        return 0;
    return dir[dlen - 1] == '/' || path[dlen] == '\0' || path[dlen] == '/';
}

/* dir's length without its trailing '/' ("/" itself stays). */
static size_t folder_len(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return n;
}

const struct winpath_map *winpath_entry_of(const struct winpath_map *map, size_t n, const char *local)
{
    const struct winpath_map *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (!map[i].windows || !map[i].windows[0] || !map[i].local)
            continue;
        size_t len = folder_len(map[i].local);
        if (len > best_len && is_under(local, map[i].local, len)) {
            best = &map[i];
            best_len = len;
        }
    }
    return best;
}

int winpath_unmap(const struct winpath_map *map, size_t n, const char *local, char *out, size_t size)
{
    if (size > 0)
        out[0] = '\0';
    const struct winpath_map *e = winpath_entry_of(map, n, local);
    if (!e)
        return LME_ENOENT;
    struct writer w = { out, size, 0, '\0' };
    put_win(&w, e->windows, strlen(e->windows));
    const char *rest = local + folder_len(e->local);
    rest += sep_run(rest);
    if (rest[0] != '\0') {
        if (w.len > 0)
            put_sep(&w, '\\');
        put_win(&w, rest, strlen(rest));
    }
    return writer_end(&w);
}

/* ---- resolve ---- */

static int names_equal(const char *a, const char *b)
{
    for (; *a && lower(*a) == lower(*b); a++, b++)
        ;
    return *a == '\0' && *b == '\0';
}

/* Replaces the last component of path (starting at base) with the entry of its directory that
 * equals it ignoring case. Returns 0, LME_ENOENT, LME_EIO. */
static int find_case(char *path, size_t base, struct lme_err *err)
{
    char name[NAME_MAX + 1], best[NAME_MAX + 1] = "";
    if (strlen(path + base) > NAME_MAX)
        return lme_err_set(err, LME_ENOENT, "%s: no such file (name too long)", path);
    strcpy(name, path + base);
    path[base] = '\0'; /* path is now the directory, ending with '/' */
    DIR *d = opendir(path);
    int e = errno;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;)
        if (names_equal(de->d_name, name) && (best[0] == '\0' || strcmp(de->d_name, best) < 0))
            strcpy(best, de->d_name); /* same length as name */
    if (d)
        closedir(d);
    if (!d && (e == EACCES || e == EPERM)) {
        strcpy(path + base, name);
        return lme_err_set(err, LME_EIO, "%s: cannot list its directory to match '%s' ignoring case: %s",
                           path, name, strerror(e));
    }
    if (best[0] == '\0')
        return lme_err_set(err, LME_ENOENT, "%s: no entry named '%s', even ignoring case", path, name);
    strcpy(path + base, best);
    return 0;
}

/* Drops "." components and applies ".." to what precedes, in place ("/a/b/../c" -> "/a/c"). */
static void normalize(char *path)
{
    size_t out = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (out > 0 && path[--out] != '/')
                ;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            path[out++] = '/';
            memmove(path + out, p, n);
            out += n;
        }
        p += n;
    }
    path[out > 0 ? out : 1] = '\0';
    if (out == 0)
        path[0] = '/';
}

/* Whether the text of the symlink at path, read as a path from its directory (inside real_root
 * already), leaves real_root: judged without looking where it leads. */
static int link_text_leaves(const char *path, const char *real_root)
{
    char text[PATH_MAX], where[2 * PATH_MAX + 2];
    ssize_t n = readlink(path, text, sizeof(text) - 1);
    if (n < 0)
        return 0;
    text[n] = '\0';
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    char *real_dir = text[0] == '/' ? NULL : realpath(dir[0] ? dir : "/", NULL);
    if (text[0] != '/' && !real_dir)
        return 1; /* cannot tell: refuse */
    snprintf(where, sizeof(where), "%s/%s", real_dir ? real_dir : "", text);
    free(real_dir);
    normalize(where);
    return !is_under(where, real_root, strlen(real_root));
}

/* Refuses a symlink whose target leaves real_root. Its text is judged first, so that a link
 * written to lead out is refused without anything outside being looked at; realpath then
 * catches what the text hides (a link inside that leads to another leading out). */
static int check_link(const char *path, const char *real_root, struct lme_err *err)
{
    if (link_text_leaves(path, real_root))
        return lme_err_set(err, LME_EINVAL, "%s: a symlink leading outside %s: refused", path, real_root);
    char *target = realpath(path, NULL);
    int e = errno;
    if (!target && e == ENOMEM)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", path);
    if (!target && (e == ENOENT || e == ENOTDIR))
        return lme_err_set(err, LME_ENOENT, "%s: a symlink to a missing file", path);
    if (!target)
        return lme_err_set(err, e == ELOOP ? LME_EINVAL : LME_EIO, "%s: cannot follow the symlink: %s",
                           path, strerror(e));
    int inside = is_under(target, real_root, strlen(real_root));
    free(target);
    if (!inside)
        return lme_err_set(err, LME_EINVAL, "%s: a symlink leading outside %s: refused", path, real_root);
    return 0;
}

/* Appends one component (n bytes at name) to path (length *len) and finds it. */
static int resolve_component(char *path, size_t *len, size_t size, const char *name, size_t n,
                             const char *real_root, struct lme_err *err)
{
    if (n == 2 && name[0] == '.' && name[1] == '.')
        return lme_err_set(err, LME_EINVAL, "%s: a '..' component under it: refused", path);
    if (n == 1 && name[0] == '.')
        return 0;
    size_t base = *len + (path[*len - 1] != '/');
    if (base + n >= size) /* cannot happen: out is at least as long as local */
        return lme_err_set(err, LME_ERANGE, "%s: path too long", path);
    path[*len] = '/';
    memcpy(path + base, name, n);
    path[base + n] = '\0';
    *len = base + n;
    struct stat st;
    if (lstat(path, &st) != 0) {
        int e = errno;
        if (e == ENOTDIR)
            return lme_err_set(err, LME_ENOENT, "%s: a component above it is not a directory", path);
        if (e != ENOENT)
            return lme_err_set(err, LME_EIO, "%s: cannot look it up: %s", path, strerror(e));
        int rc = find_case(path, base, err);
        if (rc)
            return rc;
        if (lstat(path, &st) != 0)
            return lme_err_set(err, LME_ENOENT, "%s: vanished while being looked up", path);
    }
    return S_ISLNK(st.st_mode) ? check_link(path, real_root, err) : 0;
}

static int walk(const char *rest, const char *real_root, char *out, size_t len, size_t size,
                struct lme_err *err)
{
    const char *p = rest;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n > 0) {
            int rc = resolve_component(out, &len, size, p, n, real_root, err);
            if (rc)
                return rc;
        }
        p += n;
    }
    return 0;
}

int winpath_resolve(const char *root, const char *local, char *out, size_t size, struct lme_err *err)
{
    size_t llen = strlen(local), rlen = strlen(root);
    if (llen >= size) {
        if (size > 0)
            out[0] = '\0';
        return lme_err_set(err, LME_ERANGE, "%s: longer than the %zu bytes allowed", local,
                           size > 0 ? size - 1 : 0);
    }
    while (rlen > 1 && root[rlen - 1] == '/')
        rlen--;
    if (!is_under(local, root, rlen)) {
        out[0] = '\0';
        return lme_err_set(err, LME_EINVAL, "%s: not under the mapped directory %s", local, root);
    }
    char *real_root = realpath(root, NULL);
    if (!real_root) {
        int e = errno;
        memcpy(out, local, llen + 1);
        if (e == ENOMEM)
            return lme_err_set(err, LME_ENOMEM, "%s: out of memory", root);
        return lme_err_set(err, e == ENOENT || e == ENOTDIR ? LME_ENOENT : LME_EIO,
                           "%s: the mapped directory is not there: %s", root, strerror(e));
    }
    memcpy(out, local, rlen);
    out[rlen] = '\0';
    int rc = walk(local + rlen, real_root, out, rlen, size, err);
    free(real_root);
    if (rc == LME_ENOENT)
        memcpy(out, local, llen + 1);
    else if (rc)
        out[0] = '\0';
    return rc;
}
