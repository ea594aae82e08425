#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [N]: measures `lme-ingest parse` on an N-record corpus beside two floors
# (cat to /dev/null; a minimal read-split-write loop), then `lme-ingest run --once` publishing it
# to a mock Kafka cluster (3 brokers, 6 partitions) until every event is acknowledged, beside
# kafka-floor: librdkafka alone producing the events `parse` made, with the sink's key, headers
# and settings. The commands of each table run in turn, ROUNDS times (default 3), interleaved;
# each row shows the median run. The last table gives the ratios of the medians.
# BASELINE=PATH/lme-ingest adds that binary's run --once (enrichment off, and its default), interleaved with the
# rest: a change's before and after in one run. PROFILE=1 also records one run --once and one
# floor run with `perf record` (bench/profile.sh). See bench/README.md.
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
rounds=${ROUNDS:-3}
tools=$build/bench
lme=$build/ingest/lme-ingest
mock=$build/tests/tools/lme-mock-broker
here=$(cd "$(dirname "$0")" && pwd)
for bin in "$tools/corpus-gen" "$tools/floor-split" "$tools/rusage-run" "$tools/kafka-floor" "$lme" \
    "$mock"; do
    [ -x "$bin" ] || { echo "bench: $bin is missing: build first (cmake --build $build)" >&2; exit 1; }
done

corpus=$tools/corpus-$n.log
out=$tools/out.jsonl
runs=$tools/runs.txt # every run: "name wall_s=.. cpu_s=.. maxrss_kb=.. minflt=.. exit=0"
[ -s "$corpus" ] || "$tools/corpus-gen" "$n" >"$corpus"
bytes=$(stat -c %s "$corpus")
: >"$runs"

# once NAME CMD...: runs CMD (stdout to $out) and appends its figures to $runs.
once() {
    local name=$1 line
    shift
    line=$("$tools/rusage-run" "$@" 2>&1 >"$out" | grep '^wall_s=' | tail -1)
    case "$line" in *" exit=0") ;; *) echo "bench: $name failed: $line" >&2; exit 1 ;; esac
    echo "$name $line" >>"$runs"
}

# median NAME FIELD: the median of FIELD (wall_s, cpu_s, maxrss_kb, minflt) over NAME's runs.
median() {
    grep "^$1 wall_s=" "$runs" | tr ' ' '\n' | sed -n "s/^$2=//p" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

row() { # NAME LABEL
    awk -v name="$2" -v w="$(median "$1" wall_s)" -v c="$(median "$1" cpu_s)" \
        -v r="$(median "$1" maxrss_kb)" -v f="$(median "$1" minflt)" -v n="$n" -v b="$bytes" 'BEGIN{
        printf "| %s | %.3f | %.3f | %.0f | %.1f | %.1f | %d |\n", name, w, c, n/w, b/w/1e6, r/1024, f }'
}

