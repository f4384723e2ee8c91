"""The self-attention layer against the paper's sums, and the other building blocks."""

from __future__ import annotations

import pytest
import torch

from sagan_engine import layers
from sagan_engine.layers import ConditionalBatchNorm2d, SelfAttention


def attention_by_loops(layer: SelfAttention, x: torch.Tensor):
    """Paper eq. 1-3 written as plain loops over positions (paper variant)."""
    b, c, h, w = x.shape
    n = h * w
    f = layer.f(x).reshape(b, -1, n)
    g = layer.g(x).reshape(b, -1, n)
    hh = layer.h(x).reshape(b, -1, n)
    beta = torch.zeros(b, n, n)
    o = torch.zeros(b, c, n)
    for bi in range(b):
        for j in range(n):
            s = torch.stack([f[bi, :, i] @ g[bi, :, j] for i in range(n)])  # s_ij over i
            e = torch.exp(s - s.max())
            beta[bi, j] = e / e.sum()
            o[bi, :, j] = sum(beta[bi, j, i] * hh[bi, :, i] for i in range(n))
    return layer.gamma * o.reshape(b, c, h, w) + x, beta


def test_gamma_starts_at_zero_so_the_layer_is_the_identity():
    layer = SelfAttention(16)
    assert layer.gamma.item() == 0.0
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(layer(x), x)


def test_paper_layer_matches_the_sums_of_the_paper():
    torch.manual_seed(0)
    layer = SelfAttention(16).eval()
    with torch.no_grad():
        layer.gamma.fill_(0.7)
    x = torch.randn(2, 16, 3, 4)
    y, beta = layer(x, return_attention=True)
    y_ref, beta_ref = attention_by_loops(layer, x)
    assert beta.shape == (2, 12, 12)
    torch.testing.assert_close(beta, beta_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(beta.sum(-1), torch.ones(2, 12))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_training_path_equals_the_map_path(memory_format):
    torch.manual_seed(1)
    for variant in ("paper", "official"):
        layer = SelfAttention(32, variant).eval().to(memory_format=memory_format)
        with torch.no_grad():
            layer.gamma.fill_(1.3)
        x = torch.randn(3, 32, 8, 8).contiguous(memory_format=memory_format)
        fast = layer(x)
        explicit, _ = layer(x, return_attention=True)
        torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("keys", [64, 16])  # the paper's layer, and the official pooled one
def test_gpu_and_cpu_attention_kernels_agree_forward_and_backward(keys):
    # The GPU's fused SDPA path runs on a CPU too, so both kernels are checked here.
    torch.manual_seed(2)
    g = torch.randn(2, 4, 64, requires_grad=True)
    f = torch.randn(2, 4, keys, requires_grad=True)
    h = torch.randn(2, 16, keys, requires_grad=True)
    weights = torch.randn(2, 16, 64)
    results = []
    for kernel in (layers._fused_attention, layers._position_major_attention):
        o = kernel(g, f, h)
        grads = torch.autograd.grad((o * weights).sum(), (g, f, h))
        results.append((o, *grads))
    for fused, position_major in zip(*results, strict=True):
        torch.testing.assert_close(fused, position_major, atol=1e-5, rtol=1e-4)


def test_f_and_g_have_c_over_8_channels_and_h_has_c():
    layer = SelfAttention(64)
    assert layer.f.out_channels == 8 and layer.g.out_channels == 8
    assert layer.h.out_channels == 64 and layer.out is None


def test_official_variant_pools_keys_and_values():
    layer = SelfAttention(64, "official").eval()
    assert layer.h.out_channels == 32 and layer.out.out_channels == 64
    x = torch.randn(1, 64, 8, 8)
    y, beta = layer(x, return_attention=True)
    assert y.shape == x.shape
    assert beta.shape == (1, 64, 16)  # N queries over N/4 pooled keys
    torch.testing.assert_close(beta.sum(-1), torch.ones(1, 64))


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        SelfAttention(16, "fancy")


def test_conditional_batch_norm_uses_the_class():
    bn = ConditionalBatchNorm2d(4, num_classes=3)
    with torch.no_grad():
        bn.gain.weight[1].fill_(2.0)
        bn.bias.weight[2].fill_(5.0)
    x = torch.randn(6, 4, 2, 2)
    out = bn(x, torch.tensor([0, 1, 2, 0, 1, 2]))
    plain = torch.nn.functional.batch_norm(x, None, None, training=True)
    torch.testing.assert_close(out[1], 2 * plain[1])
    torch.testing.assert_close(out[2], plain[2] + 5)
    with pytest.raises(ValueError):
        bn(x)


@pytest.mark.parametrize("block_scores", [64 * 10, 64 * 64])  # rows 10 (uneven) and 64 (one)
def test_cpu_attention_in_row_blocks_equals_one_block(monkeypatch, block_scores):
    torch.manual_seed(3)
    g = torch.randn(2, 4, 64, requires_grad=True)
    f = torch.randn(2, 4, 64, requires_grad=True)
    h = torch.randn(2, 16, 64, requires_grad=True)
    weights = torch.randn(2, 16, 64)
    results = []
    for scores in (block_scores, 64 * 64):
        monkeypatch.setattr(layers, "ATTENTION_BLOCK_SCORES", scores)
        o = layers._position_major_attention(g, f, h)
        results.append((o, *torch.autograd.grad((o * weights).sum(), (g, f, h))))
    for blocked, whole in zip(*results, strict=True):
        torch.testing.assert_close(blocked, whole, atol=1e-5, rtol=1e-4)
