#!/usr/bin/env bash
# A telehealth call over the real server and its embedded STUN/TURN (issue 19): admit -> both videos
# playing, and network back -> media flowing again after a cut of the resident's network.
#
# Makes an admin with the CLI (`wardline admin create-user`) in a scratch data dir, starts the
# server ($WARDLINE_BIN, default target/release/wardline: build it with `cargo build --release`
# first) on a free port with the embedded TURN server on a free UDP port of 127.0.0.1
# (WARDLINE_TURN_LISTEN) allowed to relay to private addresses (WARDLINE_TURN_ALLOW_PRIVATE_PEERS:
# everything here is on this host), waits for /readyz, then tests/bench/call_recovery.mjs sets up a
# station, a doctor on duty and a resident through the API and drives Debian's chromium
# (/usr/bin/chromium, fake camera and microphone) with playwright-core: a doctor page and a
# resident page per run, each in its own context with its tokens injected.
#
# The cut is real: the resident's page is made to send its media through the TURN relay only, via a
# UDP forwarder in the script that drops everything while the cut lasts, together with Chromium's
# offline emulation for its HTTP and signaling (offline emulation alone does not stop WebRTC
# media; CUT=signaling measures that case, CUT=media cuts the media path only). See the .mjs for
# the exact definitions. CUT_SECS sets the cut's length (default 5).
#
# Needs the browser tests' packages: tests/web/node_modules (scripts/test-all installs them once;
# or `cd tests/web && npm ci`) and python3 (the resident's SMS code is read from SQLite). A debug
# build's figures are only a dry run.
#
# Usage: tests/bench/call_recovery.sh [runs]   (default 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-10}"
bin="${WARDLINE_BIN:-target/release/wardline}"
chromium="${WARDLINE_TEST_CHROMIUM:-/usr/bin/chromium}"

[ -x "$bin" ] || { echo "no server binary at $bin: run 'cargo build --release', or set WARDLINE_BIN" >&2; exit 2; }
[ -x "$chromium" ] || { echo "no chromium at $chromium: apt-get install chromium" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed (the SMS code is read from SQLite)" >&2; exit 2; }
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

free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
port=$(free_port SOCK_STREAM)
turn_port=$(free_port SOCK_DGRAM)
export WARDLINE_DATA_DIR="$dir/data"
export WARDLINE_TURN_LISTEN="127.0.0.1:$turn_port"
export WARDLINE_TURN_PUBLIC_IP=127.0.0.1
export WARDLINE_TURN_ALLOW_PRIVATE_PEERS=true
export WARDLINE_LOG_FILTER=error
admin_phone=0900000001
"$bin" admin create-user --role admin --phone "$admin_phone" --name "Quản trị viên" >"$dir/admin.out" 2>"$dir/admin.err" || {
  echo "creating the admin failed:" >&2; cat "$dir/admin.out" "$dir/admin.err" >&2; exit 1; }
admin_password=$(tail -n 1 "$dir/admin.out")

base="http://127.0.0.1:$port"
WARDLINE_LISTEN="127.0.0.1:$port" "$bin" serve >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  curl -fs "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "the server died:" >&2; cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
curl -fs "$base/readyz" >/dev/null || { echo "the server was not ready within 60 s" >&2; exit 1; }
echo "server: $bin at $base, embedded TURN on udp 127.0.0.1:$turn_port"

WARDLINE_TEST_CHROMIUM="$chromium" WL_DB="$WARDLINE_DATA_DIR/wardline.db" WL_TURN_PORT="$turn_port" \
  WL_ADMIN_PHONE="$admin_phone" WL_ADMIN_PASSWORD="$admin_password" node tests/bench/call_recovery.mjs "$base" "$runs"
