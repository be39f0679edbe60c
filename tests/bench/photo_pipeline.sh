#!/usr/bin/env bash
# Photo pipeline against ImageMagick on a 12-megapixel JPEG (4000x3000).
# Target: our median <= 1.0x the median of `convert in.jpg -auto-orient -strip -resize 2048x2048 out.jpg`.
# Usage: tests/bench/photo_pipeline.sh [runs] (default 5). Installs nothing; needs ImageMagick's
# convert (set CONVERT=/path/to/convert to pick a specific one).
#
# ImageMagick is timed per process (exec, read, decode, resize, encode, write) because that is how it
# is used; ours is timed per `process` call in one process (the file is read once, before timing),
# because that is how the server calls it. convert's exec is a few milliseconds of a few hundred.
# Ours also does more: EXIF parsing, SHA-256 of the original and a 320 px thumbnail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-5}"
convert="${CONVERT:-convert}"

if ! "$convert" -version 2>/dev/null | grep -q ImageMagick; then
  echo "ImageMagick's convert is required: apt-get install imagemagick" >&2
  exit 1
fi
echo "$("$convert" -version | head -1)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Photo-like content: a fractal plasma (cheap at 1000x750, slow at full size) scaled up, plus
# sensor-like noise so the JPEG carries real high-frequency detail and a realistic size.
"$convert" -seed 42 -size 1000x750 plasma:fractal -resize '4000x3000!' \
  -attenuate 0.4 +noise Gaussian -quality 90 "$work/in.jpg"
echo "input: $("$convert" -format '%wx%h' "$work/in.jpg" info:) JPEG, $(stat -c %s "$work/in.jpg") bytes"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for i in $(seq "$runs"); do
  start=$(date +%s%N)
  "$convert" "$work/in.jpg" -auto-orient -strip -resize 2048x2048 "$work/im.jpg"
  end=$(date +%s%N)
  awk -v ns=$((end - start)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
done >"$work/im.txt"
im=$(median <"$work/im.txt")
echo "ImageMagick runs (ms): $(tr '\n' ' ' <"$work/im.txt")"

cargo build --release --locked --quiet --example photo_pipeline
cargo run --release --locked --quiet --example photo_pipeline -- \
  "$work/in.jpg" "$runs" "$work/ours.jpg" | tee "$work/ours.txt"
ours=$(awk '/^median_ms/ { print $2 }' "$work/ours.txt")

echo "ImageMagick output: $("$convert" -format '%wx%h' "$work/im.jpg" info:), $(stat -c %s "$work/im.jpg") bytes"
echo "pipeline output:    $("$convert" -format '%wx%h' "$work/ours.jpg" info:), $(stat -c %s "$work/ours.jpg") bytes"
echo "median ImageMagick: ${im} ms"
echo "median pipeline:    ${ours} ms"
awk -v ours="$ours" -v im="$im" 'BEGIN {
  ratio = ours / im
  printf "ratio pipeline/ImageMagick: %.2fx (target <= 1.00x): %s\n", ratio, (ratio <= 1.0 ? "met" : "MISSED")
}'
