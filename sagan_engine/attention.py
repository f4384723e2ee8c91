"""Where does a generated pixel look? Attention maps beta_{j,.} of every attention layer of G.

A pixel (row, col) of an H x W output lies over position j = (row*h//H)*w + (col*w//W) of a
layer's h x w feature grid; beta_{j,i} over the key positions i (paper eq. 1) is the map shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils import parametrize

from .imaging import to_uint8
from .models import Generator, eval_mode
from .upsample_conv import prepare_rendering

Query = tuple[int, int]


@dataclass(frozen=True)
class LayerAttention:
    """Attention of one layer for each query: ``maps[q]`` is beta_{j_q,.} on the key grid."""

    name: str
    grid: tuple[int, int]  # (h, w) of the layer's query positions j
    maps: np.ndarray  # float32, (Q, hk, wk); each map sums to 1

    @property
    def map(self) -> np.ndarray:
        """The map of the first (or only) query."""
        return self.maps[0]


@dataclass(frozen=True)
class AttentionResult:
    image: np.ndarray  # uint8 (H, W, 3): the generated image the queries refer to
    queries: tuple[Query, ...]
    layers: list[LayerAttention]


def query_position(query: Query, image_size: tuple[int, int], grid: tuple[int, int]) -> int:
    """Index j on an (h, w) grid of the output pixel (row, col) of an (H, W) image."""
    (row, col), (height, width), (h, w) = query, image_size, grid
    if not (0 <= row < height and 0 <= col < width):
        raise ValueError(f"query pixel {query} lies outside the {height}x{width} image")
    return (row * h // height) * w + (col * w // width)


@torch.no_grad()
def attention_maps(
    generator: Generator,
    z: torch.Tensor | np.ndarray,
    y: int | None = None,
    query: Query | Sequence[Query] = (0, 0),
) -> AttentionResult:
    """Generate one image from latent ``z`` (class ``y``) and return, for every attention layer
    of G in order, the attention map of each query pixel, together with the image.

    ``query`` is one (row, col) pixel or a list of them. The generator is used in eval mode.
    """
    queries = _as_queries(query)
    image, betas = attention_forward(generator, z, y)
    layers = layer_maps(generator.attention_layers(), betas, tuple(image.shape[-2:]), queries)
    return AttentionResult(to_uint8(image)[0], queries, layers)


@torch.no_grad()
def attention_forward(
    generator: Generator, z: torch.Tensor | np.ndarray, y: int | None
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """G's image (1, 3, H, W) of latent ``z`` (class ``y``) and every attention layer's beta
    (1, N, N_keys), in order; G runs in eval mode."""
    z, labels = single_input(generator, z, y)
    with eval_mode(generator):
        return generator(z, labels, return_attention=True)


def layer_maps(
    named_layers: Sequence[tuple[str, torch.nn.Module]],
    betas: Sequence[torch.Tensor],
    image_size: tuple[int, int],
    queries: Sequence[Query],
) -> list[LayerAttention]:
    """The rows beta_{j_q,.} of the first image's betas (B, N, N_keys), one per query pixel
    of an ``image_size`` image, for layers of G or D alike (the same pixel -> j rule)."""
    layers = []
    for (name, layer), beta in zip(named_layers, betas, strict=True):
        side = int(round(beta.shape[1] ** 0.5))  # query grid is square: N = side * side
        grid = (side, side)
        key_grid = layer.key_grid(side, side)
        rows = [query_position(q, image_size, grid) for q in queries]
        maps = beta[0, rows].float().reshape(len(rows), *key_grid).cpu().numpy()
        layers.append(LayerAttention(name, grid, maps))
    return layers


def single_input(
    generator: Generator, z: torch.Tensor | np.ndarray, y: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One latent (1, z_dim) and its class (1,) on G's device; the class checked."""
    device = next(generator.parameters()).device
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1).to(device)
    if not generator.cfg.num_classes:
        return z, None
    if y is None:
        raise ValueError("this generator is class-conditional: give a class y")
    if not 0 <= int(y) < generator.cfg.num_classes:
        raise ValueError(f"class {y} is out of range 0..{generator.cfg.num_classes - 1}")
    return z, torch.tensor([int(y)], device=device)


def find_attention_layer(generator: Generator, layer: str | int) -> int:
    """Index in ``generator.attention_layers()`` of a layer given by its name
    ("G attention 16x16") or its resolution (16, "16" or "16x16")."""
    names = [name for name, _ in generator.attention_layers()]
    wanted = str(layer).strip()
    for index, name in enumerate(names):
        resolution = name.rsplit(" ", 1)[-1]  # "16x16"
        if wanted in (name, resolution, resolution.split("x")[0]):
            return index
    raise ValueError(
        f"no attention layer {layer!r} in this generator; it has "
        f"{', '.join(names) if names else 'none'}"
    )


@torch.no_grad()
def fold_spectral_norm(source: Generator, into: Generator | None = None) -> Generator:
    """An eval-mode copy of G for queries, its spectrally normalised weights stored as the
    plain weights W / sigma(W) they stand for (sigma from the stored u, v, as in eval mode).

    It gives the numbers of ``source.eval()`` without normalising every weight again at each
    forward (about a quarter of a 64x64 attention query on a CPU), and its up-sampling blocks
    convolve at the low resolution (:mod:`sagan_engine.upsample_conv`: the same function, equal
    up to float rounding). ``into``, the result of an earlier call for the same model, is
    refilled instead of building a new one.
    """
    if into is None or into.cfg != source.cfg:
        into = Generator(source.cfg)
        for module in into.modules():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        into = into.to(next(source.parameters()).device).eval().requires_grad_(False)
    with eval_mode(source):
        state = {k: v for k, v in source.state_dict().items() if ".parametrizations." not in k}
        for name, module in source.named_modules():
            if parametrize.is_parametrized(module, "weight"):
                state[f"{name}.weight"] = module.weight
        into.load_state_dict(state)
    prepare_rendering(into)
    return into


def _as_queries(query: Query | Sequence[Query]) -> tuple[Query, ...]:
    items = list(query)
    if len(items) == 2 and all(isinstance(v, (int, np.integer)) for v in items):
        return ((int(items[0]), int(items[1])),)
    if not items:
        raise ValueError("give at least one query pixel")
    return tuple((int(r), int(c)) for r, c in items)
