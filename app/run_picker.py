"""Choosing several run folders to compare: the runs under the runs folder with checkboxes,
plus "Add folder…" for runs kept elsewhere (a QFileDialog cannot pick several folders)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sagan_engine.runs import RunFolder

PATH_ROLE = Qt.ItemDataRole.UserRole


def run_folders(runs_dir: str | Path) -> list[Path]:
    """The sub-folders of ``runs_dir`` that hold a run (a config.json or a metrics.csv),
    newest first; none when the folder does not exist."""
    root = Path(runs_dir).expanduser()
    try:
        entries = list(root.iterdir()) if root.is_dir() else []
    except OSError:  # the runs folder itself cannot be listed
        return []
    found = []
    for folder in entries:
        try:  # one unreadable folder (lost+found on a disk of its own) hides no other run
            if folder.is_dir() and (
                RunFolder(folder).config_path.is_file() or RunFolder(folder).metrics_path.is_file()
            ):
                found.append((folder.stat().st_mtime, folder))
        except OSError:
            continue
    return [folder for _, folder in sorted(found, key=lambda item: item[0], reverse=True)]


class RunPicker(QDialog):
    """Check the runs to compare; :meth:`chosen` gives their folders in list order."""

    def __init__(self, runs_dir: str | Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self.runs_dir = Path(runs_dir).expanduser()
        self.list = QListWidget()
        self.list.itemChanged.connect(self._update_ok)
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("A run folder kept outside the runs folder")
        self.add_button.clicked.connect(self.browse)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Runs in {self.runs_dir}:"))
        layout.addWidget(self.list, 1)
        layout.addWidget(self.add_button)
        layout.addWidget(self.buttons)
        self.resize(520, 420)
        for folder in run_folders(self.runs_dir):
            self.add_run(folder, checked=False)
        self._update_ok()

    def add_run(self, folder: str | Path, checked: bool = True) -> QListWidgetItem:
        """List ``folder`` (once), with a note when it has no metrics to plot."""
        folder = Path(folder).expanduser()
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(PATH_ROLE) == str(folder):
                item.setCheckState(Qt.CheckState.Checked if checked else item.checkState())
                return item
        inside = folder.parent == self.runs_dir
        text = folder.name if inside else str(folder)
        if not RunFolder(folder).metrics_path.is_file():
            text += "  (no metrics yet)"
        item = QListWidgetItem(text)
        item.setData(PATH_ROLE, str(folder))
        item.setToolTip(str(folder))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.addItem(item)
        return item

    def browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Add a run folder", str(self.runs_dir))
        if path:
            self.add_run(path)

    def chosen(self) -> list[str]:
        return [
            self.list.item(row).data(PATH_ROLE)
            for row in range(self.list.count())
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        ]

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.chosen()))


def pick_runs(runs_dir: str | Path, parent: QWidget | None = None) -> list[str]:
    """Ask the user for the runs to compare (a modal RunPicker); none when cancelled."""
    picker = RunPicker(runs_dir, parent)
    return picker.chosen() if picker.exec() == QDialog.DialogCode.Accepted else []
