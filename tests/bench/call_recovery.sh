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
# $bin, $chromium, check_prerequisites, scratch_dir ($dir and WARDLINE_DATA_DIR, cleaned up on
# exit), free_port, create_admin ($admin_phone, $admin_password), start_server ($base).
. tests/bench/lib/server.sh

check_prerequisites "the SMS code is read from SQLite"
scratch_dir
turn_port=$(free_port SOCK_DGRAM)
export WARDLINE_TURN_LISTEN="127.0.0.1:$turn_port"
export WARDLINE_TURN_PUBLIC_IP=127.0.0.1
export WARDLINE_TURN_ALLOW_PRIVATE_PEERS=true
create_admin
start_server
echo "server: $bin at $base, embedded TURN on udp 127.0.0.1:$turn_port"

WARDLINE_TEST_CHROMIUM="$chromium" WL_DB="$WARDLINE_DATA_DIR/wardline.db" WL_TURN_PORT="$turn_port" \
  WL_ADMIN_PHONE="$admin_phone" WL_ADMIN_PASSWORD="$admin_password" node tests/bench/call_recovery.mjs "$base" "$runs"
