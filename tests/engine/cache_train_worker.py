"""Trains the tiny model from a decoded disk cache in a process of its own, for the tests of
tests/engine/test_data_pipeline.py: alone (anonymous memory while training) or as one rank of a
``torchrun``-style group (RANK, WORLD_SIZE, MASTER_ADDR... in the environment).

    python tests/engine/cache_train_worker.py CACHE RUN_DIR OUT_JSON STEPS BATCH RESUME(0|1) \
        CHECKPOINT_EVERY [memory] [lean]

Writes OUT_JSON: the rank, the step, the data position, a sha256 of every weight and buffer of
G, G_ema and D, and RssAnon (kB, from /proc/self/status) at the last step, read after glibc's
malloc_trim(0) where there is one (freed heap pages go back to the system, so the figure is
what is live, not what the allocator happens to keep). With ``memory`` the cache is read into
memory first (data.cache = memory), the control of the memory test. With ``lean`` the model is
the smallest the config allows (g_ch = d_ch = 2, no attention layer): for runs that only
exercise the data path, about 3x cheaper a step than the tiny model.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sagan_engine.config import DataConfig  # noqa: E402
from sagan_engine.data_cache import open_cache  # noqa: E402
from sagan_engine.distributed import DistributedContext  # noqa: E402
from sagan_engine.events import StepStats  # noqa: E402
from sagan_engine.trainer import Trainer  # noqa: E402
from sagan_engine.training_data import load_training_data  # noqa: E402
from tests.engine.conftest import tiny_config  # noqa: E402


def rss_anon_kb() -> int:
    """Anonymous resident memory of this process (heap, not file-backed pages), in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return -1


def release_freed_memory() -> bool:
    """Return the allocator's free pages to the system (glibc's malloc_trim); False where the C
    library has no such call."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return False
    trim(0)
    return True


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> int:
    cache, run_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    steps, batch, resume = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
    checkpoint_every = int(sys.argv[7])
    torch.set_num_threads(1)
    context = DistributedContext.from_environment("cpu")  # gloo, also on a GPU machine
    config = tiny_config(
        steps=steps, batch_size=batch, log_every=1, sample_every=10_000,
        checkpoint_every=checkpoint_every, eval_every=0, snapshots=0, seed=3,
    ).replace(data={"loader_workers": 0})  # fmt: skip
    options = set(sys.argv[8:])
    if "lean" in options:
        config = config.replace(model={"g_ch": 2, "d_ch": 2, "g_attention": (), "d_attention": ()})
    if "memory" in options:
        dataset = load_training_data(DataConfig(folder=str(cache), cache="memory"), 32)
    else:
        dataset = open_cache(cache)
    rss_at_last_step, trimmed = [], []

    def on_event(event) -> None:
        if isinstance(event, StepStats) and event.step == steps:
            trimmed.append(release_freed_memory())
            rss_at_last_step.append(rss_anon_kb())

    trainer = Trainer(
        config, dataset, run_dir, resume=resume, distributed=context, listeners=[on_event]
    )
    finished = trainer.run()
    result = {
        "rank": context.rank,
        "step": finished.step,
        "position": trainer.feed.position.to_json() if trainer.feed else None,
        "models": {name: digest(getattr(trainer, name)) for name in ("G", "G_ema", "D")},
        "rss_anon_kb": rss_at_last_step[0] if rss_at_last_step else None,
        "trimmed": bool(trimmed and trimmed[0]),
    }
    out.write_text(json.dumps(result), encoding="utf-8")
    context.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
