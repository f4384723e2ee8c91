"""The SAGAN training loop (paper section 5): hinge loss, TTUR, spectral norm in G and D.

``Trainer.run()`` blocks the thread that calls it and may run in any thread; ``pause``,
``resume`` and ``stop`` may be called from any other thread and take effect between steps.
Progress goes to listeners as plain event objects (:mod:`sagan_engine.events`).
"""

from __future__ import annotations

import copy
import math
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import machine_choices
from .attention_stats import collect_attention_statistics
from .augment import DiffAugment, resolve_policy
from .config import RunConfig
from .data import ImageDataset
from .data_cache import DiskArray
from .data_pipeline import DiskFeed
from .devices import autocast_dtype, describe_device, resolve_device
from .distributed import DistributedContext
from .errors import ConfigError, SaganError, TrainingError
from .events import (
    AttentionStats,
    Event,
    Log,
    SampleGrid,
    StateChanged,
    StepStats,
    TrainingFailed,
    TrainingFinished,
    TrainingStarted,
)
from .imaging import make_grid, to_uint8
from .losses import LOSSES
from .metrics import evaluator as quality_eval
from .models import Discriminator, Generator
from .run_files import RunFiles
from .runs import RunFolder, default_runs_dir, new_run_name
from .snapshots import SnapshotWriter
from .standing_stats import is_batch_norm_statistic, measure_batch_norm_statistics

Listener = Callable[[Event], None]
# Offsets of the seeds of independent random streams, so that e.g. the fixed sample latents
# never depend on how many training steps ran.
_SAMPLE_SEED_OFFSET = 1_000_003
_STANDING_STATS_SEED_OFFSET = 2_000_003
# Forward passes of one training batch each that measure G_ema's batch-norm statistics.
STANDING_STATS_BATCHES = 4


@dataclass(frozen=True)
class GeneratorSnapshot:
    """A CPU copy of the generator that samples come from, and when it was taken."""

    config: RunConfig
    state: dict[str, torch.Tensor]
    step: int  # training steps finished when the weights were copied
    is_ema: bool  # G's moving average rather than G itself


