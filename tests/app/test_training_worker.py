"""The training worker: events reach the GUI thread throttled and in order, and pause / resume
/ stop pressed hundreds of times in any order never deadlock and end in a consistent state."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication

from app.training_worker import IDLE, LOADING, STOPPING, TrainingRequest, TrainingWorker
from sagan_engine.config import preset
from sagan_engine.events import SampleGrid, StateChanged, StepStats, TrainingStarted
from sagan_engine.runs import RunFolder
from tests.app.helpers import TINY

TIMEOUT = 60_000


def tiny_request(folder: Path, run_dir: Path, steps: int) -> TrainingRequest:
    model = {k: TINY[k] for k in ("g_ch", "d_ch", "z_dim")}
    train = {k: v for k, v in TINY.items() if k not in model}
    config = preset("demo").replace(model=model, train={**train, "steps": steps, "device": "cpu"})
    return TrainingRequest(config, str(folder), run_dir)


def stats(step: int) -> StepStats:
    return StepStats(step, 1.0, 2.0, 0.5, -0.5, {"G attention 16x16": 0.1}, 10.0, 0.1, 1.0, 9.0)


def grid(step: int) -> SampleGrid:
    return SampleGrid(step, np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 4), np.float32), None)


def test_flush_batches_stats_keeps_newest_grid_and_keeps_order(qtbot):
    worker = TrainingWorker()
    received = []
    worker.stats.connect(lambda batch: received.append(("stats", [s.step for s in batch])))
    worker.samples.connect(lambda g: received.append(("samples", g.step)))
    worker.state_changed.connect(lambda state: received.append(("state", state)))
    worker.started.connect(lambda event: received.append(("started", event.start_step)))
    events = [TrainingStarted("run", "cpu", "CPU", 0, 100, 8, (), ("G attention 16x16",))]
    events += [stats(step) for step in range(1, 51)] + [grid(10), grid(20)]
    events += [StateChanged("paused")] + [stats(51), grid(51), grid(52)]
    for event in events:
        worker._post(event)
    worker.flush()
    assert received == [
        ("started", 0),
        ("stats", list(range(1, 51))),
        ("samples", 20),
        ("state", "paused"),
        ("stats", [51]),
        ("samples", 52),
    ]
    received.clear()
    worker.flush()
    assert received == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hammering_pause_resume_stop_ends_consistently(qtbot, tiny_folder, tmp_path, seed):
    """Hundreds of random presses, during loading and training; no deadlock, no crash, and the
    session ends idle, with the checkpoint of the step it stopped at."""
    worker = TrainingWorker()
    states: list[str] = []
    threads: set[str] = set()
    worker.state_changed.connect(states.append)
    worker.stats.connect(lambda _batch: threads.add(threading.current_thread().name))
    run_dir = tmp_path / f"run{seed}"
    assert worker.start(tiny_request(tiny_folder, run_dir, steps=1_000_000))
    assert not worker.start(tiny_request(tiny_folder, tmp_path / "other", steps=5))
    rng = random.Random(seed)
    actions = [worker.pause, worker.resume, worker.toggle_pause]
    for press in range(300):
        if rng.random() < 0.01 * seed:  # some rounds stop early, then keep pressing
            worker.stop()
        rng.choice(actions)()
        if press % 10 == 0:
            QCoreApplication.processEvents()
        if press == 150 and worker.state == LOADING:  # let training begin for the second half
            qtbot.waitUntil(lambda: worker.state != LOADING, timeout=TIMEOUT)
    with qtbot.waitSignal(worker.session_ended, timeout=TIMEOUT) as ended:
        worker.stop()
        assert worker.state in (STOPPING, IDLE)
    finished = ended.args[0]
    assert worker.state == IDLE and states[-1] == IDLE and not worker.pause_requested
    qtbot.waitUntil(lambda: worker.wait(0), timeout=TIMEOUT)
    for control in actions + [worker.stop]:  # after the session: harmless no-ops
        control()
    assert worker.state == IDLE
    if finished is not None:  # stopped after loading: a checkpoint of the last step
        assert finished.reason == "stopped"
        assert RunFolder(run_dir).latest_checkpoint() == Path(finished.checkpoint)
        assert finished.checkpoint.endswith(f"step_{finished.step:06d}.safetensors")
    assert threads <= {threading.main_thread().name}  # signals arrive on the GUI thread


def test_a_new_session_after_the_last_one(qtbot, tiny_folder, tmp_path):
    worker = TrainingWorker()
    for index in range(2):
        with qtbot.waitSignal(worker.session_ended, timeout=TIMEOUT) as ended:
            assert worker.start(tiny_request(tiny_folder, tmp_path / f"run{index}", steps=3))
        assert ended.args[0].reason == "completed" and ended.args[0].step == 3
    snapshot = worker.generator_snapshot()  # the last session's G stays inspectable
    assert snapshot.config.model.g_ch == TINY["g_ch"] and snapshot.state and snapshot.step == 3
    worker.release()
    with pytest.raises(Exception, match="no training"):
        worker.generator_snapshot()


def test_stop_while_loading_never_trains(qtbot, tiny_folder, tmp_path):
    worker = TrainingWorker()
    errors = []
    worker.failed.connect(errors.append)
    with qtbot.waitSignal(worker.session_ended, timeout=TIMEOUT) as ended:
        worker.start(tiny_request(tiny_folder, tmp_path / "run", steps=1_000_000))
        worker.pause()
        worker.stop()
    assert errors == []
    # Either the load was cut short (nothing trained) or it had finished: then a checkpoint.
    if ended.args[0] is None:
        assert RunFolder(tmp_path / "run").latest_checkpoint() is None
    else:
        assert ended.args[0].reason == "stopped"
