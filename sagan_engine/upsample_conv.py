"""Nearest 2x up-sampling followed by a 3x3 convolution, computed at the low resolution.

G's blocks up-sample by repeating each pixel 2x2 and then convolve with a 3x3 kernel. Every
output pixel then sees only 2x2 distinct input pixels: which ones depends on its *phase* (row
and column parity), and the 3x3 taps that fall on the same input pixel can be summed into one.
So ``conv3x3(upsample(x))`` equals four 2x2 convolutions of ``x`` itself, one per phase,
interleaved (the "sub-pixel" form): 16 multiply-adds per input pixel and output channel
instead of 36, and no up-sampled copy of the input. The numbers are the same up to float
rounding (a few 1e-6 relative), not bit for bit, so training keeps PyTorch's own path and this
one serves rendering only: :func:`sagan_engine.attention.fold_spectral_norm`'s inference copy
of G computes the phase kernels once per refill (:func:`prepare_rendering`).

On a 2-core AVX2 CPU (docs/benchmarks.md, latent slider) the 16x16 and 32x32 up-convolutions
of a res64 image ran 2-3x faster this way; at 4x4 and 8x8 the kernels of a 512-channel layer
dominate (the weights are read once either way) and it gained nothing, so it is used from
``MIN_SIDE`` on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MIN_SIDE = 8  # input side from which the phase form is used (4x4: no gain measured)


def phase_kernels(weight: torch.Tensor) -> torch.Tensor:
    """The 3x3 ``weight`` (out, in, 3, 3) as four 2x2 kernels stacked on the output axis,
    phases (row, column) = (0, 0), (0, 1), (1, 0), (1, 1): shape (4 * out, in, 2, 2).

    Phase 0 of an axis reads input offsets (-1, 0): tap 0 alone, then taps 1 + 2 (both land on
    the same input pixel); phase 1 reads offsets (0, +1): taps 0 + 1, then tap 2 alone.
    """
    w = weight

    def merge(taps: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        t0, t1, t2 = taps.unbind(dim)
        return torch.stack([t0, t1 + t2], dim), torch.stack([t0 + t1, t2], dim)

    kernels = []
    for rows in merge(w, 2):
        kernels.extend(merge(rows, 3))
    return torch.cat(kernels, 0).contiguous()


def upsample_conv3x3(
    x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``conv2d(upsample_2x(x), weight, bias, padding=1)`` from ``kernels =
    phase_kernels(weight)``, without up-sampling ``x``."""
    n, _, h, w = x.shape
    out_ch = kernels.shape[0] // 4
    # One 2x2 convolution over x padded by one pixel gives every phase at (h + 1) x (w + 1)
    # positions; phase (a, b) of output pixel (2i + a, 2j + b) is its value at (i + a, j + b).
    phases = F.conv2d(x, kernels, None if bias is None else bias.repeat(4), padding=1)
    out = torch.empty((n, out_ch, h, 2, w, 2), dtype=phases.dtype, device=phases.device)
    for a in (0, 1):
        for b in (0, 1):
            k = 2 * a + b
            out[:, :, :, a, :, b] = phases[:, k * out_ch : (k + 1) * out_ch, a : a + h, b : b + w]
    return out.view(n, out_ch, 2 * h, 2 * w)


def add_upsampled(high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """``high + upsample_2x(low)`` without building the up-sampled tensor (``high`` is
    overwritten: it must be a fresh result nothing else holds)."""
    n, c, h, w = low.shape
    high.view(n, c, h, 2, w, 2).add_(low[:, :, :, None, :, None])
    return high


def usable(x: torch.Tensor) -> bool:
    """Whether the rendering form applies to ``x``: no gradient wanted, plain NCHW layout, and
    a side at which it pays (see ``MIN_SIDE``)."""
    return (
        not (torch.is_grad_enabled() and x.requires_grad)
        and x.is_contiguous()
        and x.shape[-1] >= MIN_SIDE
    )


@torch.no_grad()
def prepare_rendering(generator: torch.nn.Module) -> None:
    """Give each up-sampling block of an inference copy of G (plain weights, no spectral-norm
    parametrisation) the phase kernels of its first convolution; called again after its
    weights were refilled."""
    from .models import GBlock

    for module in generator.modules():
        if isinstance(module, GBlock):
            module.render_kernels = phase_kernels(module.conv1.weight)
