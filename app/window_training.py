"""Training from the main window: Train and Continue training, and what a training session
reports back (state, loading progress, steps, samples, checkpoints, failures). A mixin of
:class:`app.main_window.MainWindow`; the session itself runs in :class:`TrainingWorker`'s
thread, so nothing here waits on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QStyle

from app.inspector_worker import SampleSet
from app.modes import TRAIN
from app.run_continuation import CannotContinue, plan_continuation
from app.style import ERROR, MUTED, OK
from app.training_worker import (
    IDLE,
    LOADING,
    PAUSED,
    RUNNING,
    STOPPING,
    DatasetReady,
    LoadProgress,
    TrainingRequest,
)
from sagan_engine.errors import ConfigError
from sagan_engine.events import (
    CheckpointSaved,
    Log,
    SampleGrid,
    StepStats,
    TrainingFailed,
    TrainingFinished,
    TrainingStarted,
)
from sagan_engine.runs import RunFolder, new_run_name


def format_duration(seconds: float) -> str:
    if not np.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def unique_run_dir(root: Path, preset: str) -> Path:
    base = root / new_run_name(preset)
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


class WindowTraining:
    """Starts training sessions and shows what they report (``self`` is the main window)."""

    def start_training(self) -> bool:
        """Train a new run with the settings shown; returns whether it started."""
        if self.training.active:
            return False
        try:
            config = self.model_panel.config()
        except ConfigError as err:
            self.show_error("Invalid settings", str(err))
            return False
        folder = self.data_panel.folder
        if folder == "":
            self.show_error("No data", "Choose a folder of images, or the bundled demo set.")
            return False
        if folder is not None:  # as typed ("~/pics", "pics"): the run must find it again
            folder = str(Path(folder).expanduser().resolve())
        config = config.replace(
            data={"classes": self.data_panel.classes, "cache": self.data_panel.cache_mode}
        )
        run_dir = unique_run_dir(self.settings.runs_dir, config.preset)
        config = config.replace(data={"folder": folder})  # the run's config.json names its data
        self.settings.use_demo = folder is None
        if folder is not None:
            self.settings.last_folder = folder
        self.settings.preset = config.preset
        self.settings.data_cache = config.data.cache
        return self._begin_session(TrainingRequest(config, folder, run_dir))

    def _begin_session(self, request: TrainingRequest) -> bool:
        config = request.config
        self._close_when_idle = False
        self._session_failed, self._trained_to = False, None
        self._enter_mode(TRAIN)
        # A continued run's folder is known now: if the session fails before it starts, the
        # run can still be continued (after the cause is fixed) or explored.
        self.run_dir = str(request.run_dir) if request.resume else None
        self.last_checkpoint, self.total_steps = None, config.train.steps
        self._ema = config.train.ema
        verb = "continuing" if request.resume else "training"
        self._session_run = (request.run_dir.name, request.resume)
        self.set_title(f"{verb} {request.run_dir.name}")
        self.inspector.follow_training(self.training.generator_snapshot)
        self.sample_view.clear("Loading the images…")
        started = self.training.start(request)
        self._update_actions()
        return started

    def continue_training(self) -> bool:
        """Resume the last run trained or opened, up to the Steps field's total (exact)."""
        run_dir = self.shown_run_dir()  # the one just trained, or the one opened
        if self.training.active or run_dir is None:
            return False
        try:
            plan = plan_continuation(
                run_dir,
                self.model_panel.steps.value(),
                self._locate_data,
                device=self.model_panel.device.currentData() or "cpu",
            )
        except CannotContinue as err:
            self.show_error("Cannot continue the run", str(err))
            return False
        self.model_panel.set_config(plan.request.config)
        self.data_panel.set_cache_mode(plan.request.config.data.cache)
        self._show_run_data(plan.request.config.data.folder)
        started = self._begin_session(plan.request)
        # The curves and attention statistics pick up where the run's metrics.csv left off.
        metrics = RunFolder(run_dir).metrics_path
        if started and metrics.is_file():
            self.curves_view.load_csv(self.jobs, metrics, resumed_at=plan.from_step)
            self.attention_tools.load_run_metrics(self.jobs, metrics, resumed_at=plan.from_step)
        return started

    def _show_run_data(self, folder: str | None) -> None:
        """The Data panel shows the folder the continued run trains on, not the one it
        showed before (its summary, and What D looks at's training images, come from it)."""
        if folder is None and self.data_panel.folder is not None:
            self.data_panel.use_demo()
        elif folder is not None and self.data_panel.folder != folder:
            self.data_panel.set_folder(folder)

    def _locate_data(self, old_folder: str) -> str | None:
        self.show_error(
            "Data folder moved",
            f"The run was trained on {old_folder}, which is not there any more. "
            "Choose the folder where those images are now.",
        )
        path = QFileDialog.getExistingDirectory(self, "Where is the run's data now?")
        return path or None

    def _on_state(self, state: str) -> None:
        texts = {
            IDLE: ("Ready", ""),
            LOADING: ("Loading data", MUTED),
            RUNNING: ("Training", OK),
            PAUSED: ("Paused", "#f2c94c"),
            STOPPING: ("Stopping: saving a checkpoint…", "#f2c94c"),
        }
        text, colour = texts.get(state, (state, ""))
        self._set_state_text(text, colour)
        if state == LOADING:
            self.progress.setRange(0, 0)
            self.progress.setFormat("loading images…")
        self._update_actions()

    def _toggle_pause(self) -> None:
        self.training.toggle_pause()
        self.pause_action.setChecked(self.training.pause_requested)  # also when ignored

    def _on_pause_requested(self, paused: bool) -> None:
        self.pause_action.setChecked(paused)
        self.pause_action.setText("Resume" if paused else "Pause")
        sp = QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause
        self.pause_action.setIcon(self.style().standardIcon(sp))
        if paused and self.training.state == RUNNING:
            self._set_state_text("Pausing after this step…", "#f2c94c")

    def _on_load_progress(self, progress: LoadProgress) -> None:
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(progress.done)
        self.progress.setFormat(progress.text)

    def _on_dataset_ready(self, ready: DatasetReady) -> None:
        self.data_panel.show_loaded(ready.images, ready.skipped, ready.disk_cache)

    def _on_started(self, event: TrainingStarted) -> None:
        self.run_dir = event.run_dir
        self.d_view.set_model(event.run_dir)
        self.total_steps = event.total_steps
        self.class_names = event.class_names
        self.settings.last_run = event.run_dir
        self.device_label.setText(event.device_name)
        self._trained_to = event.start_step
        self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.start_step)
        self.progress.setFormat(f"step {event.start_step} / {event.total_steps}")
        self.sample_view.clear("Drawing the first samples…")

    def _on_stats(self, batch: list[StepStats]) -> None:
        self.curves_view.add_stats(batch)
        last = batch[-1]
        self._trained_to = last.step
        self.progress.setValue(min(last.step, self.progress.maximum()))
        self.progress.setFormat(
            f"step {last.step} / {self.total_steps} · {format_duration(last.eta_s)} left"
        )
        steps_per_s = 1 / last.seconds_per_step if last.seconds_per_step > 0 else 0.0
        self.speed_label.setText(f"{last.images_per_s:,.0f} images/s · {steps_per_s:.1f} steps/s")
        self.attention_view.set_gammas(last.gammas)
        if not self.export_metrics_action.isEnabled():
            self._update_actions()

    def _on_samples(self, grid: SampleGrid) -> None:
        self.inspector.snapshot_outdated()
        self._show_samples(
            SampleSet(grid.images, grid.z, grid.labels, grid.step),
            f"Samples at step {grid.step} · fixed latents · "
            f"{'EMA generator' if self._ema else 'generator'}",
        )

    def _on_checkpoint(self, event: CheckpointSaved) -> None:
        self.last_checkpoint = event.path
        self.statusBar().showMessage(f"Checkpoint saved at step {event.step}: {event.path}", 6000)

    def _on_log(self, event: Log) -> None:
        self.statusBar().showMessage(event.message, 8000)

    def _on_failed(self, event: TrainingFailed) -> None:
        details = event.details
        if event.checkpoint:
            details = f"Last good checkpoint: {event.checkpoint}\n\n{details}"
        self._session_failed = True
        self._set_state_text("Training failed", ERROR)
        # Closing waited for this session's checkpoint: the window stays so that what went
        # wrong (and where the last good checkpoint is) can be read.
        self._close_when_idle = False
        self.show_error("Training failed", event.message, details)

    def _show_unfinished_session(self) -> None:
        """The status, progress and sample area of a session that ended without finishing:
        what they showed last (loading, the ETA) no longer holds."""
        failed = self._session_failed
        if failed:  # the state went to idle after the failure, which said "Ready"
            self._set_state_text("Training failed", ERROR)
        name, resumed = self._session_run
        if self._trained_to is not None or resumed:
            self.set_title(f"{name}, {'failed' if failed else 'stopped'}")
        else:  # no run folder was made: nothing to name
            self.set_title()
        if self._trained_to is None:  # while the images were loading
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress.setFormat("failed before the first step" if failed else "not started")
            if self.samples is None:
                self.sample_view.clear(
                    "Training failed before its first step (the message says why)."
                    if failed
                    else "Stopped while loading the images."
                )
        else:
            ended = "failed" if failed else "ended"
            self.progress.setFormat(f"step {self._trained_to} / {self.total_steps} · {ended}")

    def _on_session_ended(self, finished: TrainingFinished | None) -> None:
        self.speed_label.setText("")
        if finished is not None:
            self.last_checkpoint = finished.checkpoint or self.last_checkpoint
            verb = "finished" if finished.reason == "completed" else "stopped"
            self._set_state_text(f"Training {verb} at step {finished.step}", "")
            self.set_title(f"{self._session_run[0]}, {verb} at step {finished.step}")
            self.progress.setRange(0, max(self.total_steps, 1))
            self.progress.setValue(min(finished.step, self.total_steps))
            self.progress.setFormat(f"step {finished.step} / {self.total_steps} · {verb}")
            if finished.checkpoint:
                self.statusBar().showMessage(f"Checkpoint saved: {finished.checkpoint}", 10000)
        else:  # failed, or stopped before the first step
            self._show_unfinished_session()
        self._update_actions()
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)
