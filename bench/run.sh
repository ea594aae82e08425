#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [N]: measures `lme-ingest parse` on an N-record corpus beside two floors
# (cat to /dev/null; a minimal read-split-write loop), and `lme-ingest run --once` publishing it to
# a mock Kafka cluster (3 brokers, 6 partitions) until every event is acknowledged. Best of 3 runs
# each. See bench/README.md.
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
tools=$build/bench
lme=$build/ingest/lme-ingest
mock=$build/tests/tools/lme-mock-broker
for bin in "$tools/corpus-gen" "$tools/floor-split" "$tools/rusage-run" "$lme" "$mock"; do
    [ -x "$bin" ] || { echo "bench: $bin is missing: build first (cmake --build $build)" >&2; exit 1; }
done

corpus=$tools/corpus-$n.log
out=$tools/out.jsonl
[ -s "$corpus" ] || "$tools/corpus-gen" "$n" >"$corpus"
bytes=$(stat -c %s "$corpus")

# best_of CMD...: runs CMD 3 times (stdout to $out); prints "wall_s cpu_s maxrss_kb" of the
# fastest run.
best_of() {
    local best="" line wall cpu rss
    for _ in 1 2 3; do
        line=$("$tools/rusage-run" "$@" 2>&1 >"$out" | grep '^wall_s=' | tail -1)
        wall=${line#wall_s=}; wall=${wall%% *}
        cpu=${line#*cpu_s=}; cpu=${cpu%% *}
        rss=${line#*maxrss_kb=}; rss=${rss%% *}
        case "$line" in *" exit=0") ;; *) echo "bench: $* failed: $line" >&2; exit 1 ;; esac
        if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN{exit !(a<b)}'; then
            best="$wall $cpu $rss"
        fi
    done
    echo "$best"
}

row() { # name wall cpu rss
    awk -v name="$1" -v w="$2" -v c="$3" -v r="$4" -v n="$n" -v b="$bytes" 'BEGIN{
        printf "| %s | %.3f | %.3f | %.0f | %.1f | %.1f |\n", name, w, c, n/w, b/w/1e6, r/1024 }'
}

# A mock cluster for the end-to-end row, stopped on exit.
mock_dir=$(mktemp -d)
trap 'kill "$mock_pid" 2>/dev/null; rm -rf "$mock_dir"' EXIT
mkfifo "$mock_dir/in"
"$mock" --topic lme.events:6 <"$mock_dir/in" >"$mock_dir/out" &
mock_pid=$!
exec 9>"$mock_dir/in" # keep its standard input open
for _ in $(seq 100); do grep -q '^bootstrap=' "$mock_dir/out" && break; sleep 0.1; done
brokers=$(sed -n 's/^bootstrap=//p' "$mock_dir/out")
[ -n "$brokers" ] || { echo "bench: the mock cluster did not start" >&2; exit 1; }
config=$tools/bench-kafka.json
cat >"$config" <<EOF
{"host_name":"bench","state_dir":"$tools/state","once_timeout_ms":600000,
 "inputs":[{"type":"file","paths":["$corpus"],"timezone":"UTC"}],
 "sinks":[{"type":"kafka","brokers":"$brokers","topic":"lme.events"}]}
EOF
# the same without the 41220 diagnosis, to show what enrichment costs
config_plain=$tools/bench-kafka-plain.json
sed 's/"once_timeout_ms":600000,/"once_timeout_ms":600000,"enrichment":{"enabled":false},/' \
    "$config" >"$config_plain"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "corpus: $corpus, $n records, $bytes bytes, $(wc -l <"$corpus") lines"
echo
echo "| command | wall s | CPU s | records/s | MB/s | peak RSS MB |"
echo "|---|---|---|---|---|---|"
read -r w c r < <(best_of cat "$corpus"); row "cat > /dev/null" "$w" "$c" "$r"
read -r w c r < <(best_of "$tools/floor-split" "$corpus"); row "floor-split (read, split, write)" "$w" "$c" "$r"
read -r w c r < <(best_of "$lme" parse --quiet --timezone UTC --host bench "$corpus"); row "lme-ingest parse > file" "$w" "$c" "$r"
cp "$out" "$tools/parse.jsonl"
# each run starts without checkpoints, or it would resume at the end and send nothing
read -r w c r < <(best_of bash -c 'rm -rf "$1/state" && exec "$2" run --config "$3" --once' _ \
    "$tools" "$lme" "$config"); row "lme-ingest run --once > Kafka (all acknowledged)" "$w" "$c" "$r"
read -r w c r < <(best_of bash -c 'rm -rf "$1/state" && exec "$2" run --config "$3" --once' _ \
    "$tools" "$lme" "$config_plain"); row "the same, enrichment off" "$w" "$c" "$r"
mv "$tools/parse.jsonl" "$out"

events=$(wc -l <"$out")
failures=$(grep -c '"lme_parse_failure"' "$out" || true)
echo
echo "parse output: $events events (records in corpus: $n), $failures tagged lme_parse_failure, $(stat -c %s "$out") bytes"
[ "$events" -eq "$n" ] || { echo "bench: event count differs from the record count" >&2; exit 1; }
