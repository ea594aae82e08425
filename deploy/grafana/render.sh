#!/bin/sh
# Renders docs/dashboard.png: regenerates lme-ingest.json, puts it into render.html (which draws
# the dashboard's panels with made-up sample data, no network) and screenshots the page with
# headless Chromium (Debian: apt-get install -y chromium).
#   sh deploy/grafana/render.sh [OUT.png]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/docs/dashboard.png}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "render.sh: no chromium (apt-get install -y chromium)" >&2; exit 1; }

python3 "$here/gen_dashboard.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The page with the dashboard inlined, and the window height that holds the whole grid:
# the header (~126 px) plus 38 px per grid unit (30 px rows and 8 px gaps).
height=$(python3 - "$here" "$tmp/page.html" <<'EOF'
import json, sys
here, page = sys.argv[1], sys.argv[2]
dash = open(f"{here}/lme-ingest.json", encoding="utf-8").read()
json.loads(dash)
html = open(f"{here}/render.html", encoding="utf-8").read()
assert "/*__DASHBOARD_JSON__*/null" in html
open(page, "w", encoding="utf-8").write(
    html.replace("/*__DASHBOARD_JSON__*/null", dash.replace("</", "<\\/")))
units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in json.loads(dash)["panels"])
print(126 + units * 38 + 12)
EOF
)
timeout 120 "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars \
    --force-device-scale-factor=1 --window-size=1600,"$height" \
    --screenshot="$out" "file://$tmp/page.html" >"$tmp/chromium.log" 2>&1 \
    || { cat "$tmp/chromium.log" >&2; exit 1; }
echo "wrote $out (1600x$height, $(wc -c <"$out") bytes)"
