/* The file sink: JSON lines to a file or to standard output ("-"). An event is delivered once
 * written (buffered writes are flushed at every poll). */
#ifndef LME_FILE_SINK_H
#define LME_FILE_SINK_H

#include "conf.h"
#include "err.h"
#include "sink.h"

/* Returns NULL with err filled when the file cannot be opened for appending. */
/* `sinks[]` of type "file". */
struct file_sink_config {
    char *path; /* a file, or "-" for standard output */
};

/* Its keys (conf.h), over struct file_sink_config. */
extern const struct conf_table file_sink_config_keys;

struct sink *file_sink_create(const char *path, struct lme_err *err);

#endif
