"""Multi-scale sliced Wasserstein distance (SWD), Karras et al., "Progressive Growing of GANs"
(arXiv 1710.10196, section 5 and appendix D).

Each image becomes a Laplacian pyramid down to 16x16 (a 32x32 image: levels 32 and 16). From
every level, ``nhoods_per_image`` random 7x7 neighbourhoods of the 3 channels are cut out: the
descriptors. Per level, each set of descriptors is normalised per colour channel (its own mean
and standard deviation), and the distance between the real and the generated set is the sliced
Wasserstein distance: both sets are projected on random unit directions, each projection is
sorted, and the mean absolute difference of the sorted values is averaged over directions and
over repeats. Reported per level and averaged, times 10^3, as in the paper's table 1.

The constants are those of the authors' release (metrics/sliced_wasserstein.py): 7x7
neighbourhoods, 128 per image and level, 4 repeats of 128 directions (512 projections in all),
a 5-tap binomial filter with mirrored borders for the pyramid (OpenCV's pyrDown/pyrUp). The
random draws come from NumPy generators seeded by ``seed``, so a result is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

NHOOD_SIZE = 7
NHOODS_PER_IMAGE = 128
DIRECTION_REPEATS = 4
DIRECTIONS_PER_REPEAT = 128
SMALLEST_LEVEL = 16
# 1-4-6-4-1 / 16 in each direction: the 5x5 Gaussian of cv2.pyrDown.
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
# Seed offsets of independent streams (neighbourhood positions of each set, directions).
_DIRECTION_STREAM = 7_919

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SWDResult:
    """SWD x 10^3 per pyramid level (finest first) and their mean; lower is better."""

    per_level: dict[int, float]  # level resolution -> SWD x 1e3

    @property
    def average(self) -> float:
        return float(np.mean(list(self.per_level.values())))

    def as_values(self) -> dict[str, float]:
        """Flat names as in metrics.csv: ``swd_avg``, ``swd_32``, ``swd_16``..."""
        values = {"swd_avg": self.average}
        values.update({f"swd_{res}": value for res, value in self.per_level.items()})
        return values


def pyramid_resolutions(resolution: int) -> list[int]:
    """Resolutions of the Laplacian pyramid levels of an image: halved down to 16."""
    if resolution < SMALLEST_LEVEL:
        raise ValueError(f"SWD needs images of at least {SMALLEST_LEVEL}x{SMALLEST_LEVEL}")
    levels = []
    while resolution >= SMALLEST_LEVEL:
        levels.append(resolution)
        resolution = (resolution + 1) // 2  # pyr_down keeps the first of every two samples
    return levels


def swd_value_names(resolution: int) -> list[str]:
    """The names :meth:`SWDResult.as_values` gives for images of ``resolution``."""
    return ["swd_avg"] + [f"swd_{res}" for res in pyramid_resolutions(resolution)]


# --------------------------------------------------------------------------- pyramid
def _binomial_blur(x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Separable 5x5 binomial filter with mirrored borders (scipy's "mirror" = torch's
    "reflect": the edge sample is not repeated)."""
    channels = x.shape[1]
    k = (_BINOMIAL * gain).to(x.dtype)
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(channels, 1, 1, 5), groups=channels)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(channels, 1, 5, 1), groups=channels)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """Blur, then keep every second row and column (cv2.pyrDown)."""
    return _binomial_blur(x)[:, :, ::2, ::2]


def pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Insert zeros between samples, blur with 4x the gain (cv2.pyrUp), crop to ``size``
    (the finer level's, which is one smaller when it was odd)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return _binomial_blur(up, gain=2.0)[:, :, : size[0], : size[1]]  # 2 per direction


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels of float images (N, 3, H, W), finest first; the last is the low-pass."""
    pyramid = [images]
    for _ in range(1, levels):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1], pyramid[-2].shape[-2:])
    return pyramid


# --------------------------------------------------------------------------- descriptors
def _as_nchw_float(images: np.ndarray) -> torch.Tensor:
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"expected square RGB images (N, H, W, 3), got shape {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()


def _neighbourhoods(level: torch.Tensor, per_image: int, rng: np.random.Generator) -> torch.Tensor:
    """``per_image`` random 7x7x3 patches of every image, flattened: (N*per_image, 147)."""
    n, channels, size, _ = level.shape
    half = NHOOD_SIZE // 2
    count = n * per_image
    image = torch.arange(count) // per_image
    x = torch.from_numpy(rng.integers(half, size - half, count))
    y = torch.from_numpy(rng.integers(half, size - half, count))
    offsets = torch.arange(-half, half + 1)
    rows = (y[:, None] + offsets)[:, None, :, None]  # (M, 1, 7, 1)
    cols = (x[:, None] + offsets)[:, None, None, :]  # (M, 1, 1, 7)
    chan = torch.arange(channels)[None, :, None, None]
    patches = level[image[:, None, None, None], chan, rows, cols]  # (M, 3, 7, 7)
    return patches.reshape(count, -1)


def _normalise_per_channel(desc: torch.Tensor) -> np.ndarray:
    """Zero mean and unit variance per colour channel over the whole set (appendix D)."""
    per_channel = desc.view(len(desc), 3, -1)
    std, mean = torch.std_mean(per_channel.transpose(0, 1).reshape(3, -1), dim=1, correction=0)
    normalised = (per_channel - mean[:, None]) / std.clamp_min(1e-8)[:, None]
    return normalised.reshape(len(desc), -1).numpy()


def descriptors(
    images: np.ndarray,
    seed: int = 0,
    *,
    nhoods_per_image: int = NHOODS_PER_IMAGE,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """Normalised descriptors of uint8 images (N, H, W, 3), one (N*nhoods, 147) array per
    pyramid level, finest first. Images are processed ``batch_size`` at a time."""
    if len(images) == 0:
        raise ValueError("no images to describe")
    levels = len(pyramid_resolutions(images.shape[1]))
    rng = np.random.default_rng(seed)
    parts: list[list[torch.Tensor]] = [[] for _ in range(levels)]
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = _as_nchw_float(images[start : start + batch_size])
            for index, level in enumerate(laplacian_pyramid(batch, levels)):
                parts[index].append(_neighbourhoods(level, nhoods_per_image, rng))
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    return [_normalise_per_channel(torch.cat(p)) for p in parts]


# --------------------------------------------------------------------------- distance
def sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    seed: int = 0,
    repeats: int = DIRECTION_REPEATS,
    directions: int = DIRECTIONS_PER_REPEAT,
) -> float:
    """Sliced Wasserstein distance between two equal-sized point sets (M, D): the mean over
    random unit directions of the mean |sorted(a.u) - sorted(b.u)| (1-D optimal transport)."""
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"descriptor sets must have the same shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed + _DIRECTION_STREAM)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    results = []
    with torch.no_grad():
        for _ in range(repeats):
            dirs = rng.standard_normal((a.shape[1], directions))
            dirs /= np.sqrt(np.sum(np.square(dirs), axis=0, keepdims=True))
            u = torch.from_numpy(dirs.T.astype(np.float32))
            # (directions, M), each row sorted: NumPy's sort of contiguous rows is several
            # times faster than torch.sort along the first dimension on a CPU.
            proj_a = np.sort((u @ ta.T).numpy(), axis=1)
            proj_b = np.sort((u @ tb.T).numpy(), axis=1)
            results.append(float(np.abs(proj_a - proj_b).mean(dtype=np.float64)))
    return float(np.mean(results))


class SWDReference:
    """The descriptors of a reference set, computed once and compared with many others
    (the evaluator's fixed sample of the training data)."""

    def __init__(self, images: np.ndarray, seed: int = 0, progress: Progress | None = None):
        self.count = len(images)
        self.resolution = images.shape[1]
        self.seed = seed
        self.levels = pyramid_resolutions(self.resolution)
        self.descriptors = descriptors(images, seed, progress=progress)

    def distance(self, images: np.ndarray, progress: Progress | None = None) -> SWDResult:
        """SWD x 1e3 between ``images`` and the reference: the same count and resolution."""
        if len(images) != self.count or images.shape[1] != self.resolution:
            raise ValueError(
                f"SWD compares equal sets: the reference holds {self.count} images of "
                f"{self.resolution}x{self.resolution}, got {len(images)} of "
                f"{images.shape[1]}x{images.shape[2]}"
            )
        # A stream of its own for the other set's neighbourhoods, as the authors' code draws
        # fresh positions for every set; the directions are shared by both sides.
        other = descriptors(images, self.seed + 1, progress=progress)
        return SWDResult(
            {
                res: sliced_wasserstein(real, fake, self.seed + index) * 1e3
                for index, (res, real, fake) in enumerate(
                    zip(self.levels, self.descriptors, other, strict=True)
                )
            }
        )


def sliced_wasserstein_distance(
    real: np.ndarray, fake: np.ndarray, seed: int = 0, progress: Progress | None = None
) -> SWDResult:
    """Multi-scale SWD x 1e3 between two sets of uint8 images (N, H, W, 3) of equal size."""
    return SWDReference(real, seed).distance(fake, progress)
