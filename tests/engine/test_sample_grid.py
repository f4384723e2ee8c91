"""Large sample requests: bounded batches streamed into the grid, and an up-front refusal
with the estimated size of what cannot be written or held (issue 15, item 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine import sample_grid
from sagan_engine.errors import RequestTooLarge
from sagan_engine.imaging import grid_shape, make_grid
from sagan_engine.models import Generator
from sagan_engine.sample_grid import MAX_GRID_PIXELS, check_grid_fits, render_grid
from sagan_engine.sampling import generate, latents
from tests.engine.cli_helpers import assert_one_error_line, run_cli, tiny_checkpoint
from tests.engine.conftest import tiny_config


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(tiny_config().model).eval()


def test_batches_fill_the_same_grid_as_one_pass(generator, monkeypatch):
    z = latents(11, generator.cfg.z_dim, seed=3)
    expected = make_grid(generate(generator, z), columns=4, padding=1)
    sizes = []
    real_generate = sample_grid.generate

    def counting(g, z, labels=None):
        sizes.append(len(z))
        return real_generate(g, z, labels)

    monkeypatch.setattr(sample_grid, "generate", counting)
    progress = []
    grid = render_grid(
        generator,
        z,
        None,
        columns=4,
        padding=1,
        batch=4,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert sizes == [4, 4, 3]  # never more than one batch in G at a time
    assert progress == [(4, 11), (8, 11), (11, 11)]
    assert grid.shape == expected.shape
    # the same images; a different batch size may change a last bit of a convolution
    assert np.abs(grid.astype(int) - expected.astype(int)).max() <= 1


def test_grid_shape_is_what_make_grid_makes():
    images = np.zeros((7, 5, 6, 3), np.uint8)
    assert make_grid(images, columns=3, padding=2).shape[:2] == grid_shape(7, 5, 6, 3, 2)


def test_too_many_pixels_are_refused_with_the_size():
    with pytest.raises(RequestTooLarge, match="megapixels") as info:
        check_grid_fits(1_000_000, 32, padding=2, memory=None)
    text = str(info.value)
    assert "1,000,000 samples" in text and "34,002x34,002 pixels" in text
    most = MAX_GRID_PIXELS // 34**2
    assert f"at most about {most:,} samples" in text
    check_grid_fits(most // 2, 32, padding=2, memory=None)  # half of it passes


def test_more_than_the_free_memory_is_refused():
    with pytest.raises(RequestTooLarge, match="needs about .* of memory, but only 1.0 MB"):
        check_grid_fits(1000, 32, memory=1_000_000)
    assert check_grid_fits(4, 32, padding=0, memory=1_000_000) == (64, 64)


def test_cli_refuses_a_huge_n_at_once(tmp_path):
    checkpoint = tiny_checkpoint(tmp_path)
    out = tmp_path / "huge.png"
    result = run_cli("sample", "--run", str(checkpoint), "--n", "5000000", "--out", str(out))
    assert_one_error_line(result, "5,000,000 samples", "megapixels")
    assert not out.exists()
