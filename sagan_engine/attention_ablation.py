"""What an attention layer adds to an image: the same latent rendered with that layer's
gamma * o removed (y = x there, as if gamma were 0), beside the normal image, and where the
two differ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .attention import find_attention_layer, single_input
from .imaging import to_uint8
from .models import Generator


@dataclass(frozen=True)
class AblationResult:
    layer: str  # the name of the layer left out
    image: np.ndarray  # uint8 (H, W, 3): the normal image
    ablated: np.ndarray  # uint8 (H, W, 3): the image without the layer's gamma * o
    difference: np.ndarray  # float32 (H, W): mean |image - ablated| over RGB, 0..1 of the range


@torch.no_grad()
def render_without_attention(
    generator: Generator, z: torch.Tensor | np.ndarray, y: int | None, layer: str | int
) -> AblationResult:
    """Render latent ``z`` (class ``y``) normally and with attention layer ``layer`` (its name
    or resolution, see :func:`~sagan_engine.attention.find_attention_layer`) passing its
    input through unchanged. G runs in eval mode."""
    index = find_attention_layer(generator, layer)
    name, module = generator.attention_layers()[index]
    z, labels = single_input(generator, z, y)
    was_training = generator.training
    generator.eval()
    try:
        normal = generator(z, labels)
        # A forward hook's return value replaces the layer's output: y = x, gamma * o gone.
        handle = module.register_forward_hook(lambda _module, args, _output: args[0])
        try:
            ablated = generator(z, labels)
        finally:
            handle.remove()
    finally:
        generator.train(was_training)
    # Images lie in [-1, 1]: half the absolute difference is a fraction of the range.
    difference = (normal - ablated).abs().mean(1)[0].float().div(2).cpu().numpy()
    return AblationResult(name, to_uint8(normal)[0], to_uint8(ablated)[0], difference)
