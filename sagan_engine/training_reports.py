"""What the training loop reports: step statistics (losses, D's outputs, attention gammas,
speed) every ``log_every`` steps and the sample grid of the fixed latents with its attention
statistics every ``sample_every`` steps, to listeners and to the run folder. A mixin of
:class:`sagan_engine.trainer.Trainer` (``self`` is the Trainer)."""

from __future__ import annotations

import math

import torch
from PIL import Image

from .attention_stats import collect_attention_statistics
from .errors import TrainingError
from .events import AttentionStats, SampleGrid, StepStats
from .imaging import make_grid, to_uint8


class TrainingReports:
    """Step statistics and sample grids, as events and files."""

    def _emit_stats(
        self, accumulated: torch.Tensor, count: int, window_s: float, elapsed_s: float
    ) -> None:
        # The only host-device sync of the loop: once every log_every steps. Under torchrun
        # the figures are of the global batch (every rank's mean), not of rank 0's share; and
        # every rank sees the same, so a NaN stops them all, not rank 0 alone.
        means = self.dist.average(accumulated / max(count, 1))
        loss_d, d_real, d_fake, loss_g = means.tolist()
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
    def _emit_samples(self, record: bool = True) -> None:
        """The grid of the fixed latents and its attention statistics, to listeners and,
        when ``record``, to the run folder (its PNG and a metrics.csv row)."""
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
        if record:
            Image.fromarray(make_grid(images)).save(self.run_folder.sample_path(self.step))
        self._emit(event)
        if record:
            self._append_metrics(attention=[attention])
        self._emit(attention)
