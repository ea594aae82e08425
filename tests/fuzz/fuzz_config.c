/* Fuzz target for the configuration loader (ingest/config.c): the input is the whole JSON file.
 * It is written to one memfd made at the first call (no files left behind; mode 0600, since
 * config_load refuses a file others may write), which config_load reads through
 * /proc/self/fd/N; a loaded config is freed at once, so LeakSanitizer sees every
 * allocation a success or a failure path forgets.
 * Checked beyond what ASan, UBSan and LSan see: a refusal returns a negative code with that code
 * and a message in err, and leaves *out untouched. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static char path[64]; /* /proc/self/fd/N of the memfd, open for the life of the process */

static int write_input(int fd, const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0)
        return -1;
    for (size_t done = 0; done < size;) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz_config.json", MFD_CLOEXEC);
        if (fd < 0)
            die("memfd_create failed");
        if (fchmod(fd, 0600) != 0) /* config_load refuses a file writable by others */
            die("fchmod of the memfd failed");
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (write_input(fd, data, size) != 0)
        die("cannot write the input to the memfd");

    struct config *cfg = NULL;
    struct lme_err err = { 0, "" };
    int rc = config_load(path, &cfg, &err);
    if (rc == 0) {
        if (!cfg)
            die("config_load succeeded without a config");
        config_free(cfg);
        return 0;
    }
    if (rc > 0)
        die("config_load returned a positive code");
    if (cfg)
        die("a refusal set *out");
    if (err.code != rc || err.msg[0] == '\0')
        die("a refusal without its code and message in err");
    return 0;
}
