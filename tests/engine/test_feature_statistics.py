"""FID, KID, IS and precision/recall re-derived on small inputs."""

from __future__ import annotations

import numpy as np
import pytest

from sagan_engine.metrics import feature_statistics as fs


def _features(n: int, d: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * 0.3 + np.eye(d)
    return (rng.standard_normal((n, d)) @ mixing) * scale + shift


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert fs.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)


def test_fid_matches_a_direct_computation():
    real, fake = _features(300, 6, 0), _features(250, 6, 1, scale=1.3, shift=0.4)
    mu1, mu2 = real.mean(0), fake.mean(0)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    # Directly: tr sqrt(S1 S2) from the (real, non-negative) eigenvalues of the product.
    trace_root = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    direct = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root
    assert fs.fid(real, fake) == pytest.approx(direct, rel=1e-9)
    assert fs.fid(real, real) == pytest.approx(0.0, abs=1e-8)


def test_kid_is_the_unbiased_estimator_written_out():
    x, y = _features(20, 5, 2), _features(15, 5, 3, shift=0.5)
    d = x.shape[1]

    def k(a, b):
        return (float(a @ b) / d + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    assert fs.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy)
    # One subset holding every vector is the estimator itself; its spread is then zero.
    mean, std = fs.kid(x[:15], y, subsets=3, subset_size=15)
    assert mean == pytest.approx(fs.mmd2_unbiased(x[:15], y)) and std == pytest.approx(0)
    near, _ = fs.kid(_features(200, 5, 4), _features(200, 5, 5), subsets=10, subset_size=100)
    far, _ = fs.kid(_features(200, 5, 4), _features(200, 5, 5, shift=2), subsets=10)
    assert abs(near) < far


def test_inception_score_bounds():
    confident = np.full((20, 10), -30.0)
    confident[np.arange(20), np.arange(20) % 10] = 30.0  # sure of each class, all classes used
    score, _ = fs.inception_score(confident, splits=2)
    assert score == pytest.approx(10.0, rel=1e-6)
    uniform, _ = fs.inception_score(np.zeros((20, 10)), splits=2)
    assert uniform == pytest.approx(1.0)
    one_class = np.tile(confident[:1], (20, 1))  # confident but always the same class
    assert fs.inception_score(one_class, splits=2)[0] == pytest.approx(1.0)


def test_precision_recall_of_a_collapsed_set():
    real = _features(200, 4, 6)
    assert fs.precision_recall(real, real) == (1.0, 1.0)
    # A generator that covers one corner of the data: precise but little recall.
    corner = real[real[:, 0] > 1.0]
    precision, recall = fs.precision_recall(real, corner)
    assert precision == 1.0 and recall < 0.5
    far = fs.precision_recall(real, real + 50.0)
    assert far == (0.0, 0.0)
    # Radii: the 3rd nearest other point, written out for one vector.
    d = np.linalg.norm(real - real[0], axis=1)
    assert fs._manifold_radii(real, 3)[0] == pytest.approx(np.sort(d)[3])
