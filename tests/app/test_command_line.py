"""``sagan-studio`` / ``python -m app``: --version and --help work without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagan_engine import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argument, expected", [("--version", __version__), ("--help", "--run")])
def test_runs_without_a_display(argument, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = subprocess.run(
        [sys.executable, "-m", "app", argument],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_parsing_does_not_import_qt():
    code = (
        "import sys; from app.main import build_parser; build_parser().parse_args(['--demo']);"
        "print(any(m.startswith('PySide6') for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr
