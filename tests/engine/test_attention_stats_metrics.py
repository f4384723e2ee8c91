"""The trainer reports attention statistics at every sample step and writes them to
metrics.csv under a header fixed at the start; other rows leave those cells empty."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sagan_engine.attention_stats import attention_statistics
from sagan_engine.events import AttentionStats, LayerAttentionStats, StepStats
from sagan_engine.export import metrics_rows
from sagan_engine.models import Generator
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

LAYER = "G attention 16x16"
COLUMNS = [f"attention_{s}[{LAYER}]" for s in ("gamma", "entropy", "distance", "contribution")]


def test_trainer_emits_and_writes_the_statistics_of_the_sample_latents(tmp_path):
    events = []
    trainer = Trainer(
        tiny_config(), synthetic_dataset(), tmp_path / "run", listeners=[events.append]
    )
    trainer.run()
    stats = [e for e in events if isinstance(e, AttentionStats)]
    assert [s.step for s in stats] == [0, 3, 6]
    assert [layer.name for layer in stats[-1].layers] == [LAYER]
    # The last ones are those of the final EMA generator on the fixed latents.
    expected = attention_statistics(trainer.G_ema, trainer.sample_z)
    assert stats[-1].layers == tuple(expected)
    with open(tmp_path / "run" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(COLUMNS) <= set(rows[0])  # in the header from the first row on
    attention_rows = [r for r in rows if r[COLUMNS[1]] != ""]
    assert [int(r["step"]) for r in attention_rows] == [0, 3, 6]
    assert all(r["loss_d"] == "" for r in attention_rows)
    assert float(attention_rows[-1][COLUMNS[1]]) == pytest.approx(expected[0].entropy)
    assert all(r[COLUMNS[1]] == "" for r in rows if r["loss_d"] != "")


def test_a_resumed_run_keeps_the_header_of_its_file(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(), synthetic_dataset(), run).run()
    metrics = run / "metrics.csv"
    lines = metrics.read_text().splitlines()
    old_header = [c for c in lines[0].split(",") if not c.startswith("attention_")]
    kept = [line for line in lines[1:] if line.split(",")[1] != ""]  # StepStats rows only
    metrics.write_text(
        ",".join(old_header)
        + "\n"
        + "\n".join(",".join(line.split(",")[: len(old_header)]) for line in kept)
        + "\n"
    )
    Trainer(tiny_config(steps=8), synthetic_dataset(), run, resume=True).run()
    with open(metrics, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == old_header
    assert all(len(row) == len(old_header) for row in rows)


def test_a_resumed_run_shows_its_grid_again_without_writing_it_twice(tmp_path):
    """Resumed at step 6, the grid of step 6 is sent to listeners (the window shows it) but
    its PNG and attention row stay the ones written before: one row per sample step."""
    run = tmp_path / "run"
    Trainer(tiny_config(), synthetic_dataset(), run).run()
    grid = (run / "samples" / "step_000006.png").read_bytes()
    events = []
    config = tiny_config(steps=9)
    Trainer(config, synthetic_dataset(), run, resume=True, listeners=[events.append]).run()
    assert [e.step for e in events if isinstance(e, AttentionStats)] == [6, 9]
    assert (run / "samples" / "step_000006.png").read_bytes() == grid
    with open(run / "metrics.csv", newline="") as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle) if r[COLUMNS[1]] != ""]
    assert steps == [0, 3, 6, 9]


def _step_stats(step: int) -> StepStats:
    return StepStats(step, 1.0, 2.0, 0.5, -0.5, {"G attention 8x8": 0.1}, 10.0, 0.1, step, 1.0)


def test_metrics_rows_share_a_step_and_leave_other_cells_empty():
    layer = LayerAttentionStats("G attention 8x8", 0.1, 0.7, 3.5, 0.02)
    header, rows = metrics_rows(
        [_step_stats(2), _step_stats(4)], [AttentionStats(0, (layer,)), AttentionStats(4, (layer,))]
    )
    assert header[-4:] == [
        f"attention_{s}[G attention 8x8]" for s in ("gamma", "entropy", "distance", "contribution")
    ]
    assert [row[0] for row in rows] == [0, 2, 4]
    assert rows[0][1] == "" and rows[0][-3] == 0.7  # attention only at step 0
    assert rows[1][-1] == ""  # losses only at step 2
    assert rows[2][1] == 1.0 and rows[2][-2] == 3.5  # both at step 4, one row
    fixed, _ = metrics_rows([_step_stats(2)], header=["step", "loss_d", "quality"])
    assert fixed == ["step", "loss_d", "quality"] and _[0] == [2, 1.0, ""]


def test_statistics_of_a_batch_do_not_depend_on_the_chunking():
    generator = Generator(tiny_config().model).eval()
    z = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    whole = attention_statistics(generator, z)
    parts = [attention_statistics(generator, z[:4]), attention_statistics(generator, z[4:])]
    for w, a, b in zip(whole, *parts, strict=True):
        assert w.distance == pytest.approx((4 * a.distance + 6 * b.distance) / 10, rel=1e-5)
