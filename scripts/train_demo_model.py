"""Train the demo model that ships in resources/demo_model/, or export it from a finished run.

    python scripts/train_demo_model.py --out runs/demo-model            # train, then export
    python scripts/train_demo_model.py --export runs/demo-model         # export only

Training uses the project's own engine on the bundled emoji data with the recipe below (the
demo preset's architecture, DiffAugment, EMA 0.999) and keeps a checkpoint every 500 steps
so the run can be replayed through training. Ctrl-C stops after the current step and saves.
The export writes the EMA generator in fp16 safetensors plus its config and class names,
the run's training log up to that step (metrics.csv: the window's training curves for the
demo model) and 8 of the run's generator states up to it (snapshots/: attention over
training); see resources/demo_model/MODEL_CARD.md for the figures of the shipped model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sagan_engine.config import RunConfig, preset  # noqa: E402
from sagan_engine.demo_model import (  # noqa: E402
    DEMO_MODEL_DIR,
    checkpoint_generator,
    export_demo_model,
)


def demo_model_config(steps: int) -> RunConfig:
    """The recipe of the shipped model: the demo preset at 32x32, attention on 16x16."""
    return preset("demo").replace(
        train={
            "steps": steps,
            "augment": "color,translation,cutout",
            "ema_decay": 0.999,
            "sample_every": 250,
            "checkpoint_every": 500,
            "keep_checkpoints": 1000,  # every 500 steps stays: the run replays over training
            "seed": 0,
            # Scored afterwards, checkpoint by checkpoint (benchmarks/learning.py --from-run),
            # so that no evaluation competes with training for the CPU.
            "eval_every": 0,
        }
    )


def train(out: Path, steps: int) -> Path | None:
    """Train (or resume) the demo run to ``steps``; None when it was stopped before them."""
    from sagan_engine.cli_terminal import ProgressLine, stop_on_signals
    from sagan_engine.data import load_demo_dataset
    from sagan_engine.trainer import Trainer

    config = demo_model_config(steps)
    data = load_demo_dataset(config.model.resolution)
    progress = ProgressLine(enabled=True)
    resume = (out / "config.json").exists()
    trainer = Trainer(config, data, out, listeners=[progress.on_event], resume=resume)
    start = time.perf_counter()
    with stop_on_signals(trainer.stop, progress.note):
        finished = trainer.run()
    print(f"trained to step {finished.step} in {time.perf_counter() - start:.0f} s: {out}")
    if finished.step < steps:
        # A stopped run is not exported: that would replace the shipped model, whose card,
        # sample sheet and first_look.json describe the one before it.
        print(
            f"stopped before step {steps}: nothing exported. The same command resumes it; "
            f"`--export {out}` ships it as it is (then update MODEL_CARD.md, the sample "
            "sheet and first_look.json)."
        )
        return None
    return out


def closest_to_data(run: Path, n: int = 1000) -> str:
    """ "G_ema" or "G", whichever of the latest checkpoint's generators has the lower SWD
    against the demo data (a short run's EMA can still lag behind G: decay 0.999 averages
    over the last ~1000 steps)."""
    import numpy as np

    from sagan_engine.checkpoint import load_checkpoint, resolve_checkpoint
    from sagan_engine.data import load_demo_dataset
    from sagan_engine.metrics.evaluation import generate_images, random_sample
    from sagan_engine.metrics.swd import SWDReference

    ckpt = load_checkpoint(resolve_checkpoint(run))
    real = random_sample(load_demo_dataset(ckpt.config.model.resolution).images, n, seed=0)
    reference = SWDReference(real, seed=0)
    scores = {}
    for name in ("G_ema", "G"):
        generator = checkpoint_generator(ckpt, name)  # as the export would write it
        fake = generate_images(generator, ckpt.config, len(real), seed=1)
        scores[name] = reference.distance(fake).average
        print(f"{name} at step {ckpt.step}: SWD x1e3 {scores[name]:.1f} ({len(real)} images)")
    return (
        min(scores, key=scores.__getitem__) if np.isfinite(list(scores.values())).all() else "G_ema"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "demo-model")
    parser.add_argument("--steps", type=int, default=7000)
    parser.add_argument("--export", type=Path, metavar="RUN", help="only export this run")
    parser.add_argument("--to", type=Path, default=DEMO_MODEL_DIR, help="export folder")
    parser.add_argument("--threads", type=int, help="CPU threads (default: PyTorch's choice)")
    parser.add_argument(
        "--weights",
        choices=("best", "G_ema", "G"),
        default="best",
        help="which generator to ship: the EMA, G itself, or whichever has the lower SWD",
    )
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    run = args.export or train(args.out, args.steps)
    if run is None:
        return 0
    weights = args.weights if args.weights != "best" else closest_to_data(run)
    written = export_demo_model(run, args.to, weights)
    print(f"exported {weights} to {written}")
    evaluated = write_shipped_evaluation(written)
    print(f"its quality (the window's Quality panel shows it): {evaluated}")
    return 0


def write_shipped_evaluation(checkpoint: Path, n: int = 2000) -> Path:
    """Score the exported file as the window's "Evaluate this model" would (SWD, ``n``
    images, seed 0) and keep the result beside it as evaluation.json, so that the Quality
    panel has a figure for the demo model from the first start."""
    import dataclasses

    from sagan_engine.metrics import evaluate_generator
    from sagan_engine.metrics.evaluation import save_evaluations

    result = evaluate_generator(checkpoint, n, ("swd",))
    # Named by file, not by this machine's path: the file ships.
    result = dataclasses.replace(result, source=f"{checkpoint.name} (the shipped generator)")
    print(f"SWD x1e3 of the exported model: {result.values['swd_avg']:.2f} ({n} images)")
    return save_evaluations(checkpoint.parent / "evaluation.json", [result])


if __name__ == "__main__":
    raise SystemExit(main())
