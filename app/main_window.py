"""The main window: data and model settings on the left, live samples and the attention
inspector in the middle, curves below; training, exploring and exporting from the toolbar,
the menus and keyboard shortcuts.

The window only sets what to show and shows what comes back: training runs in
:class:`TrainingWorker`'s thread, the generator lives in :class:`InspectorWorker`'s thread,
scans and exports are :class:`Job` s. Nothing here waits on any of them.

This module builds the window and wires its parts; what the window does lives in mixins named
for it: window_construction (views, actions, status bar), window_training (Train, Continue
and what a session reports), window_inspection (samples and attention maps),
window_exploring (opening trained models), window_folders (data and dropped folders, the
runs folder) and window_exports.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from app.gui_thread_gc import collect_on_gui_thread
from app.inspector_worker import InspectorWorker, ModelInfo, SampleSet
from app.jobs import JobRunner
from app.modes import EXPLORE, TRAIN  # noqa: F401 - also the names tests import from here
from app.refcount_guard import guard_singletons
from app.run_continuation import continuable_run
from app.settings import DISPLAY_NAME, Settings
from app.training_worker import IDLE, LOADING, PAUSED, RUNNING, STOPPING, TrainingWorker
from app.window_construction import WindowConstruction
from app.window_exploring import WindowExploring
from app.window_exports import WindowExports
from app.window_folders import WindowFolders
from app.window_inspection import WindowInspection
from app.window_training import WindowTraining, format_duration  # noqa: F401 - tests import it
from sagan_engine import __version__
from sagan_engine.attention import AttentionResult
from sagan_engine.demo_model import demo_model_available
from sagan_engine.devices import available_devices

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


def app_icon() -> QIcon:
    try:
        from sagan_studio_resources import resource_path

        path = resource_path("icons", "sagan-studio.png")
    except Exception:  # noqa: BLE001 - the icon is a nicety; run without it
        return QIcon()
    return QIcon(str(path)) if path.is_file() else QIcon()


class MainWindow(
    WindowConstruction,
    WindowTraining,
    WindowInspection,
    WindowExploring,
    WindowFolders,
    WindowExports,
    QMainWindow,
):
    error_shown = Signal(str)  # the message of an error dialog just opened
    export_done = Signal(str)  # the path of a file just written
    mode_changed = Signal(str)  # TRAIN or EXPLORE

    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        guard_singletons()  # before the first paint: see app.refcount_guard
        collect_on_gui_thread()  # Qt objects in cycles die on this thread: app.gui_thread_gc
        super().__init__(parent)
        self.settings = settings or Settings()
        self.set_title()
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setStyleSheet(STYLE_SHEET)

        self.jobs = JobRunner(self)
        self.training = TrainingWorker(self)
        self.inspector = InspectorWorker(self)

        self.mode = TRAIN
        self.samples: SampleSet | None = None  # what the sample grid shows
        self.selected: int | None = None  # the sample in the inspector
        # (latent, class) the analysis views were given by the latent explorer, if they were
        self._followed_latent: tuple[np.ndarray, int | None] | None = None
        self.first_look_pending = False  # first start: enlarge a demo sample once drawn
        self.attention_result: AttentionResult | None = None
        self.model_info: ModelInfo | None = None
        self.run_dir: str | None = None  # the run being trained, or last trained
        self.last_checkpoint: str | None = None
        self.total_steps = 0
        self.class_names: tuple[str, ...] = ()  # of the model shown
        self._ema = True
        self.error_box: QMessageBox | None = None
        self._close_when_idle = False
        self._session_failed = False  # the training session now or last failed
        self._trained_to: int | None = None  # its last step shown (None: it never began)
        self._session_run = ("", False)  # its run folder's name, and whether it was resumed
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
        self.latent_explorer.attention_ready.connect(self.attention_tools.show_attention)
        self.latent_explorer.sample_moved.connect(self._follow_moved_sample)
        self.latent_explorer.path_written.connect(lambda path: self._on_written(Path(path)))
        self.latent_explorer.export_failed.connect(
            lambda message, details: self.show_error("Cannot export the path", message, details)
        )
        self.data_panel.source_changed.connect(self._on_source_changed)
        self.data_panel.summary_changed.connect(self._update_actions)  # Train: is there data?
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
        self.data_panel.set_cache_mode(s.data_cache)
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

    def shown_run_dir(self) -> str | None:
        """The run folder of the model shown: the one opened, or the one training (or last
        trained); None for a checkpoint outside a run folder, such as the demo model. What
        Continue training picks up and where exports start."""
        if self.mode == EXPLORE:
            return self.model_info.run_dir if self.model_info is not None else None
        return self.run_dir

    def set_title(self, what: str | None = None) -> None:
        """The window title: what the window shows, then the app's name. Ending with the name
        keeps Qt from appending it again (on X11 and Windows it appends the application's
        display name to a title that does not end with it)."""
        self.setWindowTitle(f"{what} — {DISPLAY_NAME}" if what else DISPLAY_NAME)

    def _set_state_text(self, text: str, colour: str = "") -> None:
        self.state_label.setText(text)
        self.state_label.setStyleSheet(f"color: {colour};" if colour else "")

    def _show_device(self) -> None:
        if not self.training.active:
            self.device_label.setText(self.model_panel.device.currentText())

    def _update_actions(self) -> None:
        state = self.training.state
        active = state != IDLE
        unusable = self.data_panel.nothing_usable
        self.train_action.setEnabled(not active and not unusable)
        self.train_action.setToolTip(
            "None of the data folder's files can be decoded: choose another folder"
            if unusable
            else self.train_tip
        )
        self.continue_action.setEnabled(
            not active and continuable_run(self.shown_run_dir()) is not None
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
        self._followed_latent = None
        self.attention_result = None
        self.sample_view.clear()
        self.attention_view.clear()
        self.curves_view.clear()
        self.quality_view.show_model(self.jobs, None, None)
        self.attention_tools.clear()
        self.replay_view.clear()
        self._update_actions()
        self.mode_changed.emit(mode)

    def _on_devices(self, devices: list[tuple[str, str]]) -> None:
        self.model_panel.set_devices(devices)
        self._show_device()

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
            if answer != QMessageBox.StandardButton.Yes:
                return
            if not self.training.active:  # the run ended while the question was open
                QTimer.singleShot(0, self.close)
                return
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
        self.hide()  # gone at once, even while the threads finish their current piece
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
