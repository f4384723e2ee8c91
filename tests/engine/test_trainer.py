"""The training loop: it learns, it is reproducible, it resumes exactly, it can be steered."""

from __future__ import annotations

import copy
import csv
import threading
import time

import numpy as np
import pytest
import torch
from torch.linalg import matrix_norm

from sagan_engine.checkpoint import load_checkpoint, save_checkpoint
from sagan_engine.data import ImageDataset
from sagan_engine.errors import ConfigError, TrainingError
from sagan_engine.events import (
    CheckpointSaved,
    Log,
    SampleGrid,
    StateChanged,
    StepStats,
    TrainingFailed,
    TrainingFinished,
    TrainingStarted,
)
from sagan_engine.standing_stats import is_batch_norm_statistic, measure_batch_norm_statistics
from sagan_engine.trainer import _STANDING_STATS_SEED_OFFSET, STANDING_STATS_BATCHES, Trainer

from .conftest import assert_same_models, synthetic_dataset, tiny_config, whole_and_resumed


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_events_files_and_checkpoints(tmp_path):
    events = []
    trainer = Trainer(
        tiny_config(), synthetic_dataset(), tmp_path / "run", listeners=[events.append]
    )
    finished = trainer.run()
    kinds = [type(e) for e in events]
    assert kinds[0] is TrainingStarted and kinds[-1] is TrainingFinished
    stats = [e for e in events if isinstance(e, StepStats)]
    assert [s.step for s in stats] == [2, 4, 6]
    assert all(np.isfinite([s.loss_d, s.loss_g, s.d_real, s.d_fake]).all() for s in stats)
    assert set(stats[0].gammas) == {"G attention 16x16", "D attention 16x16"}
    grids = [e for e in events if isinstance(e, SampleGrid)]
    assert [g.step for g in grids] == [0, 3, 6]
    assert grids[0].images.shape == (4, 32, 32, 3) and grids[0].images.dtype == np.uint8
    assert grids[0].z.shape == (4, 8)
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert saved == [3, 6]
    assert finished.reason == "completed" and finished.step == 6
    run = tmp_path / "run"
    assert (run / "config.json").is_file() and (run / "dataset.json").is_file()
    # header, 3 rows of StepStats, 3 of attention statistics (at the sample steps 0, 3, 6)
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 7
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_000000.png",
        "step_000003.png",
        "step_000006.png",
    ]


def test_keeps_only_the_last_checkpoints(tmp_path):
    trainer = Trainer(
        tiny_config(steps=8, checkpoint_every=2, keep_checkpoints=2),
        synthetic_dataset(),
        tmp_path / "run",
    )
    trainer.run()
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step_000006.safetensors", "step_000008.safetensors"]


def test_same_seed_same_weights(tmp_path):
    a = Trainer(tiny_config(), synthetic_dataset(), tmp_path / "a")
    b = Trainer(tiny_config(), synthetic_dataset(), tmp_path / "b")
    a.run()
    b.run()
    assert_same_weights(weights(a.G), weights(b.G))
    assert_same_weights(weights(a.D), weights(b.D))
    c = Trainer(tiny_config(seed=1), synthetic_dataset(), tmp_path / "c")
    c.run()
    assert not torch.equal(
        a.G.linear.parametrizations.weight.original, c.G.linear.parametrizations.weight.original
    )


@pytest.mark.parametrize("classes", [0, 3])
def test_resume_continues_exactly(tmp_path, classes):
    whole, second = whole_and_resumed(synthetic_dataset(classes=classes), tmp_path, 8, 4)
    assert second.step == 8
    assert_same_models(whole, second)
    assert_same_weights(whole.opt_G.state_dict()["state"][0], second.opt_G.state_dict()["state"][0])


