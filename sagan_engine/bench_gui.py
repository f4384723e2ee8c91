"""What the live window costs training: ``benchmarks/gui_cost.py`` (offscreen Qt) run in a
process of its own, so that the engine never imports Qt."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .bench_report import GuiCost
from .bench_timing import BENCHMARKS_DIR, subprocess_env
from .config import RunConfig

GUI_SCRIPT = BENCHMARKS_DIR / "gui_cost.py"


def gui_cost(
    config: RunConfig, seconds: float, warmup_seconds: float, threads: int | None = None
) -> GuiCost:
    """Run ``benchmarks/gui_cost.py`` on ``config`` for ``seconds`` per window, if the app is
    here; a :class:`GuiCost` whose status says why not otherwise."""
    if not GUI_SCRIPT.is_file():
        return GuiCost("n/a (benchmarks/gui_cost.py not found)")
    try:
        found = importlib.util.find_spec("app.training_worker") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return GuiCost("n/a (app not importable)")
    with tempfile.TemporaryDirectory(prefix="sagan-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "config.json", Path(tmp) / "gui.json"
        config.save(spec_path)
        env = subprocess_env(QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        command = [
            sys.executable,
            str(GUI_SCRIPT),
            "--config",
            str(spec_path),
            "--seconds",
            str(seconds),
            "--warmup-seconds",
            str(warmup_seconds),
            *(["--threads", str(threads)] if threads else []),
            "--json",
            str(out_path),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out_path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return GuiCost("n/a (gui_cost.py failed: " + " | ".join(tail) + ")")
        return GuiCost(**json.loads(out_path.read_text(encoding="utf-8")))
