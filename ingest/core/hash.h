/* A fast 64-bit non-cryptographic hash (MurmurHash64A's construction), byte-order independent so
 * ids computed from it are the same on every machine. Used for event.id; never for security. */
#ifndef LME_HASH_H
#define LME_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t lme_hash64(const void *data, size_t len, uint64_t seed);

#endif
