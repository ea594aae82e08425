#!/usr/bin/env bash
# Sets up lme-ingest on a Debian 12 machine (installs what is missing, builds) and then runs it:
#   deploy/quickstart.sh          the main job on the bundled sample: start a Kafka-protocol broker
#                                 (lme-mock-broker), run the daemon (deploy/config/quickstart.json)
#                                 and print what a consumer (kcat) reads back
#   deploy/quickstart.sh test     run the whole test suite (normal build, then ASan+UBSan build)
# Idempotent; prints nothing of its own when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config librdkafka-dev libjansson-dev libpcre2-dev
          libmicrohttpd-dev libsystemd-dev libcmocka-dev kcat tzdata curl systemd man-db
          groff-base clang libclang-rt-dev valgrind python3-jsonschema)

die() { echo "quickstart: $*" >&2; exit 1; }

install_missing() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "run as root to install: ${missing[*]}"
        sudo=sudo
    fi
    echo "quickstart: installing ${missing[*]}" >&2
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install failed"
}

# build DIR TARGET [CMAKE_ARGS...]: configures once, then builds TARGET; output only on failure.
build() {
    local dir=$1 target=$2 log
    shift 2
    log=$(mktemp)
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        cmake -S . -B "$dir" "$@" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; die "cmake failed"; }
    fi
    cmake --build "$dir" --target "$target" -j "$(nproc)" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; die "build failed"; }
    rm -f "$log"
}

run_tests() {
    local dir=$1
    ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$(nproc)" --timeout 300
}

# The libFuzzer targets of tests/fuzz/ (docs/fuzzing.md), built with clang in build-fuzz, each run
# for FUZZ_SECONDS (default 20) on a copy of its seed corpus. A crash, leak or timeout fails: the
# input is kept in build-fuzz/fuzz-run/<target>/artifacts/, the fuzzer's output in .../log.
# ASan's quarantine of freed memory (256 MB by default) would alone take fuzz_record past 512 MB.
run_fuzz() {
    local dir=build-fuzz seconds=${FUZZ_SECONDS:-20} src t run dict
    CC=clang build "$dir" fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLME_FUZZ=ON -DLME_WERROR=ON
    for src in tests/fuzz/fuzz_*.c; do
        t=$(basename "$src" .c)
        t=${t#fuzz_}
        run=$dir/fuzz-run/$t
        rm -rf "$run" && mkdir -p "$run/artifacts" && cp -r "tests/fuzz/corpus/$t" "$run/corpus"
        dict=()
        [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
        ASAN_OPTIONS="quarantine_size_mb=64${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
            "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=512 \
            "${dict[@]}" -artifact_prefix="$run/artifacts/" "$run/corpus" \
            </dev/null >"$run/log" 2>&1 ||
            { tail -n 60 "$run/log" >&2; die "fuzz_$t failed: input in $run/artifacts/, log in $run/log"; }
    done
}

# The main job: a mock broker on loopback, the daemon publishing the sample to it, and what a
# consumer reads back. The daemon's own log goes to build/quickstart/daemon.log.
run_sample() {
    local dir=build/quickstart brokers
    rm -rf "$dir" && mkdir -p "$dir"
    mkfifo "$dir/broker.in"
    build/tests/tools/lme-mock-broker --topic lme.events:6 --topic lme.alerts:1 \
        <"$dir/broker.in" >"$dir/broker.out" 2>"$dir/broker.log" &
    MOCK_PID=$!
    exec 9>"$dir/broker.in" # keeps the broker's standard input open
    trap 'kill "$MOCK_PID" 2>/dev/null' EXIT
    for _ in $(seq 100); do grep -q '^bootstrap=' "$dir/broker.out" && break; sleep 0.1; done
    brokers=$(sed -n 's/^bootstrap=//p' "$dir/broker.out")
    [ -n "$brokers" ] || die "the mock broker did not start ($dir/broker.log)"
    sed "s/@BROKERS@/$brokers/" deploy/config/quickstart.json >"$dir/config.json"
    build/ingest/lme-ingest run --config "$dir/config.json" --once 2>"$dir/daemon.log" ||
        { cat "$dir/daemon.log" >&2; die "the daemon failed"; }
    kcat -b "$brokers" -C -t lme.events -o beginning -e -q \
        -f 'partition %p offset %o key %k headers %h\n%s\n'
    echo
    echo "== lme.alerts: the connector's incidents: opened with their diagnosis (the sample connector's Notes.ini names the wrong ID), then resolved"
    kcat -b "$brokers" -C -t lme.alerts -o beginning -e -q -f '%s\n'
}

case "${1:-sample}" in
sample)
    install_missing
    build build lme-ingest -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLME_WERROR=ON
    build build lme-mock-broker
    run_sample
    ;;
test)
    install_missing
    build build all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLME_WERROR=ON
    run_tests build
    build build-asan all -DCMAKE_BUILD_TYPE=Debug -DLME_SANITIZE=ON -DLME_WERROR=ON
    run_tests build-asan
    run_fuzz
    ;;
*)
    die "usage: deploy/quickstart.sh [sample|test]"
    ;;
esac
