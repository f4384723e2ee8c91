"""Scores computed from Inception features: FID, KID, Inception Score, precision/recall.

Plain NumPy (float64) on feature matrices (N, D), so each formula can be checked on small
inputs. The features themselves come from :mod:`sagan_engine.metrics.inception`.
"""

from __future__ import annotations

import numpy as np


def _check_features(*sets: np.ndarray) -> None:
    for features in sets:
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"expected at least 2 feature vectors (N, D), got {features.shape}")
    if len({f.shape[1] for f in sets}) > 1:
        raise ValueError("feature sets of different widths: " + str([f.shape for f in sets]))


# --------------------------------------------------------------------------- FID
def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigen-decomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Heusel et al. 2017).

    tr((S1 S2)^(1/2)) = tr((A S2 A)^(1/2)) with A = S1^(1/2): A S2 A is symmetric PSD, so
    both roots come from symmetric eigen-decompositions (stable, no SciPy).
    """
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_root = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet Inception distance between two feature sets (N, 2048)."""
    _check_features(real, fake)
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    return frechet_distance(
        real.mean(0), np.cov(real, rowvar=False), fake.mean(0), np.cov(fake, rowvar=False)
    )


# --------------------------------------------------------------------------- KID
def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x.y / d + 1)^3, the cubic kernel of Binkowski et al. 2018."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2: off-diagonal means of k(x, x') and k(y, y') minus twice mean k(x, y)."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * kxy.mean())


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception distance: mean and standard deviation of the unbiased MMD^2 over
    ``subsets`` random subsets of ``min(subset_size, N)`` vectors of each set."""
    _check_features(real, fake)
    size = min(subset_size, len(real), len(fake))
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(
            real[rng.choice(len(real), size, replace=False)].astype(np.float64),
            fake[rng.choice(len(fake), size, replace=False)].astype(np.float64),
        )
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


# --------------------------------------------------------------------------- IS
def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split (Salimans et al. 2016); mean and std over splits."""
    if logits.ndim != 2 or len(logits) < splits:
        raise ValueError(f"need at least {splits} logit vectors, got shape {logits.shape}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = []
    for part_p, part_log in zip(
        np.array_split(p, splits), np.array_split(log_p, splits), strict=True
    ):
        log_marginal = np.log(part_p.mean(axis=0, keepdims=True))
        kl = (part_p * (part_log - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- precision/recall
def _pairwise_distances(a: np.ndarray, b: np.ndarray, block: int = 1024) -> np.ndarray:
    out = np.empty((len(a), len(b)))
    b_sq = (b * b).sum(1)
    for start in range(0, len(a), block):
        part = a[start : start + block]
        d2 = (part * part).sum(1)[:, None] + b_sq[None, :] - 2.0 * part @ b.T
        out[start : start + block] = np.sqrt(np.clip(d2, 0, None))
    return out


def _manifold_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance of each vector to its k-th nearest other vector of the same set."""
    distances = _pairwise_distances(features, features)
    return np.partition(distances, k, axis=1)[:, k]  # index 0 is the vector itself


def _coverage(radii_of: np.ndarray, support: np.ndarray, queries: np.ndarray) -> float:
    """Fraction of ``queries`` inside at least one ball around ``support`` (radius radii_of)."""
    distances = _pairwise_distances(queries, support)
    return float((distances <= radii_of[None, :]).any(axis=1).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019): the manifold of a set is the
    union of balls around its vectors reaching their k-th nearest neighbour; precision is the
    share of generated vectors on the real manifold, recall the share of real ones on the
    generated manifold."""
    _check_features(real, fake)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} vectors per set")
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    precision = _coverage(_manifold_radii(real, k), real, fake)
    recall = _coverage(_manifold_radii(fake, k), fake, real)
    return precision, recall
