"""The main window: data and model settings on the left, live samples and the attention
inspector in the middle, curves below; training, exploring and exporting from the toolbar,
the menus and keyboard shortcuts.

The window only sets what to show and shows what comes back: training runs in
:class:`TrainingWorker`'s thread, the generator lives in :class:`InspectorWorker`'s thread,
scans and exports are :class:`Job` s. Nothing here waits on any of them.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStyle,
    QWidget,
)

from app.gui_thread_gc import collect_on_gui_thread
from app.inspector_worker import AttentionReply, InspectorWorker, ModelInfo, SampleSet
from app.jobs import JobRunner
from app.metric_history import MetricHistory
from app.modes import EXPLORE, TRAIN  # noqa: F401 - also the names tests import from here
from app.refcount_guard import guard_singletons
from app.run_continuation import CannotContinue, continuable_run, plan_continuation
from app.run_picker import pick_runs
from app.settings import Settings
from app.style import ACCENT, ERROR, MUTED, OK
from app.training_worker import (
    IDLE,
    LOADING,
    PAUSED,
    RUNNING,
    STOPPING,
    DatasetReady,
    LoadProgress,
    TrainingRequest,
    TrainingWorker,
)
from app.window_construction import WindowConstruction
from app.window_exports import WindowExports
from sagan_engine import __version__
from sagan_engine.attention import AttentionResult, Query
from sagan_engine.demo_model import DEMO_RUN_NAME, demo_model_available, is_demo_checkpoint
from sagan_engine.devices import available_devices
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

BOTTOM_DOCK_HEIGHT = 250  # the analysis / latent-space strip on a first start

STYLE_SHEET = """
QLabel#viewTitle { font-size: 12pt; font-weight: 600; padding: 4px 2px; }
QLabel#stateLabel { font-weight: 600; padding: 0 8px; }
QGroupBox { font-weight: 600; margin-top: 14px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QToolBar { spacing: 6px; padding: 3px; }
QToolButton { padding: 4px 8px; }
QProgressBar { min-height: 18px; }
"""


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


def app_icon() -> QIcon:
    try:
        from sagan_studio_resources import resource_path

        path = resource_path("icons", "sagan-studio.png")
    except Exception:  # noqa: BLE001 - the icon is a nicety; run without it
        return QIcon()
    return QIcon(str(path)) if path.is_file() else QIcon()


class MainWindow(WindowConstruction, WindowExports, QMainWindow):
    error_shown = Signal(str)  # the message of an error dialog just opened
    export_done = Signal(str)  # the path of a file just written
    mode_changed = Signal(str)  # TRAIN or EXPLORE

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        guard_singletons()  # before the first paint: see app.refcount_guard
        collect_on_gui_thread()  # Qt objects in cycles die on this thread: app.gui_thread_gc
        super().__init__(parent)
        self.settings = settings or Settings()
        self.setWindowTitle("SAGAN Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET)

        self.jobs = JobRunner(self)
        self.training = TrainingWorker(self)
        self.inspector = InspectorWorker(self)

        self.mode = TRAIN
        self.samples: SampleSet | None = None  # what the sample grid shows
        self.selected: int | None = None  # the sample in the inspector
        self.attention_result: AttentionResult | None = None
        self.model_info: ModelInfo | None = None
        self.run_dir: str | None = None  # the run being trained, or last trained
        self.last_checkpoint: str | None = None
        self.total_steps = 0
        self.class_names: tuple[str, ...] = ()  # of the model shown
        self._ema = True
        self.error_box: QMessageBox | None = None
        self._close_when_idle = False
        self._closing = False

        self._build_views()
        self._build_actions()
        self._build_status_bar()
        self._connect()
        self._restore()
        self._update_actions()
        self._start_device_scan()

    # ================================================================== construction
    def _connect(self) -> None:
        t = self.training
        t.state_changed.connect(self._on_state)
        t.pause_requested_changed.connect(self._on_pause_requested)
        t.load_progress.connect(self._on_load_progress)
        t.dataset_ready.connect(self._on_dataset_ready)
        t.started.connect(self._on_started)
        t.stats.connect(self._on_stats)
        t.samples.connect(self._on_samples)
        t.attention_stats.connect(self.attention_tools.stats_view.add_stats)
        t.quality.connect(self.quality_view.add_measurements)
        t.checkpoint_saved.connect(self._on_checkpoint)
        t.log.connect(self._on_log)
        t.failed.connect(self._on_failed)
        t.session_ended.connect(self._on_session_ended)

        i = self.inspector
        i.model_loaded.connect(self._on_model_loaded)
        i.samples_ready.connect(self._on_explore_samples)
        i.attention_ready.connect(self._on_attention)
        i.failed.connect(self._on_inspector_failed)

        self.sample_view.sample_clicked.connect(self._on_sample_clicked)
        self.attention_view.queries_changed.connect(lambda _queries: self.request_attention())
        self.explore_panel.draw_requested.connect(self.inspector.draw_samples)
        self.latent_explorer.attention_ready.connect(self._on_attention)
        self.latent_explorer.path_written.connect(lambda path: self._on_written(Path(path)))
        self.latent_explorer.export_failed.connect(
            lambda message, details: self.show_error("Cannot export the path", message, details)
        )
        self.data_panel.source_changed.connect(self._on_source_changed)
        self.model_panel.device.currentIndexChanged.connect(self._show_device)

    def _restore(self) -> None:
        s = self.settings
        if s.geometry is not None:
            self.restoreGeometry(s.geometry)
        else:
            self.resize(1500, 940)
        if s.window_state is not None:
            self.restoreState(s.window_state)
        else:  # first start: the samples and the inspector get most of the height
            self.resizeDocks([self.attention_dock], [BOTTOM_DOCK_HEIGHT], Qt.Orientation.Vertical)
        self.model_panel.set_preset(s.preset)
        if not s.use_demo and s.last_folder:
            self.data_panel.set_folder(s.last_folder)
        else:
            self.data_panel.use_demo()

    def _start_device_scan(self) -> None:
        # Asking PyTorch about GPUs may initialise CUDA: not on the GUI thread.
        job = self.jobs.start(lambda job: available_devices(), "devices")
        job.succeeded.connect(self._on_devices)

    # ================================================================== small helpers
    def show_error(self, title: str, message: str, details: str = "") -> None:
        """An error dialog that does not block: the window stays usable behind it."""
        if self._closing:
            return
        if self.error_box is not None:
            self.error_box.close()
        box = QMessageBox(QMessageBox.Icon.Critical, title, message, parent=self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: self._forget_error_box(box))
        self.error_box = box
        box.open()
        self.error_shown.emit(message)

    def _forget_error_box(self, box: QMessageBox) -> None:
        if self.error_box is box:
            self.error_box = None

    def _set_state_text(self, text: str, colour: str = "") -> None:
        self.state_label.setText(text)
        self.state_label.setStyleSheet(f"color: {colour};" if colour else "")

    def _show_device(self) -> None:
        if not self.training.active:
            self.device_label.setText(self.model_panel.device.currentText())

    def set_runs_dir(self, path: str | Path) -> None:
        self.settings.runs_dir = str(Path(path).expanduser())

    def _update_actions(self) -> None:
        state = self.training.state
        active = state != IDLE
        self.train_action.setEnabled(not active)
        self.continue_action.setEnabled(
            not active and continuable_run(self._continuable_dir()) is not None
        )
        self.demo_model_action.setEnabled(not active and demo_model_available())
        self.pause_action.setEnabled(state in (LOADING, RUNNING, PAUSED))
        self.stop_action.setEnabled(active and state != STOPPING)
        for action in (
            self.open_run_action,
            self.open_checkpoint_action,
            self.choose_data_action,
            self.runs_dir_action,
        ):
            action.setEnabled(not active)
        last = self.settings.last_run
        self.open_last_run_action.setEnabled(not active and bool(last) and Path(last).exists())
        self.explore_run_action.setEnabled(
            not active and self.run_dir is not None and self.last_checkpoint is not None
        )
        self.data_panel.setEnabled(not active)
        self.model_panel.setEnabled(not active)
        has_samples = self.samples is not None
        self.export_grid_action.setEnabled(has_samples)
        self.export_attention_action.setEnabled(self.attention_result is not None)
        self.export_metrics_action.setEnabled(len(self.curves_view.history) > 0)
        self.new_seeds_action.setEnabled(self.mode == EXPLORE)
        self.evaluate_action.setEnabled(self.mode == EXPLORE)

    def _enter_mode(self, mode: str) -> None:
        self.mode = mode
        self.explore_panel.setVisible(mode == EXPLORE)
        self.latent_dock.setVisible(mode == EXPLORE)
        if mode == EXPLORE:
            self.latent_dock.raise_()
        self.latent_explorer.clear()
        self.samples = None
        self.selected = None
        self.attention_result = None
        self.sample_view.clear()
        self.attention_view.clear()
        self.curves_view.clear()
        self.quality_view.show_model(self.jobs, None, None)
        self.attention_tools.clear()
        self._update_actions()
        self.mode_changed.emit(mode)

    # ================================================================== training
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
        config = config.replace(
            data={"classes": self.data_panel.classes, "cache": self.data_panel.cache_mode}
        )
        run_dir = unique_run_dir(self.settings.runs_dir, config.preset)
        config = config.replace(data={"folder": folder})  # the run's config.json names its data
        self.settings.use_demo = folder is None
        if folder is not None:
            self.settings.last_folder = folder
        self.settings.preset = config.preset
        return self._begin_session(TrainingRequest(config, folder, run_dir))

    def _begin_session(self, request: TrainingRequest) -> bool:
        config = request.config
        self._enter_mode(TRAIN)
        self.run_dir, self.last_checkpoint, self.total_steps = None, None, config.train.steps
        self._ema = config.train.ema
        verb = "continuing" if request.resume else "training"
        self.setWindowTitle(f"SAGAN Studio — {verb} {request.run_dir.name}")
        self.inspector.follow_training(self.training.generator_snapshot)
        self.sample_view.clear("Loading the images…")
        started = self.training.start(request)
        self._update_actions()
        return started

    def _continuable_dir(self) -> str | None:
        """The run "Continue training" would pick up: the one just trained, or the one opened."""
        if self.mode == EXPLORE:
            return self.model_info.run_dir if self.model_info else None
        return self.run_dir

    def continue_training(self) -> bool:
        """Resume the last run trained or opened, up to the Steps field's total (exact)."""
        run_dir = self._continuable_dir()
        if self.training.active or run_dir is None:
            return False
        try:
            plan = plan_continuation(run_dir, self.model_panel.steps.value(), self._locate_data)
        except CannotContinue as err:
            self.show_error("Cannot continue the run", str(err))
            return False
        self.model_panel.set_config(plan.request.config)
        self.data_panel.set_cache_mode(plan.request.config.data.cache)
        started = self._begin_session(plan.request)
        # The curves pick up where the run's metrics.csv left off.
        metrics = RunFolder(run_dir).metrics_path
        if started and metrics.is_file():
            job = self.jobs.start(lambda job: MetricHistory.from_csv(metrics), "metrics")
            job.succeeded.connect(self.curves_view.prepend_history)
        return started

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
        self.progress.setRange(0, event.total_steps)
        self.progress.setValue(event.start_step)
        self.progress.setFormat(f"step {event.start_step} / {event.total_steps}")
        self.sample_view.clear("Drawing the first samples…")

    def _on_stats(self, batch: list[StepStats]) -> None:
        self.curves_view.add_stats(batch)
        last = batch[-1]
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
        self._set_state_text("Training failed", ERROR)
        self.show_error("Training failed", event.message, details)

    def _on_session_ended(self, finished: TrainingFinished | None) -> None:
        self.speed_label.setText("")
        if finished is not None:
            self.last_checkpoint = finished.checkpoint or self.last_checkpoint
            verb = "finished" if finished.reason == "completed" else "stopped"
            self._set_state_text(f"Training {verb} at step {finished.step}", "")
            self.progress.setRange(0, max(self.total_steps, 1))
            self.progress.setValue(min(finished.step, self.total_steps))
            self.progress.setFormat(f"step {finished.step} / {self.total_steps} · {verb}")
            if finished.checkpoint:
                self.statusBar().showMessage(f"Checkpoint saved: {finished.checkpoint}", 10000)
        elif self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setFormat("not started")
            if self.samples is None:
                self.sample_view.clear()
        self._update_actions()
        if self._close_when_idle:
            QTimer.singleShot(0, self.close)

    # ================================================================== samples and attention
    def _show_samples(self, samples: SampleSet, caption: str) -> None:
        self.samples = samples
        self.sample_view.set_samples(samples.images, caption)
        if self.selected is not None and self.selected < len(samples.images):
            self.sample_view.select(self.selected)
            self._show_selected(self.attention_view.queries)
        self._update_actions()

    def _on_sample_clicked(self, index: int, row: int, col: int) -> None:
        self.inspect(index, [(row, col)])

    def inspect(self, index: int, queries: list[Query]) -> None:
        """Enlarge sample ``index`` in the inspector and query these pixels of it."""
        if self.samples is None or not 0 <= index < len(self.samples.images):
            return
        self.selected = index
        self.sample_view.select(index)
        self.latent_explorer.leave()
        self._show_selected(queries)

    def _show_selected(self, queries: list[Query]) -> None:
        assert self.samples is not None and self.selected is not None
        samples, index = self.samples, self.selected
        caption = f"Sample {index + 1}"
        if samples.labels is not None:
            names = self.class_names
            label = int(samples.labels[index])
            caption += f" · {names[label] if label < len(names) else f'class {label}'}"
        if samples.step is not None:
            caption += f" · step {samples.step}"
        label = None if samples.labels is None else int(samples.labels[index])
        self.attention_tools.set_sample(samples.z[index], label)
        self.latent_explorer.set_sample(samples, index)
        self.attention_view.show_sample(samples.images[index], caption, queries)
        self.d_view.set_sample(samples.images[index])
        self.request_attention()

    def request_attention(self) -> None:
        if self.latent_explorer.render_focus():  # the enlarged sample was moved off the grid
            return
        queries = self.attention_view.queries
        if self.samples is None or self.selected is None or not queries:
            return
        label = None if self.samples.labels is None else int(self.samples.labels[self.selected])
        self.inspector.query_attention(self.samples.z[self.selected], label, queries)
        self.replay_view.set_subject(
            self._inspected_run(), self.samples.z[self.selected], label, queries
        )

    def _inspected_run(self) -> str | None:
        """The run folder (or checkpoint) the inspector's generator comes from."""
        if self.mode == EXPLORE and self.model_info is not None:
            return self.model_info.run_dir or self.model_info.checkpoint
        return self.run_dir

    def _training_thumbnails(self) -> np.ndarray | None:
        summary = self.data_panel.summary
        return None if summary is None else summary.thumbnails

    def _on_attention(self, reply: AttentionReply) -> None:
        self.attention_view.show_result(reply.result)
        if self.attention_view.result is reply.result:
            self.attention_result = reply.result
            grid_step = None if self.samples is None else self.samples.step
            note = ""
            if reply.step is not None and grid_step is not None and reply.step != grid_step:
                # Training went on after the grid was drawn: the enlarged image and its maps
                # come from newer weights, so say so rather than let them pass as the grid's.
                note = f"Image and maps from step {reply.step} (the grid is from step {grid_step})."
            self.attention_view.set_source_note(note)
            self._update_actions()

    def _on_inspector_failed(self, what: str, message: str, details: str) -> None:
        if what == "load":
            self.show_error("Cannot open the model", message, details)
            self._set_state_text("Ready")
        elif not what.startswith("task:"):  # a view's own task: that view says what failed
            self.statusBar().showMessage(f"Inspector: {message}", 8000)

    # ================================================================== exploring a model
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
            self.compare_dock.show()
            self.compare_view.compare(self.jobs, paths)

    def open_demo_model(self) -> bool:
        """Explore the model that ships with the app (the run name "demo")."""
        return self.open_run(DEMO_RUN_NAME)

    def greet_first_start(self) -> bool:
        """On the very first start, open the demo model: something to click within seconds."""
        if self.settings.demo_model_shown or not demo_model_available():
            return False
        self.settings.demo_model_shown = True
        return self.open_demo_model()

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
        where = "the demo model" if is_demo_checkpoint(info.checkpoint) else None
        where = where or Path(info.run_dir or info.checkpoint).name
        self.setWindowTitle(f"SAGAN Studio — exploring {where}")
        self._set_state_text(f"Exploring {where} (step {info.step})", ACCENT)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("exploring a trained model")
        self.sample_view.clear("Drawing samples…")
        self.explore_panel.draw()
        if info.run_dir and RunFolder(info.run_dir).metrics_path.is_file():
            metrics = RunFolder(info.run_dir).metrics_path
            job = self.jobs.start(lambda job: MetricHistory.from_csv(metrics), "metrics")
            job.succeeded.connect(self._on_metrics_loaded)
            job.failed.connect(lambda message, _d: self.statusBar().showMessage(message, 8000))
            self.attention_tools.load_run_metrics(self.jobs, metrics)
        self.quality_view.show_model(self.jobs, info.run_dir or info.checkpoint, info.run_dir)
        self._update_actions()

    def _on_metrics_loaded(self, history: MetricHistory) -> None:
        if self.mode == EXPLORE:
            self.curves_view.set_history(history)
            self._update_actions()

    def _on_explore_samples(self, samples: SampleSet) -> None:
        if self.mode != EXPLORE:
            return
        seed = f"seed {samples.seed} · " if samples.seed is not None else ""
        self._show_samples(
            samples, f"{len(samples.images)} samples · {seed}model at step {samples.step}"
        )

    # ================================================================== data
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
        if path.suffix == ".safetensors" or RunFolder(path).is_run():
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

    def choose_runs_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Where to save new runs", str(self.settings.runs_dir)
        )
        if path:
            self.set_runs_dir(path)
            self.statusBar().showMessage(f"New runs are saved in {path}", 6000)

    def _on_devices(self, devices: list[tuple[str, str]]) -> None:
        self.model_panel.set_devices(devices)
        self._show_device()

    # ================================================================== exports
    # ================================================================== help, closing
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About SAGAN Studio",
            f"<b>SAGAN Studio {html.escape(__version__)}</b><br>"
            "Train Self-Attention GANs (Zhang, Goodfellow, Metaxas, Odena, ICML 2019) and see "
            "where every attention layer looks.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.training.active:
            event.ignore()
            if self._close_when_idle:
                return  # already stopping; closes when the checkpoint is saved
            answer = QMessageBox.question(
                self,
                "Training is running",
                "Stop the training, save a checkpoint and close SAGAN Studio?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                self._close_when_idle = True
                self.training.stop()
                self._set_state_text("Stopping: saving a checkpoint, then closing…", "#f2c94c")
            return
        self._closing = True
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        problem = self.settings.sync()
        if problem is not None:  # closing: no dialog any more, but not silent either
            print(f"warning: {problem}", file=sys.stderr)
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop everything and wait for the threads (closing, or the end of a test)."""
        self.training.stop()
        self.training.wait(timeout_ms)
        self.training.flush()
        self.data_panel.cancel_scan()
        self.inspector.shutdown(timeout_ms)
        self.jobs.shutdown(timeout_ms)
