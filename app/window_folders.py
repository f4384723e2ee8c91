"""The folders the user points the main window at: the data folder (chosen in the Data panel
or dropped on the window), a run folder or checkpoint dropped to explore, and where new runs
are saved. A mixin of :class:`app.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from sagan_engine.output_paths import os_reason
from sagan_engine.runs import RunFolder


class WindowFolders:
    """Data folders, dropped paths and the runs folder (``self`` is the main window)."""

    def _on_source_changed(self, folder: str | None) -> None:
        self.settings.use_demo = folder is None
        if folder:
            self.settings.last_folder = folder

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_path(path)

    def drop_path(self, path: Path) -> None:
        """A dropped run folder or checkpoint opens for exploring; any other folder is data."""
        try:
            is_model = path.suffix == ".safetensors" or RunFolder(path).is_run()
        except OSError as err:  # e.g. a folder this user may not read
            self.show_error("Cannot open the folder", f"{path}: {os_reason(err)}")
            return
        if is_model:
            self.open_run(path)
        elif self.training.active:
            self.show_error("Training is running", "Stop the training before changing the data.")
        else:
            self.data_panel.set_folder(path)

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        for url in urls:
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.is_dir() or path.suffix == ".safetensors":
                    return path
        return None

    def set_runs_dir(self, path: str | Path) -> None:
        self.settings.runs_dir = str(Path(path).expanduser())

    def choose_runs_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Where to save new runs", str(self.settings.runs_dir)
        )
        if path:
            self.set_runs_dir(path)
            self.statusBar().showMessage(f"New runs are saved in {path}", 6000)
