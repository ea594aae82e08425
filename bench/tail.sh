#!/usr/bin/env bash
# bench/tail.sh [BUILD_DIR] [RATES] [SECONDS]: the tailing scenario. For each rate (records/s;
# several as a comma-separated list, default 200000) it starts a fresh mock Kafka cluster (3
# brokers, lme.events with 6 partitions) and runs tail-bench: `lme-ingest run` follows a file
# that a writer appends to at that rate for SECONDS (default 10), and a consumer times every
# record from its write to its arrival. Prints one markdown table row per rate; the full report
# of each run is kept in BUILD_DIR/bench/tail-RATE.txt. Environment: FLUSH_MS (default 100), the
# input's multiline_flush_ms; RDKAFKA, a JSON object of producer settings for the sink (default
# none: the sink's defaults). See bench/README.md.
set -euo pipefail
build=${1:-build}
rates=${2:-200000}
seconds=${3:-10}
flush_ms=${FLUSH_MS:-100}
rdkafka=${RDKAFKA:-}
tools=$build/bench
lme=$build/ingest/lme-ingest
mock=$build/tests/tools/lme-mock-broker
for bin in "$tools/tail-bench" "$lme" "$mock"; do
    [ -x "$bin" ] || { echo "bench: $bin is missing: build first (cmake --build $build)" >&2
                       exit 1; }
done

work=$(mktemp -d)
mock_pid=""
stop_mock() { # "quit" on its standard input; killed if it has not exited 5 s later
    [ -n "$mock_pid" ] || return 0
    echo quit >&9 2>/dev/null || true
    exec 9>&-
    for _ in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
    mock_pid=""
}
trap 'stop_mock; rm -rf "$work"' EXIT

# start_mock: a fresh cluster (the mock keeps every message in memory); sets brokers, mock_pid.
start_mock() {
    rm -f "$work/in" "$work/out"
    mkfifo "$work/in"
    "$mock" --brokers 3 --topic lme.events:6 <"$work/in" >"$work/out" &
    mock_pid=$!
    exec 9>"$work/in" # keep its standard input open
    for _ in $(seq 100); do grep -q '^bootstrap=' "$work/out" && break; sleep 0.1; done
    brokers=$(sed -n 's/^bootstrap=//p' "$work/out")
    [ -n "$brokers" ] || { echo "bench: the mock cluster did not start" >&2; exit 1; }
}

busy_s() { # CPU seconds the whole machine spent busy so far (every process, every core; ticks)
    awk -v tck="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / tck; exit }' \
        /proc/stat
}

cpu_s() { # PID: user + system CPU seconds so far
    awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "each run: ${seconds} s of writing, multiline_flush_ms=${flush_ms}," \
     "producer settings: ${rdkafka:-defaults}"
echo "latency: from the write to the consumer's fetch, an upper bound of write to acknowledgement"
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| appended rec/s | writer rec/s | records | sustained rec/s | lag at end | drain s" \
     "| kept up | p50 ms | p90 ms | p99 ms | max ms | daemon CPU s | daemon RSS MB" \
     "| mock CPU s | others' CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for rate in ${rates//,/ }; do
    start_mock
    report=$tools/tail-$rate.txt
    mock_cpu0=$(cpu_s "$mock_pid")
    busy0=$(busy_s)
    if ! "$tools/tail-bench" "$lme" "$brokers" "$rate" "$seconds" "$work/run-$rate" "$flush_ms" \
        "$rdkafka" >"$report" 2>"$tools/tail-$rate.progress" 9>&-; then
        cat "$report" "$tools/tail-$rate.progress" >&2
        cp "$work/run-$rate/daemon.log" "$tools/tail-$rate.daemon.log" 2>/dev/null || true
        echo "bench: tail-bench failed at $rate records/s" \
             "(daemon log: $tools/tail-$rate.daemon.log)" >&2
        exit 1
    fi
    mock_cpu=$(awk -v a="$mock_cpu0" -v b="$(cpu_s "$mock_pid")" 'BEGIN { printf "%.2f", b - a }')
    busy=$(awk -v a="$busy0" -v b="$(busy_s)" 'BEGIN { printf "%.2f", b - a }')
    stop_mock
    rm -rf "$work/run-$rate" # the log file: up to a few hundred MB
    # "result k=v k=v ..." to a row. Others' CPU: the machine's busy time (tick-sampled, so
    # about +-0.5 s) less tail-bench's, the daemon's and the cluster's own accounting.
    sed -n 's/^result //p' "$report" | tr ' ' '\n' | awk -F= -v mock="$mock_cpu" -v busy="$busy" '
        { v[$1] = $2 }
        END {
            others = busy - v["all_cpu_s"] - mock
            printf "| %d | %d | %d | %d | %d | %s (last %s) | %s | %s | %s | %s | %s",
                v["rate"], v["writer_rate"], v["written"], v["sustained"], v["lag_end"],
                v["drain_but_last_s"], v["drain_s"], v["kept_up"], v["p50_ms"], v["p90_ms"],
                v["p99_ms"], v["max_ms"]
            printf " | %s (%s%% of a core) | %s | %s | %.1f |\n", v["cpu_s"], v["cpu_pct"],
                v["rss_mb"], mock, (others > 0 ? others : 0)
        }'
done
echo
echo "full reports: $tools/tail-RATE.txt (progress each second: tail-RATE.progress)"
