"""models.upsample_2x: the numbers of F.interpolate(nearest, x2) in every case it handles, and
the rendered image of a generator unchanged by it, bit for bit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sagan_engine import models
from sagan_engine.config import preset
from sagan_engine.models import Generator, upsample_2x


def reference(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


@pytest.mark.parametrize("shape", [(1, 3, 4, 4), (2, 16, 8, 5), (3, 1, 1, 7)])
def test_same_numbers_as_interpolate(shape):
    x = torch.randn(shape)
    out = upsample_2x(x)
    assert out.shape == reference(x).shape and out.is_contiguous()
    assert torch.equal(out, reference(x))
    channels_last = x.contiguous(memory_format=torch.channels_last)
    assert torch.equal(upsample_2x(channels_last), reference(x))


def test_training_keeps_pytorchs_kernel_and_its_gradient(monkeypatch):
    calls, interpolate = [], F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda *a, **k: calls.append(1) or interpolate(*a, **k))
    x = torch.randn(1, 4, 3, 3, requires_grad=True)
    upsample_2x(x).sum().backward()
    assert calls == [1]
    assert torch.equal(x.grad, torch.full_like(x, 4.0))
    with torch.no_grad():
        upsample_2x(x)
    assert calls == [1]  # rendering takes the broadcast copy


def test_generator_image_and_attention_unchanged(monkeypatch):
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "num_classes": 2})
    torch.manual_seed(0)
    generator = Generator(cfg.model).eval()
    z, y = torch.randn(2, 8), torch.tensor([1, 0])
    with torch.no_grad():
        image, betas = generator(z, y, return_attention=True)
        monkeypatch.setattr(models, "upsample_2x", reference)
        expected, expected_betas = generator(z, y, return_attention=True)
    assert torch.equal(image, expected)
    assert all(torch.equal(a, b) for a, b in zip(betas, expected_betas, strict=True))
