"""What the bench divides by: the model FLOPs of one training step (counted on the plain
reference) and the device's matmul peak, so that a step's speed reads as a share of what the
hardware can do.

The peak is sampled in short bursts between the training measurements, not once at the
start, and the best burst is kept: on a shared or thermally throttled machine a single
early measurement can land in a slow moment and put the engine above "100% of peak".
"""

from __future__ import annotations

import statistics
import time
from types import ModuleType

import numpy as np
import torch

from .bench_report import MatmulPeak
from .bench_timing import synchronize
from .config import RunConfig

BURST_SECONDS = 0.05  # one timed burst of back-to-back matmuls


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


class PeakMeter:
    """Best-of-many matmul throughput at each of ``dtypes``. Call :meth:`sample` between the
    timed runs; :meth:`peak` gives the best burst so far (and the median, for the spread).

    Square matmuls of ``sizes`` (default 1024 and 2048 on a CPU, 8192 on CUDA, 4096 on MPS)
    are timed in bursts of ``burst_seconds``, the dtypes and sizes taking turns.
    """

    def __init__(
        self,
        device: torch.device,
        dtypes: tuple[torch.dtype, ...],
        size: int | None = None,
        burst_seconds: float = BURST_SECONDS,
    ) -> None:
        self.device = device
        self.dtypes = tuple(dict.fromkeys(dtypes))
        default = {"cuda": [8192], "mps": [4096]}.get(device.type, [1024, 2048])
        self.sizes = [size] if size else default
        self.burst_seconds = burst_seconds
        self._operands: dict[tuple[torch.dtype, int], tuple[torch.Tensor, ...]] = {}
        self._rates: dict[torch.dtype, list[tuple[float, int]]] = {d: [] for d in self.dtypes}

    def _operands_of(self, dtype: torch.dtype, n: int) -> tuple[torch.Tensor, ...]:
        key = (dtype, n)
        if key not in self._operands:
            a = torch.randn(n, n, device=self.device).to(dtype)
            b = torch.randn(n, n, device=self.device).to(dtype)
            out = torch.empty(n, n, device=self.device, dtype=dtype)
            torch.matmul(a, b, out=out)  # warm-up (library initialisation, clocks)
            synchronize(self.device)
            self._operands[key] = (a, b, out)
        return self._operands[key]

    def _burst(self, dtype: torch.dtype, n: int) -> float:
        a, b, out = self._operands_of(dtype, n)
        synchronize(self.device)
        start = time.perf_counter()
        reps = 0
        while reps < 2 or time.perf_counter() - start < self.burst_seconds:
            torch.matmul(a, b, out=out)
            reps += 1
            if self.device.type != "cpu" and reps % 8 == 0:
                synchronize(self.device)
        synchronize(self.device)
        return 2 * n**3 * reps / (time.perf_counter() - start)

    def sample(self, seconds: float) -> None:
        """Time bursts for about ``seconds`` (at least one per dtype and size)."""
        deadline = time.perf_counter() + seconds
        turns = [(d, n) for d in self.dtypes for n in self.sizes]
        done = 0
        while done < len(turns) or time.perf_counter() < deadline:
            dtype, n = turns[done % len(turns)]
            self._rates[dtype].append((self._burst(dtype, n), n))
            done += 1

    def peak(self, dtype: torch.dtype) -> MatmulPeak:
        rates = self._rates[dtype]
        if not rates:
            raise RuntimeError(f"no {dtype_name(dtype)} matmul sampled yet")
        best, size = max(rates)
        return MatmulPeak(
            dtype=dtype_name(dtype),
            size=size,
            flop_per_s=best,
            samples=len(rates),
            median_flop_per_s=statistics.median(r for r, _ in rates),
        )


def matmul_peak(
    device: torch.device, dtype: torch.dtype, size: int | None = None, seconds: float = 2.0
) -> MatmulPeak:
    """The device's matmul throughput at ``dtype``: the best of many short bursts over
    ``seconds`` (the best, because on a shared machine a short burst is sometimes
    undisturbed)."""
    meter = PeakMeter(device, (dtype,), size, burst_seconds=max(seconds / 40, 0.002))
    meter.sample(seconds)
    return meter.peak(dtype)


def step_flops(config: RunConfig, reference: ModuleType) -> float:
    """Model FLOPs (matmul, conv, attention; forward and backward) of one training step,
    D step and G step, counted by ``FlopCounterMode`` on the reference's step.

    Every counted operation is linear in the batch, so it is counted at batch 1 on the CPU
    and scaled: exact, and cheap for any preset.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counted_batch = 1
    small = config.replace(train={"batch_size": counted_batch})
    res = config.model.resolution
    images = np.zeros((counted_batch, res, res, 3), np.uint8)
    trainer = reference.ReferenceTrainer(
        small, images, np.zeros(counted_batch, np.int64), torch.device("cpu")
    )
    with FlopCounterMode(display=False) as counter:
        trainer.step()
    return counter.get_total_flops() / counted_batch * config.train.batch_size


def engine_step_flops(config: RunConfig) -> float:
    """The FLOPs the engine itself does in one training step (fewer than the reference's
    where it skips work the algorithm does not need), counted the same way: at batch 1 on
    the CPU in fp32, scaled to the batch. Over the engine's step time this is the rate the
    hardware really ran at, which no measurement can put above the peak."""
    import tempfile

    from torch.utils.flop_counter import FlopCounterMode

    from .bench_timing import synthetic_dataset
    from .trainer import Trainer

    small = config.replace(
        train={
            "batch_size": 1,
            "device": "cpu",
            "precision": "fp32",
            "compile": False,
            "channels_last": False,
            "threads": torch.get_num_threads(),
            "eval_every": 0,
            "snapshots": 0,
            "n_samples": 1,
        }
    )
    with tempfile.TemporaryDirectory(prefix="sagan-flops-") as tmp:
        trainer = Trainer(small, synthetic_dataset(config.model.resolution, 2), tmp)
        trainer._build()
        with FlopCounterMode(display=False) as counter:
            trainer._train_step()
    return counter.get_total_flops() * config.train.batch_size
