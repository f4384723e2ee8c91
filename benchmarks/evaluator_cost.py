"""What the quality evaluator costs a training run (issue 10): the same run trained twice,
without the evaluator and with it at a short interval, on the bundled demo data::

    python benchmarks/evaluator_cost.py                      # demo preset, 300 steps, every 100
    python benchmarks/evaluator_cost.py --steps 600 --every 200 --images 256

Prints the seconds of one evaluation (in its background thread), the training time of both
runs, the extra training time per evaluation, and the slowdown that implies at the default
interval (train.eval_every) as a share of training throughput. On a machine shared with other
jobs the two runs see different loads: repeat and compare the medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sagan_engine.config import TrainConfig, preset  # noqa: E402
from sagan_engine.data import load_demo_dataset  # noqa: E402
from sagan_engine.events import QualityMeasured  # noqa: E402
from sagan_engine.trainer import Trainer  # noqa: E402


def _train(dataset, steps: int, every: int, images: int, folder: Path) -> tuple[float, list]:
    config = preset("demo").replace(
        train={
            "steps": steps,
            "eval_every": every,
            "eval_images": images,
            "sample_every": 10**6,
            "checkpoint_every": 10**6,
            "snapshots": 0,
        }
    )
    measured: list[QualityMeasured] = []
    trainer = Trainer(
        config,
        dataset,
        folder,
        listeners=[lambda e: measured.append(e) if isinstance(e, QualityMeasured) else None],
    )
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--images", type=int, default=TrainConfig.eval_images)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    dataset = load_demo_dataset(32)
    base_times, eval_times, costs, counts = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            base, _ = _train(dataset, args.steps, 0, args.images, Path(tmp) / f"base{repeat}")
            timed, measured = _train(
                dataset, args.steps, args.every, args.images, Path(tmp) / f"eval{repeat}"
            )
            print(f"run {repeat + 1}: {base:.1f} s without, {timed:.1f} s with", flush=True)
            base_times.append(base)
            eval_times.append(timed)
            costs += [m.seconds for m in measured]
            counts.append(len(measured))
    base, timed = statistics.median(base_times), statistics.median(eval_times)
    step_s = base / args.steps
    n_evals = statistics.median(counts) or 1
    extra = (timed - base) / n_evals
    default_every = TrainConfig.eval_every
    print(f"demo preset, {args.steps} steps, {args.images} images per evaluation")
    print(f"one evaluation (background thread): {statistics.median(costs):.2f} s")
    print(f"training without evaluator: {base:.1f} s ({step_s * 1000:.0f} ms/step)")
    print(f"training with one every {args.every} steps: {timed:.1f} s ({n_evals} evaluations)")
    print(f"extra training time per evaluation: {extra:.2f} s")
    print(
        f"slowdown at the default eval_every={default_every}: "
        f"{100 * extra / (default_every * step_s):.1f}% of training throughput"
    )
    # Whatever the load: even if training stood still for the whole of every evaluation.
    print(
        f"upper bound (training paused during each evaluation) at eval_every={default_every}: "
        f"{100 * statistics.median(costs) / (default_every * step_s):.1f}%"
    )


if __name__ == "__main__":
    main()
