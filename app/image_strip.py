"""A row of small images (the frames of a latent path, one latent under every class) with the
current one framed; a click picks an image."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.image_items import ClickableImage, PlaceholderStack, SelectionFrame, fit, image_view_box
from sagan_engine.imaging import make_grid

PADDING = 2
BACKGROUND = 40


class ImageStrip(QWidget):
    """Shows uint8 images (N, H, W, 3) side by side."""

    clicked = Signal(int)  # index of the image clicked
    shown = Signal(int)  # number of images now shown

    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.graphics.setMinimumHeight(72)
        self.box = image_view_box(self.graphics)
        self.image_item = ClickableImage()
        self.box.addItem(self.image_item)
        self.frame = SelectionFrame(self.box)
        self.stack = PlaceholderStack(hint, self.graphics)
        self.stack.hint.setStyleSheet(self.stack.hint.styleSheet() + "font-size: 10pt;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.images: np.ndarray | None = None
        self.current: int | None = None
        self._shape: tuple[int, ...] | None = None
        self.image_item.clicked.connect(self._on_click)

    def set_images(self, images: np.ndarray) -> None:
        self.images = images
        strip = make_grid(images, columns=len(images), padding=PADDING, background=BACKGROUND)
        self.image_item.setImage(strip, autoLevels=False, levels=(0, 255))
        if self._shape != strip.shape:
            self._shape = strip.shape
            fit(self.box, strip.shape[1], strip.shape[0])
        self.stack.show_content()
        self.set_current(self.current)
        self.shown.emit(len(images))

    def clear(self, hint: str | None = None) -> None:
        self.images = None
        self._shape = None
        self.frame.setVisible(False)
        self.stack.show_hint(hint)

    def set_current(self, index: int | None) -> None:
        """Frame image ``index`` (None: none)."""
        self.current = index
        if index is None or self.images is None or not 0 <= index < len(self.images):
            self.frame.setVisible(False)
            return
        height, width = self.images.shape[1:3]
        left = PADDING + index * (width + PADDING)
        self.frame.surround(PADDING, left, height, width)

    def index_at(self, x: float) -> int | None:
        if self.images is None:
            return None
        width = self.images.shape[2]
        index, offset = divmod(int(x) - PADDING, width + PADDING)
        if int(x) < PADDING or offset >= width or index >= len(self.images):
            return None
        return index

    def _on_click(self, x: float, _y: float, button: object) -> None:
        if button != Qt.MouseButton.LeftButton:
            return
        index = self.index_at(x)
        if index is not None:
            self.clicked.emit(index)

    def viewport_pos(self, index: int):
        """Where the middle of image ``index`` is in ``graphics.viewport()`` (for tests)."""
        from app.image_items import pixel_to_viewport

        assert self.images is not None
        height, width = self.images.shape[1:3]
        x = PADDING + index * (width + PADDING) + width / 2
        return pixel_to_viewport(self.graphics, self.image_item, x, PADDING + height / 2)
