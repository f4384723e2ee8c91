"""Click-to-attention latency for the bench: what one click in the app's inspector costs."""

from __future__ import annotations

import time

import numpy as np
import torch

from .bench_report import AttentionLatency
from .bench_timing import synchronize
from .config import preset

ATTENTION_PRESET = "res64"  # the click-to-attention target is stated for 64x64


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100), linear interpolation, as numpy's default."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def attention_latency(
    device: torch.device, queries: int, preset_name: str = ATTENTION_PRESET, seed: int = 0
) -> AttentionLatency:
    """Click-to-attention: one ``attention_maps`` call (a new image and the maps of every
    attention layer for the clicked pixel) per query, on a fresh random latent each time."""
    from .attention import attention_maps, fold_spectral_norm
    from .models import Generator

    cfg = preset(preset_name).model
    torch.manual_seed(seed)
    trained = Generator(cfg).to(device).eval()
    state = {k: v.detach().to("cpu", copy=True) for k, v in trained.state_dict().items()}
    generator = fold_spectral_norm(trained)  # W / sigma once, not at every click
    start = time.perf_counter()  # what the inspector does with each new training snapshot:
    trained.load_state_dict(state)
    fold_spectral_norm(trained, into=generator)  # refilled, not rebuilt
    synchronize(device)
    load_ms = 1000 * (time.perf_counter() - start)
    rng = np.random.default_rng(seed)
    size = cfg.resolution
    attention_maps(generator, rng.standard_normal(cfg.z_dim), query=(0, 0))  # warm-up
    times = []
    for _ in range(queries):
        z = rng.standard_normal(cfg.z_dim).astype(np.float32)
        pixel = (int(rng.integers(size)), int(rng.integers(size)))
        start = time.perf_counter()
        attention_maps(generator, z, query=pixel)  # returns NumPy: already synchronised
        times.append(1000 * (time.perf_counter() - start))
    return AttentionLatency(
        preset=preset_name,
        resolution=size,
        queries=queries,
        threads=torch.get_num_threads(),
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
        max_ms=max(times),
        snapshot_load_ms=load_ms,
    )
