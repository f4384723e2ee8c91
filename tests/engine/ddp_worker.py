"""One rank of the 2-process training test (tests/engine/test_distributed.py).

Started like ``torchrun`` starts a rank: RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and
MASTER_PORT in the environment; the engine joins the group through
``DistributedContext.from_environment()`` (gloo on a CPU), trains a tiny model on synthetic
images and writes what the test compares to ``OUT/rank{r}.json``: a digest of every weight and
buffer of G, G's EMA copy and D, the shard it trained on, and which files it wrote.

    python tests/engine/ddp_worker.py RUN_DIR OUT_DIR STEPS
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sagan_engine import checkpoint as checkpoint_module  # noqa: E402
from sagan_engine.distributed import DistributedContext  # noqa: E402
from sagan_engine.trainer import Trainer  # noqa: E402
from tests.engine.conftest import synthetic_dataset, tiny_config  # noqa: E402

NUM_IMAGES = 16


def run_config(steps: int):
    """The tiny model (attention in G and D, batch norm in G); samples every other step."""
    return tiny_config(steps=steps, log_every=1, sample_every=2, checkpoint_every=1000, seed=3)


def digest(module: torch.nn.Module) -> dict[str, str]:
    """sha256 of every parameter and buffer (contiguous bytes), by name."""
    out = {}
    for name, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous().numpy().tobytes()
        out[name] = hashlib.sha256(data).hexdigest()
    return out


def synchronised_batch_norm_error(context: DistributedContext) -> float:
    """Largest difference between batch norm synchronised over the ranks, each holding a slice
    of one batch, and plain batch norm on the whole batch: outputs, input and weight gradients.
    """
    world, rank = context.world_size, context.rank
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(4 * world, 6, 5, 5, generator=gen) * 3 + 1
    w = torch.randn(4 * world, 6, 5, 5, generator=gen)  # loss = sum(y * w)

    def run(module: torch.nn.Module, xs: torch.Tensor, ws: torch.Tensor):
        xs = xs.clone().requires_grad_(True)
        y = module(xs)
        (y * ws).sum().backward()
        return y.detach(), xs.grad, module.weight.grad.clone(), module.running_var.clone()

    torch.manual_seed(0)
    whole = torch.nn.BatchNorm2d(6)
    torch.nn.init.uniform_(whole.weight)
    y_ref, gx_ref, gw_ref, rv_ref = run(whole, x, w)
    torch.manual_seed(0)
    plain = torch.nn.BatchNorm2d(6)
    torch.nn.init.uniform_(plain.weight)
    synced = context.sync_batch_norm(torch.nn.Sequential(plain), torch.device("cpu"))[0]
    part = slice(4 * rank, 4 * rank + 4)
    y, gx, gw, rv = run(synced, x[part], w[part])
    gathered = []
    for local in (y, gx):
        pieces = [torch.empty_like(local) for _ in range(world)]
        torch.distributed.all_gather(pieces, local.contiguous())
        gathered.append(torch.cat(pieces))
    torch.distributed.all_reduce(gw)  # DDP would average; the sum is the whole batch's
    errors = [
        (gathered[0] - y_ref).abs().max(),
        (gathered[1] - gx_ref).abs().max(),
        (gw - gw_ref).abs().max(),
        (rv - rv_ref).abs().max(),
    ]
    return float(max(errors))


def main() -> int:
    run_dir, out_dir, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)  # two ranks share the test machine's cores
    context = DistributedContext.from_environment("cpu")  # gloo, also on a GPU machine
    assert context.world_size == 2, context

    written: list[str] = []  # every file this rank writes through the trainer
    save_checkpoint = checkpoint_module.save_checkpoint
    save_image = Image.Image.save

    def counting_checkpoint(path, *args, **kwargs):
        written.append(str(path))
        return save_checkpoint(path, *args, **kwargs)

    def counting_image(self, path, *args, **kwargs):
        written.append(str(path))
        return save_image(self, path, *args, **kwargs)

    checkpoint_module.save_checkpoint = counting_checkpoint
    Image.Image.save = counting_image
    append_metrics = Trainer._append_metrics

    def counting_metrics(self, *args, **kwargs):
        written.append(str(self.run_folder.metrics_path))
        return append_metrics(self, *args, **kwargs)

    Trainer._append_metrics = counting_metrics
    local_means: list[list[float]] = []  # this rank's own losses and D outputs per log line
    emit_stats = Trainer._emit_stats

    def recording_stats(self, accumulated, count, *args):
        local_means.append((accumulated / max(count, 1)).tolist())
        return emit_stats(self, accumulated, count, *args)

    Trainer._emit_stats = recording_stats

    batch_norm_error = synchronised_batch_norm_error(context)
    events: list[str] = []
    # "other-data": rank 1's machine holds another copy of the folder, 4 images short;
    # "other-files": as many images of each class on both, but other files (or sizes).
    short = sys.argv[4:] == ["other-data"] and context.rank == 1
    dataset = synthetic_dataset(NUM_IMAGES - 4 if short else NUM_IMAGES)
    if sys.argv[4:] == ["other-files"]:
        dataset.fingerprint = f"{context.rank}" * 16
    config = run_config(steps)
    if sys.argv[4:] == ["stop-after-3"]:  # rank 0 asks to stop after step 3 (Ctrl-C)
        config = config.replace(train={"log_every": 2})
        train_step = Trainer._train_step

        def stopping_step(self):
            losses = train_step(self)
            if self.step == 3 and context.rank == 0:
                self.stop()
            return losses

        Trainer._train_step = stopping_step
    trainer = Trainer(
        config,
        dataset,
        run_dir,
        listeners=[lambda event: events.append(type(event).__name__)],
        distributed=context,
    )
    finished = trainer.run()
    shard = trainer.images.cpu().numpy()
    result = {
        "rank": context.rank,
        "step": finished.step,
        "reason": finished.reason,
        "G": digest(trainer.G),
        "G_ema": digest(trainer.G_ema),
        "D": digest(trainer.D),
        "plain_batch_norms_in_G": sum(type(m) is torch.nn.BatchNorm2d for m in trainer.G.modules()),
        "batch_norm_error": batch_norm_error,
        "shard_size": len(shard),
        "shard_digest": hashlib.sha256(shard.tobytes()).hexdigest(),
        "written": written,
        "local_means": local_means,
        "events": events,
    }
    (out_dir / f"rank{context.rank}.json").write_text(json.dumps(result), encoding="utf-8")
    context.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
