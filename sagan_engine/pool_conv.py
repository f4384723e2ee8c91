"""A 3x3 convolution followed by 2x2 average pooling, computed as one stride-2 convolution.

D's down-sampling blocks convolve at the full resolution and then average each 2x2 block.
Both are linear, so the pair is one convolution with stride 2 whose 4x4 kernel is the 3x3
kernel placed at the four offsets of the pooling window, summed and divided by four::

    avg_pool2d(conv2d(h, W, b, padding=1), 2) == conv2d(h, K, b, stride=2, padding=1)
    K[u, v] = 1/4 * sum over a, c in {0, 1} of W[u - a, v - c]   (zero outside 0..2)

16 multiply-adds per output pixel, input channel and output channel instead of 36, and no
full-resolution output to write, pool and differentiate. The numbers are the same up to float
rounding, not bit for bit. Autograd differentiates both forms natively, K included, so this
needs no backward of its own.

Measured on a 2-core AVX2 CPU (docs/benchmarks.md, issue 14): forward and backward of D's
64-channel 32x32 convolution 2.35x faster (batch 32), 1.4-1.9x at 16x16. Used in training and
rendering on the CPU, outside ``torch.compile``; CUDA and MPS keep the two separate operations
until measured there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pooled_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The (out, in, 3, 3) ``weight`` followed by 2x2 average pooling, as one (out, in, 4, 4)
    kernel to apply with stride 2 and padding 1 (differentiable in ``weight``)."""

    def placed(left: int, top: int) -> torch.Tensor:  # W shifted by (top, left) within 4x4
        return F.pad(weight, (left, 1 - left, top, 1 - top))

    return (placed(0, 0) + placed(1, 0) + placed(0, 1) + placed(1, 1)) * 0.25


def eager_cpu(x: torch.Tensor) -> bool:
    """Where the low-resolution forms of this module and of ``upsample_conv`` train: on the
    CPU (where they were measured), outside ``torch.compile`` (whose fusion is left to see
    the plain graph)."""
    return x.device.type == "cpu" and not torch.compiler.is_compiling()


def usable(x: torch.Tensor) -> bool:
    """Whether the stride-2 form applies: :func:`eager_cpu`, and even sides."""
    return eager_cpu(x) and x.dim() == 4 and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0


def conv3x3_avg_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    """``avg_pool2d(conv2d(x, weight, bias, padding=1), 2)`` as one convolution."""
    return F.conv2d(x, pooled_kernel(weight), bias, stride=2, padding=1)
