"""Multi-scale sliced Wasserstein distance (Karras et al. 2018, appendix D)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.data import load_demo_dataset
from sagan_engine.metrics import swd as S

N = 96  # images per set: enough for stable figures, fast on 2 cores


@pytest.fixture(scope="module")
def demo_halves() -> tuple[np.ndarray, np.ndarray]:
    images = load_demo_dataset(32, cache_dir=None).images
    order = np.random.default_rng(0).permutation(len(images))
    return images[order[:N]], images[order[N : 2 * N]]


@pytest.fixture(scope="module")
def reference(demo_halves) -> S.SWDReference:
    return S.SWDReference(demo_halves[0], seed=3)


def test_pyramid_levels_down_to_16():
    assert S.pyramid_resolutions(32) == [32, 16]
    assert S.pyramid_resolutions(128) == [128, 64, 32, 16]
    assert S.swd_value_names(64) == ["swd_avg", "swd_64", "swd_32", "swd_16"]
    with pytest.raises(ValueError):
        S.pyramid_resolutions(8)


def test_laplacian_pyramid_reconstructs_the_image_and_filters_like_opencv():
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.uniform(0, 255, (2, 3, 32, 32)).astype(np.float32))
    pyramid = S.laplacian_pyramid(images, 3)
    assert [p.shape[-1] for p in pyramid] == [32, 16, 8]
    rebuilt = pyramid[-1]
    for level in pyramid[-2::-1]:
        rebuilt = S.pyr_up(rebuilt, level.shape[-2:]) + level
    assert torch.allclose(rebuilt, images, atol=1e-3)
    # pyrDown of a constant is the constant (the filter sums to 1, mirrored borders).
    flat = torch.full((1, 3, 16, 16), 7.0)
    assert torch.allclose(S.pyr_down(flat), torch.full((1, 3, 8, 8), 7.0))
    # The 5-tap filter written out for one inner sample of a single row/column impulse.
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 256.0
    blurred = S._binomial_blur(impulse)[0, 0]
    assert blurred[4, 4] == pytest.approx(36.0) and blurred[2, 3] == pytest.approx(4.0)


def test_descriptors_are_7x7_neighbourhoods_normalised_per_channel(demo_halves):
    images = demo_halves[0][:10]
    levels = S.descriptors(images, seed=0, nhoods_per_image=5)
    assert [d.shape for d in levels] == [(50, 147), (50, 147)]
    per_channel = levels[0].reshape(50, 3, 49)
    assert np.allclose(per_channel.mean(axis=(0, 2)), 0, atol=1e-4)
    assert np.allclose(per_channel.std(axis=(0, 2)), 1, atol=1e-3)
    again = S.descriptors(images, seed=0, nhoods_per_image=5)
    assert all(np.array_equal(a, b) for a, b in zip(levels, again, strict=True))


def test_sliced_wasserstein_of_shifted_points_is_the_projected_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 4)).astype(np.float32)
    assert S.sliced_wasserstein(a, a) == 0.0
    shift = np.array([3.0, 0, 0, 0], dtype=np.float32)
    # For a pure translation every sorted projection moves by |u.shift| = 3 |u_0|: the
    # distance is 3 E|u_0| for u uniform on the sphere S^3, i.e. 3 * 0.4244 (= 4/(3 pi)).
    value = S.sliced_wasserstein(a, a + shift, repeats=40)
    assert value == pytest.approx(3 * 4 / (3 * np.pi), rel=0.05)


def test_set_against_itself_is_near_zero_halves_small_noise_large(demo_halves, reference):
    a, b = demo_halves
    itself = reference.distance(a)
    halves = reference.distance(b)
    noise = reference.distance(np.random.default_rng(5).integers(0, 256, a.shape, np.uint8))
    assert set(itself.per_level) == {32, 16}
    # Small samples (96 images) keep the estimator's own bias visible: 14 for a set against
    # itself, 43 for two halves (22 with 256 images), 180 for uniform noise.
    assert itself.average < 20
    assert itself.average < halves.average < 60
    assert noise.average > 100
    assert noise.average > 3 * halves.average


def test_monotone_as_one_set_is_blended_into_another(demo_halves, reference):
    _, b = demo_halves
    noise = np.random.default_rng(6).integers(0, 256, b.shape, np.uint8).astype(np.float32)
    values = [
        reference.distance(((1 - t) * b + t * noise).round().astype(np.uint8)).average
        for t in (0.0, 0.35, 0.7, 1.0)
    ]
    assert values == sorted(values), values


def test_deterministic_given_a_seed_and_equal_sets_required(demo_halves):
    a, b = demo_halves
    first = S.sliced_wasserstein_distance(a[:32], b[:32], seed=11)
    second = S.sliced_wasserstein_distance(a[:32], b[:32], seed=11)
    assert first == second
    assert first.as_values()["swd_avg"] == pytest.approx(first.average)
    with pytest.raises(ValueError, match="equal sets"):
        S.sliced_wasserstein_distance(a[:32], b[:31])
