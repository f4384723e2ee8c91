"""The docks share the window: a view dock opened beside the main views leaves them room, and
the Setup panel is never cut at its right edge."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.view_docks import VIEW_DOCK_SHARE


def test_a_view_dock_leaves_room_and_the_setup_panel_is_never_cut(qtbot, window):
    window.resize(1500, 940)
    window.show()
    qtbot.waitExposed(window)
    window.explore_panel.setVisible(True)  # the tallest Setup: its scroll bar shows
    scroll = window.setup_dock.widget()
    side = scroll.widget()

    def setup_fits() -> bool:
        return scroll.viewport().width() >= side.minimumSizeHint().width()

    qtbot.waitUntil(setup_fits)
    for dock in (window.replay_dock, window.d_dock, window.compare_dock):
        dock.toggleViewAction().trigger()  # View → the dock, as the user opens it
        qtbot.waitUntil(lambda dock=dock: dock.width() <= VIEW_DOCK_SHARE * window.width() + 2)
        assert window.centralWidget().width() > 0.3 * window.width()
        assert setup_fits()
        dock.toggleViewAction().trigger()
        qtbot.waitUntil(setup_fits)

    # A width the user gave it stays when it shows again without being opened (a restored
    # layout, a tab switch).
    dock = window.replay_dock
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: dock.width() <= VIEW_DOCK_SHARE * window.width() + 2)
    qtbot.wait(100)  # its narrowing has run (it may have been that narrow already)
    window.resizeDocks([dock], [620], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: dock.width() > 580)
    dock.hide()
    dock.show()
    qtbot.wait(100)
    assert dock.width() > 580


def test_long_names_in_the_setup_boxes_do_not_widen_it(qtbot, window):
    """A 120-character class name (Explore's class box) or GPU name made the Setup panel
    about 900 px wide, now that it is never narrower than its content."""
    window.resize(1500, 940)
    window.show()
    qtbot.waitExposed(window)
    scroll = window.setup_dock.widget()
    before = scroll.minimumSizeHint().width()
    # Filled while hidden (a model opened in train mode), shown afterwards (explore mode).
    window.explore_panel.class_choice.addItem("a very long class folder name " * 4)
    window.explore_panel.setVisible(True)
    qtbot.wait(50)
    assert scroll.minimumSizeHint().width() <= before + 20
    assert window.setup_dock.width() < 500