def test_resuming_from_an_earlier_checkpoint_logs_each_step_once(tmp_path):
    """A run killed between checkpoints, or resumed from an earlier one, trains the steps past
    its checkpoint again: their old rows go, so the curves never fold back on themselves."""
    run = tmp_path / "run"
    config = tiny_config(steps=8, log_every=1, checkpoint_every=4, sample_every=100)
    Trainer(config, synthetic_dataset(), run).run()
    first = loss_rows(run)
    # What a power failure leaves at the log's end; Python 3.10's csv module refused a line
    # holding NUL ("line contains NUL"), which export.read_metrics_rows strips.
    with open(run / "metrics.csv", "a") as handle:
        handle.write("\x00" * 40)
    logs = []
    again = Trainer(
        config, synthetic_dataset(), run, resume=run / "checkpoints/step_000004.safetensors"
    )
    again.add_listener(lambda event: logs.append(event) if isinstance(event, Log) else None)
    again.run()
    second = loss_rows(run)
    assert [step for step, _ in second] == list(range(1, 9))
    assert second == first  # the same steps again, exactly
    assert any("rows after step 4 removed" in log.message for log in logs)


def loss_rows(run) -> list[tuple[int, str]]:
    with open(run / "metrics.csv", newline="") as handle:
        return [(int(row[0]), row[1]) for row in list(csv.reader(handle))[1:] if row[1]]


def test_spectral_norm_keeps_sigma_near_one(tmp_path):
    trainer = Trainer(
        tiny_config(steps=30, log_every=10, sample_every=100, checkpoint_every=100),
        synthetic_dataset(),
        tmp_path / "r",
    )
    trainer.run()
    checked = 0
    for model in (trainer.G, trainer.D):
        model.eval()
        for module in model.modules():
            if hasattr(module, "parametrizations") and not isinstance(module, torch.nn.Embedding):
                w = module.weight.detach().flatten(1)  # the normalised weight W / sigma(W)
                sigma = matrix_norm(w, ord=2).item()
                assert sigma == pytest.approx(1.0, abs=0.1), (module, sigma)
                checked += 1
    assert checked > 20


def test_learns_the_colour_of_a_one_colour_dataset(tmp_path):
    torch.manual_seed(0)
    colour = np.array([230, 40, 40], dtype=np.uint8)  # red
    images = np.broadcast_to(colour, (32, 32, 32, 3)).copy()
    data = ImageDataset(images, np.zeros(32, dtype=np.int64), [], [], "red")
    # 60 steps: the error to the colour is then 3% of the untrained one (seeds 1-5: 4-31%);
    # 120 steps, as before, bought little more (2%).
    cfg = tiny_config(
        steps=60,
        batch_size=8,
        log_every=20,
        sample_every=60,
        checkpoint_every=1000,
        lr_g=1e-3,
        lr_d=2e-3,
        ema=False,
    )
    trainer = Trainer(cfg, data, tmp_path / "red")
    grids = []
    trainer.add_listener(lambda e: grids.append(e) if isinstance(e, SampleGrid) else None)
    trainer.run()
    target = colour / 127.5 - 1
    before = grids[0].images.reshape(-1, 3).mean(0) / 127.5 - 1
    after = grids[-1].images.reshape(-1, 3).mean(0) / 127.5 - 1
    assert np.abs(after - target).sum() < 0.5 * np.abs(before - target).sum()
    assert after[0] > after[1] + 0.3  # red dominates


def test_pause_resume_and_stop_from_another_thread(tmp_path):
    cfg = tiny_config(steps=10_000, log_every=1, sample_every=10_000, checkpoint_every=10_000)
    events = []
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "r", listeners=[events.append])
    paused = threading.Event()
    step_seen = threading.Event()

    def listen(event):
        if isinstance(event, StepStats) and event.step >= 3:
            step_seen.set()
        if isinstance(event, StateChanged) and event.state == "paused":
            paused.set()

    trainer.add_listener(listen)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    assert step_seen.wait(60)
    trainer.pause()
    assert paused.wait(30)
    step_when_paused = trainer.step
    assert trainer.state == "paused"
    trainer.resume()
    trainer.stop()
    thread.join(60)
    assert not thread.is_alive()
    finished = events[-1]
    assert isinstance(finished, TrainingFinished) and finished.reason == "stopped"
    assert finished.step >= step_when_paused and finished.step < 10_000
    assert finished.checkpoint and load_checkpoint(finished.checkpoint).step == finished.step


