"""The yardstick of ``python -m sagan_engine bench``: the plain SAGAN of
``benchmarks/reference_sagan.py`` (same architecture and algorithm, written plainly), loaded
from the repository and timed on the same data, batch and device as the engine."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import torch

from .bench_report import TrainingRun
from .bench_timing import BENCHMARKS_DIR, RunSpec, Tick, synthetic_dataset, training_run
from .config import RunConfig
from .devices import resolve_device

REFERENCE_FILE = BENCHMARKS_DIR / "reference_sagan.py"


def load_reference() -> ModuleType | None:
    """The plain SAGAN of ``benchmarks/reference_sagan.py`` (absent from installed wheels)."""
    if not REFERENCE_FILE.is_file():
        return None
    spec = importlib.util.spec_from_file_location("sagan_reference", REFERENCE_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_reference(spec: RunSpec) -> TrainingRun:
    """Train the plain reference SAGAN on the same data, batch and device. Its ``.item()``
    after every step means each clock reading follows a finished step, on any device."""
    reference = load_reference()
    if reference is None:
        raise FileNotFoundError(f"{REFERENCE_FILE} is missing")
    config = RunConfig.from_dict(spec.config)
    device = resolve_device(config.train.device)
    dataset = synthetic_dataset(config.model.resolution, spec.num_images)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer = reference.ReferenceTrainer(config, dataset.images, dataset.labels, device)
    for _ in range(spec.warmup_steps):
        trainer.step()
    ticks = [Tick.now(0)]
    step = 0
    while step < spec.min_steps or ticks[-1].wall - ticks[0].wall < spec.min_seconds:
        trainer.step()
        step += 1
        ticks.append(Tick.now(step))
    return training_run(spec, config, device, ticks, None)
