/* The common header line read by hand, before PCRE2 is asked: browse_log.c's HEADER pattern
 * with a year-first date ("1998/03/17 22:22:50 - COMP(1a) 3 41220:") or none at all. The scan
 * follows exactly the path PCRE2 tries first through that pattern (every greedy or possessive
 * quantifier as long as the line allows, an optional part taken whenever it can start), so when
 * that path reaches the pattern's end, PCRE2 would have stopped there too, with the same
 * captures. Anywhere that path fails, PCRE2 might backtrack into another one: the scan gives up
 * and PCRE2 decides (other date shapes, "<date>" placeholders, lines that are not headers). */
#ifndef LME_HEADER_SCAN_H
#define LME_HEADER_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "browse_log.h"

/* Returns true when line[0, len) is a HEADER line the scan could read, with *h filled as
 * browse_log_classify fills it; false when undecided (*h then holds nothing of use). */
bool header_scan(const char *line, size_t len, struct browse_log_header *h);

#endif
