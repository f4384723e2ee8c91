"""How the main window is put together: its views and docks, its actions, menus and toolbar,
and its status bar. A mixin of :class:`app.main_window.MainWindow`, kept apart so that the
window's behaviour (main_window.py and the other window_* mixins) reads without 250 lines
of layout in the way."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QProgressBar,
    QSplitter,
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.attention_tools import AttentionTools
from app.attention_view import AttentionView
from app.compare_runs_view import CompareRunsView
from app.curves_view import CurvesView
from app.d_attention_view import DAttentionView
from app.data_panel import DataPanel
from app.explore_panel import ExplorePanel
from app.latent_explorer import LatentExplorer
from app.model_panel import ModelPanel
from app.quality_view import QualityView
from app.replay_view import ReplayView
from app.sample_grid_view import SampleGridView
from app.view_docks import SidePanelScroll, add_view_dock
from app.wheel_guard import guard_wheel


class WindowConstruction:
    """Builds the widgets and actions of the main window (``self`` is the QMainWindow)."""

    def _build_views(self) -> None:
        self.sample_view = SampleGridView()
        self.attention_view = AttentionView()
        self.curves_view = CurvesView()
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.sample_view)
        top.addWidget(self.attention_view)
        top.setStretchFactor(0, 4)
        top.setStretchFactor(1, 6)
        top.setSizes([480, 720])
        self.central_splitter = QSplitter(Qt.Orientation.Vertical)
        self.central_splitter.addWidget(top)
        self.quality_view = QualityView()  # beside the losses
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.curves_view)
        bottom.addWidget(self.quality_view)
        bottom.setSizes([900, 300])
        self.central_splitter.addWidget(bottom)
        self.central_splitter.setStretchFactor(0, 3)
        self.central_splitter.setStretchFactor(1, 2)
        self.central_splitter.setSizes([560, 330])
        self.setCentralWidget(self.central_splitter)

        self.explore_panel = ExplorePanel()
        self.explore_panel.setVisible(False)
        self.data_panel = DataPanel(self.jobs)
        self.model_panel = ModelPanel()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.explore_panel)
        side_layout.addWidget(self.data_panel)
        side_layout.addWidget(self.model_panel)
        side_layout.addStretch(1)
        guard_wheel(side)  # scrolling the panel must not change the field under the pointer
        scroll = SidePanelScroll(side, least_width=340)
        self.setup_dock = QDockWidget("Setup")
        self.setup_dock.setObjectName("setupDock")
        self.setup_dock.setWidget(scroll)
        self.setup_dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.setup_dock)
        self.latent_explorer = LatentExplorer(
            self.inspector, self.attention_view, self.explore_panel
        )
        self.latent_dock = QDockWidget("Latent space")
        self.latent_dock.setObjectName("latentDock")
        self.latent_dock.setWidget(self.latent_explorer)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.latent_dock)
        self.attention_tools = AttentionTools(self.inspector)
        self.attention_dock = QDockWidget("Attention analysis")
        self.attention_dock.setObjectName("attentionDock")
        self.attention_dock.setWidget(self.attention_tools)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.attention_dock)
        # One tabbed strip below the central views, not two docks that squeeze them.
        self.tabifyDockWidget(self.attention_dock, self.latent_dock)
        self.latent_dock.setVisible(False)
        self.replay_view = ReplayView(self.inspector, self.jobs)
        self.replay_dock = add_view_dock(
            self, "Attention over training", self.replay_view, "replayDock"
        )
        self.d_view = DAttentionView(self.inspector, self._training_thumbnails, self.jobs)
        self.d_dock = add_view_dock(self, "What D looks at", self.d_view, "dAttentionDock")
        self.compare_view = CompareRunsView()
        self.compare_dock = add_view_dock(self, "Compare runs", self.compare_view, "compareDock")
        self.data_panel.summary_ready.connect(lambda _summary: self.d_view.refresh_thumbnails())

    def _action(
        self,
        text: str,
        slot,
        shortcut: QKeySequence | str | None = None,
        tip: str = "",
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            tip = f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        if tip:
            action.setToolTip(tip.strip())
            action.setStatusTip(tip.strip())
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the toolbar hidden
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.train_action = self._action(
            "Train", self.start_training, "Ctrl+T", "Start training a new run", sp.SP_MediaPlay
        )
        self.train_tip = self.train_action.toolTip()  # while the data can be trained on
        self.pause_action = self._action(
            "Pause",
            self._toggle_pause,
            "Space",
            "Pause or resume training",
            sp.SP_MediaPause,
        )
        self.pause_action.setCheckable(True)
        self.stop_action = self._action(
            "Stop",
            self.training.stop,
            "Ctrl+.",
            "Stop training and save a checkpoint",
            sp.SP_MediaStop,
        )
        self.open_run_action = self._action(
            "Open run…",
            self.choose_run,
            QKeySequence.StandardKey.Open,
            "Open a run folder to explore its model",
            sp.SP_DirOpenIcon,
        )
        self.open_checkpoint_action = self._action(
            "Open checkpoint…",
            self.choose_checkpoint,
            "Ctrl+Shift+O",
            "Open a .safetensors checkpoint to explore",
        )
        self.open_last_run_action = self._action(
            "Open last run", self.open_last_run, None, "Explore the run used last time"
        )
        self.continue_action = self._action(
            "Continue training",
            self.continue_training,
            "Ctrl+Shift+T",
            "Continue the last run trained or opened from its last checkpoint, up to Steps",
            sp.SP_MediaSeekForward,
        )
        self.demo_model_action = self._action(
            "Demo model",
            self.open_demo_model,
            None,
            "Explore the trained emoji model that ships with SAGAN Studio",
        )
        self.explore_run_action = self._action(
            "Explore this run",
            self.explore_current_run,
            "Ctrl+L",
            "Explore the model of the run just trained",
        )
        self.choose_data_action = self._action(
            "Choose data folder…", self.data_panel.browse, "Ctrl+D", "Train on a folder of images"
        )
        self.compare_runs_action = self._action(
            "Compare runs…",
            self.compare_runs,
            None,
            "Overlay the quality and loss curves of several runs",
        )
        # The Quality plot's own button: one handler for both.
        self.evaluate_action = self._action(
            "Evaluate this model",
            self.quality_view.evaluate_button.click,
            None,
            "Measure the explored model's sample quality (SWD) in the background",
        )
        self.runs_dir_action = self._action(
            "Runs folder…", self.choose_runs_dir, None, "Where new runs are saved"
        )
        self.export_grid_action = self._action(
            "Export grid…",
            self.export_grid,
            "Ctrl+E",
            "Save the sample grid as PNG",
            sp.SP_DialogSaveButton,
        )
        self.export_attention_action = self._action(
            "Export attention…",
            self.export_attention,
            "Ctrl+Shift+E",
            "Save the attention figure (query points and one map per layer) as PNG",
        )
        self.export_metrics_action = self._action(
            "Export metrics…",
            self.export_metrics,
            "Ctrl+Shift+M",
            "Save the training curves' data as CSV",
        )
        self.new_seeds_action = self._action(
            "New seeds", self.explore_panel.new_seed, "Ctrl+R", "Draw samples from a new seed"
        )
        self.quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.about_action = self._action("About SAGAN Studio", self.show_about)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for action in (
            self.choose_data_action,
            self.open_run_action,
            self.open_checkpoint_action,
            self.open_last_run_action,
            self.explore_run_action,
            self.compare_runs_action,
            None,
            self.export_grid_action,
            self.export_attention_action,
            self.export_metrics_action,
            None,
            self.runs_dir_action,
            None,
            self.quit_action,
        ):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        train_menu = menu.addMenu("&Training")
        for action in (
            self.train_action,
            self.continue_action,
            self.pause_action,
            self.stop_action,
        ):
            train_menu.addAction(action)
        explore_menu = menu.addMenu("&Explore")
        explore_menu.addAction(self.demo_model_action)
        explore_menu.addAction(self.new_seeds_action)
        explore_menu.addAction(self.evaluate_action)
        for action in self.latent_explorer.menu_actions:
            explore_menu.addAction(action)
            self.addAction(action)  # the keys work wherever the focus is
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.setup_dock.toggleViewAction())
        view_menu.addAction(self.replay_dock.toggleViewAction())
        view_menu.addAction(self.d_dock.toggleViewAction())
        view_menu.addAction(self.compare_dock.toggleViewAction())
        view_menu.addAction(self.latent_dock.toggleViewAction())
        view_menu.addAction(self.attention_dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

        self.toolbar = toolbar = QToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (
            self.train_action,
            self.continue_action,
            self.pause_action,
            self.stop_action,
            None,
            self.open_run_action,
            None,
            self.export_grid_action,
            self.export_attention_action,
            self.export_metrics_action,
        ):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.state_label = QLabel("Ready")
        self.state_label.setObjectName("stateLabel")
        self.device_label = QLabel("")
        self.speed_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(380)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("no training yet")
        bar.addPermanentWidget(self.device_label)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.progress)
        bar.insertWidget(0, self.state_label)
