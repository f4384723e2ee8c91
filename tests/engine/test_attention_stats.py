"""Attention statistics against a direct computation, position by position."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sagan_engine.attention import fold_spectral_norm, query_position
from sagan_engine.attention_stats import attention_statistics, position_centres
from tests.engine.test_attention import make_generator


def calibrated(variant="paper", attention=(8, 16), classes=0):
    """A tiny G whose batch-norm statistics are those of a real batch, so that in eval mode its
    activations (and attention) are of ordinary size rather than untrained extremes."""
    generator = make_generator(variant, attention, classes)
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # a plain average: here, of the one batch below
    generator.train()
    with torch.no_grad():
        labels = torch.arange(32) % classes if classes else None
        generator(torch.randn(32, 8, generator=torch.Generator().manual_seed(0)), labels)
    return generator.eval()


def _inputs(generator, z):
    """The input x of every attention layer, in order, for latents z."""
    seen = []
    handles = [
        layer.register_forward_hook(lambda _m, args, _o: seen.append(args[0].clone()))
        for _, layer in generator.attention_layers()
    ]
    with torch.no_grad():
        generator(z)
    for handle in handles:
        handle.remove()
    return seen


def _direct(layer, x, image_size):
    """gamma, entropy, distance, contribution by the definitions, with loops."""
    with torch.no_grad():
        f, g, h = layer.f(x), layer.g(x), layer.h(x)
        if layer.variant == "official":
            f, h = F.max_pool2d(f, 2), F.max_pool2d(h, 2)
        s = torch.einsum("bcj,bci->bji", g.flatten(2), f.flatten(2))
        beta = torch.softmax(s, dim=-1).double()
        o = torch.einsum("bji,bci->bcj", beta.float(), h.flatten(2)).reshape(
            x.shape[0], -1, *x.shape[2:]
        )
        if layer.out is not None:
            o = layer.out(o)
    b, n, n_keys = beta.shape
    side, key_side = x.shape[-1], int(round(math.sqrt(n_keys)))
    pool = side // key_side
    # Centre of the pixels over each query position / key position, by query_position.
    q_sum, q_cnt = np.zeros((n, 2)), np.zeros(n)
    k_sum, k_cnt = np.zeros((n_keys, 2)), np.zeros(n_keys)
    height, width = image_size
    for row in range(height):
        for col in range(width):
            j = query_position((row, col), image_size, (side, side))
            q_sum[j] += (row + 0.5, col + 0.5)
            q_cnt[j] += 1
            r, c = divmod(j, side)
            i = (r // pool) * key_side + c // pool
            k_sum[i] += (row + 0.5, col + 0.5)
            k_cnt[i] += 1
    q_centre, k_centre = q_sum / q_cnt[:, None], k_sum / k_cnt[:, None]
    entropy = distance = 0.0
    for bi in range(b):
        for j in range(n):
            p = beta[bi, j].numpy()
            entropy += -sum(v * math.log(v) for v in p if v > 0) / math.log(n_keys)
            d = np.linalg.norm(q_centre[j] - k_centre, axis=1)
            distance += float((p * d).sum())
    gamma = float(layer.gamma.detach())
    contribution = np.mean([float((gamma * o[bi]).norm() / x[bi].norm()) for bi in range(b)])
    return gamma, entropy / (b * n), distance / (b * n), contribution


@pytest.mark.parametrize("variant", ["paper", "official"])
def test_statistics_equal_the_direct_computation(variant):
    generator = calibrated(variant)
    with torch.no_grad():
        generator.attention["16"].gamma.fill_(-0.3)
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    stats = attention_statistics(generator, z)
    assert [s.name for s in stats] == ["G attention 8x8", "G attention 16x16"]
    for s, (_, layer), x in zip(
        stats, generator.attention_layers(), _inputs(generator, z), strict=True
    ):
        gamma, entropy, distance, contribution = _direct(layer, x, (32, 32))
        assert s.gamma == pytest.approx(gamma)
        assert s.entropy == pytest.approx(entropy, rel=1e-4)
        assert s.distance == pytest.approx(distance, rel=1e-4)
        assert s.contribution == pytest.approx(contribution, rel=1e-4)
        assert 0 < s.entropy < 1 and s.distance > 0 and s.contribution > 0


def test_uniform_attention_has_entropy_one_and_gamma_zero_contributes_nothing():
    # Plain weights (spectral norm folded), so that W_f can be zero: s_ij = 0, beta uniform.
    generator = fold_spectral_norm(calibrated(attention=(8,)))
    layer = generator.attention["8"]
    with torch.no_grad():
        layer.f.weight.zero_()
        layer.gamma.zero_()
    (stats,) = attention_statistics(generator, torch.randn(2, 8))
    assert stats.entropy == pytest.approx(1.0, abs=1e-5)
    assert stats.contribution == 0.0
    # Uniform over an 8x8 grid of 4-pixel blocks: the mean of all centre-to-centre distances.
    centres = position_centres(32, 8)
    points = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
    expected = np.linalg.norm(points[:, None] - points[None], axis=-1).mean()
    assert stats.distance == pytest.approx(expected, rel=1e-5)


def test_position_centres_follow_the_query_rule():
    assert position_centres(32, 8).tolist() == [2.0 + 4 * k for k in range(8)]
    assert position_centres(32, 16, keys=8).tolist() == [2.0 + 4 * k for k in range(8)]


def test_conditional_generator_needs_classes():
    generator = calibrated(classes=3)
    with pytest.raises(ValueError, match="class"):
        attention_statistics(generator, torch.randn(2, 8))
    stats = attention_statistics(generator, torch.randn(2, 8), np.array([0, 2]))
    assert len(stats) == 2
