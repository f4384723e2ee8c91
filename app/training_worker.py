"""Training in the background: one QThread per training session (load the images, then
``Trainer.run()``), and the bridge that brings the trainer's events to the GUI thread.

The images come the way the CLI's ``train`` takes them (:mod:`sagan_engine.training_data`,
``data.cache``): decoded into memory, or a folder too large for it decoded once into the
memory-mapped disk cache and read from there. Either way the load reports progress (the
cache build with files/s and time left) and stops when asked; a stopped cache build keeps
its finished shards, so the next Train continues it.

The trainer calls our listener on its own thread; the listener only appends the event to a
buffer under a lock. A QTimer on the GUI thread drains the buffer ~15 times a second and emits
Qt signals: every StepStats of the interval in one batch (curves need all points), only the
newest SampleGrid and load progress, and the other events in order. So the window stays smooth
however fast training goes, and the GUI thread never waits on the training thread.

Pause, resume and stop are plain calls from the GUI thread into the trainer's thread-safe
controls (the training thread is busy in ``run()`` and has no event loop to receive slots);
requests made while the images are still loading are remembered and applied to the trainer as
soon as it exists.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from app.jobs import error_details, user_message
from sagan_engine.config import RunConfig
from sagan_engine.data import ImageDataset, LoadStopped, SkippedFile
from sagan_engine.data_cache import DiskArray
from sagan_engine.data_cache_cost import CacheEstimate, RateMeter
from sagan_engine.errors import TrainingError
from sagan_engine.events import (
    AttentionStats,
    CheckpointSaved,
    Log,
    QualityMeasured,
    SampleGrid,
    StateChanged,
    StepStats,
    TrainingFailed,
    TrainingFinished,
    TrainingStarted,
)
from sagan_engine.trainer import GeneratorSnapshot, Trainer
from sagan_engine.training_data import load_training_data

IDLE = "idle"
LOADING = "loading"
RUNNING = "running"
PAUSED = "paused"
STOPPING = "stopping"

FLUSH_INTERVAL_MS = 66  # ~15 Hz: smooth to the eye, cheap for the GUI thread


@dataclass(frozen=True)
class TrainingRequest:
    """What to train: the config, the data (None = the bundled demo set) and where to save."""

    config: RunConfig
    folder: str | None
    run_dir: Path
    resume: bool | str = False


@dataclass(frozen=True)
class LoadProgress:
    done: int
    total: int
    text: str  # what the progress bar says, e.g. "loading images 5 / 10"


@dataclass(frozen=True)
class DatasetReady:
    """What the loaded data set holds (the images themselves stay in the training thread)."""

    source: str
    images: int
    class_names: tuple[str, ...]
    skipped: tuple[SkippedFile, ...]
    disk_cache: str | None = None  # the cache folder when training reads the disk cache


@dataclass(frozen=True)
class _SessionEnded:
    finished: TrainingFinished | None


class _SessionThread(QThread):
    def __init__(self, target, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._target = target

    def run(self) -> None:
        self._target()


class TrainingWorker(QObject):
    """Runs training sessions one at a time and reports them through throttled signals."""

    state_changed = Signal(str)
    pause_requested_changed = Signal(bool)
    load_progress = Signal(object)  # LoadProgress, the newest only
    dataset_ready = Signal(object)  # DatasetReady
    started = Signal(object)  # TrainingStarted
    stats = Signal(object)  # list[StepStats], in step order
    samples = Signal(object)  # SampleGrid, the newest only
    attention_stats = Signal(object)  # list[AttentionStats]
    quality = Signal(object)  # list[QualityMeasured]
    checkpoint_saved = Signal(object)  # CheckpointSaved
    log = Signal(object)  # Log
    failed = Signal(object)  # TrainingFailed
    session_ended = Signal(object)  # TrainingFinished, or None when it never trained

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = IDLE
        self._control = threading.Lock()  # guards the fields the training thread reads
        self._trainer: Trainer | None = None  # the session's trainer, once built
        self._last_trainer: Trainer | None = None  # kept after the session, for inspection
        self._want_pause = False
        self._want_stop = False
        self._stop_event = threading.Event()
        self._stopped_message = ""  # what a stop during loading says (training thread)
        self._buffer_lock = threading.Lock()
        self._buffer: list[object] = []
        self._threads: set[QThread] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)

    # ------------------------------------------------------------------ state (GUI thread)
    @property
    def state(self) -> str:
        return self._state

    @property
    def active(self) -> bool:
        return self._state != IDLE

    @property
    def pause_requested(self) -> bool:
        return self._want_pause

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    # ------------------------------------------------------------------ controls (GUI thread)
    def start(self, request: TrainingRequest) -> bool:
        """Start a session; returns False (and does nothing) while one is active."""
        if self.active:
            return False
        with self._control:
            self._trainer = None
            self._last_trainer = None
            self._want_pause = False
            self._want_stop = False
            self._stop_event = threading.Event()
        with self._buffer_lock:
            self._buffer.clear()
        thread = _SessionThread(lambda: self._run_session(request), self)
        self._threads.add(thread)
        thread.finished.connect(lambda: self._threads.discard(thread))
        self._set_state(LOADING)
        self.pause_requested_changed.emit(False)
        self._timer.start()
        thread.start()
        return True

    @Slot()
    def pause(self) -> None:
        if not self.active or self._want_stop or self._want_pause:
            return
        with self._control:
            self._want_pause = True
            if self._trainer is not None:
                self._trainer.pause()
        self.pause_requested_changed.emit(True)

    @Slot()
    def resume(self) -> None:
        if not self.active or not self._want_pause:
            return
        with self._control:
            self._want_pause = False
            if self._trainer is not None:
                self._trainer.resume()
        self.pause_requested_changed.emit(False)

    @Slot()
    def toggle_pause(self) -> None:
        if self._want_pause:
            self.resume()
        else:
            self.pause()

    @Slot()
    def stop(self) -> None:
        """Stop loading, or stop training after the current step (which saves a checkpoint)."""
        if not self.active or self._want_stop:
            return
        was_paused = self._want_pause
        with self._control:
            self._want_stop = True
            self._want_pause = False
            self._stop_event.set()
            if self._trainer is not None:
                self._trainer.stop()
        if was_paused:
            self.pause_requested_changed.emit(False)
        self._set_state(STOPPING)

    def generator_snapshot(self) -> GeneratorSnapshot:
        """CPU weights (and their step) of the generator samples come from; any thread.

        Raises TrainingError when no training has built a generator yet.
        """
        with self._control:
            trainer = self._trainer or self._last_trainer
        if trainer is None:
            raise TrainingError("no training to inspect yet")
        return trainer.generator_snapshot()

    def release(self) -> None:
        """Forget the finished session's trainer (its weights and optimizer state)."""
        if not self.active:
            with self._control:
                self._last_trainer = None

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until the training thread has ended (only for shutting down)."""
        return all(thread.wait(timeout_ms) for thread in list(self._threads))

    # ------------------------------------------------------------------ training thread
    def _post(self, event: object) -> None:
        with self._buffer_lock:
            self._buffer.append(event)

    def _run_session(self, request: TrainingRequest) -> None:
        finished: TrainingFinished | None = None
        failure_reported = False

        def listen(event: object) -> None:
            nonlocal failure_reported
            failure_reported = failure_reported or isinstance(event, TrainingFailed)
            self._post(event)

        trainer: Trainer | None = None
        try:
            dataset = self._load(request)
            with self._control:
                if self._want_stop:
                    raise LoadStopped()
                trainer = Trainer(
                    request.config,
                    dataset,
                    request.run_dir,
                    listeners=[listen],
                    resume=request.resume,
                )
                if self._want_pause:
                    trainer.pause()
                self._trainer = trainer
            finished = trainer.run()
        except LoadStopped:
            self._post(Log(self._stopped_message))
        except BaseException as err:  # noqa: BLE001 - reported to the user, never re-raised
            if not failure_reported:
                self._post(
                    TrainingFailed(
                        step=trainer.step if trainer is not None else 0,
                        message=user_message(err),
                        details=error_details(err),
                        run_dir=str(request.run_dir),
                    )
                )
        finally:
            with self._control:
                self._last_trainer = trainer
                self._trainer = None
            self._post(_SessionEnded(finished))

    def _load(self, request: TrainingRequest) -> ImageDataset:
        """The request's images the way ``data.cache`` says (memory or the disk cache)."""
        building: RateMeter | None = None  # set once a disk cache build starts
        self._stopped_message = "loading stopped before training began"

        def progress(done: int, total: int) -> None:
            if building is None:
                text = f"loading images {done} / {total}"
            else:
                text = f"decoding into the disk cache: {building.describe(done, total)}"
            self._post(LoadProgress(done, total, text))

        def on_estimate(estimate: CacheEstimate) -> None:
            nonlocal building
            building = RateMeter()
            self._stopped_message = (
                "decoding stopped before training began; the finished part of the disk "
                f"cache is kept in {estimate.cache} and the next Train continues it"
            )
            self._post(Log(f"building the disk cache: {estimate.describe()}"))

        config = request.config
        dataset = load_training_data(
            dataclasses.replace(config.data, folder=request.folder),
            config.model.resolution,
            progress=progress,
            should_stop=self._stop_event.is_set,
            on_estimate=on_estimate,
            note=lambda text: self._post(Log(text)),
        )
        disk_cache = None
        if isinstance(dataset.images, DiskArray):
            disk_cache = str(dataset.images.paths[0].parent) if dataset.images.paths else ""
            self._post(Log(f"training from the disk cache {disk_cache} ({len(dataset)} images)"))
        self._post(
            DatasetReady(
                dataset.source,
                len(dataset),
                tuple(dataset.class_names),
                tuple(dataset.skipped),
                disk_cache,
            )
        )
        return dataset

    # ------------------------------------------------------------------ delivery (GUI thread)
    @Slot()
    def flush(self) -> None:
        """Deliver the buffered events as signals (called by the timer; tests may call it)."""
        with self._buffer_lock:
            events, self._buffer = self._buffer, []
        stats: list[StepStats] = []
        latest: dict[type, object] = {}

        def deliver_coalesced() -> None:
            if stats:
                self.stats.emit(list(stats))
                stats.clear()
            progress = latest.pop(LoadProgress, None)
            if progress is not None:
                self.load_progress.emit(progress)
            grid = latest.pop(SampleGrid, None)
            if grid is not None:
                self.samples.emit(grid)

        for event in events:
            if isinstance(event, StepStats):
                stats.append(event)
            elif isinstance(event, (SampleGrid, LoadProgress)):
                latest[type(event)] = event
            else:
                deliver_coalesced()
                self._deliver(event)
        deliver_coalesced()

    def _deliver(self, event: object) -> None:
        if isinstance(event, StateChanged):
            # After a stop request only "stopping" may be shown, whatever was still queued.
            if not self._want_stop or event.state == STOPPING:
                self._set_state(event.state)
        elif isinstance(event, TrainingStarted):
            self.started.emit(event)
        elif isinstance(event, DatasetReady):
            self.dataset_ready.emit(event)
        elif isinstance(event, CheckpointSaved):
            self.checkpoint_saved.emit(event)
        elif isinstance(event, AttentionStats):
            self.attention_stats.emit([event])
        elif isinstance(event, QualityMeasured):
            self.quality.emit([event])
        elif isinstance(event, Log):
            self.log.emit(event)
        elif isinstance(event, TrainingFailed):
            self.failed.emit(event)
        elif isinstance(event, _SessionEnded):
            self._timer.stop()
            self._want_pause = False
            self._want_stop = False
            self._set_state(IDLE)
            self.session_ended.emit(event.finished)
