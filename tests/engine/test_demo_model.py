"""The bundled demo model: addressable as ``demo`` everywhere a run is, and far closer to the
demo data than an untrained generator under the SWD."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
import torch
from PIL import Image

from sagan_engine.checkpoint import load_checkpoint, load_generator, resolve_checkpoint
from sagan_engine.cli import main as cli_main
from sagan_engine.d_attention import load_discriminator
from sagan_engine.data import load_demo_dataset
from sagan_engine.demo_model import (
    DEMO_METRICS_FILE,
    DEMO_MODEL_DIR,
    DEMO_MODEL_FILE,
    DEMO_SNAPSHOTS,
    FIRST_LOOK_FILE,
    FirstLook,
    demo_first_look,
    demo_model_available,
    demo_model_path,
    export_demo_model,
    export_replay_states,
    is_demo_checkpoint,
    shipped_evaluation_dir,
    shipped_metrics_path,
)
from sagan_engine.errors import CheckpointError
from sagan_engine.metrics.evaluation import generate_images, load_evaluations, random_sample
from sagan_engine.metrics.swd import SWDReference
from sagan_engine.models import Generator
from sagan_engine.snapshots import list_snapshots
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

needs_demo_model = pytest.mark.skipif(
    not demo_model_available(), reason="resources/demo_model is not built in this checkout"
)


@needs_demo_model
def test_demo_is_a_run_name_and_a_file_of_that_name_wins(tmp_path, monkeypatch):
    assert resolve_checkpoint("demo") == demo_model_path()
    loaded = load_generator("demo")
    assert is_demo_checkpoint(loaded.checkpoint)
    assert loaded.config.model.resolution == 32 and len(loaded.class_names) == 8
    assert all(p.dtype == torch.float32 for p in loaded.generator.parameters())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()  # a folder called demo here: the user's, not ours
    with pytest.raises(CheckpointError, match="holds no checkpoints"):
        resolve_checkpoint("demo")


@needs_demo_model
def test_demo_model_is_far_closer_to_the_data_than_an_untrained_generator():
    loaded = load_generator("demo")
    n = 256
    real = random_sample(load_demo_dataset(32).images, n, seed=1)
    reference = SWDReference(real, seed=1)
    trained = reference.distance(generate_images(loaded.generator, loaded.config, n, seed=2))
    torch.manual_seed(0)
    untrained = Generator(loaded.config.model).eval()
    baseline = reference.distance(generate_images(untrained, loaded.config, n, seed=2))
    assert trained.average < 0.5 * baseline.average, (trained.average, baseline.average)


@needs_demo_model
def test_the_shipped_quality_figure_belongs_to_the_shipped_weights():
    """resources/demo_model/evaluation.json (the Quality panel's figure for the demo model)
    was measured on this very file: same step, the window's protocol, a plausible SWD."""
    (shipped,) = load_evaluations(DEMO_MODEL_DIR)
    assert shipped_evaluation_dir(demo_model_path()) == DEMO_MODEL_DIR
    assert shipped.step == load_generator("demo").step
    assert shipped.source.startswith(DEMO_MODEL_FILE)
    assert shipped.protocol.n_generated == 2000 and shipped.protocol.seed == 0
    assert 0 < shipped.values["swd_avg"] < 100


def test_the_first_look_file_is_read_or_ignored_when_malformed(tmp_path):
    path = tmp_path / FIRST_LOOK_FILE
    assert demo_first_look(tmp_path) is None  # missing
    path.write_text('{"seed": 3, "sample": 7, "query": [4, 5]}')
    assert demo_first_look(tmp_path) == FirstLook(3, 7, (4, 5))
    for bad in ('{"seed": 3}', "not json", '{"seed": 1, "sample": 2, "query": [1]}'):
        path.write_text(bad)
        assert demo_first_look(tmp_path) is None, bad


@needs_demo_model
def test_the_shipped_first_look_is_a_pixel_of_a_grid_sample():
    chosen = demo_first_look()
    assert chosen is not None and 0 <= chosen.sample < 36  # the window's first grid: 36
    resolution = load_generator("demo").config.model.resolution
    assert all(0 <= v < resolution for v in chosen.query)


@needs_demo_model
def test_cli_samples_the_demo_model(tmp_path):
    out = tmp_path / "grid.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sagan_engine",
            "sample",
            "--run",
            "demo",
            "--n",
            "8",
            "--columns",
            "4",
            "--padding",
            "0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (4 * 32, 2 * 32)


def test_export_keeps_the_ema_generator_and_d_in_fp16(tmp_path):
    config = tiny_config(steps=2).replace(data={"folder": str(tmp_path / "emoji-copy")})
    trainer = Trainer(config, synthetic_dataset(classes=2), tmp_path / "run")
    trainer.run()
    path = export_demo_model(tmp_path / "run", tmp_path / "export")
    assert path.name == DEMO_MODEL_FILE
    loaded = load_generator(path)
    # Its data are the bundled set, not the exporting machine's copy of it (the run's folder).
    assert load_generator(tmp_path / "run").config.data.folder == str(tmp_path / "emoji-copy")
    assert loaded.config.data.folder is None
    assert loaded.is_ema and loaded.step == 2 and loaded.class_names == ["class0", "class1"]
    # The weights, in fp16; the buffers (batch-norm statistics, spectral-norm vectors) are
    # measured again on these weights at export.
    exported = loaded.generator.state_dict()
    for name, value in trainer.G_ema.named_parameters():
        assert torch.equal(exported[name], value.detach().half().float()), name
    # D of the same step, for "what D looks at"; no optimizer state.
    discriminator = load_discriminator(path).discriminator.state_dict()
    for name, value in trainer.D.state_dict().items():
        assert torch.equal(discriminator[name], value.half().float()), name
    assert {key.split("/")[0] for key in load_checkpoint(path).tensors} == {"G_ema", "D"}
    raw = load_generator(export_demo_model(tmp_path / "run", tmp_path / "raw", weights="G"))
    assert not raw.is_ema
    weight = "blocks.0.conv1.parametrizations.weight.original"
    assert torch.equal(
        raw.generator.state_dict()[weight], trainer.G.state_dict()[weight].half().float()
    )
    assert not torch.equal(
        raw.generator.state_dict()[weight], loaded.generator.state_dict()[weight]
    )


def test_export_ships_the_training_log_up_to_the_exported_step(tmp_path):
    """The window's curves and `export --run demo` read the log beside the model: it must end
    at the model's step, even when the run trained on after the checkpoint exported."""
    run = tmp_path / "run"
    Trainer(tiny_config(steps=6, log_every=1), synthetic_dataset(classes=2), run).run()
    exported = export_demo_model(run / "checkpoints" / "step_000003.safetensors", tmp_path / "x")
    with open(tmp_path / "x" / DEMO_METRICS_FILE, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    with open(run / "metrics.csv", newline="") as handle:
        source_header, *source_rows = list(csv.reader(handle))
    up_to_3 = [row for row in source_rows if int(row[0]) <= 3 and any(row[1:])]
    assert header == source_header and len(up_to_3) < len(source_rows)
    assert [row[0] for row in rows] == [row[0] for row in up_to_3]
    for row, source in zip(rows, up_to_3, strict=True):  # six significant digits
        for cell, original in zip(row[1:], source[1:], strict=True):
            assert cell == original == "" or float(cell) == pytest.approx(float(original), 1e-5)
    assert load_generator(exported).step == 3
    # Only the demo model's own folder counts as shipped.
    assert shipped_metrics_path(exported) is None
    # A run without a log: the stale one of an earlier export goes, it would describe another.
    (run / "metrics.csv").unlink()
    export_demo_model(run, tmp_path / "x")
    assert not (tmp_path / "x" / DEMO_METRICS_FILE).exists()


def test_cli_exports_the_demo_models_training_log(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    Trainer(tiny_config(steps=3, log_every=1), synthetic_dataset(classes=2), run).run()
    shipped = tmp_path / "shipped"
    export_demo_model(run, shipped)
    monkeypatch.setattr("sagan_engine.demo_model.DEMO_MODEL_DIR", shipped)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "log.csv"
    assert cli_main(["export", "--run", "demo", "--csv", str(out)]) == 0
    assert out.read_bytes() == (shipped / DEMO_METRICS_FILE).read_bytes()
    assert cli_main(["info", "--run", "demo"]) == 0  # says what the model brings
    printed = capsys.readouterr().out
    assert "EMA of G and D in fp16, its training log, 1 state over training" in printed, printed
    (shipped / DEMO_METRICS_FILE).unlink()
    assert cli_main(["export", "--run", "demo", "--csv", str(out)]) != 0


def test_export_ships_states_over_training_that_the_replay_lists(tmp_path, monkeypatch):
    """`attention over training` works on the demo model: its states ship beside it, log-
    spaced, from the run's checkpoints and snapshots, the last one the exported model."""
    run = tmp_path / "run"
    config = tiny_config(
        steps=30, log_every=10, checkpoint_every=7, keep_checkpoints=10, sample_every=100
    )
    Trainer(config, synthetic_dataset(classes=2), run).run()
    source = run / "checkpoints" / "step_000021.safetensors"  # the run trained on past it
    shipped = tmp_path / "shipped"
    model = export_demo_model(source, shipped)
    files = sorted((shipped / "snapshots").glob("step_*.safetensors"))
    steps = [load_generator(path).step for path in files]
    # Candidates up to 21: snapshots 0 (not a trained state), 10, 20; checkpoints 7, 14, 21.
    assert 2 <= len(files) <= DEMO_SNAPSHOTS and steps == sorted(steps)
    assert steps[0] == 7 and steps[-1] == 21 and set(steps) <= {7, 10, 14, 20, 21}
    assert all(load_generator(path).config.data.folder is None for path in files)
    last = load_generator(files[-1]).generator.state_dict()
    for name, value in load_generator(model).generator.state_dict().items():
        assert torch.equal(last[name], value), name
    # The replay of the demo model lists them; of another lone checkpoint, itself only.
    monkeypatch.setattr("sagan_engine.demo_model.DEMO_MODEL_DIR", shipped)
    assert [ref.step for ref in list_snapshots(model)] == steps
    assert [ref.step for ref in list_snapshots(source)] == [21]
    # Exported again with fewer states kept: the earlier files go.
    export_replay_states(load_checkpoint(source), shipped, keep=2)
    assert [ref.step for ref in list_snapshots(model)] == [7, 21]
    # States before a share of the shipped step are left out (noise to the eye).
    monkeypatch.setattr("sagan_engine.demo_model.EARLIEST_REPLAY_SHARE", 0.5)
    export_replay_states(load_checkpoint(source), shipped)
    assert [ref.step for ref in list_snapshots(model)] == [14, 20, 21]
