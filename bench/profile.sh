#!/usr/bin/env bash
# bench/profile.sh PERF_DATA: what a `perf record -e cpu-clock` profile of a process (every thread)
# spent, in the categories docs/performance.md reports: CPU seconds and share for the allocator,
# copies, librdkafka, lz4, CRC, locks, our own code, PCRE2 (its JIT code included), the kernel.
# Libraries without symbols are counted by library. See bench/README.md.
set -euo pipefail
data=${1:?usage: bench/profile.sh PERF_DATA}
perf report -i "$data" --no-children -g none --sort dso,sym -F period,dso,sym --stdio 2>/dev/null |
awk '
/^#/ || NF < 3 { next }
{
    period = $1; dso = $2; sym = $NF
    if (dso ~ /kernel/) c = "kernel (page faults, sockets, scheduling)"
    else if (dso ~ /librdkafka/) c = "librdkafka"
    else if (dso ~ /liblz4/) c = "lz4"
    else if (dso ~ /libz\.so/) c = "CRC32 (zlib)"
    else if (dso ~ /pcre2|JIT/) c = "PCRE2"
    else if (dso ~ /libc\.so/ && sym ~ /malloc|free|_int_|unlink_chunk|consolidate|tcache|realloc|calloc|arena|sysmalloc|systrim/) c = "malloc/free"
    else if (dso ~ /libc\.so/ && sym ~ /memmove|memcpy|memset/) c = "copies (memcpy, memmove, memset)"
    else if (dso ~ /libc\.so/ && sym ~ /pthread|mutex|rwlock|cond|futex|lll_/) c = "locks"
    else if (dso ~ /\.so/ || dso ~ /^\[/) c = "other (libc, vdso, ...)"
    else c = "our code"
    share[c] += period; total += period
}
END {
    n = 0
    for (c in share) order[n++] = c
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
    printf "| category | CPU s | share |\n|---|---|---|\n"
    for (i = 0; i < n; i++)
        printf "| %s | %.2f | %.1f%% |\n", order[i], share[order[i]] / 1e9, 100 * share[order[i]] / total
    printf "| total | %.2f | 100%% |\n", total / 1e9
}'