# paired NAME_A NAME_B: the median over rounds of A's wall time over B's in the same round. The
# machine's slow spells last seconds to minutes and move both runs of a round alike, so this
# varies less than the ratio of the medians.
paired() {
    paste <(grep "^$1 wall_s=" "$runs" | sed 's/.*wall_s=\([^ ]*\).*/\1/') \
        <(grep "^$2 wall_s=" "$runs" | sed 's/.*wall_s=\([^ ]*\).*/\1/') |
        awk '{ print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

ratio() { # LABEL NAME_A NAME_B
    awk -v l="$1" -v wa="$(median "$2" wall_s)" -v wb="$(median "$3" wall_s)" \
        -v ca="$(median "$2" cpu_s)" -v cb="$(median "$3" cpu_s)" -v p="$(paired "$2" "$3")" \
        'BEGIN{ printf "| %s | %.2f | %.2f | %.2f |\n", l, wa / wb, ca / cb, p }'
}

# A mock cluster for the Kafka rows, stopped on exit.
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
# the same without the 41220 diagnosis: the very events `parse` makes, as the floor sends
config_plain=$tools/bench-kafka-plain.json
sed 's/"once_timeout_ms":600000,/"once_timeout_ms":600000,"enrichment":{"enabled":false},/' \
    "$config" >"$config_plain"
# the default but for incidents (docs/incidents.md): what they cost, side by side
config_noinc=$tools/bench-kafka-noinc.json
sed 's/"once_timeout_ms":600000,/"once_timeout_ms":600000,"enrichment":{"incidents":false},/' \
    "$config" >"$config_noinc"
# each run starts without checkpoints, or it would resume at the end and send nothing
run_once() { once "$1" bash -c 'rm -rf "$1/state" && exec "$2" run --config "$3" --once' _ \
    "$tools" "${3:-$lme}" "$2"; }
baseline=${BASELINE:-}
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "bench: $baseline is not executable" >&2; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "corpus: $corpus, $n records, $bytes bytes, $(wc -l <"$corpus") lines; medians of $rounds runs"
echo
for _ in $(seq "$rounds"); do
    once cat cat "$corpus"
    once split "$tools/floor-split" "$corpus"
    once parse "$lme" parse --quiet --timezone UTC --host bench "$corpus"
done
cp "$out" "$tools/parse.jsonl"
echo "| command | wall s | CPU s | records/s | MB/s | peak RSS MB | page faults |"
echo "|---|---|---|---|---|---|---|"
row cat "cat > /dev/null"
row split "floor-split (read, split, write)"
row parse "lme-ingest parse > file"

# the floor's input: parse's events with their keys and codes beside them (not timed)
"$tools/kafka-floor" prepare "$tools/parse.jsonl" "$tools/floor.bin" 2>/dev/null
floor=("$tools/kafka-floor" send "$brokers" lme.events "$tools/floor.bin")
for _ in $(seq "$rounds"); do
    run_once run "$config"
    once floor "${floor[@]}"
    run_once plain "$config_plain"
    once naive "${floor[@]}" --naive
    run_once noinc "$config_noinc"
    [ -z "$baseline" ] || run_once baseline "$config_plain" "$baseline"
    [ -z "$baseline" ] || run_once baseline_on "$config" "$baseline"
done
echo
echo "| Kafka, every event acknowledged | wall s | CPU s | records/s | MB/s | peak RSS MB | page faults |"
echo "|---|---|---|---|---|---|---|"
row run "lme-ingest run --once > Kafka"
row plain "the same, enrichment off (parse's very events)"
row floor "kafka-floor: parse's events, the sink's way (no copy, headers reused)"
row naive "kafka-floor --naive (RD_KAFKA_MSG_F_COPY, headers built per message)"
row noinc "the same as the first, incidents off"
[ -z "$baseline" ] || row baseline "baseline ($baseline), enrichment off"
[ -z "$baseline" ] || row baseline_on "baseline ($baseline), its default (enrichment on)"
echo
echo "| ratio of medians | wall | CPU | wall, paired by round |"
echo "|---|---|---|---|"
ratio "run --once, enrichment off / kafka-floor (the same events)" plain floor
ratio "run --once (enrichment on: +4.8% bytes) / kafka-floor" run floor
ratio "run --once, enrichment off / kafka-floor --naive" plain naive
[ -z "$baseline" ] || ratio "baseline, enrichment off / kafka-floor" baseline floor
[ -z "$baseline" ] || ratio "run --once, enrichment off / baseline" plain baseline
ratio "run --once (incidents on) / incidents off" run noinc
[ -z "$baseline" ] || ratio "run --once (incidents on) / baseline's default" run baseline_on
mv "$tools/parse.jsonl" "$out"

if [ "${PROFILE:-0}" = 1 ]; then
    rm -rf "$tools/state"
    perf record -q -e cpu-clock -F 2000 -o "$tools/run.perf" "$lme" run --config "$config_plain" \
        --once 2>/dev/null
    perf record -q -e cpu-clock -F 2000 -o "$tools/floor.perf" "${floor[@]}" 2>/dev/null
    echo
    echo "perf, run --once (enrichment off):"
    bash "$here/profile.sh" "$tools/run.perf"
    echo
    echo "perf, kafka-floor:"
    bash "$here/profile.sh" "$tools/floor.perf"
fi

events=$(wc -l <"$out")
failures=$(grep -c '"lme_parse_failure"' "$out" || true)
echo
echo "parse output: $events events (records in corpus: $n), $failures tagged lme_parse_failure, $(stat -c %s "$out") bytes"
[ "$events" -eq "$n" ] || { echo "bench: event count differs from the record count" >&2; exit 1; }
