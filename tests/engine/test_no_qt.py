"""The engine is a library first: it never imports Qt (DESIGN.md, rules of the house); the
image-folder modules do not import torch either."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import sagan_engine
from sagan_engine import data, data_cache, data_cache_build, data_decode, data_scan, training_data

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


@pytest.mark.parametrize(
    "module",
    [data, data_scan, data_decode, data_cache, data_cache_build, training_data],
    ids=lambda m: m.__name__,
)
def test_data_module_imports_neither_qt_nor_torch(module):
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & {"torch", "PySide6", "PyQt5", "PyQt6", "pyqtgraph", "qtpy"}
