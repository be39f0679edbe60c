#!/usr/bin/env bash
# Cold start to ready on the embedded defaults (SQLite + local disk): a fresh data dir each run,
# time from exec to the first 200 from /readyz. Usage: tests/bench/startup.sh [runs] (default 5).
# Builds the release binary first if needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-5}"
cargo build --release --locked --quiet
bin=target/release/wardline
echo "release binary: $(du -h "$bin" | cut -f1) ($(stat -c %s "$bin") bytes)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for i in $(seq "$runs"); do
  dir=$(mktemp -d)
  start=$(date +%s%N)
  WARDLINE_DATA_DIR="$dir" WARDLINE_LISTEN="127.0.0.1:$port" RUST_LOG=warn "$bin" serve &
  pid=$!
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "server died" >&2; exit 1; }
    sleep 0.002
  done
  end=$(date +%s%N)
  echo "run $i: cold start to ready $(( (end - start) / 1000000 )) ms"
  kill -TERM "$pid"; wait "$pid" || true
  rm -rf "$dir"
done
