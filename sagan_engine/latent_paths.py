"""Moving through G's latent space: interpolation paths between latents (spherical by default,
as suits Gaussian latents, or linear), truncation (BigGAN's resampling of large components and
a psi scale), the same latent under every class, seed walking and small random nudges.

Everything here takes and returns plain tensors or arrays, so a script gets exactly what the
window shows: the app's inspector worker calls these same functions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .attention import AttentionResult, Query, attention_maps
from .models import Generator
from .sampling import generate, latents

MAX_SEED = 2**31 - 1
# Images generated per forward pass: bounds G's activation memory however long the path.
FRAME_BATCH = 64
# Below this threshold nearly every N(0, 1) draw lies outside and resampling would crawl.
MIN_THRESHOLD = 0.1
_MAX_RESAMPLE_ROUNDS = 10_000


# --------------------------------------------------------------------------- truncation
@dataclass(frozen=True)
class Truncation:
    """The truncation trick: components with |z| > ``threshold`` are drawn again from N(0, 1)
    until they fall inside (BigGAN, Brock et al. 2018), then z is scaled by ``psi`` towards
    the mean latent 0. ``Truncation()`` (psi 1, no threshold) leaves z as it is."""

    psi: float = 1.0
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.psi) and 0.0 <= self.psi <= 1.0):
            raise ValueError(f"truncation psi must lie in [0, 1] (got {self.psi})")
        if self.threshold is not None and not (
            math.isfinite(self.threshold) and self.threshold >= MIN_THRESHOLD
        ):
            raise ValueError(
                f"truncation threshold must be at least {MIN_THRESHOLD} (got {self.threshold})"
            )

    @property
    def is_identity(self) -> bool:
        return self.psi == 1.0 and self.threshold is None

    def describe(self) -> str:
        """A few words for captions: "ψ 0.70, |z| ≤ 2" or "no truncation"."""
        if self.is_identity:
            return "no truncation"
        parts = [f"ψ {self.psi:.2f}"]
        if self.threshold is not None:
            parts.append(f"|z| ≤ {self.threshold:g}")
        return ", ".join(parts)

    def metadata(self) -> dict[str, str]:
        """What an exported file records about the truncation (PNG text chunks and the like)."""
        return {
            "truncation_psi": f"{self.psi:g}",
            "truncation_threshold": "none" if self.threshold is None else f"{self.threshold:g}",
        }


NO_TRUNCATION = Truncation()


def truncate(z: torch.Tensor, truncation: Truncation | None, seed: int) -> torch.Tensor:
    """``z`` truncated: components beyond the threshold resampled, then scaled by psi.

    The resampling draws from a generator seeded with ``seed``, full-shape each round, so a
    component's new value depends only on the seed and its position: the same call gives the
    same latents in the CLI, the app and a script. Every result satisfies
    ``|z| <= psi * threshold``.
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    if truncation is None or truncation.is_identity:
        return z.clone()
    out = z.clone()
    if truncation.threshold is not None:
        stream = torch.Generator().manual_seed(_resample_seed(seed))
        outside = out.abs() > truncation.threshold
        rounds = 0
        while bool(outside.any()):
            if rounds == _MAX_RESAMPLE_ROUNDS:  # astronomically unlikely above MIN_THRESHOLD
                out = out.clamp(-truncation.threshold, truncation.threshold)
                break
            fresh = torch.randn(out.shape, generator=stream)
            out = torch.where(outside, fresh, out)
            outside = out.abs() > truncation.threshold
            rounds += 1
    return out * truncation.psi


def _resample_seed(seed: int) -> int:
    # A stream apart from latents(seed)'s own, or resampling would repeat z's first values.
    return (int(seed) * 2_654_435_761 + 97) % 2**63


def seed_latents(
    n: int, z_dim: int, seed: int, truncation: Truncation | None = None
) -> torch.Tensor:
    """The ``n`` latents of ``seed`` (:func:`sampling.latents`), truncated."""
    return truncate(latents(n, z_dim, seed), truncation, seed)


