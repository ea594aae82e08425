#!/usr/bin/env bash
# Sets up lme-ingest on a Debian 12 machine (installs what is missing, builds) and then runs it:
#   deploy/quickstart.sh          parse the bundled sample log and print its JSON events
#   deploy/quickstart.sh test     run the whole test suite (normal build, then ASan+UBSan build)
# Idempotent; prints nothing of its own when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config librdkafka-dev libjansson-dev libpcre2-dev
          libcmocka-dev kcat tzdata)

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

case "${1:-sample}" in
sample)
    install_missing
    build build lme-ingest -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLME_WERROR=ON
    exec build/ingest/lme-ingest parse --quiet --timezone America/New_York --host exch01 \
        deploy/sample/980317ZZ.log
    ;;
test)
    install_missing
    build build all -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLME_WERROR=ON
    run_tests build
    build build-asan all -DCMAKE_BUILD_TYPE=Debug -DLME_SANITIZE=ON -DLME_WERROR=ON
    run_tests build-asan
    ;;
*)
    die "usage: deploy/quickstart.sh [sample|test]"
    ;;
esac
