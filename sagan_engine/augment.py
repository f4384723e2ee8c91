"""Differentiable augmentation (DiffAugment; Zhao et al., arXiv 2006.10738) for small folders.

D sees T(x) for real images and T(G(z)) for generated ones, with the same policy T in the D
step and the G step, so D cannot memorise a few hundred images and G's gradient still passes
through T (every op here is differentiable in its input). Images are in [-1, 1], NCHW.

The three ops of the paper's "color,translation,cutout" policy:
  color        brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)
  translation  shift by up to 1/8 of the image side, zero (mid-grey) padding
  cutout       a zeroed square of half the image side at a random place

Random numbers come from the caller's ``torch.Generator`` (the trainer's run stream), so a
resumed run draws exactly the transformations an uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .errors import ConfigError

# Below this many images the trainer turns DiffAugment on by itself (``augment="auto"``)...
# The DiffAugment paper reports gains for BigGAN on CIFAR-10 subsets up to 10k images (20%)
# and for few-shot sets of 100; folders smaller than this are where D memorises.
AUTO_THRESHOLD = 10_000
# ...when the run is planned to show D each image at least this many times. Memorising takes
# repetition: on the emoji set bundled before (1477 images, paper attention, docs/
# benchmarks.md) the run without augmentation was ahead or level at every point up to 90
# epochs (60 minutes on 2 CPU cores; by 11 SWD points at 65 epochs, its default run), the augmented
# one closing in only from ~75 epochs on; with the official attention the augmented EMA led
# at 6 of the 8 checkpoints from 55 to 90 epochs, by 1-5 points (within the noise of one
# seed). A short run gets the faster start; a long one the protection. Today's demo data
# (462 images) is a smaller folder: the demo preset's 3000 steps are 208 epochs, augmented.
AUTO_MIN_EPOCHS = 100
DEFAULT_POLICY = "color,translation,cutout"
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2

Op = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def _uniform(x: torch.Tensor, gen: torch.Generator | None, low: float, high: float):
    u = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=gen, dtype=torch.float32)
    return (u * (high - low) + low).to(x.dtype)


def color(x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Random brightness, saturation and contrast, one draw per image."""
    x = x + _uniform(x, gen, -0.5, 0.5)
    mean_channel = x.mean(dim=1, keepdim=True)
    x = (x - mean_channel) * _uniform(x, gen, 0.0, 2.0) + mean_channel
    mean_image = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean_image) * _uniform(x, gen, 0.5, 1.5) + mean_image


def translation(
    x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = TRANSLATION_RATIO
) -> torch.Tensor:
    """Shift each image by a whole number of pixels in [-ratio*side, ratio*side], zero-padded."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (b, 1, 1), device=x.device, generator=gen)
    dx = torch.randint(-max_dx, max_dx + 1, (b, 1, 1), device=x.device, generator=gen)
    rows = torch.arange(h, device=x.device)[None, :, None] - dy  # source row of each output row
    cols = torch.arange(w, device=x.device)[None, None, :] - dx
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    flat = rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)  # (b, h, w)
    source = x.reshape(b, x.shape[1], h * w)
    index = flat.reshape(b, 1, h * w).expand(-1, x.shape[1], -1)
    moved = torch.gather(source, 2, index).reshape_as(x)
    return moved * inside[:, None].to(x.dtype)


def cutout(
    x: torch.Tensor, gen: torch.Generator | None = None, ratio: float = CUTOUT_RATIO
) -> torch.Tensor:
    """Zero one square of side ratio*side per image; its centre is anywhere in the image."""
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - size_y % 2), (b, 1, 1), device=x.device, generator=gen)
    cx = torch.randint(0, w + (1 - size_x % 2), (b, 1, 1), device=x.device, generator=gen)
    rows = torch.arange(h, device=x.device)[None, :, None]
    cols = torch.arange(w, device=x.device)[None, None, :]
    hole = (
        (rows >= cy - size_y // 2)
        & (rows < cy - size_y // 2 + size_y)
        & (cols >= cx - size_x // 2)
        & (cols < cx - size_x // 2 + size_x)
    )
    return x * (~hole)[:, None].to(x.dtype)


OPS: dict[str, Op] = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ("color", "translation"); ``"off"`` or "" -> ()."""
    text = policy.strip().lower()
    if text in ("", "off", "none"):
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in names if name not in OPS]
    if unknown:
        raise ConfigError(
            f"train.augment = {policy!r} is invalid: unknown op(s) {', '.join(unknown)}; "
            f"use 'auto', 'off' or a comma-separated list of {', '.join(OPS)}"
        )
    return names


def resolve_policy(augment: str, num_images: int, images_seen: int) -> str:
    """The policy a run uses: ``"auto"`` means the full policy for folders below
    :data:`AUTO_THRESHOLD` images whose run shows D ``images_seen`` real images (steps x
    batch, all processes) of at least :data:`AUTO_MIN_EPOCHS` epochs, and ``"off"``
    otherwise; anything else is kept as written."""
    if augment.strip().lower() == "auto":
        small = num_images < AUTO_THRESHOLD
        long = images_seen >= AUTO_MIN_EPOCHS * num_images
        return DEFAULT_POLICY if small and long else "off"
    names = parse_policy(augment)
    return ",".join(names) if names else "off"


class DiffAugment:
    """T(x): the policy's ops in order. Call it on real and on generated batches alike."""

    def __init__(self, policy: str) -> None:
        self.ops = tuple(OPS[name] for name in parse_policy(policy))

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __call__(self, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
        for op in self.ops:
            x = op(x, gen)
        return x
