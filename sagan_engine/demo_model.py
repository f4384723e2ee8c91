"""The trained demo model that ships with SAGAN Studio, addressable as the run name ``demo``.

It is an ordinary SAGAN Studio checkpoint file (safetensors + JSON metadata) that holds only
a generator (its EMA, or G itself when that scored better), in fp16 to keep the file small;
:func:`load_generator` reads it like any other checkpoint and casts to the model's fp32.
``scripts/train_demo_model.py`` trains it with this engine and calls
:func:`export_demo_model`; its card is ``MODEL_CARD.md`` beside it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt_io
from .config import RunConfig
from .errors import CheckpointError
from .export import metrics_until
from .models import Generator
from .runs import RunFolder
from .standing_stats import measure_batch_norm_statistics

DEMO_RUN_NAME = "demo"
EXPORT_STATS_BATCHES = 16  # x 64 latents measure the shipped EMA's batch-norm statistics
DEMO_MODEL_FILE = "demo_generator.safetensors"
# The training log of the run the shipped model came from, up to its step: the window's
# training curves (losses, D's outputs, attention gamma over training) and `export --run demo`.
DEMO_METRICS_FILE = "metrics.csv"
# Generator states over the run's training, for "attention over training" on the demo model:
# snapshots/step_NNNNNN.safetensors beside it (fp16, ~0.65 MB each), log-spaced in steps.
DEMO_SNAPSHOTS = 8
# ...from 1% of the shipped step on (and never step 0): a run's first tens of steps are noise
# to the eye, and log spacing from step 10 spent three of the eight states on them.
EARLIEST_REPLAY_SHARE = 0.01


def _resources_dir() -> Path:
    from sagan_studio_resources import resource_path

    return resource_path("demo_model")


DEMO_MODEL_DIR = _resources_dir()


def demo_model_path() -> Path:
    """The shipped checkpoint; a clear error when an install lacks it."""
    path = DEMO_MODEL_DIR / DEMO_MODEL_FILE
    if not path.is_file():
        raise CheckpointError(
            f"the bundled demo model is missing ({path}); reinstall SAGAN Studio or run "
            "scripts/train_demo_model.py to make it"
        )
    return path


def shipped_evaluation_dir(checkpoint: str | Path | None) -> Path | None:
    """The folder whose evaluation.json holds the shipped model's quality figures (written by
    scripts/train_demo_model.py at export), when ``checkpoint`` is the demo model."""
    return DEMO_MODEL_DIR if checkpoint is not None and is_demo_checkpoint(checkpoint) else None


def shipped_metrics_path(checkpoint: str | Path | None) -> Path | None:
    """The training log shipped beside the demo model, when ``checkpoint`` is the demo model
    and the log is there (a model exported before the log shipped has none)."""
    folder = shipped_evaluation_dir(checkpoint)
    path = folder / DEMO_METRICS_FILE if folder is not None else None
    return path if path is not None and path.is_file() else None


def shipped_snapshots_dir(checkpoint: str | Path | None) -> Path | None:
    """The folder of the demo model's states over training (see :data:`DEMO_SNAPSHOTS`),
    when ``checkpoint`` is the demo model; the replay lists the files in it."""
    folder = shipped_evaluation_dir(checkpoint)
    return RunFolder(folder).snapshots_dir if folder is not None else None


FIRST_LOOK_FILE = "first_look.json"


@dataclass(frozen=True)
class FirstLook:
    """What the window shows on its very first start: sample ``sample`` of the grid drawn
    from ``seed`` (classes in turn), enlarged, with ``query`` (row, column) asked. Chosen by
    a person looking at the shipped model's grid (a GAN's samples vary in quality, and the
    first one a newcomer sees should be a recognisable one); first_look.json beside it."""

    seed: int
    sample: int
    query: tuple[int, int]


def demo_first_look(folder: Path | None = None) -> FirstLook | None:
    """The shipped model's first look, or None when the file is missing or malformed (the
    window then falls back to the first sample of a class)."""
    path = (folder or DEMO_MODEL_DIR) / FIRST_LOOK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        row, col = (int(v) for v in data["query"])
        return FirstLook(int(data["seed"]), int(data["sample"]), (row, col))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def demo_model_available() -> bool:
    return (DEMO_MODEL_DIR / DEMO_MODEL_FILE).is_file()


def is_demo_checkpoint(path: str | Path) -> bool:
    """True for the path of the shipped checkpoint (how a loaded model says it is the demo)."""
    try:
        return Path(path).resolve() == (DEMO_MODEL_DIR / DEMO_MODEL_FILE).resolve()
    except OSError:
        return False


def is_demo_name(path: str | Path) -> bool:
    """True for the run name ``demo`` when no file or folder of that name is in the way."""
    return str(path) == DEMO_RUN_NAME and not Path(path).exists()


def shipped_config(config: RunConfig) -> RunConfig:
    """The config a shipped model carries: its data are the bundled demo set, wherever the run
    read its copy from (a run trained on `build_demo_dataset.py --out DIR`'s folder named DIR,
    a path of the exporting machine that `evaluate --run demo` then looked for)."""
    return config.replace(data={"folder": None})


def export_demo_model(run: str | Path, to: Path = DEMO_MODEL_DIR, weights: str = "G_ema") -> Path:
    """Write a generator of ``run``'s latest checkpoint (or of a checkpoint file) as the demo
    model, in fp16: its EMA (``weights="G_ema"``) or G itself (``"G"``), under its own name,
    so a loader reports which it is (``LoadedGenerator.is_ema``), and D of the same step, so
    that "what D looks at" answers for the demo model too (no optimizer state: ~1.2 MB)."""
    if weights not in ("G_ema", "G"):
        raise ValueError(f"weights must be 'G_ema' or 'G', not {weights!r}")
    source = ckpt_io.load_checkpoint(ckpt_io.resolve_checkpoint(run))
    if not source.state_dict(weights):
        raise CheckpointError(f"{source.path}: no {weights} weights to export")
    state = checkpoint_generator(source, weights).state_dict()
    tensors = {
        f"{prefix}/{name}": value.half() if value.is_floating_point() else value
        for prefix, weights_of in ((weights, state), ("D", source.state_dict("D")))
        for name, value in weights_of.items()
    }
    extra = {
        "exported_from": str(source.path),
        "precision": "fp16",
        "source_step": source.step,
        "weights": "EMA of G" if weights == "G_ema" else "G (not averaged)",
    }
    to.mkdir(parents=True, exist_ok=True)
    path = to / DEMO_MODEL_FILE
    config = shipped_config(source.config)
    ckpt_io.save_checkpoint(path, source.step, config, source.class_names, tensors, extra)
    export_training_log(source.path.parent.parent, source.step, to / DEMO_METRICS_FILE)
    export_replay_states(source, to, weights)
    return path


def export_replay_states(
    source: ckpt_io.Checkpoint, to: Path, weights: str = "G_ema", keep: int = DEMO_SNAPSHOTS
) -> list[int]:
    """Write ``keep`` of the run's generator states up to ``source``'s step as snapshots in
    ``to``, spaced evenly in log(step), the last one the exported model itself: the replay of
    "attention over training" for a model that ships without its run. States come from the
    run's checkpoints (fp32) or, where it has none, its snapshots; each gets batch-norm
    statistics measured on its own weights, as the exported model does. Returns the steps."""
    from .snapshots import save_snapshot, step_files, steps_to_prune

    run = RunFolder(source.path.parent.parent)
    states = dict(step_files(run.snapshots_dir))
    states.update(step_files(run.checkpoints_dir))  # a checkpoint's EMA is fp32, not fp16
    earliest = max(1, source.step * EARLIEST_REPLAY_SHARE)
    states = {step: path for step, path in states.items() if earliest <= step <= source.step}
    states[source.step] = source.path
    dropped = set(steps_to_prune(list(states), keep))
    folder = RunFolder(to).snapshots_dir
    for _step, path in step_files(folder):  # an earlier export's states describe another run
        path.unlink()
    kept = []
    for step in sorted(set(states) - dropped):
        state = source if step == source.step else ckpt_io.load_checkpoint(states[step])
        if not state.state_dict(weights):
            continue  # a snapshot of the EMA when G itself ships, or the other way round
        generator = checkpoint_generator(state, weights)
        config = shipped_config(state.config)
        save_snapshot(to, step, config, state.class_names, generator, weights == "G_ema")
        kept.append(step)
    return kept


def export_training_log(run: Path, step: int, to: Path) -> bool:
    """Copy the rows of ``run``'s metrics.csv up to ``step`` (the exported model's) to ``to``:
    a run continued past its export logs steps the shipped model never saw; rows with no
    value (statistics columns the run's header lacks) are left out. A stale log from
    an earlier export is removed when the run has none, so the curves never describe another
    model. Returns whether a log was written."""
    folder = RunFolder(run)
    if not folder.metrics_path.is_file():
        to.unlink(missing_ok=True)
        return False
    header, rows, _ = metrics_until(folder.metrics_path, step)
    kept = [[_six_digits(cell) for cell in row] for row in rows if any(row[1:])]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *kept])
    to.write_text(buffer.getvalue(), encoding="utf-8")
    return True


def _six_digits(cell: str) -> str:
    """A logged float to six significant digits (the shipped log at half the size; curves
    and their smoothing cannot show the difference); steps and empty cells as they are."""
    try:
        return cell if cell.isdigit() or not cell else f"{float(cell):.6g}"
    except ValueError:
        return cell


def ema_generator_with_own_statistics(source: ckpt_io.Checkpoint) -> Generator:
    """The checkpoint's EMA generator with batch-norm statistics measured on its weights
    (checkpoints of runs trained before the trainer did so hold G's statistics)."""
    generator = Generator(source.config.model)
    ckpt_io.load_state(generator, source.state_dict("G_ema"), "EMA generator", source.path)
    measure_batch_norm_statistics(generator, EXPORT_STATS_BATCHES, 64, seed=0)
    return generator.eval()


def checkpoint_generator(source: ckpt_io.Checkpoint, weights: str) -> Generator:
    """A checkpoint's G (``"G"``) or its EMA (``"G_ema"``, with batch-norm statistics of its
    own weights), in eval mode: the generator as the demo export would write it."""
    if weights == "G_ema":
        return ema_generator_with_own_statistics(source)
    generator = Generator(source.config.model)
    ckpt_io.load_state(generator, source.state_dict(weights), "generator", source.path)
    return generator.eval()


def load_demo_state(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The shipped generator's tensors (fp16), keyed as in ``Generator.state_dict()``."""
    ckpt = ckpt_io.load_checkpoint(path or demo_model_path())
    return ckpt.state_dict("G_ema") or ckpt.state_dict("G")
