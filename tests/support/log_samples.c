/* Test support: see log_samples.h. */
#include "log_samples.h"

#include <glob.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int log_samples_each_fixture(const char *fixtures_dir, log_samples_fn fn, void *ctx)
{
    static const char *const globs[] = { "samples/*.log", "samples/other/*.log" };
    char pattern[4096];
    int count = 0;
    for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
        glob_t g;
        snprintf(pattern, sizeof(pattern), "%s/%s", fixtures_dir, globs[i]);
        if (glob(pattern, 0, NULL, &g) != 0)
            return -1;
        for (size_t k = 0; k < g.gl_pathc; k++, count++) {
            FILE *f = fopen(g.gl_pathv[k], "rb");
            if (!f) {
                globfree(&g);
                return -1;
            }
            fn(f, g.gl_pathv[k], ctx);
            fclose(f);
        }
        globfree(&g);
    }
    return count;
}

int log_samples_corpus(const char *corpus_gen, int records, uint64_t seed, log_samples_fn fn,
                       void *ctx)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' %d %" PRIu64, corpus_gen, records, seed);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    fn(f, "bench corpus", ctx);
    return pclose(f);
}

int log_samples_args(int argc, char **argv, const char *seed_env, const char **fixtures_dir,
                     const char **corpus_gen, uint64_t *seed)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURES_DIR CORPUS_GEN\n", argv[0]);
        return 2;
    }
    *fixtures_dir = argv[1];
    *corpus_gen = argv[2];
    const char *env = getenv(seed_env);
    *seed = env && *env ? strtoull(env, NULL, 10)
                        : (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
    printf("seed %" PRIu64 " (%s=%" PRIu64 " replays this run)\n", *seed, seed_env, *seed);
    return 0;
}

uint64_t log_samples_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
