"""What D looks at: the discriminator's attention maps for a pixel of an image, and its score.

Any image works: a training image, a generated sample, a file. A pixel (row, col) maps to a
D attention layer's position j by the same rule as G's queries
(:func:`sagan_engine.attention.query_position`), and the map is beta_{j,.} of that layer.

D's score is its logit for the image, D(x) = psi(phi(x)) + y^T V phi(x): psi is the linear
read-out of the pooled features phi(x), and for a class-conditional model the projection
term y^T V phi(x) (Miyato & Koyama, arXiv 1802.05637) depends on the class y, so the score is
given for every class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import checkpoint as ckpt_io
from .attention import AttentionResult, Query, _as_queries, layer_maps
from .config import RunConfig
from .data import ImageSkip, decode_image
from .errors import CheckpointError, DataError
from .models import Discriminator, eval_mode


class DiscriminatorUnavailable(CheckpointError):
    """The checkpoint holds no discriminator (e.g. a generator exported on its own)."""


@dataclass(frozen=True)
class DScore:
    """D's logit for one image, split into its class-independent and projection terms."""

    psi: float  # psi(phi(x)): the whole score of an unconditional D
    projection: np.ndarray | None  # (num_classes,) y^T V phi(x) for each class y
    class_names: tuple[str, ...] = ()

    @property
    def per_class(self) -> np.ndarray | None:
        """D(x, y) for every class y, or None for an unconditional D."""
        return None if self.projection is None else self.psi + self.projection

    def score(self, y: int | None = None) -> float:
        """D(x) (unconditional) or D(x, y)."""
        if self.projection is None:
            return self.psi
        if y is None:
            raise ValueError("this discriminator is class-conditional: give a class y")
        return float(self.psi + self.projection[int(y)])


@dataclass(frozen=True)
class DAttentionResult:
    attention: AttentionResult  # image: what D saw; layers: D's attention layers
    score: DScore


@dataclass
class LoadedDiscriminator:
    discriminator: Discriminator
    config: RunConfig
    step: int
    class_names: list[str]
    checkpoint: Path


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> LoadedDiscriminator:
    """D of a run folder (its latest checkpoint) or of a checkpoint file, in eval mode.

    Raises :class:`DiscriminatorUnavailable` when the file holds no D.
    """
    ckpt = ckpt_io.load_checkpoint(ckpt_io.resolve_checkpoint(path), device=device)
    state = ckpt.state_dict("D")
    if not state:
        raise DiscriminatorUnavailable(
            f"{ckpt.path}: holds no discriminator, only the generator; open a run folder or "
            "a training checkpoint to see D"
        )
    discriminator = Discriminator(ckpt.config.model).to(device)
    ckpt_io.load_state(discriminator, state, "discriminator", ckpt.path)
    discriminator.eval()
    return LoadedDiscriminator(
        discriminator, ckpt.config, ckpt.step, list(ckpt.class_names), ckpt.path
    )


def image_for_discriminator(source: str | Path | np.ndarray, resolution: int) -> np.ndarray:
    """A uint8 (resolution, resolution, 3) image from a file (decoded as for training: the
    centred square, Lanczos) or an array of another size (resized the same way)."""
    if isinstance(source, np.ndarray):
        image = np.asarray(source)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DataError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        if image.shape[:2] == (resolution, resolution):
            return image
        picture = Image.fromarray(image)
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        picture = picture.crop((left, top, left + side, top + side))
        return np.asarray(picture.resize((resolution, resolution), Image.LANCZOS))
    try:
        return decode_image(Path(source), resolution)
    except ImageSkip as skip:
        raise DataError(f"{source}: cannot use this image ({skip.reason})") from None


@torch.no_grad()
def discriminator_attention(
    discriminator: Discriminator,
    image: np.ndarray,
    query: Query | Sequence[Query] = (0, 0),
    class_names: Sequence[str] = (),
) -> DAttentionResult:
    """D's attention map of each query pixel of ``image`` (uint8 (R, R, 3) at the model's
    resolution R), every attention layer of D in order, and D's score for the image."""
    queries = _as_queries(query)
    resolution = discriminator.cfg.resolution
    if image.shape != (resolution, resolution, 3) or image.dtype != np.uint8:
        raise DataError(
            f"D takes uint8 images of shape ({resolution}, {resolution}, 3), got "
            f"{image.dtype} {image.shape}: use image_for_discriminator() first"
        )
    device = next(discriminator.parameters()).device
    x = torch.from_numpy(np.array(image, dtype=np.uint8)).to(device)  # a copy: D never writes
    x = x.permute(2, 0, 1)[None].float().div(127.5).sub(1.0)  # as the trainer feeds D
    with eval_mode(discriminator):
        phi, betas = discriminator.features(x, return_attention=True)
        psi = float(discriminator.linear(phi).squeeze())
        projection = None
        if discriminator.embed is not None:
            # y^T V phi(x) for every y at once: the rows of V are the class embeddings.
            projection = (discriminator.embed.weight @ phi[0]).float().cpu().numpy()
    layers = layer_maps(discriminator.attention_layers(), betas, (resolution, resolution), queries)
    return DAttentionResult(
        AttentionResult(image, queries, layers), DScore(psi, projection, tuple(class_names))
    )
