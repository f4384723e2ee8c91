"""Sample grids of any size the machine can hold: refused up front, with the estimated size,
when the picture could not be written or held in memory; otherwise generated in bounded
batches that go straight into their cells, so memory stays at one batch plus the grid."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from .errors import RequestTooLarge
from .imaging import blank_grid, grid_columns, grid_shape, place_in_grid
from .models import Generator
from .sampling import generate

# Images generated per forward pass: bounds G's activation memory whatever --n is.
GENERATE_BATCH = 64
# Pillow refuses to open images above twice this ("decompression bomb"), and warns above it;
# a grid nobody can open is no use, so this is the largest one written.
MAX_GRID_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
# The grid, Pillow's copy of it and the PNG encoder's buffers: about three grids at the peak.
_PEAK_COPIES = 3


def available_memory() -> int | None:
    """Bytes of memory the system can still give (Linux MemAvailable), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if count < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError  # pragma: no cover


def check_grid_fits(
    count: int,
    resolution: int,
    columns: int | None = None,
    padding: int = 2,
    z_dim: int = 0,
    memory: int | None = -1,
) -> tuple[int, int]:
    """The grid's (height, width); raises :class:`RequestTooLarge` with the estimated size
    when it is larger than an image Pillow opens, or than the free memory (``memory`` bytes;
    -1: ask the system, None: unknown, not checked)."""
    height, width = grid_shape(count, resolution, resolution, columns, padding)
    pixels = height * width
    cell = (resolution + padding) ** 2
    if pixels > MAX_GRID_PIXELS:
        most = max(1, MAX_GRID_PIXELS // cell)
        raise RequestTooLarge(
            f"a grid of {count:,} samples would be {width:,}x{height:,} pixels "
            f"({pixels / 1e6:,.0f} megapixels, {_size(pixels * 3)} in memory); the largest "
            f"image written is {MAX_GRID_PIXELS / 1e6:.0f} megapixels (beyond it Pillow and "
            f"most viewers refuse to open it): ask for at most about {most:,} samples"
        )
    need = _PEAK_COPIES * pixels * 3 + count * z_dim * 4
    free = available_memory() if memory == -1 else memory
    if free is not None and need > free:
        raise RequestTooLarge(
            f"a grid of {count:,} samples ({width:,}x{height:,} pixels) needs about "
            f"{_size(need)} of memory, but only {_size(free)} is free: ask for fewer samples"
        )
    return height, width


@torch.no_grad()
def render_grid(
    generator: Generator,
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    columns: int | None = None,
    padding: int = 2,
    batch: int = GENERATE_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """G's images for latents ``z`` (and classes) tiled as :func:`imaging.make_grid` would,
    generated ``batch`` at a time. ``progress(done, total)`` follows every batch."""
    count = len(z)
    columns = grid_columns(count, columns)
    resolution = generator.cfg.resolution
    grid = blank_grid(count, resolution, resolution, columns, padding)
    for first in range(0, count, batch):
        last = min(first + batch, count)
        images = generate(generator, z[first:last], None if labels is None else labels[first:last])
        place_in_grid(grid, images, first, columns, padding)
        if progress is not None:
            progress(last, count)
    return grid
