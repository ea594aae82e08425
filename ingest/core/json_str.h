/* JSON strings from log bytes: the one escaper every JSON writer of lme-ingest uses. Bytes that
 * are not UTF-8 are read as Windows-1252, the code page these logs were written in, so any input
 * gives valid JSON and no byte is dropped (docs/schema.md). */
#ifndef LME_JSON_STR_H
#define LME_JSON_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The most a string of n bytes takes as JSON, quotes included. */
#define LME_JSON_STRING_MAX(n) (6 * (n) + 2)

/* Writes s[0, n) as a JSON string, quotes included, at w, which must have room for
 * LME_JSON_STRING_MAX(n) bytes. Returns the end of what was written; sets *non_utf8 when a byte
 * had to be read as Windows-1252. */
char *lme_json_put_string(char *w, const char *s, size_t n, bool *non_utf8);

/* Appends s[0, n) as a JSON string to b. Returns 0 or LME_ENOMEM. */
int lme_json_append_string(struct lme_buf *b, const char *s, size_t n);

#endif
