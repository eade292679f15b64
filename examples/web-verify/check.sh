#!/usr/bin/env bash
# Headless check of the web verifier with Debian's chromium: serves the repository root on a
# free loopback port, loads the page for an intact sample and for a tampered bundle, checks the
# rendered verdicts in the DOM and writes screenshots to $OUT (default target/web-verify).
# Needs bindings/wasm/pkg-web (scripts/test-bindings builds it).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/target/web-verify}
mkdir -p "$OUT"
[ -f "$ROOT/bindings/wasm/pkg-web/breeze_wasm.js" ] || { echo "error: build bindings/wasm/pkg-web first (scripts/test-bindings)" >&2; exit 1; }
CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || { echo "error: chromium not installed (apt-get install chromium)" >&2; exit 1; }

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$ROOT" >"$OUT/http.log" 2>&1 &
SERVER=$!
PROFILE=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$PROFILE"' EXIT
for _ in $(seq 50); do python3 -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:$PORT/')" 2>/dev/null && break; sleep 0.1; done

chrome() { # chrome URL ARGS... : one headless run with a fresh profile
  local url=$1; shift
  rm -rf "$PROFILE"/*
  timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$PROFILE" \
    --virtual-time-budget=10000 --window-size=1000,640 "$@" "$url" 2>>"$OUT/chromium.log"
}

fail=0
check() { # check NAME QUERY EXPECTED_TEXT
  local name=$1 query=$2 want=$3
  local url="http://127.0.0.1:$PORT/examples/web-verify/index.html?$query"
  chrome "$url" --dump-dom >"$OUT/$name.html"
  chrome "$url" --screenshot="$OUT/$name.png" >/dev/null
  if grep -q "$want" "$OUT/$name.html"; then
    echo "web-verify $name: ok ($want) -> $OUT/$name.png"
  else
    echo "web-verify $name: FAILED, expected '$want' in the rendered page ($OUT/$name.html)"; fail=1
  fi
}
check intact "sample=full" "Verified: the chain is intact"
check tampered "tampered=$(python3 -c "import json;print(json.load(open('$ROOT/vectors/audit/tampered.json'))['cases'][0]['name'])")" \
  "Broken: $(python3 -c "import json;c=json.load(open('$ROOT/vectors/audit/tampered.json'))['cases'][0]['expected'];print(c['kind'],'at sequence',c['sequence'])")"
exit $fail
