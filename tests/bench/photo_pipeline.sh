#!/usr/bin/env bash
# Photo pipeline against libvips on a 12-megapixel phone-like JPEG (4000x3000, 4:2:0).
# Target (issue 21): our CPU time per photo <= 0.7x that of
#   vipsthumbnail in.jpg --size 2048x2048 -o out.jpg[Q=82,strip]
# Ours does more: EXIF read, SHA-256 of the original and a 320 px thumbnail besides the 2048 px copy.
# Both run alternately in one process (examples/photo_pipeline.rs); libvips is timed per process,
# as it is used from the command line, and its start-up alone is printed too.
# Usage: tests/bench/photo_pipeline.sh [runs] (default 7). Installs libvips-tools and imagemagick
# (to make the input) with apt-get when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-7}"

need=()
command -v vipsthumbnail >/dev/null 2>&1 || need+=(libvips-tools)
convert="${CONVERT:-$(command -v convert || true)}"
[[ -n "$convert" ]] && "$convert" -version 2>/dev/null | grep -q ImageMagick || need+=(imagemagick)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  convert="${CONVERT:-$(command -v convert)}"
fi
echo "libvips: $(vipsthumbnail --vips-version 2>/dev/null | head -1)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Photo-like content: a fractal plasma scaled up plus sensor-like noise, so the JPEG carries real
# high-frequency detail; 4:2:0 chroma like a phone camera (ImageMagick writes 4:4:4 at Q>=90).
"$convert" -seed 42 -size 1000x750 plasma:fractal -resize '4000x3000!' \
  -attenuate 0.4 +noise Gaussian -sampling-factor 2x2 -quality 90 "$work/in.jpg"
echo "input: $("$convert" -format '%wx%h' "$work/in.jpg" info:) JPEG, $(stat -c %s "$work/in.jpg") bytes"

cargo build --release --locked --quiet --example photo_pipeline
"${CARGO_TARGET_DIR:-target}/release/examples/photo_pipeline" \
  "$work/in.jpg" "$runs" "$work/ours.jpg" "$(command -v vipsthumbnail)"
echo "pipeline output: $("$convert" -format '%wx%h' "$work/ours.jpg" info:), $(stat -c %s "$work/ours.jpg") bytes"
