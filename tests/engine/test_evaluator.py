"""The quality evaluator during training: events, metrics.csv columns, evaluation.json."""

from __future__ import annotations

import csv
import threading

import torch

from sagan_engine.events import CheckpointSaved, Log, QualityMeasured, StepStats
from sagan_engine.metrics import load_evaluations
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config


def _train(tmp_path, **train):
    events = []
    run = tmp_path / "run"
    Trainer(tiny_config(**train), synthetic_dataset(24), run, listeners=[events.append]).run()
    return run, events


def test_swd_every_eval_every_steps_off_the_loop(tmp_path):
    run, events = _train(tmp_path, steps=6, eval_every=3, eval_images=16)
    measured = [e for e in events if isinstance(e, QualityMeasured)]
    skipped = [e for e in events if isinstance(e, Log) and "skipped" in e.message]
    # Step 3's evaluation may still run at step 6; then that one is skipped (and logged).
    assert [e.step for e in measured] in ([3, 6], [3])
    assert len(measured) + len(skipped) == 2
    first = measured[0]
    assert set(first.values) == {"swd_avg", "swd_32", "swd_16"} and first.n_images == 16
    assert first.values["swd_avg"] > 0 and first.seconds > 0
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    quality_rows = [r for r in rows if r["swd_avg"]]
    assert [int(r["step"]) for r in quality_rows] == [e.step for e in measured]
    assert float(quality_rows[0]["swd_16"]) == first.values["swd_16"]
    assert all(r["swd_avg"] == "" for r in rows if r["loss_d"])  # loss rows leave them empty
    (saved, *_) = load_evaluations(run)
    assert saved.step == 3 and saved.protocol.n_real == 16
    assert "synthetic" in saved.protocol.reference and saved.source.startswith("training")


def test_off_when_eval_every_is_zero_columns_still_known(tmp_path):
    run, events = _train(tmp_path, steps=4, eval_every=0)
    assert not [e for e in events if isinstance(e, QualityMeasured)]
    with open(run / "metrics.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == ["swd_avg", "swd_32", "swd_16"]
    assert not (run / "evaluation.json").exists()


def test_a_stop_saves_first_and_gives_up_the_evaluation_in_flight(tmp_path, monkeypatch):
    """Stopped while an evaluation runs (minutes at 128x128 on a CPU thread): the checkpoint
    is written before anything waits for it (torchrun kills its workers 30 s after passing
    on Ctrl-C), and the evaluation stops between two layers of G, said in the log."""
    from sagan_engine.metrics import evaluation
    from sagan_engine.sampling import generate

    started, passes = threading.Event(), []

    def endless(generator, config, n, seed, batch_size=100, progress=None):
        started.set()
        z = torch.zeros(2, config.model.z_dim)
        labels = torch.zeros(2, dtype=torch.long) if config.model.num_classes else None
        for _ in range(20_000):  # an evaluation far longer than the test: until cancelled
            generate(generator, z, labels)
            passes.append(1)
        raise AssertionError("the evaluation was never cancelled")

    monkeypatch.setattr(evaluation, "generate_images", endless)
    events = []
    config = tiny_config(steps=10_000, eval_every=2, eval_images=16, checkpoint_every=10_000)
    trainer = Trainer(config, synthetic_dataset(24), tmp_path / "run", listeners=[events.append])

    def stop_while_evaluating(event):
        if isinstance(event, StepStats) and started.is_set() and passes:
            trainer.stop()

    trainer.add_listener(stop_while_evaluating)
    finished = trainer.run()
    assert finished.reason == "stopped" and finished.step < 10_000
    assert finished.checkpoint.endswith(f"step_{finished.step:06d}.safetensors")
    saved = next(i for i, e in enumerate(events) if isinstance(e, CheckpointSaved))
    messages = [(i, e.message) for i, e in enumerate(events) if isinstance(e, Log)]
    (given_up,) = [i for i, m in messages if "left unfinished: the run was stopped" in m]
    assert saved < given_up
    assert not [m for _, m in messages if "quality evaluation failed" in m]
    assert len(passes) < 20_000


def test_an_evaluation_given_up_while_measuring_reports_no_result(tmp_path, monkeypatch):
    """Given up after its images were made (the distance was being computed): what comes back
    is "cancelled", not a result the log already said would not come."""
    from sagan_engine.metrics import evaluator as evaluator_module
    from sagan_engine.metrics.swd import SWDReference
    from sagan_engine.models import Generator

    config = tiny_config(eval_every=2, eval_images=16)
    measuring, cancelled = threading.Event(), threading.Event()
    real_distance = SWDReference.distance

    def slow_distance(self, fake):
        measuring.set()
        cancelled.wait(30)
        return real_distance(self, fake)

    monkeypatch.setattr(SWDReference, "distance", slow_distance)
    images = synthetic_dataset(24).images
    evaluator = evaluator_module.TrainingEvaluator(config, images, "synthetic", tmp_path)
    assert evaluator.submit(2, Generator(config.model).state_dict())
    assert measuring.wait(30)
    evaluator.cancel()
    cancelled.set()
    evaluator.wait(30)
    assert evaluator.results() == [evaluator_module.Cancelled(2)]
