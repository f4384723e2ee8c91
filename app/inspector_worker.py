"""The one worker that owns a generator: it loads a trained model or follows the training (on
snapshots of G's EMA copy), draws samples from seeds and answers attention queries, all on its
own thread. The GUI sends requests and shows the latest answer; a request not yet started is
replaced by a newer one of the same kind, so a burst of clicks never queues up work."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.jobs import error_details, user_message
from sagan_engine.attention import AttentionResult, Query, attention_maps, fold_spectral_norm
from sagan_engine.checkpoint import load_generator
from sagan_engine.config import RunConfig
from sagan_engine.cpu_threads import set_threads_of_this_thread
from sagan_engine.interruption import Interrupted, interruptible
from sagan_engine.latent_paths import Truncation, seed_latents
from sagan_engine.models import Generator
from sagan_engine.runs import RunFolder
from sagan_engine.sampling import generate
from sagan_engine.trainer import GeneratorSnapshot

SnapshotSource = Callable[[], GeneratorSnapshot]
_SAMPLE_BATCH = 64


@dataclass(frozen=True)
class ModelInfo:
    """A generator loaded from a checkpoint, as the GUI needs to describe it."""

    checkpoint: str
    run_dir: str | None  # the run folder the checkpoint lies in, if any
    config: RunConfig
    step: int
    class_names: tuple[str, ...]
    is_ema: bool
    attention_layers: tuple[str, ...]
    gammas: dict[str, float]  # gamma of each of G's attention layers


@dataclass(frozen=True)
class SampleSet:
    """Images of a generator and the latents (and classes) they came from."""

    images: np.ndarray  # uint8 (N, H, W, 3)
    z: np.ndarray  # float32 (N, z_dim)
    labels: np.ndarray | None  # int64 (N,) for conditional models
    step: int | None
    seed: int | None = None
    truncation: Truncation | None = None  # what the latents of ``seed`` went through


@dataclass(frozen=True)
class AttentionReply:
    token: int
    result: AttentionResult
    step: int | None  # training step of the generator that answered, when known


@dataclass(frozen=True)
class _Load:
    path: str
    token: int  # which source request it answers: a newer one makes its reply moot


@dataclass(frozen=True)
class _Follow:
    snapshot: SnapshotSource


@dataclass(frozen=True)
class _Draw:
    count: int
    seed: int
    label: int | None  # None: cycle through the classes of a conditional model
    truncation: Truncation | None = None


@dataclass(frozen=True)
class _Task:
    key: str
    token: int
    work: Callable[[Generator], object]  # engine code: plain inputs in, plain results out
    priority: int = 1  # lower runs first among pending tasks
    yields: bool = False  # stops between G's layers when more urgent work waits, then reruns


@dataclass(frozen=True)
class TaskReply:
    """What a task returned; replies of one key arrive in the order they were asked."""

    key: str
    token: int
    result: object
    step: int | None


@dataclass(frozen=True)
class _Query:
    token: int
    z: np.ndarray
    label: int | None
    queries: tuple[Query, ...]


class _Renderer(QObject):
    """Lives on the worker thread; the only code that touches the generator."""

    loaded = Signal(int, object)  # the _Load's token, ModelInfo
    following = Signal()
    samples_ready = Signal(object)
    attention_ready = Signal(object)
    task_done = Signal(object)
    failed = Signal(str, str, str)  # what ("load", "samples", "attention"), message, details

    def __init__(self, pending: dict, lock: threading.Lock) -> None:
        super().__init__()
        self._pending = pending
        self._lock = lock
        self.generator: Generator | None = None  # what queries run on: spectral norms folded
        self._loader: Generator | None = None  # receives training snapshots, then is folded
        self.info: ModelInfo | None = None
        self.snapshot: SnapshotSource | None = None
        self.snapshot_stale = True
        self.step: int | None = None  # of the generator queries run on
        # Read on the GUI thread: PyTorch's process-wide count, for exploring a loaded model.
        self._all_threads = torch.get_num_threads()
        self._threads: int | None = None  # in force on the worker thread

    def _next(self) -> tuple[str, object] | None:
        """The first pending request in this order: a new model before what is asked of it."""
        with self._lock:
            for kind in ("source", "stale", "samples", "attention"):
                if kind in self._pending:
                    return kind, self._pending.pop(kind)
            tasks = [kind for kind in self._pending if kind.startswith("task:")]
            if tasks:  # the most urgent, then the oldest key
                kind = min(tasks, key=lambda k: self._pending[k].priority)
                return kind, self._pending.pop(kind)
        return None

    @Slot()
    def process(self) -> None:
        handlers = {
            "source": self._set_source,
            "stale": self._mark_stale,
            "samples": self._draw,
            "attention": self._attention,
        }
        while (item := self._next()) is not None:
            kind, request = item
            try:
                self._share_the_cpu()
                handlers.get(kind, self._task)(request)
            except Exception as err:  # noqa: BLE001 - reported to the GUI, worker lives on
                what = {"source": "load", "stale": "attention"}.get(kind, kind)
                self.failed.emit(what, user_message(err), error_details(err))

    def _share_the_cpu(self) -> None:
        """One CPU thread while following a training run, all of them when exploring.

        Training keeps every core busy; a second full OpenMP team here would make libgomp
        throttle both for the rest of the session (see sagan_engine.cpu_threads). A click
        still answers in tens of milliseconds on one thread (docs/benchmarks.md).
        """
        count = 1 if self.snapshot is not None else self._all_threads
        if count != self._threads:
            self._threads = count
            set_threads_of_this_thread(count)

    def _set_source(self, request: _Load | _Follow) -> None:
        if isinstance(request, _Follow):
            self.snapshot, self.snapshot_stale = request.snapshot, True
            self.generator, self.info, self.step = None, None, None
            self.following.emit()
            return
        device = "cuda" if torch.cuda.is_available() else "cpu"
        loaded = load_generator(request.path, device=device)  # on failure, the old one stays
        run_dir = loaded.checkpoint.parent.parent
        self.snapshot = None
        self.generator = fold_spectral_norm(loaded.generator)
        self.step = loaded.step
        self.info = ModelInfo(
            checkpoint=str(loaded.checkpoint),
            run_dir=str(run_dir) if RunFolder(run_dir).is_run() else None,
            config=loaded.config,
            step=loaded.step,
            class_names=tuple(loaded.class_names),
            is_ema=loaded.is_ema,
            attention_layers=tuple(name for name, _ in loaded.generator.attention_layers()),
            gammas={
                name: float(layer.gamma.detach())
                for name, layer in loaded.generator.attention_layers()
            },
        )
        self.loaded.emit(request.token, self.info)

    def _mark_stale(self, _request: object) -> None:
        self.snapshot_stale = True

    def _generator(self) -> Generator:
        if self.snapshot is not None and (self.generator is None or self.snapshot_stale):
            snapshot = self.snapshot()
            if self._loader is None or self._loader.cfg != snapshot.config.model:
                self._loader = Generator(snapshot.config.model)
            self._loader.load_state_dict(snapshot.state)
            self.step = snapshot.step
            # Spectral norms folded into plain weights once per snapshot, not once per click.
            self.generator = fold_spectral_norm(self._loader, into=self.generator)
            self.snapshot_stale = False
        if self.generator is None:
            raise RuntimeError("no generator yet: train or open a model first")
        return self.generator

    def _draw(self, request: _Draw) -> None:
        generator = self._generator()
        cfg = generator.cfg
        # The engine's seeds-to-latents: a seed gives the same images here and in the CLI.
        z = seed_latents(request.count, cfg.z_dim, request.seed, request.truncation)
        labels = None
        if cfg.num_classes:
            if request.label is None:
                labels = torch.arange(request.count) % cfg.num_classes
            else:
                labels = torch.full((request.count,), int(request.label))
        parts = [
            generate(
                generator,
                z[start : start + _SAMPLE_BATCH],
                None if labels is None else labels[start : start + _SAMPLE_BATCH],
            )
            for start in range(0, request.count, _SAMPLE_BATCH)
        ]
        self.samples_ready.emit(
            SampleSet(
                images=np.concatenate(parts),
                z=z.numpy(),
                labels=None if labels is None else labels.numpy(),
                step=self.step,
                seed=request.seed,
                truncation=request.truncation,
            )
        )

    def _attention(self, request: _Query) -> None:
        generator = self._generator()
        result = attention_maps(generator, request.z, request.label, list(request.queries))
        self.attention_ready.emit(AttentionReply(request.token, result, self.step))

    def _task(self, request: _Task) -> None:
        generator = self._generator()
        if not request.yields:
            result = request.work(generator)
        else:
            try:
                with interruptible(generator, lambda: self._more_urgent(request.priority)):
                    result = request.work(generator)
            except Interrupted:
                self._requeue(request)
                return
        self.task_done.emit(TaskReply(request.key, request.token, result, self.step))

    def _more_urgent(self, priority: int) -> bool:
        """Whether a pending request would run before a task of ``priority``: a model, a
        grid, a click, or a task of a lower priority number (a slider's frame)."""
        with self._lock:
            return any(
                kind in ("source", "samples", "attention")
                or (kind.startswith("task:") and request.priority < priority)
                for kind, request in self._pending.items()
            )

    def _requeue(self, request: _Task) -> None:
        """An interrupted task runs again after the urgent work, unless a newer one of its
        key replaced it meanwhile or another model is coming (its work would not apply)."""
        with self._lock:
            if "source" not in self._pending:
                self._pending.setdefault(f"task:{request.key}", request)


class InspectorWorker(QObject):
    """GUI-side handle of the generator worker. Every method returns at once."""

    model_loaded = Signal(object)  # ModelInfo
    following_training = Signal()
    samples_ready = Signal(object)  # SampleSet
    attention_ready = Signal(object)  # AttentionReply, only the newest request's
    task_ready = Signal(object)  # TaskReply, never an older one after a newer of its key
    task_dropped = Signal(str)  # key of a task given up unstarted: another model was asked for
    failed = Signal(str, str, str)  # what, message, details

    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: dict[str, object] = {}
        self._tokens = itertools.count(1)
        self._latest_token = 0
        self._latest_tasks: dict[str, int] = {}
        self._latest_source = 0  # token of the newest load_model / follow_training
        self._thread = QThread(self)
        self._thread.setObjectName("sagan-inspector")
        self._renderer = _Renderer(self._pending, self._lock)
        self._renderer.moveToThread(self._thread)
        self._wake.connect(self._renderer.process)
        self._renderer.loaded.connect(self._on_loaded)
        self._renderer.following.connect(self.following_training)
        self._renderer.samples_ready.connect(self.samples_ready)
        self._renderer.attention_ready.connect(self._on_attention)
        self._renderer.task_done.connect(self._on_task)
        self._renderer.failed.connect(self.failed)
        self._thread.finished.connect(self._renderer.deleteLater)
        self._thread.start()

    def _request(self, kind: str, request: object) -> None:
        with self._lock:
            self._pending[kind] = request
        self._wake.emit()

    def load_model(self, path: str | Path) -> None:
        """Load G (its EMA copy when saved) from a run folder or checkpoint file."""
        self._drop_pending()  # anything asked of the previous model is moot
        self._latest_source = next(self._tokens)
        self._request("source", _Load(str(path), self._latest_source))

    def follow_training(self, snapshot: SnapshotSource) -> None:
        """Answer queries with snapshots of a training generator (``snapshot()`` thread-safe)."""
        self._drop_pending()
        self._latest_source = next(self._tokens)
        self._request("source", _Follow(snapshot))

    def _drop_pending(self) -> None:
        with self._lock:
            tasks = [
                kind.removeprefix("task:") for kind in self._pending if kind.startswith("task:")
            ]
            self._pending.clear()
        for key in tasks:  # a view waiting on one (an export) must not wait for ever
            self.task_dropped.emit(key)

    @Slot(int, object)
    def _on_loaded(self, token: int, info: ModelInfo) -> None:
        # A load already under way when training started (or another model was asked for)
        # finishes after it: announcing it would put the window back into exploring.
        if token == self._latest_source:
            self.model_loaded.emit(info)

    def snapshot_outdated(self) -> None:
        """Training moved on: the next query takes a fresh snapshot."""
        self._request("stale", True)

    def draw_samples(
        self,
        count: int,
        seed: int,
        label: int | None = None,
        truncation: Truncation | None = None,
    ) -> None:
        self._request("samples", _Draw(count, seed, label, truncation))

    def run_task(
        self,
        key: str,
        work: Callable[[Generator], object],
        priority: int = 1,
        yields: bool = False,
    ) -> int:
        """Run ``work(generator)`` on the worker thread; returns a token.

        A task not yet started is replaced by a newer one of the same ``key`` (a slider's
        positions: only the latest renders); while a slider is dragged, each answer still
        arrives, so the picture follows at the speed of the renders. Among pending tasks the
        lowest ``priority`` runs first. A task that ``yields`` (background work: a class row,
        a path strip) stops between two of G's layers when a more urgent request arrives, and
        starts again after it, so that a slider's frame never waits behind a whole forward
        pass. ``work`` must only call engine functions on plain data.
        """
        token = next(self._tokens)
        self._request(f"task:{key}", _Task(key, token, work, priority, yields))
        return token

    @Slot(object)
    def _on_task(self, reply: TaskReply) -> None:
        if reply.token > self._latest_tasks.get(reply.key, 0):
            self._latest_tasks[reply.key] = reply.token
            self.task_ready.emit(reply)

    def query_attention(
        self, z: np.ndarray, label: int | None, queries: list[Query] | tuple[Query, ...]
    ) -> int:
        """Ask for the attention maps of ``queries`` in the image of ``z``; returns a token."""
        token = next(self._tokens)
        self._latest_token = token
        self._request("attention", _Query(token, np.asarray(z), label, tuple(queries)))
        return token

    @Slot(object)
    def _on_attention(self, reply: AttentionReply) -> None:
        if reply.token == self._latest_token:  # an older answer is already out of date
            self.attention_ready.emit(reply)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        with self._lock:
            self._pending.clear()
        self._thread.quit()
        self._thread.wait(timeout_ms)
