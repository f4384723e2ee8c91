"""Scrolling the Setup panel over a field leaves the field's value alone and scrolls."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from app.wheel_guard import guard_wheel


def wheel_down(widget: QWidget) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_an_unfocused_field_passes_the_wheel_to_the_panel(qtbot):
    panel = QWidget()
    layout = QVBoxLayout(panel)
    combo, spin = QComboBox(), QSpinBox()
    combo.addItems(["32 x 32", "64 x 64", "128 x 128"])
    layout.addWidget(combo)
    layout.addWidget(spin)
    for _ in range(40):
        layout.addWidget(QSpinBox())  # tall enough to scroll
    guard_wheel(panel)
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.resize(300, 200)
    qtbot.addWidget(scroll)
    scroll.show()
    qtbot.waitExposed(scroll)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    wheel_down(combo)
    wheel_down(spin)
    assert combo.currentIndex() == 0 and spin.value() == 0
    assert bar.value() > 0  # the panel scrolled instead
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    wheel_down(spin)  # a chosen field: the wheel steps it
    assert spin.value() == spin.minimum()  # down from 0 stays at the minimum 0...
    spin.setValue(5)
    wheel_down(spin)
    assert spin.value() == 4  # ...and steps down from 5
