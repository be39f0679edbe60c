#!/usr/bin/env bash
# Gate 10's mixed load (examples/load.rs) against a release build: the real binary on embedded
# SQLite, the maximum measured closed-loop at a few concurrencies, then an open-loop run at a
# fraction of it; exits non-zero on any error. The test suite runs the same program on the
# debug build. Usage: tests/bench/load.sh [run_secs=60] [probe_secs=5] [levels=4,16,64]
# [fraction=0.8]. Builds the release binary and the example first if needed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
cargo build --release --locked --quiet --bin wardline --example load
target="${CARGO_TARGET_DIR:-target}"
exec "$target/release/examples/load" bin="$target/release/wardline" "$@"
