#!/usr/bin/env bash
# Benchmark P1: public map and bbox-list queries over many synthetic reports.
# Target: p99 <= 20 ms for every query kind, on SQLite and on PostgreSQL. The example measures and
# prints p50/p95/p99/max per kind; this script asserts nothing.
#
# Usage: tests/bench/map_bench.sh [reports] [queries]   (defaults 1000000 and 500)
#
# * SQLite: always, on a fresh file in a temporary directory (removed afterwards).
# * PostgreSQL: only if WARDLINE_BENCH_POSTGRES_URL is set, e.g.
#     WARDLINE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres tests/bench/map_bench.sh
#   The URL must let psql create databases; a throwaway database wl_bench_<random> is created on
#   that server, used, and dropped afterwards (also on failure).
# Set MAP_BENCH_KEEP=1 to keep the SQLite file and the PostgreSQL database (for EXPLAIN); their
# location/name is printed.
#
# Needs: cargo; psql for the PostgreSQL run. Loading 1M rows takes a few minutes per backend.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
reports="${1:-1000000}"
queries="${2:-500}"
keep="${MAP_BENCH_KEEP:-0}"

work=$(mktemp -d)
pg_admin_url=""
pg_db=""
cleanup() {
  if [[ "$keep" != 1 ]]; then
    rm -rf "$work"
    if [[ -n "$pg_db" ]]; then
      psql -q -X -d "$pg_admin_url" -c "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null || true
    fi
  else
    echo "kept: $work/bench.db${pg_db:+ and PostgreSQL database $pg_db}"
  fi
}
trap cleanup EXIT

cargo build --release --locked --quiet --example map_bench
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/map_bench"

echo "== SQLite =="
"$bin" --database-url "sqlite://$work/bench.db" --reports "$reports" --queries "$queries"

if [[ -n "${WARDLINE_BENCH_POSTGRES_URL:-}" ]]; then
  echo
  echo "== PostgreSQL =="
  pg_admin_url="$WARDLINE_BENCH_POSTGRES_URL"
  pg_db="wl_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
  psql -q -X -v ON_ERROR_STOP=1 -d "$pg_admin_url" -c "CREATE DATABASE \"$pg_db\"" >/dev/null
  # Same server and credentials, the throwaway database instead of the one in the URL.
  re='^([a-zA-Z]+://[^/?]*)(/[^?]*)?(\?.*)?$'
  if [[ ! "$pg_admin_url" =~ $re ]]; then
    echo "cannot parse WARDLINE_BENCH_POSTGRES_URL" >&2
    exit 1
  fi
  bench_url="${BASH_REMATCH[1]}/$pg_db${BASH_REMATCH[3]}"
  "$bin" --database-url "$bench_url" --reports "$reports" --queries "$queries"
else
  echo
  echo "PostgreSQL skipped: set WARDLINE_BENCH_POSTGRES_URL to run it."
fi
