"""Background jobs and the inspector worker: results arrive on the GUI thread, cancel works,
and a burst of attention queries is answered with the newest one only."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
import torch

from app.inspector_worker import InspectorWorker
from app.jobs import JobRunner
from sagan_engine.config import preset
from sagan_engine.errors import DataError
from sagan_engine.models import Generator
from sagan_engine.trainer import GeneratorSnapshot

TIMEOUT = 30_000


@pytest.fixture
def runner(qtbot):
    jobs = JobRunner()
    yield jobs
    jobs.shutdown()


def test_job_result_and_failure_arrive_on_the_gui_thread(qtbot, runner):
    seen = []
    job = runner.start(lambda job: threading.current_thread() is threading.main_thread())
    job.succeeded.connect(lambda value: seen.append((value, threading.current_thread().name)))
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT):
        pass
    assert seen == [(False, threading.main_thread().name)]

    def fail(job):
        raise DataError("/data: folder not found")

    job = runner.start(fail)
    with qtbot.waitSignal(job.failed, timeout=TIMEOUT) as failed:
        pass
    assert failed.args == ["/data: folder not found", ""]


def test_job_progress_arrives_on_the_gui_thread_before_the_result(qtbot, runner):
    def work(job):
        for done in range(3):
            job.report(done, 3)
        return "result"

    seen = []
    job = runner.start(work)
    job.progress.connect(lambda done, total: seen.append((done, threading.current_thread().name)))
    job.succeeded.connect(lambda value: seen.append((value, threading.current_thread().name)))
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT):
        pass
    gui = threading.main_thread().name
    assert seen == [(0, gui), (1, gui), (2, gui), ("result", gui)]


def test_cancelled_job_reports_cancelled(qtbot, runner):
    started = threading.Event()

    def work(job):
        started.set()
        while not job.should_stop():
            job.report(1, 2)
            started.wait(0.001)
        raise DataError("loading stopped")

    job = runner.start(work)
    assert started.wait(10)
    with qtbot.waitSignal(job.cancelled, timeout=TIMEOUT):
        job.cancel()
    assert runner.active() == []


def test_inspector_answers_only_the_newest_query(qtbot):
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "g_attention": (8, 16)})
    torch.manual_seed(0)
    state = Generator(cfg.model).state_dict()
    inspector = InspectorWorker()
    try:
        inspector.follow_training(lambda: GeneratorSnapshot(cfg, state, 7, is_ema=True))
        replies = []
        inspector.attention_ready.connect(replies.append)
        z = np.zeros(8, np.float32)
        tokens = [inspector.query_attention(z, None, [(i % 32, 3)]) for i in range(30)]
        qtbot.waitUntil(lambda: bool(replies) and replies[-1].token == tokens[-1], timeout=TIMEOUT)
        assert all(reply.token <= tokens[-1] for reply in replies) and len(replies) < 30
        result = replies[-1].result
        assert result.queries == ((29, 3),)
        assert [(layer.name, layer.maps.shape) for layer in result.layers] == [
            ("G attention 8x8", (1, 8, 8)),
            ("G attention 16x16", (1, 16, 16)),
        ]
        np.testing.assert_allclose(result.layers[0].maps.sum(), 1.0, rtol=1e-4)
        assert replies[-1].step == 7
    finally:
        inspector.shutdown()


def test_inspector_says_which_step_answered_as_training_moves_on(qtbot):
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "g_attention": (16,)})
    state = Generator(cfg.model).state_dict()
    steps = itertools.count(50, 10)  # each fresh snapshot is 10 steps on
    inspector = InspectorWorker()
    try:
        inspector.follow_training(lambda: GeneratorSnapshot(cfg, state, next(steps), True))
        z = np.zeros(8, np.float32)
        answered = []
        for _ in range(2):
            with qtbot.waitSignal(inspector.attention_ready, timeout=TIMEOUT) as ready:
                inspector.query_attention(z, None, [(3, 3)])
            answered.append(ready.args[0].step)
            inspector.snapshot_outdated()
        assert answered == [50, 60]
        with qtbot.waitSignal(inspector.samples_ready, timeout=TIMEOUT) as drawn:
            inspector.draw_samples(2, seed=1)
        assert drawn.args[0].step == 70
    finally:
        inspector.shutdown()


def test_inspector_reports_a_missing_model(qtbot, tmp_path):
    inspector = InspectorWorker()
    try:
        with qtbot.waitSignal(inspector.failed, timeout=TIMEOUT) as failed:
            inspector.load_model(tmp_path / "nothing here")
        assert failed.args[0] == "load" and "nothing here" in failed.args[1]
    finally:
        inspector.shutdown()


def test_a_load_overtaken_by_training_is_not_announced(qtbot, monkeypatch):
    """Train pressed while a model still loads (e.g. the demo model on the first start): the
    load finishes after the inspector follows training, and must not switch the window back
    to exploring that model."""
    import app.inspector_worker as inspector_module

    loading, release = threading.Event(), threading.Event()
    real_load = inspector_module.load_generator

    def slow_load(path, device):
        loading.set()
        release.wait(TIMEOUT / 1000)
        return real_load(path, device=device)

    monkeypatch.setattr(inspector_module, "load_generator", slow_load)
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "g_attention": (16,)})
    state = Generator(cfg.model).state_dict()
    inspector = InspectorWorker()
    announced = []
    inspector.model_loaded.connect(announced.append)
    try:
        inspector.load_model("demo")
        assert loading.wait(TIMEOUT / 1000)  # the load is under way...
        with qtbot.waitSignal(inspector.following_training, timeout=TIMEOUT):
            inspector.follow_training(lambda: GeneratorSnapshot(cfg, state, 3, True))
            release.set()  # ...and ends after training took over
        with qtbot.waitSignal(inspector.samples_ready, timeout=TIMEOUT) as drawn:
            inspector.draw_samples(2, seed=1)
        assert drawn.args[0].step == 3 and announced == []
    finally:
        release.set()
        inspector.shutdown()


@pytest.mark.parametrize("yields", [True, False])
def test_background_task_gives_way_to_a_frame_between_layers(qtbot, yields):
    """A task that yields stops mid-forward when a more urgent task arrives, then runs again
    after it; one that does not yield finishes first."""
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8})
    state = Generator(cfg.model).state_dict()
    inspector = InspectorWorker()
    started, frame_sent = threading.Event(), threading.Event()
    background_runs = []

    def background(generator):
        background_runs.append(1)
        started.set()
        assert frame_sent.wait(10)
        return generator(torch.zeros(1, 8)).shape

    try:
        inspector.follow_training(lambda: GeneratorSnapshot(cfg, state, 1, is_ema=True))
        replies = []
        inspector.task_ready.connect(lambda reply: replies.append(reply.key))
        inspector.run_task("row", background, priority=1, yields=yields)
        assert started.wait(10)
        inspector.run_task("frame", lambda g: g(torch.ones(1, 8)).shape, priority=0)
        frame_sent.set()
        qtbot.waitUntil(lambda: len(replies) == 2, timeout=TIMEOUT)
        if yields:
            assert replies == ["frame", "row"] and len(background_runs) == 2
        else:
            assert replies == ["row", "frame"] and len(background_runs) == 1
    finally:
        inspector.shutdown()
