"""Exports from the main window: sample grids, attention figures and metrics, each written in
a background job with the error, if any, in one dialog. A mixin of
:class:`app.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog

from app.export_dialog import GridExportDialog, GridOptions
from app.inspector_worker import SampleSet
from app.modes import EXPLORE
from app.save_paths import choose_save_path
from sagan_engine.demo_model import is_demo_checkpoint
from sagan_engine.export import save_attention_figure, save_grid, save_metrics_csv
from sagan_engine.output_paths import output_errors, write_output
from sagan_engine.runs import RunFolder


class WindowExports:
    """The File → Export actions (``self`` is the main window)."""

    def _shown_name(self) -> str:
        """What exported files' names start with: the shown run's or checkpoint's name."""
        run_dir = self.shown_run_dir()
        if run_dir:
            return Path(run_dir).name
        info = self.model_info if self.mode == EXPLORE else None
        if info is None:
            return "sagan"
        return "demo-model" if is_demo_checkpoint(info.checkpoint) else Path(info.checkpoint).stem

    def _shown_training_log(self) -> Path | None:
        """The metrics.csv of the model shown (a run's, or the demo model's shipped log)."""
        if self.mode == EXPLORE:
            return self._training_log(self.model_info) if self.model_info is not None else None
        path = RunFolder(self.run_dir).metrics_path if self.run_dir else None
        return path if path is not None and path.is_file() else None

    def _save_path(self, title: str, name: str, kind: str, suffix: str) -> Path | None:
        start = Path(self.shown_run_dir() or self.settings.runs_dir) / name
        return choose_save_path(self, title, start, f"{kind} (*{suffix})", (suffix,))

    def _write(self, what: str, work) -> None:
        """Write a file in the background; report it in the status bar, or the error."""
        job = self.jobs.start(lambda job: work(), "export")
        job.succeeded.connect(self._on_written)
        job.failed.connect(lambda message, details: self.show_error(what, message, details))

    def _on_written(self, path: Path) -> None:
        self.statusBar().showMessage(f"Saved {path}", 8000)
        self.export_done.emit(str(path))

    # Each export takes what it writes before its dialogs open: while they are open, training
    # goes on and a model may finish loading, replacing what the user chose to export.
    def export_grid(self) -> None:
        samples = self.samples
        if samples is None:
            return
        dialog = GridExportDialog(len(samples.images), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        options = dialog.options()
        path = self._save_path("Export sample grid", "samples.png", "PNG images", ".png")
        if path is not None:
            self.write_grid(path, options, samples)

    def write_grid(
        self, path: str | Path, options: GridOptions, samples: SampleSet | None = None
    ) -> None:
        """Write ``samples`` (by default those shown) as a grid, in the background."""
        samples = samples or self.samples
        if samples is None:
            return
        images = samples.images[: options.count].copy()
        truncation = samples.truncation
        metadata = truncation.metadata() if truncation is not None else None
        self._write(
            "Cannot export the grid",
            lambda: save_grid(
                images, path, options.columns, options.padding, options.scale, metadata
            ),
        )

    def export_attention(self) -> None:
        result = self.attention_result
        if result is None:
            return
        metadata = self.latent_explorer.metadata() if self.mode == EXPLORE else None
        path = self._save_path("Export attention figure", "attention.png", "PNG images", ".png")
        if path is not None:
            self._write(
                "Cannot export the attention figure",
                lambda: save_attention_figure(result, path, metadata),
            )

    def export_metrics(self) -> None:
        """The training log of the model shown, every column of it (losses, D's outputs, γ,
        speed, attention statistics, SWD): a copy of its metrics.csv, as ``sagan-engine
        export --csv`` writes; without one, what the curves and statistics show."""
        history = self.curves_view.history
        if not len(history):
            return
        log = self._shown_training_log()
        copy = history.copy()  # the GUI thread goes on appending to the original
        attention = self.attention_tools.stats_view.history.to_events()
        # Not "metrics.csv": in the run folder that name is the run's own log.
        path = self._save_path(
            "Export metrics", f"{self._shown_name()}-metrics.csv", "CSV files", ".csv"
        )
        if path is None:
            return
        if log is not None:
            self._write("Cannot export the metrics", lambda: _copy_complete_lines(log, path))
        else:
            self._write(
                "Cannot export the metrics",
                lambda: save_metrics_csv(copy.to_step_stats(), path, attention),
            )


def _copy_complete_lines(log: Path, path: Path) -> Path:
    """Copy a metrics.csv up to its last complete line (training may be appending a row)."""
    with output_errors(log, "cannot read"):
        data = log.read_bytes()
    return write_output(path, data[: data.rfind(b"\n") + 1])
