#!/usr/bin/env bash
# Render resources/icons/sagan-studio.svg to the PNGs the app, the wheel and the desktop entry
# use. The PNGs are committed, so only someone who edits the SVG needs this (and rsvg-convert:
# `apt-get install librsvg2-bin` on Debian/Ubuntu, `brew install librsvg` on macOS).
#   sagan-studio.png      256 px: window icon, PyInstaller icon, hicolor 256x256
#   sagan-studio-N.png    N in 16 32 48 128: small sizes, drawn from the same SVG
set -euo pipefail

ICONS="$(cd "$(dirname "${BASH_SOURCE[0]}")/../resources/icons" && pwd)"
SVG="$ICONS/sagan-studio.svg"

command -v rsvg-convert >/dev/null || {
    echo "render_icons.sh: rsvg-convert not found (apt-get install librsvg2-bin)" >&2
    exit 1
}

rsvg-convert --width 256 --height 256 "$SVG" --output "$ICONS/sagan-studio.png"
for size in 16 32 48 128; do
    rsvg-convert --width "$size" --height "$size" "$SVG" --output "$ICONS/sagan-studio-$size.png"
done
ls -l "$ICONS"
