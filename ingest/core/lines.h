/* Line boundaries in files read by offset: where the line holding a byte starts, and where the
 * next one does. Shared by the file inputs (where to start reading) and the sinks' own files
 * (cutting a torn last line off). */
#ifndef LME_LINES_H
#define LME_LINES_H

#include <stdint.h>

/* Just after the last '\n' before end (0 when there is none). Returns end when the file cannot
 * be read there. */
uint64_t lme_line_start_before(int fd, uint64_t end);

/* Just after the first '\n' at or after from, or size when there is none before it. */
uint64_t lme_next_line_start(int fd, uint64_t from, uint64_t size);

#endif
