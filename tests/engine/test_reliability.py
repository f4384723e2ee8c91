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
from .data_helpers import write_images

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


def _train_in_a_terminal(tmp_path: Path, ignore_hangup: bool = False, disk: bool = False):
    """`sagan-engine train` of a tiny model for ever (no checkpoint before the end), started
    as a shell starts it, in a process group of its own; ``disk``: from a folder through the
    disk cache and a DataLoader worker process. Returns the process once it is training, and
    its run folder."""
    run, config = tmp_path / "run", tmp_path / "config.json"
    settings = tiny_config(steps=1_000_000, log_every=1, checkpoint_every=1_000_000)
    data = ["--demo"]
    if disk:
        settings = settings.replace(data={"cache": "disk", "loader_workers": 1})
        write_images(tmp_path / "images", [f"{i}.png" for i in range(40)])
        data = ["--data", str(tmp_path / "images")]
    settings.save(config)
    args = [sys.executable, "-m", "sagan_engine", "train", *data, "--config", str(config)]
    args += ["--out", str(run)]

    def start() -> None:
        # A terminal's shell starts a program with the stop signals at their defaults; a
        # test run launched under nohup or as a background job would hand them down ignored
        # (the engine rightly keeps them so), and the stop tests would wait in vain.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        if ignore_hangup:  # `nohup` ignores SIGHUP before the program starts
            signal.signal(signal.SIGHUP, signal.SIG_IGN)

    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=start,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while _logged_steps(run) < 3:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"did not start training: {proc.communicate()[1]}")
        time.sleep(0.1)
    return proc, run


def _logged_steps(run: Path) -> int:
    """Steps with their losses in metrics.csv (not the rows of attention statistics)."""
    path = run / "metrics.csv"
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text().splitlines()[1:] if line.split(",")[1:2] != [""])


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_stop_signals_to_the_process_group_stop_the_run_with_a_checkpoint(tmp_path, signum):
    """A scheduler's SIGTERM (scancel, a time limit, docker stop; torchrun passes it on) and
    a closed terminal's SIGHUP stop after the step and save, as the first Ctrl-C does: they
    used to kill the run with everything since its last checkpoint. Sent to the whole
    process group, twice (Slurm signals every process, and torchrun forwards its own):
    neither the second copy nor the DataLoader worker's death may cut the run short."""
    proc, run = _train_in_a_terminal(tmp_path, disk=True)
    os.killpg(proc.pid, getattr(signal, signum))
    os.killpg(proc.pid, getattr(signal, signum))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"{signum}: stopping after the current step and saving" in err
    latest = RunFolder(run).latest_checkpoint()
    assert latest is not None and load_checkpoint(latest).step >= 3


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_a_run_under_nohup_goes_on_when_the_terminal_closes(tmp_path):
    proc, run = _train_in_a_terminal(tmp_path, ignore_hangup=True)
    proc.send_signal(signal.SIGHUP)
    before = _logged_steps(run)
    deadline = time.monotonic() + 60
    while _logged_steps(run) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert still_running and _logged_steps(run) >= before + 3, err
    assert "SIGHUP" not in err


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
