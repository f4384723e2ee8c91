"""Nearest 2x up-sampling followed by a 3x3 convolution, computed at the low resolution.

G's blocks up-sample by repeating each pixel 2x2 and then convolve with a 3x3 kernel. Every
output pixel then sees only 2x2 distinct input pixels: which ones depends on its *phase* (row
and column parity), and the 3x3 taps that fall on the same input pixel can be summed into one.
So ``conv3x3(upsample(x))`` equals four 2x2 convolutions of ``x`` itself, one per phase,
interleaved (the "sub-pixel" form): 16 multiply-adds per input pixel and output channel
instead of 36, and no up-sampled copy of the input. The block's 1x1 shortcut commutes with
the up-sampling, so it runs at the low resolution too. The numbers are the same up to float
rounding (a few 1e-6 relative), not bit for bit.

Two users:

- rendering: :func:`sagan_engine.attention.fold_spectral_norm`'s inference copy of G computes
  the phase kernels once per refill (:func:`prepare_rendering`), on any device;
- training on the CPU: the kernels are summed from the spectrally normalised weight at every
  forward (a few thousand additions, differentiable), and the interleaving and the shortcut's
  up-sampled addition have hand-written backward passes (:class:`_Interleave`,
  :class:`_AddUpsampled`) that copy and sum in the tensors' own memory layout; autograd's
  generic slicing backward zero-filled a full-size gradient per phase and made the form slower
  than PyTorch's path. On CUDA and MPS training keeps PyTorch's path (not measured there).

On a 2-core AVX2 CPU (docs/benchmarks.md) the 16x16 and 32x32 up-convolutions of a res64
image rendered 2-3x faster this way, and a 64-channel up-convolution with its shortcut trained
(forward and backward) 1.1-1.6x faster from 8x8 inputs on; at 4x4 it was slower both ways
(the 512-channel kernels dominate rendering; the copies dominate training), so the form is
used from ``MIN_SIDE`` on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .pool_conv import eager_cpu

MIN_SIDE = 8  # input side from which the phase form is used (4x4: slower, measured)
PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))  # (row, column) parity, in kernel order


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


def _channels_last(t: torch.Tensor) -> bool:
    """Laid out (N, H, W, C) in memory (and not also NCHW, as a 1x1 image is)."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


