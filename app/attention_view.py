"""The attention inspector: the chosen sample enlarged, where clicks place query points, and
for every query point and every attention layer of G the attention map beta_{j,.} of that
pixel j, as a heatmap on its own grid, overlaid on the image with adjustable opacity (as
figure 1 of the SAGAN paper: one colour per query point)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.image_items import (
    ClickableImage,
    PlaceholderStack,
    fit,
    image_view_box,
    pixel_to_viewport,
    title_label,
)
from app.style import MUTED
from sagan_engine.attention import AttentionResult, Query
from sagan_engine.export import QUERY_COLOURS, heat_colours, normalise_map

MAX_QUERIES = len(QUERY_COLOURS)


def _marker(queries: list[Query], indices: list[int], size: float = 14) -> pg.ScatterPlotItem:
    return pg.ScatterPlotItem(
        x=[c + 0.5 for _, c in queries],
        y=[r + 0.5 for r, _ in queries],
        brush=[pg.mkBrush(*QUERY_COLOURS[i % MAX_QUERIES]) for i in indices],
        pen=pg.mkPen("w", width=2),
        size=size,
        pxMode=True,
    )


class _Cell:
    """One heatmap panel: the image, one layer's map for one query over it, the marker."""

    def __init__(self, box: pg.ViewBox) -> None:
        self.box = box
        self.base = pg.ImageItem()
        self.heat = pg.ImageItem()
        self.marker: pg.ScatterPlotItem | None = None
        self.marker_for: tuple[Query, int] | None = None  # (query, colour index) it shows
        box.addItem(self.base)
        box.addItem(self.heat)


