/* Wake-ups from inotify: see watch.h. Events are not interpreted: any change in a watched
 * directory makes the pipeline look at its files, which is simpler and loses nothing when the
 * kernel's queue overflows. */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

#define MAX_DIRS 256

struct watch {
    int fd; /* -1: no inotify */
    char *dirs[MAX_DIRS];
    size_t n_dirs;
};

struct watch *watch_create(int use_inotify, struct lme_err *err)
{
    struct watch *w = calloc(1, sizeof(*w));
    if (!w) {
        lme_err_set(err, LME_ENOMEM, "watch: out of memory");
        return NULL;
    }
    w->fd = -1;
    if (!use_inotify)
        return w;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        lme_log(LME_LOG_WARN, "inotify unavailable: files are polled", "error", strerror(errno),
                NULL);
    return w;
}

void watch_destroy(struct watch *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    for (size_t i = 0; i < w->n_dirs; i++)
        free(w->dirs[i]);
    free(w);
}

void watch_glob_dir(const char *glob, char *dir, size_t size)
{
    size_t wild = strcspn(glob, "*?[");
    size_t slash = wild;
    while (slash > 0 && glob[slash - 1] != '/')
        slash--;
    if (slash == 0) {
        snprintf(dir, size, ".");
        return;
    }
    snprintf(dir, size, "%.*s", (int)(slash > 1 ? slash - 1 : 1), glob);
}

void watch_add_glob(struct watch *w, const char *glob)
{
    char dir[PATH_MAX];
    watch_glob_dir(glob, dir, sizeof(dir));
    for (size_t i = 0; i < w->n_dirs; i++)
        if (strcmp(w->dirs[i], dir) == 0)
            return;
    if (w->fd < 0 || w->n_dirs == MAX_DIRS)
        return;
    uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                    IN_CLOSE_WRITE | IN_ATTRIB;
    /* a directory that cannot be watched is remembered too, so that it is reported once */
    if (inotify_add_watch(w->fd, dir, mask) < 0)
        lme_log(LME_LOG_WARN, "cannot watch directory: its files are polled", "dir", dir, "error",
                strerror(errno), NULL);
    w->dirs[w->n_dirs] = strdup(dir);
    if (w->dirs[w->n_dirs])
        w->n_dirs++;
}

enum watch_result watch_wait(struct watch *w, int timeout_ms)
{
    if (w->fd < 0 || w->n_dirs == 0) {
        if (timeout_ms > 0)
            poll(NULL, 0, timeout_ms);
        return WATCH_NOTHING;
    }
    struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
    if (poll(&pfd, 1, timeout_ms) <= 0)
        return WATCH_NOTHING;
    enum watch_result result = WATCH_DATA;
    char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(w->fd, events, sizeof(events))) > 0) {
        for (char *e = events; e < events + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)e;
            if (ev->mask & ~(uint32_t)(IN_MODIFY | IN_CLOSE_WRITE))
                result = WATCH_NAMES; /* IN_Q_OVERFLOW included: look at everything */
            e += sizeof(*ev) + ev->len;
        }
    }
    return result;
}