class Trainer(RunFiles):
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
        augment = resolve_policy(config.train.augment, len(dataset))
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

    def _prepare_data(self) -> None:
        self.feed = None
        if isinstance(self.dataset.images, DiskArray):  # the on-disk cache: a DataLoader
            if len(self.dataset) < self.dist.world_size:
                raise TrainingError("the dataset has fewer images than there are processes")
            self.feed = DiskFeed.for_run(self.dataset, self.config, self.dist, self.device)
            return
        images = torch.from_numpy(self.dataset.images).permute(0, 3, 1, 2)  # NCHW uint8
        labels = torch.from_numpy(self.dataset.labels.astype(np.int64))
        if self.dist.world_size > 1:  # each rank reads its own shard
            images = images[self.dist.rank :: self.dist.world_size]
            labels = labels[self.dist.rank :: self.dist.world_size]
        if len(images) == 0:
            raise TrainingError("the dataset has fewer images than there are processes")
        where = self.device if self.config.data.cache_on_device else torch.device("cpu")
        self.images = images.contiguous().to(where)
        self.labels = labels.to(where)

    def _prepare_sample_latents(self) -> None:
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.train.seed + _SAMPLE_SEED_OFFSET)
        n = cfg.train.n_samples
        self.sample_z = torch.randn(n, cfg.model.z_dim, generator=gen)
        self.sample_y = torch.arange(n) % cfg.model.num_classes if cfg.model.num_classes else None

    # ----------------------------------------------------------------- one training step
    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        b = self.config.train.batch_size
        if self.feed is not None:  # the disk cache's pipeline; its position is checkpointed
            x, labels = self.feed.next_batch()
            x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
            index = None
        else:
            # Drawn from the run's own stream wherever the cache lives, so resumes stay exact.
            index = torch.randint(len(self.images), (b,), device=self.device, generator=self.rng)
            index = index.to(self.images.device)
            x = self.images[index].to(self.device, non_blocking=True)
            x = x.float().div_(127.5).sub_(1.0)
            labels = self.labels
        if self.config.data.hflip:
            flip = torch.rand(b, device=self.device, generator=self.rng) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x = x.contiguous(memory_format=self.memory_format)
        y = None
        if self.config.model.num_classes:
            y = (labels if index is None else labels[index]).to(self.device)
        return x, y

    def _latents(self, b: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(b, self.config.model.z_dim, device=self.device, generator=self.rng)
        y = None
        if self.config.model.num_classes:
            y = torch.randint(
                self.config.model.num_classes, (b,), device=self.device, generator=self.rng
            )
        return z, y

    def _for_d(self, images: torch.Tensor) -> torch.Tensor:
        """What D sees: T(x) under the run's DiffAugment policy (the same in both steps)."""
        if not self.augment:
            return images
        return self.augment(images, self.rng).contiguous(memory_format=self.memory_format)

    def _d_step(self) -> torch.Tensor:
        real, y_real = self._real_batch()
        z, y_fake = self._latents(real.shape[0])
        with torch.no_grad(), self._autocast():
            fake = self.G_train(z, y_fake)
        labels = None if y_real is None else torch.cat([y_real, y_fake])
        with self._autocast():
            # Real and fake in one pass: one power iteration of D's spectral norms per step.
            both = self._for_d(torch.cat([real, fake.to(real.dtype)]))
            logits = self.D_train(both, labels).float()
            real_logits, fake_logits = logits.split(real.shape[0])
            loss = self.loss_d(real_logits, fake_logits)
        self.opt_D.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt_D)
        self.scaler.update()
        return torch.stack(
            [loss.detach(), real_logits.detach().mean(), fake_logits.detach().mean()]
        )

    def _g_step(self) -> torch.Tensor:
        z, y = self._latents(self.config.train.batch_size)
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                # D's unwrapped module: its gradients are not needed here, so no DDP sync.
                loss = self.loss_g(self.D(self._for_d(self.G_train(z, y)), y).float())
            self.opt_G.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt_G)
            self.scaler.update()
        finally:
            self.D.requires_grad_(True)
        return loss.detach()

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.G_ema is None:
            return
        train = self.config.train
        decay = train.ema_decay if self.step >= train.ema_start else 0.0
        ema_params, params, ema_buffers, buffers = self._ema_tensors
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        torch._foreach_copy_(ema_buffers, buffers)  # the spectral-norm vectors u, v

    def _measure_ema_statistics(self) -> None:
        """G_ema's batch-norm statistics, measured on its own weights (see standing_stats)."""
        if self.G_ema is None or self._ema_statistics_step == self.step:
            return  # once a step: the samples and the checkpoint of a step share them
        self._ema_statistics_step = self.step
        with self._lock:  # the inspector's snapshot sees the statistics before or after
            measure_batch_norm_statistics(
                self.G_ema,
                STANDING_STATS_BATCHES,
                self.config.train.batch_size,
                self.config.train.seed + _STANDING_STATS_SEED_OFFSET,
                self.device,
            )

    def _train_step(self) -> torch.Tensor:
        d_stats = torch.zeros(3, device=self.device)
        for _ in range(self.config.train.n_dis):
            d_stats += self._d_step()
        d_stats /= self.config.train.n_dis
        with self._lock:  # a snapshot never sees half-updated weights, nor a step not theirs
            g_loss = self._g_step()
            self._update_ema()
            self.step += 1
        return torch.cat([d_stats, g_loss[None]])

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
        self._emit_samples()
        self._write_snapshot()
        self._evaluator = quality_eval.attach(self)  # None when train.eval_every is 0
        accumulated = torch.zeros(4, device=self.device)
        count = 0
        window_start = time.perf_counter()
        run_start = window_start
        reason = "completed"
        while self.step < train.steps:
            if self._wait_if_paused():
                reason = "stopped"
                break
            self.G.train()
            self.D.train()
            accumulated += self._train_step()  # one step further
            count += 1
            if self.step % train.log_every == 0 or self.step == train.steps:
                now = time.perf_counter()
                self._emit_stats(accumulated, count, now - window_start, now - run_start)
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
        if self._evaluator is not None:
            quality_eval.on_step(self, self._evaluator, final=True)
        if self.step % train.sample_every != 0:
            self._emit_samples()
        if self.last_checkpoint is None or not self.last_checkpoint.name.endswith(
            f"{self.step:06d}.safetensors"
        ):
            self._save_checkpoint()
        self._write_snapshot(final=True)
        self.dist.barrier()
        finished = TrainingFinished(
            self.step, reason, _str_or_none(self.last_checkpoint), str(self.run_folder.path)
        )
        self._emit(finished)
        return finished

    def _wait_if_paused(self) -> bool:
        """Blocks while paused; returns True when a stop was requested."""
        stop = self.dist.agree(self._stop_requested)
        if stop:
            self._emit(StateChanged("stopping"))
            return True
        with self._state_cv:
            if not self._paused:
                return False
            self.state = "paused"
        self._emit(StateChanged("paused"))
        with self._state_cv:
            while self._paused and not self._stop_requested:
                self._state_cv.wait()
            stopping = self._stop_requested
        self.state = "running"
        self._emit(StateChanged("stopping" if stopping else "running"))
        return self.dist.agree(stopping)

    def _emit_stats(
        self, accumulated: torch.Tensor, count: int, window_s: float, elapsed_s: float
    ) -> None:
        # The only host-device sync of the loop: once every log_every steps.
        loss_d, d_real, d_fake, loss_g = (accumulated / max(count, 1)).tolist()
        if not all(math.isfinite(v) for v in (loss_d, d_real, d_fake, loss_g)):
            raise TrainingError(
                f"the losses became NaN or infinite near step {self.step} "
                f"(loss_D={loss_d}, loss_G={loss_g}); nothing from this point was saved. "
                "Try lower learning rates or fp32 precision, then resume from the last checkpoint"
            )
        train = self.config.train
        per_step = window_s / max(count, 1)
        images = train.batch_size * train.n_dis * count * self.dist.world_size
        gammas = {
            name: float(layer.gamma.detach())
            for name, layer in self.G.attention_layers() + self.D.attention_layers()
        }
        stats = StepStats(
            step=self.step,
            loss_d=loss_d,
            loss_g=loss_g,
            d_real=d_real,
            d_fake=d_fake,
            gammas=gammas,
            images_per_s=images / max(window_s, 1e-9),
            seconds_per_step=per_step,
            elapsed_s=elapsed_s,
            eta_s=per_step * (train.steps - self.step),
        )
        if self.dist.is_main:
            self._append_metrics([stats])
        self._emit(stats)

    @torch.no_grad()
    def _emit_samples(self) -> None:
        self._measure_ema_statistics()  # on every process, so their G_ema stay equal
        if not self.dist.is_main:
            return
        source = self.G_ema if self.G_ema is not None else self.G
        was_training = source.training
        source.eval()
        z = self.sample_z.to(self.device)
        y = None if self.sample_y is None else self.sample_y.to(self.device)
        # fp32, not autocast: the grid then shows exactly the image a click regenerates.
        with collect_attention_statistics(source) as collector:
            images = to_uint8(source(z, y))
        source.train(was_training)
        attention = AttentionStats(self.step, tuple(collector.result()))
        event = SampleGrid(
            self.step,
            images,
            self.sample_z.numpy().copy(),
            None if self.sample_y is None else self.sample_y.numpy().copy(),
        )
        Image.fromarray(make_grid(images)).save(self.run_folder.sample_path(self.step))
        self._emit(event)
        self._append_metrics(attention=[attention])
        self._emit(attention)


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
