"""How each attention layer of G behaves on a batch, as four numbers per layer.

For a layer with input x, attention output o and weights beta_{j,i} (paper eq. 1-3):
  gamma         the learnt scale of y = gamma * o + x;
  entropy       mean over queries j (and images) of H(beta_{j,.}) / log N_keys:
                1 = looks everywhere alike, 0 = looks at a single position;
  distance      mean over j of sum_i beta_{j,i} d(j, i), d the distance in output pixels
                between the centres of the pixel blocks that position j and key i cover,
                by the pixel -> position rule of :func:`sagan_engine.attention.query_position`
                (and the 2x2 max-pool of the keys for the official variant);
  contribution  mean over images of ||gamma * o|| / ||x|| (Frobenius norms per image):
                how much the layer changes its input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from .events import LayerAttentionStats
from .layers import SelfAttention
from .models import Generator, eval_mode

__all__ = [
    "LayerAttentionStats",
    "StatisticsCollector",
    "attention_statistics",
    "collect_attention_statistics",
    "position_centres",
]

_CHUNK = 8  # images per recomputation: beta of a 32x32 layer is 4 MB per image in fp32


def position_centres(size: int, grid: int, keys: int | None = None) -> np.ndarray:
    """Centre, in output pixels, of the block of pixels that lies over each position of a
    ``grid``-long side (pixel p lies over position p * grid // size, as for a query), or of
    each of the ``keys`` pooled positions when keys are pooled (feature position r feeds
    key r * keys // grid). Coordinates are pixel centres: pixel p is at p + 0.5."""
    pixels = np.arange(size)
    index = pixels * grid // size
    if keys is not None:
        index = index * keys // grid
    count = keys if keys is not None else grid
    totals = np.bincount(index, weights=pixels + 0.5, minlength=count)
    return totals / np.maximum(np.bincount(index, minlength=count), 1)


def _distances(
    image: tuple[int, int], grid: tuple[int, int], key_grid: tuple[int, int]
) -> torch.Tensor:
    """d(j, i) for every query position j and key position i, (N, N_keys), in pixels."""
    pooled = key_grid != grid
    rows_q = position_centres(image[0], grid[0])
    cols_q = position_centres(image[1], grid[1])
    rows_k = position_centres(image[0], grid[0], key_grid[0] if pooled else None)
    cols_k = position_centres(image[1], grid[1], key_grid[1] if pooled else None)
    dr = rows_q[:, None, None, None] - rows_k[None, None, :, None]
    dc = cols_q[None, :, None, None] - cols_k[None, None, None, :]
    d = np.sqrt(dr**2 + dc**2).reshape(grid[0] * grid[1], key_grid[0] * key_grid[1])
    return torch.from_numpy(d.astype(np.float32))


@dataclass
class _Totals:
    """Sums over the images seen so far of one layer."""

    images: int = 0
    entropy: float = 0.0
    distance: float = 0.0
    contribution: float = 0.0
    distances: torch.Tensor | None = field(default=None, repr=False)


class StatisticsCollector:
    """Forward hooks on G's attention layers that add up the statistics of every image G
    generates while they are installed (see :func:`collect_attention_statistics`)."""

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self.layers = generator.attention_layers()
        self._totals = [_Totals() for _ in self.layers]
        self._image_size: tuple[int, int] | None = None

    def _observe(self, index: int, layer: SelfAttention, x: torch.Tensor) -> None:
        totals = self._totals[index]
        height, width = x.shape[-2:]
        key_grid = layer.key_grid(height, width)
        if totals.distances is None:
            # The image side is a power-of-two multiple of the layer's: G doubles per block.
            scale = self.generator.cfg.resolution // height
            image = (height * scale, width * scale)
            totals.distances = _distances(image, (height, width), key_grid).to(x.device)
        log_keys = float(np.log(key_grid[0] * key_grid[1]))
        gamma = layer.gamma.detach().float()
        for chunk in x.split(_CHUNK):
            o, beta = layer.attend(chunk, return_attention=True)
            beta = beta.float()
            if log_keys > 0:
                entropy = -torch.special.xlogy(beta, beta).sum(-1) / log_keys  # (B, N)
                totals.entropy += float(entropy.mean(-1).sum())
            distance = (beta * totals.distances).sum(-1)  # (B, N): sum_i beta_{j,i} d(j, i)
            totals.distance += float(distance.mean(-1).sum())
            o_norm = (gamma * o.float()).flatten(1).norm(dim=1)
            x_norm = chunk.float().flatten(1).norm(dim=1).clamp_min(1e-12)
            totals.contribution += float((o_norm / x_norm).sum())
            totals.images += chunk.shape[0]

    def hook(self, index: int):
        def observe(module: SelfAttention, args: tuple, _output: object) -> None:
            self._observe(index, module, args[0])

        return observe

    def result(self) -> list[LayerAttentionStats]:
        """The statistics of each layer in G's order, averaged over the images seen."""
        out = []
        for (name, layer), totals in zip(self.layers, self._totals, strict=True):
            n = max(totals.images, 1)
            out.append(
                LayerAttentionStats(
                    name=name,
                    gamma=float(layer.gamma.detach()),
                    entropy=totals.entropy / n,
                    distance=totals.distance / n,
                    contribution=totals.contribution / n,
                )
            )
        return out


@contextmanager
def collect_attention_statistics(generator: Generator) -> Iterator[StatisticsCollector]:
    """Statistics of whatever G generates inside the block, e.g. the trainer's sample grid::

        with collect_attention_statistics(G) as collector:
            images = G(z, y)
        stats = collector.result()

    Each layer's beta is recomputed from its input in small chunks, so the forward itself
    runs unchanged (and its fast kernels never have to return beta).
    """
    collector = StatisticsCollector(generator)
    handles = [
        layer.register_forward_hook(collector.hook(index))
        for index, (_, layer) in enumerate(collector.layers)
    ]
    try:
        with torch.no_grad():
            yield collector
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def attention_statistics(
    generator: Generator, z: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray | None = None
) -> list[LayerAttentionStats]:
    """gamma, normalised entropy, mean attention distance and contribution of every attention
    layer of G (in order), averaged over the images of latents ``z`` (B, z_dim), classes ``y``
    (B,) for a conditional G. G runs in eval mode."""
    device = next(generator.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(-1, generator.cfg.z_dim)
    labels = None
    if generator.cfg.num_classes:
        if y is None:
            raise ValueError("this generator is class-conditional: give classes y")
        labels = torch.as_tensor(np.asarray(y, dtype=np.int64)).reshape(-1).to(device)
    with eval_mode(generator), collect_attention_statistics(generator) as collector:
        generator(z.to(device), labels)
    return collector.result()
