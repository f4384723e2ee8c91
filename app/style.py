"""The look of the app: a dark Fusion palette (images and heatmaps read best on dark grey) and
the matching pyqtgraph options. Colours used by several views live here."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#1e1f22"
PANEL = "#2b2d31"
TEXT = "#dcdde1"
MUTED = "#8b8e96"
ACCENT = "#4f9dff"
ERROR = "#ff6b6b"
OK = "#6fcf7f"

# Curves: one colour per series, the same in every plot.
SERIES_COLOURS = {
    "loss_d": "#ff7f50",
    "loss_g": "#4f9dff",
    "d_real": "#6fcf7f",
    "d_fake": "#e05dd0",
    "images_per_s": "#f2c94c",
}
# Extra colours for the gamma of each attention layer, in order.
GAMMA_COLOURS = ["#4f9dff", "#ff7f50", "#6fcf7f", "#e05dd0", "#f2c94c", "#56ccf2", "#bb86fc"]


# Fusion draws an unchecked box in a shade darker than the window: on this dark palette it
# vanished (the run picker's unticked runs, "Linear", "Over image"). Checked boxes keep
# Fusion's tick.
INDICATOR_STYLE = f"""
QCheckBox::indicator:unchecked, QAbstractItemView::indicator:unchecked {{
    border: 1px solid {MUTED}; border-radius: 2px; background: {BACKGROUND};
    width: 12px; height: 12px;
}}
"""


def configure_pyqtgraph() -> None:
    """Row-major images (arrays are (row, col, rgb), as the engine gives them) and dark plots."""
    pg.setConfigOptions(
        imageAxisOrder="row-major", background=BACKGROUND, foreground=TEXT, antialias=True
    )


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: PANEL,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: BACKGROUND,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.ToolTipBase: "#f5f5f5",
        QPalette.ColorRole.ToolTipText: "#111111",
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: PANEL,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: ERROR,
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: MUTED,
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    roles = QPalette.ColorRole
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(MUTED))
    app.setPalette(palette)
    app.setStyleSheet(INDICATOR_STYLE)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    configure_pyqtgraph()