# --------------------------------------------------------------------------- interpolation
def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1; ``t`` a number or a 1-D tensor of them."""
    z0, z1, t = _interp_inputs(z0, z1, t)
    return z0 + t * (z1 - z0)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: the direction moves along the great circle from z0's to
    z1's (Shoemake 1985) while the norm goes linearly from |z0| to |z1|.

    A straight line between two Gaussian latents passes through the low-density region near
    the origin (White 2016, "Sampling Generative Networks"); this path keeps the norms that
    G saw in training. Nearly parallel (or zero) latents fall back to :func:`lerp`.
    """
    z0, z1, t = _interp_inputs(z0, z1, t)
    n0 = z0.norm(dim=-1, keepdim=True)
    n1 = z1.norm(dim=-1, keepdim=True)
    if float(n0.min()) == 0.0 or float(n1.min()) == 0.0:
        return lerp(z0, z1, t)
    u0, u1 = z0 / n0, z1 / n1
    cos = (u0 * u1).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if float(sin.abs().min()) < 1e-6:
        return lerp(z0, z1, t)
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / sin
    return direction * (n0 + t * (n1 - n0))


def _interp_inputs(z0, z1, t) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    z0 = torch.as_tensor(z0, dtype=torch.float32)
    z1 = torch.as_tensor(z1, dtype=torch.float32)
    if z0.shape != z1.shape:
        raise ValueError(f"latents of different shapes: {tuple(z0.shape)} and {tuple(z1.shape)}")
    t = torch.as_tensor(t, dtype=torch.float32)
    if t.ndim == 1:  # one row per t
        return z0.reshape(1, -1), z1.reshape(1, -1), t.reshape(-1, 1)
    return z0, z1, t


def path_point(
    z0: torch.Tensor, z1: torch.Tensor, t: float, spherical: bool = True
) -> torch.Tensor:
    """The latent at ``t`` in [0, 1] on the path from ``z0`` to ``z1``."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"a path position must lie in [0, 1] (got {t})")
    if t in (0.0, 1.0):  # exactly the ends, as interpolation_path gives them
        return torch.as_tensor(z1 if t else z0, dtype=torch.float32).clone()
    return (slerp if spherical else lerp)(z0, z1, t)


def interpolation_path(
    z0: torch.Tensor, z1: torch.Tensor, frames: int, spherical: bool = True
) -> torch.Tensor:
    """``frames`` latents (frames, z_dim) evenly spaced from ``z0`` to ``z1``, both included."""
    if frames < 2:
        raise ValueError(f"a path needs at least 2 frames (got {frames})")
    t = torch.linspace(0.0, 1.0, frames)
    path = (slerp if spherical else lerp)(z0, z1, t)
    path[0], path[-1] = torch.as_tensor(z0).reshape(-1), torch.as_tensor(z1).reshape(-1)
    return path


# --------------------------------------------------------------------------- seeds and nudges
def next_seed(seed: int, step: int = 1) -> int:
    """The seed ``step`` after ``seed`` (negative: before), wrapping within 0..MAX_SEED."""
    return (int(seed) + int(step)) % (MAX_SEED + 1)


def random_seed(rng: random.Random | None = None) -> int:
    return (rng or random).randrange(MAX_SEED + 1)


def nudge_direction(z_dim: int, seed: int) -> torch.Tensor:
    """A random unit vector of R^z_dim, the same for the same seed."""
    d = torch.randn(z_dim, generator=torch.Generator().manual_seed(_resample_seed(seed) + 1))
    return d / d.norm()


def nudge(z: torch.Tensor, step: float, seed: int) -> torch.Tensor:
    """``z`` moved along a random direction (:func:`nudge_direction` of ``seed``) by ``step``
    times sqrt(z_dim), the typical norm of a Gaussian latent: step 0.1 is a tenth of |z|."""
    z = torch.as_tensor(z, dtype=torch.float32)
    z_dim = z.shape[-1]
    return z + step * math.sqrt(z_dim) * nudge_direction(z_dim, seed)


# --------------------------------------------------------------------------- where a latent is
@dataclass(frozen=True)
class SeedLatent:
    """Latent ``index`` of the ``count`` latents drawn from ``seed``: sample ``index + 1`` of a
    grid drawn from that seed; ``SeedLatent(s)`` is "seed s" on the command line."""

    seed: int
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"latent {self.index} of {self.count}: index out of range")

    def latent(self, z_dim: int, truncation: Truncation | None = None) -> torch.Tensor:
        return seed_latents(self.count, z_dim, self.seed, truncation)[self.index]

    def describe(self) -> str:
        if self.count == 1:
            return f"seed {self.seed}"
        return f"seed {self.seed} · sample {self.index + 1}"


@dataclass(frozen=True)
class LatentPosition:
    """A point of the latent space as the explorer reaches it: ``start``, or the point at
    ``t`` on the path to ``end``, then moved by ``nudges`` ((seed, step) each, in order)."""

    start: SeedLatent
    end: SeedLatent | None = None
    t: float = 0.0
    spherical: bool = True
    nudges: tuple[tuple[int, float], ...] = ()

    def latent(self, z_dim: int, truncation: Truncation | None = None) -> torch.Tensor:
        z = self.start.latent(z_dim, truncation)
        if self.end is not None:
            z = path_point(z, self.end.latent(z_dim, truncation), self.t, self.spherical)
        for seed, step in self.nudges:
            z = nudge(z, step, seed)
        return z


# --------------------------------------------------------------------------- rendering
@torch.no_grad()
def render_latents(
    generator: Generator,
    z: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | Sequence[int] | None = None,
    batch: int = FRAME_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """G's uint8 images (N, H, W, 3) for latents ``z`` (and classes), ``batch`` at a time."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    if labels is not None:
        labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    parts = []
    for first in range(0, len(z), batch):
        last = min(first + batch, len(z))
        parts.append(
            generate(generator, z[first:last], None if labels is None else labels[first:last])
        )
        if progress is not None:
            progress(last, len(z))
    return np.concatenate(parts)


