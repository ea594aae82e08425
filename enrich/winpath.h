/* Windows paths written inside the connector's config files (Notes.ini, Exchconn.ini), seen
 * from Linux: tell absolute from relative, join, map to a local path through a configured
 * prefix table, and find the file on a share or copy whose names may differ in case.
 * Pure string functions except winpath_resolve, which reads directories. No global state:
 * every function may run from any thread. */
#ifndef LME_WINPATH_H
#define LME_WINPATH_H

#include <stddef.h>

#include "err.h"

/* One prefix mapping, e.g. { "C:\\", "/mnt/exch01/c/" } or { "\\\\exch01\\exchsrvr", "/srv/exchsrvr" }.
 * Both strings are borrowed for the call they are passed to. */
struct winpath_map {
    const char *windows;
    const char *local;
};

/* 1 for "C:\\x", "c:/x", "\\\\server\\share\\x" (either slash); 0 otherwise: relative
 * ("notes.ini"), rooted on the current drive ("\\x"), or drive-relative ("c:x"). */
int winpath_is_absolute(const char *win);

/* Joins rel to the Windows directory dir into out, with one '\\' between them; both parts have
 * every separator written as '\\' and doubled separators collapsed (a UNC path keeps its two
 * leading ones): "d:\\notes\\data" + "connector.id" -> "d:\\notes\\data\\connector.id".
 * An absolute rel is copied as is. A rel rooted without a drive ("\\ids\\c.id") lands on dir's
 * drive or share ("d:\\ids\\c.id"), as Windows resolves it when the process's current drive is
 * dir's; a drive-relative rel ("d:c.id") joins dir when the drive is dir's, otherwise that
 * drive's root ("e:c.id" -> "e:\\c.id"). An empty dir yields rel.
 * Returns 0, or LME_ERANGE when out (size bytes) is too small (out is then ""). */
int winpath_join(const char *dir, const char *rel, char *out, size_t size);

/* Maps win to a local path through the entry of map whose windows prefix covers the longest
 * part of win (the first such entry on a tie; entries with an empty prefix are skipped).
 * Prefixes are compared case-insensitively (ASCII letters), '\\' and '/' alike and runs of
 * separators as one; a prefix covers win only at a separator boundary ("C:\\no" does not cover
 * "C:\\notes\\x") or when it ends with a separator. The rest of win follows the entry's local
 * path with '/' between components (doubled separators and "." components dropped).
 * Returns 0 and out; LME_ENOENT when no entry covers win; LME_EINVAL when the rest has a ".."
 * component (a config file must not lead a probe outside the mapped tree); LME_ERANGE when out
 * (size bytes) is too small. On error out is "" and err names win (never the map). */
int winpath_map(const struct winpath_map *map, size_t n, const char *win, char *out, size_t size,
                struct lme_err *err);

/* The entry of map whose local folder holds local (the longest such folder; the first on a
 * tie), compared byte for byte at a '/' boundary ("/mnt/c" holds "/mnt/c/x" and "/mnt/c", not
 * "/mnt/cd"), trailing '/' of the folder ignored. NULL when none does. */
const struct winpath_map *winpath_entry_of(const struct winpath_map *map, size_t n, const char *local);

/* The reverse of winpath_map: the Windows path the connector knows local by, through the entry
 * winpath_entry_of finds: its Windows prefix, then the rest of local with '\\' for '/'
 * ("/mnt/exch01/d/notes/data/connector.id" -> "D:\\notes\\data\\connector.id"). Doubled
 * separators collapse; names keep their case. Returns 0; LME_ENOENT when no entry holds local;
 * LME_ERANGE when out (size bytes) is too small. On error out is "". */
int winpath_unmap(const struct winpath_map *map, size_t n, const char *local, char *out, size_t size);

/* Finds the file at local, which must lie under root (the local side of a map entry, taken as
 * it is). Each component below root is first looked up exactly, then, when that name does not
 * exist, compared case-insensitively (ASCII letters) with the directory's entries: Windows
 * names ignore case, the share or copy keeps whatever case it had. When several entries match,
 * the smallest in byte order wins (readdir order is arbitrary). "." components and doubled
 * '/' are dropped. A symlink component is followed only when its text, read from its folder,
 * stays under realpath(root) (judged without looking where it leads: an absolute text through
 * another path to the same folder is refused too) and its target (realpath) does as well.
 * Returns 0 with out holding the path as it exists (the real case of each name; symlinks not
 * expanded), or with err naming the path and the component:
 *   LME_ENOENT  root or some component does not exist (out then holds local as given);
 *   LME_EINVAL  local is not under root, has a ".." component, or a symlink leads out of root
 *               (or loops);
 *   LME_EIO     a directory cannot be listed (permission);
 *   LME_ERANGE  out (size bytes) is shorter than local;
 *   LME_ENOMEM.
 * On errors other than LME_ENOENT out is "".
 * The answer can go stale as soon as it is returned: the caller opens the file and checks it. */
int winpath_resolve(const char *root, const char *local, char *out, size_t size, struct lme_err *err);

#endif
