"""3x3 convolutions whose weight gradient is computed as chunked matrix products on the CPU.

The gradient of a stride-1 convolution's weight is one matrix product over the P = N*H*W
output positions:

    dL/dW[o, (kh, kw, c)] = sum_p dL/dy[p, o] x_pad[p + (kh, kw), c],  i.e. G^T (O x P) @ X (P x 9C)

where X is the im2col of the padded input. oneDNN computes it with its ``jit:avx2`` kernel
on CPUs without AVX-512, at 25-45% of the fp32 matmul peak, while the same convolution's
forward and input gradient run at 60-90% (docs/benchmarks.md, issue 14). Built here in
chunks of about :data:`CHUNK_POSITIONS` positions, whose im2col block stays in cache, and
summed with ``addmm_``, the product runs at 40-65%; the forward pass and the input gradient
are oneDNN's as before. The result is the same gradient up to the order of fp32 sums.

Used by :class:`Conv2d` (the convolution behind ``layers.sn_conv2d``) for fp32 CPU training
outside autocast and ``torch.compile``, where :func:`enabled` says so; everywhere else
``Conv2d`` is ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Output positions per im2col block: 1024 x 9C floats (2.4 MB at C = 64) stay in L2/L3 and
# keep the product's inner dimension long enough for the matmul kernel (measured 256-4096).
CHUNK_POSITIONS = 1024
# Where the chunked product beat oneDNN on an AVX2 Zen 3 core (fp32, batch 16-32, CPU time):
# from 128 input channels at every size (e.g. 512 ch at 4x4: 2.3x, 128 ch at 32x32: 1.3x), and
# from 64 channels above 32x32 (64 ch at 64x64: 1.7x); at 64 channels up to 32x32 (all of the
# demo preset's convs) oneDNN was as fast or faster, and below 64 channels faster.
MIN_IN_CHANNELS = 128
MIN_IN_CHANNELS_LARGE = 64  # for inputs of more than CHUNK_POSITIONS positions

_enabled: bool | None = None  # None: decided by the CPU (see enabled())


def set_enabled(flag: bool | None) -> None:
    """Force the matmul weight gradient on or off; ``None`` restores the default choice."""
    global _enabled
    _enabled = flag


def enabled() -> bool:
    """Whether eligible convolutions compute their weight gradient here. By default on CPUs
    whose best ISA PyTorch reports as AVX2 (oneDNN then has only ``jit:avx2`` for backward
    weights) when training on one thread, where it was measured faster (res64 step -17%
    with the other issue-14 changes). On two threads of a busy 2-core machine its many small
    parallel regions made the step 16% slower, and AVX-512 CPUs were not measured: there
    oneDNN is kept unless a measurement on the machine turns this on (set_enabled)."""
    if _enabled is not None:
        return _enabled
    return torch.backends.cpu.get_cpu_capability() == "AVX2" and torch.get_num_threads() == 1


def weight_grad(
    grad_out: torch.Tensor, x: torch.Tensor, kernel_size: int, padding: int
) -> torch.Tensor:
    """dL/dW of a stride-1, dilation-1, ungrouped convolution, shaped (O, C, k, k) and laid
    out channels-last (as the weight of a channels-last model)."""
    n, c, height, width = x.shape
    out_channels = grad_out.shape[1]
    k = kernel_size
    # Padded input and output gradient, position-major: (N, H + 2p, W + 2p, C) and (N, H, W, O).
    x_pad = x.new_zeros(n, height + 2 * padding, width + 2 * padding, c)
    x_pad[:, padding : padding + height, padding : padding + width] = x.permute(0, 2, 3, 1)
    g = grad_out.permute(0, 2, 3, 1)
    grad = x.new_zeros(out_channels, k * k * c)  # columns ordered (kh, kw, c)
    positions = height * width
    if positions <= CHUNK_POSITIONS:  # whole images per block
        images = CHUNK_POSITIONS // positions
        for start in range(0, n, images):
            cols = x_pad[start : start + images].unfold(1, k, 1).unfold(2, k, 1)
            cols = cols.permute(0, 1, 2, 4, 5, 3).reshape(-1, k * k * c)
            grad.addmm_(g[start : start + images].reshape(-1, out_channels).t(), cols)
    else:  # blocks of rows within an image
        rows = max(1, CHUNK_POSITIONS // width)
        for image in range(n):
            for top in range(0, height, rows):
                bottom = min(top + rows, height)
                cols = x_pad[image, top : bottom + k - 1].unfold(0, k, 1).unfold(1, k, 1)
                cols = cols.permute(0, 1, 3, 4, 2).reshape(-1, k * k * c)
                grad.addmm_(g[image, top:bottom].reshape(-1, out_channels).t(), cols)
    return grad.view(out_channels, k, k, c).permute(0, 3, 1, 2)


class _MatmulWeightGradConv2d(torch.autograd.Function):
    """y = conv2d(x, W, b) (oneDNN); backward: dx and db from oneDNN, dW from weight_grad."""

    @staticmethod
    def forward(ctx, x, weight, bias, padding: int):
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        ctx.has_bias = bias is not None
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        p = ctx.padding
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_b = grad_w = None
        if need_x:
            # Input gradient only: asking oneDNN for the bias gradient too would make it
            # compute the weight gradient as well.
            grad_x = torch.ops.aten.convolution_backward(
                grad_out,
                x,
                weight,
                None,
                [1, 1],
                [p, p],
                [1, 1],
                False,
                [0, 0],
                1,
                [True, False, False],
            )[0]
        if need_b and ctx.has_bias:
            grad_b = grad_out.sum((0, 2, 3))
        if need_w:
            grad_w = weight_grad(grad_out, x, weight.shape[-1], p)
        return grad_x, grad_w, grad_b, None


def _eligible(conv: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor) -> bool:
    k = conv.kernel_size
    return (
        weight.requires_grad
        and torch.is_grad_enabled()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 4
        and k[0] == k[1] == 3
        and conv.padding == (1, 1)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and (
            conv.in_channels >= MIN_IN_CHANNELS
            or (
                conv.in_channels >= MIN_IN_CHANNELS_LARGE
                and x.shape[-1] * x.shape[-2] > CHUNK_POSITIONS
            )
        )
        and not torch.is_autocast_enabled("cpu")
        and not torch.compiler.is_compiling()
        and enabled()
    )


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, state dict and forward) whose weight gradient comes
    from :func:`weight_grad` where that is faster (see the module docstring)."""

    def _conv_forward(
        self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        if _eligible(self, input, weight):
            return _MatmulWeightGradConv2d.apply(input, weight, bias, self.padding[0])
        return super()._conv_forward(input, weight, bias)
