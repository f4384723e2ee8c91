"""Training from the on-disk cache (sagan_engine.data_pipeline): the sampler reshuffles every
epoch and splits the stream across ranks, its position is global, resumes are exact in one
process and in two gloo processes, and memory does not grow with the folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed

from sagan_engine.data_cache_build import build_cache
from sagan_engine.data_pipeline import DataPosition, EpochSampler, epoch_permutation
from sagan_engine.trainer import Trainer
from tests.engine.conftest import assert_same_models, tiny_config
from tests.engine.test_data_cache import write_ppm_folder

WORKER = Path(__file__).with_name("cache_train_worker.py")
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300


def take(sampler: EpochSampler, batches: int) -> list[list[int]]:
    it = iter(sampler)
    return [next(it) for _ in range(batches)]


# --------------------------------------------------------------------------- the sampler


def test_every_epoch_is_a_new_permutation_of_the_whole_set():
    n = 24
    stream = np.concatenate(take(EpochSampler(n, 4, seed=7), 3 * n // 4))
    epochs = stream.reshape(3, n)
    for epoch in epochs:
        assert sorted(epoch.tolist()) == list(range(n))  # each image once an epoch
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    again = np.concatenate(take(EpochSampler(n, 4, seed=7), 3 * n // 4))
    other = np.concatenate(take(EpochSampler(n, 4, seed=8), 3 * n // 4))
    assert np.array_equal(stream, again) and not np.array_equal(stream, other)


def test_a_batch_straddling_two_epochs_drops_nothing():
    stream = np.concatenate(take(EpochSampler(10, 4, seed=0), 5))  # 20 samples: 2 epochs
    assert sorted(stream[:10].tolist()) == sorted(stream[10:].tolist()) == list(range(10))


def test_ranks_read_disjoint_parts_of_one_global_stream():
    n, b, world = 30, 3, 2
    single = np.concatenate(take(EpochSampler(n, b * world, seed=1), 10))
    ranks = [take(EpochSampler(n, b, seed=1, rank=r, world_size=world), 10) for r in range(world)]
    for step in range(10):
        together = np.concatenate([ranks[r][step] for r in range(world)])
        assert np.array_equal(together, single[step * b * world : (step + 1) * b * world])
        assert not set(ranks[0][step]) & set(ranks[1][step])


def test_a_run_resumes_from_the_same_sample_with_another_number_of_processes():
    n = 50
    stream = np.concatenate(take(EpochSampler(n, 1, seed=4), 3 * n))
    # Two processes of batch 4 ran 9 steps: 72 samples, i.e. epoch 1, offset 22.
    position = DataPosition().advanced(9 * 2 * 4, n)
    assert position == DataPosition(1, 22)
    resumed = np.concatenate(take(EpochSampler(n, 5, seed=4, start=position), 6))  # 1 process
    assert np.array_equal(resumed, stream[72 : 72 + 30])


def test_position_round_trips_and_a_shrunk_set_starts_the_next_epoch():
    assert DataPosition.from_json(DataPosition(3, 7).to_json(), 10) == DataPosition(3, 7)
    assert DataPosition.from_json({"epoch": 3, "offset": 12}, 10) == DataPosition(4, 0)
    assert DataPosition.from_json(None, 10) == DataPosition()
    assert sorted(epoch_permutation(9, 0, 5).tolist()) == list(range(9))


# --------------------------------------------------------------------------- the trainer


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    write_ppm_folder(root / "images", 40, size=32, classes=2)
    build_cache(root / "images", 32, out=root / "cache", workers=1, shard_images=16)
    return root / "cache"


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "2-loader-workers"])
def test_resume_through_the_pipeline_is_exact(cache, tmp_path, workers):
    from sagan_engine.data_cache import open_cache

    dataset = open_cache(cache)

    def config(steps: int):
        return tiny_config(steps=steps, checkpoint_every=100, eval_every=0, snapshots=0).replace(
            data={"loader_workers": workers}
        )

    whole = Trainer(config(5), dataset, tmp_path / "whole")
    whole.run()
    Trainer(config(2), dataset, tmp_path / "split").run()
    resumed = Trainer(config(5), dataset, tmp_path / "split", resume=True)
    resumed.run()
    assert whole.feed is not None and whole.config.model.num_classes == 2
    assert resumed.feed.position == whole.feed.position == DataPosition(0, 20)
    assert_same_models(whole, resumed)


def test_the_disk_pipeline_feeds_the_same_images_as_memory(cache, tmp_path):
    """One epoch of real batches through the pipeline holds every cached image once."""
    from sagan_engine.data_cache import open_cache

    dataset = open_cache(cache)
    config = tiny_config(steps=1, batch_size=8).replace(data={"hflip": False})
    trainer = Trainer(config, dataset, tmp_path / "r")
    trainer._build()
    seen = torch.cat([trainer._real_batch()[0] for _ in range(5)])  # 40 images: one epoch
    pixels = ((seen + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    expected = dataset.images[0 : len(dataset)]
    key = lambda a: sorted(x.tobytes() for x in a)  # noqa: E731
    assert key(pixels) == key(expected)
    trainer.feed.close()


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_workers(args: list[str], world: int, out: Path) -> list[dict]:
    """Start ``world`` ranks of the worker (torchrun's environment) and read their results."""
    port = _free_port()
    procs = []
    for rank in range(world):
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        if world > 1:
            env.update(
                RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
            )  # fmt: skip
            if sys.platform.startswith("linux"):
                env.setdefault("GLOO_SOCKET_IFNAME", "lo")
        command = [sys.executable, str(WORKER), *args[:2], str(out / f"rank{rank}.json"), *args[2:]]
        procs.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    try:
        for rank, proc in enumerate(procs):
            output, _ = proc.communicate(timeout=TIMEOUT_S)
            assert proc.returncode == 0, f"rank {rank} failed:\n{output[-3000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(world)]


needs_gloo = pytest.mark.skipif(
    not torch.distributed.is_available() or sys.platform == "win32",
    reason="needs torch.distributed with gloo (not on this build or platform)",
)


@pytest.mark.slow
@needs_gloo
def test_two_process_resume_is_exact_and_one_process_carries_on(cache, tmp_path):
    import shutil

    from sagan_engine.runs import RunFolder

    whole = tmp_path / "whole"
    # 4 steps of 2 ranks x batch 3, a checkpoint every 2 steps.
    ranks = _run_workers([str(cache), str(whole), "4", "3", "0", "2"], 2, tmp_path)
    assert ranks[0]["models"] == ranks[1]["models"]
    assert ranks[0]["position"] == DataPosition().advanced(4 * 2 * 3, 40).to_json()
    split = tmp_path / "split"
    shutil.copytree(whole, split)
    for checkpoint in RunFolder(split).checkpoints()[1:]:
        checkpoint.unlink()  # back to step 2, as if stopped there
    out = tmp_path / "resumed"
    out.mkdir()
    resumed = _run_workers([str(cache), str(split), "4", "3", "1", "2"], 2, out)
    assert resumed[0]["step"] == 4
    assert resumed[0]["models"] == ranks[0]["models"]  # bit-identical to the uninterrupted run
    # The same run goes on in one process (this one), from the same sample of the stream.
    from sagan_engine.data_cache import open_cache

    config = tiny_config(steps=6, batch_size=3, eval_every=0, snapshots=0, seed=3)
    single = Trainer(config, open_cache(cache), whole, resume=True)
    single.run()
    assert single.step == 6
    assert single.feed.position == DataPosition().advanced(4 * 2 * 3 + 2 * 3, 40)


def _has_malloc_trim() -> bool:
    import ctypes

    try:
        return hasattr(ctypes.CDLL(None), "malloc_trim")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.skipif(not _has_malloc_trim(), reason="needs glibc's malloc_trim")
def test_anonymous_memory_does_not_grow_with_the_folder(tmp_path):
    """RssAnon while training from the cache, after a whole epoch of the larger folder, is the
    same within a few MB for 4000 images as for 400; the same 4000 held in memory (the control)
    cost their 11 MB. The worker has glibc return freed memory (malloc_trim) just before it
    reads RssAnon, so that the figure is what is live, not what the allocator happens to keep.
    The model is the leanest the config allows: only the data path is measured here."""
    results = {}
    for n in (400, 4000):
        write_ppm_folder(tmp_path / f"images{n}", n, size=32, seed=n)
        build_cache(tmp_path / f"images{n}", 32, out=tmp_path / f"cache{n}", workers=1)
    steps = 4000 // 256 + 1  # a whole epoch of the larger folder
    for name, n, mode, n_steps in [
        ("disk400", 400, "disk", steps), ("disk4000", 4000, "disk", steps),
        ("memory4000", 4000, "memory", 2),
    ]:  # fmt: skip
        out = tmp_path / f"out-{name}"
        out.mkdir()
        args = [str(tmp_path / f"cache{n}"), str(tmp_path / f"run-{name}"), str(n_steps), "256"]
        (result,) = _run_workers([*args, "0", "100000", mode, "lean"], 1, out)
        assert result["trimmed"] and result["step"] == n_steps, result
        results[name] = result["rss_anon_kb"] / 1024
    assert abs(results["disk4000"] - results["disk400"]) < 3, results
    assert results["memory4000"] - results["disk4000"] > 9, results  # the test can tell
