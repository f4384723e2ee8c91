"""Learning benchmark: how fast does a recipe learn on the demo data, measured by SWD.

Trains the demo preset for a fixed wall time per variant (with and without DiffAugment, the
paper's and the official attention), keeps a checkpoint every ``--checkpoint-every`` steps,
then evaluates every checkpoint's EMA generator with the multi-scale SWD against the demo
data (after training, so evaluation never eats into the training time). Prints a table of
SWD against wall time, writes JSON and a PNG plot::

    python benchmarks/learning.py --minutes 10 --variants paper+aug,paper,official+aug
    python benchmarks/learning.py --from-run runs/demo-model     # score an existing run

Wall time is the trainer's own ``elapsed_s`` (metrics.csv), so a busy machine shows up as a
slower curve: write the machine and its load beside every figure. On a shared machine give a
step budget instead (``--steps``, e.g. 30 minutes' worth at the idle step time) and
``--step-seconds`` (the idle seconds per step, measured with ``bench``): every point is then
placed at ``step x step-seconds``, so the curves do not depend on what else ran::

    python benchmarks/learning.py --steps 2070 --step-seconds 0.87 --variants paper,official
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sagan_engine.config import RunConfig, preset  # noqa: E402
from sagan_engine.export import training_seconds_by_step  # noqa: E402
from sagan_engine.runs import RunFolder  # noqa: E402

VARIANTS = {
    "paper+aug": {"augment": "color,translation,cutout", "attention_variant": "paper"},
    "paper": {"augment": "off", "attention_variant": "paper"},
    "official+aug": {"augment": "color,translation,cutout", "attention_variant": "official"},
    "official": {"augment": "off", "attention_variant": "official"},
}
COLOURS = [
    (230, 25, 75),
    (0, 130, 200),
    (60, 180, 75),
    (245, 130, 48),
    (145, 30, 180),
    (70, 140, 140),
    (240, 50, 230),
    (120, 120, 0),
]


def variant_config(
    name: str, checkpoint_every: int, seed: int, steps: int = 10_000_000
) -> RunConfig:
    settings = VARIANTS[name]
    return preset("demo").replace(
        model={"attention_variant": settings["attention_variant"]},
        train={
            "steps": steps,
            "augment": settings["augment"],
            "checkpoint_every": checkpoint_every,
            "keep_checkpoints": 100_000,
            "sample_every": 10_000_000,
            "seed": seed,
        },
    )


def train_for(config: RunConfig, run_dir: Path, minutes: float) -> None:
    """Train until ``minutes`` of the trainer's own clock have passed, then stop and save."""
    from sagan_engine.data import load_demo_dataset
    from sagan_engine.events import StepStats
    from sagan_engine.trainer import Trainer

    data = load_demo_dataset(config.model.resolution)
    trainer = Trainer(config, data, run_dir)

    def stop_in_time(event) -> None:
        if isinstance(event, StepStats) and event.elapsed_s >= minutes * 60:
            trainer.stop()

    trainer.add_listener(stop_in_time)
    trainer.run()


def elapsed_by_step(run_dir: Path) -> dict[int, float]:
    """The trainer's clock at each logged step (metrics.csv), for placing checkpoints in time;
    older logs' resumed segments laid end to end (sagan_engine.export)."""
    return training_seconds_by_step(RunFolder(run_dir).metrics_path)


def score_run(
    run_dir: Path,
    n: int,
    seed: int,
    step_seconds: float | None = None,
    max_step: int | None = None,
) -> list[dict]:
    """SWD of G and of its EMA at every checkpoint of a run, with the wall time of each:
    the trainer's clock, or ``step x step_seconds`` when that is given."""
    from sagan_engine.checkpoint import load_checkpoint
    from sagan_engine.data import load_demo_dataset
    from sagan_engine.demo_model import checkpoint_generator
    from sagan_engine.metrics.evaluation import generate_images, random_sample
    from sagan_engine.metrics.swd import SWDReference

    times = elapsed_by_step(run_dir)
    logged = np.array(sorted(times))
    config = RunConfig.load(RunFolder(run_dir).config_path)
    real = random_sample(load_demo_dataset(config.model.resolution).images, n, seed)
    reference = SWDReference(real, seed)  # the real side's descriptors, once for all
    points = []
    for path in RunFolder(run_dir).checkpoints():
        ckpt = load_checkpoint(path)
        if max_step is not None and ckpt.step > max_step:
            continue
        nearest = int(logged[np.abs(logged - ckpt.step).argmin()]) if len(logged) else ckpt.step
        point = {"step": ckpt.step, "trainer_minutes": round(times.get(nearest, 0.0) / 60, 2)}
        point["minutes"] = (
            round(ckpt.step * step_seconds / 60, 2) if step_seconds else point["trainer_minutes"]
        )
        for name, key in (("G_ema", "swd_avg"), ("G", "swd_avg_G")):
            if not ckpt.state_dict(name):
                continue
            generator = checkpoint_generator(ckpt, name)  # EMA: its own BN statistics
            fake = generate_images(generator, ckpt.config, len(real), seed + 1)
            point[key] = round(reference.distance(fake).average, 2)
        points.append(point)
        ema, raw = point.get("swd_avg", float("nan")), point.get("swd_avg_G", float("nan"))
        print(
            f"  step {point['step']:6d}  {point['minutes']:6.1f} min  "
            f"SWD x1e3: EMA {ema:6.1f}  G {raw:6.1f}"
        )
    return points


