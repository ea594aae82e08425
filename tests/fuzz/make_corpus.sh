#!/usr/bin/env bash
# Rebuilds the seed corpora under tests/fuzz/corpus/ (committed; run again when the fixtures,
# the sample connector or the example configs change):
#   record/  each tests/fixtures/samples/*.log and other/*.log behind the 6 control bytes of
#            fuzz_record.c (largest record limit, the whole file in one chunk, no flushes), two
#            of them again with small chunks, flushes and small limits, and hand-made edge cases
#   ini/     the sample connector's Notes.ini and Exchconn.ini and hand-made edge cases
#   config/  deploy/config/*.json (@BROKERS@ set to 127.0.0.1:9092), minimal configs, and secrets
#            given as {"env": ...} and {"file": ...}
set -euo pipefail
cd "$(dirname "$0")"
root=../..
out=corpus
rm -rf "$out/record" "$out/ini" "$out/config"
mkdir -p "$out/record" "$out/ini" "$out/config"

# Control bytes of fuzz_record.c, as printf escapes: limit, flush bits, four chunk-size codes.
WHOLE='\xff\x00\xff\xff\xff\xff'    # 4096-byte records, one chunk, no flushes
CHUNKED='\x80\x55\x07\x4a\x01\x8f'  # ~2088-byte records, 8/27/2/128-byte chunks, flushes
TINY='\x00\x01\x3f\x00\x05\x40'     # 64-byte records (cut), 64/1/6/8-byte chunks

# record NAME CONTROL: writes corpus/record/NAME from the control bytes and standard input.
record() {
    { printf "$2"; cat; } >"$out/record/$1"
}

