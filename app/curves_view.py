"""Loss curves and friends over the step axis: D and G hinge losses, D(x) and D(G(z)), gamma of
every attention layer, images per second. Fast on long runs: curves are redrawn at most at the
worker's flush rate, pyqtgraph downsamples (peak) and clips them to the visible range, and
smoothing is computed incrementally."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from app.image_items import title_label
from app.jobs import Job, JobRunner, ShownContent
from app.metric_history import MetricHistory, Smoother
from app.plot_parts import add_legend, forget_step_range, step_axis
from app.style import GAMMA_COLOURS, MUTED, SERIES_COLOURS

# (plot title, y label, [(column, legend name)])
PLOTS = (
    ("Hinge losses", "loss", [("loss_d", "D loss"), ("loss_g", "G loss")]),
    ("Discriminator outputs", "mean logit", [("d_real", "D(x)"), ("d_fake", "D(G(z))")]),
    ("Attention γ", "γ", []),  # one curve per attention layer, added as layers appear
    ("Speed", "images/s", [("images_per_s", "images/s")]),
)
GAMMA_PLOT = 2
# Narrower than this and at least this tall (px), the four plots go in two rows of two.
ONE_ROW_WIDTH, TWO_ROWS_HEIGHT = 720, 380
REDRAW_MS = 200  # long runs have many points: redrawing 5 times a second is plenty
# What the header says while no point is shown (a lone checkpoint has no log with it).
EMPTY_NOTE = "no training log yet"
EMPTY_TIP = "Curves stream in while a run trains; an opened run (or the demo model) brings its log"


def _layer_order(name: str) -> tuple[bool, int, str]:
    """G's layers before D's, coarse to fine: the same colours live and from a metrics.csv."""
    digits = "".join(c if c.isdigit() else " " for c in name).split()
    return (name.startswith("D"), int(digits[0]) if digits else 0, name)


class _Series:
    """One column drawn twice: faint raw values and the smoothed line."""

    def __init__(self, plot: pg.PlotItem, name: str, colour: str, weight: float) -> None:
        raw_colour = pg.mkColor(colour)
        raw_colour.setAlpha(70)
        self.raw = plot.plot(pen=pg.mkPen(raw_colour, width=1))
        self.line = plot.plot(pen=pg.mkPen(colour, width=2), name=name)
        for item in (self.raw, self.line):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.smoother = Smoother(weight)

    def set_weight(self, weight: float) -> None:
        self.smoother = Smoother(weight)
        self.raw.setVisible(weight > 0)

    def update(self, steps: np.ndarray, values: np.ndarray) -> None:
        self.line.setData(steps, self.smoother(values), connect="finite")
        if self.raw.isVisible():
            self.raw.setData(steps, values, connect="finite")


class CurvesView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = MetricHistory()
        self.shown = ShownContent()
        title = title_label("Training curves")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setFixedWidth(160)
        self.smoothing.setToolTip(
            "Exponential moving average of the curves (0 = raw values); raw values stay "
            "visible as faint lines"
        )
        self.smoothing_label = QLabel()
        self.empty_note = QLabel(EMPTY_NOTE)
        self.empty_note.setToolTip(EMPTY_TIP)
        self.empty_note.setStyleSheet(f"color: {MUTED};")
        # Title and note share the header's free width (both elide rather than widen it).
        self.empty_note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header = QHBoxLayout()
        header.addWidget(title, 1)
        header.addWidget(self.empty_note, 1)
        header.addWidget(QLabel("Smoothing"))
        header.addWidget(self.smoothing)
        header.addWidget(self.smoothing_label)

        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: list[pg.PlotItem] = []
        self.series: dict[str, _Series] = {}
        weight = self.weight
        for index, (name, unit, columns) in enumerate(PLOTS):
            plot = self.graphics.addPlot(row=0, col=index, title=name)
            plot.showGrid(x=True, y=True, alpha=0.15)
            step_axis(plot)
            plot.setLabel("left", unit)
            if len(columns) != 1:  # a lone curve is named by its plot's title and axis
                add_legend(plot, (-8, 8))
            plot.setMenuEnabled(False)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if self.plots:
                plot.setXLink(self.plots[0])
            self.plots.append(plot)
            for column, label in columns:
                self.series[column] = _Series(plot, label, SERIES_COLOURS[column], weight)
        self._gamma_series: dict[str, _Series] = {}
        self._columns = len(PLOTS)  # plots in a row (see _arrange)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)

        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self.refresh)
        self._reweight = QTimer(self)  # dragging the slider recomputes once it rests
        self._reweight.setSingleShot(True)
        self._reweight.setInterval(120)
        self._reweight.timeout.connect(self._apply_weight)
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self._on_smoothing()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        narrow_and_tall = self.width() < ONE_ROW_WIDTH and self.height() >= TWO_ROWS_HEIGHT
        self._arrange(columns=2 if narrow_and_tall else len(self.plots))

    def _arrange(self, columns: int) -> None:
        """The plots in one row, or two rows of two when the view is narrow and tall enough
        for them: side by side in a narrow view the last two plots were cut off (in a short
        one, two rows would leave each plot too little height to read)."""
        layout = self.graphics.ci
        if self._columns == columns:
            return
        self._columns = columns
        for plot in self.plots:
            layout.removeItem(plot)
        for index, plot in enumerate(self.plots):
            layout.addItem(plot, row=index // columns, col=index % columns)

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100

    def _on_smoothing(self) -> None:
        self.smoothing_label.setText(f"{self.weight:.2f}")
        self._reweight.start()

    def _apply_weight(self) -> None:
        for series in self._all_series():
            series.set_weight(self.weight)
        self.refresh()

    def _all_series(self) -> list[_Series]:
        return list(self.series.values()) + list(self._gamma_series.values())

    def clear(self) -> None:
        self.shown.replaced()
        self.history.clear()
        for series in self._gamma_series.values():
            for item in (series.raw, series.line):
                self.plots[GAMMA_PLOT].removeItem(item)
        self._gamma_series.clear()
        for series in self._all_series():
            series.set_weight(self.weight)
            series.line.setData([], [])
            series.raw.setData([], [])
        forget_step_range(self.plots)  # a new run's first points: drawn on their own range
        self.empty_note.show()

    def load_csv(self, jobs: JobRunner, path: str | Path, resumed_at: int | None = None) -> Job:
        """Read a run's metrics.csv in the background and show it. ``resumed_at``: the run
        goes on from its checkpoint at that step, so the log's points up to it go before the
        points streaming in (and later ones, trained before a failure and lost, are left
        out). Dropped when the view was cleared meanwhile: it belongs to the model or run
        shown before."""
        before_live = resumed_at is not None

        def read(job: Job) -> MetricHistory:
            history = MetricHistory.from_csv(path)
            return history.until(resumed_at) if before_live else history

        job = jobs.start(read, "metrics")
        job.succeeded.connect(
            self.shown.guard(self.prepend_history if before_live else self.set_history)
        )
        return job

    def set_history(self, history: MetricHistory) -> None:
        """Show a whole history (e.g. a run's metrics.csv)."""
        self.clear()
        self.history = history
        self.refresh()

    def prepend_history(self, earlier: MetricHistory) -> None:
        """Put a run's earlier points (read from its metrics.csv) before the live ones, e.g.
        when a run is continued and its first new points may already be shown."""
        if len(earlier) == 0:
            return
        last_step = earlier.column("step")[-1]
        earlier.extend(s for s in self.history.to_step_stats() if s.step > last_step)
        self.set_history(earlier)

    def add_stats(self, stats: list) -> None:
        """Append points; the curves are redrawn at most REDRAW_MS apart, whatever the rate."""
        if self.history.extend(stats) and not self._redraw.isActive():
            self._redraw.start()

    def refresh(self) -> None:
        history = self.history
        self.empty_note.setVisible(len(history) == 0)
        steps = history.column("step")
        for column, series in self.series.items():
            series.update(steps, history.column(column))
        gamma_plot = self.plots[GAMMA_PLOT]
        for layer in sorted(history.gamma_names, key=_layer_order):
            if layer not in self._gamma_series:
                colour = GAMMA_COLOURS[len(self._gamma_series) % len(GAMMA_COLOURS)]
                # "G 16x16": the plot's title says attention, and a narrow plot clips a
                # legend wider than itself, line samples first.
                label = layer.replace(" attention", "")
                self._gamma_series[layer] = _Series(gamma_plot, label, colour, self.weight)
            self._gamma_series[layer].update(steps, history.gamma(layer))

    def curve_data(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """All (steps, smoothed values) of a curve, before clipping and downsampling."""
        series = self.series.get(column) or self._gamma_series[column]
        x, y = series.line.xData, series.line.yData
        return (np.asarray([]), np.asarray([])) if x is None else (x, y)
