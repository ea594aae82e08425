/* Files of JSON lines: see lines_file.h. */
#include "lines_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "lines.h"
#include "log.h"

int lines_file_open(const char *path, struct lme_err *err)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        lme_err_set(err, LME_EIO, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
        return fd; /* a FIFO or a device is written as it is */
    off_t end = (off_t)lme_line_start_before(fd, (uint64_t)st.st_size);
    if (end < st.st_size && ftruncate(fd, end) == 0)
        lme_log(LME_LOG_WARN, "a torn last line (an interrupted write) was cut off: its event is "
                              "written again", "file", path, NULL);
    return fd;
}

int lines_file_append(int fd, const char *path, const char *data, size_t len,
                      struct lme_err *err)
{
    struct stat st;
    off_t before = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
    int rc = lme_write_all(fd, data, len);
    if (rc == 0)
        return 0;
    if (before >= 0 && ftruncate(fd, before) != 0)
        lme_log(LME_LOG_ERROR, "cannot cut a torn line off", "file", path, "error", strerror(errno),
                NULL);
    return lme_err_set(err, LME_EIO, "cannot write %s: %s", path, strerror(-rc));
}
