"""File -> Compare runs (quality and loss curves of several runs, legend = what differs) and
Explore -> Evaluate this model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.modes import EXPLORE
from app.run_curves import read_run_curves
from app.run_picker import RunPicker, run_folders
from sagan_engine.trainer import Trainer
from tests.engine.conftest import synthetic_dataset, tiny_config


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny trained runs in one runs folder, the second with DiffAugment off; SWD is
    measured every 2 steps."""
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for name, augment in (("run-a", "translation"), ("run-b", "off")):
        config = tiny_config(steps=4, log_every=1, eval_every=2, eval_images=16, augment=augment)
        Trainer(config, synthetic_dataset(24), root / name).run()
        runs.append(root / name)
    return runs[0], runs[1]


def _csv_column(run: Path, column: str) -> tuple[list[float], list[float]]:
    with open(run / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r[column]]
    return [float(r["step"]) for r in rows], [float(r[column]) for r in rows]


def test_curves_and_legend_per_run(window, qtbot, two_runs, tmp_path, monkeypatch):
    empty = tmp_path / "runs" / "not-trained"
    empty.mkdir(parents=True)
    chosen = [str(two_runs[0]), str(two_runs[1]), str(empty)]
    monkeypatch.setattr("app.window_exploring.pick_runs", lambda runs_dir, parent: chosen)
    view = window.compare_view
    with qtbot.waitSignal(view.compared, timeout=30_000):
        window.compare_runs_action.trigger()
    assert window.compare_dock.isVisible()
    assert view.labels == ["run-a — augment=translation", "run-b — augment=off", "not-trained"]
    assert view.legend_texts() == view.labels
    for run, quality, (loss_d, loss_g) in zip(
        two_runs, view.quality_curves, view.loss_curves, strict=False
    ):
        steps, swd = _csv_column(run, "swd_avg")
        assert steps and list(quality.xData) == steps and list(quality.yData) == swd
        steps, losses_d = _csv_column(run, "loss_d")
        assert list(loss_d.xData) == steps and list(loss_d.yData) == losses_d
        assert list(loss_g.yData) == _csv_column(run, "loss_g")[1]
    colours = [curve.opts["pen"].color().name() for curve in view.quality_curves]
    assert len(set(colours)) == 3  # one colour per run
    # The legend sits between the plots, not over the curves, each row in its run's colour,
    # every row in view.
    assert view.quality_plot.getPlotItem().legend is None
    assert [swatch.styleSheet() for swatch, _text in view.legend.rows] == [
        f"background: {colour};" for colour in colours
    ]
    assert view.legend.height() >= view.legend.wanted_height() > 0
    assert len(view.quality_curves[2].xData or []) == 0
    assert "not-trained: no metrics.csv" in view.notes.text()
    assert "run-a" not in view.notes.text()


def test_a_run_without_quality_or_config_gets_notes(tmp_path):
    run = tmp_path / "odd"
    run.mkdir()
    (run / "metrics.csv").write_text("step,loss_d,loss_g\n1,0.5,0.25\n2,0.4,0.3\n")
    (run / "config.json").write_text("{not json")
    curves = read_run_curves(run)
    assert list(curves.steps) == [1, 2] and list(curves.loss_g) == [0.25, 0.3]
    assert len(curves.quality) == 0 and curves.config is None
    assert any("config.json" in note and "not valid JSON" in note for note in curves.notes)
    assert any("no quality measured" in note for note in curves.notes)


def test_picker_lists_runs_with_checkboxes(qtbot, two_runs, tmp_path):
    runs_dir = two_runs[0].parent
    assert set(run_folders(runs_dir)) == set(two_runs)
    assert run_folders(tmp_path / "missing") == []
    real_is_dir = Path.is_dir

    def lost_and_found(path):  # a folder this user may not read, beside the runs
        if path.name == "lost+found":
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_dir(path)

    (runs_dir / "lost+found").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "is_dir", lost_and_found)
        assert set(run_folders(runs_dir)) == set(two_runs)
    picker = RunPicker(runs_dir)
    qtbot.addWidget(picker)
    ok = picker.buttons.buttons()[0]
    assert picker.list.count() == 2 and picker.chosen() == [] and not ok.isEnabled()
    picker.list.item(0).setCheckState(Qt.CheckState.Checked)
    assert ok.isEnabled() and len(picker.chosen()) == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    item = picker.add_run(elsewhere)
    assert "no metrics yet" in item.text() and picker.chosen()[-1] == str(elsewhere)
    picker.add_run(elsewhere)  # listed once
    assert picker.list.count() == 3


