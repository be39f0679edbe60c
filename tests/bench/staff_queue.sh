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
# $bin, $chromium, check_prerequisites, scratch_dir ($dir and WARDLINE_DATA_DIR, cleaned up on
# exit), create_admin ($admin_phone, $admin_password), start_server ($base).
. tests/bench/lib/server.sh

check_prerequisites "the SMS codes are read from SQLite"
scratch_dir
export WARDLINE_TURN_LISTEN=
# No per-resident limits: four residents file all the reports within the hour.
export WARDLINE_REPORTS_PER_RESIDENT_PER_HOUR=0
export WARDLINE_UPLOADS_PER_RESIDENT_PER_HOUR=0
create_admin
start_server
echo "server: $bin at $base"

WARDLINE_TEST_CHROMIUM="$chromium" WL_DB="$WARDLINE_DATA_DIR/wardline.db" WL_ADMIN_PHONE="$admin_phone" \
  WL_ADMIN_PASSWORD="$admin_password" node tests/bench/staff_queue.mjs "$base" "$runs"
