"""What the trainer reports, as plain data: numbers, strings and NumPy arrays.

Events never hold live tensors, modules or widgets, so any thread may keep them and the app can
pass them through Qt signals unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrainingStarted:
    run_dir: str
    device: str  # "cpu", "cuda:0", ...
    device_name: str  # human name, e.g. "NVIDIA H100" or "CPU (2 threads)"
    start_step: int  # > 0 when resumed
    total_steps: int
    num_images: int
    class_names: tuple[str, ...]
    attention_layers: tuple[str, ...]  # names of G's attention layers, in order


@dataclass(frozen=True)
class StepStats:
    """Averages over the steps since the previous StepStats."""

    step: int
    loss_d: float
    loss_g: float
    d_real: float  # mean D(x)
    d_fake: float  # mean D(G(z))
    gammas: dict[str, float]  # gamma of every attention layer, G's then D's
    images_per_s: float  # real images seen by D per second
    seconds_per_step: float
    elapsed_s: float  # the run's training time: over resumes, pauses left out
    eta_s: float  # at this session's speed


@dataclass(frozen=True)
class SampleGrid:
    """Samples of G (the EMA copy when enabled) from the run's fixed latents."""

    step: int
    images: np.ndarray  # uint8, (N, H, W, 3)
    z: np.ndarray  # float32, (N, z_dim): the latents, so a click can be traced back
    labels: np.ndarray | None  # int64, (N,) for conditional models


@dataclass(frozen=True)
class LayerAttentionStats:
    """How one attention layer behaves on a batch (see sagan_engine.attention_stats)."""

    name: str
    gamma: float
    entropy: float  # mean of H(beta_{j,.}) / log N_keys: 1 = uniform, 0 = one position
    distance: float  # mean beta-weighted query-to-key distance, in output pixels
    contribution: float  # mean ||gamma * o|| / ||x|| per image


@dataclass(frozen=True)
class AttentionStats:
    """Attention statistics of G (the EMA copy when enabled) on the run's fixed latents."""

    step: int
    layers: tuple[LayerAttentionStats, ...]


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: str


@dataclass(frozen=True)
class StateChanged:
    state: str  # "running", "paused", "stopping"


@dataclass(frozen=True)
class TrainingFinished:
    step: int
    reason: str  # "completed" or "stopped"
    checkpoint: str | None
    run_dir: str


@dataclass(frozen=True)
class TrainingFailed:
    step: int
    message: str  # one line a user can act on
    details: str = ""  # traceback or extra context, for a "details" box
    checkpoint: str | None = None  # last good checkpoint, if any
    run_dir: str = ""


@dataclass(frozen=True)
class Log:
    """A line worth showing (resumed from..., skipped N files, rolled back...)."""

    message: str
    level: str = "info"


@dataclass(frozen=True)
class QualityMeasured:
    """Sample quality of G (the EMA copy when enabled) at ``step``, from the evaluator that runs
    beside training (sagan_engine.metrics.evaluator); lower is better."""

    step: int
    values: dict[str, float]  # "swd_avg", "swd_32", "swd_16"...: SWD x 1e3 per pyramid level
    seconds: float  # what the evaluation cost, off the training loop
    n_images: int  # generated images, and as many of the fixed reference sample


Event = (
    TrainingStarted
    | StepStats
    | SampleGrid
    | AttentionStats
    | QualityMeasured
    | CheckpointSaved
    | StateChanged
    | TrainingFinished
    | TrainingFailed
    | Log
)

__all__ = [
    "Event",
    "TrainingStarted",
    "StepStats",
    "SampleGrid",
    "LayerAttentionStats",
    "AttentionStats",
    "QualityMeasured",
    "CheckpointSaved",
    "StateChanged",
    "TrainingFinished",
    "TrainingFailed",
    "Log",
]