for f in "$root"/tests/fixtures/samples/*.log "$root"/tests/fixtures/samples/other/*.log; do
    [ -e "$f" ] || continue
    record "$(basename "$f" .log)" "$WHOLE" <"$f"
done
record Q192932-chunked "$CHUNKED" <"$root/tests/fixtures/samples/Q192932.log"
record Q181500-tiny "$TINY" <"$root/tests/fixtures/samples/Q181500.log"
record sample-980317ZZ "$WHOLE" <"$root/deploy/sample/980317ZZ.log"

H='1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open'
printf '\r\n%.0s' {1..40} | record crlf-only "$WHOLE"
printf '\n\n \t\r\n\r\r\n' | record blank-lines "$CHUNKED"
{ printf '%s ' "$H"; printf 'x%.0s' {1..6000}; printf '\r\ncontinued\r\n%s\r\n' "$H"; } |
    record long-line "$WHOLE"
{ printf '%s\r\n' "$H"; printf 'y%.0s' {1..5000}; printf '\r\n \r\n'; } | record long-continuation "$CHUNKED"
printf '1998/03/17 22:22:50 - LME-NOTES-MEX\0TS(018b) 1 41220:Error\0: x\r\n\0\0\0\r\n%s\0\r\n' "$H" |
    record nul-bytes "$WHOLE"
printf '1998/03/17\xa022:22:50\xa0-\xa0LME-NOTES-MEXNTS(018b)\xa01\xa041220:Error:\xa0no Notes Session Open\xa0\xa0\r\n\xa0\xa0continued\xa0\r\n\xa0>>\xa0lsnabapi(525)\xa0\r\nvoil\xc3\xa0\r\n' |
    record a0-padding "$WHOLE"
printf '1998/03/17 22:22:50 -\r\nLME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\r\n1998/03/17 22:22:51 - LME-NOTES-\r\nMEXNTS(018b) 1 41220:wrapped inside a word\r\n1998/03/17 22:22:52 - not a header\r\nat all\r\n' |
    record wrapped-header "$WHOLE"
printf '08-Aug-2000 10:00:00 - DXM(0a1) 2 12345:day-month-year\n<date> <time> - DXM(0a1) 3 12346:placeholders\n1998.03.17 22:22:50,123 - DXM(0a1) 4 12347:milliseconds\n2000/02/30 25:61:61 - DXM(0a1) 4 12348:impossible\n1998-3-7 1:02 DXM(0a1) 4 12349:short\n' |
    record date-forms "$WHOLE"
printf '%s >> lsnabapi(525)\nDXM(0a1) 2 12345:Error {Database is not open}: x\n >> mod.c(12\nDXM(0a1) 2 12346:Error (Bad status}: y\n>>trailer(1)\nDXM(0a1) 2 12347:{Word}: z >> a(999999999)\n' "$H" |
    record trailers-status "$WHOLE"
printf '%s >>\r\nntshcs(2317)\r\nDXM(0a1) 2 12345:x\r\n >>\r\n mif(362\r\nDXM(0a1) 2 12346:y << vm2dia(1300)\r\nDXM(0a1) 2 12347:z\r\nNtshcs(2317)\r\nDXM(0a1) 4 04107:Queue dxm.in has been opened\r\n(physical location is q\\dxm.in)\r\n' "$H" |
    record trailers-wrapped "$WHOLE"
printf 'orphan before any header\n  indented orphan\n31900 Call Product Support, error=invalid parameter\n08226 Process LME-NOTES-NTSMEX terminated abnormally\n12345 lower case is a continuation\n%s' "$H" |
    record orphans-controller "$TINY"
printf '%s \x80\x9f\xff\xfe caf\xe9 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82\xac\r\n\x93quoted\x94\r\n' "$H" |
    record non-utf8 "$WHOLE"

# INI: the sample connector's, and the leniencies ini.h promises.
cp "$root/deploy/sample/connector/c/winnt/Notes.ini" "$out/ini/Notes.ini"
cp "$root/deploy/sample/connector/c/exchsrvr/connect/exchconn/Exchconn.ini" "$out/ini/Exchconn.ini"
printf '\xef\xbb\xbf[Notes]\nKeyFileName = "c:\\notes\\data\\connector.id" \nDirectory=\tc:\\notes\\data\n' >"$out/ini/bom-lf"
printf 'before=any section\r[Notes\rKeyFileName=a.id\r# comment\r; comment\r[notes]\rkeyfilename=b.id\r' >"$out/ini/cr-only"
printf '[Notes] trailing\r\nno equals sign\r\n=no key\r\nKeyFileName=""\r\nDirectory="\r\n[]\r\nx=y\r\n' >"$out/ini/odd-lines"
printf '\xff\xfe[\0N\0o\0t\0e\0s\0]\0' >"$out/ini/utf16-bom"

# Configs: the examples, and the smallest ones that load.
for f in "$root"/deploy/config/*.json; do
    sed 's/@BROKERS@/127.0.0.1:9092/' "$f" >"$out/config/$(basename "$f")"
done
printf '{"inputs": [{"type": "file", "paths": ["/var/log/exchconn/*.log"]}]}\n' >"$out/config/minimal.json"
printf '{"inputs": [{"type": "file", "paths": ["a.log"], "encoding": "utf-16le", "start_at": "end"}],\n "sinks": [{"type": "file", "path": "-"}], "log_format": "json", "log_level": "debug",\n "metrics": {"listen": "[::1]:9464"}, "inotify": false, "max_record_bytes": 64}\n' >"$out/config/file-sink.json"
printf '{"inputs": [{"type": "file", "paths": ["a.log"], "connector": "c"}],\n "connectors": {"c": {"notes_ini": "C:\\\\winnt\\\\notes.ini", "path_map": {"C:\\\\": "/mnt/c/"}}},\n "sinks": [{"type": "kafka", "brokers": "127.0.0.1:9092", "key": "none",\n            "rdkafka": {"linger.ms": 5, "enable.idempotence": false}}]}\n' >"$out/config/connector-kafka.json"
printf '{"inputs": [{"type": "file", "paths": ["a.log"]}],\n "sinks": [{"type": "kafka", "brokers": "127.0.0.1:9092",\n            "rdkafka": {"sasl.username": "u", "sasl.password": {"env": "PATH"}}}]}\n' >"$out/config/secret-env.json"
printf '{"inputs": [{"type": "file", "paths": ["a.log"]}],\n "sinks": [{"type": "kafka", "brokers": "127.0.0.1:9092",\n            "rdkafka": {"ssl.key.password": {"file": "/nonexistent/lme-secret"}}}]}\n' >"$out/config/secret-file.json"
