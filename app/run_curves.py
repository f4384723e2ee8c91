"""The curves of a finished (or running) run read from its folder, for File -> Compare runs: the
losses and the quality (multi-scale SWD) over steps, its config, and a note when something is
missing. Plain data and file reading only (it runs in a background job): no Qt here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.metric_history import MetricHistory, cell_number, read_metrics_rows
from sagan_engine.config import RunConfig
from sagan_engine.errors import SaganError
from sagan_engine.run_comparison import differing_settings
from sagan_engine.runs import RunFolder

QUALITY = "swd_avg"


@dataclass
class RunCurves:
    """One run's curves; ``notes`` say what could not be shown, one line each."""

    path: str
    steps: np.ndarray = field(default_factory=lambda: np.empty(0))  # of the losses
    loss_d: np.ndarray = field(default_factory=lambda: np.empty(0))
    loss_g: np.ndarray = field(default_factory=lambda: np.empty(0))
    quality_steps: np.ndarray = field(default_factory=lambda: np.empty(0))
    quality: np.ndarray = field(default_factory=lambda: np.empty(0))  # swd_avg, x1e3
    config: RunConfig | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.path).name


def read_run_curves(path: str | Path) -> RunCurves:
    """Read ``path``'s metrics.csv (losses, and swd_* where the evaluator filled them),
    evaluation.json (on-demand evaluations) and config.json; never raises for a missing or
    unreadable file: it becomes a note."""
    from sagan_engine.metrics import load_evaluations

    run = RunFolder(path)
    curves = RunCurves(str(run.path))
    try:
        curves.config = RunConfig.load(run.config_path)
    except SaganError as err:
        curves.notes.append(f"settings unknown: {err}")
    quality: dict[int, float] = {}
    if not run.metrics_path.is_file():
        curves.notes.append("no metrics.csv: not trained yet, or not a run folder")
    else:
        try:
            history = MetricHistory.from_csv(run.metrics_path)
            curves.steps = history.column("step").copy()
            curves.loss_d = history.column("loss_d").copy()
            curves.loss_g = history.column("loss_g").copy()
            quality.update(_quality_column(run.metrics_path))
            if not len(curves.steps):
                curves.notes.append("metrics.csv holds no training steps yet")
        except SaganError as err:
            curves.notes.append(str(err))
    try:
        for evaluation in load_evaluations(run.path):
            if evaluation.step is not None and QUALITY in evaluation.values:
                quality.setdefault(evaluation.step, evaluation.values[QUALITY])
    except SaganError as err:
        curves.notes.append(str(err))
    if quality:
        steps = sorted(quality)
        curves.quality_steps = np.array(steps, dtype=float)
        curves.quality = np.array([quality[s] for s in steps])
    elif run.metrics_path.is_file():
        curves.notes.append("no quality measured (train.eval_every 0, or not evaluated yet)")
    return curves


def _quality_column(path: Path) -> dict[int, float]:
    """step -> swd_avg of the rows of a metrics.csv where the evaluator filled it."""
    rows = read_metrics_rows(path)
    if not rows or QUALITY not in rows[0] or "step" not in rows[0]:
        return {}
    step, value = rows[0].index("step"), rows[0].index(QUALITY)
    found = {}
    for row in rows[1:]:
        try:
            swd = cell_number(row[value])
            if not math.isnan(swd):
                found[int(cell_number(row[step]))] = swd
        except (ValueError, IndexError):
            continue  # MetricHistory.from_csv already reported a malformed row
    return found


def legend_labels(runs: list[RunCurves]) -> list[str]:
    """Run name plus the settings that differ between the runs whose config could be read,
    e.g. ``"20250101-demo — attention_variant=official, augment=off"``."""
    known = [run for run in runs if run.config is not None]
    settings = dict(zip(map(id, known), differing_settings([r.config for r in known]), strict=True))
    names = [run.name for run in runs]
    labels = []
    for run, name in zip(runs, names, strict=True):
        if names.count(name) > 1:  # runs/a/run and runs/b/run: the parent tells them apart
            name = f"{Path(run.path).parent.name}/{name}"
        differs = settings.get(id(run), "")
        labels.append(f"{name} — {differs}" if differs else name)
    return labels
