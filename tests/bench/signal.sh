#!/usr/bin/env bash
# Signaling benchmarks (issue 6):
#   P4 memory per idle authenticated signaling socket with N sockets open, beside the PeerJS
#      server (npm peer, pinned in tests/bench/peer) under the same number of sockets (target, issue
#      21: <= 7 KB each, below PeerJS);
#   P5 relay throughput and latency at 1,000 msg/s against a bare tokio-tungstenite relay, same run
#      (targets: >= 0.8x its throughput, p99 <= 2 ms);
#   P6 the same with the two participants on two instances sharing PostgreSQL (target: <= +5 ms p99).
# Release build, embedded SQLite for P4/P5; P6 uses the PostgreSQL at $WARDLINE_BENCH_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/postgres), creating and dropping a scratch database.
# Usage: tests/bench/signal.sh [sockets] [seconds]   (defaults 10000, 10)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n="${1:-10000}"
secs="${2:-10}"
ulimit -n "$(( n + 1000 > 20000 ? n + 1000 : 20000 ))" 2>/dev/null || true
cargo build --release --locked --quiet --bin wardline --example signal_bench
target="${CARGO_TARGET_DIR:-$PWD/target}"
bin=$target/release/wardline
bench=$target/release/examples/signal_bench
secret=signal-bench-secret-signal-bench-secret
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss() { grep VmRSS "/proc/$1/status" | awk '{print $2}'; }
serve() { # data_dir port [database_url]
  WARDLINE_DATA_DIR="$1" WARDLINE_LISTEN="127.0.0.1:$2" WARDLINE_JWT_SECRET=$secret \
  WARDLINE_DATABASE_URL="${3:-}" WARDLINE_TURN_LISTEN= WARDLINE_LOG_FILTER=error \
  WARDLINE_RTC_PING_SECS=3600 WARDLINE_RTC_MESSAGES_PER_SEC=1000000 \
  WARDLINE_MAX_CONNECTIONS_PER_IP=1000000 "$bin" serve &
  pids+=($!)
  until curl -fs "http://127.0.0.1:$2/readyz" >/dev/null; do sleep 0.05; done
}

echo "== setup: $(( (n + 1) / 2 )) admitted consultations, $n room tokens"
"$bench" setup "$dir/sqlite" "$(( (n + 1) / 2 ))" >/dev/null
port=$(free_port)
serve "$dir/sqlite" "$port"
pid=${pids[-1]}
sleep 1
before=$(rss "$pid")

echo "== P4: $n signaling sockets"
mkfifo "$dir/hold"
"$bench" sockets "ws://127.0.0.1:$port" "$dir/sqlite/tokens.txt" "$n" <"$dir/hold" >"$dir/sockets.out" &
client=$!
exec 3>"$dir/hold"
until grep -q READY "$dir/sockets.out" 2>/dev/null; do
  kill -0 "$client" 2>/dev/null || { cat "$dir/sockets.out"; echo "the socket client failed" >&2; exit 1; }
  sleep 0.2
done
sleep 2
after=$(rss "$pid")
grep sockets "$dir/sockets.out"
echo "server RSS: $before kB idle, $after kB with $n sockets -> $(( (after - before) * 1024 / n )) bytes per socket"
exec 3>&-
wait "$client" || true

echo "== P4, anchor: the PeerJS server (npm peer, Node $(node --version)) with $n idle sockets"
# Installed once from the committed lock file into a cache outside the clone.
peer_dir="${WARDLINE_CACHE:-$HOME/.cache/wardline}/bench-peer-$(sha256sum tests/bench/peer/package-lock.json | cut -c1-16)"
if [[ ! -x "$peer_dir/node_modules/.bin/peerjs" ]]; then
  mkdir -p "$peer_dir"
  cp tests/bench/peer/package.json tests/bench/peer/package-lock.json "$peer_dir/"
  (cd "$peer_dir" && npm ci --no-audit --no-fund --silent)
fi
pport=$(free_port)
"$peer_dir/node_modules/.bin/peerjs" --port "$pport" --key peerjs >/dev/null 2>&1 &
pids+=($!)
ppid_=${pids[-1]}
until curl -fs "http://127.0.0.1:$pport/peerjs/id?key=peerjs" >/dev/null 2>&1; do sleep 0.1; done
sleep 1
pbefore=$(rss "$ppid_")
mkfifo "$dir/phold"
# Run from beside its node_modules (ES modules resolve packages from the script's folder).
cp tests/bench/peer/sockets.mjs "$peer_dir/"
node "$peer_dir/sockets.mjs" "ws://127.0.0.1:$pport" "$n" \
  <"$dir/phold" >"$dir/psockets.out" 2>&1 &
pclient=$!
exec 4>"$dir/phold"
until grep -q READY "$dir/psockets.out" 2>/dev/null; do
  kill -0 "$pclient" 2>/dev/null || { cat "$dir/psockets.out"; echo "the PeerJS client failed" >&2; exit 1; }
  sleep 0.2
done
sleep 2
pafter=$(rss "$ppid_")
grep sockets "$dir/psockets.out"
echo "PeerJS RSS: $pbefore kB idle, $pafter kB with $n sockets -> $(( (pafter - pbefore) * 1024 / n )) bytes per socket"
echo "per socket, Wardline/PeerJS: $(awk -v w=$(( (after - before) * 1024 / n )) -v p=$(( (pafter - pbefore) * 1024 / n )) 'BEGIN { printf "%.2fx", w / p }') (target: <= 7 KB and below PeerJS)"
exec 4>&-
wait "$pclient" || true
kill "$ppid_" 2>/dev/null || true

echo "== P5: relay on one instance (SQLite)"
"$bench" relay "ws://127.0.0.1:$port" "$dir/sqlite/tokens.txt" "$secs"

echo "== P6: relay across two instances sharing PostgreSQL"
pg="${WARDLINE_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="wl_bench_$$"
if psql "$pg" -qc "CREATE DATABASE $db" >/dev/null 2>&1; then
  url="${pg%/*}/$db"
  "$bench" setup "$dir/pg" 2 "$url" >/dev/null
  p1=$(free_port); p2=$(free_port)
  serve "$dir/pg" "$p1" "$url"
  mkdir -p "$dir/pg2"
  serve "$dir/pg2" "$p2" "$url"
  "$bench" relay "ws://127.0.0.1:$p1" "ws://127.0.0.1:$p2" "$dir/pg/tokens.txt" "$secs" || true
  for p in "${pids[@]: -2}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
else
  echo "PostgreSQL not reachable at $pg: P6 skipped"
fi
