"""Attention over training: the inspector's latent and query points replayed through the run's
snapshots (sagan_engine.snapshots). A step slider picks the snapshot; the image and every
layer's map at that step are rendered on the inspector's worker thread, and while the slider
moves only its latest position is rendered. The whole replay exports as an animated GIF or a
PNG strip, as a background job with progress that can be cancelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.image_items import PlaceholderStack, fit, image_view_box, title_label
from app.inspector_worker import InspectorWorker, TaskReply
from app.jobs import Job, JobRunner
from app.save_paths import choose_save_path
from app.style import MUTED
from sagan_engine.animation import (
    ANIMATED_SUFFIXES,
    STRIP_SUFFIXES,
    replay_frames_images,
    save_frames,
)
from sagan_engine.attention import Query
from sagan_engine.errors import CheckpointError
from sagan_engine.snapshots import SnapshotReplay

TASK_KEY = "replay"


class _ReplayCache:
    """The replay of one run, reused between slider moves; touched on the worker thread only."""

    def __init__(self) -> None:
        self.replay: SnapshotReplay | None = None

    def frame_image(
        self, run: str, index: int | None, z: np.ndarray, label: int | None, queries
    ) -> tuple[list[int], int, np.ndarray]:
        if self.replay is None or self.replay.run != Path(run).expanduser():
            self.replay = SnapshotReplay(run)
        else:
            self.replay.refresh()  # a training run keeps adding snapshots
        steps = self.replay.steps
        if index is None:  # the latest that can be read: a damaged last file hides no other
            for latest in range(len(steps) - 1, -1, -1):
                try:
                    frame = self.replay.frame(latest, z, label, queries)
                except CheckpointError:
                    if latest == 0:
                        raise
                    continue
                return steps, latest, np.asarray(replay_frames_images([frame])[0])
        index = min(max(index, 0), len(steps) - 1)
        frame = self.replay.frame(index, z, label, queries)
        return steps, index, np.asarray(replay_frames_images([frame])[0])


REPLAY_HINT = (
    "Click a sample and a pixel in the inspector: the same latent and query points are "
    "replayed here through the generator's snapshots over training."
)


class ReplayView(QWidget):
    """Give it what the inspector shows with :meth:`set_subject`; it renders when visible."""

    frame_shown = Signal(int)  # the step of the frame just shown
    export_finished = Signal(str)  # the path written

    def __init__(self, inspector: InspectorWorker, jobs: JobRunner, parent=None) -> None:
        super().__init__(parent)
        self._inspector = inspector
        self._jobs = jobs
        self._cache = _ReplayCache()
        self.run: str | None = None
        self.z: np.ndarray | None = None
        self.label: int | None = None
        self.queries: tuple[Query, ...] = ()
        self.steps: list[int] = []
        self.shown_step: int | None = None
        self.export_job: Job | None = None

        self.caption = title_label("Attention over training")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("The snapshot of the generator to replay the latent through")
        self.step_label = QLabel("")
        self.step_label.setMinimumWidth(90)
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setToolTip("Every snapshot as one frame of an animated GIF")
        self.strip_button = QPushButton("Export strip…")
        self.strip_button.setToolTip("Every snapshot side by side in one PNG")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        header = QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(self.gif_button)
        header.addWidget(self.strip_button)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Step"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.step_label)
        export_row = QHBoxLayout()
        export_row.addWidget(self.progress, 1)
        export_row.addWidget(self.cancel_button)

        self.view = pg.GraphicsLayoutWidget()
        self.box = image_view_box(self.view)
        self.image_item = pg.ImageItem()
        self.box.addItem(self.image_item)
        self.stack = PlaceholderStack(REPLAY_HINT, self.view)
        self.note = QLabel("")
        self.note.setStyleSheet(f"color: {MUTED};")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addLayout(slider_row)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.note)
        layout.addLayout(export_row)

        self.slider.valueChanged.connect(lambda _value: self._request())
        self.gif_button.clicked.connect(lambda: self._choose_export(".gif"))
        self.strip_button.clicked.connect(lambda: self._choose_export(".png"))
        self.cancel_button.clicked.connect(self.cancel_export)
        inspector.task_ready.connect(self._on_reply)
        inspector.failed.connect(self._on_failed)
        self._update_buttons()

    # ------------------------------------------------------------------ inputs
    def set_subject(
        self, run: str | None, z: np.ndarray, label: int | None, queries: list[Query]
    ) -> None:
        """The run whose snapshots to replay, and the latent, class and query points."""
        changed_run = run != self.run
        self.run, self.z, self.label, self.queries = run, np.asarray(z), label, tuple(queries)
        if changed_run:
            self.steps = []
        if run is None:
            self.stack.show_hint("Train or open a run: its snapshots live in the run folder.")
        self._update_buttons()
        self._request(latest=changed_run)

    def clear(self) -> None:
        """Another model or a training run: nothing of the one replayed before (its export
        would write the old run's replay)."""
        self.run, self.z, self.label, self.queries, self.steps = None, None, None, (), []
        self.stack.show_hint(REPLAY_HINT)
        self._update_buttons()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._request()

    def _ready(self) -> bool:
        return self.run is not None and self.z is not None and bool(self.queries)

    def _request(self, latest: bool = False) -> None:
        if not self._ready() or not self.isVisible():
            return
        run, z, label, queries = self.run, self.z, self.label, self.queries
        index = None if latest or not self.steps else self.slider.value()
        cache = self._cache
        self._inspector.run_task(
            TASK_KEY, lambda _generator: cache.frame_image(run, index, z, label, queries)
        )

    # ------------------------------------------------------------------ answers
    def _on_reply(self, reply: TaskReply) -> None:
        if reply.key != TASK_KEY:
            return
        steps, index, image = reply.result
        self.steps = list(steps)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(steps) - 1)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        first = self.image_item.image is None or self.image_item.image.shape != image.shape
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        if first:
            fit(self.box, image.shape[1], image.shape[0])
        self.stack.show_content()
        self.shown_step = steps[index]
        self.step_label.setText(f"{steps[index]} ({index + 1}/{len(steps)})")
        self.note.setText("")
        self._update_buttons()
        self.frame_shown.emit(steps[index])

    def _on_failed(self, what: str, message: str, _details: str) -> None:
        if what == f"task:{TASK_KEY}":
            self.note.setText(message)
            self.image_item.clear()  # not the previous step's picture under this step's name
            index = self.slider.value()
            if 0 <= index < len(self.steps):
                self.step_label.setText(f"{self.steps[index]} (cannot be read)")

    # ------------------------------------------------------------------ export
    def _update_buttons(self) -> None:
        can = self._ready() and bool(self.steps) and self.export_job is None
        self.gif_button.setEnabled(can)
        self.strip_button.setEnabled(can)

    def _choose_export(self, suffix: str) -> None:
        kind = "Animated GIF (*.gif);;WebP (*.webp)" if suffix == ".gif" else "PNG (*.png)"
        path = choose_save_path(
            self,
            "Export attention over training",
            f"attention_over_training{suffix}",
            kind,
            ANIMATED_SUFFIXES if suffix == ".gif" else STRIP_SUFFIXES,
        )
        if path is not None:
            self.export_to(path)

    def export_to(self, path: str | Path) -> Job | None:
        """Replay every snapshot and write them to ``path`` (.gif/.webp animation, .png strip)."""
        if not self._ready() or self.export_job is not None:
            return None
        run, z, label, queries = self.run, self.z, self.label, self.queries

        def work(job: Job) -> str:
            frames = SnapshotReplay(run).frames(
                z, label, queries, progress=job.report, should_stop=job.should_stop
            )
            if job.should_stop():
                return ""
            return str(save_frames(replay_frames_images(frames), path))

        job = self._jobs.start(work, "replay export")
        self.export_job = job
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        job.progress.connect(self._on_export_progress)
        job.succeeded.connect(self._on_exported)
        job.failed.connect(lambda message, _details: self.note.setText(message))
        job.finished.connect(self._on_export_finished)
        self._update_buttons()
        return job

    def cancel_export(self) -> None:
        if self.export_job is not None:
            self.export_job.cancel()

    def _on_export_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"replaying snapshot {done} / {total}")

    def _on_exported(self, path: str) -> None:
        if path:
            self.note.setText(f"Wrote {path}")
            self.export_finished.emit(path)

    def _on_export_finished(self) -> None:
        self.export_job = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._update_buttons()
