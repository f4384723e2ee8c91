"""The up-convolution at the low resolution (rendering and CPU training) equals up-sampling
then convolving, in values and in gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from sagan_engine import upsample_conv
from sagan_engine.attention import fold_spectral_norm
from sagan_engine.models import GBlock, Generator, upsample_2x

from .conftest import tiny_config

LAYOUTS = [torch.contiguous_format, torch.channels_last]


@pytest.mark.parametrize("side", [1, 3, 8, 16])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_phase_convolutions_equal_upsampling_then_a_3x3_convolution(side, with_bias, layout):
    torch.manual_seed(side)
    x = torch.randn(3, 5, side, side + 1).contiguous(memory_format=layout)  # not square
    weight, bias = torch.randn(7, 5, 3, 3), torch.randn(7) if with_bias else None
    expected = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)
    got = upsample_conv.upsample_conv3x3(x, upsample_conv.phase_kernels(weight), bias)
    assert got.shape == expected.shape == (3, 7, 2 * side, 2 * side + 2)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    if side > 1:  # (a 1-pixel-wide image is both layouts at once)
        assert got.is_contiguous(memory_format=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_phase_forms_gradients_are_exact(layout):
    """gradcheck in float64: the hand-written backward passes of the interleaving and of the
    up-sampled addition against finite differences, through kernels, bias and input."""
    torch.manual_seed(0)

    def dense(*shape):
        t = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=layout)
        return t.requires_grad_(True)

    x, weight, bias = dense(1, 2, 3, 4), dense(3, 2, 3, 3), torch.randn(3, dtype=torch.float64)
    bias.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: upsample_conv.upsample_conv3x3(x, upsample_conv.phase_kernels(w), b),
        (x, weight, bias),
    )
    high, low = dense(1, 2, 6, 8), dense(1, 2, 3, 4)
    assert torch.autograd.gradcheck(upsample_conv.add_upsampled, (high, low))
    torch.testing.assert_close(
        upsample_conv.add_upsampled(high, low), high + upsample_2x(low), rtol=0, atol=0
    )


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


def test_a_block_given_phase_kernels_computes_the_same_function(monkeypatch):
    block, x, y = rendering_block(side=upsample_conv.MIN_SIDE)
    with torch.no_grad():
        with monkeypatch.context() as patch:
            patch.setattr(upsample_conv, "MIN_SIDE", 10**6)  # PyTorch's path
            plain = block(x, y)
        block.render_kernels = upsample_conv.phase_kernels(block.conv1.weight)
        phased = block(x, y)
    assert not torch.equal(phased, plain)  # the other path ran ...
    torch.testing.assert_close(phased, plain, rtol=1e-5, atol=1e-4)  # ... to the same numbers


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_training_block_takes_the_phase_form_with_the_same_numbers_and_gradients(
    layout, monkeypatch
):
    """On the CPU a training block (gradient wanted, spectral norm iterating) computes its
    up-convolution and shortcut at the low resolution: same outputs, same gradients of every
    weight and of the input, same power-iteration state as PyTorch's path."""
    phased, x, y = rendering_block(side=upsample_conv.MIN_SIDE)
    phased.train()
    plain = copy.deepcopy(phased)
    x = x.contiguous(memory_format=layout)
    phased.to(memory_format=layout)
    plain.to(memory_format=layout)
    x_phased, x_plain = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_phased = phased(x_phased, y)
    with monkeypatch.context() as patch:
        patch.setattr(upsample_conv, "MIN_SIDE", 10**6)  # PyTorch's path for the copy
        out_plain = plain(x_plain, y)
    assert not torch.equal(out_phased, out_plain)  # the other path ran ...
    torch.testing.assert_close(out_phased, out_plain, rtol=1e-5, atol=1e-4)  # ... to the same
    assert out_phased.is_contiguous(memory_format=layout)
    upstream = torch.randn_like(out_plain)
    (out_phased * upstream).sum().backward()
    (out_plain * upstream).sum().backward()
    torch.testing.assert_close(x_phased.grad, x_plain.grad, rtol=1e-4, atol=1e-4)
    for (name, p_phased), p_plain in zip(
        phased.named_parameters(), plain.parameters(), strict=True
    ):
        assert p_phased.grad is not None, name
        torch.testing.assert_close(p_phased.grad, p_plain.grad, rtol=1e-4, atol=1e-3, msg=name)
    for (name, b_phased), b_plain in zip(phased.named_buffers(), plain.buffers(), strict=True):
        torch.testing.assert_close(b_phased, b_plain, rtol=1e-5, atol=1e-5, msg=name)


def test_small_inputs_keep_pytorchs_path():
    small, x, y = rendering_block(side=upsample_conv.MIN_SIDE // 2)
    with torch.no_grad():
        plain = small(x, y)
        small.render_kernels = upsample_conv.phase_kernels(small.conv1.weight)
        assert torch.equal(small(x, y), plain)
    small.render_kernels = None
    small.train()
    given = copy.deepcopy(small)
    x.requires_grad_(True)
    assert torch.equal(given(x, y), small(x, y))


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
