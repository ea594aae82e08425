#!/usr/bin/env bash
# The house rules, checked on the real build:
#  1. No two source files call each other's functions, directly or around a longer circle: the
#     graph "file A uses a symbol file B defines", read with nm from the built objects, has no
#     cycle.
#  2. A stage folder (parsers/, enrich/, sinks/) includes only its own headers and ingest/core/'s;
#     ingest/core/ includes only its own.
# Usage: test_layering.sh SOURCE_DIR ARCHIVE_OR_OBJECT...
set -euo pipefail
src=$1
shift

status=0

# ---- 1. the call graph between files ----
graph=$(for f in "$@"; do nm -A -P "$f" 2>/dev/null; done |
    awk '
    # POSIX format: "lib.a[member.o]: name type value size" or "file.o: name type ..."
    {
        file = $1; sub(/:$/, "", file)
        if (match(file, /\[[^]]*\]$/)) file = substr(file, RSTART + 1, RLENGTH - 2)
        else { n = split(file, p, "/"); file = p[n] }
        name = $2; type = $3
        if (type == "U") users[name] = users[name] " " file
        else if (type ~ /^[TDBR]$/) defined[name] = file
    }
    END {
        for (name in users) {
            if (!(name in defined)) continue
            n = split(users[name], us, " ")
            for (i = 1; i <= n; i++)
                if (us[i] != defined[name]) print us[i], defined[name], name
        }
    }')

cycle=$(printf '%s\n' "$graph" | awk '
    NF == 3 { if (!((($1) SUBSEP ($2)) in edge)) { adj[$1] = adj[$1] " " $2; edge[$1, $2] = $3 } }
    function dfs(v,    n, ws, i, w) {
        color[v] = 1; stack[++depth] = v
        n = split(adj[v], ws, " ")
        for (i = 1; i <= n; i++) {
            w = ws[i]
            if (color[w] == 1) { found = w; return 1 }
            if (color[w] == 0 && dfs(w)) return 1
        }
        color[v] = 2; depth--
        return 0
    }
    END {
        for (v in adj) if (color[v] == 0 && dfs(v)) {
            out = found; started = 0
            for (i = 1; i <= depth; i++) {
                if (stack[i] == found) started = 1
                if (started && stack[i] != found) out = out " -> " stack[i]
            }
            out = out " -> " found
            # name the symbols that make each step
            print out
            exit
        }
    }')
if [ -n "$cycle" ]; then
    echo "test_layering: files that call each other around a circle: $cycle" >&2
    printf '%s\n' "$graph" | awk -v c="$cycle" 'BEGIN { n = split(c, s, " -> ") }
        { for (i = 1; i < n; i++) if ($1 == s[i] && $2 == s[i + 1]) print "  " $1 " uses " $3 " of " $2 }' >&2
    status=1
fi
edges=$(printf '%s\n' "$graph" | awk 'NF == 3 { print $1, $2 }' | sort -u | wc -l)
[ "$edges" -gt 20 ] || { echo "test_layering: only $edges edges read from nm: the objects were not read" >&2; status=1; }

# ---- 2. what each stage folder includes ----
check_includes() {
    local dir=$1 allowed=$2 f inc
    for f in "$src/$dir"/*.c "$src/$dir"/*.h "$src/$dir"/include/*.h; do
        [ -e "$f" ] || continue
        while read -r inc; do
            if [ -e "$src/$dir/$inc" ] || [ -e "$src/$dir/include/$inc" ]; then continue; fi
            if [ -n "$allowed" ] && [ -e "$src/$allowed/$inc" ]; then continue; fi
            echo "test_layering: ${f#$src/} includes \"$inc\", which is neither in $dir/ nor in ${allowed:-(nothing else)}" >&2
            status=1
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
}
check_includes ingest/core ""
check_includes parsers ingest/core
check_includes enrich ingest/core
check_includes sinks ingest/core

[ $status -eq 0 ] && echo "test_layering: $edges file-to-file edges, no cycle; stage folders include only themselves and ingest/core"
exit $status
