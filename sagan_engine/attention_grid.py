"""The structure of one attention layer at once: the map beta_{j,.} of every query position
j on a coarse grid (every ``stride``-th row and column of the layer's positions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .attention import attention_forward, find_attention_layer
from .imaging import to_uint8
from .models import Generator


@dataclass(frozen=True)
class PositionMaps:
    layer: str
    grid: tuple[int, int]  # (h, w) of the layer's query positions
    stride: int
    image: np.ndarray  # uint8 (H, W, 3)
    maps: np.ndarray  # float32 (R, C, hk, wk): maps[r, c] is beta_{j,.} of position
    #                   j = (r * stride, c * stride) on the layer's grid; each sums to 1

    def pixel(self, r: int, c: int) -> tuple[int, int]:
        """The output pixel at the centre of the block that position (r, c) covers."""
        height, width = self.image.shape[:2]
        h, w = self.grid
        row, col = r * self.stride, c * self.stride
        return (2 * row + 1) * height // (2 * h), (2 * col + 1) * width // (2 * w)


def stride_for(grid: tuple[int, int], most: int = 16) -> int:
    """The smallest stride that leaves at most ``most`` positions along each side."""
    return max(1, -(-max(grid) // most))


@torch.no_grad()
def position_maps(
    generator: Generator,
    z: torch.Tensor | np.ndarray,
    y: int | None,
    layer: str | int,
    stride: int | None = None,
) -> PositionMaps:
    """Maps of every ``stride``-th query position of attention layer ``layer`` for latent
    ``z`` (class ``y``); by default a stride that leaves at most 16 x 16 positions."""
    index = find_attention_layer(generator, layer)
    name, module = generator.attention_layers()[index]
    image, betas = attention_forward(generator, z, y)
    beta = betas[index][0].float()
    side = int(round(beta.shape[0] ** 0.5))  # G's feature maps are square
    grid = (side, side)
    if stride is None:
        stride = stride_for(grid)
    if stride < 1:
        raise ValueError(f"stride {stride} must be at least 1")
    stride = min(stride, side)  # wider than the layer: its first position alone
    key_grid = module.key_grid(*grid)
    maps = beta.reshape(*grid, *key_grid)[::stride, ::stride]
    return PositionMaps(name, grid, stride, to_uint8(image)[0], maps.cpu().numpy())
