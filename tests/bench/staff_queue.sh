#!/usr/bin/env bash
# The staff console's queue with 1,000 open reports (issue 18): time from the data to the rendered
# list, and the console's first-load bytes (goal: <= 150 KB compressed, without photos).
#
# Makes an admin with the CLI (`wardline admin create-user`, one-time password) in a scratch data
# dir, starts the server ($WARDLINE_BIN, default target/release/wardline: build it with
# `cargo build --release` first) on a free port with the embedded TURN server off and no per-resident
# report or upload limits, waits for /readyz, then tests/bench/staff_queue.mjs seeds through the API
# (staff account, unit and membership, categories routed to it, REPORTS=1000 reports from four
# residents signed in by SMS code read from the server's outbox, 16 at a time) and drives Debian's
# chromium (/usr/bin/chromium) with playwright-core: per run, a cold load of /staff/ with the staff
# member's tokens, a reload and an in-app navigation to the queue. It prints the medians of
# navigation -> rows rendered and queue API answered -> rows rendered (see the .mjs for the exact
# definitions), the queue API's own time, and the first load's bytes split HTML/JS/CSS/API.
#
# Needs the browser tests' packages: tests/web/node_modules (scripts/test-all installs them once;
# or `cd tests/web && npm ci`) and python3 (the SMS codes are read from SQLite). A debug build
# serves the web files from disk and unoptimised: its figures are only a dry run.
#
# Usage: tests/bench/staff_queue.sh [runs]   (default 5; REPORTS=n for another queue size)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-5}"
bin="${WARDLINE_BIN:-target/release/wardline}"
chromium="${WARDLINE_TEST_CHROMIUM:-/usr/bin/chromium}"

[ -x "$bin" ] || { echo "no server binary at $bin: run 'cargo build --release', or set WARDLINE_BIN" >&2; exit 2; }
[ -x "$chromium" ] || { echo "no chromium at $chromium: apt-get install chromium" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed (the SMS codes are read from SQLite)" >&2; exit 2; }
if [ ! -d tests/web/node_modules/playwright-core ]; then
  echo "tests/web/node_modules/playwright-core is missing: run scripts/test-all once (it installs the" >&2
  echo "browser tests' packages), or 'cd tests/web && npm ci'" >&2
  exit 2
fi
if command -v readelf >/dev/null && readelf -S "$bin" 2>/dev/null | grep -q '\.debug_info'; then
  echo "note: $bin is a debug build (web files read from disk, unoptimised): a dry run, not figures to quote"
fi

dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export WARDLINE_DATA_DIR="$dir/data"
export WARDLINE_TURN_LISTEN=
export WARDLINE_REPORTS_PER_RESIDENT_PER_HOUR=0
export WARDLINE_UPLOADS_PER_RESIDENT_PER_HOUR=0
export WARDLINE_LOG_FILTER=error
admin_phone=0900000001
"$bin" admin create-user --role admin --phone "$admin_phone" --name "Quản trị viên" >"$dir/admin.out" 2>"$dir/admin.err" || {
  echo "creating the admin failed:" >&2; cat "$dir/admin.out" "$dir/admin.err" >&2; exit 1; }
admin_password=$(tail -n 1 "$dir/admin.out")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
WARDLINE_LISTEN="127.0.0.1:$port" "$bin" serve >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "the server died:" >&2; cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs "$base/readyz" >/dev/null || { echo "the server was not ready within 60 s" >&2; exit 1; }
echo "server: $bin at $base"

WARDLINE_TEST_CHROMIUM="$chromium" WL_DB="$WARDLINE_DATA_DIR/wardline.db" WL_ADMIN_PHONE="$admin_phone" \
  WL_ADMIN_PASSWORD="$admin_password" node tests/bench/staff_queue.mjs "$base" "$runs"
