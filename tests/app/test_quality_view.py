"""The Quality plot: SWD points from events and evaluation.json, the best step, Evaluate."""

from __future__ import annotations

from app.jobs import JobRunner
from app.quality_view import QualityView
from sagan_engine.data import load_image_folder
from sagan_engine.events import QualityMeasured
from sagan_engine.metrics import load_evaluations
from sagan_engine.trainer import Trainer
from tests.app.helpers import write_images
from tests.engine.conftest import tiny_config


def _event(step: int, value: float) -> QualityMeasured:
    return QualityMeasured(
        step, {"swd_avg": value, "swd_32": value + 1, "swd_16": value - 1}, 1, 16
    )


def test_points_and_best_step_marked(qtbot):
    view = QualityView()
    qtbot.addWidget(view)
    view.add_measurements([_event(100, 80.0), _event(200, 40.0), _event(300, 55.0)])
    assert view.best() == (200, 40.0)
    x, y = view.best_marker.getData()
    assert list(x) == [200] and list(y) == [40.0]
    assert list(view.main_curve.xData) == [100, 200, 300]
    assert set(view.level_curves) == {"swd_32", "swd_16"}
    # The curves' names under the plot in their colours (a legend inside covered the points).
    assert view.plot_widget.getPlotItem().legend is None
    legend = view.legend_label.text()
    assert "average" in legend and "32×32" in legend and "16×16" in legend
    assert view.legend_label.isVisibleTo(view)
    assert "step 200" in view.best_label.text()
    view.clear()
    assert view.best() is None and len(view.best_marker.getData()[0]) == 0
    assert not view.legend_label.isVisibleTo(view)


def test_a_single_evaluation_is_shown_on_an_axis_from_step_0(qtbot):
    """One point (the demo model's shipped figure) would otherwise get an axis a step wide,
    its ticks fractions of a step."""
    view = QualityView()
    qtbot.addWidget(view)
    view.add_measurements([_event(4006, 29.5)])
    (low, high), (bottom, top) = view.plot_widget.getPlotItem().viewRange()
    assert low == 0 and 4006 * 1.05 < high < 4400  # its star is not cut at the right edge
    assert bottom < 29.5 - 0.05 * (top - bottom) and top > 29.5  # nor at the top or bottom
    view.add_measurements([_event(5000, 25.0), _event(6000, 24.0)])
    view.plot_widget.getPlotItem().vb.updateAutoRange()
    (low, high), _ = view.plot_widget.getPlotItem().viewRange()
    assert 3000 < low < 4006 and 6000 <= high < 7000  # two or more: the points' own range
    view.clear()  # e.g. training starts after the demo model: not the demo model's range
    (low, high), _ = view.plot_widget.getPlotItem().viewRange()
    assert (low, high) == (0, 10)


def test_evaluate_this_model_runs_in_the_background(qtbot, tmp_path):
    folder = write_images(tmp_path / "data", 20, size=32)
    dataset = load_image_folder(folder, 32, cache_dir=None)
    run = tmp_path / "run"
    config = tiny_config(steps=2).replace(data={"folder": str(folder)})
    Trainer(config, dataset, run).run()
    view = QualityView()
    qtbot.addWidget(view)
    jobs = JobRunner()
    view.show_model(jobs, str(run), str(run))
    assert view.evaluate_button.isVisibleTo(view)
    with qtbot.waitSignal(view.evaluated, timeout=60_000) as blocker:
        view.evaluate(jobs, str(run), n=16)
    result = blocker.args[0]
    assert result.step == 2 and view.best() == (2, result.values["swd_avg"])
    assert load_evaluations(run)[-1].step == 2  # kept in the run's evaluation.json
    qtbot.waitUntil(lambda: view.evaluate_button.isEnabled())
    # Another model shown before the result arrives: the result is not that model's.
    job = view.evaluate(jobs, str(run), n=16)
    view.show_model(jobs, None, None)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert view.points == {} and view.best() is None
    # Closing the window cancels an evaluation between two batches, not after all of them.
    kept = len(load_evaluations(run))
    job = view.evaluate(jobs, str(run), n=4000)
    with qtbot.waitSignal(job.cancelled, timeout=60_000):
        job.cancel()
    assert len(load_evaluations(run)) == kept  # it stopped before scoring, so wrote nothing
    jobs.shutdown()


def test_each_level_keeps_its_colour_in_the_legend_across_models(qtbot):
    """A 64 px model then a 128 px one: the legend named the levels' colours by their place
    in a text-sorted list ("swd_128" < "swd_16"), not by their curves' pens."""
    view = QualityView()
    qtbot.addWidget(view)
    view.add_measurements([QualityMeasured(1, {"swd_avg": 5, "swd_64": 4, "swd_32": 6}, 1, 8)])
    view.set_evaluations([])
    view.add_measurements(
        [QualityMeasured(1, {"swd_avg": 5, "swd_128": 4, "swd_64": 5, "swd_32": 6}, 1, 8)]
    )
    legend = view.legend_label.text()
    for name, curve in view.level_curves.items():
        side = name.removeprefix("swd_")
        colour = curve.opts["pen"].color().name()
        assert f'color:{colour}">●</span> {side}×{side}' in legend
    assert len({c.opts["pen"].color().name() for c in view.level_curves.values()}) == 3
    assert legend.index("32×32") < legend.index("64×64") < legend.index("128×128")
