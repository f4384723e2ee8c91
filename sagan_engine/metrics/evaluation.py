"""Evaluating a model or a folder of images: the metrics, their protocol, evaluation.json.

Every result carries its protocol (how many generated and real images, the reference set, the
feature network and the resize method), because a FID or SWD figure means nothing without it.
The Inception metrics need the standard weights file; without it they are reported as
unavailable with the line saying where to put it, never as a crash or a zero.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..plurals import counted
from ..runs import EVALUATION_FILE
from .feature_statistics import fid, inception_score, kid, precision_recall
from .inception import DESCRIPTION, InceptionUnavailable, inception_features, load_inception
from .swd import (
    DIRECTION_REPEATS,
    DIRECTIONS_PER_REPEAT,
    NHOOD_SIZE,
    NHOODS_PER_IMAGE,
    SWDReference,
)

METRICS = ("swd", "fid", "kid", "is", "pr")
INCEPTION_METRICS = ("fid", "kid", "is", "pr")
SWD_PROTOCOL = (
    f"multi-scale SWD x1e3 (Karras et al. 2018, appendix D): Laplacian pyramid to 16x16, "
    f"{NHOODS_PER_IMAGE} {NHOOD_SIZE}x{NHOOD_SIZE} neighbourhoods per image and level, "
    f"per-channel normalisation, {DIRECTION_REPEATS}x{DIRECTIONS_PER_REPEAT} random projections"
)
# (stage, done, total): stages are "reference", "generating", "swd", "inception".
Progress = Callable[[str, int, int], None]


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"swd,fid"`` -> ("swd", "fid"); unknown names raise ConfigError listing the known."""
    names = text.split(",") if isinstance(text, str) else list(text)
    chosen = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in chosen if n not in METRICS]
    if unknown or not chosen:
        raise ConfigError(
            f"unknown metric(s) {', '.join(unknown) or '(none given)'}: choose from "
            f"{','.join(METRICS)}"
        )
    return chosen


@dataclass(frozen=True)
class Protocol:
    """How a result was obtained; written beside every figure."""

    metrics: tuple[str, ...]
    n_generated: int
    n_real: int
    reference: str  # e.g. "training data /data/faces (a random 2000 of 30000 images)"
    resolution: int
    seed: int
    swd: str = SWD_PROTOCOL
    feature_network: str | None = None  # set when an Inception metric was computed
    resize: str = "none (SWD on the images at their resolution)"