class _Layout:
    """Index a 4-d tensor's channel block and pixel window in its own memory order.

    Copies between strided views of channels-last tensors written through the logical NCHW
    indices ran ~6x slower than the same copies through an (N, H, W, C) view, so every copy
    here goes through the memory order's own axes.
    """

    def __init__(self, channels_last: bool) -> None:
        self.channels_last = channels_last
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def native(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` with its axes in memory order: (N, H, W, C) or (N, C, H, W)."""
        return t.permute(0, 2, 3, 1) if self.channels_last else t

    def window(self, native: torch.Tensor, channels: slice, rows: slice, cols: slice):
        if self.channels_last:
            return native[:, rows, cols, channels]
        return native[:, channels, rows, cols]

    def split(self, t: torch.Tensor) -> torch.Tensor:
        """A (N, C, 2h, 2w) tensor as its memory-order axes with each side split into
        (pixel, phase): (N, h, 2, w, 2, C) or (N, C, h, 2, w, 2)."""
        n, c, height, width = t.shape
        if self.channels_last:
            return t.permute(0, 2, 3, 1).view(n, height // 2, 2, width // 2, 2, c)
        return t.view(n, c, height // 2, 2, width // 2, 2)

    def spread(self, low: torch.Tensor) -> torch.Tensor:
        """A (N, C, h, w) tensor as a view that broadcasts over a :meth:`split` one's phases."""
        low = self.native(low.contiguous(memory_format=self.memory_format))
        return low[:, :, None, :, None, :] if self.channels_last else low[:, :, :, None, :, None]

    def phase(self, split: torch.Tensor, a: int, b: int) -> torch.Tensor:
        """The pixels of phase (a, b) in a :meth:`split` view, in memory-order axes."""
        if self.channels_last:
            return split[:, :, a, :, b, :]
        return split[:, :, :, a, :, b]


class _Interleave(torch.autograd.Function):
    """Output pixel (2i + a, 2j + b) of channel o is pixel (i + a, j + b) of channel
    ``4 * o``-block ``2a + b`` of the phase convolution's (h + 1) x (w + 1) output."""

    @staticmethod
    def forward(ctx, phases: torch.Tensor) -> torch.Tensor:
        n, channels4, h1, w1 = phases.shape
        c, h, w = channels4 // 4, h1 - 1, w1 - 1
        layout = _Layout(_channels_last(phases))
        ctx.layout, ctx.shape = layout, phases.shape
        out = torch.empty(
            (n, c, 2 * h, 2 * w),
            dtype=phases.dtype,
            device=phases.device,
            memory_format=layout.memory_format,
        )
        source, target = layout.native(phases), layout.split(out)
        for k, (a, b) in enumerate(PHASES):
            window = layout.window(
                source, slice(k * c, (k + 1) * c), slice(a, a + h), slice(b, b + w)
            )
            layout.phase(target, a, b).copy_(window)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        layout: _Layout = ctx.layout
        n, channels4, h1, w1 = ctx.shape
        c, h, w = channels4 // 4, h1 - 1, w1 - 1
        grad = grad.contiguous(memory_format=layout.memory_format)
        grad_phases = torch.empty(
            ctx.shape, dtype=grad.dtype, device=grad.device, memory_format=layout.memory_format
        )
        target, source = layout.native(grad_phases), layout.split(grad)
        everything = slice(None)
        for k, (a, b) in enumerate(PHASES):
            channels = slice(k * c, (k + 1) * c)
            layout.window(target, channels, slice(a, a + h), slice(b, b + w)).copy_(
                layout.phase(source, a, b)
            )
            # The row and the column of the (h + 1) x (w + 1) output this phase never reads.
            unread_row, unread_col = (h if a == 0 else 0), (w if b == 0 else 0)
            layout.window(target, channels, slice(unread_row, unread_row + 1), everything).zero_()
            layout.window(target, channels, everything, slice(unread_col, unread_col + 1)).zero_()
        return grad_phases


class _AddUpsampled(torch.autograd.Function):
    """``high + upsample_2x(low)``; the gradient of ``low`` sums each 2x2 block."""

    @staticmethod
    def forward(ctx, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        layout = _Layout(_channels_last(high))
        ctx.layout = layout
        out = torch.empty_like(high, memory_format=layout.memory_format)
        high = high.contiguous(memory_format=layout.memory_format)
        torch.add(layout.split(high), layout.spread(low), out=layout.split(out))
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        layout: _Layout = ctx.layout
        split = layout.split(grad.contiguous(memory_format=layout.memory_format))
        grad_low = layout.phase(split, 0, 0) + layout.phase(split, 0, 1)
        grad_low += layout.phase(split, 1, 0)
        grad_low += layout.phase(split, 1, 1)
        if layout.channels_last:
            grad_low = grad_low.permute(0, 3, 1, 2)
        return grad, grad_low


def upsample_conv3x3(
    x: torch.Tensor, kernels: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    """``conv2d(upsample_2x(x), weight, bias, padding=1)`` from ``kernels =
    phase_kernels(weight)``, without up-sampling ``x``; differentiable in all three."""
    # One 2x2 convolution over x padded by one pixel gives every phase at (h + 1) x (w + 1)
    # positions; phase (a, b) of output pixel (2i + a, 2j + b) is its value at (i + a, j + b).
    phases = F.conv2d(x, kernels, None if bias is None else bias.repeat(4), padding=1)
    return _Interleave.apply(phases)


def add_upsampled(high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
    """``high + upsample_2x(low)`` without building the up-sampled tensor. Without a gradient
    to record ``high`` is overwritten: it must be a fresh result nothing else holds."""
    if torch.is_grad_enabled() and (high.requires_grad or low.requires_grad):
        return _AddUpsampled.apply(high, low)
    layout = _Layout(_channels_last(high))
    layout.split(high).add_(layout.spread(low))
    return high


def usable(x: torch.Tensor, rendering: bool) -> bool:
    """Whether the phase form applies to ``x``: a side at which it pays (``MIN_SIDE``), a
    dense layout, and for training :func:`~sagan_engine.pool_conv.eager_cpu`."""
    dense = x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)
    if x.dim() != 4 or min(x.shape[-2:]) < MIN_SIDE or not dense:
        return False
    return rendering or eager_cpu(x)


@torch.no_grad()
def prepare_rendering(generator: torch.nn.Module) -> None:
    """Give each up-sampling block of an inference copy of G (plain weights, no spectral-norm
    parametrisation) the phase kernels of its first convolution; called again after its
    weights were refilled."""
    from .models import GBlock

    for module in generator.modules():
        if isinstance(module, GBlock):
            module.render_kernels = phase_kernels(module.conv1.weight)
