#!/usr/bin/env bash
# Build the sagan-studio wheel into dist/ and prove it works once installed: a throwaway virtual
# environment gets the wheel and its dependencies, then `sagan-engine --help`,
# `sagan-studio --version` and a look-up of the bundled icon must all succeed. Works from any
# directory; exits non-zero, naming the step, if anything fails.
#
# Environment:
#   PYTHON             interpreter that builds and makes the venv (default: .venv/bin/python of
#                      the repository, else python3)
#   DIST_DIR           where the wheel goes (default: <repo>/dist)
#   TORCH_CONSTRAINTS  pip arguments pinning PyTorch in the test venv (default: the CPU build,
#                      `-c constraints-cpu.txt`, enough to run the entry points; set it empty to
#                      let pip choose)
#   KEEP_VENV=1        keep the test venv and print its path
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ -z ${PYTHON:-} ]]; then
    if [[ -x $ROOT/.venv/bin/python ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
DIST_DIR="${DIST_DIR:-$ROOT/dist}"
TORCH_CONSTRAINTS="${TORCH_CONSTRAINTS--c $ROOT/constraints-cpu.txt}"

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\nbuild_wheel.sh: FAILED: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/sagan-wheel.XXXXXX")"
cleanup() {
    if [[ ${KEEP_VENV:-0} == 1 ]]; then echo "kept the test venv: $work/venv"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step "building the wheel with $PYTHON"
# setuptools stages files in build/lib and reuses them: a module deleted from the source would
# still ship. Start that staging area afresh (build/pyinstaller is the bundle's, left alone).
rm -rf "$ROOT/build/lib" "$ROOT"/build/bdist.*
mkdir -p "$work/wheelhouse"
# From outside the checkout, where the folder build/ would pass for the `build` package.
if (cd "$work" && "$PYTHON" -m build --version >/dev/null 2>&1); then
    (cd "$work" && "$PYTHON" -m build --wheel --outdir "$work/wheelhouse" "$ROOT") \
        || fail "python -m build --wheel"
else
    (cd "$work" && "$PYTHON" -m pip wheel --no-deps --wheel-dir "$work/wheelhouse" "$ROOT") \
        || fail "pip wheel"
fi
built=("$work"/wheelhouse/sagan_studio-*.whl)
[[ ${#built[@]} == 1 && -f ${built[0]} ]] || fail "expected one sagan_studio wheel, got: ${built[*]}"
mkdir -p "$DIST_DIR"
cp "${built[0]}" "$DIST_DIR/"
wheel="$DIST_DIR/$(basename "${built[0]}")"
version="$(basename "$wheel" | cut -d- -f2)"
echo "wheel: $wheel ($(du -h "$wheel" | cut -f1)), version $version"

step "installing it into a fresh venv ($work/venv)"
"$PYTHON" -m venv "$work/venv" || fail "python -m venv"
bin="$work/venv/bin"
"$bin/python" -m pip install --quiet --upgrade pip || fail "upgrading pip in the test venv"
# shellcheck disable=SC2086  # TORCH_CONSTRAINTS is a list of pip arguments
"$bin/python" -m pip install --quiet $TORCH_CONSTRAINTS "$wheel" || fail "pip install $wheel"

# Run from an empty directory so nothing from the checkout can be imported by accident.
mkdir -p "$work/run" && cd "$work/run"

step "sagan-engine --help"
"$bin/sagan-engine" --help || fail "sagan-engine --help exited with $?"

step "sagan-studio --version"
out="$(QT_QPA_PLATFORM=offscreen "$bin/sagan-studio" --version 2>&1)" \
    || fail "sagan-studio --version exited with $?: $out"
echo "$out"
[[ $out == *"$version"* ]] || fail "sagan-studio --version printed '$out', not the wheel's $version"

step "the GUI's modules import (offscreen)"
# --version answers before Qt is imported, so this is what catches a sub-package or a Qt
# dependency missing from the wheel.
QT_QPA_PLATFORM=offscreen "$bin/python" - <<'EOF' || fail "the GUI does not import from the wheel"
import importlib
import pkgutil

from PySide6.QtWidgets import QApplication

import app
import pyqtgraph

qapp = QApplication([])
modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.") if m.name != "app.__main__"]
for name in modules:
    importlib.import_module(name)
print(f"PySide6 + pyqtgraph {pyqtgraph.__version__}; imported {len(modules)} modules of app")
EOF

step "bundled resources"
"$bin/python" - <<'EOF' || fail "the installed wheel lacks its icon or demo data"
from sagan_studio_resources import resource_path

icon = resource_path("icons", "sagan-studio.png")
demo = sorted(resource_path("demo").glob("*/*.png"))
assert icon.is_file(), f"missing {icon}"
assert len(demo) >= 100, f"only {len(demo)} demo images under {resource_path('demo')}"
print(f"icon {icon}\n{len(demo)} demo images")
EOF

printf '\nOK: %s installs, and both entry points run.\n' "$wheel"
