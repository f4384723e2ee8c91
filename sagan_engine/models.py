"""SAGAN generator and discriminator: ResNet blocks, spectral norm everywhere, self-attention
at the feature resolutions the config names (Zhang et al., arXiv 1805.08318, section 4-5).

Widths follow BigGAN-PyTorch's SAGAN/ImageNet architectures (multiples of ``ch``); G is
class-conditional through conditional batch norm and D through a projection term
(Miyato & Koyama, arXiv 1802.05637) when ``num_classes > 0``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from . import pool_conv, upsample_conv
from .config import ModelConfig
from .layers import ConditionalBatchNorm2d, SelfAttention, sn_conv2d, sn_embedding, sn_linear

# Channel multipliers of ch, (inputs..., output) per block, as in BigGAN-PyTorch's G_arch/D_arch.
G_WIDTHS = {32: (4, 4, 4, 4), 64: (16, 16, 8, 4, 2), 128: (16, 16, 8, 4, 2, 1)}
D_WIDTHS = {32: (4, 4, 4, 4), 64: (1, 2, 4, 8, 16), 128: (1, 2, 4, 8, 16, 16)}
D_DOWNSAMPLE = {
    32: (True, True, False, False),
    64: (True,) * 4 + (False,),
    128: (True,) * 5 + (False,),
}


def upsample_2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x up-sampling, the numbers of ``F.interpolate(x, scale_factor=2,
    mode="nearest")``.

    On the CPU, PyTorch's kernel takes an NCHW tensor through channels_last and back (two
    extra copies of the output); one broadcast copy does the same job about 8x faster, and
    these copies were a seventh of a 64x64 image's render (docs/benchmarks.md, latent
    slider). Used where no gradient is needed (rendering), so training is left as it was.
    """
    training = torch.is_grad_enabled() and x.requires_grad
    if training or x.device.type != "cpu" or not x.is_contiguous():
        return F.interpolate(x, scale_factor=2, mode="nearest")
    b, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)


class GBlock(nn.Module):
    """Up-sampling residual block: BN-ReLU-up-conv3-BN-ReLU-conv3, shortcut up-conv1."""

    def __init__(self, in_ch: int, out_ch: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(in_ch, num_classes)
        self.conv1 = sn_conv2d(in_ch, out_ch, 3)
        self.bn2 = ConditionalBatchNorm2d(out_ch, num_classes)
        self.conv2 = sn_conv2d(out_ch, out_ch, 3)
        self.shortcut = sn_conv2d(in_ch, out_ch, 1, padding=0)
        # Set on inference copies only (upsample_conv.prepare_rendering): conv1's weight as
        # the four 2x2 kernels that convolve the low-resolution input directly.
        self.render_kernels: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        h = F.relu(self.bn1(x, y))
        rendering = self.render_kernels is not None
        if upsample_conv.usable(h, rendering):
            # The same function at the low resolution: up + conv3 as phase convolutions, and
            # the 1x1 shortcut before the up-sampling it commutes with. Reading conv1.weight
            # runs its power iteration, as calling conv1 would.
            kernels = (
                self.render_kernels if rendering else upsample_conv.phase_kernels(self.conv1.weight)
            )
            h = upsample_conv.upsample_conv3x3(h, kernels, self.conv1.bias)
            h = self.conv2(F.relu(self.bn2(h, y)))
            return upsample_conv.add_upsampled(h, self.shortcut(x))
        h = self.conv2(F.relu(self.bn2(self.conv1(upsample_2x(h)), y)))
        return h + self.shortcut(upsample_2x(x))


class DBlock(nn.Module):
    """Down-sampling residual block: (ReLU)-conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1."""

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, preactivation: bool) -> None:
        super().__init__()
        self.conv1 = sn_conv2d(in_ch, out_ch, 3)
        self.conv2 = sn_conv2d(out_ch, out_ch, 3)
        self.downsample = downsample
        self.preactivation = preactivation
        self.learnable_shortcut = in_ch != out_ch or downsample
        if self.learnable_shortcut:
            self.shortcut = sn_conv2d(in_ch, out_ch, 1, padding=0)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if not self.learnable_shortcut:
            return x
        if self.preactivation and not (self.downsample and pool_conv.usable(x)):
            x = self.shortcut(x)  # BigGAN's order in the later blocks: project, then pool
            return F.avg_pool2d(x, 2) if self.downsample else x
        # The first block sees the image: pool first, then project (cheaper, as in BigGAN).
        # On the CPU the later blocks do the same: a 1x1 convolution commutes with 2x2
        # average pooling (both linear, the bias passes through the mean), so it is the same
        # function at a quarter of the multiply-adds.
        x = F.avg_pool2d(x, 2) if self.downsample else x
        return self.shortcut(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv1(F.relu(x) if self.preactivation else x))
        if self.downsample and pool_conv.usable(h):
            # conv3 then average pooling as one stride-2 4x4 convolution; reading
            # conv2.weight runs its power iteration, as calling conv2 would.
            h = pool_conv.conv3x3_avg_pool(h, self.conv2.weight, self.conv2.bias)
        else:
            h = self.conv2(h)
            h = F.avg_pool2d(h, 2) if self.downsample else h
        return h + self._shortcut(x)


