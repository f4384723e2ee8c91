"""Dock windows for the views that open beside the main ones (View menu toggles them)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget


def add_view_dock(
    window: QMainWindow,
    title: str,
    view: QWidget,
    name: str,
    area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
) -> QDockWidget:
    """``view`` in a dock of ``window``, closed until the user opens it from the View menu."""
    dock = QDockWidget(title, window)
    dock.setObjectName(name)
    dock.setWidget(view)
    window.addDockWidget(area, dock)
    dock.hide()
    return dock