@dataclass(frozen=True)
class Evaluation:
    """Scores (lower is better except IS, precision and recall) and their protocol."""

    values: dict[str, float]  # swd_avg, swd_32, ..., fid, kid, kid_std, is, is_std, ...
    unavailable: dict[str, str]  # metric -> the reason, one line
    protocol: Protocol
    step: int | None = None
    source: str = ""  # what was evaluated: a checkpoint, a folder, "training"
    seconds: float = 0.0
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S"))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Evaluation:
        protocol = dict(data["protocol"])
        protocol["metrics"] = tuple(protocol["metrics"])
        return cls(
            values={k: float(v) for k, v in data["values"].items()},
            unavailable=dict(data.get("unavailable", {})),
            protocol=Protocol(**protocol),
            step=data.get("step"),
            source=data.get("source", ""),
            seconds=float(data.get("seconds", 0.0)),
            created=data.get("created", ""),
        )

    def summary(self) -> str:
        """One line per figure, for the terminal."""
        lines = [f"{name}: {value:.4f}" for name, value in self.values.items()]
        lines += [f"{name}: unavailable ({why})" for name, why in self.unavailable.items()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- core
def evaluate_images(
    real: np.ndarray,
    fake: np.ndarray,
    metrics: Sequence[str] = ("swd",),
    *,
    reference: str = "",
    seed: int = 0,
    inception_weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
    source: str = "",
    step: int | None = None,
) -> Evaluation:
    """Compare uint8 images (N, H, W, 3): ``real`` (the reference) and ``fake``.

    SWD compares equal sets: the first min(len(real), len(fake)) of each (callers shuffle).
    ``source`` (what made ``fake``) and ``step`` are recorded in the result.
    """
    metrics = parse_metrics(metrics)
    if real.shape[1:] != fake.shape[1:]:
        raise DataError(
            f"the two image sets differ in size: {real.shape[1:3]} and {fake.shape[1:3]}"
        )
    start = time.perf_counter()
    values: dict[str, float] = {}
    unavailable: dict[str, str] = {}
    if "swd" in metrics:
        n = min(len(real), len(fake))
        stage = _stage(progress, "swd")
        values.update(SWDReference(real[:n], seed).distance(fake[:n], stage).as_values())
    wanted = [m for m in metrics if m in INCEPTION_METRICS]
    network = None
    if wanted:
        try:
            net = load_inception(inception_weights, device)
        except InceptionUnavailable as err:
            unavailable.update({m: str(err) for m in wanted})
        else:
            network = DESCRIPTION
            values.update(_inception_scores(net, real, fake, wanted, seed, progress))
    protocol = Protocol(
        metrics=metrics,
        n_generated=len(fake),
        n_real=len(real),
        reference=reference,
        resolution=int(real.shape[1]),
        seed=seed,
        feature_network=network,
        resize=(
            "bilinear to 299x299 for the Inception network (PyTorch, align_corners=False)"
            if network
            else Protocol.resize
        ),
    )
    seconds = time.perf_counter() - start
    return Evaluation(values, unavailable, protocol, step=step, source=source, seconds=seconds)


def _stage(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(name, done, total)


def _inception_scores(net, real, fake, wanted, seed, progress) -> dict[str, float]:
    total = len(real) + len(fake)
    report = _stage(progress, "inception")

    def offset(base: int):
        return None if report is None else (lambda done, _t: report(base + done, total))

    need_real = any(m in wanted for m in ("fid", "kid", "pr"))
    real_pool = inception_features(net, real, progress=offset(0))[0] if need_real else None
    fake_pool, fake_logits = inception_features(net, fake, progress=offset(len(real)))
    values: dict[str, float] = {}
    if "fid" in wanted:
        values["fid"] = fid(real_pool, fake_pool)
    if "kid" in wanted:
        values["kid"], values["kid_std"] = kid(real_pool, fake_pool, seed=seed)
    if "is" in wanted:
        values["is"], values["is_std"] = inception_score(fake_logits, splits=min(10, len(fake)))
    if "pr" in wanted:
        values["precision"], values["recall"] = precision_recall(real_pool, fake_pool)
    return values


# --------------------------------------------------------------------------- sources
def random_sample(images: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` images drawn without replacement (all of them, shuffled, when fewer)."""
    order = np.random.default_rng(seed).permutation(len(images))
    return images[np.sort(order[: min(n, len(images))])]


def training_reference(config, progress: Progress | None = None):
    """The dataset a run trained on (its folder, or the bundled demo set)."""
    from ..data import load_demo_dataset, load_image_folder

    resolution = config.model.resolution
    load = _stage(progress, "reference")
    if config.data.folder is None:
        return load_demo_dataset(resolution, progress=load), "the bundled demo dataset"
    folder = Path(config.data.folder)
    if not folder.is_dir():
        raise DataError(
            f"{folder}: the run's training data folder is not there; pass a reference folder "
            "(--against DIR) to evaluate against"
        )
    return load_image_folder(folder, resolution, progress=load), f"training data {folder}"


@torch.no_grad()
def generate_images(
    generator, config, n: int, seed: int, batch_size: int = 100, progress: Progress | None = None
) -> np.ndarray:
    """``n`` uint8 images of G, ``batch_size`` at a time; classes in turn when conditional."""
    from ..sampling import generate, latents

    z = latents(n, config.model.z_dim, seed)
    classes = config.model.num_classes
    labels = (torch.arange(n) % classes) if classes else None
    parts = []
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        part_labels = None if labels is None else labels[start:end]
        parts.append(generate(generator, z[start:end], part_labels))
        if progress is not None:
            progress("generating", end, n)
    return np.concatenate(parts)


def evaluate_generator(
    run: str | Path,
    n: int = 2000,
    metrics: Sequence[str] = ("swd",),
    *,
    against: str | Path | None = None,
    seed: int = 0,
    inception_weights: str | Path | None = None,
    batch_size: int = 100,
    progress: Progress | None = None,
) -> Evaluation:
    """Evaluate the generator of a run folder or checkpoint (or ``demo``) against its training
    data, or against the images of ``against``."""
    from ..checkpoint import load_generator
    from ..data import load_image_folder

    metrics = parse_metrics(metrics)
    loaded = load_generator(run)
    resolution = loaded.config.model.resolution
    if against is not None:
        dataset = load_image_folder(against, resolution, progress=_stage(progress, "reference"))
        where = f"folder {against}"
    else:
        dataset, where = training_reference(loaded.config, progress)
    real = random_sample(dataset.images, n, seed)
    reference = f"{where} (a random {len(real)} of {len(dataset)} images, seed {seed})"
    fake = generate_images(loaded.generator, loaded.config, n, seed, batch_size, progress)
    source = f"{loaded.checkpoint} ({'EMA ' if loaded.is_ema else ''}generator)"
    return evaluate_images(
        real,
        fake,
        metrics,
        reference=reference,
        seed=seed,
        inception_weights=inception_weights,
        progress=progress,
        source=source,
        step=loaded.step,
    )


def evaluate_folders(
    data: str | Path,
    against: str | Path,
    n: int | None = None,
    metrics: Sequence[str] = ("swd",),
    *,
    resolution: int | None = None,
    seed: int = 0,
    inception_weights: str | Path | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Compare the images of folder ``data`` with those of ``against`` (the reference).

    Both are decoded at ``resolution`` (default: the smaller side of the first image of
    ``data``), centre-cropped to squares as for training.
    """
    from ..data import load_image_folder, scan_folder

    metrics = parse_metrics(metrics)
    if resolution is None:
        resolution = _first_image_side(data, scan_folder(data).files)
    fake_set = load_image_folder(data, resolution, progress=_stage(progress, "reference"))
    real_set = load_image_folder(against, resolution, progress=_stage(progress, "reference"))
    for folder, images in ((data, fake_set), (against, real_set)):
        if len(images) < 2:  # one image has no spread: every distance would read 0
            usable = counted(len(images), "usable image")
            raise DataError(f"{folder}: {usable}; at least 2 are needed")
    count = n or max(len(fake_set), len(real_set))
    fake = random_sample(fake_set.images, count, seed)
    real = random_sample(real_set.images, count, seed + 1)
    reference = f"folder {against} ({len(real)} of {len(real_set)} images, seed {seed})"
    return evaluate_images(
        real,
        fake,
        metrics,
        reference=reference,
        seed=seed,
        inception_weights=inception_weights,
        progress=progress,
        source=f"folder {data} ({len(fake)} of {len(fake_set)} images)",
    )


def _first_image_side(folder: str | Path, files: Sequence[Path]) -> int:
    from PIL import Image

    for path in files:
        try:
            with Image.open(path) as image:
                return max(16, min(image.size))
        except OSError:
            continue
    raise DataError(f"{folder}: no readable image to take the resolution from; pass --resolution")


# --------------------------------------------------------------------------- evaluation.json
def load_evaluations(path: str | Path) -> list[Evaluation]:
    """The results in an evaluation.json (a run folder's or one written with --json)."""
    path = Path(path)
    if path.is_dir():
        path = path / EVALUATION_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Evaluation.from_dict(item) for item in data["evaluations"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: not a readable evaluation file ({err})") from None


def save_evaluations(path: str | Path, evaluations: Sequence[Evaluation]) -> Path:
    """Write ``{"evaluations": [...]}`` atomically."""
    from ..checkpoint import write_atomically

    path = Path(path)
    text = json.dumps({"evaluations": [e.to_dict() for e in evaluations]}, indent=2)
    write_atomically(path, (text + "\n").encode("utf-8"))
    return path


def append_evaluation(run_dir: str | Path, evaluation: Evaluation) -> Path:
    """Add a result to the run folder's evaluation.json."""
    path = Path(run_dir) / EVALUATION_FILE
    return save_evaluations(path, [*load_evaluations(path), evaluation])
