#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [N]: measures `lme-ingest parse` on an N-record corpus beside two floors
# (cat to /dev/null; a minimal read-split-write loop). Best of 3 runs each. See bench/README.md.
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
tools=$build/bench
lme=$build/ingest/lme-ingest
for bin in "$tools/corpus-gen" "$tools/floor-split" "$tools/rusage-run" "$lme"; do
    [ -x "$bin" ] || { echo "bench: $bin is missing: build first (cmake --build $build)" >&2; exit 1; }
done

corpus=$tools/corpus-$n.log
out=$tools/out.jsonl
[ -s "$corpus" ] || "$tools/corpus-gen" "$n" >"$corpus"
bytes=$(stat -c %s "$corpus")

# best_of CMD...: runs CMD 3 times (stdout to $out); prints "wall_s maxrss_kb" of the fastest run.
best_of() {
    local best="" line wall rss
    for _ in 1 2 3; do
        line=$("$tools/rusage-run" "$@" 2>&1 >"$out" | grep '^wall_s=' | tail -1)
        wall=${line#wall_s=}; wall=${wall%% *}
        rss=${line#*maxrss_kb=}; rss=${rss%% *}
        if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
            best="$wall $rss"
        fi
    done
    echo "$best"
}

row() { # name wall rss
    awk -v name="$1" -v w="$2" -v r="$3" -v n="$n" -v b="$bytes" 'BEGIN{
        printf "| %s | %.3f | %.0f | %.1f | %.1f |\n", name, w, n/w, b/w/1e6, r/1024 }'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "corpus: $corpus, $n records, $bytes bytes, $(wc -l <"$corpus") lines"
echo
echo "| command | wall s | records/s | MB/s | peak RSS MB |"
echo "|---|---|---|---|---|"
read -r w r < <(best_of cat "$corpus"); row "cat > /dev/null" "$w" "$r"
read -r w r < <(best_of "$tools/floor-split" "$corpus"); row "floor-split (read, split, write)" "$w" "$r"
read -r w r < <(best_of "$lme" parse --quiet --timezone UTC --host bench "$corpus"); row "lme-ingest parse" "$w" "$r"

events=$(wc -l <"$out")
failures=$(grep -c '"lme_parse_failure"' "$out" || true)
echo
echo "parse output: $events events (records in corpus: $n), $failures tagged lme_parse_failure, $(stat -c %s "$out") bytes"
[ "$events" -eq "$n" ] || { echo "bench: event count differs from the record count" >&2; exit 1; }
