"""Leaving one attention layer out equals the forward pass with that layer's gamma at 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.attention import find_attention_layer, query_position
from sagan_engine.attention_ablation import render_without_attention
from sagan_engine.attention_grid import position_maps, stride_for
from sagan_engine.imaging import to_uint8
from tests.engine.test_attention import make_generator


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_ablation_equals_gamma_zero(variant):
    generator = make_generator(variant, attention=(8, 16))
    z = torch.randn(1, 8, generator=torch.Generator().manual_seed(3))
    result = render_without_attention(generator, z, None, "16")
    assert result.layer == "G attention 16x16"
    with torch.no_grad():
        normal = generator(z)
        generator.attention["16"].gamma.zero_()
        without = generator(z)
        generator.attention["16"].gamma.fill_(0.5)
    np.testing.assert_array_equal(result.image, to_uint8(normal)[0])
    np.testing.assert_array_equal(result.ablated, to_uint8(without)[0])
    expected = (normal - without).abs().mean(1)[0].numpy() / 2
    np.testing.assert_allclose(result.difference, expected, atol=1e-6)
    assert result.difference.shape == (32, 32) and result.difference.max() > 1e-4
    # The hook is gone: the model renders normally again.
    with torch.no_grad():
        np.testing.assert_array_equal(to_uint8(generator(z))[0], result.image)


def test_layers_are_found_by_name_or_resolution():
    generator = make_generator(attention=(8, 16))
    assert find_attention_layer(generator, "G attention 8x8") == 0
    assert find_attention_layer(generator, 16) == 1
    assert find_attention_layer(generator, "16x16") == 1
    with pytest.raises(ValueError, match="G attention 8x8, G attention 16x16"):
        find_attention_layer(generator, "32")


def test_position_maps_are_the_beta_rows_of_every_strided_position():
    generator = make_generator("official", attention=(16,))
    z = torch.randn(1, 8)
    maps = position_maps(generator, z, None, "16", stride=4)
    assert maps.maps.shape == (4, 4, 8, 8) and maps.grid == (16, 16)
    with torch.no_grad():
        _, (beta,) = generator(z, return_attention=True)
    for r in range(4):
        for c in range(4):
            j = query_position(maps.pixel(r, c), (32, 32), (16, 16))
            assert j == (4 * r) * 16 + 4 * c
            np.testing.assert_allclose(maps.maps[r, c].ravel(), beta[0, j].numpy(), rtol=1e-6)
    assert stride_for((32, 32)) == 2 and stride_for((8, 8)) == 1
    with pytest.raises(ValueError, match="stride"):
        position_maps(generator, z, None, "16", stride=0)
    wider = position_maps(generator, z, None, "16", stride=17)  # wider than the layer
    assert wider.stride == 16 and wider.maps.shape[:2] == (1, 1)
