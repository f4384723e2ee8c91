"""Conversions between G's tensors and plain uint8 images, and image grids."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """G's output in [-1, 1], (B, 3, H, W) -> uint8 (B, H, W, 3) on the CPU."""
    scaled = (images.detach().float().clamp(-1, 1) + 1) * 127.5
    return scaled.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def make_grid(
    images: np.ndarray, columns: int | None = None, padding: int = 2, background: int = 255
) -> np.ndarray:
    """Tile uint8 images (N, H, W, 3) into one (rows*(H+p)+p, cols*(W+p)+p, 3) picture."""
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {images.shape}")
    count, height, width, _ = images.shape
    if count == 0:
        raise ValueError("no images to tile")
    if columns is None:
        columns = int(np.ceil(np.sqrt(count)))
    if columns < 1 or padding < 0:
        raise ValueError(f"columns must be >= 1 and padding >= 0 (got {columns}, {padding})")
    columns = min(columns, count)
    rows = -(-count // columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
        background,
        dtype=np.uint8,
    )
    for index in range(count):
        row, col = divmod(index, columns)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid
