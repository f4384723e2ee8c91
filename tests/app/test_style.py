"""The dark look: controls stay visible on it."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QCheckBox

from app.style import MUTED, apply_style


def test_an_unticked_box_is_visible_on_the_dark_palette(qtbot):
    app = QApplication.instance()
    palette, sheet, style = app.palette(), app.styleSheet(), app.style().name()
    try:
        apply_style(app)
        box = QCheckBox("a run")
        qtbot.addWidget(box)
        box.resize(120, 30)
        image = box.grab().toImage()
        border = QColor(MUTED)
        near = [
            (x, y)
            for x in range(min(image.width(), 30))
            for y in range(image.height())
            if max(abs(c - d) for c, d in zip(image.pixelColor(x, y).getRgb()[:3],
                                               border.getRgb()[:3], strict=True)) < 40
        ]  # fmt: skip
        assert len(near) >= 20  # the box's outline, in the muted text colour
    finally:
        app.setStyle(style)
        app.setPalette(palette)
        app.setStyleSheet(sheet)
