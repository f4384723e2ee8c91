"""File -> Compare runs: the quality (SWD) and loss curves of several runs overlaid, one colour
per run, the legend naming each run and the settings that set it apart. The run folders are
read in a background job; a run with nothing to plot is listed with its note."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QSplitter, QVBoxLayout, QWidget

from app.jobs import Job, JobRunner
from app.plot_parts import add_legend, step_axis
from app.run_curves import RunCurves, legend_labels, read_run_curves

COLOURS = ("#4c9be8", "#e8804c", "#5cb85c", "#d9534f", "#9b6fd6", "#c7a03a", "#3bb3b3", "#e36fb0")


def run_colour(index: int, count: int) -> str | pg.QtGui.QColor:
    return COLOURS[index] if count <= len(COLOURS) else pg.intColor(index, hues=count)


def _plot(title: str, left: str) -> pg.PlotWidget:
    widget = pg.PlotWidget(title=title)
    plot = widget.getPlotItem()
    plot.showGrid(x=True, y=True, alpha=0.15)
    step_axis(plot)
    plot.setLabel("left", left)
    return widget


class CompareRunsView(QWidget):
    """``compare(jobs, paths)`` reads the runs in the background and overlays their curves."""

    compared = Signal(list)  # the RunCurves shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: list[RunCurves] = []
        self.labels: list[str] = []
        self.quality_curves: list[pg.PlotDataItem] = []
        self.loss_curves: list[tuple[pg.PlotDataItem, pg.PlotDataItem]] = []
        self.quality_plot = _plot("Quality: SWD ×10³, lower is better", "SWD x1e3")
        # One legend (on the quality plot): the losses use the same colour per run.
        self.legend = add_legend(self.quality_plot.getPlotItem(), (-8, 8))
        self.loss_plot = _plot("Losses: D solid, G dashed (colours as above)", "loss")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.quality_plot)
        splitter.addWidget(self.loss_plot)
        self.notes = QLabel("Choose runs with File → Compare runs….")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.notes)
        layout.addWidget(self.progress)
        self._job: Job | None = None

    def compare(self, jobs: JobRunner, paths: Sequence[str]) -> Job:
        """Read ``paths`` (run folders) in a background job, then show their curves."""
        if self._job is not None:
            self._job.cancel()
        paths = list(paths)

        def work(job: Job) -> list[RunCurves]:
            runs = []
            for done, path in enumerate(paths):
                if job.should_stop():
                    break
                runs.append(read_run_curves(path))
                job.report(done + 1, len(paths))
            return runs

        self.notes.setText(f"Reading {len(paths)} runs…")
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        job = jobs.start(work, "compare runs")
        job.progress.connect(lambda done, _total: self.progress.setValue(done))
        job.succeeded.connect(self.show_runs)
        job.failed.connect(lambda message, _details: self.notes.setText(message))
        job.finished.connect(lambda: self._job_finished(job))
        self._job = job
        return job

    def _job_finished(self, job: Job) -> None:
        if self._job is job:
            self._job = None
            self.progress.setVisible(False)

    def show_runs(self, runs: list[RunCurves]) -> None:
        """Overlay ``runs``' curves (replacing those shown)."""
        for plot in (self.quality_plot, self.loss_plot):
            plot.getPlotItem().clear()
        self.legend.clear()
        self.runs = list(runs)
        self.labels = legend_labels(self.runs)
        self.quality_curves, self.loss_curves = [], []
        for index, (run, label) in enumerate(zip(self.runs, self.labels, strict=True)):
            colour = run_colour(index, len(self.runs))
            self.quality_curves.append(
                self.quality_plot.plot(
                    run.quality_steps,
                    run.quality,
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    name=label,
                )
            )
            loss_d = self.loss_plot.plot(run.steps, run.loss_d, pen=pg.mkPen(colour, width=1))
            loss_g = self.loss_plot.plot(
                run.steps,
                run.loss_g,
                pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
            )
            for curve in (loss_d, loss_g):
                curve.setDownsampling(auto=True, method="mean")
                curve.setClipToView(True)
            self.loss_curves.append((loss_d, loss_g))
        notes = [f"{run.name}: {note}" for run in self.runs for note in run.notes]
        self.notes.setText("\n".join(notes) if notes else f"{len(self.runs)} runs compared.")
        self.compared.emit(self.runs)

    def legend_texts(self) -> list[str]:
        """The names in the legend, top to bottom (what the user reads)."""
        return [label.text for _sample, label in self.legend.items]
