"""Exports from the main window: sample grids, attention figures and metrics, each written in
a background job with the error, if any, in one dialog. A mixin of
:class:`app.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog

from app.export_dialog import GridExportDialog, GridOptions
from app.modes import EXPLORE
from sagan_engine.export import save_attention_figure, save_grid, save_metrics_csv


class WindowExports:
    """The File → Export actions (``self`` is the main window)."""

    def _save_path(self, title: str, name: str, kind: str, suffix: str) -> Path | None:
        start = Path(self.run_dir or self.settings.runs_dir) / name
        path, _ = QFileDialog.getSaveFileName(self, title, str(start), f"{kind} (*{suffix})")
        if not path:
            return None
        path = Path(path)
        return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)

    def _write(self, what: str, work) -> None:
        """Write a file in the background; report it in the status bar, or the error."""
        job = self.jobs.start(lambda job: work(), "export")
        job.succeeded.connect(self._on_written)
        job.failed.connect(lambda message, details: self.show_error(what, message, details))

    def _on_written(self, path: Path) -> None:
        self.statusBar().showMessage(f"Saved {path}", 8000)
        self.export_done.emit(str(path))

    def export_grid(self) -> None:
        if self.samples is None:
            return
        dialog = GridExportDialog(len(self.samples.images), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        options = dialog.options()
        path = self._save_path("Export sample grid", "samples.png", "PNG images", ".png")
        if path is not None:
            self.write_grid(path, options)

    def write_grid(self, path: str | Path, options: GridOptions) -> None:
        assert self.samples is not None
        images = self.samples.images[: options.count].copy()
        truncation = self.samples.truncation
        metadata = truncation.metadata() if truncation is not None else None
        self._write(
            "Cannot export the grid",
            lambda: save_grid(
                images, path, options.columns, options.padding, options.scale, metadata
            ),
        )

    def export_attention(self) -> None:
        if self.attention_result is None:
            return
        path = self._save_path("Export attention figure", "attention.png", "PNG images", ".png")
        if path is not None:
            result = self.attention_result
            metadata = self.latent_explorer.metadata() if self.mode == EXPLORE else None
            self._write(
                "Cannot export the attention figure",
                lambda: save_attention_figure(result, path, metadata),
            )

    def export_metrics(self) -> None:
        history = self.curves_view.history
        if not len(history):
            return
        path = self._save_path("Export metrics", "metrics.csv", "CSV files", ".csv")
        if path is not None:
            copy = history.copy()  # the GUI thread goes on appending to the original
            self._write(
                "Cannot export the metrics", lambda: save_metrics_csv(copy.to_step_stats(), path)
            )
