"""The step slider replays the inspector's latent through the run's snapshots on the worker
thread (only the latest slider position renders), and exports every snapshot."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from app.jobs import JobRunner
from app.replay_view import ReplayView
from sagan_engine.checkpoint import load_generator
from sagan_engine.demo_model import demo_model_available, demo_model_path
from sagan_engine.snapshots import list_snapshots
from sagan_engine.trainer import Trainer
from tests.engine.conftest import synthetic_dataset, tiny_config


@pytest.fixture
def trained_run(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps=21, sample_every=100, checkpoint_every=100)
    Trainer(config, synthetic_dataset(), run).run()
    return run


def test_slider_replays_through_the_snapshots(qtbot, worker, trained_run, tmp_path):
    steps = [ref.step for ref in list_snapshots(trained_run)]
    assert steps == [0, 10, 20, 21]
    jobs = JobRunner()
    view = ReplayView(worker, jobs)
    qtbot.addWidget(view)
    view.show()
    z = np.random.default_rng(0).normal(size=8).astype(np.float32)
    shown = []
    view.frame_shown.connect(shown.append)
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        view.set_subject(str(trained_run), z, None, [(4, 5), (20, 20)])
    assert view.steps == steps and view.shown_step == 21  # starts at the newest snapshot
    assert view.slider.maximum() == 3 and view.slider.value() == 3
    latest_image = view.image_item.image.copy()

    shown.clear()
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        for value in (0, 2, 1, 0):  # a drag: only the last position need render
            view.slider.setValue(value)
    qtbot.wait(300)
    assert shown[-1] == 0 and view.shown_step == 0
    assert len(shown) <= 4
    assert "0 (1/4)" in view.step_label.text()
    assert np.abs(view.image_item.image.astype(int) - latest_image).max() > 0

    out = tmp_path / "replay.gif"
    with qtbot.waitSignal(view.export_finished, timeout=60_000):
        assert view.export_to(out) is not None
    with Image.open(out) as gif:
        assert gif.n_frames == len(steps)
    qtbot.waitUntil(lambda: view.gif_button.isEnabled(), timeout=5_000)
    view.clear()  # another model opened: no export of this run's replay is offered any more
    assert not view.gif_button.isEnabled() and view.run is None
    jobs.shutdown()


def test_hidden_view_computes_nothing(qtbot, worker, trained_run):
    view = ReplayView(worker, JobRunner())
    qtbot.addWidget(view)
    view.set_subject(str(trained_run), np.zeros(8, np.float32), None, [(1, 1)])
    qtbot.wait(300)
    assert view.shown_step is None
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        view.show()


def test_run_without_snapshots_says_so(qtbot, worker, tmp_path):
    view = ReplayView(worker, JobRunner())
    qtbot.addWidget(view)
    view.show()
    (tmp_path / "empty").mkdir()
    view.set_subject(str(tmp_path / "empty"), np.zeros(8, np.float32), None, [(1, 1)])
    qtbot.waitUntil(lambda: "no snapshots or checkpoints" in view.note.text(), timeout=30_000)
    assert not view.gif_button.isEnabled()


@pytest.mark.skipif(not demo_model_available(), reason="resources/demo_model is not built")
def test_the_demo_model_replays_through_the_states_shipped_beside_it(qtbot, worker):
    """A newcomer's first model has no run folder, yet attention over training works."""
    model = demo_model_path()
    steps = [ref.step for ref in list_snapshots(model)]
    assert len(steps) >= 4 and steps[-1] == load_generator("demo").step
    view = ReplayView(worker, JobRunner())
    qtbot.addWidget(view)
    view.show()
    z = np.random.default_rng(0).normal(size=64).astype(np.float32)
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        view.set_subject(str(model), z, 5, [(10, 12)])
    assert view.steps == steps and view.shown_step == steps[-1]
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        view.slider.setValue(0)
    assert view.shown_step == steps[0]


def test_damaged_states_hide_no_other(qtbot, worker, trained_run):
    """The last snapshot cut short: the replay starts at the newest one that can be read; a
    damaged one in the middle blanks the picture and says so, not the step before's image."""
    from sagan_engine.runs import RunFolder

    for step in (10, 21):
        path = RunFolder(trained_run).snapshot_path(step)
        path.write_bytes(path.read_bytes()[:100])
    view = ReplayView(worker, JobRunner())
    qtbot.addWidget(view)
    view.show()
    z = np.zeros(8, np.float32)
    with qtbot.waitSignal(view.frame_shown, timeout=30_000):
        view.set_subject(str(trained_run), z, None, [(4, 5)])
    assert view.shown_step == 20 and view.slider.maximum() == 3
    with qtbot.waitSignal(worker.failed, timeout=30_000):
        view.slider.setValue(1)
    assert view.image_item.image is None and "(cannot be read)" in view.step_label.text()
