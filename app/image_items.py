"""Small pyqtgraph building blocks shared by the image views.

Importing this module sets pyqtgraph's options (row-major images): every view that shows an
image imports it, so arrays are always (row, column, rgb), as the engine gives them."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QStackedWidget, QWidget

from app.style import ACCENT, MUTED, configure_pyqtgraph

configure_pyqtgraph()


class ClickableImage(pg.ImageItem):
    """An ImageItem that reports clicks in image pixel coordinates (x = column, y = row)."""

    clicked = Signal(float, float, object)  # x, y, Qt.MouseButton

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            pos = ev.pos()
            self.clicked.emit(pos.x(), pos.y(), ev.button())


def image_view_box(view: pg.GraphicsLayoutWidget, row: int = 0, col: int = 0) -> pg.ViewBox:
    """A view box for showing (not exploring) an image: square pixels, y down, no panning."""
    box = view.addViewBox(row=row, col=col)
    box.setAspectLocked(True)
    box.invertY(True)
    box.setMouseEnabled(False, False)
    box.setMenuEnabled(False)
    box.enableAutoRange(enable=False)
    return box


class SelectionFrame(QGraphicsRectItem):
    """The accent rectangle around the selected image of a grid or strip in ``box``; hidden
    until :meth:`surround` places it."""

    def __init__(self, box: pg.ViewBox) -> None:
        super().__init__()
        pen = QPen(pg.mkColor(ACCENT))
        pen.setWidthF(2.5)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setVisible(False)
        box.addItem(self)

    def surround(self, top: float, left: float, height: float, width: float) -> None:
        """Show the frame one pixel outside the image at (top, left) of that size."""
        self.setRect(QRectF(left - 1, top - 1, width + 2, height + 2))
        self.setVisible(True)


def fit(box: pg.ViewBox, width: float, height: float) -> None:
    box.setRange(xRange=(0, width), yRange=(0, height), padding=0.02)


def pixel_to_viewport(view: pg.GraphicsView, item: pg.GraphicsObject, x: float, y: float) -> QPoint:
    """Where pixel (x, y) of ``item`` lies in the view's viewport (for tests and tooltips)."""
    box = item.getViewBox()
    if box is not None:
        box.updateMatrix()  # pyqtgraph defers it to the next paint
    return view.mapFromScene(item.mapToScene(QPointF(x, y)))


def placeholder(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {MUTED}; font-size: 13pt; padding: 24px;")
    return label


class PlaceholderStack(QStackedWidget):
    """Shows a hint until there is something to show, then the real widget."""

    def __init__(self, hint: str, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hint = placeholder(hint)
        self.addWidget(self.hint)
        self.addWidget(content)

    def show_hint(self, text: str | None = None) -> None:
        if text is not None:
            self.hint.setText(text)
        self.setCurrentIndex(0)

    def show_content(self) -> None:
        self.setCurrentIndex(1)


class ElidedLabel(QLabel):
    """One line of text that ends in "…" where it is too wide; the tooltip then shows it all.

    ``text()`` is the whole text, as set.
    """

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._elide()  # a style sheet's font arrives after the text

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self._full, Qt.TextElideMode.ElideRight, max(self.contentsRect().width(), 0)
        )
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")


def title_label(text: str = "") -> ElidedLabel:
    """A view's title: bold, and allowed to shrink (elided, never widening the layout)."""
    label = ElidedLabel(text)
    label.setObjectName("viewTitle")
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label
