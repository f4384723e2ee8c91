"""All pixels of one layer at once: for every stride-th query position of the layer's grid,
its map beta_{j,.} as a small heatmap, laid out where the position lies, so the layer's
structure (local, global, by object) shows in one picture (sagan_engine.attention_grid)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.image_items import PlaceholderStack, fit, image_view_box
from app.style import MUTED
from sagan_engine.attention_grid import PositionMaps, position_maps
from sagan_engine.export import heat_colours

TASK = "all-pixels"
GAP = 1  # pixels of background between two small maps


def mosaic(maps: np.ndarray, gap: int = GAP) -> np.ndarray:
    """uint8 RGB picture of maps (R, C, hk, wk): each map scaled to its own peak and
    heat-coloured, in a grid with ``gap`` dark pixels between them."""
    rows, cols, hk, wk = maps.shape
    # (R, C, hk, wk, 3) tiles with a dark gap on their right and bottom, then one picture;
    # coloured a row of maps at a time (all 4096 maps of a 64x64 layer at once would take
    # about a gigabyte of intermediate floats).
    tiles = np.full((rows, cols, hk + gap, wk + gap, 3), 40, np.uint8)
    for r in range(rows):
        row = maps[r]
        peaks = row.max(axis=(1, 2), keepdims=True)
        scaled = np.divide(row, peaks, out=np.zeros(row.shape, np.float32), where=peaks > 0)
        tiles[r, :, :hk, :wk] = heat_colours(scaled)
    picture = tiles.transpose(0, 2, 1, 3, 4).reshape(rows * (hk + gap), cols * (wk + gap), 3)
    return picture[: rows * (hk + gap) - gap, : cols * (wk + gap) - gap]


def _maps_and_mosaic(generator, z, label, layer, stride) -> tuple[PositionMaps, np.ndarray]:
    """On the inspector's thread: the maps and their picture (4096 maps at stride 1 of a
    64x64 layer: not work for the GUI thread)."""
    maps = position_maps(generator, z, label, layer, stride)
    return maps, mosaic(maps.maps)


class AllPixelsView(QWidget):
    shown = Signal(object)  # the PositionMaps now on screen

    def __init__(self, inspector, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inspector = inspector
        self.sample: tuple[np.ndarray, int | None] | None = None
        self.result: PositionMaps | None = None
        self._asked: tuple | None = None
        # Counts the samples set: a request is remembered by this number, not by id() of the
        # sample, which Python hands to the next object once the last one is freed.
        self._sample_number = 0
        self.layer = QComboBox()
        self.stride = QSpinBox()
        self.stride.setRange(0, 64)
        self.stride.setSpecialValueText("auto")
        self.stride.setToolTip("Every how many positions a map is shown (auto: at most 16 a side)")
        header = QHBoxLayout()
        header.addWidget(QLabel("Layer"))
        header.addWidget(self.layer, 1)
        header.addWidget(QLabel("Every"))
        header.addWidget(self.stride)
        header.addWidget(QLabel("positions"))
        self.graphics = pg.GraphicsLayoutWidget()
        self.image_box = image_view_box(self.graphics, row=0, col=0)
        self.image_item = pg.ImageItem()
        self.image_box.addItem(self.image_item)
        self.mosaic_box = image_view_box(self.graphics, row=0, col=1)
        self.mosaic_item = pg.ImageItem()
        self.mosaic_box.addItem(self.mosaic_item)
        self.graphics.ci.layout.setColumnStretchFactor(1, 3)
        self.stack = PlaceholderStack(
            "Pick a sample: here, the map of every position of one layer, each where its "
            "position lies in the image.",
            self.graphics,
        )
        self.caption = QLabel("")
        self.caption.setStyleSheet(f"color: {MUTED};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        self.layer.currentIndexChanged.connect(self._request)
        self.stride.valueChanged.connect(self._request)
        inspector.task_ready.connect(self._on_reply)
        inspector.failed.connect(self._on_failed)

    def set_layers(self, names: list[str] | tuple[str, ...]) -> None:
        if [self.layer.itemText(i) for i in range(self.layer.count())] == list(names):
            return
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(list(names))
        self.layer.blockSignals(False)
        self._request()

    def clear(self) -> None:
        """No sample (another model, or training began): not the last one's maps."""
        self.sample, self.result, self._asked = None, None, None
        self.image_item.clear()
        self.mosaic_item.clear()
        self.caption.setText("")
        self.stack.show_hint()

    def set_sample(self, z: np.ndarray, label: int | None) -> None:
        self.sample = (np.asarray(z).copy(), label)
        self._sample_number += 1
        self._request()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._request()  # skipped while hidden: nobody was looking

    def _request(self) -> None:
        if self.sample is None or self.layer.count() == 0 or not self.isVisible():
            return
        asked = (self._sample_number, self.layer.currentText(), self.stride.value())
        if asked == self._asked:
            return  # already asked for (e.g. the tab shown again)
        self._asked = asked
        z, label = self.sample
        layer, stride = self.layer.currentText(), self.stride.value() or None
        self.caption.setText(f"Computing the maps of {layer}…")
        self.inspector.run_task(TASK, lambda g: _maps_and_mosaic(g, z, label, layer, stride))

    def _on_failed(self, what: str, message: str, _details: str) -> None:
        if what == f"task:{TASK}":  # said where the answer would have been, not left waiting
            self._asked = None
            self.caption.setText(f"Cannot compute this: {message}")

    def _on_reply(self, reply) -> None:
        if reply.key != TASK:
            return
        result, picture = reply.result
        self.result = result
        height, width = result.image.shape[:2]
        self.image_item.setImage(result.image, autoLevels=False, levels=(0, 255))
        fit(self.image_box, width, height)
        self.mosaic_item.setImage(picture, autoLevels=False, levels=(0, 255))
        fit(self.mosaic_box, picture.shape[1], picture.shape[0])
        rows, cols = result.maps.shape[:2]
        self.caption.setText(
            f"{result.layer}: {rows}×{cols} query positions (every {result.stride} of the "
            f"{result.grid[0]}×{result.grid[1]} grid), each map on the "
            f"{result.maps.shape[2]}×{result.maps.shape[3]} key grid, scaled to its own peak."
        )
        self.stack.show_content()
        self.shown.emit(result)
