"""File -> Compare runs: the quality (SWD) and loss curves of several runs overlaid, one colour
per run, the legend naming each run and the settings that set it apart. The run folders are
read in a background job; a run with nothing to plot is listed with its note."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job, JobRunner
from app.plot_parts import forget_step_range, step_axis
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


class RunLegend(QScrollArea):
    """The runs' colours and labels beside the plots, not over them: a label names every
    setting that differs between the runs, which in a legend inside the plot hid the curves."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.rows: list[tuple[QLabel, QLabel]] = []  # (colour swatch, label) per run
        inside = QWidget()
        self._grid = QGridLayout(inside)
        self._grid.setContentsMargins(4, 2, 4, 2)
        self._grid.setColumnStretch(1, 1)
        self.setWidget(inside)

    def set_runs(self, labels: Sequence[str], colours: Sequence[str | pg.QtGui.QColor]) -> None:
        self.clear()
        for row, (label, colour) in enumerate(zip(labels, colours, strict=True)):
            swatch = QLabel()
            swatch.setFixedSize(22, 4)
            swatch.setStyleSheet(f"background: {pg.mkColor(colour).name()};")
            text = QLabel(label)
            text.setTextFormat(Qt.TextFormat.PlainText)  # a folder name is not markup
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._grid.addWidget(swatch, row, 0, Qt.AlignmentFlag.AlignVCenter)
            self._grid.addWidget(text, row, 1)
            swatch.show()  # now, not when the event loop gets to it: the height counts them
            text.show()
            self.rows.append((swatch, text))
        self._grid.activate()  # its size hint, before the event loop lays it out

    def wanted_height(self) -> int:
        """The height that shows every row at the current width."""
        if not self.rows:
            return 0
        grid, width = self._grid, self.viewport().width()
        return grid.heightForWidth(width) if grid.hasHeightForWidth() else grid.sizeHint().height()

    def clear(self) -> None:
        for widget in (widget for row in self.rows for widget in row):
            self._grid.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        self.rows = []


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
        # One legend, between the plots: both use the same colour per run.
        self.legend = RunLegend()
        self.loss_plot = _plot("Losses: D solid, G dashed", "loss")
        self.splitter = splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.quality_plot)
        splitter.addWidget(self.legend)
        splitter.addWidget(self.loss_plot)
        # Until the user drags a handle, the legend keeps the height its rows need when the
        # view is resized (narrower: the labels wrap onto more lines).
        self._sized_by_user = False
        splitter.splitterMoved.connect(self._user_moved_splitter)
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
        plots = [widget.getPlotItem() for widget in (self.quality_plot, self.loss_plot)]
        for plot in plots:
            plot.clear()
        forget_step_range(plots)  # short runs after long ones: drawn on their own range
        self.runs = list(runs)
        self.labels = legend_labels(self.runs)
        colours = [run_colour(index, len(self.runs)) for index in range(len(self.runs))]
        self.legend.set_runs(self.labels, colours)
        self._sized_by_user = False
        self._fit_legend()
        self.quality_curves, self.loss_curves = [], []
        for run, colour in zip(self.runs, colours, strict=True):
            self.quality_curves.append(
                self.quality_plot.plot(
                    run.quality_steps,
                    run.quality,
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
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

    def _user_moved_splitter(self, _position: int, _index: int) -> None:
        self._sized_by_user = True

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.runs and not self._sized_by_user:
            self._fit_legend()

    def _fit_legend(self) -> None:
        """Room for every legend row (up to 40% of the height), the plots share the rest."""
        total = sum(self.splitter.sizes()) or self.splitter.height()
        legend = min(self.legend.wanted_height(), int(0.4 * total))
        plots = max(total - legend, 0)
        self.splitter.setSizes([plots // 2, legend, plots - plots // 2])

    def legend_texts(self) -> list[str]:
        """The names in the legend, top to bottom (what the user reads)."""
        return [text.text() for _swatch, text in self.legend.rows]
