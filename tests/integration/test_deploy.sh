#!/usr/bin/env bash
# test_deploy: what deploy/ ships installs where Debian expects it and is correct.
#   1. `DESTDIR=... cmake --install BUILD --prefix /usr` puts every file in place (and keeps an
#      edited configuration on a second install); the installed sysusers file creates the user.
#   2. `systemd-analyze verify` accepts the unit without a word (checked to complain about a
#      typo first), and `systemd-analyze security` rates its exposure at most 2.0.
#   3. The man page renders without a warning (man -l, groff -ww) and names every command and
#      option the binary's --help lists.
#   4. Every config in deploy/config, and the Kubernetes ConfigMap's, passes check-config.
# Usage: test_deploy.sh LME_INGEST SOURCE_DIR BUILD_DIR. Prints each failure; exits 1 on any.
set -uo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 LME_INGEST SOURCE_DIR BUILD_DIR" >&2
    exit 2
fi
bin=$1 src=$2 build=$3
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
# show FILE: indented, for a failure's details
show() { sed 's/^/    | /' "$1" >&2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

for tool in cmake systemd-analyze systemd-sysusers man groff; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: '$tool' is not installed (deploy/quickstart.sh installs it)" >&2
        exit 1
    fi
done

# ---- 1. installation ----
if DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.log" 2>&1; then
    pass "cmake --install --prefix /usr"
else
    fail "cmake --install --prefix /usr failed:"
    show "$tmp/install.log"
fi
expected=(usr/bin/lme-ingest
          usr/lib/systemd/system/lme-ingest.service
          usr/lib/sysusers.d/lme-ingest.conf
          usr/share/man/man8/lme-ingest.8
          etc/lme-ingest/lme-ingest.json
          usr/share/doc/lme-ingest/examples/lme-ingest.json
          usr/share/doc/lme-ingest/examples/collector.json
          usr/share/doc/lme-ingest/examples/daemonset.yaml)
for md in "$src"/docs/*.md "$src"/docs/*.json; do
    expected+=("usr/share/doc/lme-ingest/$(basename "$md")")
done
missing=0
for f in "${expected[@]}"; do
    [ -f "$root/$f" ] || { fail "install: /$f is missing"; missing=1; }
done
[ $missing -eq 0 ] && pass "install: all ${#expected[@]} files in place"
stray=$(cd "$root" 2>/dev/null && find . -type f ! -path './usr/*' ! -path './etc/lme-ingest/*')
[ -z "$stray" ] || fail "install: files outside /usr and /etc/lme-ingest: $stray"
if [ -x "$root/usr/bin/lme-ingest" ] && "$root/usr/bin/lme-ingest" --version >/dev/null; then
    pass "installed binary runs"
else
    fail "install: /usr/bin/lme-ingest is not an executable that runs"
fi
conf=$root/etc/lme-ingest/lme-ingest.json
if [ -f "$conf" ]; then
    cmp -s "$conf" "$src/deploy/config/lme-ingest.json" ||
        fail "install: /etc/lme-ingest/lme-ingest.json differs from deploy/config/lme-ingest.json"
    mode=$(stat -c %a "$conf")
    [ "$mode" = 640 ] || fail "install: /etc/lme-ingest/lme-ingest.json has mode $mode, not 640 (it holds the SASL password)"
    echo '# edited' >>"$conf"
    DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install2.log" 2>&1
    if tail -n 1 "$conf" | grep -q '^# edited$'; then
        pass "a second install keeps the edited configuration"
    else
        fail "install: a second install overwrote the edited /etc/lme-ingest/lme-ingest.json"
    fi
fi
# The installed sysusers file, applied to the installed tree, creates the account.
if systemd-sysusers --root="$root" >"$tmp/sysusers.log" 2>&1 &&
    grep -q '^lme-ingest:x:[0-9]*:[0-9]*:[^:]*:/var/lib/lme-ingest:/usr/sbin/nologin$' "$root/etc/passwd" &&
    grep -q '^lme-ingest:x:[0-9]*:' "$root/etc/group"; then
    pass "sysusers creates the system user and group lme-ingest"
else
    fail "systemd-sysusers did not create the user and group lme-ingest from the installed file:"
    show "$tmp/sysusers.log"
fi

# ---- 2. the systemd unit ----
# verify needs ExecStart's binary and the man page of Documentation= to exist: the copy points
# at the installed tree's binary, and MANPATH at its man pages (`--root` wants a whole system).
unit=$src/deploy/lme-ingest.service
mkdir -p "$tmp/unit"
grep -q '^ExecStart=/usr/bin/lme-ingest run --config /etc/lme-ingest/lme-ingest.json$' "$unit" ||
    fail "unit: ExecStart is not '/usr/bin/lme-ingest run --config /etc/lme-ingest/lme-ingest.json'"
sed "s|/usr/bin/lme-ingest|$root/usr/bin/lme-ingest|g" "$unit" >"$tmp/unit/lme-ingest.service"
verify() { # verify UNIT_FILE OUT: 0 when systemd-analyze exits 0 and says nothing
    MANPATH=$root/usr/share/man systemd-analyze verify "$1" >"$2" 2>&1 && [ ! -s "$2" ]
}
# The control: systemd-analyze only warns (exit 0) about unknown keys and bad values, so the
# check must fail on any output; a typo must produce some.
mkdir -p "$tmp/typo"
sed 's/^\[Service\]$/&\nProtectSytem=strict/' "$tmp/unit/lme-ingest.service" >"$tmp/typo/lme-ingest.service"
if verify "$tmp/typo/lme-ingest.service" "$tmp/typo.log"; then
    fail "unit: systemd-analyze verify said nothing about a typo (ProtectSytem=): the check is blind"
fi
if verify "$tmp/unit/lme-ingest.service" "$tmp/verify.log"; then
    pass "systemd-analyze verify lme-ingest.service"
else
    fail "systemd-analyze verify lme-ingest.service:"
    show "$tmp/verify.log"
fi
if MANPATH=$root/usr/share/man systemd-analyze security --offline=true --threshold=20 \
    "$tmp/unit/lme-ingest.service" >"$tmp/security.log" 2>&1; then
    pass "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$tmp/security.log")"
else
    fail "unit: systemd-analyze security rates the exposure above 2.0 (hardening lost?):"
    grep -E '✗|Overall' "$tmp/security.log" | sed 's/^/    | /' >&2
fi
# shellcheck disable=SC2016 # $MAINPID is the unit's, not ours
for key in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' User=lme-ingest StateDirectory=lme-ingest \
           ProtectSystem=strict SystemCallFilter=@system-service Restart=on-failure; do
    grep -qxF "$key" "$unit" || fail "unit: '$key' is missing"
done
# PCRE2's JIT writes machine code into memory it then executes.
grep -q '^MemoryDenyWriteExecute=' "$unit" &&
    fail "unit: MemoryDenyWriteExecute= is set: PCRE2's JIT would fail (the parser then interprets, slowly)"

# ---- 3. the man page ----
page=$src/deploy/lme-ingest.8
MANWIDTH=80 man -l "$page" 2>"$tmp/man.err" >"$tmp/man.txt"
if [ -s "$tmp/man.err" ]; then
    fail "man -l deploy/lme-ingest.8 warns:"
    show "$tmp/man.err"
else
    pass "man -l deploy/lme-ingest.8: no warning"
fi
if groff -man -ww -z "$page" >"$tmp/groff.err" 2>&1 && [ ! -s "$tmp/groff.err" ]; then
    pass "groff -man -ww -z: no warning"
else
    fail "groff -man -ww -z deploy/lme-ingest.8 warns:"
    show "$tmp/groff.err"
fi
# Every command and long option the binary documents must be in the page.
# (searched in the source, where a hyphen is \- and \% marks a word not to hyphenate: the
# rendered text may break "check-config" at its hyphen)
text=$(sed 's/\\-/-/g; s/\\%//g' "$page")
{
    "$bin" --help
    for cmd in run check-config diagnose parse; do "$bin" "$cmd" --help; done
} >"$tmp/help.txt" 2>&1
words=$(grep -oE -- '--[a-z][a-z-]*' "$tmp/help.txt" | sort -u)
words+=" $(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/help.txt" | sort -u)"
undocumented=""
for w in $words; do
    grep -qF -- "$w" <<<"$text" || undocumented+=" $w"
done
if [ -n "$undocumented" ]; then
    fail "man page: not documented:$undocumented"
else
    pass "man page documents every command and option of --help"
fi

# ---- 4. the example configurations ----
check_config() { # check_config LABEL FILE
    if (cd "$src" && "$bin" check-config --config "$2") >"$tmp/check.log" 2>&1; then
        pass "check-config $1"
    else
        fail "check-config $1:"
        show "$tmp/check.log"
    fi
}
for json in "$src"/deploy/config/*.json; do
    name=deploy/config/$(basename "$json")
    if grep -q '@BROKERS@' "$json"; then
        sed 's/@BROKERS@/127.0.0.1:9092/g' "$json" >"$tmp/$(basename "$json")"
        check_config "$name (@BROKERS@ = 127.0.0.1:9092)" "$tmp/$(basename "$json")"
    else
        check_config "$name" "$json"
    fi
done
# The DaemonSet's ConfigMap: the block under "lme-ingest.json.in: |", its 4-space indent removed.
awk '/^  lme-ingest.json.in: \|/ { on = 1; next }
     on && /^    / { print substr($0, 5); next }
     on { exit }' "$src/deploy/kubernetes/daemonset.yaml" |
    sed 's/@SASL_PASSWORD@/secret/' >"$tmp/configmap.json"
if [ -s "$tmp/configmap.json" ]; then
    check_config "deploy/kubernetes/daemonset.yaml's ConfigMap" "$tmp/configmap.json"
else
    fail "deploy/kubernetes/daemonset.yaml: no 'lme-ingest.json.in' in the ConfigMap"
fi

if [ $failures -gt 0 ]; then
    echo "test_deploy: $failures check(s) failed" >&2
    exit 1
fi
echo "test_deploy: all checks passed"
