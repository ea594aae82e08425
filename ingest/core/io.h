/* Small I/O loops written once: all of a buffer to a descriptor, through short writes and
 * signals. */
#ifndef LME_IO_H
#define LME_IO_H

#include <stddef.h>

/* Writes len bytes of buf to fd, retrying short writes and EINTR. Returns 0, or -errno of the
 * write that failed (some bytes may have been written then). */
int lme_write_all(int fd, const void *buf, size_t len);

#endif
