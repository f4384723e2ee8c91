"""The "Quality" plot beside the losses: multi-scale SWD (x1e3, lower is better) of the EMA
generator over training, from the evaluator's QualityMeasured events or a run's
evaluation.json, with the best step marked; and "Evaluate this model" as a background job."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.image_items import title_label
from app.jobs import Job, JobRunner, ShownContent
from app.plot_parts import MIN_STEP_RANGE, step_axis
from sagan_engine.events import QualityMeasured
from sagan_engine.metrics import Evaluation, evaluate_generator

MAIN = "swd_avg"
MAIN_COLOUR = "#4c9be8"
LEVEL_COLOURS = ("#8fb8de", "#b5d99c", "#f2c57c", "#e39b9b")


def _level_side(name: str) -> int:
    """``"swd_128"`` -> 128: levels sort by size, not as text ("swd_128" < "swd_16")."""
    return int(name.removeprefix("swd_"))


class QualityView(QWidget):
    """Points (step -> SWD values); redrawn on each addition (a few per run, so cheap)."""

    evaluated = Signal(object)  # Evaluation of "Evaluate this model"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: dict[int, dict[str, float]] = {}
        self.plot_widget = pg.PlotWidget(title="SWD ×10³, lower is better")
        plot = self.plot_widget.getPlotItem()
        plot.showGrid(x=True, y=True, alpha=0.15)
        step_axis(plot)
        plot.setLabel("left", "SWD x1e3")
        # Room around the points: the best one's star is drawn whole at any edge.
        plot.getViewBox().setDefaultPadding(0.12)
        plot.setMenuEnabled(False)
        self.main_curve = plot.plot(
            pen=pg.mkPen(MAIN_COLOUR, width=2), symbol="o", symbolSize=5, name="average"
        )
        # The curves' names under the plot, not over it: the plot is small (a legend inside
        # covered its points), and one text line takes little height.
        self.legend_label = QLabel()
        self.legend_label.setVisible(False)
        self.level_curves: dict[str, pg.PlotDataItem] = {}
        self.level_colours: dict[str, str] = {}
        self.best_marker = pg.ScatterPlotItem(
            size=14, symbol="star", brush=pg.mkBrush("#f5c542"), pen=pg.mkPen("k")
        )
        plot.addItem(self.best_marker)
        self.best_label = QLabel("No quality measured yet (train.eval_every, or Evaluate).")
        self.best_label.setWordWrap(True)
        self.evaluate_button = QPushButton("Evaluate this model")
        self.evaluate_button.setToolTip(
            "Multi-scale SWD of the model against its training data (2000 images), in the "
            "background; FID/KID/IS need the Inception weights file"
        )
        self.evaluate_button.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title_label("Quality"))
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.legend_label)
        layout.addWidget(self.best_label)
        layout.addWidget(self.evaluate_button)
        layout.addWidget(self.progress)
        self._job: Job | None = None
        self._model: str | None = None
        self._connected = False
        self.shown = ShownContent()  # an evaluation of the model before is not this one's

    # ----------------------------------------------------------------- data
    def clear(self) -> None:
        self.shown.replaced()
        self.points.clear()
        self.refresh()

    def add_measurements(self, events: Iterable[QualityMeasured]) -> None:
        for event in events:
            self.points[event.step] = dict(event.values)
        self.refresh()

    def set_evaluations(self, evaluations: Iterable[Evaluation]) -> None:
        """Show a run's evaluation.json (results without a step are left out)."""
        self.points = {
            e.step: dict(e.values) for e in evaluations if e.step is not None and MAIN in e.values
        }
        self.refresh()

    def _show_legend(self, levels: list[str]) -> None:
        """ "● average ● 32×32 ● 16×16" in the curves' colours (the pyramid levels of SWD)."""
        entries = [(MAIN_COLOUR, "average")]
        for name in levels:
            side = _level_side(name)
            entries.append((self.level_colours[name], f"{side}×{side}"))
        self.legend_label.setText(
            " ".join(f'<span style="color:{colour}">●</span> {text}' for colour, text in entries)
        )
        self.legend_label.setVisible(bool(self.points))

    def best(self) -> tuple[int, float] | None:
        """(step, SWD) of the lowest average SWD so far."""
        scored = [(v[MAIN], s) for s, v in self.points.items() if MAIN in v]
        if not scored:
            return None
        value, step = min(scored)
        return step, value

    def refresh(self) -> None:
        steps = np.array(sorted(self.points), dtype=float)
        rows = [self.points[int(s)] for s in steps]
        self.main_curve.setData(steps, [r.get(MAIN, np.nan) for r in rows], connect="finite")
        levels = sorted(
            {k for r in rows for k in r if k.startswith("swd_") and k != MAIN}, key=_level_side
        )
        for name in levels:
            if name not in self.level_curves:
                # Its own colour for good: a level keeps it whatever other models come.
                colour = LEVEL_COLOURS[len(self.level_curves) % len(LEVEL_COLOURS)]
                self.level_colours[name] = colour
                self.level_curves[name] = self.plot_widget.getPlotItem().plot(
                    pen=pg.mkPen(colour, width=1),
                    symbol="o",  # a lone evaluation's levels are points, not lines
                    symbolSize=3,
                    symbolBrush=colour,
                    symbolPen=None,
                )
        for name, curve in self.level_curves.items():
            curve.setData(steps, [r.get(name, np.nan) for r in rows], connect="finite")
        self._show_legend(levels)
        plot = self.plot_widget.getPlotItem()
        if len(steps) == 0:  # not the range of the model shown before
            plot.setXRange(0, MIN_STEP_RANGE, padding=0)
        elif len(steps) == 1:  # one evaluation (e.g. the demo model's): from step 0 to it,
            # and a little past it, so that its star is not cut at the edge
            plot.setXRange(0, max(MIN_STEP_RANGE, 1.08 * steps[0]), padding=0)
        else:  # the points' own range, padded (the default padding set above)
            plot.enableAutoRange(axis="x")
        best = self.best()
        if best is None:
            self.best_marker.setData([], [])
            self.best_label.setText("No quality measured yet (train.eval_every, or Evaluate).")
        else:
            self.best_marker.setData([best[0]], [best[1]])
            self.best_label.setText(f"Best: SWD {best[1]:.2f} at step {best[0]} (★)")

    def show_model(
        self, jobs: JobRunner, model: str | None, evaluations: str | Path | None
    ) -> None:
        """Explore mode: the evaluation.json in the folder ``evaluations`` (a run's, or the
        demo model's; read in the background) and the Evaluate button for ``model`` (a run
        folder or checkpoint); ``model`` None hides the button."""
        from sagan_engine.metrics import load_evaluations

        self.clear()
        self._model = model
        self.evaluate_button.setVisible(model is not None)
        if evaluations:
            job = jobs.start(lambda job: load_evaluations(evaluations), "evaluations")
            job.succeeded.connect(self.shown.guard(self.set_evaluations))
            job.failed.connect(
                self.shown.guard(lambda message, _d: self.best_label.setText(message))
            )
        if not self._connected:
            self.evaluate_button.clicked.connect(lambda: self.evaluate(jobs, self._model))
            self._connected = True

    # ----------------------------------------------------------------- on demand
    def evaluate(self, jobs: JobRunner, run: str, n: int = 2000) -> Job:
        """Evaluate a run folder or checkpoint in the background; the result is added to the
        plot, emitted as ``evaluated`` and (for a run folder) kept in its evaluation.json."""
        from sagan_engine.metrics import append_evaluation

        stages = {"reference": "loading the reference", "generating": "generating", "swd": "SWD"}

        def work(job: Job) -> Evaluation:
            def progress(stage: str, done: int, total: int) -> None:
                job.stop_here()  # closing the window cancels: it must not wait for 2000 images
                job.report(done, total)
                self._stage = stages.get(stage, stage)

            result = evaluate_generator(run, n, ("swd",), progress=progress)
            if Path(run).is_dir():
                append_evaluation(run, result)
            return result

        self._stage = "starting"
        self.evaluate_button.setEnabled(False)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        job = jobs.start(work, "evaluate")
        job.progress.connect(self._on_progress)
        job.succeeded.connect(self.shown.guard(self._on_evaluated))
        job.failed.connect(
            self.shown.guard(lambda message, _d: self.best_label.setText(f"Evaluation: {message}"))
        )
        job.finished.connect(self._on_job_finished)
        self._job = job
        return job

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{self._stage} %v/%m")

    def _on_evaluated(self, result: Evaluation) -> None:
        if result.step is not None:
            self.points[result.step] = dict(result.values)
        self.refresh()
        self.best_label.setText(
            f"Evaluated step {result.step}: SWD {result.values[MAIN]:.2f} "
            f"({result.protocol.n_generated} generated vs {result.protocol.reference})"
        )
        self.evaluated.emit(result)

    def _on_job_finished(self) -> None:
        self.progress.setVisible(False)
        self.evaluate_button.setEnabled(True)
        self._job = None
