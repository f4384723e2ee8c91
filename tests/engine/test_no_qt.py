"""The engine is a library first: it never imports Qt (DESIGN.md, rules of the house)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import sagan_engine

QT_NAMES = ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph", "qtpy")


def test_no_engine_module_mentions_qt_in_its_imports():
    root = Path(sagan_engine.__file__).parent
    for path in root.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert not any(name in stripped for name in QT_NAMES), f"{path.name}: {line}"


def test_importing_every_engine_module_loads_no_qt():
    modules = [
        m.name
        for m in pkgutil.iter_modules(sagan_engine.__path__)
        if m.name not in ("__main__", "bench")
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module('sagan_engine.' + name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_NAMES!r}]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