def path_labels(generator: Generator, label: int | None, frames: int) -> np.ndarray | None:
    """The class of every frame of a path: ``label`` for a conditional G, None otherwise."""
    classes = generator.cfg.num_classes
    if not classes:
        if label is not None:
            raise ValueError("this model is unconditional: a class does not apply")
        return None
    if label is None:
        raise ValueError("this model is class-conditional: give a class")
    if not 0 <= int(label) < classes:
        raise ValueError(f"class {label} is out of range 0..{classes - 1}")
    return np.full(frames, int(label), dtype=np.int64)


def render_path(
    generator: Generator,
    z0: torch.Tensor,
    z1: torch.Tensor,
    frames: int,
    label: int | None = None,
    spherical: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The ``frames`` images (frames, H, W, 3) of the path from ``z0`` to ``z1``."""
    path = interpolation_path(z0, z1, frames, spherical)
    return render_latents(generator, path, path_labels(generator, label, frames), progress=progress)


def class_swap(
    generator: Generator, z: torch.Tensor | np.ndarray, classes: Sequence[int] | None = None
) -> np.ndarray:
    """The same latent under every class of a conditional G (or under ``classes``):
    (num_classes, H, W, 3)."""
    count = generator.cfg.num_classes
    if not count:
        raise ValueError("class swap needs a class-conditional model; this one has no classes")
    labels = np.arange(count) if classes is None else np.asarray(list(classes), dtype=np.int64)
    if labels.size == 0 or labels.min() < 0 or labels.max() >= count:
        raise ValueError(f"classes must lie in 0..{count - 1} (got {labels.tolist()})")
    row = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1).repeat(len(labels), 1)
    return render_latents(generator, row, labels)


@dataclass(frozen=True)
class Frame:
    """One rendered latent: its image and, when query pixels were given, their maps."""

    image: np.ndarray  # uint8 (H, W, 3)
    z: np.ndarray  # float32 (z_dim,)
    label: int | None
    attention: AttentionResult | None


def render_frame(
    generator: Generator,
    z: torch.Tensor | np.ndarray,
    label: int | None = None,
    queries: Sequence[Query] = (),
) -> Frame:
    """Image of latent ``z`` (class ``label``) and the attention maps of ``queries`` in it,
    from one forward pass."""
    z = np.asarray(z, dtype=np.float32).reshape(-1)
    if queries:
        result = attention_maps(generator, z, label, list(queries))
        return Frame(result.image, z, label, result)
    labels = path_labels(generator, label, 1)
    return Frame(render_latents(generator, z.reshape(1, -1), labels)[0], z, label, None)
