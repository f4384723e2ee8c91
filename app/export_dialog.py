"""Options of a sample-grid export: how many samples, columns, padding and scale."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget


@dataclass(frozen=True)
class GridOptions:
    count: int
    columns: int
    padding: int
    scale: int


class GridExportDialog(QDialog):
    def __init__(self, available: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export sample grid")
        self.count = QSpinBox()
        self.count.setRange(1, available)
        self.count.setValue(available)
        self.count.setToolTip("How many of the shown samples to export, from the first")
        self.columns = QSpinBox()
        self.columns.setRange(1, available)
        self.columns.setValue(max(1, math.ceil(math.sqrt(available))))
        self.padding = QSpinBox()
        self.padding.setRange(0, 64)
        self.padding.setValue(2)
        self.padding.setToolTip("White pixels between the samples")
        self.scale = QSpinBox()
        self.scale.setRange(1, 16)
        self.scale.setValue(1)
        self.scale.setToolTip("Enlarge the whole grid by this factor (nearest neighbour)")
        form = QFormLayout(self)
        form.addRow("Samples", self.count)
        form.addRow("Columns", self.columns)
        form.addRow("Padding (px)", self.padding)
        form.addRow("Scale", self.scale)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def options(self) -> GridOptions:
        return GridOptions(
            self.count.value(), self.columns.value(), self.padding.value(), self.scale.value()
        )
