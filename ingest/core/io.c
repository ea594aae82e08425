/* Small I/O loops: see io.h. */
#include "io.h"

#include <errno.h>
#include <unistd.h>

int lme_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -ENOSPC; /* nothing written and no error: the device is full */
        p += w;
        len -= (size_t)w;
    }
    return 0;
}
