/* The file sink: JSON lines to a file or to standard output ("-"). An event is delivered once
 * written (buffered writes are flushed at every poll). */
#ifndef LME_FILE_SINK_H
#define LME_FILE_SINK_H

#include "err.h"
#include "sink.h"

/* Returns NULL with err filled when the file cannot be opened for appending. */
struct sink *file_sink_create(const char *path, struct lme_err *err);

#endif
