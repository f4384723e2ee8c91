"""Attention statistics over training: for the statistic picked in the combo box, one curve
per attention layer of G (gamma, the normalised entropy of beta, the mean attention distance
in pixels, the contribution ||gamma o|| / ||x||), measured on the run's fixed latents at every
sample step (sagan_engine.attention_stats)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.attention_stats_history import AttentionStatsHistory
from app.curves_view import _layer_order
from app.image_items import title_label
from app.plot_parts import add_legend, forget_step_range, step_axis
from app.style import GAMMA_COLOURS, MUTED
from sagan_engine.events import AttentionStats

# (statistic, combo text, y label, explanation shown under the plot)
STATISTICS = (
    (
        "entropy",
        "Entropy of β",
        "H(β) / log N",
        "1 = a pixel looks everywhere alike, 0 = it looks at a single position",
    ),
    (
        "distance",
        "Attention distance",
        "pixels",
        "how far, in output pixels, a pixel looks on average (β-weighted)",
    ),
    (
        "contribution",
        "Contribution",
        "‖γ·o‖ / ‖x‖",
        "how much the layer changes its input; 0 = the layer is switched off",
    ),
    ("gamma", "γ (sampling G)", "γ", "the learnt scale of y = γ·o + x, of the G samples use"),
)


class AttentionStatsView(QWidget):
    """Feed it with :meth:`add_stats` (live) or :meth:`set_history` (a run's metrics.csv)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = AttentionStatsHistory()
        self.statistic = QComboBox()
        for key, text, _unit, tip in STATISTICS:
            self.statistic.addItem(text, key)
            self.statistic.setItemData(self.statistic.count() - 1, tip, 3)  # tooltip role
        self.note = QLabel()
        self.note.setStyleSheet(f"color: {MUTED};")
        header = QHBoxLayout()
        header.addWidget(title_label("Attention statistics"), 1)
        header.addWidget(QLabel("Show"))
        header.addWidget(self.statistic)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot = self.graphics.addPlot()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        step_axis(self.plot)
        add_legend(self.plot, (-8, 8))
        self.plot.setMenuEnabled(False)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # entropies read as 0.4, not 400 m
        self.curves: dict[str, pg.PlotDataItem] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.note)
        self.statistic.currentIndexChanged.connect(self.refresh)
        self.refresh()

    @property
    def current(self) -> str:
        return self.statistic.currentData()

    def select(self, statistic: str) -> None:
        self.statistic.setCurrentIndex(self.statistic.findData(statistic))

    def clear(self) -> None:
        self.set_history(AttentionStatsHistory())
        forget_step_range([self.plot])  # not the range of the run shown before

    def set_history(self, history: AttentionStatsHistory) -> None:
        self.history = history
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves.clear()
        self.refresh()

    def prepend_history(self, earlier: AttentionStatsHistory) -> None:
        """Put a run's earlier statistics (read from its metrics.csv) before the live ones,
        e.g. when a run is continued and its first new statistics may already be shown."""
        last = earlier.last_step()
        if last is None:
            return
        earlier.extend(e for e in self.history.to_events() if e.step > last)
        self.set_history(earlier)

    def show_problem(self, message: str) -> None:
        """Why there are no curves (e.g. a metrics.csv that cannot be read)."""
        self.note.setText(f"No attention statistics: {message}")

    def add_stats(self, events: list[AttentionStats]) -> None:
        # A continued run measures its first step again, which its log already holds.
        last = self.history.last_step()
        if self.history.extend(e for e in events if last is None or e.step > last):
            self.refresh()

    def refresh(self) -> None:
        statistic = self.current
        _key, _text, unit, tip = next(s for s in STATISTICS if s[0] == statistic)
        self.plot.setLabel("left", unit)
        self.note.setText(tip)
        for layer in sorted(self.history.layers, key=_layer_order):
            if layer not in self.curves:
                colour = GAMMA_COLOURS[len(self.curves) % len(GAMMA_COLOURS)]
                self.curves[layer] = self.plot.plot(
                    pen=pg.mkPen(colour, width=2),
                    symbol="o",
                    symbolSize=5,
                    symbolBrush=colour,
                    symbolPen=None,
                    name=layer,
                )
            self.curves[layer].setData(
                self.history.steps(layer), self.history.values(layer, statistic), connect="finite"
            )

    def curve_data(self, layer: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the curve of ``layer`` shown now."""
        curve = self.curves[layer]
        x, y = curve.xData, curve.yData
        return (np.asarray([]), np.asarray([])) if x is None else (x, y)
