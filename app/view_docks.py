"""Dock windows: the views that open beside the main ones (View menu toggles them), and the
scroll area of the Setup dock."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QDockWidget, QMainWindow, QScrollArea, QWidget

# A view dock opened beside the main views takes at most this share of the window's width:
# the width its view asks for squeezed the samples and curves into slivers.
VIEW_DOCK_SHARE = 0.36
COMBO_MIN_CHARACTERS = 12  # a Setup combo box is at least this wide, whatever its entries


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
    # When the user opens it, not on every visibilityChanged: that also comes when a saved
    # layout is restored and on tab switches, and would undo a width the user chose.
    dock.toggleViewAction().triggered.connect(
        lambda checked: checked and leave_room_beside(window, dock)
    )
    return dock


def open_view_dock(window: QMainWindow, dock: QDockWidget) -> None:
    """Show ``dock`` for the user (e.g. File → Compare runs), as the View menu would."""
    dock.show()
    dock.raise_()
    leave_room_beside(window, dock)


def leave_room_beside(window: QMainWindow, dock: QDockWidget) -> None:
    """Narrow a just-opened dock to VIEW_DOCK_SHARE of the window, once the layout has placed
    it (its width at the moment it opens is the one before)."""

    def narrow() -> None:
        limit = int(window.width() * VIEW_DOCK_SHARE)
        if dock.isVisible() and not dock.isFloating() and dock.width() > limit:
            window.resizeDocks([dock], [limit], Qt.Orientation.Horizontal)

    QTimer.singleShot(0, dock, narrow)


class SidePanelScroll(QScrollArea):
    """A vertical scroll area never narrower than its content plus the scroll bar: squeezed
    by a dock opened beside it, the Setup panel lost its right edge (buttons cut to "Brow",
    messages cut mid-word) with no way to scroll to it."""

    def __init__(self, content: QWidget, least_width: int) -> None:
        super().__init__()
        self.least_width = least_width
        # Its width follows its content's: a 120-character class name or GPU name in a
        # combo box would make it 900 px wide. Boxes show what fits and list all in full.
        for box in content.findChildren(QComboBox):
            box.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            box.setMinimumContentsLength(COMBO_MIN_CHARACTERS)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        # The content's layout changed (a panel shown, a box filled): its least width may
        # have too, and the dock must ask this area's hint again.
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        content = self.widget().minimumSizeHint().width()
        bar = self.verticalScrollBar().sizeHint().width()
        needed = content + bar + 2 * self.frameWidth()
        return QSize(max(self.least_width, needed), hint.height())
