"""Attention queries: pixel -> position j, maps equal the layer's beta rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.attention import attention_maps, fold_spectral_norm, query_position
from sagan_engine.config import ModelConfig
from sagan_engine.models import Generator


def make_generator(variant="paper", attention=(8, 16), classes=0) -> Generator:
    torch.manual_seed(0)
    cfg = ModelConfig(
        resolution=32,
        z_dim=8,
        g_ch=8,
        d_ch=8,
        num_classes=classes,
        g_attention=attention,
        d_attention=(16,),
        attention_variant=variant,
    )
    generator = Generator(cfg)
    for _, layer in generator.attention_layers():
        with torch.no_grad():
            layer.gamma.fill_(0.5)
    return generator.eval()


def test_query_position_follows_the_formula():
    assert query_position((0, 0), (32, 32), (8, 8)) == 0
    assert query_position((31, 31), (32, 32), (8, 8)) == 63
    assert query_position((5, 20), (32, 32), (16, 16)) == (5 * 16 // 32) * 16 + 20 * 16 // 32
    with pytest.raises(ValueError):
        query_position((32, 0), (32, 32), (8, 8))


def test_one_map_per_layer_equal_to_the_beta_row():
    generator = make_generator()
    z = torch.randn(1, 8)
    result = attention_maps(generator, z, query=(13, 27))
    assert result.image.shape == (32, 32, 3) and result.image.dtype == np.uint8
    assert [layer.name for layer in result.layers] == ["G attention 8x8", "G attention 16x16"]
    with torch.no_grad():
        _, betas = generator(z, return_attention=True)
    for layer, beta in zip(result.layers, betas, strict=True):
        h, w = layer.grid
        j = (13 * h // 32) * w + 27 * w // 32
        assert layer.map.shape == (h, w)
        np.testing.assert_allclose(layer.map.ravel(), beta[0, j].numpy(), rtol=1e-6)
        assert layer.map.sum() == pytest.approx(1.0, abs=1e-4)


def test_several_queries_give_several_maps():
    result = attention_maps(
        make_generator(), np.random.default_rng(0).normal(size=8), query=[(0, 0), (31, 31), (16, 3)]
    )
    assert len(result.queries) == 3
    for layer in result.layers:
        assert layer.maps.shape == (3, *layer.grid)
        assert np.abs(layer.maps[0] - layer.maps[1]).max() > 1e-6


def test_official_variant_maps_lie_on_the_pooled_grid():
    result = attention_maps(
        make_generator("official", attention=(16,)), torch.randn(8), query=(3, 3)
    )
    assert result.layers[0].grid == (16, 16)
    assert result.layers[0].map.shape == (8, 8)


def test_conditional_generator_needs_a_valid_class():
    generator = make_generator(classes=3)
    with pytest.raises(ValueError, match="class"):
        attention_maps(generator, torch.randn(8), query=(0, 0))
    with pytest.raises(ValueError, match="out of range"):
        attention_maps(generator, torch.randn(8), y=3, query=(0, 0))
    assert len(attention_maps(generator, torch.randn(8), y=2, query=(0, 0)).layers) == 2


def test_generator_mode_is_restored():
    generator = make_generator().train()
    attention_maps(generator, torch.randn(8), query=(0, 0))
    assert generator.training


@pytest.mark.parametrize("variant,classes", [("paper", 0), ("official", 3)])
def test_folded_spectral_norms_give_the_same_image_and_maps(variant, classes):
    generator = make_generator(variant, classes=classes).train()
    with torch.no_grad():  # move u, v and the batch-norm statistics away from their start
        generator(torch.randn(4, 8), torch.arange(4) % 3 if classes else None)
    folded = fold_spectral_norm(generator)
    assert generator.training  # the source is left as it was
    assert not any(name.endswith("original") for name, _ in folded.named_parameters())
    y = 1 if classes else None
    a = attention_maps(generator, np.ones(8), y, query=[(3, 4), (30, 1)])
    b = attention_maps(folded, np.ones(8), y, query=[(3, 4), (30, 1)])
    # Equal up to float rounding: the folded copy up-convolves at the low resolution.
    assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1
    for la, lb in zip(a.layers, b.layers, strict=True):
        np.testing.assert_allclose(la.maps, lb.maps, rtol=1e-4, atol=1e-7)
    assert fold_spectral_norm(generator, into=folded) is folded  # refilled, not rebuilt
