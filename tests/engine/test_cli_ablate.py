"""``sagan-engine attention --ablate LAYER`` writes normal | without | difference."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sagan_engine.attention_ablation import render_without_attention
from sagan_engine.checkpoint import load_generator
from sagan_engine.cli import main
from sagan_engine.sampling import latents
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ablate") / "run"
    Trainer(
        tiny_config(steps=1, sample_every=1, checkpoint_every=1), synthetic_dataset(), run
    ).run()
    return run


def test_ablation_figure_has_three_panels(tiny_run, tmp_path, capsys):
    out = tmp_path / "ablate.png"
    assert main(["attention", "--run", str(tiny_run), "--ablate", "16", "--out", str(out)]) == 0
    assert "without G attention 16x16" in capsys.readouterr().out
    figure = np.asarray(Image.open(out).convert("RGB"))
    scale, cell = 192 // 32, 192  # cells of 192 pixels, 6 pixels apart
    assert figure.shape == (18 + cell + 12, 3 * (cell + 6) + 6, 3)
    loaded = load_generator(tiny_run)
    expected = render_without_attention(loaded.generator, latents(1, 8, 0), None, "16")
    top = 18 + 6
    for index, picture in enumerate([expected.image, expected.ablated]):
        left = 6 + index * (cell + 6)
        panel = figure[top : top + cell, left : left + cell]
        np.testing.assert_array_equal(panel[::scale, ::scale], picture)
    heat = figure[top : top + cell, 6 + 2 * (cell + 6) : 6 + 2 * (cell + 6) + cell]
    assert heat.std() > 0  # the difference map, scaled to its largest value


def test_unknown_layer_and_missing_query_are_one_line_errors(tiny_run, tmp_path, capsys):
    out = str(tmp_path / "x.png")
    assert main(["attention", "--run", str(tiny_run), "--ablate", "64", "--out", out]) == 2
    assert "no attention layer '64'" in capsys.readouterr().err
    assert main(["attention", "--run", str(tiny_run), "--out", out]) == 2
    assert "--query" in capsys.readouterr().err
