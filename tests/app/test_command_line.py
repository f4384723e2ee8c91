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


def test_a_path_from_the_desktop_launcher_opens_data_or_a_run(tmp_path):
    from app.main import parse_arguments

    images = tmp_path / "images"
    images.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    checkpoint = tmp_path / "step_000010.safetensors"
    checkpoint.write_bytes(b"")
    assert parse_arguments([str(images)])[0].data == str(images)
    assert parse_arguments([str(run)])[0].run == str(run)
    assert parse_arguments([str(checkpoint)])[0].run == str(checkpoint)
    # A value of one of Qt's own options is not taken for a path.
    args, qt_args = parse_arguments(["-geometry", "1600x1000", "--demo"])
    assert args.demo and args.path is None and qt_args == ["-geometry", "1600x1000"]
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(SystemExit):
        parse_arguments([str(text_file)])
    # A mistyped path is an error, not a Qt option value quietly passed on.
    with pytest.raises(SystemExit):
        parse_arguments([str(tmp_path / "imagse")])
