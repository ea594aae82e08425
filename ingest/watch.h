/* Wake-ups for the file inputs: inotify on the directories their globs name, so growth, new
 * files and rotation are seen at once. Only a hint: file systems where inotify sees nothing
 * (network mounts) are served by the pipeline's polling, which runs whatever this says. */
#ifndef LME_WATCH_H
#define LME_WATCH_H

#include <stddef.h>

#include "err.h"

struct watch;

/* use_inotify 0: polling only. Returns NULL with err filled when memory runs out. Without
 * inotify (or out of watches) the watch still works and never wakes anyone: polling does the
 * job. */
struct watch *watch_create(int use_inotify, struct lme_err *err);

/* NULL-safe. */
void watch_destroy(struct watch *w);

/* The directory of a glob: everything before the last '/' that precedes its first wildcard ("."
 * when none), into dir. */
void watch_glob_dir(const char *glob, char *dir, size_t size);

/* Watches the directory part of a glob (a wildcard-free prefix; "." when none). Watching a
 * directory twice is harmless; a directory that cannot be watched is logged once. */
void watch_add_glob(struct watch *w, const char *glob);

enum watch_result {
    WATCH_NOTHING, /* timeout, or no inotify */
    WATCH_DATA,    /* files were written */
    WATCH_NAMES,   /* files were created, renamed, deleted or changed attributes */
};

/* Waits up to timeout_ms for a change in a watched directory, and consumes the pending
 * notifications. */
enum watch_result watch_wait(struct watch *w, int timeout_ms);

#endif
