# The set-up the browser benchmarks (resident_load.sh, staff_queue.sh, call_recovery.sh) share:
# one place for how they find the server binary and chromium, check the browser tests' packages,
# start the server on a free port with a scratch data dir, wait until it is ready and clean up,
# so a change there (a new readiness rule, a flag) does not have to be made three times.
#
# Sourced, not run: from the repository root (the scripts cd there first), after
# `set -euo pipefail`, so a failing step here stops the script as it would inline. It sets
#   bin       the server binary ($WARDLINE_BIN, default target/release/wardline);
#   chromium  the browser ($WARDLINE_TEST_CHROMIUM, default Debian's /usr/bin/chromium);
# and defines the functions below. The scripts keep what is their own (the TURN settings, the
# limits, what the .mjs is told) and export it before start_server: the server inherits it.

bin="${WARDLINE_BIN:-target/release/wardline}"
chromium="${WARDLINE_TEST_CHROMIUM:-/usr/bin/chromium}"

# check_prerequisites [why python3 is needed]
# Fails early, with the command that fixes it, rather than deep in a run: no server binary, no
# chromium, no playwright-core in tests/web/node_modules (the browser tests install it; the
# benchmarks reuse it instead of downloading a browser), or no python3 when the caller says it
# needs it. Notes a debug build: it serves the web files from disk and unoptimised, so its
# figures are only a dry run.
check_prerequisites() {
  [ -x "$bin" ] || { echo "no server binary at $bin: run 'cargo build --release', or set WARDLINE_BIN" >&2; exit 2; }
  [ -x "$chromium" ] || { echo "no chromium at $chromium: apt-get install chromium" >&2; exit 2; }
  if [ -n "${1:-}" ]; then
    command -v python3 >/dev/null || { echo "python3 is needed ($1)" >&2; exit 2; }
  fi
  if [ ! -d tests/web/node_modules/playwright-core ]; then
    echo "tests/web/node_modules/playwright-core is missing: run scripts/test-all once (it installs the" >&2
    echo "browser tests' packages), or 'cd tests/web && npm ci'" >&2
    exit 2
  fi
  if command -v readelf >/dev/null && readelf -S "$bin" 2>/dev/null | grep -q '\.debug_info'; then
    echo "note: $bin is a debug build (web files read from disk, unoptimised): a dry run, not figures to quote"
  fi
}

# scratch_dir
# A fresh temporary directory, $dir, for the server's data ($dir/data, exported as
# WARDLINE_DATA_DIR so the CLI and the server use the same one) and the logs; every run starts
# from an empty database. The EXIT trap stops the server (if start_server got that far) and
# removes the directory whatever way the script ends; Ctrl-C and TERM go through it too
# (`exit 130` runs the EXIT trap, where a bare signal would kill bash without it).
# Also exports WARDLINE_LOG_FILTER=error: the server's log is only read when it dies.
scratch_dir() {
  dir=$(mktemp -d)
  pid=""
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  export WARDLINE_DATA_DIR="$dir/data"
  export WARDLINE_LOG_FILTER=error
}
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

# free_port [SOCK_STREAM|SOCK_DGRAM]
# A port of 127.0.0.1 free right now (TCP by default), from the kernel: binding port 0 and
# reading it back avoids clashing with another server or benchmark running on this host.
free_port() {
  python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.${1:-SOCK_STREAM}); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"
}

# create_admin
# An admin account made with the CLI in the scratch data dir (before the server opens it), as an
# operator would: sets $admin_phone and $admin_password (the one-time password the CLI prints
# last; the .mjs changes it on its first sign-in).
create_admin() {
  admin_phone=0900000001
  "$bin" admin create-user --role admin --phone "$admin_phone" --name "Quản trị viên" >"$dir/admin.out" 2>"$dir/admin.err" || {
    echo "creating the admin failed:" >&2; cat "$dir/admin.out" "$dir/admin.err" >&2; exit 1; }
  admin_password=$(tail -n 1 "$dir/admin.out")
}

# start_server
# Starts `$bin serve` on a free port of 127.0.0.1 (sets $port, $base and $pid; its output goes to
# $dir/server.log) and waits, up to 60 s, for /readyz (the listener up, the database and the
# object store answering), so nothing the scripts measure includes the server's start. If the
# server exits meanwhile, its log is shown at once instead of waiting out the 60 s.
start_server() {
  port=$(free_port)
  base="http://127.0.0.1:$port"
  WARDLINE_LISTEN="127.0.0.1:$port" "$bin" serve >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "the server died:" >&2; cat "$dir/server.log" >&2; exit 1; }
    sleep 0.1
  done
  curl -fs "$base/readyz" >/dev/null || { echo "the server was not ready within 60 s" >&2; exit 1; }
}