def test_a_pause_is_not_counted_as_training_time(tmp_path):
    """After Pause and Resume the speed, ETA and elapsed time ignored the pause: a 1.5 s
    pause made one step look 1.5 s long (and went into metrics.csv)."""
    cfg = tiny_config(steps=10_000, log_every=1, sample_every=10_000, checkpoint_every=10_000)
    stats: list[StepStats] = []
    heard_at: list[float] = []  # when each StepStats came (the trainer's thread emits it)
    paused = threading.Event()

    def listen(event):
        if isinstance(event, StepStats):
            stats.append(event)
            heard_at.append(time.perf_counter())
            if event.step == 3:
                trainer.pause()
        if isinstance(event, StateChanged) and event.state == "paused":
            paused.set()

    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "r", listeners=[listen])
    thread = threading.Thread(target=trainer.run)
    thread.start()
    assert paused.wait(60)
    time.sleep(1.5)
    trainer.resume()
    while len(stats) < 6 and thread.is_alive():
        time.sleep(0.05)
    trainer.stop()
    thread.join(60)
    before, after = stats[2], stats[3]  # steps 3 and 4: the pause came between them
    assert (before.step, after.step) == (3, 4)
    # Measured against the wall time between the two, not a fixed bound: on a loaded
    # machine one tiny step can itself take seconds. Counted, the 1.5 s pause would be in.
    wall = heard_at[3] - heard_at[2]
    assert wall > 1.5
    assert after.seconds_per_step < wall - 1.0
    assert after.elapsed_s - before.elapsed_s < wall - 1.0


def test_non_finite_losses_stop_training_and_keep_the_last_good_checkpoint(tmp_path):
    events = []
    trainer = Trainer(
        tiny_config(steps=9, log_every=3, checkpoint_every=3),
        synthetic_dataset(),
        tmp_path / "r",
        listeners=[events.append],
    )
    original = trainer._train_step

    def poisoned():
        stats = original()
        if trainer.step >= 4:
            with torch.no_grad():
                for p in trainer.G.parameters():
                    p.fill_(float("nan"))
            return stats * float("nan")
        return stats

    trainer._train_step = poisoned
    with pytest.raises(TrainingError, match="NaN"):
        trainer.run()
    failed = events[-1]
    assert isinstance(failed, TrainingFailed) and "NaN" in failed.message
    assert failed.checkpoint.endswith("step_000003.safetensors")
    ckpts = sorted((tmp_path / "r" / "checkpoints").iterdir())
    assert [p.name for p in ckpts] == ["step_000003.safetensors"]
    for tensor in load_checkpoint(ckpts[0]).tensors.values():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all()


def test_conditional_data_makes_a_conditional_model(tmp_path):
    trainer = Trainer(tiny_config(steps=2), synthetic_dataset(classes=3), tmp_path / "r")
    trainer.run()
    assert trainer.config.model.num_classes == 3
    assert trainer.D.embed is not None


def test_generator_snapshot_is_a_detached_copy(tmp_path):
    trainer = Trainer(tiny_config(steps=2), synthetic_dataset(), tmp_path / "r")
    with pytest.raises(TrainingError):
        trainer.generator_snapshot()
    trainer.run()
    snapshot = trainer.generator_snapshot()
    assert (snapshot.step, snapshot.is_ema) == (2, True)
    state = snapshot.state
    key = "linear.parametrizations.weight.original"
    state[key].zero_()
    assert not torch.equal(trainer.G_ema.state_dict()[key], state[key])


def test_dataset_at_another_resolution_is_refused(tmp_path):
    from sagan_engine.errors import ConfigError

    with pytest.raises(ConfigError, match="64x64|32x32"):
        Trainer(tiny_config(), synthetic_dataset(resolution=64), tmp_path / "r")


