"""Snapshots over training: log spacing, pruning that keeps it, replay, animated exports."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from sagan_engine.animation import (
    AnimationError,
    replay_frames_images,
    save_frames,
    timelapse_images,
)
from sagan_engine.attention import attention_maps
from sagan_engine.checkpoint import load_checkpoint, save_checkpoint
from sagan_engine.cli import main
from sagan_engine.errors import CheckpointError
from sagan_engine.models import Generator
from sagan_engine.runs import RunFolder
from sagan_engine.snapshots import (
    SnapshotReplay,
    SnapshotWriter,
    is_snapshot_step,
    list_snapshots,
    prune_snapshots,
    save_snapshot,
    scheduled_steps,
    steps_to_prune,
)
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config


def test_schedule_is_log_spaced_and_dense_early():
    expected = [0, 10, 20, 30, 50, 70, 100, 200, 300, 500, 700, 1000, 2000, 3000]
    assert scheduled_steps(3000) == expected
    assert scheduled_steps(2999) == expected[:-1]
    assert [s for s in range(0, 3001) if is_snapshot_step(s)] == expected
    assert not is_snapshot_step(1) and not is_snapshot_step(110) and is_snapshot_step(70_000)
    # Five per decade, whatever the length of the run.
    assert len([s for s in scheduled_steps(10**6) if 10**4 <= s < 10**5]) == 5


def test_pruning_keeps_ends_and_even_log_spacing():
    steps = scheduled_steps(10**6)  # 0, then 10 ... 1e6: 27 steps
    assert len(steps) == 27
    gone = steps_to_prune(steps, 12)
    kept = [s for s in steps if s not in gone]
    assert len(kept) == 12 and kept[0] == 0 and kept[-1] == 10**6
    gaps = np.diff(np.log10(kept[1:]))  # from step 10 on, in decades
    # 10 gaps over 5 decades: each about half a decade, none a whole one.
    assert gaps.max() <= 0.71 and gaps.min() >= 0.29
    assert steps_to_prune([0, 5, 10], 3) == []
    with pytest.raises(ValueError):
        steps_to_prune([0, 5, 10], 1)


def test_pruning_removes_the_densest_first():
    # 100 and 110 are the closest in log(step): one of them goes, the one whose removal
    # leaves the smaller gap (log 1001/101 < log 111/11).
    assert steps_to_prune([0, 10, 100, 110, 1000], 4) == [110]
    assert steps_to_prune([0, 10, 100, 110, 1000], 3) == [100, 110]


def test_trainer_writes_fp16_ema_snapshots_bounded(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps=21, snapshots=3, checkpoint_every=100, sample_every=100)
    Trainer(config, synthetic_dataset(), run).run()
    steps = [ref.step for ref in list_snapshots(run)]
    # Scheduled 0, 10, 20 and the last step 21, pruned to 3 keeping the ends.
    assert steps == [0, 10, 21]
    assert all(ref.source == "snapshot" for ref in list_snapshots(run))
    snap = load_checkpoint(RunFolder(run).snapshot_path(21))
    assert snap.step == 21 and snap.extra["snapshot"] and snap.extra["is_ema"]
    assert set(k.split("/")[0] for k in snap.tensors) == {"G_ema"}
    assert all(v.dtype == torch.float16 for v in snap.tensors.values() if v.is_floating_point())
    final = load_checkpoint(RunFolder(run).checkpoint_path(21))
    for name, value in snap.state_dict("G_ema").items():
        expected = final.state_dict("G_ema")[name]
        assert torch.equal(value, expected.half() if expected.is_floating_point() else expected)


def test_snapshots_off(tmp_path):
    run = tmp_path / "run"
    Trainer(tiny_config(steps=3, snapshots=0), synthetic_dataset(), run).run()
    assert not RunFolder(run).snapshots_dir.exists()


def test_writer_skips_unscheduled_steps_and_prunes(tmp_path, tiny):
    generator = Generator(tiny.model)
    writer = SnapshotWriter(tmp_path, tiny, [], keep=3)
    written = [s for s in range(0, 60) if writer.offer(s, generator, is_ema=True)]
    assert written == [0, 10, 20, 30, 50]
    assert [r.step for r in list_snapshots(tmp_path)] == [0, 10, 50]  # early steps stay
    assert writer.offer(55, generator, is_ema=True, final=True) is not None
    assert prune_snapshots(tmp_path, 2)  # only the ends are left
    assert [r.step for r in list_snapshots(tmp_path)] == [0, 55]


def _run_with_checkpoints_only(tmp_path, tiny) -> tuple:
    """An older run: regular checkpoints holding G, D and G_ema, no snapshots folder."""
    folder = RunFolder(tmp_path / "old").create()
    tiny.save(folder.config_path)
    generators = []
    for step in (100, 200, 300):
        torch.manual_seed(step)
        g = Generator(tiny.model).eval()
        tensors = {f"G_ema/{k}": v for k, v in g.state_dict().items()}
        tensors.update({f"G/{k}": torch.zeros_like(v) for k, v in g.state_dict().items()})
        save_checkpoint(folder.checkpoint_path(step), step, tiny, [], tensors)
        generators.append(g)
    return folder.path, generators


def test_replay_falls_back_to_checkpoints_ema(tmp_path, tiny):
    run, generators = _run_with_checkpoints_only(tmp_path, tiny)
    refs = list_snapshots(run)
    assert [(r.step, r.source) for r in refs] == [
        (100, "checkpoint"),
        (200, "checkpoint"),
        (300, "checkpoint"),
    ]
    replay = SnapshotReplay(run)
    z = torch.randn(tiny.model.z_dim)
    frames = replay.frames(z, None, [(3, 4), (30, 1)])
    assert [f.step for f in frames] == [100, 200, 300]
    for frame, g in zip(frames, generators, strict=True):
        direct = attention_maps(g, z, None, [(3, 4), (30, 1)])
        np.testing.assert_array_equal(frame.result.image, direct.image)
        for ours, theirs in zip(frame.result.layers, direct.layers, strict=True):
            np.testing.assert_allclose(ours.maps, theirs.maps, atol=1e-5)
    # Frames differ: each step is its own generator, not the last one loaded.
    assert np.abs(frames[0].result.image.astype(int) - frames[2].result.image).max() > 0


def test_replaying_a_checkpoint_file_reads_it_once(tmp_path, tiny, monkeypatch):
    """A lone checkpoint is its only step: refreshing (the window does before each frame)
    reads nothing again, while a run folder is listed afresh and shows a new snapshot."""
    run, generators = _run_with_checkpoints_only(tmp_path, tiny)
    file = RunFolder(run).checkpoint_path(200)
    reads = []
    original = load_checkpoint

    def counted(path, *args, **kwargs):
        reads.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr("sagan_engine.checkpoint.load_checkpoint", counted)
    replay = SnapshotReplay(file)
    z = torch.randn(tiny.model.z_dim)
    for _ in range(3):
        replay.refresh()
        frame = replay.frame(0, z, None, (3, 4))
    assert replay.steps == [200] and frame.step == 200
    np.testing.assert_array_equal(
        frame.result.image, attention_maps(generators[1], z, None, (3, 4)).image
    )
    assert len(reads) <= 3  # listed, config, state: not once more per frame

    folder_replay = SnapshotReplay(run)
    save_snapshot(run, 400, tiny, [], generators[0])
    folder_replay.refresh()
    assert folder_replay.steps == [400]  # snapshots now exist: they are what is replayed


def test_replay_reads_fp16_snapshots(tmp_path, tiny):
    torch.manual_seed(1)
    g = Generator(tiny.model).eval()
    save_snapshot(tmp_path, 10, tiny, [], g)
    replay = SnapshotReplay(tmp_path)
    frame = replay.frame(-1, torch.ones(tiny.model.z_dim), None, (5, 5))
    assert frame.step == 10 and frame.source == "snapshot"
    reference = attention_maps(g.half().float(), torch.ones(tiny.model.z_dim), None, (5, 5))
    np.testing.assert_allclose(frame.result.layers[0].maps, reference.layers[0].maps, atol=1e-4)


def test_a_damaged_state_is_left_out_of_the_replay_and_named(tmp_path, tiny):
    """One snapshot cut short (a copy that stopped) made every replay and export fail."""
    g = Generator(tiny.model).eval()
    for step in (10, 20, 30):
        save_snapshot(tmp_path, step, tiny, [], g)
    first = RunFolder(tmp_path).snapshot_path(10)
    first.write_bytes(first.read_bytes()[:100])
    replay = SnapshotReplay(tmp_path)  # its config comes from the first readable state
    frames = replay.frames(torch.ones(tiny.model.z_dim), None, (5, 5))
    assert [frame.step for frame in frames] == [20, 30]
    assert len(replay.damaged) == 1 and "step_000010" in replay.damaged[0]
    for step in (20, 30):
        path = RunFolder(tmp_path).snapshot_path(step)
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="no state can be read"):
        SnapshotReplay(tmp_path)


def test_no_snapshots_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no snapshots or checkpoints"):
        list_snapshots(tmp_path)


def test_animation_has_one_frame_per_snapshot(tmp_path, tiny):
    run, _ = _run_with_checkpoints_only(tmp_path, tiny)
    frames = SnapshotReplay(run).frames(torch.zeros(tiny.model.z_dim), None, (2, 2))
    images = replay_frames_images(frames)
    path = save_frames(images, tmp_path / "anim.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == images[0].size
    with Image.open(save_frames(images, tmp_path / "anim.webp")) as webp:
        assert webp.n_frames == 3
    with Image.open(save_frames(images, tmp_path / "strip.png", columns=2)) as strip:
        width, height = images[0].size
        assert strip.size == (2 * (width + 4) + 4, 2 * (height + 4) + 4)
    with pytest.raises(AnimationError, match="unknown output type"):
        save_frames(images, tmp_path / "anim.mp4")


def test_cli_over_training_and_timelapse(tmp_path, capsys):
    run = tmp_path / "run"
    config = tiny_config(steps=22, sample_every=5, checkpoint_every=100)
    Trainer(config, synthetic_dataset(), run).run()
    steps = [r.step for r in list_snapshots(run)]
    assert steps == [0, 10, 20, 22]
    out = tmp_path / "anim.gif"
    code = main(
        ["attention", "--run", str(run), "--seed", "3", "--query", "4,5", "--query", "20,9",
         "--over-training", "--out", str(out)]
    )  # fmt: skip
    assert code == 0 and "4 frames" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == len(steps)
        # One row per query under the caption: two queries make a taller frame than one.
        two_query_height = gif.size[1]
    assert main(
        ["attention", "--run", str(run), "--query", "4,5", "--over-training", "--out",
         str(tmp_path / "one.gif")]
    ) == 0  # fmt: skip
    with Image.open(tmp_path / "one.gif") as gif:
        assert gif.size[1] < two_query_height
    grids = tmp_path / "grids.gif"
    assert main(["timelapse", "--run", str(run), "--out", str(grids)]) == 0
    with Image.open(grids) as gif:
        assert gif.n_frames == 6  # samples at 0, 5, 10, 15, 20 and the last step 22
        sample = Image.open(RunFolder(run).sample_path(0))
        assert gif.size == (sample.width, sample.height + 18)
    assert len(timelapse_images(run)) == 6
    capsys.readouterr()
    assert main(["timelapse", "--run", str(tmp_path), "--out", str(grids)]) == 2
    assert "no sample grids" in capsys.readouterr().err
    checkpoint = next((run / "checkpoints").iterdir())
    assert main(["timelapse", "--run", str(checkpoint), "--out", str(grids)]) == 2
    assert "a file, not a run folder" in capsys.readouterr().err
    for bad in (["--columns", "0"], ["--frame-ms", "-1"]):
        with pytest.raises(SystemExit):  # argparse refuses it
            main(["timelapse", "--run", str(run), "--out", str(grids), *bad])
        assert "must be at least 1" in capsys.readouterr().err


def test_a_timelapse_of_the_demo_model_says_what_it_lacks_and_what_replays_it(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # no folder named "demo" in the way
    assert main(["timelapse", "--run", "demo", "--out", str(tmp_path / "grids.gif")]) == 2
    err = capsys.readouterr().err
    assert "the bundled demo model has no sample grids over training" in err
    assert "attention --run demo --over-training" in err and "no such run folder" not in err


def test_steps_to_prune_is_monotone_in_keep():
    steps = scheduled_steps(10**5)
    for keep in range(2, len(steps)):
        kept = sorted(set(steps) - set(steps_to_prune(steps, keep)))
        assert len(kept) == keep
        assert math.isclose(kept[-1], 10**5)