class AttentionView(QWidget):
    """Set an image with :meth:`show_sample`, answers with :meth:`show_result`."""

    queries_changed = Signal(object)  # list[Query]: the user added, removed or cleared points
    heatmaps_shown = Signal(int)  # how many heatmap panels the newest result filled

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = title_label("Attention inspector")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(70)
        self.opacity.setFixedWidth(120)
        self.opacity.setToolTip("Opacity of the heatmaps over the image")
        self.over_image = QCheckBox("Over image")
        self.over_image.setChecked(True)
        self.over_image.setToolTip(
            "Unchecked: each map alone on its layer's own grid of key positions"
        )
        self.clear_button = QPushButton("Clear points")
        self.clear_button.setToolTip("Remove every query point (right-click removes one)")
        header = QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(QLabel("Opacity"))
        header.addWidget(self.opacity)
        header.addWidget(self.over_image)
        header.addWidget(self.clear_button)

        self.query_view = pg.GraphicsLayoutWidget()
        self.query_view.setMinimumWidth(180)
        self.query_box = image_view_box(self.query_view)
        self.query_image = ClickableImage()
        self.query_image.setToolTip(
            "Click to add a query point (up to 8, one colour each); right-click removes one"
        )
        self.query_box.addItem(self.query_image)
        self.query_markers: pg.ScatterPlotItem | None = None
        self.hint = QLabel("Click any pixel of the image to place a query point.")
        self.hint.setStyleSheet(f"color: {MUTED};")
        self.hint.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.query_view, 1)
        left_layout.addWidget(self.hint)

        self.maps_view = pg.GraphicsLayoutWidget()
        self.maps_view.ci.setSpacing(4)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.maps_view)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        self.stack = PlaceholderStack(
            "Click a sample to enlarge it here, then click any of its pixels: for every "
            "self-attention layer of the generator you see where that pixel looks.",
            splitter,
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)

        self.image: np.ndarray | None = None
        self.queries: list[Query] = []
        self.result: AttentionResult | None = None
        self.source_note = ""  # where the shown image and maps come from, when it matters
        self.gammas: dict[str, float] = {}
        self._cells: list[list[_Cell]] = []  # [query][layer]
        self._layout_key: tuple | None = None

        self.query_image.clicked.connect(self._on_click)
        self.opacity.valueChanged.connect(self._apply_opacity)
        self.over_image.toggled.connect(self._apply_opacity)
        self.clear_button.clicked.connect(self.clear_queries)

    # ------------------------------------------------------------------ inputs
    def show_sample(self, image: np.ndarray, caption: str, queries: list[Query]) -> None:
        """Enlarge ``image`` with these query points; heatmaps come with :meth:`show_result`."""
        resized = self.image is None or self.image.shape != image.shape
        self.image = image
        self.caption.setText(caption)
        self.source_note = ""
        self.query_image.setImage(image, autoLevels=False, levels=(0, 255))
        if resized:
            fit(self.query_box, image.shape[1], image.shape[0])
        self.stack.show_content()
        self._set_queries(queries, notify=False)

    def set_source_note(self, note: str) -> None:
        """A line under the hint about where the shown image and maps come from ("": none)."""
        self.source_note = note
        self._update_hint()

    def show_result(self, result: AttentionResult) -> None:
        """Draw the maps of a result whose queries are the current ones."""
        if list(result.queries) != self.queries:
            return  # the user moved on; a newer answer is on its way
        self.result = result
        if result.image is not self.image:  # show_sample usually put this very image up
            self.query_image.setImage(result.image, autoLevels=False, levels=(0, 255))
        self.image = result.image
        self._build_cells(result)
        height, width = result.image.shape[:2]
        for q, query in enumerate(result.queries):
            for l, layer in enumerate(result.layers):
                cell = self._cells[q][l]
                cell.base.setImage(result.image, autoLevels=False, levels=(0, 255))
                cell.heat.setImage(
                    heat_colours(normalise_map(layer.maps[q])), autoLevels=False, levels=(0, 255)
                )
                cell.heat.setRect(QRectF(0, 0, width, height))
                if cell.marker_for != (query, q):  # a new marker item costs ~1 ms each
                    if cell.marker is not None:
                        cell.box.removeItem(cell.marker)
                    cell.marker = _marker([query], [q], size=11)
                    cell.marker_for = (query, q)
                    cell.box.addItem(cell.marker)
        self._apply_opacity()
        self._update_titles()
        self.heatmaps_shown.emit(len(result.queries) * len(result.layers))

    def set_gammas(self, gammas: dict[str, float]) -> None:
        self.gammas = gammas
        self._update_titles()

    def clear(self) -> None:
        self.image = None
        self.result = None
        self.queries = []
        self._clear_cells()
        self.caption.setText("Attention inspector")
        self.stack.show_hint()

    # ------------------------------------------------------------------ query points
    def _set_queries(self, queries: list[Query], notify: bool = True) -> None:
        # Colours follow the order of the points, as in the exported figure.
        queries = list(queries)[-MAX_QUERIES:]
        # A slider's every frame comes with the same points: keep their markers then.
        if queries != self.queries or (self.query_markers is None) == bool(queries):
            if self.query_markers is not None:
                self.query_box.removeItem(self.query_markers)
                self.query_markers = None
            if queries:
                self.query_markers = _marker(queries, list(range(len(queries))), size=16)
                self.query_box.addItem(self.query_markers)
        self.queries = queries
        if self.result is not None and list(self.result.queries) != self.queries:
            self.result = None
            if not self.queries:
                self._clear_cells()
        self._update_hint()
        if notify:
            self.queries_changed.emit(list(self.queries))

    def _update_hint(self) -> None:
        hint = (
            f"{len(self.queries)} query point(s). Click to add (up to {MAX_QUERIES}), "
            "right-click to remove."
            if self.queries
            else "Click any pixel of the image to place a query point."
        )
        self.hint.setText(f"{hint}\n{self.source_note}" if self.source_note else hint)

    def add_query(self, row: int, col: int) -> None:
        if (row, col) in self.queries:
            return
        self._set_queries(self.queries + [(row, col)])

    def remove_nearest(self, row: float, col: float) -> None:
        if not self.queries:
            return
        nearest = min(self.queries, key=lambda q: (q[0] - row) ** 2 + (q[1] - col) ** 2)
        self._set_queries([q for q in self.queries if q != nearest])

    def clear_queries(self) -> None:
        self._set_queries([])

    def _on_click(self, x: float, y: float, button: object) -> None:
        if self.image is None:
            return
        height, width = self.image.shape[:2]
        row, col = int(y), int(x)
        if not (0 <= row < height and 0 <= col < width):
            return
        if button == Qt.MouseButton.RightButton:
            self.remove_nearest(y, x)
        else:
            self.add_query(row, col)

    def viewport_pos(self, row: int, col: int):
        """Where pixel (row, col) of the enlarged image is in ``query_view.viewport()``."""
        return pixel_to_viewport(self.query_view, self.query_image, col + 0.5, row + 0.5)

    # ------------------------------------------------------------------ heatmap panels
    def _clear_cells(self) -> None:
        self.maps_view.clear()
        self._cells = []
        self._layout_key = None

    def _build_cells(self, result: AttentionResult) -> None:
        key = (len(result.queries), tuple(layer.name for layer in result.layers))
        key += (result.image.shape,)
        if key == self._layout_key:
            return
        self._clear_cells()
        self._layout_key = key
        height, width = result.image.shape[:2]
        self._titles = []
        for l, _layer in enumerate(result.layers):
            self._titles.append(self.maps_view.addLabel("", row=0, col=l, size="9pt"))
        for q in range(len(result.queries)):
            row = []
            for l in range(len(result.layers)):
                box = image_view_box(self.maps_view, row=1 + q, col=l)
                fit(box, width, height)
                row.append(_Cell(box))
            self._cells.append(row)

    def _update_titles(self) -> None:
        if self.result is None or not self._cells:
            return
        for title, layer in zip(self._titles, self.result.layers, strict=True):
            hk, wk = layer.maps.shape[1:]
            detail = f"keys {hk}×{wk}"
            if layer.name in self.gammas:
                detail += f" · γ {self.gammas[layer.name]:+.3f}"
            text = f"<b>{layer.name}</b><br><span style='color:{MUTED}'>{detail}</span>"
            if title.text != text:  # laying out rich text again costs a few ms a frame
                title.setText(text)

    def _apply_opacity(self) -> None:
        over = self.over_image.isChecked()
        alpha = self.opacity.value() / 100 if over else 1.0
        self.opacity.setEnabled(over)
        for row in self._cells:
            for cell in row:
                cell.base.setVisible(over)
                cell.heat.setOpacity(alpha)

    def heatmaps(self) -> list[tuple[int, str, np.ndarray]]:
        """(query index, layer name, RGB heatmap on the layer's key grid) of every panel."""
        if self.result is None:
            return []
        return [
            (q, layer.name, self._cells[q][l].heat.image)
            for q in range(len(self.result.queries))
            for l, layer in enumerate(self.result.layers)
        ]
