"""The SAGAN training loop (paper section 5): hinge loss, TTUR, spectral norm in G and D.

``Trainer.run()`` blocks the thread that calls it and may run in any thread; ``pause``,
``resume`` and ``stop`` may be called from any other thread and take effect between steps.
Progress goes to listeners as plain event objects (:mod:`sagan_engine.events`).

This module builds the networks and runs the loop; the step itself (batches, losses,
updates, EMA) is :mod:`sagan_engine.training_step`, the statistics and sample grids it
reports :mod:`sagan_engine.training_reports`, the run folder (checkpoints, metrics,
snapshots, resume) :mod:`sagan_engine.run_files`: mixins of :class:`Trainer`.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import machine_choices
from .augment import DiffAugment, resolve_policy
from .config import RunConfig
from .data import ImageDataset
from .devices import autocast_dtype, describe_device, resolve_device
from .distributed import DistributedContext
from .errors import ConfigError, SaganError, TrainingError
from .events import (
    Event,
    Log,
    StateChanged,
    TrainingFailed,
    TrainingFinished,
    TrainingStarted,
)
from .losses import LOSSES
from .metrics import evaluator as quality_eval
from .models import Discriminator, Generator
from .run_files import RunFiles
from .runs import RunFolder, default_runs_dir, new_run_name
from .snapshots import SnapshotWriter
from .standing_stats import is_batch_norm_statistic
from .training_reports import TrainingReports
from .training_step import (  # noqa: F401 - the constants are also imported from here
    _STANDING_STATS_SEED_OFFSET,
    STANDING_STATS_BATCHES,
    TrainingStep,
)

Listener = Callable[[Event], None]
# Offsets of the seeds of independent random streams, so that e.g. the fixed sample latents
# never depend on how many training steps ran.
# (G_ema's statistics stream: training_step._STANDING_STATS_SEED_OFFSET.)
_SAMPLE_SEED_OFFSET = 1_000_003


@dataclass(frozen=True)
class GeneratorSnapshot:
    """A CPU copy of the generator that samples come from, and when it was taken."""

    config: RunConfig
    state: dict[str, torch.Tensor]
    step: int  # training steps finished when the weights were copied
    is_ema: bool  # G's moving average rather than G itself


# Under torchrun the ranks agree on a stop at least this often (steps), whatever log_every.
AGREE_EVERY_MAX = 10


class Trainer(TrainingStep, TrainingReports, RunFiles):
    """Trains one run. Create it, add listeners, call :meth:`run` (in a thread if you like)."""

    def __init__(
        self,
        config: RunConfig,
        dataset: ImageDataset,
        run_dir: str | Path | None = None,
        *,
        listeners: Iterable[Listener] = (),
        resume: str | Path | bool = False,
        distributed: DistributedContext | None = None,
    ) -> None:
        config.validate()
        self.dist = distributed or DistributedContext.single()
        if dataset.num_classes and config.model.num_classes != dataset.num_classes:
            # The data decides whether the model is conditional: one source of truth.
            config = config.replace(model={"num_classes": dataset.num_classes})
        elif not dataset.num_classes and config.model.num_classes:
            config = config.replace(model={"num_classes": 0})
        seen = config.train.steps * config.train.batch_size * self.dist.world_size
        augment = resolve_policy(config.train.augment, len(dataset), seen)
        if augment != config.train.augment:
            # Written into the run's config.json, so the run says what it really used.
            config = config.replace(train={"augment": augment})
        if dataset.images.ndim != 4 or dataset.images.shape[1:] != (
            config.model.resolution,
            config.model.resolution,
            3,
        ):
            raise ConfigError(
                f"the dataset holds images of shape {dataset.images.shape[1:]}, but the model "
                f"trains at {config.model.resolution}x{config.model.resolution}: load the data "
                "at the model's resolution"
            )
        self.config = config
        self.dataset = dataset
        self.run_folder = RunFolder(run_dir or default_runs_dir() / new_run_name(config.preset))
        self._listeners: list[Listener] = list(listeners)
        self._resume_from = resume
        self._lock = threading.Lock()  # guards the weights while a snapshot is copied
        self._state_cv = threading.Condition()
        self._paused = False
        self._stop_requested = False
        self._seconds_paused = 0.0  # in all: not training time (speed, ETA, elapsed)
        # The run's training time: earlier sessions' (from the checkpoint resumed) and this
        # session's since its loop began; metrics.csv's elapsed_s, kept in every checkpoint.
        self._seconds_before = 0.0
        self._session_start = 0.0
        self.state = "idle"
        self.step = 0
        self.last_checkpoint: Path | None = None
        self._built = False
        self._ema_statistics_step: int | None = None  # when G_ema's BN statistics were measured
        self._snapshots: SnapshotWriter | None = None

    # ----------------------------------------------------------------- control (any thread)
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def pause(self) -> None:
        with self._state_cv:
            if not self._stop_requested:
                self._paused = True
            self._state_cv.notify_all()

    def resume(self) -> None:
        with self._state_cv:
            self._paused = False
            self._state_cv.notify_all()

    def stop(self) -> None:
        """Ask the loop to finish the current step, save a checkpoint and return."""
        with self._state_cv:
            self._stop_requested = True
            self._paused = False
            self._state_cv.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def generator_snapshot(self) -> GeneratorSnapshot:
        """A CPU copy of the weights samples come from (G's EMA when enabled), taken between
        steps, for attention queries in another thread while training goes on."""
        if not self._built:
            raise TrainingError("training has not started yet: no generator to inspect")
        with self._lock:
            source = self.G_ema if self.G_ema is not None else self.G
            state = {k: v.detach().to("cpu", copy=True) for k, v in source.state_dict().items()}
            step = self.step
        return GeneratorSnapshot(self.config, state, step, is_ema=self.G_ema is not None)

    # ----------------------------------------------------------------- set-up
    def _emit(self, event: Event) -> None:
        if not self.dist.is_main and not isinstance(event, (TrainingFailed,)):
            return
        for listener in list(self._listeners):
            listener(event)

    def _build(self) -> None:
        self.device = resolve_device(self.config.train.device, self.dist)
        dataset = self.dataset
        self.dist.check_same(  # the first collective: the device of each rank is set
            "training data",
            {
                "images": len(dataset),
                "classes": list(dataset.class_names),
                "images per class": np.bincount(np.asarray(dataset.labels)).tolist()
                if dataset.class_names
                else None,
                # Same counts, other files: a copy resized or edited on one machine.
                "files (names, sizes, classes)": dataset.fingerprint or None,
            },
            f" ({dataset.source})" if dataset.source else "",
        )
        # "auto" precision, channels_last, compile, threads: timed once per machine, cached.
        self.config, self.choices = machine_choices.settle(
            self.config, self.device, lambda line: self._emit(Log(line)), self.dist.world_size == 1
        )
        cfg, train = self.config, self.config.train
        torch.manual_seed(train.seed)
        self.G = Generator(cfg.model).to(self.device)
        self.D = Discriminator(cfg.model).to(self.device)
        self.G_ema = None
        if train.ema:
            # Copied before G's batch norms become synchronised ones: G_ema measures its own
            # statistics on each process alone (standing_stats).
            self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G = self.dist.sync_batch_norm(self.G, self.device)
        self.memory_format = torch.channels_last if train.channels_last else torch.contiguous_format
        for model in (self.G, self.D, self.G_ema):
            if model is not None:
                model.to(memory_format=self.memory_format)
        if self.G_ema is not None:
            # Listed once, after .to() has replaced the buffers: the EMA update runs every step.
            # Spectral-norm vectors follow G; batch-norm statistics are G_ema's own.
            followed = [
                name for name, _ in self.G.named_buffers() if not is_batch_norm_statistic(name)
            ]
            ema_buffers, buffers = dict(self.G_ema.named_buffers()), dict(self.G.named_buffers())
            self._ema_tensors = (
                list(self.G_ema.parameters()),
                list(self.G.parameters()),
                [ema_buffers[name] for name in followed],
                [buffers[name] for name in followed],
            )
        # Fused Adam (one kernel per tensor) where PyTorch has it: the per-tensor update up to
        # fp32 rounding, ~5x less optimizer time on the CPU than its default loop (issue 14).
        fused = True if self.device.type in ("cpu", "cuda") else None
        self.opt_G = torch.optim.Adam(
            self.G.parameters(), lr=train.lr_g, betas=train.betas, fused=fused
        )
        self.opt_D = torch.optim.Adam(
            self.D.parameters(), lr=train.lr_d, betas=train.betas, fused=fused
        )
        self.loss_d, self.loss_g = LOSSES[train.loss]
        self.augment = DiffAugment(train.augment)
        self.amp_dtype = autocast_dtype(train.precision, self.device)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        self.G_train = self.dist.wrap(self.G, self.device)
        self.D_train = self.dist.wrap(self.D, self.device)
        if train.compile:
            self.G_train = torch.compile(self.G_train)
            self.D_train = torch.compile(self.D_train)
        # One random stream for batches, flips and latents: its state is in every checkpoint,
        # so a resumed run draws exactly what an uninterrupted one would have.
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(train.seed * 1000 + self.dist.rank)
        self._prepare_data()
        self._prepare_sample_latents()
        self._built = True

    def _prepare_sample_latents(self) -> None:
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.train.seed + _SAMPLE_SEED_OFFSET)
        n = cfg.train.n_samples
        self.sample_z = torch.randn(n, cfg.model.z_dim, generator=gen)
        self.sample_y = torch.arange(n) % cfg.model.num_classes if cfg.model.num_classes else None

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainingFinished:
        """Train until ``train.steps`` or :meth:`stop`; returns the finishing event.

        Raises :class:`SaganError` subclasses after emitting :class:`TrainingFailed`.
        """
        self.state = "running"
        try:
            return self._run()
        except Exception as err:  # noqa: BLE001 - every failure is reported, then re-raised
            message = _friendly_message(err)
            self._emit(
                TrainingFailed(
                    self.step,
                    message,
                    traceback.format_exc(),
                    str(self.last_checkpoint) if self.last_checkpoint else None,
                    str(self.run_folder.path),
                )
            )
            self.state = "failed"
            if isinstance(err, SaganError):
                raise
            raise TrainingError(message) from err
        finally:
            if getattr(self, "feed", None) is not None:
                self.feed.close()  # its worker processes
            if self.state != "failed":
                self.state = "finished"

    def _run(self) -> TrainingFinished:
        if self._resume_from:
            self._check_steps_left()
        self._build()
        if self.dist.is_main:
            self._prepare_run_folder()
        if self._resume_from:
            self._load_for_resume()
        train = self.config.train
        self._emit(
            TrainingStarted(
                run_dir=str(self.run_folder.path),
                device=str(self.device),
                device_name=describe_device(self.device),
                start_step=self.step,
                total_steps=train.steps,
                num_images=len(self.dataset),
                class_names=tuple(self.dataset.class_names),
                attention_layers=tuple(name for name, _ in self.G.attention_layers()),
            )
        )
        if self.choices.auto:  # what "auto" became on this machine
            self._emit(Log(self.choices.describe()))
        self._emit(StateChanged("running"))
        # A resumed run's grid of this step, and its attention row, are in the run folder
        # already: shown again, not written twice.
        resumed_grid = bool(self._resume_from) and self.run_folder.sample_path(self.step).exists()
        self._emit_samples(record=not resumed_grid)
        self._write_snapshot()
        self._evaluator = quality_eval.attach(self)  # None when train.eval_every is 0
        accumulated = torch.zeros(4, device=self.device)
        count = 0
        window_start = self._session_start = time.perf_counter()
        reason = "completed"
        while self.step < train.steps:
            paused_before = self._seconds_paused
            if self._wait_if_paused():
                reason = "stopped"
                break
            # A pause of minutes is not minutes per step (nor training time: _training_s).
            window_start += self._seconds_paused - paused_before
            self.G.train()
            self.D.train()
            accumulated += self._train_step()  # one step further
            count += 1
            if self.step % train.log_every == 0 or self.step == train.steps:
                now = time.perf_counter()
                self._emit_stats(accumulated, count, now - window_start, self._training_s(now))
                accumulated.zero_()
                count = 0
                window_start = now
            if self.step % train.sample_every == 0:
                self._emit_samples()
            if self.step % train.checkpoint_every == 0:
                self._save_checkpoint()
            self._write_snapshot()
            if self._evaluator is not None:  # off the critical path: a background thread
                quality_eval.on_step(self, self._evaluator)
        if self.step % train.sample_every != 0:
            self._emit_samples()
        if self.last_checkpoint is None or not self.last_checkpoint.name.endswith(
            f"{self.step:06d}.safetensors"
        ):
            self._save_checkpoint()
        self._write_snapshot(final=True)
        self.dist.barrier()
        # After the checkpoint: a stop must not wait minutes for an evaluation first (torchrun
        # kills its workers 30 s after forwarding Ctrl-C, and the steps since the last
        # checkpoint would go with them).
        if self._evaluator is not None:
            quality_eval.on_step(self, self._evaluator, final=True, stopping=reason == "stopped")
        finished = TrainingFinished(
            self.step, reason, _str_or_none(self.last_checkpoint), str(self.run_folder.path)
        )
        self._emit(finished)
        return finished

    def _training_s(self, now: float | None = None) -> float:
        """Seconds the run has trained in all, over resumes, pauses left out."""
        now = time.perf_counter() if now is None else now
        return self._seconds_before + now - self._session_start - self._seconds_paused

    def _stop_agreed(self) -> bool:
        """Whether to stop before the next step. Several processes must stop at one step:
        they agree with an all-reduce, which waits for the device, so only every
        ``log_every`` steps, where the loop reads the losses back anyway, and at least every
        :data:`AGREE_EVERY_MAX` (torchrun and schedulers kill 30 s after a stop signal);
        one process stops at once."""
        every = min(self.config.train.log_every, AGREE_EVERY_MAX)
        if self.dist.world_size > 1 and self.step % every != 0:
            return False
        return self.dist.agree(self._stop_requested)

    def _wait_if_paused(self) -> bool:
        """Blocks while paused; returns True when a stop was requested."""
        stop = self._stop_agreed()
        if stop:
            self._emit(StateChanged("stopping"))
            return True
        with self._state_cv:
            if not self._paused:
                return False
            self.state = "paused"
        self._emit(StateChanged("paused"))
        paused_at = time.perf_counter()
        with self._state_cv:
            while self._paused and not self._stop_requested:
                self._state_cv.wait()
            stopping = self._stop_requested
        self._seconds_paused += time.perf_counter() - paused_at
        self.state = "running"
        self._emit(StateChanged("stopping" if stopping else "running"))
        return self.dist.agree(stopping)


def _str_or_none(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _friendly_message(err: BaseException) -> str:
    """One line a user can act on, for errors that are not our own."""
    if isinstance(err, SaganError):
        return str(err)
    text = str(err)
    if isinstance(err, torch.OutOfMemoryError) or "out of memory" in text.lower():
        return (
            "out of memory on the training device: try a smaller batch size, a smaller "
            "preset, or bf16 precision"
        )
    if isinstance(err, OSError):
        where = f" ({err.filename})" if err.filename else ""
        return f"file system error{where}: {err.strerror or text}"
    return f"{type(err).__name__}: {text}"
