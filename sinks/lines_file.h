/* Files of JSON lines the sinks append to (the file sink's output, the dead-letter file): a
 * crash in the middle of a write must not leave a torn line that the next run's first line
 * would be glued to, making both unreadable. */
#ifndef LME_LINES_FILE_H
#define LME_LINES_FILE_H

#include <stddef.h>

#include "err.h"

/* Opens path for appending (created 0640) and cuts a torn last line (no '\n' at the end) off:
 * its record was never settled, so it is written again. Returns the descriptor, or -1 with err
 * filled. */
int lines_file_open(const char *path, struct lme_err *err);

/* Appends whole lines (data ends with '\n'). On a failed or short write the file is cut back
 * to where it was, so no torn line stays. Returns 0 or LME_EIO with err filled. */
int lines_file_append(int fd, const char *path, const char *data, size_t len,
                      struct lme_err *err);

#endif
