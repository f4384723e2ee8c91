"""Rendering's up-convolution at the low resolution equals up-sampling then convolving."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from sagan_engine import upsample_conv
from sagan_engine.attention import fold_spectral_norm
from sagan_engine.models import GBlock, Generator, upsample_2x

from .conftest import tiny_config


@pytest.mark.parametrize("side", [1, 3, 8, 16])
@pytest.mark.parametrize("with_bias", [True, False])
def test_phase_convolutions_equal_upsampling_then_a_3x3_convolution(side, with_bias):
    torch.manual_seed(side)
    x = torch.randn(3, 5, side, side + 1)  # not square: rows and columns kept apart
    weight, bias = torch.randn(7, 5, 3, 3), torch.randn(7) if with_bias else None
    expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)
    got = upsample_conv.upsample_conv3x3(x, upsample_conv.phase_kernels(weight), bias)
    assert got.shape == expected.shape == (3, 7, 2 * side, 2 * side + 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_adding_an_upsampled_tensor_in_place():
    high, low = torch.randn(2, 3, 8, 6), torch.randn(2, 3, 4, 3)
    expected = high + upsample_2x(low)
    assert torch.equal(upsample_conv.add_upsampled(high, low), expected)


def rendering_block(side: int) -> tuple[GBlock, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    block = GBlock(16, 8, num_classes=4).eval()
    for module in (block.conv1, block.conv2, block.shortcut):
        torch.nn.init.normal_(module.parametrizations.weight.original)
    return block, torch.randn(2, 16, side, side), torch.tensor([1, 3])


def test_a_block_given_phase_kernels_computes_the_same_function():
    block, x, y = rendering_block(side=upsample_conv.MIN_SIDE)
    with torch.no_grad():
        plain = block(x, y)
        block.render_kernels = upsample_conv.phase_kernels(block.conv1.weight)
        phased = block(x, y)
    assert not torch.equal(phased, plain)  # the other path ran ...
    torch.testing.assert_close(phased, plain, rtol=1e-5, atol=1e-4)  # ... to the same numbers


def test_training_and_small_inputs_keep_pytorchs_path():
    block, x, y = rendering_block(side=upsample_conv.MIN_SIDE)
    block.train()
    given = copy.deepcopy(block)  # training updates batch-norm and power-iteration state
    given.render_kernels = torch.randn(4 * 8, 16, 2, 2)  # (reading conv1.weight would iterate)
    x.requires_grad_(True)
    assert torch.equal(given(x, y), block(x, y))  # with a gradient wanted: bit for bit as before
    small, x, y = rendering_block(side=upsample_conv.MIN_SIDE // 2)
    with torch.no_grad():
        plain = small(x, y)
        small.render_kernels = upsample_conv.phase_kernels(small.conv1.weight)
        assert torch.equal(small(x, y), plain)


def test_the_folded_copy_renders_with_phase_kernels_that_follow_refills():
    cfg = tiny_config().model
    source = Generator(cfg).eval()
    folded = fold_spectral_norm(source)
    assert all(block.render_kernels is not None for block in folded.blocks)
    z, y = torch.randn(4, cfg.z_dim), torch.arange(4) % max(cfg.num_classes, 1)
    labels = y if cfg.num_classes else None
    with torch.no_grad():
        for _ in range(2):
            torch.testing.assert_close(folded(z, labels), source(z, labels), rtol=1e-4, atol=1e-4)
            for block in source.blocks:  # new weights, as after a training step
                block.conv1.parametrizations.weight.original.mul_(1.5).add_(0.01)
            folded = fold_spectral_norm(source, into=folded)
