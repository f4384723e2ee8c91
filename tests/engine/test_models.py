"""Shapes, spectral norm and initialisation of G and D."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sagan_engine.config import ModelConfig, preset
from sagan_engine.layers import SelfAttention
from sagan_engine.models import Discriminator, Generator, eval_mode


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("classes", [0, 5])
def test_shapes_for_every_resolution(resolution, classes):
    attn = {32: (16,), 64: (32,), 128: (64,)}[resolution]
    cfg = ModelConfig(
        resolution=resolution,
        z_dim=16,
        g_ch=8,
        d_ch=8,
        num_classes=classes,
        g_attention=attn,
        d_attention=attn,
    )
    G, D = Generator(cfg), Discriminator(cfg)
    z = torch.randn(2, 16)
    y = torch.tensor([0, classes - 1]) if classes else None
    image, betas = G(z, y, return_attention=True)
    assert image.shape == (2, 3, resolution, resolution)
    assert image.abs().max() <= 1
    n = attn[0] ** 2
    assert [b.shape for b in betas] == [(2, n, n)]
    assert D(image, y).shape == (2,)
    assert len(G.attention_layers()) == 1 and len(D.attention_layers()) == 1


def test_every_conv_and_linear_is_spectrally_normalised():
    cfg = preset("res32").model
    cfg.num_classes = 3
    for model in (Generator(cfg), Discriminator(cfg)):
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                assert hasattr(module, "parametrizations"), module


def test_gamma_of_every_attention_layer_is_zero_at_init():
    cfg = preset("res64").model
    cfg.g_attention = (16, 32)
    G = Generator(cfg)
    layers = [m for m in G.modules() if isinstance(m, SelfAttention)]
    assert len(layers) == 2
    assert all(layer.gamma.item() == 0 for layer in layers)


def test_projection_discriminator_depends_on_the_class():
    cfg = ModelConfig(
        resolution=32, z_dim=8, g_ch=4, d_ch=4, num_classes=4, g_attention=(16,), d_attention=(16,)
    )
    D = Discriminator(cfg).eval()
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(D(x, torch.tensor([0])), D(x, torch.tensor([3])))


def test_weights_are_orthogonally_initialised():
    G = Generator(ModelConfig(resolution=32, g_ch=8, d_ch=8, g_attention=(16,), d_attention=(16,)))
    w = G.linear.parametrizations.weight.original  # (out, in) with out > in
    torch.testing.assert_close(w.T @ w, torch.eye(w.shape[1]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_restores_the_mode_even_after_an_error(training):
    module = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train(training)
    with eval_mode(module):
        assert not module.training and not module[1].training
    assert module.training is training and module[1].training is training
    with pytest.raises(RuntimeError), eval_mode(module):
        raise RuntimeError("boom")
    assert module.training is training