@pytest.mark.parametrize("channels_last", [False, True])
def test_ema_generator_follows_g_buffers_and_averages_its_weights(tmp_path, channels_last):
    cfg = tiny_config(steps=4, ema_decay=0.5, channels_last=channels_last)
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "r")
    trainer.run()
    ema_buffers = dict(trainer.G_ema.named_buffers())
    statistics = 0
    for name, buf in trainer.G.named_buffers():
        if is_batch_norm_statistic(name):  # G_ema's own, measured on its weights
            statistics += 1
            if name.endswith("running_var"):
                assert not torch.equal(ema_buffers[name], buf), name
        else:  # spectral-norm u, v: G's, plus the power iterations of the measuring passes
            assert torch.allclose(ema_buffers[name], buf, atol=1e-2), name
    assert statistics > 0
    # The statistics are those of the EMA weights: measuring again (after one more power
    # iteration of the spectral norms) changes them by rounding only.
    again = copy.deepcopy(trainer.G_ema)
    measure_batch_norm_statistics(
        again,
        STANDING_STATS_BATCHES,
        cfg.train.batch_size,
        cfg.train.seed + _STANDING_STATS_SEED_OFFSET,
    )
    for name, buf in again.named_buffers():
        if is_batch_norm_statistic(name):
            assert torch.allclose(buf, ema_buffers[name], rtol=1e-3, atol=1e-3), name
    key = "linear.parametrizations.weight.original"
    ema, g = trainer.G_ema.state_dict()[key], trainer.G.state_dict()[key]
    assert not torch.equal(ema, g)  # averaged, not copied


def test_a_new_run_refuses_folders_it_would_spoil(tmp_path):
    """A new run writes config.json, dataset.json, metrics.csv and samples/: not over a
    finished run, not over the user's own files, not inside its data folder."""
    dataset = synthetic_dataset(8)
    config = tiny_config(steps=2)
    finished = tmp_path / "finished"
    Trainer(config, dataset, finished).run()
    with pytest.raises(ConfigError, match="already holds a run"):
        Trainer(config, dataset, finished).run()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "metrics.csv").write_text("my,own,data\n")
    with pytest.raises(ConfigError, match="holds files and is not a run folder"):
        Trainer(config, dataset, theirs).run()
    assert [p.name for p in theirs.iterdir()] == ["metrics.csv"]
    assert (theirs / "metrics.csv").read_text() == "my,own,data\n"
    data = tmp_path / "images"
    data.mkdir()
    inside = config.replace(data={"folder": str(data)})
    with pytest.raises(ConfigError, match="inside the data folder"):
        Trainer(inside, dataset, data / "run").run()
    assert not (data / "run").exists()
    Trainer(config, dataset, tmp_path / "empty").run()  # new or empty folders are fine


def test_resuming_with_another_class_count_says_what_changed(tmp_path):
    from sagan_engine.errors import CheckpointError

    run = tmp_path / "run"
    Trainer(tiny_config(steps=2), synthetic_dataset(classes=2), run).run()
    config = tiny_config(steps=4)
    with pytest.raises(CheckpointError) as raised:
        Trainer(config, synthetic_dataset(classes=3), run, resume=True).run()
    message = str(raised.value)
    assert "num_classes 2 in it, 3 now" in message and "class sub-folders" in message
    assert "ModelConfig(" not in message  # not two dumps of every field


