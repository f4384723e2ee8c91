"""Data-pipeline benchmark: images per second from the on-disk cache, against the trainer.

    python -m sagan_engine.bench_data [--resolutions 32,128] [--images 4096] [--workers 0,2]
                                      [--batch-size 64] [--seconds 5] [--train-steps 20]

For each resolution it writes a folder of random images, builds the decoded cache (timed:
the build's files/s), then reads batches through the training pipeline (EpochSampler ->
DataLoader with ``workers`` processes, pinned memory on CUDA) for ``--seconds`` and reports
images per second; and the in-memory path (index an array, as small folders train) for
comparison. ``--train-steps`` times the trainer itself on the same machine (the demo preset's
model at 32x32, fp32 on the CPU unless a GPU is there) so the two rates can be set side by
side: the pipeline should deliver at least 3x what the trainer consumes.

The page cache is warm after the build (the figures are those of a cache that fits in RAM;
a cold cache on a slow disk reads at the disk's speed). Prints one line per measurement and,
with ``--json FILE``, writes them all.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _write_folder(folder: Path, n: int, size: int) -> None:
    """``n`` random RGB images as binary PPM (cheap to write; decoding cost is not measured
    here but in the build's own rate)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    header = f"P6\n{size} {size}\n255\n".encode()
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        (folder / f"{i:07d}.ppm").write_bytes(header + pixels.tobytes())


def pipeline_rate(images, labels, batch_size: int, workers: int, seconds: float) -> float:
    """Images per second the DataLoader pipeline hands over, after a warm-up of a few batches."""
    import torch

    from .data_pipeline import EpochSampler, make_loader

    sampler = EpochSampler(len(images), batch_size, seed=0)
    loader = make_loader(
        images, labels, sampler, workers=workers, pin_memory=torch.cuda.is_available()
    )
    batches = iter(loader)
    for _ in range(max(3, 2 * workers)):
        next(batches)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        x, _ = next(batches)
        count += x.shape[0]
    rate = count / (time.perf_counter() - start)
    del batches
    return rate


def memory_rate(images: np.ndarray, batch_size: int, seconds: float) -> float:
    """Images per second of the in-memory path: random indices into one uint8 tensor."""
    import torch

    data = torch.from_numpy(images)
    gen = torch.Generator().manual_seed(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        index = torch.randint(len(data), (batch_size,), generator=gen)
        count += data[index].shape[0]
    return count / (time.perf_counter() - start)


def trainer_rate(steps: int, batch_size: int) -> float:
    """Real images per second the trainer consumes: the demo preset at 32x32 (D sees
    ``batch_size * n_dis`` real images a step), timed after two warm-up steps."""
    from .config import preset
    from .data import ImageDataset
    from .events import StepStats
    from .trainer import Trainer

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (512, 32, 32, 3), dtype=np.uint8)
    dataset = ImageDataset(images, np.zeros(512, np.int64), [], [], "synthetic")
    config = preset("demo").replace(
        train={
            "steps": steps + 2, "batch_size": batch_size, "log_every": 1, "eval_every": 0,
            "snapshots": 0, "sample_every": 100_000, "checkpoint_every": 100_000,
        }
    )  # fmt: skip
    times: list[tuple[int, float]] = []

    def listener(event) -> None:
        if isinstance(event, StepStats):
            times.append((event.step, time.perf_counter()))

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(
            config, dataset, run_dir, listeners=[lambda e: isinstance(e, StepStats) and listener(e)]
        )
        trainer.run()
    (s0, t0), (s1, t1) = times[1], times[-1]
    return (s1 - s0) * batch_size * config.train.n_dis / (t1 - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagan_engine.bench_data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--resolutions", default="32,128")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--workers", default="0,2", help="DataLoader worker counts to time")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--train-steps", type=int, default=20, help="0: skip the trainer")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    from .data_cache import build_cache

    results: list[dict] = []

    def report(**row) -> None:
        results.append(row)
        print(
            "  ".join(
                f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            ),
            flush=True,
        )

    from .data_cache import default_workers

    print(f"cores available: {default_workers()}")
    with tempfile.TemporaryDirectory() as tmp:
        for res in (int(r) for r in args.resolutions.split(",")):
            folder = Path(tmp) / f"images{res}"
            _write_folder(folder, args.images, res)
            start = time.perf_counter()
            dataset = build_cache(folder, res, out=Path(tmp) / f"cache{res}")
            build_s = time.perf_counter() - start
            report(
                what="build", resolution=res, images=args.images, files_per_s=args.images / build_s
            )
            for workers in (int(w) for w in args.workers.split(",")):
                rate = pipeline_rate(
                    dataset.images, dataset.labels, args.batch_size, workers, args.seconds
                )
                report(what="pipeline", resolution=res, workers=workers, images_per_s=rate)
            in_memory = dataset.images[0 : len(dataset)]
            report(
                what="memory",
                resolution=res,
                images_per_s=memory_rate(in_memory, args.batch_size, args.seconds),
            )
    if args.train_steps:
        report(what="trainer", preset="demo", resolution=32,
               images_per_s=trainer_rate(args.train_steps, args.batch_size))  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
