/* Test support: the browse logs property tests run over (every fixture log, a corpus made by the
 * benchmark's generator) and the seeded random numbers they draw forms and edits from. */
#ifndef LME_TEST_LOG_SAMPLES_H
#define LME_TEST_LOG_SAMPLES_H

#include <stdint.h>
#include <stdio.h>

/* Calls fn with each fixture log (the .log files of FIXTURES_DIR/samples, then of
 * samples/other), open for reading, and its path. Returns how many there were; -1 when a glob
 * or an open failed. */
typedef void (*log_samples_fn)(FILE *f, const char *path, void *ctx);
int log_samples_each_fixture(const char *fixtures_dir, log_samples_fn fn, void *ctx);

/* Runs `CORPUS_GEN records seed` and calls fn with its output. Returns the generator's exit
 * status as pclose gives it (0: all went well), -1 when it could not be started. */
int log_samples_corpus(const char *corpus_gen, int records, uint64_t seed, log_samples_fn fn,
                       void *ctx);

/* A property test's arguments, FIXTURES_DIR CORPUS_GEN, and its seed: the environment variable
 * seed_env's value when set, else one from the clock and the process id, printed with how to
 * replay it. Returns 0, or 2 after printing the usage when the arguments are not those two. */
int log_samples_args(int argc, char **argv, const char *seed_env, const char **fixtures_dir,
                     const char **corpus_gen, uint64_t *seed);

/* The next number of a splitmix64 sequence. */
uint64_t log_samples_random(uint64_t *state);

#endif
