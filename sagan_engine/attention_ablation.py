"""What an attention layer adds to an image: the same latent rendered with that layer's
gamma * o removed (y = x there, as if gamma were 0), beside the normal image, and where the
two differ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .attention import find_attention_layer, single_input
from .export import heat_colours, normalise_map
from .imaging import to_uint8
from .models import Generator, eval_mode


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
    with eval_mode(generator):
        normal = generator(z, labels)
        # A forward hook's return value replaces the layer's output: y = x, gamma * o gone.
        handle = module.register_forward_hook(lambda _module, args, _output: args[0])
        try:
            ablated = generator(z, labels)
        finally:
            handle.remove()
    # Images lie in [-1, 1]: half the absolute difference is a fraction of the range.
    difference = (normal - ablated).abs().mean(1)[0].float().div(2).cpu().numpy()
    return AblationResult(name, to_uint8(normal)[0], to_uint8(ablated)[0], difference)


def ablation_figure(result: AblationResult, scale: int | None = None) -> Image.Image:
    """normal | without the layer | difference heatmap (scaled to the largest difference),
    each titled, as one picture."""
    height, width = result.image.shape[:2]
    scale = scale or max(1, 192 // max(height, width))
    cell = (width * scale, height * scale)
    pad, title_h = 6, 18
    peak = float(result.difference.max())
    panels = [
        ("normal", result.image),
        (f"without {result.layer}", result.ablated),
        (f"|difference| (max {peak:.3f})", heat_colours(normalise_map(result.difference))),
    ]
    canvas = Image.new("RGB", (3 * (cell[0] + pad) + pad, title_h + cell[1] + 2 * pad), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=12)
    for index, (title, picture) in enumerate(panels):
        left = pad + index * (cell[0] + pad)
        draw.text((left, 3), title, fill=(0, 0, 0), font=font)
        canvas.paste(Image.fromarray(picture).resize(cell, Image.NEAREST), (left, title_h + pad))
    return canvas
