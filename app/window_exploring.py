"""Exploring a trained model in the main window: opening a run folder, a checkpoint, the last
run or the demo model (loaded off the GUI thread by the inspector worker), comparing runs,
and what the window shows once the model is there. A mixin of
:class:`app.main_window.MainWindow`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from app.inspector_worker import ModelInfo, SampleSet
from app.modes import EXPLORE
from app.run_picker import pick_runs
from app.style import ACCENT, MUTED
from app.view_docks import open_view_dock
from sagan_engine.demo_model import (
    DEMO_RUN_NAME,
    demo_model_available,
    is_demo_checkpoint,
    shipped_evaluation_dir,
    shipped_metrics_path,
)
from sagan_engine.runs import RunFolder


class WindowExploring:
    """Opens trained models for exploring (``self`` is the main window)."""

    def choose_run(self) -> None:
        start = self.settings.last_run or str(self.settings.runs_dir)
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", start)
        if path:
            self.open_run(path)

    def choose_checkpoint(self) -> None:
        start = self.settings.last_run or str(self.settings.runs_dir)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a checkpoint", start, "SAGAN Studio checkpoints (*.safetensors)"
        )
        if path:
            self.open_run(path)

    def open_last_run(self) -> None:
        if self.settings.last_run:
            self.open_run(self.settings.last_run)

    def explore_current_run(self) -> None:
        if self.run_dir:
            self.open_run(self.run_dir)

    def compare_runs(self) -> None:
        """File -> Compare runs: overlay the curves of the runs the user picks."""
        paths = pick_runs(self.settings.runs_dir, self)
        if paths:
            open_view_dock(self, self.compare_dock)
            self.compare_view.compare(self.jobs, paths)

    def open_demo_model(self) -> bool:
        """Explore the model that ships with the app (the run name "demo")."""
        return self.open_run(DEMO_RUN_NAME)

    def greet_first_start(self) -> bool:
        """On the very first start, open the demo model: something to click within seconds."""
        if self.settings.demo_model_shown or not demo_model_available():
            return False
        self.settings.demo_model_shown = True
        opened = self.open_demo_model()
        self.first_look_pending = opened  # its first grid enlarges a face with a query
        return opened

    def open_run(self, path: str | Path) -> bool:
        """Explore the generator of a run folder or checkpoint (loaded off the GUI thread)."""
        if self.training.active:
            self.show_error(
                "Training is running", "Stop the training before opening a run to explore."
            )
            return False
        self._set_state_text(f"Opening {Path(path).name}…", MUTED)
        self.inspector.load_model(path)
        return True

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.training.release()  # the last run's weights and optimizer state can go
        self._enter_mode(EXPLORE)
        self.model_info = info
        self.d_view.set_model(info.run_dir or info.checkpoint)
        self.class_names = info.class_names
        self.explore_panel.set_model(info)
        self.latent_explorer.set_model(info)
        self.attention_view.set_gammas(info.gammas)
        self.settings.last_run = info.run_dir or info.checkpoint
        where = self._model_name(info)
        self.set_title(f"exploring {where}")
        self._show_exploring_state()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("exploring a trained model")
        self.sample_view.clear("Drawing samples…")
        self.explore_panel.draw()
        metrics = self._training_log(info)
        if metrics is not None:
            job = self.curves_view.load_csv(self.jobs, metrics)
            job.succeeded.connect(lambda _history: self._update_actions())
            job.failed.connect(lambda message, _d: self.statusBar().showMessage(message, 8000))
            self.attention_tools.load_run_metrics(self.jobs, metrics)
        # A run's evaluation.json; for the demo model, the figures measured at its export.
        evaluations = info.run_dir or shipped_evaluation_dir(info.checkpoint)
        self.quality_view.show_model(self.jobs, info.run_dir or info.checkpoint, evaluations)
        self._update_actions()

    @staticmethod
    def _model_name(info: ModelInfo) -> str:
        if is_demo_checkpoint(info.checkpoint):
            return "the demo model"
        return Path(info.run_dir or info.checkpoint).name

    def _show_exploring_state(self) -> None:
        """The status line of explore mode (also after a failed attempt to open another)."""
        info = self.model_info
        self._set_state_text(f"Exploring {self._model_name(info)} (step {info.step})", ACCENT)

    @staticmethod
    def _training_log(info: ModelInfo) -> Path | None:
        """The metrics.csv whose curves belong to the loaded model: its run's, or for the demo
        model the log shipped beside it (None for a lone checkpoint)."""
        if info.run_dir:
            path = RunFolder(info.run_dir).metrics_path
            return path if path.is_file() else None
        return shipped_metrics_path(info.checkpoint)

    def _on_explore_samples(self, samples: SampleSet) -> None:
        if self.mode != EXPLORE:
            return
        seed = f"seed {samples.seed} · " if samples.seed is not None else ""
        self._show_samples(
            samples, f"{len(samples.images)} samples · {seed}model at step {samples.step}"
        )
