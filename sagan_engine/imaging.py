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
    grid = blank_grid(count, height, width, columns, padding, background)
    place_in_grid(grid, images, 0, grid_columns(count, columns), padding)
    return grid


def grid_columns(count: int, columns: int | None = None) -> int:
    """The columns a grid of ``count`` images gets: ``columns``, or a square's by default."""
    if count < 1:
        raise ValueError("no images to tile")
    if columns is None:
        columns = int(np.ceil(np.sqrt(count)))
    if columns < 1:
        raise ValueError(f"columns must be >= 1 (got {columns})")
    return min(columns, count)


def grid_shape(
    count: int, height: int, width: int, columns: int | None = None, padding: int = 2
) -> tuple[int, int]:
    """(height, width) in pixels of the grid :func:`make_grid` makes of ``count`` images."""
    if padding < 0:
        raise ValueError(f"padding must be >= 0 (got {padding})")
    columns = grid_columns(count, columns)
    rows = -(-count // columns)
    return rows * (height + padding) + padding, columns * (width + padding) + padding


def blank_grid(
    count: int,
    height: int,
    width: int,
    columns: int | None = None,
    padding: int = 2,
    background: int = 255,
) -> np.ndarray:
    """The empty picture (background colour) that ``count`` images will be placed into."""
    return np.full((*grid_shape(count, height, width, columns, padding), 3), background, np.uint8)


def place_in_grid(
    grid: np.ndarray, images: np.ndarray, first: int, columns: int, padding: int
) -> None:
    """Copy ``images`` into their cells of ``grid``, the first one into cell number ``first``;
    lets a large grid be filled batch by batch."""
    height, width = images.shape[1:3]
    for offset, image in enumerate(images):
        row, col = divmod(first + offset, columns)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = image