def folder_contents(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("steps", [4, 3])
def test_resuming_with_no_step_left_is_refused_and_changes_nothing(tmp_path, steps):
    """A resume to a total at or below the checkpoint's step trained nothing, yet wrote
    config.json with the smaller total, the grid and snapshot of that step and a statistics
    row again."""
    run = tmp_path / "run"
    Trainer(tiny_config(steps=4, checkpoint_every=4), synthetic_dataset(), run).run()
    before = folder_contents(run)
    events = []
    again = Trainer(tiny_config(steps=steps), synthetic_dataset(), run, resume=True)
    again.add_listener(events.append)
    with pytest.raises(ConfigError, match="already at step 4 .* set it above 4 .the new total"):
        again.run()
    assert folder_contents(run) == before
    assert isinstance(events[-1], TrainingFailed) and "already at step 4" in events[-1].message


def elapsed_column(run) -> list[float]:
    with open(run / "metrics.csv", newline="") as handle:
        return [float(row["elapsed_s"]) for row in csv.DictReader(handle) if row["elapsed_s"]]


def trained_four_steps(run, keep_time: bool = True) -> tuple:
    """A run at step 4 whose checkpoint says it trained for an hour (``keep_time``), or
    holds no training time, as checkpoints written before it was kept."""
    config = tiny_config(steps=4, log_every=1, checkpoint_every=4, sample_every=100)
    Trainer(config, synthetic_dataset(), run).run()
    path = run / "checkpoints/step_000004.safetensors"
    ckpt = load_checkpoint(path)
    assert ckpt.extra["elapsed_s"] >= elapsed_column(run)[-1] > 0  # saved after step 4's row
    extra = {k: v for k, v in ckpt.extra.items() if k != "elapsed_s"}
    if keep_time:
        extra["elapsed_s"] = 3600.0
    save_checkpoint(path, 4, ckpt.config, ckpt.class_names, ckpt.tensors, extra)
    return config.replace(train={"steps": 6})


def resumed_stats(config, run) -> list[StepStats]:
    events = []
    Trainer(config, synthetic_dataset(), run, resume=True, listeners=[events.append]).run()
    return [e for e in events if isinstance(e, StepStats)]


def test_the_training_time_goes_on_over_a_resume(tmp_path):
    """metrics.csv's elapsed_s is the run's training time: on a resume it started again at
    0. The ETA still comes from this session's speed."""
    run = tmp_path / "run"
    stats = resumed_stats(trained_four_steps(run), run)
    assert [s.step for s in stats] == [5, 6]
    assert all(3600 < s.elapsed_s < 3600 + 300 for s in stats)
    assert elapsed_column(run)[4:] == [s.elapsed_s for s in stats]
    assert stats[0].eta_s < 300  # one tiny step to go, not an hour's worth
    assert load_checkpoint(run / "checkpoints/step_000006.safetensors").extra[
        "elapsed_s"
    ] == pytest.approx(stats[-1].elapsed_s, abs=60)


def test_a_checkpoint_without_the_training_time_goes_on_from_the_log(tmp_path):
    """Resumed from a checkpoint that holds no training time, the clock goes on from
    metrics.csv, whose earlier sessions each started at 0 (laid end to end)."""
    run = tmp_path / "run"
    config = trained_four_steps(run, keep_time=False)
    with open(run / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    logged = iter([100.0, 200.0, 50.0, 150.0])  # resumed at step 2: 200 + 150 in all
    for row in rows:
        if row["elapsed_s"]:
            row["elapsed_s"] = str(next(logged))
    with open(run / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stats = resumed_stats(config, run)
    assert all(350 < s.elapsed_s < 350 + 300 for s in stats)


def test_a_run_trained_on_one_kind_of_device_continues_on_another(tmp_path):
    """A checkpoint's random state is its device's generator's: a CPU run continued on a GPU
    (or back) gets a state of another size, which set_state refuses ("RNG state is wrong
    size"). The run goes on, reseeded, as it does with another number of processes."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    run = tmp_path / "run"
    Trainer(tiny_config(steps=4, checkpoint_every=4), synthetic_dataset(), run).run()
    path = run / "checkpoints/step_000004.safetensors"
    with safe_open(str(path), "pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    tensors["rng/state"] = torch.zeros(16, dtype=torch.uint8)  # what a CUDA generator saves
    save_file(tensors, str(path), metadata=metadata)
    resumed = Trainer(
        tiny_config(steps=6, checkpoint_every=4), synthetic_dataset(), run, resume=True
    )
    resumed.run()
    assert resumed.step == 6


def test_a_resumed_channels_last_run_keeps_its_moments_in_the_weights_layout(tmp_path):
    """Checkpoints store tensors contiguous; CUDA's fused Adam refuses moments whose strides
    differ from their weights', so a resumed channels_last run failed at its first step."""
    run = tmp_path / "run"
    config = tiny_config(steps=2, checkpoint_every=2, channels_last=True)
    Trainer(config, synthetic_dataset(), run).run()
    resumed = Trainer(config.replace(train={"steps": 3}), synthetic_dataset(), run, resume=True)
    resumed.run()  # Adam updates its moments in place: their layout is the loaded one
    for optimizer in (resumed.opt_G, resumed.opt_D):
        moments = [
            (param, state)
            for group in optimizer.param_groups
            for param in group["params"]
            if (state := optimizer.state[param])
        ]
        assert any(param.dim() == 4 for param, _ in moments)
        for param, state in moments:
            assert state["exp_avg"].stride() == param.stride()
            assert state["exp_avg_sq"].stride() == param.stride()
