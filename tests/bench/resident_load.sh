#!/usr/bin/env bash
# First load of the resident app (`/`) on an emulated phone on a slow mobile network (issue 20's
# goals: first-load JS+CSS <= 100 KB compressed; repeat visit interactive <= 1 s).
#
# Starts the server ($WARDLINE_BIN, default target/release/wardline: build it with
# `cargo build --release` first) on a free port with a scratch data dir, waits for /readyz, then
# tests/bench/resident_load.mjs drives Debian's chromium (/usr/bin/chromium) with playwright-core
# on a Pixel 5 profile, with CDP network throttling at Lighthouse's mobile "slow 4G" DevTools
# numbers (request latency 150 ms x 3.75 = 562.5 ms; download 1.6 Mbit/s x 0.9 = 188743 B/s;
# upload 750 kbit/s x 0.9 = 86400 B/s) and the CPU 4x slower (Emulation.setCPUThrottlingRate),
# and prints the medians over [runs] of: first visit FCP, interactive (DOMContentLoaded fired, so
# the main module ran, and the sign-in form's "Số điện thoại" box visible and enabled), bytes
# transferred (all; JS+CSS; compressed, headers included), the service worker's precache, and the
# repeat visit (same context: service worker and HTTP cache) FCP and interactive.
#
# Then, unless LIGHTHOUSE=0, Lighthouse (npm `lighthouse`, installed once into
# ~/.cache/wardline/lighthouse-<version>; skipped with a note when npm cannot reach the registry)
# runs once against the same server with the same chromium (--headless=new --no-sandbox) and its
# default mobile settings: simulated throttling (Lantern) with the same slow-4G profile and 4x
# CPU, Moto G Power screen. It prints the performance and accessibility scores and its metrics.
#
# Needs the browser tests' packages: tests/web/node_modules (scripts/test-all installs them once;
# or `cd tests/web && npm ci`). A debug build serves the web files from disk and unoptimised:
# its figures are only a dry run.
#
# Usage: tests/bench/resident_load.sh [runs]   (default 5)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-5}"
lh_version=13.5.0
# $bin, $chromium, check_prerequisites, scratch_dir ($dir, cleaned up on exit), start_server.
. tests/bench/lib/server.sh

check_prerequisites
scratch_dir
export WARDLINE_TURN_LISTEN= # the embedded TURN server off: no call here
start_server
echo "server: $bin at $base"

WARDLINE_TEST_CHROMIUM="$chromium" node tests/bench/resident_load.mjs "$base" "$runs"

if [ "${LIGHTHOUSE:-1}" != "0" ]; then
  echo
  lh_dir="${XDG_CACHE_HOME:-$HOME/.cache}/wardline/lighthouse-$lh_version"
  lh="$lh_dir/node_modules/lighthouse/cli/index.js"
  if [ ! -f "$lh" ]; then
    mkdir -p "$lh_dir"
    if ! npm install --prefix "$lh_dir" --no-audit --no-fund --loglevel=error "lighthouse@$lh_version" \
      >"$dir/npm.log" 2>&1; then
      echo "Lighthouse: 'npm install lighthouse@$lh_version' failed (no registry?); skipped."
      tail -3 "$dir/npm.log"
      exit 0
    fi
  fi
  echo "Lighthouse $lh_version (mobile defaults: simulated slow 4G, 4x CPU; one run, cold profile):"
  if node "$lh" "$base/" --chrome-path="$chromium" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --lang=vi-VN" \
    --only-categories=performance,accessibility --output=json --output-path="$dir/lh.json" \
    --quiet >"$dir/lh.log" 2>&1; then
    python3 - "$dir/lh.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
cats = r["categories"]
print(f"  performance {round(cats['performance']['score'] * 100)}, "
      f"accessibility {round(cats['accessibility']['score'] * 100)}")
a = r["audits"]
shown = []
for key in ["first-contentful-paint", "largest-contentful-paint", "speed-index", "interactive",
            "total-blocking-time", "total-byte-weight"]:
    if key in a and a[key].get("displayValue"):
        shown.append(f"{a[key]['title']}: {a[key]['displayValue']}")
print("  " + "; ".join(shown))
for w in r.get("runWarnings") or []:
    print("  warning: " + w)
EOF
  else
    echo "Lighthouse failed; its log:"
    tail -20 "$dir/lh.log"
  fi
fi
