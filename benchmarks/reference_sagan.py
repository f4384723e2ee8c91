"""A plain SAGAN, the yardstick of ``python -m sagan_engine bench``.

The same architecture as :mod:`sagan_engine.models` (same widths, blocks, attention
placement, parameter count: :func:`build` asserts it) and the same training algorithm (hinge
loss, TTUR Adam, ``n_dis`` D steps per G step, EMA of G, random flips), written the way a
typical public implementation is:

- fp32 only, contiguous (NCHW) tensors, no ``torch.compile``;
- the hook-based ``torch.nn.utils.spectral_norm``;
- attention as an explicit ``bmm`` + ``softmax`` that always forms the N x N map;
- real and fake images through D in two passes; D's weight gradients computed in the G step
  too (D is not frozen), as most implementations do;
- the losses read back with ``.item()`` after every step; EMA as a loop over parameters.

Nothing here is used by the engine; only the benchmark loads this file.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

# The engine's tables, restated so that this file stands alone; build() checks they agree.
G_WIDTHS = {32: (4, 4, 4, 4), 64: (16, 16, 8, 4, 2), 128: (16, 16, 8, 4, 2, 1)}
D_WIDTHS = {32: (4, 4, 4, 4), 64: (1, 2, 4, 8, 16), 128: (1, 2, 4, 8, 16, 16)}
D_DOWNSAMPLE = {32: (1, 1, 0, 0), 64: (1, 1, 1, 1, 0), 128: (1, 1, 1, 1, 1, 0)}


def snconv(cin: int, cout: int, k: int) -> nn.Module:
    return spectral_norm(nn.Conv2d(cin, cout, k, padding=k // 2))


class Attention(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.f = spectral_norm(nn.Conv2d(c, max(c // 8, 1), 1, bias=False))
        self.g = spectral_norm(nn.Conv2d(c, max(c // 8, 1), 1, bias=False))
        self.h = spectral_norm(nn.Conv2d(c, c, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, hh, ww = x.shape
        n = hh * ww
        f = self.f(x).view(b, -1, n)
        g = self.g(x).view(b, -1, n)
        h = self.h(x).view(b, -1, n)
        s = torch.bmm(g.permute(0, 2, 1), f)  # (B, N, N)
        beta = torch.softmax(s, dim=-1)
        o = torch.bmm(h, beta.permute(0, 2, 1)).view(b, c, hh, ww)
        return self.gamma * o + x, beta


class CBN(nn.Module):
    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(c, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, c)
            self.bias = nn.Embedding(num_classes, c)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        out = self.bn(x)
        if self.num_classes:
            out = out * self.gain(y).view(-1, out.shape[1], 1, 1)
            out = out + self.bias(y).view(-1, out.shape[1], 1, 1)
        return out


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = CBN(cin, num_classes)
        self.conv1 = snconv(cin, cout, 3)
        self.bn2 = CBN(cout, num_classes)
        self.conv2 = snconv(cout, cout, 3)
        self.shortcut = snconv(cin, cout, 1)

    def forward(self, x, y):
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, first: bool) -> None:
        super().__init__()
        self.conv1 = snconv(cin, cout, 3)
        self.conv2 = snconv(cout, cout, 3)
        self.down = down
        self.first = first
        self.has_shortcut = cin != cout or down
        if self.has_shortcut:
            self.shortcut = snconv(cin, cout, 1)

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.has_shortcut:
            if self.first:
                s = self.shortcut(F.avg_pool2d(s, 2) if self.down else s)
            else:
                s = self.shortcut(s)
                s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class Generator(nn.Module):
    def __init__(self, resolution, z_dim, ch, num_classes, attention_at):
        super().__init__()
        widths = [ch * m for m in G_WIDTHS[resolution]]
        self.first = widths[0]
        self.linear = spectral_norm(nn.Linear(z_dim, widths[0] * 16))
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        res = 4
        for cin, cout in zip(widths[:-1], widths[1:], strict=True):
            self.blocks.append(GBlock(cin, cout, num_classes))
            res *= 2
            if res in attention_at:
                self.attn[str(res)] = Attention(cout)
        self.out_bn = nn.BatchNorm2d(widths[-1])
        self.out_conv = snconv(widths[-1], 3, 3)

    def forward(self, z, y=None):
        h = self.linear(z).view(z.shape[0], self.first, 4, 4)
        maps = []
        res = 4
        for block in self.blocks:
            h = block(h, y)
            res *= 2
            if str(res) in self.attn:
                h, beta = self.attn[str(res)](h)
                maps.append(beta)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h)))), maps


class Discriminator(nn.Module):
    def __init__(self, resolution, ch, num_classes, attention_at):
        super().__init__()
        widths = [ch * m for m in D_WIDTHS[resolution]]
        ins = [3] + widths[:-1]
        self.blocks = nn.ModuleList()
        self.attn = nn.ModuleDict()
        self.attn_after = {}
        res = resolution
        for i, (cin, cout, down) in enumerate(
            zip(ins, widths, D_DOWNSAMPLE[resolution], strict=True)
        ):
            self.blocks.append(DBlock(cin, cout, bool(down), first=i == 0))
            res = res // 2 if down else res
            if res in attention_at and str(res) not in self.attn:
                self.attn[str(res)] = Attention(cout)
                self.attn_after[i] = str(res)
        self.linear = spectral_norm(nn.Linear(widths[-1], 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, widths[-1])) if num_classes else None

    def forward(self, x, y=None):
        h = x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.attn_after:
                h, _ = self.attn[self.attn_after[i]](h)
        h = torch.sum(F.relu(h), dim=(2, 3))
        out = self.linear(h).view(-1)
        if self.embed is not None:
            out = out + torch.sum(self.embed(y) * h, dim=1)
        return out


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(model_cfg, device: torch.device) -> tuple[Generator, Discriminator]:
    """G and D for a ``sagan_engine.config.ModelConfig``; asserts the same parameter count
    (and so the same architecture) as the engine's models."""
    from sagan_engine import models as engine_models

    assert model_cfg.attention_variant == "paper", "the reference has the paper's attention only"
    assert G_WIDTHS == engine_models.G_WIDTHS and D_WIDTHS == engine_models.D_WIDTHS
    m = model_cfg
    G = Generator(m.resolution, m.z_dim, m.g_ch, m.num_classes, m.g_attention)
    D = Discriminator(m.resolution, m.d_ch, m.num_classes, m.d_attention)
    engine_g, engine_d = engine_models.Generator(m), engine_models.Discriminator(m)
    for ours, theirs, name in ((G, engine_g, "G"), (D, engine_d, "D")):
        assert count_parameters(ours) == count_parameters(theirs), (
            f"reference {name} has {count_parameters(ours)} parameters, "
            f"the engine's {count_parameters(theirs)}"
        )
    return G.to(device), D.to(device)


