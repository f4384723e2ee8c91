"""Faults while training: killed processes, full disks, vanished folders, OOM, hammering."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from sagan_engine import checkpoint as ckpt_io
from sagan_engine.checkpoint import load_checkpoint, load_generator
from sagan_engine.errors import TrainingError
from sagan_engine.events import CheckpointSaved, StepStats, TrainingFailed, TrainingFinished
from sagan_engine.runs import RunFolder
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_while_writing_checkpoints_never_loses_the_last_good_one(tmp_path):
    run = tmp_path / "run"
    rng = random.Random(1234)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    kills = 0
    for attempt in range(4):
        args = [sys.executable, "-m", "tests.engine.kill_target", str(run)]
        if attempt:
            args.append("resume")
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE)
        # Wait until it is writing checkpoints, then kill it at a random moment.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(RunFolder(run).checkpoints()) < 1:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode())
            time.sleep(0.05)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
        latest = RunFolder(run).latest_checkpoint()
        assert latest is not None
        loaded = load_generator(latest)  # must load, whatever moment the kill hit
        assert loaded.step >= 1
    assert kills == 4
    # Leftover temporary files are never mistaken for checkpoints.
    names = [p.name for p in (run / "checkpoints").iterdir()]
    assert all(
        n.startswith("step_") and n.endswith(".safetensors") or n.endswith(".tmp") for n in names
    )


def test_disk_full_while_saving_is_a_clear_error_and_keeps_the_old_checkpoint(
    tmp_path, monkeypatch
):
    events = []
    trainer = Trainer(
        tiny_config(steps=6, checkpoint_every=3),
        synthetic_dataset(),
        tmp_path / "run",
        listeners=[events.append],
    )
    real_write = ckpt_io.write_atomically

    def full_disk(path, data):
        if "000006" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(ckpt_io, "write_atomically", full_disk)
    with pytest.raises(TrainingError, match="No space left on device"):
        trainer.run()
    assert isinstance(events[-1], TrainingFailed)
    assert "step_000006" in events[-1].message
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "step_000003.safetensors").step == 3


def test_run_folder_removed_while_training_is_a_clear_error(tmp_path):
    import shutil

    events = []
    run = tmp_path / "run"
    trainer = Trainer(
        tiny_config(steps=50, checkpoint_every=10, log_every=1, sample_every=100),
        synthetic_dataset(),
        run,
        listeners=[events.append],
    )
    removed = []

    def remove_folder(event):
        if isinstance(event, CheckpointSaved) and not removed:
            shutil.rmtree(run)
            removed.append(True)

    trainer.add_listener(remove_folder)
    with pytest.raises(TrainingError):
        trainer.run()
    failed = events[-1]
    assert isinstance(failed, TrainingFailed)
    assert str(run) in failed.message or "No such file" in failed.message


def test_out_of_memory_suggests_a_smaller_batch(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(steps=3), synthetic_dataset(), tmp_path / "run")
    events = []
    trainer.add_listener(events.append)

    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "_train_step", oom)
    with pytest.raises(TrainingError, match="smaller batch"):
        trainer.run()
    assert "Traceback" not in events[-1].message and "smaller batch" in events[-1].message


def test_hammering_pause_resume_stop_never_deadlocks(tmp_path):
    cfg = tiny_config(steps=100_000, log_every=5, sample_every=100_000, checkpoint_every=100_000)
    events = []
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "run", listeners=[events.append])
    started = threading.Event()
    trainer.add_listener(lambda e: started.set() if isinstance(e, StepStats) else None)
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    assert started.wait(60)
    rng = random.Random(7)
    actions = [trainer.pause, trainer.resume]
    for _ in range(10):
        for _ in range(50):
            rng.choice(actions)()
            if rng.random() < 0.05:
                time.sleep(0.002)
        trainer.pause()
        deadline = time.monotonic() + 60
        while trainer.state != "paused" and time.monotonic() < deadline:
            time.sleep(0.005)
        assert trainer.state == "paused", "a pause request was never honoured"
        trainer.resume()
    trainer.resume()
    for _ in range(50):
        rng.choice(actions + [trainer.stop])()
    trainer.stop()
    thread.join(120)
    assert not thread.is_alive(), "the training thread deadlocked"
    assert isinstance(events[-1], TrainingFinished) and events[-1].reason == "stopped"
    assert trainer.state == "finished"
    assert load_checkpoint(events[-1].checkpoint).step == events[-1].step
