"""Drawing samples from a generator: seeds to latents, latents to uint8 images."""

from __future__ import annotations

import numpy as np
import torch

from .imaging import to_uint8
from .models import Generator, eval_mode


def latents(n: int, z_dim: int, seed: int) -> torch.Tensor:
    """The ``n`` latents of ``seed``: the same numbers in the CLI, the app and the API."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def generate(
    generator: Generator,
    z: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None = None,
) -> np.ndarray:
    """Images of G for latents ``z`` (and classes), uint8 (N, H, W, 3); G is left unchanged."""
    device = next(generator.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(device)
    y = None if labels is None else torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(device)
    with eval_mode(generator):
        return to_uint8(generator(z, y))
