"""Scale-out: two CPU processes train one run with DistributedDataParallel over gloo.

Each rank is started as ``torchrun`` would start it (``tests/engine/ddp_worker.py``); after
training the weights of every rank must be bit-identical, each rank must have trained on its
own shard, and only rank 0 may have written samples, metrics and the checkpoint. The run is then
resumed by a single process, which must carry on from the saved step.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed

from sagan_engine.distributed import DistributedContext
from sagan_engine.events import Log, TrainingStarted
from sagan_engine.runs import RunFolder
from sagan_engine.trainer import Trainer
from tests.engine.conftest import synthetic_dataset
from tests.engine.ddp_worker import NUM_IMAGES, run_config

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]
STEPS = 4
WORLD = 2
TIMEOUT_S = 120

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or sys.platform == "win32",
    reason="needs torch.distributed with gloo (not on this build or platform)",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(
    run_dir: Path, out_dir: Path, steps: int, *options: str
) -> list[subprocess.CompletedProcess]:
    """Start WORLD ranks with torchrun's environment variables and wait for all of them."""
    port = _free_port()
    procs = []
    for rank in range(WORLD):
        env = dict(
            os.environ,
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(WORLD),
            LOCAL_WORLD_SIZE=str(WORLD),
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(port),
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        if sys.platform.startswith("linux"):
            env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # never wander onto another network
        command = [sys.executable, str(WORKER), str(run_dir), str(out_dir), str(steps), *options]
        procs.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    results = []
    try:
        for proc in procs:
            output, _ = proc.communicate(timeout=TIMEOUT_S)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, output))
    finally:
        for proc in procs:
            if proc.poll() is None:  # a rank hung (e.g. its peer died): do not leave it behind
                proc.kill()
                proc.communicate()
    return results


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    run_dir, out_dir = root / "run", root / "out"
    out_dir.mkdir()
    results = _launch(run_dir, out_dir, STEPS)
    for rank, result in enumerate(results):
        assert result.returncode == 0, f"rank {rank} failed:\n{result.stdout[-3000:]}"
    ranks = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(WORLD)]
    return run_dir, ranks


def test_weights_and_buffers_match_across_ranks(two_rank_run):
    _, (rank0, rank1) = two_rank_run
    assert rank0["step"] == rank1["step"] == STEPS
    for model in ("G", "G_ema", "D"):
        differing = sorted(k for k in rank0[model] if rank0[model][k] != rank1[model].get(k))
        assert rank0[model].keys() == rank1[model].keys()
        # Weights by DDP, batch-norm statistics by SyncBatchNorm, spectral-norm u by identical
        # power iterations on identical weights.
        assert not differing, f"{model} differs across ranks in {differing}"