class ReferenceTrainer:
    """The plain training loop: hinge loss, TTUR, EMA of G, ``.item()`` every step."""

    def __init__(self, run_cfg, images_uint8, labels, device: torch.device, seed: int = 0) -> None:
        torch.manual_seed(seed)
        t = run_cfg.train
        self.cfg = run_cfg
        self.device = device
        self.G, self.D = build(run_cfg.model, device)
        self.G_ema = copy.deepcopy(self.G) if t.ema else None
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=t.betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=t.betas)
        # NHWC uint8 numpy -> NCHW float in [-1, 1] on the device, the usual preprocessing.
        x = torch.as_tensor(images_uint8).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        self.images = x.to(device)
        self.labels = torch.as_tensor(labels, dtype=torch.int64).to(device)
        self.history: list[tuple[float, float]] = []

    def d_step(self) -> torch.Tensor:
        t, m = self.cfg.train, self.cfg.model
        b = t.batch_size
        y_real = y_fake = None
        idx = torch.randint(0, self.images.shape[0], (b,), device=self.device)
        real = self.images[idx]
        if self.cfg.data.hflip:
            flip = torch.rand(b, device=self.device) < 0.5
            real[flip] = real[flip].flip(3)
        if m.num_classes:
            y_real = self.labels[idx]
            y_fake = torch.randint(0, m.num_classes, (b,), device=self.device)
        z = torch.randn(b, m.z_dim, device=self.device)
        with torch.no_grad():
            fake, _ = self.G(z, y_fake)
        d_loss = (
            F.relu(1.0 - self.D(real, y_real)).mean() + F.relu(1.0 + self.D(fake, y_fake)).mean()
        )
        self.opt_D.zero_grad()
        d_loss.backward()
        self.opt_D.step()
        return d_loss

    def step(self) -> tuple[float, float]:
        t, m = self.cfg.train, self.cfg.model
        b = t.batch_size
        for _ in range(t.n_dis):
            d_loss = self.d_step()
        y_g = None
        if m.num_classes:
            y_g = torch.randint(0, m.num_classes, (b,), device=self.device)
        z = torch.randn(b, m.z_dim, device=self.device)
        fake, _ = self.G(z, y_g)
        g_loss = -self.D(fake, y_g).mean()
        self.opt_G.zero_grad()
        g_loss.backward()
        self.opt_G.step()
        if self.G_ema is not None:
            with torch.no_grad():
                for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                    pe.mul_(t.ema_decay).add_(p, alpha=1 - t.ema_decay)
                for be, bb in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                    be.copy_(bb)
        losses = (d_loss.item(), g_loss.item())
        self.history.append(losses)
        return losses
