"""Helpers shared by the tests of the image-folder loading (test_data_decode, test_data_scan,
test_data_npz_cache, test_demo_dataset): small solid-colour image files and pixel probes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tests.engine import bad_images

BLUE, GREEN, RED = bad_images.BLUE, bad_images.GREEN, bad_images.RED
CORPUS, Case, solid = bad_images.CORPUS, bad_images.Case, bad_images.solid
write_case, write_corpus = bad_images.write_case, bad_images.write_corpus

RES = 16


def write_images(folder: Path, names: list[str], colour=RED, size=(20, 20)) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        solid(colour, size).save(path)


def shown(path: Path) -> str:
    return os.fsencode(path).decode("utf-8", "replace")


def pixel(image: np.ndarray, where: tuple[float, float]) -> np.ndarray:
    row, col = (min(int(f * image.shape[i]), image.shape[i] - 1) for i, f in enumerate(where))
    return image[row, col].astype(int)
