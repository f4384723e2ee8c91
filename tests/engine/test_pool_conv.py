"""D's convolution-then-pooling as one stride-2 convolution: the same function and gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from sagan_engine import pool_conv
from sagan_engine.models import DBlock

LAYOUTS = [torch.contiguous_format, torch.channels_last]


@pytest.mark.parametrize("side", [2, 4, 10])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_one_stride_2_convolution_equals_a_3x3_convolution_then_average_pooling(
    side, with_bias, layout
):
    torch.manual_seed(side)
    x = torch.randn(3, 5, side, side + 2).contiguous(memory_format=layout)  # not square
    weight, bias = torch.randn(7, 5, 3, 3), torch.randn(7) if with_bias else None
    expected = F.avg_pool2d(F.conv2d(x, weight, bias, padding=1), 2)
    got = pool_conv.conv3x3_avg_pool(x, weight, bias)
    assert got.shape == expected.shape == (3, 7, side // 2, side // 2 + 1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_the_pooled_kernels_gradient_is_exact():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pool_conv.conv3x3_avg_pool, (x, weight, bias))


def block_pair(preactivation: bool, layout) -> tuple[DBlock, DBlock]:
    torch.manual_seed(1)
    block = DBlock(6, 8, downsample=True, preactivation=preactivation).train()
    for module in (block.conv1, block.conv2, block.shortcut):
        torch.nn.init.normal_(module.parametrizations.weight.original)
        torch.nn.init.normal_(module.bias)
    block.to(memory_format=layout)
    return block, copy.deepcopy(block)


@pytest.mark.parametrize("preactivation", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_training_down_block_takes_the_stride_2_form_with_the_same_numbers_and_gradients(
    preactivation, layout, monkeypatch
):
    fused, plain = block_pair(preactivation, layout)
    x = torch.randn(4, 6, 8, 8).contiguous(memory_format=layout)
    x_fused, x_plain = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_fused = fused(x_fused)
    with monkeypatch.context() as patch:
        patch.setattr(pool_conv, "usable", lambda x: False)  # PyTorch's path for the copy
        out_plain = plain(x_plain)
    assert not torch.equal(out_fused, out_plain)  # the other path ran ...
    torch.testing.assert_close(out_fused, out_plain, rtol=1e-5, atol=1e-4)  # ... to the same
    upstream = torch.randn_like(out_plain)
    (out_fused * upstream).sum().backward()
    (out_plain * upstream).sum().backward()
    torch.testing.assert_close(x_fused.grad, x_plain.grad, rtol=1e-4, atol=1e-4)
    parameters = zip(fused.named_parameters(), plain.parameters(), strict=True)
    for (name, p_fused), p_plain in parameters:
        assert p_fused.grad is not None, name
        torch.testing.assert_close(p_fused.grad, p_plain.grad, rtol=1e-4, atol=1e-3, msg=name)
    for (name, b_fused), b_plain in zip(fused.named_buffers(), plain.buffers(), strict=True):
        torch.testing.assert_close(b_fused, b_plain, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.parametrize("preactivation", [True, False])
def test_the_shortcut_pools_before_projecting_which_is_the_same_function(preactivation):
    """BigGAN's later blocks project, then pool; pooling first gives the same numbers."""
    block, _ = block_pair(preactivation, torch.contiguous_format)
    block.eval()  # (a training forward would run another power iteration in between)
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        with FlopCounterMode(display=False) as plain:
            projected_then_pooled = F.avg_pool2d(block.shortcut(x), 2)
        with FlopCounterMode(display=False) as cpu_order:
            shortcut = block._shortcut(x)
    torch.testing.assert_close(shortcut, projected_then_pooled, rtol=1e-5, atol=1e-5)
    assert cpu_order.get_total_flops() * 4 == plain.get_total_flops()  # it pooled first
