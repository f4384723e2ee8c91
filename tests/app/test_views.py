"""The views on their own, fed plain data: the sample grid's click mapping, the attention
inspector's query points and panels, and the curves' settings for long runs."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from app.attention_stats_view import AttentionStatsView
from app.attention_view import MAX_QUERIES, AttentionView
from app.curves_view import CurvesView
from app.data_panel import DataPanel
from app.jobs import JobRunner
from app.sample_grid_view import PADDING, SampleGridView
from sagan_engine.attention import AttentionResult, LayerAttention
from sagan_engine.data import LoadStopped
from sagan_engine.events import AttentionStats, LayerAttentionStats, StepStats
from sagan_engine.export import save_metrics_csv


def images(count: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(count)
    return rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8)


def result_for(queries, image, grids=((8, 8), (16, 16))) -> AttentionResult:
    layers = []
    for h, w in grids:
        maps = np.random.default_rng(h).random((len(queries), h, w)).astype(np.float32)
        layers.append(LayerAttention(f"G attention {h}x{w}", (h, w), maps / maps.sum()))
    return AttentionResult(image, tuple(queries), layers)


def test_grid_maps_pixels_to_samples(qtbot):
    view = SampleGridView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    with qtbot.waitSignal(view.samples_shown):
        view.set_samples(images(5), "five samples")
    assert view.columns == 3
    cell = 32 + PADDING
    assert view.sample_at(PADDING, PADDING) == (0, 0, 0)
    assert view.sample_at(PADDING + cell + 4, PADDING + 31) == (1, 31, 4)
    assert view.sample_at(PADDING + 32, PADDING) is None  # on the padding
    assert view.sample_at(PADDING + 2 * cell + 1, PADDING + cell + 1) is None  # no 6th sample
    with qtbot.waitSignal(view.sample_clicked) as clicked:
        qtbot.mouseClick(
            view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport_pos(4, 9, 30)
        )
    assert clicked.args == [4, 9, 30] and view.selected == 4 and view.selection.isVisible()
    # Sample 4 is row 1, column 1: the frame lies one pixel outside it.
    frame = view.selection.rect()
    assert (frame.left(), frame.top()) == (PADDING + cell - 1, PADDING + cell - 1)
    assert (frame.width(), frame.height()) == (34, 34)


def test_inspector_points_colours_and_panels(qtbot):
    view = AttentionView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    image = images(1)[0]
    view.show_sample(image, "a sample", [(3, 4)])
    asked = []
    view.queries_changed.connect(asked.append)
    with qtbot.waitSignal(view.queries_changed):
        qtbot.mouseClick(
            view.query_view.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport_pos(20, 10)
        )
    assert view.queries == [(3, 4), (20, 10)]
    with qtbot.waitSignal(view.heatmaps_shown) as shown:
        view.show_result(result_for(view.queries, image))
    assert shown.args == [4]
    assert [(q, name, heat.shape) for q, name, heat in view.heatmaps()] == [
        (0, "G attention 8x8", (8, 8, 3)),
        (0, "G attention 16x16", (16, 16, 3)),
        (1, "G attention 8x8", (8, 8, 3)),
        (1, "G attention 16x16", (16, 16, 3)),
    ]
    # An answer to older points is not drawn over the new ones.
    view.show_result(result_for([(1, 1)], image))
    assert view.result.queries == ((3, 4), (20, 10))

    view.opacity.setValue(40)
    cell = view._cells[0][0]
    assert cell.heat.opacity() == pytest.approx(0.4) and cell.base.isVisible()
    view.over_image.setChecked(False)  # each map alone on its own grid
    assert cell.heat.opacity() == 1.0 and not cell.base.isVisible()

    with qtbot.waitSignal(view.queries_changed):
        qtbot.mouseClick(
            view.query_view.viewport(), Qt.MouseButton.RightButton, pos=view.viewport_pos(19, 11)
        )
    assert view.queries == [(3, 4)]
    for row in range(MAX_QUERIES + 2):
        view.add_query(row, row)
    assert len(view.queries) == MAX_QUERIES and view.queries[-1] == (9, 9)
    qtbot.mouseClick(view.clear_button, Qt.MouseButton.LeftButton)
    assert view.queries == [] and asked[-1] == [] and view.heatmaps() == []


def test_curves_are_built_for_long_runs(qtbot):
    view = CurvesView()
    qtbot.addWidget(view)
    n = 20_000
    batch = [
        StepStats(s, 1.0, 2.0, 0.5, -0.5, {"G attention 16x16": s * 1e-5}, 10.0, 0.1, 1.0, 9.0)
        for s in range(1, n + 1)
    ]
    assert not view.empty_note.isHidden()  # nothing to show yet: the header says why
    view.add_stats(batch)
    view.refresh()
    assert view.empty_note.isHidden()
    for series in view._all_series():
        for item in (series.line, series.raw):
            assert item.opts["autoDownsample"] and item.opts["clipToView"]
            assert item.opts["downsampleMethod"] == "peak"
    steps, values = view.curve_data("G attention 16x16")
    assert len(steps) == n and values[-1] == pytest.approx(0.2, rel=0.05)
    # Legends name the curves of plots with several; the lone speed curve has none over it.
    legends = [plot.legend for plot in view.plots]
    assert [legend is not None for legend in legends] == [True, True, True, False]
    assert [label.text for _, label in legends[2].items] == ["G 16x16"]
    view.clear()
    assert len(view.history) == 0 and len(view.curve_data("loss_d")[0]) == 0
    assert not view.empty_note.isHidden()


def test_the_first_points_of_a_new_run_are_drawn_on_their_own_range(qtbot):
    """After a long history (the demo model's log, 0..14k), a new run's first two points
    were downsampled to nothing against the old range and the axis stayed at 0..14k."""
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(900, 300)
    view.show()

    def stats(steps):
        return [StepStats(s, 1 + s / 1e4, 1.0, 0.5, -0.5, {}, 10.0, 0.1, 1.0, 9.0) for s in steps]

    view.add_stats(stats(range(5, 14_000, 5)))
    view.refresh()
    qtbot.waitUntil(lambda: view.plots[0].viewRange()[0][1] > 10_000)
    view.clear()
    view.add_stats(stats([5, 10]))
    view.refresh()
    line = view.series["loss_d"].line
    qtbot.waitUntil(lambda: len(line.getData()[0]) == 2)  # both drawn
    qtbot.waitUntil(lambda: view.plots[3].viewRange()[0][1] < 100)  # linked plots too


def test_step_axes_start_at_zero_and_count_whole_steps(qtbot):
    # A run's first statistics point sits alone at step 0: pyqtgraph's auto range used to
    # centre it in -400..400 with an axis reading "step (x0.001)"; empty curves in -5000..5000.
    stats = AttentionStatsView()
    curves = CurvesView()
    for widget in (stats, curves):
        qtbot.addWidget(widget)
        widget.resize(600, 300)
        widget.show()
    stats.add_stats([AttentionStats(0, (LayerAttentionStats("G attention 16x16", 0, 0.7, 3, 0),))])
    qtbot.waitUntil(lambda: stats.plot.viewRange()[0][1] > 0)
    low, high = stats.plot.viewRange()[0]
    assert low == 0 and high >= 10
    assert "(x" not in stats.plot.getAxis("bottom").labelString()  # no "step (x0.001)"
    for plot in (stats.plot, *curves.plots):
        assert not plot.getAxis("bottom").autoSIPrefix
        axis = plot.getAxis("bottom")
        # A narrow plot ran "5000" and "10k" together: ticks 1000 or more apart in thousands.
        assert axis.tickStrings([0, 5000, 10000, 15000], 1, 5000) == ["0", "5k", "10k", "15k"]
        assert axis.tickStrings([500, 1000, 1500], 1, 500) == ["500", "1000", "1500"]
        assert axis.tickStrings([19500, 20000], 1, 500) == ["19.5k", "20k"]
        plot.setXRange(-5000, 5000, padding=0)  # what an empty plot's auto range asks for
        assert plot.viewRange()[0][0] == 0


def test_a_slow_scan_shows_progress_and_can_be_cancelled(qtbot, monkeypatch, tmp_path):
    def endless_scan(folder, should_stop, progress, classes="auto"):
        found = 0
        while not should_stop():
            found += 1
            if found % 1000 == 0:
                progress(found, found // 100)
            time.sleep(0.0001)
        raise LoadStopped()

    monkeypatch.setattr("app.data_panel.summarise_folder", endless_scan)
    jobs = JobRunner()
    panel = DataPanel(jobs)
    qtbot.addWidget(panel)
    panel.show()
    panel.set_folder(tmp_path)
    assert panel.scanning and panel.scan_row.isVisible()
    # What the walk has found so far, as it goes (a huge tree takes a while to list).
    qtbot.waitUntil(lambda: "image files found in" in panel.summary_label.text(), timeout=30_000)
    assert re.search(
        r"Scanning… [\d,]+ image files found in [\d,]+ folders", panel.summary_label.text()
    )
    with qtbot.waitSignal(jobs.active()[0].finished, timeout=30_000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert not panel.scanning and not panel.scan_row.isVisible()
    assert "cancelled" in panel.summary_label.text()
    jobs.shutdown()


def test_the_singletons_survive_many_qt_calls():
    """PySide6 6.12 on Python 3.11 loses a reference to None per void call (refcount_guard)."""
    import sys

    from PySide6.QtCore import QObject

    from app.refcount_guard import guard_singletons

    guard_singletons()
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(200_000):  # more than None's whole count in an unguarded process
        probe.setObjectName("x")
    assert sys.getrefcount(None) > 0 and before - sys.getrefcount(None) <= 200_000


def test_a_title_too_long_for_its_width_ends_in_an_ellipsis_and_shows_all_in_its_tooltip(qtbot):
    from app.image_items import title_label

    text = "Sample 12 · faces · step 1200, maps from step 1260"
    label = title_label(text)
    qtbot.addWidget(label)
    label.resize(2000, 30)
    label.show()
    assert label.text() == text and label.toolTip() == ""
    label.resize(120, 30)
    shown = QLabel.text(label)  # what is drawn
    assert shown.endswith("…") and len(shown) < len(text)
    assert label.text() == text and label.toolTip() == text


def marker_points(item) -> list[tuple[float, float]]:
    x, y = item.getData()
    return list(zip(x.tolist(), y.tolist(), strict=True))


def test_inspector_frames_in_a_row_draw_what_a_fresh_view_draws(qtbot):
    """A slider's frames keep their query points: markers and titles are kept, not rebuilt,
    and each frame shows exactly what a view given only that frame shows."""
    views = [AttentionView(), AttentionView()]
    for view in views:
        qtbot.addWidget(view)
        view.resize(700, 400)
        view.show()
    moving, fresh = views
    first, second = images(2)
    queries = [(3, 4), (20, 10)]
    moving.show_sample(first, "frame 1", queries)
    moving.show_result(result_for(queries, first, grids=((8, 8),)))
    markers = moving.query_markers, moving._cells[1][0].marker
    second_result = result_for(queries, second, grids=((8, 8),))
    second_result.layers[0].maps[:] = second_result.layers[0].maps[::-1]  # other maps
    for view in views:
        view.show_sample(second, "frame 2", queries)
        view.show_result(second_result)
    assert (moving.query_markers, moving._cells[1][0].marker) == markers  # kept
    assert np.array_equal(moving.query_image.image, fresh.query_image.image)
    for (_, name, heat), (_, fresh_name, fresh_heat) in zip(
        moving.heatmaps(), fresh.heatmaps(), strict=True
    ):
        assert name == fresh_name and np.array_equal(heat, fresh_heat)
    assert marker_points(moving.query_markers) == marker_points(fresh.query_markers)
    assert [t.text for t in moving._titles] == [t.text for t in fresh._titles]

    moved = [(20, 10), (7, 7)]  # other points: new markers where they are
    moving.show_sample(second, "frame 3", moved)
    moving.show_result(result_for(moved, second, grids=((8, 8),)))
    assert marker_points(moving.query_markers) == [(10.5, 20.5), (7.5, 7.5)]
    assert marker_points(moving._cells[1][0].marker) == [(7.5, 7.5)]
    moving.show_sample(second, "no points", [])
    assert moving.query_markers is None


def test_a_log_read_for_the_model_shown_before_is_not_drawn(qtbot, tmp_path):
    """Open run A, then B (or press Train) while A's metrics.csv is still being read: A's
    curves must not land in B's plots."""
    path = tmp_path / "metrics.csv"
    save_metrics_csv(
        [StepStats(s, 1.0, 2.0, 0.5, -0.5, {}, 10.0, 0.1, 1.0, 9.0) for s in (5, 10)], path
    )
    view = CurvesView()
    qtbot.addWidget(view)
    jobs = JobRunner()
    try:
        job = view.load_csv(jobs, path)
        view.clear()  # another model is shown before the log arrives
        with qtbot.waitSignal(job.finished, timeout=30_000):
            pass
        assert len(view.history) == 0
        with qtbot.waitSignal(view.load_csv(jobs, path).finished, timeout=30_000):
            pass
        assert list(view.history.column("step")) == [5, 10]  # its own log is drawn
    finally:
        jobs.shutdown()


def test_the_device_box_picks_a_gpu_found_late_unless_a_run_already_trains(qtbot):
    from app.model_panel import ModelPanel

    devices = [("cpu", "CPU"), ("cuda:0", "NVIDIA H100")]
    idle = ModelPanel()
    qtbot.addWidget(idle)
    idle.set_devices(devices)
    assert idle.device.currentData() == "cuda:0"  # the scan came back before Train
    training = ModelPanel()
    qtbot.addWidget(training)
    training.setEnabled(False)  # Train was pressed before the scan: the run is on the CPU
    training.set_devices(devices)
    assert training.device.currentData() == "cpu"


def test_curves_go_in_two_rows_when_the_view_is_narrow_and_tall(qtbot):
    """Side by side in a narrow view (a dock opened beside it, a laptop screen) the last two
    plots were cut off."""
    view = CurvesView()
    qtbot.addWidget(view)
    view.resize(1100, 300)
    view.show()
    layout = view.graphics.ci
    qtbot.waitUntil(lambda: layout.getItem(0, 3) is view.plots[3])
    view.resize(500, 500)
    qtbot.waitUntil(lambda: layout.getItem(1, 1) is view.plots[3])
    assert layout.getItem(0, 1) is view.plots[1] and layout.getItem(1, 0) is view.plots[2]
    view.resize(1100, 500)
    qtbot.waitUntil(lambda: layout.getItem(0, 3) is view.plots[3])
    view.resize(500, 250)  # too short for two rows of readable plots: one row stays
    qtbot.wait(50)
    assert layout.getItem(0, 3) is view.plots[3]
