"""Helpers of the GUI tests: tiny image folders and a tiny model typed into the settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, count: int, seed: int = 0, size: int = 40) -> Path:
    """``count`` small PNGs with some structure (gradients and a blob), all different."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for index in range(count):
        cx, cy = rng.uniform(0.2, 0.8, 2)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) * 20)
        rgb = np.stack([xx, yy, blob], axis=-1) * rng.uniform(0.5, 1.0, 3) * 255
        Image.fromarray(rgb.astype(np.uint8)).save(folder / f"image_{index:02d}.png")
    return folder


TINY = {
    "g_ch": 4,
    "d_ch": 4,
    "z_dim": 16,
    "batch_size": 4,
    "steps": 6,
    "sample_every": 2,
    "log_every": 1,
    "checkpoint_every": 3,
    "n_samples": 4,
}


def set_tiny_model(window, steps: int = 6, g_attention=(8, 16)) -> None:
    """Type a tiny model into the settings panel, as a user would."""
    panel = window.model_panel
    panel.more_button.setChecked(True)
    for name, value in {**TINY, "steps": steps}.items():
        getattr(panel, name).setValue(value)
    panel.g_attention.set_value(g_attention)
