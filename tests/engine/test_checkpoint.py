"""Checkpoints: round trip, atomic writes, and every kind of bad file gives a clear error."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest
import torch

from sagan_engine.checkpoint import load_checkpoint, load_generator, save_checkpoint
from sagan_engine.config import RunConfig
from sagan_engine.errors import CheckpointError
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ckpt") / "run"
    trainer = Trainer(tiny_config(steps=3, checkpoint_every=3), synthetic_dataset(classes=2), run)
    trainer.run()
    return run, trainer


def test_round_trip_keeps_every_tensor_and_the_config(trained_run):
    run, trainer = trained_run
    ckpt = load_checkpoint(run / "checkpoints" / "step_000003.safetensors")
    assert ckpt.step == 3
    assert ckpt.config == trainer.config
    assert ckpt.class_names == ["class0", "class1"]
    for prefix, module in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        state = ckpt.state_dict(prefix)
        assert state.keys() == module.state_dict().keys()
        for key, value in module.state_dict().items():
            assert torch.equal(state[key], value), (prefix, key)


def test_load_generator_from_run_folder_uses_the_ema_weights(trained_run):
    run, trainer = trained_run
    loaded = load_generator(run)
    assert loaded.is_ema and loaded.step == 3 and not loaded.generator.training
    z = torch.randn(2, trainer.config.model.z_dim)
    y = torch.tensor([0, 1])
    trainer.G_ema.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.generator(z, y), trainer.G_ema(z, y))


def test_truncated_and_corrupted_files_give_a_clear_error(trained_run, tmp_path):
    run, _ = trained_run
    data = (run / "checkpoints" / "step_000003.safetensors").read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="garbage.safetensors"):
        load_checkpoint(garbage)
    flipped = bytearray(data)
    flipped[20:40] = b"#" * 20  # damage the JSON header
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="damaged.safetensors"):
        load_checkpoint(damaged)


def test_a_foreign_safetensors_file_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a SAGAN Studio checkpoint"):
        load_checkpoint(path)


def test_a_checkpoint_of_another_architecture_is_refused(trained_run, tmp_path):
    run, trainer = trained_run
    ckpt = load_checkpoint(run / "checkpoints" / "step_000003.safetensors")
    other = ckpt.config.replace(model={"g_ch": 8})
    path = save_checkpoint(
        tmp_path / "mismatch.safetensors", 3, other, ckpt.class_names, ckpt.tensors, ckpt.extra
    )
    with pytest.raises(CheckpointError, match="do not fit"):
        load_generator(path)


def test_bad_config_in_checkpoint_is_named(trained_run, tmp_path):
    run, _ = trained_run
    ckpt = load_checkpoint(run / "checkpoints" / "step_000003.safetensors")
    bad = RunConfig.from_dict(ckpt.config.to_dict())
    bad.model.resolution = 48  # invalid, bypassing validation
    path = save_checkpoint(tmp_path / "badcfg.safetensors", 3, bad, [], ckpt.tensors)
    with pytest.raises(CheckpointError, match="model.resolution"):
        load_checkpoint(path)


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling would create the marker file


PICKLE_SUFFIXES = [".pt", ".pth", ".ckpt"]


@pytest.mark.parametrize("suffix", PICKLE_SUFFIXES)
def test_pickle_payload_is_never_run(tmp_path, suffix):
    marker = tmp_path / "pwned"
    evil = tmp_path / f"model{suffix}"
    evil.write_bytes(pickle.dumps(_Payload(str(marker))))
    for load in (load_checkpoint, load_generator):
        with pytest.raises(CheckpointError, match="pickle"):
            load(evil)
    assert not marker.exists()


def test_pickle_payload_is_never_run_through_the_cli(tmp_path):
    """As a user would, in a process of its own: ``sagan-engine info --run`` on each kind of
    pickle file (one process for the three: starting Python and torch is most of the cost)."""
    evils, markers = [], []
    for suffix in PICKLE_SUFFIXES:
        markers.append(tmp_path / f"pwned{suffix}")
        evils.append(tmp_path / f"model{suffix}")
        evils[-1].write_bytes(pickle.dumps(_Payload(str(markers[-1]))))
    launcher = (
        "import sys\nfrom sagan_engine.cli import main\n"
        "codes = [main(['info', '--run', path]) for path in sys.argv[1:]]\n"
        "print(codes)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", launcher, *map(str, evils)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip() == "[2, 2, 2]", result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and all("pickle" in line for line in errors), result.stderr
    assert not any(marker.exists() for marker in markers)


def test_missing_paths_and_empty_run_folders(tmp_path):
    with pytest.raises(CheckpointError, match="no such"):
        load_generator(tmp_path / "nothing")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoints"):
        load_generator(tmp_path / "empty_run")


def test_save_is_atomic_when_the_write_fails(trained_run, tmp_path, monkeypatch):
    run, _ = trained_run
    ckpt = load_checkpoint(run / "checkpoints" / "step_000003.safetensors")
    target = tmp_path / "c.safetensors"
    save_checkpoint(target, 3, ckpt.config, ckpt.class_names, ckpt.tensors, ckpt.extra)
    before = target.read_bytes()

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        save_checkpoint(target, 4, ckpt.config, ckpt.class_names, ckpt.tensors, ckpt.extra)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temp file left
