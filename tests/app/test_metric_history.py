"""The curves' history: flat NumPy columns, exact round trip through the CSV export, and
incremental smoothing equal to smoothing everything at once."""

from __future__ import annotations

import math

import numpy as np

from app.metric_history import MetricHistory, Smoother
from sagan_engine.events import StepStats
from sagan_engine.export import save_metrics_csv


def make_stats(step: int, gammas: dict[str, float]) -> StepStats:
    return StepStats(
        step=step,
        loss_d=1.0 / step,
        loss_g=float(step),
        d_real=0.5,
        d_fake=-0.5,
        gammas=gammas,
        images_per_s=100.0 + step,
        seconds_per_step=0.25,
        elapsed_s=step * 0.25,
        eta_s=10.0,
    )


def test_columns_grow_and_keep_every_point():
    history = MetricHistory(capacity=4)
    events = [make_stats(step, {"G attention 16x16": step / 100}) for step in range(1, 11)]
    assert history.extend(events[:3]) == 3
    assert history.extend(events[3:]) == 7
    assert len(history) == 10
    assert list(history.column("step")) == list(range(1, 11))
    assert history.gamma("G attention 16x16")[-1] == 0.1
    assert history.to_step_stats() == events
    assert not history.column("loss_g").flags.writeable


def test_a_layer_that_appears_later_is_nan_before():
    history = MetricHistory()
    history.extend([make_stats(1, {"a": 1.0}), make_stats(2, {"a": 2.0, "b": 3.0})])
    assert history.gamma_names == ["a", "b"]
    assert math.isnan(history.gamma("b")[0]) and history.gamma("b")[1] == 3.0
    assert history.step_stats(0).gammas == {"a": 1.0}


def test_copy_is_independent():
    history = MetricHistory()
    history.extend([make_stats(1, {})])
    copy = history.copy()
    history.extend([make_stats(2, {})])
    assert len(copy) == 1 and len(history) == 2


def test_reads_back_the_csv_the_engine_writes(tmp_path):
    events = [make_stats(step, {"G attention 8x8": 0.01 * step}) for step in range(1, 6)]
    path = save_metrics_csv(events, tmp_path / "metrics.csv")
    history = MetricHistory.from_csv(path)
    assert list(history.column("step")) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(history.column("loss_d"), [e.loss_d for e in events])
    np.testing.assert_allclose(
        history.gamma("G attention 8x8"), [e.gammas["G attention 8x8"] for e in events]
    )


def test_a_log_cut_short_by_a_crash_keeps_its_whole_rows(tmp_path):
    """A run killed, or a power failure, while writing: the last line is cut mid-row and NUL
    bytes stand where the lost writes were. One bad line lost the whole log (the curves, and
    the run in Compare runs)."""
    events = [make_stats(step, {"G attention 8x8": 0.01 * step}) for step in range(1, 6)]
    path = save_metrics_csv(events, tmp_path / "metrics.csv")
    text = path.read_text()
    path.write_text(text + "6,0.5,0.2" + "\x00" * 40 + "\n7,0.4,\x00x\n")
    history = MetricHistory.from_csv(path)
    assert list(history.column("step")) == [1, 2, 3, 4, 5]  # the rows cut short are left out


def test_incremental_smoothing_matches_one_pass():
    values = np.random.default_rng(0).normal(size=500)
    values[7] = np.nan
    whole = Smoother(0.9)(values).copy()
    smoother = Smoother(0.9)
    for end in (1, 2, 50, 51, 300, 500):
        part = smoother(values[:end])
    np.testing.assert_allclose(part, whole)
    assert whole[0] == values[0]  # debiased: the first point is the value itself
    assert Smoother(0.0)(values) is values


def test_until_keeps_the_points_up_to_a_step():
    history = MetricHistory(capacity=2)
    history.extend(
        StepStats(s, 1.0, 2.0, 0.5, -0.5, {"G": s / 10}, 10.0, 0.1, 1.0, 9.0) for s in (1, 2, 3, 5)
    )
    kept = history.until(3)
    assert list(kept.column("step")) == [1, 2, 3] and list(kept.gamma("G")) == [0.1, 0.2, 0.3]
    assert len(history) == 4 and len(history.until(0)) == 0 and len(history.until(9)) == 4
    kept.extend([history.step_stats(3)])  # its own columns: the original is untouched
    assert list(history.column("step")) == [1, 2, 3, 5]
