"""Many query points at once: a grid with one row per query point and one column per
attention layer of G (the first column the image with that point marked), sized to fill the
space it has, scrolling once cells would get smaller than MIN_CELL pixels."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from app.image_items import PlaceholderStack, fit, image_view_box
from sagan_engine.attention import AttentionResult
from sagan_engine.export import QUERY_COLOURS, heat_colours, normalise_map

MIN_CELL = 96  # pixels: below this a map is too small to read, so the grid scrolls instead
OVERLAY = 0.7


class QueryGridView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setSpacing(3)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.graphics)
        self.stack = PlaceholderStack(
            "Place query points in the inspector: here every point gets a row and every "
            "attention layer a column.",
            self.scroll,
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.result: AttentionResult | None = None
        self.heat_items: list[list[pg.ImageItem]] = []  # [query][layer]

    def show_result(self, result: AttentionResult) -> None:
        self.result = result
        self.graphics.clear()
        self.heat_items = []
        height, width = result.image.shape[:2]
        titles = ["query"] + [layer.name for layer in result.layers]
        for col, title in enumerate(titles):
            self.graphics.addLabel(title, row=0, col=col, size="9pt")
        for q, (row, col) in enumerate(result.queries):
            colour = QUERY_COLOURS[q % len(QUERY_COLOURS)]
            cells = []
            for c in range(len(titles)):
                box = image_view_box(self.graphics, row=1 + q, col=c)
                fit(box, width, height)
                base = pg.ImageItem(result.image, autoLevels=False, levels=(0, 255))
                box.addItem(base)
                if c > 0:
                    heat = pg.ImageItem(
                        heat_colours(normalise_map(result.layers[c - 1].maps[q])),
                        autoLevels=False,
                        levels=(0, 255),
                    )
                    heat.setRect(QRectF(0, 0, width, height))
                    heat.setOpacity(OVERLAY)
                    box.addItem(heat)
                    cells.append(heat)
                box.addItem(
                    pg.ScatterPlotItem(
                        x=[col + 0.5],
                        y=[row + 0.5],
                        brush=pg.mkBrush(*colour),
                        pen=pg.mkPen("w", width=2),
                        size=11,
                    )
                )
            self.heat_items.append(cells)
        self.graphics.setMinimumHeight(MIN_CELL * len(result.queries) + 24)
        self.graphics.setMinimumWidth(MIN_CELL * len(titles))
        self.stack.show_content()

    def clear(self) -> None:
        self.result = None
        self.graphics.clear()
        self.heat_items = []
        self.stack.show_hint()