def _orthogonal_init(module: nn.Module) -> None:
    """Orthogonal init of every spectrally normalised weight (the SAGAN/BigGAN choice).

    Conditional BN's gain/bias embeddings are not spectrally normalised and keep their 1/0 init.
    """
    for m in module.modules():
        if hasattr(m, "parametrizations"):
            nn.init.orthogonal_(m.parametrizations.weight.original)
            if isinstance(getattr(m, "bias", None), nn.Parameter):
                nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """z (and class y) -> image in [-1, 1], shape (B, 3, R, R)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        widths = [cfg.g_ch * m for m in G_WIDTHS[cfg.resolution]]
        self.bottom = 4
        self.linear = sn_linear(cfg.z_dim, widths[0] * self.bottom**2)
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        res = self.bottom
        for in_ch, out_ch in zip(widths[:-1], widths[1:], strict=True):
            self.blocks.append(GBlock(in_ch, out_ch, cfg.num_classes))
            res *= 2
            if res in cfg.g_attention:
                self.attention[str(res)] = SelfAttention(out_ch, cfg.attention_variant)
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = sn_conv2d(widths[-1], 3, 3)
        _orthogonal_init(self)

    def attention_layers(self) -> list[tuple[str, SelfAttention]]:
        """The attention layers in the order the image flows through them."""
        return [(f"G attention {res}x{res}", layer) for res, layer in self.attention.items()]

    def forward(
        self, z: torch.Tensor, y: torch.Tensor | None = None, return_attention: bool = False
    ):
        h = self.linear(z).view(z.shape[0], -1, self.bottom, self.bottom)
        betas = []
        res = self.bottom
        for block in self.blocks:
            h = block(h, y)
            res *= 2
            layer = self.attention[str(res)] if str(res) in self.attention else None
            if layer is not None:
                if return_attention:
                    h, beta = layer(h, return_attention=True)
                    betas.append(beta)
                else:
                    h = layer(h)
        image = torch.tanh(self.out_conv(F.relu(self.out_bn(h))))
        return (image, betas) if return_attention else image


class Discriminator(nn.Module):
    """Image (and class y) -> one logit per image; projection term when conditional."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        widths = [cfg.d_ch * m for m in D_WIDTHS[cfg.resolution]]
        ins = [3] + widths[:-1]
        self.blocks = nn.ModuleList()
        self.attention = nn.ModuleDict()
        self._attention_after: dict[int, str] = {}  # block index -> attention layer key
        res = cfg.resolution
        for index, (in_ch, out_ch, down) in enumerate(
            zip(ins, widths, D_DOWNSAMPLE[cfg.resolution], strict=True)
        ):
            self.blocks.append(DBlock(in_ch, out_ch, down, preactivation=index > 0))
            res = res // 2 if down else res
            # Attention after the first block that reaches this resolution only.
            if res in cfg.d_attention and str(res) not in self.attention:
                self.attention[str(res)] = SelfAttention(out_ch, cfg.attention_variant)
                self._attention_after[index] = str(res)
        self.linear = sn_linear(widths[-1], 1)
        self.embed = sn_embedding(cfg.num_classes, widths[-1]) if cfg.num_classes else None
        _orthogonal_init(self)

    def attention_layers(self) -> list[tuple[str, SelfAttention]]:
        return [(f"D attention {res}x{res}", layer) for res, layer in self.attention.items()]

    def features(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """phi(x), the pooled features (B, C) the logit is read from, and the beta
        (B, N, N_keys) of every attention layer in order when ``return_attention``."""
        h, betas = x, []
        for index, block in enumerate(self.blocks):
            h = block(h)
            if index in self._attention_after:
                layer = self.attention[self._attention_after[index]]
                if return_attention:
                    h, beta = layer(h, return_attention=True)
                    betas.append(beta)
                else:
                    h = layer(h)
        return torch.sum(F.relu(h), dim=(2, 3)), betas

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h, _ = self.features(x)
        out = self.linear(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional discriminator needs class labels y")
            out = out + torch.sum(self.embed(y) * h, dim=1)  # projection: y^T V phi(x)
        return out


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in eval mode inside the block (batch norm's running statistics, spectral
    norm's stored u, v: the same numbers at every call), its own mode restored after."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
