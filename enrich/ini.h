/* Windows INI files (Notes.ini, Exchconn.ini) read leniently, the way the connector's own
 * profile API would: any line end, an optional UTF-8 BOM, case-insensitive names, comments.
 * The whole text is kept in one owned copy; section names, keys and values point into it.
 * A loaded object is read-only: lookups may run from several threads at once. */
#ifndef LME_INI_H
#define LME_INI_H

#include <stddef.h>

#include "err.h"

struct ini; /* opaque */

/* Reads path (a regular file of at most max_bytes) and parses it as ini_parse does. The file
 * is opened with O_NONBLOCK (a FIFO cannot hang us), O_NOCTTY and O_CLOEXEC, then checked with
 * fstat; symlinks are followed as open(2) does: keeping a path inside a tree is the caller's
 * job (winpath_resolve).
 * Returns 0 and *out (owned by the caller, freed with ini_free), or with err naming the path:
 *   LME_ENOENT  the path or one of its directories does not exist;
 *   LME_EINVAL  not a regular file (a directory, a FIFO, a device, a socket), or not ANSI
 *               text (see ini_parse);
 *   LME_EIO     unreadable (permission, I/O error);
 *   LME_ERANGE  larger than max_bytes (the message names the size and the cap);
 *   LME_ENOMEM. */
int ini_load(const char *path, size_t max_bytes, struct ini **out, struct lme_err *err);

/* Parses len bytes of text (borrowed for the call; need not end with NUL). Lenient: CRLF, LF or
 * CR-only line ends; a UTF-8 BOM; ';' and '#' comment lines; blank lines; spaces and tabs
 * around names, '=' and values; lines without '=' ignored; keys before any section belong to
 * section ""; a later duplicate key wins, also across a repeated section. A section header is
 * '[' name ']' (text after ']' ignored; a missing ']' ends the name at the line end). Values
 * are kept byte for byte as written (any code page), trimmed of spaces and tabs, with one
 * pair of surrounding double quotes removed.
 * Refused (LME_EINVAL): text starting with a UTF-16 byte-order mark, and text holding a NUL
 * byte (UTF-16 without a mark, or not text): the connector reads these files as ANSI text.
 * Returns 0 and *out (owned by the caller, freed with ini_free), LME_EINVAL or LME_ENOMEM. */
int ini_parse(const char *text, size_t len, struct ini **out, struct lme_err *err);

/* The value of key in section, both compared case-insensitively (ASCII letters only), or NULL
 * when absent. Use "" for keys written before the first section. Borrowed until ini_free. */
const char *ini_get(const struct ini *ini, const char *section, const char *key);

/* Calls fn for every distinct section name in the order of first appearance, spelled as first
 * written ("" first when keys precede any section); stops when fn returns non-zero. The name is
 * borrowed until ini_free. */
void ini_foreach_section(const struct ini *ini, int (*fn)(const char *section, void *ctx), void *ctx);

/* Releases everything; NULL-safe. */
void ini_free(struct ini *ini);

#endif
