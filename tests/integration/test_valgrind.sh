#!/usr/bin/env bash
# valgrind memcheck over an integration scenario: `run --once` on every fixture with the 41220
# diagnosis probing a connector (Notes.ini, ID file, a loopback Notes server port), and
# `diagnose`: no invalid access, no leak (definite or indirect). Exit 77 (skipped) without
# valgrind. Usage: test_valgrind.sh LME_INGEST FIXTURES_DIR
set -euo pipefail
lme=$1 fixtures=$2
command -v valgrind >/dev/null || { echo "skipped: no valgrind"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/c/winnt" "$tmp/c/notes/data"
printf '[Notes]\r\nDirectory=c:\\notes\\data\r\nKeyFileName=connector.id\r\n' >"$tmp/c/winnt/notes.ini"
echo id >"$tmp/c/notes/data/connector.id"
cat >"$tmp/lme.json" <<JSON
{"host_name":"exch01","state_dir":"$tmp/state",
 "inputs":[{"type":"file","paths":["$fixtures/samples/*.log"],"timezone":"UTC","connector":"c"}],
 "connectors":{"c":{"notes_ini":"$tmp/c/winnt/notes.ini","id_file":"$tmp/c/notes/data/connector.id",
                    "notes_server":{"host":"127.0.0.1","port":1},"path_map":{"C:\\\\":"$tmp/c/"}}},
 "sinks":[{"type":"file","path":"$tmp/out.jsonl"}]}
JSON
# --undef-value-errors=no: PCRE2's JIT-compiled matchers read whole words past a subject's end
# by design, which memcheck reports as uses of uninitialised values in code without symbols;
# invalid reads and writes, and leaks, are still errors
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --undef-value-errors=no)
status=0
"${vg[@]}" "$lme" run --config "$tmp/lme.json" --once 2>"$tmp/run.log" || status=$?
if [ "$status" -ne 0 ]; then
    grep -v '^time=' "$tmp/run.log" >&2 || true
    echo "FAIL: run --once under valgrind exited $status" >&2
    exit 1
fi
events=$(grep -vc '"dataset":"lme.incident"' "$tmp/out.jsonl")
[ "$events" -eq 134 ] || { echo "FAIL: $events records, expected 134" >&2; exit 1; }
grep -q '"dataset":"lme.incident"' "$tmp/out.jsonl" || { echo "FAIL: no incident event" >&2; exit 1; }
grep -q '"cause":"notes_api_lock_timeout"' "$tmp/out.jsonl" || { echo "FAIL: no diagnosis" >&2; exit 1; }
status=0
"${vg[@]}" "$lme" diagnose --config "$tmp/lme.json" --json >"$tmp/diag.json" 2>"$tmp/diag.log" || status=$?
# diagnose exits 1: the Notes server port is closed (a fault found); 99 is valgrind's
if [ "$status" -ne 1 ]; then
    grep -v '^time=' "$tmp/diag.log" >&2 || true
    echo "FAIL: diagnose under valgrind exited $status" >&2
    exit 1
fi
echo "ok: run --once (134 events) and diagnose under valgrind memcheck: no errors, no leaks"
