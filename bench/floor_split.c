/* floor-split FILE: a floor for the benchmark. Reads FILE in 1 MiB chunks, splits it into lines
 * with memchr and writes each line back out through a 256 KiB buffer: the least any line-based
 * shipper must do. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define OUT (256 << 10)

static char out[OUT];
static size_t out_len;

static void flush_out(void)
{
    size_t off = 0;
    while (off < out_len) {
        ssize_t w = write(1, out + off, out_len - off);
        if (w <= 0) {
            perror("floor-split: write");
            exit(1);
        }
        off += (size_t)w;
    }
    out_len = 0;
}

static void put_line(const char *p, size_t n)
{
    while (n > 0) {
        if (out_len == OUT)
            flush_out();
        size_t take = n < OUT - out_len ? n : OUT - out_len;
        memcpy(out + out_len, p, take);
        out_len += take;
        p += take;
        n -= take;
    }
}

int main(int argc, char **argv)
{
    int fd = argc == 2 ? open(argv[1], O_RDONLY) : -1;
    if (fd < 0) {
        fprintf(stderr, "usage: floor-split FILE\n");
        return 2;
    }
    char *buf = malloc(CHUNK * 2);
    size_t carry = 0; /* a partial line kept at the front of buf */
    ssize_t n;
    while ((n = read(fd, buf + carry, CHUNK)) > 0) {
        size_t len = carry + (size_t)n, start = 0;
        const char *nl;
        while ((nl = memchr(buf + start, '\n', len - start))) {
            size_t end = (size_t)(nl - buf) + 1;
            put_line(buf + start, end - start);
            start = end;
        }
        carry = len - start;
        if (carry > CHUNK) { /* a line longer than a chunk: pass it on in pieces */
            put_line(buf + start, carry);
            carry = 0;
        }
        memmove(buf, buf + start, carry);
    }
    put_line(buf, carry);
    flush_out();
    free(buf);
    return n < 0 ? 1 : 0;
}