def as_lines(curves: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """One plotted line per run and generator: "name EMA" and "name G"."""
    lines = {}
    for name, points in curves.items():
        for key, label in (("swd_avg", "EMA"), ("swd_avg_G", "G")):
            line = [{"minutes": p["minutes"], "swd_avg": p[key]} for p in points if key in p]
            if line:
                lines[f"{name} {label}"] = line
    return lines


def plot(curves: dict[str, list[dict]], path: Path, size=(720, 420)) -> None:
    """SWD (x10^3, lower is better) against wall-clock minutes, one line per variant."""
    width, height = size
    left, right, top, bottom = 60, 20, 20, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    xs = [p["minutes"] for pts in curves.values() for p in pts] or [1.0]
    ys = [p["swd_avg"] for pts in curves.values() for p in pts] or [1.0]
    x_max, y_max = max(xs) or 1.0, max(ys) * 1.05 or 1.0

    def at(minutes: float, swd: float) -> tuple[float, float]:
        return (
            left + minutes / x_max * (width - left - right),
            height - bottom - swd / y_max * (height - top - bottom),
        )

    draw.line([at(0, 0), at(x_max, 0)], fill="black")
    draw.line([at(0, 0), at(0, y_max)], fill="black")
    for tick in np.linspace(0, x_max, 6):
        x, y = at(tick, 0)
        draw.text((x - 10, y + 6), f"{tick:.0f}", fill="black")
    for tick in np.linspace(0, y_max, 6):
        x, y = at(0, tick)
        draw.text((4, y - 6), f"{tick:.0f}", fill="black")
    draw.text((width // 2 - 60, height - 20), "wall-clock minutes", fill="black")
    draw.text((left + 8, top), "SWD x1e3 (lower is better)", fill="black")
    for index, (name, points) in enumerate(curves.items()):
        colour = COLOURS[index % len(COLOURS)]
        line = [at(p["minutes"], p["swd_avg"]) for p in points]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        for x, y in line:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((width - right - 150, top + 16 * index), name, fill=colour)
    image.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--steps", type=int, help="a step budget instead of --minutes")
    parser.add_argument(
        "--step-seconds", type=float, help="place points at step x this (idle s/step)"
    )
    parser.add_argument("--max-step", type=int, help="score checkpoints up to this step")
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    parser.add_argument("--variants", default="paper+aug,paper")
    parser.add_argument("--checkpoint-every", type=int, default=250)
    parser.add_argument("--n", type=int, default=1000, help="images per SWD evaluation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-run", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("learning"))
    parser.add_argument("--work", type=Path, help="where runs go (default: a temporary folder)")
    args = parser.parse_args()

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    curves: dict[str, list[dict]] = {}
    for run in args.from_run:
        print(f"{run}:")
        curves[run.name] = score_run(run, args.n, args.seed, args.step_seconds, args.max_step)
    if not args.from_run:
        work = args.work or Path(tempfile.mkdtemp(prefix="sagan-learning-"))
        for name in args.variants.split(","):
            if name not in VARIANTS:
                parser.error(f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}")
            run_dir = work / name
            budget = f"{args.steps} steps" if args.steps else f"{args.minutes} min"
            print(f"{name}: training {budget} in {run_dir}")
            config = variant_config(name, args.checkpoint_every, args.seed, args.steps or 10**7)
            train_for(config, run_dir, float("inf") if args.steps else args.minutes)
            curves[name] = score_run(run_dir, args.n, args.seed, args.step_seconds, args.max_step)
    report = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "minutes": args.minutes,
        "steps": args.steps,
        "step_seconds": args.step_seconds,
        "threads": args.threads,
        "n": args.n,
        "curves": curves,
    }
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    plot(as_lines(curves), args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
