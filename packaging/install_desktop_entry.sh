#!/usr/bin/env bash
# Install (or remove) SAGAN Studio's freedesktop menu entry and icon for the current user:
#   $XDG_DATA_HOME/applications/sagan-studio.desktop            (default ~/.local/share)
#   $XDG_DATA_HOME/icons/hicolor/{16,32,48,128,256}x…/apps/sagan-studio.png
#   $XDG_DATA_HOME/icons/hicolor/scalable/apps/sagan-studio.svg
#
# Usage: packaging/install_desktop_entry.sh [--exec PATH] [--uninstall]
#   --exec PATH   program the menu entry starts. Default: `sagan-studio` as found on PATH, written
#                 as an absolute path, because menus do not see a virtual environment's PATH. Use
#                 it for a PyInstaller bundle: --exec "$PWD/dist/sagan-studio/sagan-studio".
#   --uninstall   remove what an earlier run installed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ICONS="$HERE/../resources/icons"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
HICOLOR="$DATA/icons/hicolor"
SIZES=(16 32 48 128 256)

die() { echo "install_desktop_entry.sh: $*" >&2; exit 1; }

png_for_size() { # the 256 px render is plain sagan-studio.png; smaller ones carry their size
    if [[ $1 == 256 ]]; then echo "$ICONS/sagan-studio.png"; else echo "$ICONS/sagan-studio-$1.png"; fi
}

refresh_caches() { # optional: desktops rescan on their own, only later
    if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$APPS" || true; fi
    # Only refresh an icon cache that already exists: a new one would go stale for other apps.
    if [[ -f $HICOLOR/icon-theme.cache ]] && command -v gtk-update-icon-cache >/dev/null; then
        gtk-update-icon-cache -q -t -f "$HICOLOR" || true
    fi
}

exec_path=""
uninstall=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --exec) [[ $# -ge 2 ]] || die "--exec needs a path"; exec_path="$2"; shift 2 ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done

if [[ $uninstall == 1 ]]; then
    rm -f "$APPS/sagan-studio.desktop" "$HICOLOR/scalable/apps/sagan-studio.svg"
    for size in "${SIZES[@]}"; do rm -f "$HICOLOR/${size}x${size}/apps/sagan-studio.png"; done
    refresh_caches
    echo "Removed the SAGAN Studio menu entry and icons from $DATA"
    exit 0
fi

if [[ -z $exec_path ]]; then
    exec_path="$(command -v sagan-studio || true)"
    [[ -n $exec_path ]] || die "sagan-studio is not on PATH: install the wheel first, activate its
virtual environment, or pass --exec /path/to/sagan-studio"
fi
[[ -x $exec_path ]] || die "'$exec_path' is not an executable file"
exec_path="$(cd "$(dirname "$exec_path")" && pwd)/$(basename "$exec_path")"
# The Exec key has its own quoting rules; refuse the few characters they would need escaped.
[[ $exec_path != *[\"\`\$\\]* ]] || die "the path '$exec_path' contains \", \`, \$ or \\; move it"

mkdir -p "$APPS" "$HICOLOR/scalable/apps"
for size in "${SIZES[@]}"; do
    install -D -m 644 "$(png_for_size "$size")" "$HICOLOR/${size}x${size}/apps/sagan-studio.png"
done
install -m 644 "$ICONS/sagan-studio.svg" "$HICOLOR/scalable/apps/sagan-studio.svg"

entry="$APPS/sagan-studio.desktop"
staged="$(mktemp -d)"
trap 'rm -rf "$staged"' EXIT
sed -e "s|^Exec=sagan-studio |Exec=\"$exec_path\" |" \
    -e "s|^TryExec=sagan-studio\$|TryExec=$exec_path|" \
    "$HERE/sagan-studio.desktop" >"$staged/sagan-studio.desktop"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate --no-hints "$staged/sagan-studio.desktop" || die "invalid entry"
fi
install -m 644 "$staged/sagan-studio.desktop" "$entry"
refresh_caches
echo "Installed $entry (Exec: $exec_path) and icons under $HICOLOR"
