"""`sagan-engine evaluate` on a run folder and on two image folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sagan_engine.cli import main
from sagan_engine.data import ImageDataset
from sagan_engine.metrics import load_evaluations
from sagan_engine.trainer import Trainer

from .conftest import tiny_config


def _folder(path, seed: int, n: int = 20, size: int = 32):
    path.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path / f"{i}.png")
    return path


@pytest.fixture
def data_folder(tmp_path):
    return _folder(tmp_path / "data", 0)


def test_evaluate_two_folders_writes_json(tmp_path, data_folder, capsys, monkeypatch):
    monkeypatch.delenv("SAGAN_INCEPTION_WEIGHTS", raising=False)
    other = _folder(tmp_path / "other", 1)
    out = tmp_path / "result.json"
    code = main(
        ["evaluate", "--data", str(other), "--against", str(data_folder), "--metrics",
         "swd,fid", "--json", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "swd_avg:" in printed and "fid: unavailable" in printed
    (result,) = load_evaluations(out)
    assert result.protocol.n_real == 20 and result.protocol.resolution == 32
    assert str(data_folder) in result.protocol.reference
    assert json.loads(out.read_text())["evaluations"][0]["unavailable"]["fid"]


def test_evaluate_run_against_its_training_data(tmp_path, data_folder, capsys):
    from sagan_engine.data import load_image_folder

    dataset = load_image_folder(data_folder, 32, cache_dir=None)
    config = tiny_config(steps=2).replace(data={"folder": str(data_folder)})
    run = tmp_path / "run"
    Trainer(config, ImageDataset(dataset.images, dataset.labels, [], [], "x"), run).run()
    assert main(["evaluate", "--run", str(run), "--n", "16", "--quiet"]) == 0
    assert "swd_16:" in capsys.readouterr().out
    (result,) = load_evaluations(run)  # a run folder keeps its results in evaluation.json
    assert result.step == 2 and result.protocol.n_generated == 16
    assert result.source.endswith("generator)")  # what was evaluated is recorded
    assert "a random 16 of 20 images" in result.protocol.reference
    # --json at the run's own evaluation.json wiped its results (then added this one twice).
    own = str(run / "evaluation.json")
    assert main(["evaluate", "--run", str(run), "--n", "16", "--quiet", "--json", own]) == 2
    assert "is a file of the run" in capsys.readouterr().err
    assert len(load_evaluations(run)) == 1


def test_evaluate_refuses_bad_input(tmp_path, data_folder, capsys):
    assert main(["evaluate", "--data", str(data_folder), "--quiet"]) == 2
    assert "--against" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(data_folder), "--against", str(data_folder),
                 "--metrics", "swd,bogus"]) == 2  # fmt: skip
    assert "bogus" in capsys.readouterr().err
    # One image has no spread: its SWD read 0.0000 as if it matched the reference perfectly.
    one = _folder(tmp_path / "one", seed=3, n=1)
    assert main(["evaluate", "--data", str(one), "--against", str(data_folder), "--quiet"]) == 2
    assert "1 usable image; at least 2 are needed" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.png").write_bytes(b"not a png")
    assert main(["evaluate", "--data", str(corrupt), "--against", str(data_folder)]) == 2
    assert f"{corrupt}: no readable image" in capsys.readouterr().err
    # A --json that cannot be written is refused before the evaluation, not after it.
    out = tmp_path / "missing" / "result.json"
    folders = ["--data", str(data_folder), "--against", str(data_folder), "--quiet"]
    assert main(["evaluate", *folders, "--json", str(out)]) == 2
    captured = capsys.readouterr()
    assert str(out) in captured.err and "not found" in captured.err
    assert "evaluated" not in captured.out