def test_each_rank_trains_on_its_own_shard(two_rank_run):
    _, ranks = two_rank_run
    assert [r["shard_size"] for r in ranks] == [NUM_IMAGES // WORLD] * WORLD
    assert ranks[0]["shard_digest"] != ranks[1]["shard_digest"]


def test_batch_norm_in_G_is_synchronised_across_ranks(two_rank_run):
    _, ranks = two_rank_run
    for r in ranks:
        assert r["plain_batch_norms_in_G"] == 0  # every one replaced by a synchronised one
        # Slices of one batch on two ranks == the whole batch in one process: outputs, input
        # and weight gradients, running variance.
        assert r["batch_norm_error"] < 1e-4


def test_only_rank_zero_writes_files_and_one_checkpoint_exists(two_rank_run):
    run_dir, (rank0, rank1) = two_rank_run
    assert rank1["written"] == []
    assert rank1["events"] == []  # listeners hear nothing on other ranks
    folder = RunFolder(run_dir)
    assert [p.name for p in folder.checkpoints()] == [f"step_{STEPS:06d}.safetensors"]
    checkpoints = [p for p in rank0["written"] if Path(p).parent.name == "checkpoints"]
    assert len(checkpoints) == 1  # (snapshots of G for replay are written besides)
    assert sorted(p.name for p in folder.samples_dir.iterdir()) == [
        f"step_{s:06d}.png" for s in range(0, STEPS + 1, 2)
    ]
    rows = folder.metrics_path.read_text().strip().splitlines()
    # header, one row per logged step and one of attention statistics per sample step, once
    assert len(rows) == 1 + STEPS + len(range(0, STEPS + 1, 2))
    assert not [p for p in run_dir.rglob("*.tmp")]


def test_logged_losses_are_of_the_global_batch_not_rank_zero_alone(two_rank_run):
    import csv

    run_dir, (rank0, rank1) = two_rank_run
    with open(RunFolder(run_dir).metrics_path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["loss_d"]]
    assert len(rows) == len(rank0["local_means"]) == len(rank1["local_means"]) == STEPS
    columns = ("loss_d", "d_real", "d_fake", "loss_g")  # the order the trainer sums them in
    for row, mine, theirs in zip(rows, rank0["local_means"], rank1["local_means"], strict=True):
        logged = [float(row[c]) for c in columns]
        average = [(a + b) / 2 for a, b in zip(mine, theirs, strict=True)]
        assert logged == pytest.approx(average, rel=1e-5, abs=1e-6)
    assert rank0["local_means"] != rank1["local_means"]  # each rank its own shard


def test_ranks_that_loaded_other_data_stop_naming_what_differs(tmp_path):
    """Two machines with other copies of the folder: every rank stops before training with a
    message that says what differs where, not a DDP error about parameter sizes (or, with the
    same classes, a run that trains on mismatched data without a word)."""
    (tmp_path / "out").mkdir()
    results = _launch(tmp_path / "run", tmp_path / "out", STEPS, "other-data")
    for result in results:
        assert result.returncode != 0
        assert "do not see the same training data (synthetic)" in result.stdout, result.stdout
        assert f"images {NUM_IMAGES} on rank 0" in result.stdout
        assert f"{NUM_IMAGES - 4} on rank 1" in result.stdout
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ranks_with_as_many_images_but_other_files_stop_too(tmp_path):
    """Same counts per class, other files (a copy resized or edited on one machine): the
    datasets' fingerprints differ, and every rank stops naming them."""
    (tmp_path / "out").mkdir()
    results = _launch(tmp_path / "run", tmp_path / "out", STEPS, "other-files")
    for result in results:
        assert result.returncode != 0
        assert "do not see the same training data (synthetic)" in result.stdout, result.stdout
        expected = f"files (names, sizes, classes) {'0' * 16} on rank 0"
        assert expected in result.stdout and f"{'1' * 16} on rank 1" in result.stdout
        assert "images per class" not in result.stdout  # only what differs is named
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_fact_one_rank_does_not_know_is_not_compared(monkeypatch):
    """A cache prepared by an older version has no fingerprint: that is not a difference."""
    import sagan_engine.distributed as distributed
    from sagan_engine.errors import DataError

    def gather(facts_by_rank):
        def fill(out, _mine):
            out[:] = [("host", facts) for facts in facts_by_rank]

        monkeypatch.setattr(distributed.torch_dist, "all_gather_object", fill)

    context = DistributedContext(rank=0, local_rank=0, world_size=2)
    gather([{"images": 8, "files": "abc"}, {"images": 8, "files": None}])
    context.check_same("training data", {})  # no error
    gather([{"images": 8, "files": "abc"}, {"images": 8, "files": "abd"}])
    with pytest.raises(DataError, match="files abc on rank 0 .*, abd on rank 1"):
        context.check_same("training data", {})


def test_a_stop_on_rank_zero_stops_every_rank_at_the_next_logged_step(tmp_path):
    """Ranks agree on a stop with an all-reduce that waits for the device: only at logged
    steps (every 2 here), not after every step, and all of them at the same one."""
    out = tmp_path / "out"
    out.mkdir()
    results = _launch(tmp_path / "run", out, 8, "stop-after-3")
    for rank, result in enumerate(results):
        assert result.returncode == 0, f"rank {rank} failed:\n{result.stdout[-3000:]}"
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD)]
    assert [(r["step"], r["reason"]) for r in ranks] == [(4, "stopped")] * WORLD
    assert ranks[0]["G"] == ranks[1]["G"]
    checkpoints = RunFolder(tmp_path / "run").checkpoints()
    assert [p.name for p in checkpoints] == ["step_000004.safetensors"]


def test_a_two_process_run_resumes_in_one_process(two_rank_run):
    run_dir, _ = two_rank_run
    events = []
    trainer = Trainer(
        run_config(STEPS + 2),
        synthetic_dataset(NUM_IMAGES),
        run_dir,
        listeners=[events.append],
        resume=True,
        distributed=DistributedContext.single(),
    )
    finished = trainer.run()
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.start_step == STEPS
    assert any(isinstance(e, Log) and f"at step {STEPS}" in e.message for e in events)
    assert finished.step == STEPS + 2
    assert RunFolder(run_dir).latest_checkpoint().name == f"step_{STEPS + 2:06d}.safetensors"
