"""The grid of generated samples, refreshed as training goes; a click picks a sample and a
pixel of it for the attention inspector."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.image_items import (
    ClickableImage,
    PlaceholderStack,
    SelectionFrame,
    fit,
    image_view_box,
    pixel_to_viewport,
    title_label,
)
from sagan_engine.imaging import make_grid

PADDING = 2
BACKGROUND = 40


class SampleGridView(QWidget):
    """Shows uint8 images (N, H, W, 3) as one grid."""

    sample_clicked = Signal(int, int, int)  # sample index, row, column (pixels of the sample)
    samples_shown = Signal(int)  # number of samples now shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = title_label("Samples")
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.box = image_view_box(self.graphics)
        self.image_item = ClickableImage()
        self.image_item.setToolTip("Click a pixel of a sample to see where attention looks")
        self.box.addItem(self.image_item)
        self.selection = SelectionFrame(self.box)
        self.image_item.clicked.connect(self._on_click)
        self.stack = PlaceholderStack(
            "Press Train (Ctrl+T) to start.\nSamples from fixed latents appear here as the "
            "generator learns; click one to see where its attention looks.",
            self.graphics,
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.stack, 1)
        self.images: np.ndarray | None = None
        self.columns = 1
        self.selected: int | None = None
        self._grid_shape: tuple[int, int] | None = None

    def clear(self, hint: str | None = None) -> None:
        self.images = None
        self.selected = None
        self.selection.setVisible(False)
        self._grid_shape = None
        self.caption.setText("Samples")  # not the caption of the samples gone
        self.stack.show_hint(hint)

    def set_samples(self, images: np.ndarray, caption: str) -> None:
        count = len(images)
        self.images = images
        self.columns = max(1, math.ceil(math.sqrt(count)))
        grid = make_grid(images, self.columns, PADDING, background=BACKGROUND)
        self.image_item.setImage(grid, autoLevels=False, levels=(0, 255))
        if self._grid_shape != grid.shape[:2]:
            self._grid_shape = grid.shape[:2]
            fit(self.box, grid.shape[1], grid.shape[0])
        self.caption.setText(caption)
        if self.selected is not None and self.selected >= count:
            self.select(None)
        self.stack.show_content()
        self.samples_shown.emit(count)

    def _cell_origin(self, index: int) -> tuple[int, int]:
        assert self.images is not None
        height, width = self.images.shape[1:3]
        row, col = divmod(index, self.columns)
        return PADDING + row * (height + PADDING), PADDING + col * (width + PADDING)

    def select(self, index: int | None) -> None:
        self.selected = index
        if index is None or self.images is None:
            self.selection.setVisible(False)
            return
        top, left = self._cell_origin(index)
        height, width = self.images.shape[1:3]
        self.selection.surround(top, left, height, width)

    def sample_at(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(sample index, row, column) under grid pixel (x, y), or None over the padding."""
        if self.images is None:
            return None
        count, height, width = self.images.shape[:3]
        gx, gy = int(math.floor(x)) - PADDING, int(math.floor(y)) - PADDING
        if gx < 0 or gy < 0:
            return None
        col, px = divmod(gx, width + PADDING)
        row, py = divmod(gy, height + PADDING)
        index = row * self.columns + col
        if px >= width or py >= height or col >= self.columns or index >= count:
            return None
        return index, py, px

    def _on_click(self, x: float, y: float, button: object) -> None:
        if button != Qt.MouseButton.LeftButton:
            return
        hit = self.sample_at(x, y)
        if hit is not None:
            self.select(hit[0])
            self.sample_clicked.emit(*hit)

    def viewport_pos(self, index: int, row: int, col: int) -> QPoint:
        """Where pixel (row, col) of sample ``index`` is in ``graphics.viewport()``."""
        top, left = self._cell_origin(index)
        return pixel_to_viewport(self.graphics, self.image_item, left + col + 0.5, top + row + 0.5)