def test_evaluate_this_model_in_explore_mode_only(window, qtbot, two_runs, monkeypatch):
    assert not window.evaluate_action.isEnabled()  # train mode
    with qtbot.waitSignal(window.mode_changed, timeout=30_000):
        window.open_run(str(two_runs[0]))
    qtbot.waitUntil(lambda: window.evaluate_action.isEnabled(), timeout=30_000)
    assert window.mode == EXPLORE
    asked = []
    monkeypatch.setattr(window.quality_view, "evaluate", lambda jobs, run: asked.append(run))
    window.evaluate_action.trigger()
    assert asked == [str(two_runs[0])]


def test_runs_of_the_same_name_get_labels_that_tell_them_apart(tmp_path):
    from app.run_curves import RunCurves, legend_labels

    runs = [RunCurves(str(tmp_path / "a" / "run")), RunCurves(str(tmp_path / "b" / "run"))]
    runs.append(RunCurves(str(tmp_path / "b" / "other")))
    assert legend_labels(runs) == ["a/run", "b/run", "other"]


def test_the_legend_keeps_room_for_its_rows_when_the_view_is_resized(qtbot, tmp_path):
    """Narrower, the labels wrap onto more lines: the legend grows with them, until the user
    drags a splitter handle (then the heights are theirs)."""
    from app.compare_runs_view import CompareRunsView
    from app.run_curves import RunCurves

    view = CompareRunsView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    qtbot.waitExposed(view)
    long_name = "a run with a long name that wraps when the view is narrow"
    view.show_runs([RunCurves(str(tmp_path / f"{long_name} {i}")) for i in range(3)])
    wide = view.legend.wanted_height()
    assert view.splitter.sizes()[1] >= wide > 0
    view.resize(260, 700)
    qtbot.waitUntil(lambda: view.legend.wanted_height() > wide)
    qtbot.waitUntil(lambda: view.splitter.sizes()[1] >= view.legend.wanted_height())

    view.splitter.splitterMoved.emit(100, 1)  # as a drag of the handle does
    dragged = view.splitter.sizes()
    view.resize(900, 700)
    qtbot.wait(50)
    assert view.splitter.sizes()[1] == dragged[1]


def test_export_metrics_writes_the_opened_runs_whole_log_named_for_it(
    window, qtbot, two_runs, tmp_path, monkeypatch
):
    """The shown run's metrics.csv, every column (attention statistics and SWD included, as
    `sagan-engine export --csv` writes it), offered in that run's folder under its name, also
    after another run was trained in this window."""
    from PySide6.QtWidgets import QFileDialog

    run_a, run_b = two_runs
    window.run_dir = str(run_b)  # the run trained last in this window
    with qtbot.waitSignal(window.mode_changed, timeout=30_000):
        window.open_run(str(run_a))
    qtbot.waitUntil(lambda: window.export_metrics_action.isEnabled(), timeout=30_000)
    offered = []

    def save_as(_parent, _title, start, _filters):
        offered.append(start)
        return str(tmp_path / "exported.csv"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    with qtbot.waitSignal(window.export_done, timeout=30_000) as done:
        window.export_metrics_action.trigger()
    assert offered == [str(run_a / "run-a-metrics.csv")]
    exported = Path(done.args[0]).read_bytes()
    assert exported == (run_a / "metrics.csv").read_bytes()
    header = exported.decode().splitlines()[0].split(",")
    assert "swd_avg" in header and any(c.startswith("attention_entropy[") for c in header)


def test_short_runs_compared_after_long_ones_are_drawn_on_their_own_range(qtbot, tmp_path):
    import numpy as np

    from app.compare_runs_view import CompareRunsView
    from app.run_curves import RunCurves

    def run(name: str, steps) -> RunCurves:
        steps = np.asarray(steps, dtype=float)
        return RunCurves(str(tmp_path / name), steps, 1 + steps / 1e4, 1 - steps / 1e4)

    view = CompareRunsView()
    qtbot.addWidget(view)
    view.resize(700, 600)
    view.show()
    view.show_runs([run("long", np.arange(5, 14_000, 5))])
    loss = view.loss_plot.getPlotItem()
    qtbot.waitUntil(lambda: loss.viewRange()[0][1] > 10_000)
    view.show_runs([run("short", [1, 2])])
    qtbot.waitUntil(lambda: len(view.loss_curves[0][0].getData()[0]) == 2)
    qtbot.waitUntil(lambda: loss.viewRange()[0][1] < 100)
