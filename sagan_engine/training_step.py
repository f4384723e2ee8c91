"""One SAGAN training step (paper section 5): a D step on real and generated images, a G
step, the EMA of G, and the real batches they read (all in memory or on the device, or the
disk cache's DataLoader). Hinge loss by default (Lim & Ye), TTUR through the two optimizers'
learning rates (Heusel et al.), DiffAugment on everything D sees. A mixin of
:class:`sagan_engine.trainer.Trainer`, kept apart so that trainer.py reads as the run loop
(``self`` is the Trainer)."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from .data_cache import DiskArray
from .data_pipeline import DiskFeed
from .errors import TrainingError
from .standing_stats import measure_batch_norm_statistics

# The seed offset of G_ema's statistics stream (trainer.py has the other streams' offsets),
# so that it never depends on how many training steps ran.
_STANDING_STATS_SEED_OFFSET = 2_000_003
# Forward passes of one training batch each that measure G_ema's batch-norm statistics.
STANDING_STATS_BATCHES = 4


class TrainingStep:
    """The step function: batches, losses and updates."""

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
