"""The building blocks of SAGAN: self-attention, spectral-normalised convs, conditional BN.

Read beside Zhang et al., "Self-Attention Generative Adversarial Networks" (arXiv 1805.08318),
section 3. Symbols follow the paper: f, g, h, beta, gamma.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .conv_weight_grad import Conv2d

ATTENTION_VARIANTS = ("paper", "official")
# Attention scores per block of query rows on the CPU: 128K fp32 (512 KB) fit in L2.
ATTENTION_BLOCK_SCORES = 128 * 1024


def sn_conv2d(
    in_ch: int, out_ch: int, kernel_size: int = 3, padding: int | None = None, bias: bool = True
) -> nn.Module:
    """Conv2d with spectral normalisation (Miyato et al.), one power iteration per forward.

    The conv is ``nn.Conv2d`` with a faster weight gradient on some CPUs (conv_weight_grad)."""
    pad = kernel_size // 2 if padding is None else padding
    return spectral_norm(Conv2d(in_ch, out_ch, kernel_size, padding=pad, bias=bias))


def sn_linear(in_features: int, out_features: int, bias: bool = True) -> nn.Module:
    """Linear layer with spectral normalisation."""
    return spectral_norm(nn.Linear(in_features, out_features, bias=bias))


def sn_embedding(num_embeddings: int, dim: int) -> nn.Module:
    """Class embedding of the projection discriminator, spectrally normalised like the rest of D."""
    return spectral_norm(nn.Embedding(num_embeddings, dim))


class SelfAttention(nn.Module):
    """Self-attention of SAGAN (section 3, equations 1-3).

    For x with C channels and N = H*W positions:
        f(x) = W_f x, g(x) = W_g x  (C/8 channels),  h(x) = W_h x,
        s_ij = f(x_i)^T g(x_j),  beta_{j,i} = softmax_i(s_ij),
        o_j = sum_i beta_{j,i} h(x_i),  y = gamma * o + x,  gamma initialised to 0.

    ``variant="official"`` reproduces the authors' released TensorFlow code: h has C/2
    channels followed by a 1x1 output conv back to C, and the f and h paths (the keys and
    values, indexed by i) are 2x2 max-pooled, so beta has shape (B, N, N/4).
    """

    def __init__(self, channels: int, variant: str = "paper") -> None:
        super().__init__()
        if variant not in ATTENTION_VARIANTS:
            raise ValueError(
                f"attention variant must be one of {ATTENTION_VARIANTS}, got {variant!r}"
            )
        self.channels = channels
        self.variant = variant
        qk = max(channels // 8, 1)
        self.f = sn_conv2d(channels, qk, 1, bias=False)
        self.g = sn_conv2d(channels, qk, 1, bias=False)
        if variant == "paper":
            self.h = sn_conv2d(channels, channels, 1, bias=False)
            self.out = None
        else:
            self.h = sn_conv2d(channels, max(channels // 2, 1), 1, bias=False)
            self.out = sn_conv2d(max(channels // 2, 1), channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(()))

    def key_grid(self, height: int, width: int) -> tuple[int, int]:
        """Grid (h, w) over which beta_{j,.} is spread for an input of this size."""
        if self.variant == "official":
            return height // 2, width // 2
        return height, width

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        o, beta = self.attend(x, return_attention)
        y = self.gamma * o + x
        return (y, beta) if return_attention else y

    def attend(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The attention output o (after the output conv of the official variant), shaped
        like x, and beta (B, N, N_keys) when asked for; forward is y = gamma * o + x."""
        b, c, height, width = x.shape
        beta = None
        f, h = self.f(x), self.h(x)
        if self.variant == "official":
            f, h = F.max_pool2d(f, 2), F.max_pool2d(h, 2)
        f = f.flatten(2)  # (B, C/8, N_keys), indexed by i
        g = self.g(x).flatten(2)  # (B, C/8, N), indexed by j
        h = h.flatten(2)  # (B, C_h, N_keys)
        if return_attention:
            s = torch.bmm(g.transpose(1, 2), f)  # s[b, j, i] = f(x_i)^T g(x_j)
            beta = torch.softmax(s.float(), dim=-1).to(h.dtype)  # normalised over i
            o = torch.bmm(h, beta.transpose(1, 2))  # o_j = sum_i beta_{j,i} h(x_i)
        elif x.device.type == "cuda":
            o = _fused_attention(g, f, h)
        else:
            o = _position_major_attention(g, f, h)
        o = o.reshape(b, -1, height, width)
        if self.out is not None:
            o = self.out(o)
        return o, beta


def _fused_attention(g: torch.Tensor, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """o = h softmax(g^T f)^T through the fused kernel, for the GPU.

    scale=1 because the paper has no 1/sqrt(d).
    """
    o = F.scaled_dot_product_attention(
        g.transpose(1, 2).unsqueeze(1),
        f.transpose(1, 2).unsqueeze(1),
        h.transpose(1, 2).unsqueeze(1),
        scale=1.0,
    )
    return o.squeeze(1).transpose(1, 2)


def _position_major_attention(g: torch.Tensor, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The same sums for the CPU, computed as o^T = beta h^T.

    PyTorch's CPU flash kernel needs f, g and h of equal width, which C/8 against C is not,
    so SDPA falls back to its unfused form (a safe softmax in fp32 plus extra passes over the
    N x N scores). Two bmm's and a softmax in the autocast dtype are ~2.5x faster in bf16 and
    ~1.2x in fp32 (benchmarks/attention_kernels.py), and with channels_last h^T is h's memory
    as it lies, so o^T comes out already in channels_last order.

    Rows j of beta are independent, so large maps are computed in blocks of rows whose
    scores stay in cache (ATTENTION_BLOCK_SCORES): the softmax and both products then read
    them from cache, forward and backward (~1.5x faster for N = 1024 in fp32, issue 14).
    """
    g_t, h_t = g.transpose(1, 2), h.transpose(1, 2)
    queries, keys = g_t.shape[1], f.shape[2]
    rows = max(1, ATTENTION_BLOCK_SCORES // keys)
    if rows >= queries:
        beta = torch.softmax(torch.bmm(g_t, f), dim=-1)  # beta[b, j, i]
        return torch.bmm(beta, h_t).transpose(1, 2)
    blocks = [
        torch.bmm(torch.softmax(torch.bmm(g_t[:, j : j + rows], f), dim=-1), h_t)
        for j in range(0, queries, rows)
    ]
    return torch.cat(blocks, 1).transpose(1, 2)


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias come from the class (de Vries et al.; used in G).

    With ``num_classes == 0`` it is ordinary affine batch norm.
    """

    def __init__(self, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)
            self.bias = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.bn(x)
        if self.num_classes:
            if y is None:
                raise ValueError("a conditional model needs class labels y")
            out = out * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]
        return out
