"""Scrolling a panel never changes a setting by accident.

Qt gives a wheel event to the combo box or spin box under the pointer, so scrolling down the
Setup panel past "Resolution" turned 32 x 32 into 128 x 128 on the way. Guarded fields take
the wheel only once clicked (focused); otherwise the event goes on to the panel, which scrolls.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QWidget,
)


class _WheelToPanelUnlessFocused(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget):
            return False
        if watched.hasFocus():
            return False  # the user chose this field: the wheel steps its value
        area = _scroll_area_of(watched)
        if area is not None:  # a forwarded event does not propagate: give it to the scroll bar
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True


def _scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def guard_wheel(root: QWidget) -> None:
    """Make every combo box and spin box under ``root`` ignore the wheel until focused."""
    guard = _WheelToPanelUnlessFocused(root)
    for kind in (QComboBox, QAbstractSpinBox):
        for field in root.findChildren(kind):
            field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone never focuses
            field.installEventFilter(guard)
