#!/usr/bin/env bash
# Peak memory of the server while 20 residents upload an ~8 MB photo at once (target, issue 21:
# peak RSS <= 100 MB). Embedded defaults in a temporary data dir; needs ImageMagick's convert to make the photo.
# Usage: tests/bench/upload_rss.sh [uploads] (default 20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n="${1:-20}"
convert="${CONVERT:-/usr/bin/convert}"
"$convert" -version 2>/dev/null | grep -q ImageMagick || { echo "needs ImageMagick: apt-get install imagemagick" >&2; exit 1; }
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/wardline"
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export WARDLINE_DATA_DIR="$dir" WARDLINE_LISTEN="127.0.0.1:$port" RUST_LOG=warn
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
password=$("$bin" admin create-user --role staff --phone 0900000999 --name Bench | tail -n 1)
"$bin" serve & pid=$!
until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.05; done
token=$(curl -fs -H 'content-type: application/json' -d "{\"phone\":\"0900000999\",\"password\":\"$password\"}" \
  "http://127.0.0.1:$port/v1/auth/login" | python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
# A one-time password must be changed before anything else (403 password_change_required).
curl -fs -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"current_password\":\"$password\",\"new_password\":\"bench-password-2026\"}" \
  "http://127.0.0.1:$port/v1/me/password"
token=$(curl -fs -H 'content-type: application/json' -d '{"phone":"0900000999","password":"bench-password-2026"}' \
  "http://127.0.0.1:$port/v1/auth/login" | python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
# A 12-megapixel phone photo of ~8 MB (noise does not compress, so this is the worst case per byte).
"$convert" -size 4000x3000 xc: +noise Random -quality 82 "$dir/photo.jpg"
echo "photo: $(stat -c %s "$dir/photo.jpg") bytes"
echo "RSS before: $(grep VmRSS /proc/$pid/status | awk '{print $2}') kB"
start=$(date +%s%N)
for i in $(seq "$n"); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer $token" -F "file=@$dir/photo.jpg;type=image/jpeg" \
    "http://127.0.0.1:$port/v1/media" > "$dir/status.$i" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
end=$(date +%s%N)
echo "statuses: $(cat "$dir"/status.* | sort | uniq -c | tr '\n' ' ')"
echo "$n uploads in $(( (end - start) / 1000000 )) ms"
echo "peak RSS (VmHWM): $(grep VmHWM /proc/$pid/status | awk '{print $2}') kB"
