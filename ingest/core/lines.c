/* Line boundaries in files: see lines.h. Reads 4 KiB blocks with pread, so the descriptor's
 * position is left alone. */
#include "lines.h"

#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define SCAN_BLOCK 4096

uint64_t lme_line_start_before(int fd, uint64_t end)
{
    char block[SCAN_BLOCK];
    uint64_t at = end;
    while (at > 0) {
        size_t want = at < sizeof(block) ? (size_t)at : sizeof(block);
        ssize_t n = pread(fd, block, want, (off_t)(at - want));
        if (n != (ssize_t)want)
            return end;
        for (size_t i = want; i > 0; i--)
            if (block[i - 1] == '\n')
                return at - want + i;
        at -= want;
    }
    return 0;
}

uint64_t lme_next_line_start(int fd, uint64_t from, uint64_t size)
{
    char block[SCAN_BLOCK];
    for (uint64_t at = from; at < size;) {
        ssize_t n = pread(fd, block, sizeof(block), (off_t)at);
        if (n <= 0)
            break;
        char *nl = memchr(block, '\n', (size_t)n);
        if (nl)
            return at + (uint64_t)(nl - block) + 1;
        at += (uint64_t)n;
    }
    return size;
}
