#!/usr/bin/env bash
# Build the standalone one-folder bundle dist/sagan-studio/ with PyInstaller (recipe:
# packaging/sagan-studio.spec), then check that both of its programs start. Works from any
# directory. PyInstaller freezes the packages of the environment it runs in: the repository's
# .venv by default (`make setup` makes it), or the interpreter named by PYTHON.
#
# Environment:
#   PYTHON     interpreter whose environment is frozen (default: <repo>/.venv/bin/python)
#   DIST_DIR   where the bundle goes (default: <repo>/dist)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
WORK_DIR="$ROOT/build/pyinstaller"

fail() { printf '\nbuild_bundle.sh: FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x $PYTHON ]] || fail "no interpreter at $PYTHON: run \`make setup\` or set PYTHON"
"$PYTHON" -c "import app, sagan_engine, sagan_studio_resources" \
    || fail "$PYTHON cannot import the project: pip install -e . into it first"
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "== installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install --quiet "pyinstaller>=6" || fail "pip install pyinstaller"
fi

echo "== building dist/sagan-studio with PyInstaller $("$PYTHON" -m PyInstaller --version)"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST_DIR" --workpath "$WORK_DIR" "$ROOT/packaging/sagan-studio.spec" \
    || fail "PyInstaller"

bundle="$DIST_DIR/sagan-studio"
# Run from an empty directory so that nothing is imported from the checkout by accident.
cd "$(mktemp -d)"
echo "== $bundle/sagan-studio --version"
QT_QPA_PLATFORM=offscreen "$bundle/sagan-studio" --version || fail "sagan-studio --version"
echo "== $bundle/sagan-engine --help"
"$bundle/sagan-engine" --help >/dev/null || fail "sagan-engine --help"
echo "== Qt, pyqtgraph, PyTorch, the main window's modules and the resources load"
QT_QPA_PLATFORM=offscreen SAGAN_STUDIO_BUNDLE_CHECK=1 "$bundle/sagan-studio" \
    || fail "the bundle check of sagan-studio (see packaging/studio_entry.py)"

printf '\nOK: %s (%s)\n' "$bundle" "$(du -sh "$bundle" | cut -f1)"
