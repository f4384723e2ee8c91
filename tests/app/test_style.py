"""The dark look: controls stay visible on it."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QCheckBox

from app.style import INDICATOR_STYLE, MUTED, apply_style


def test_an_unticked_box_is_visible_on_the_dark_palette(qtbot, monkeypatch):
    app = QApplication.instance()
    palette, sheet, style = app.palette(), app.styleSheet(), app.style().name()
    # Only the look under test: apply_style's font and pyqtgraph options would outlive it.
    monkeypatch.setattr(app, "setFont", lambda *a: None)
    monkeypatch.setattr("app.style.configure_pyqtgraph", lambda: None)
    try:
        apply_style(app)
        assert app.styleSheet() == INDICATOR_STYLE
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
