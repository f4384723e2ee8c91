"""The quality evaluator during training: events, metrics.csv columns, evaluation.json."""

from __future__ import annotations

import csv

from sagan_engine.events import Log, QualityMeasured
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
