"""The timing harness of ``python -m sagan_engine bench``: one training measurement (the
engine's real :class:`~sagan_engine.trainer.Trainer` loop, or the plain reference through
:mod:`sagan_engine.bench_reference`), the module timer that splits a step between G, D and
attention, and the fresh worker process each measurement runs in.

Run as ``python -m sagan_engine.bench_timing SPEC.json OUT.json`` it is that worker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .bench_report import MemoryTrend, TimeShares, TrainingRun
from .config import RunConfig
from .data import ImageDataset
from .devices import resolve_device
from .events import StepStats

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"  # the reference and the GUI-cost script
SYNTHETIC_IMAGES = 512


@dataclass
class RunSpec:
    """What one measuring process does; JSON-able so it can cross a process boundary."""

    implementation: str  # "engine" or "reference"
    label: str
    config: dict[str, object]  # RunConfig.to_dict()
    warmup_steps: int
    min_steps: int
    min_seconds: float
    breakdown_steps: int = 0
    num_images: int = SYNTHETIC_IMAGES
    threads: int | None = None


def synthetic_dataset(resolution: int, count: int = SYNTHETIC_IMAGES, seed: int = 0):
    """Random uint8 images: the speed of a step does not depend on what they show."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, resolution, resolution, 3), dtype=np.uint8)
    return ImageDataset(images, np.zeros(count, np.int64), [], [], "synthetic")


def rss_now_mb() -> float | None:
    """Resident memory of this process now (Linux), else None."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def rss_peak_mb() -> float | None:
    """Peak resident memory of this process so far."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository on PYTHONPATH, for a child Python."""
    env = dict(os.environ, **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


# --------------------------------------------------------------------------- time shares


class _Mark(torch.autograd.Function):
    """Identity whose backward calls ``callback``: marks when a gradient reaches a point."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, callback: Callable[[], None]) -> torch.Tensor:
        ctx.callback = callback
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        ctx.callback()
        return grad, None


class ModuleTimer:
    """Adds up the forward and backward time of modules, per category ("G", "D", ...).

    A module's backward starts when the gradient reaches its output and ends when it reaches
    its input, or, when the input needs no gradient, when the backward pass ends. On a GPU
    every mark synchronises, so the shares are right but the step is slower while timed.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.totals: dict[str, float] = {}
        self._handles: list = []

    def now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def _add(self, category: str, seconds: float) -> None:
        self.totals[category] = self.totals.get(category, 0.0) + seconds

    def watch(self, module: torch.nn.Module, category: str) -> None:
        open_calls: list[dict] = []

        def before(_module, args):
            call = {"start": self.now(), "input_marked": False, "backward_start": None}
            open_calls.append(call)
            if args and torch.is_tensor(args[0]) and args[0].requires_grad:
                call["input_marked"] = True
                return (_Mark.apply(args[0], lambda: end_backward(call)),) + tuple(args[1:])
            return None

        def end_backward(call):
            if call["backward_start"] is not None:
                self._add(category, self.now() - call["backward_start"])
                call["backward_start"] = None

        def start_backward(call):
            call["backward_start"] = self.now()
            if not call["input_marked"]:
                engine = torch.autograd.Variable._execution_engine
                engine.queue_callback(lambda: end_backward(call))

        def after(_module, _args, output):
            call = open_calls.pop()
            self._add(category, self.now() - call["start"])
            first = output[0] if isinstance(output, tuple) else output
            if torch.is_tensor(first) and first.requires_grad:
                marked = _Mark.apply(first, lambda: start_backward(call))
                return (marked,) + tuple(output[1:]) if isinstance(output, tuple) else marked
            return None

        self._handles.append(module.register_forward_pre_hook(before))
        self._handles.append(module.register_forward_hook(after))

    def shares(self, total: float) -> TimeShares:
        g, d = self.totals.get("G", 0.0) / total, self.totals.get("D", 0.0) / total
        return TimeShares(
            g=g, d=d, attention=self.totals.get("attention", 0.0) / total, other=1 - g - d
        )

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


# --------------------------------------------------------------------------- training runs


@dataclass
class Tick:
    """The clocks after ``step`` steps: wall time, this process's CPU time, RSS."""

    step: int
    wall: float
    cpu: float
    rss_mb: float | None

    @classmethod
    def now(cls, step: int) -> Tick:
        return cls(step, time.perf_counter(), time.process_time(), rss_now_mb())


def measure_engine(spec: RunSpec) -> TrainingRun:
    """Train with the engine's :class:`Trainer` (its real loop, listeners and all) and time
    the steps between its statistics events, which follow the loop's only host syncs."""
    from .trainer import Trainer

    config = RunConfig.from_dict(spec.config)
    train = config.train
    dataset = synthetic_dataset(config.model.resolution, spec.num_images)
    ticks: list[Tick] = []  # from the end of the warm-up to the end of the timed steps
    phase: dict = {"name": "warmup", "timed_until": None, "shares": None}
    holder: dict[str, Trainer] = {}

    def on_event(event) -> None:
        if not isinstance(event, StepStats):
            return
        tick = Tick.now(event.step)
        trainer = holder["trainer"]
        if phase["name"] == "warmup":
            if event.step >= spec.warmup_steps:
                phase["name"] = "timed"
                ticks.append(tick)
            return
        if phase["name"] == "timed":
            ticks.append(tick)
            if tick.step - ticks[0].step >= spec.min_steps and (
                tick.wall - ticks[0].wall >= spec.min_seconds
            ):
                phase["timed_until"] = len(ticks)
                if spec.breakdown_steps > 0 and trainer.config.train.compile is not True:
                    phase.update(name="breakdown", start=tick, timer=_watch_modules(trainer))
                else:
                    trainer.stop()
            return
        start = phase["start"]
        if tick.step - start.step >= spec.breakdown_steps:
            phase["timer"].remove()
            phase["shares"] = phase["timer"].shares(tick.wall - start.wall)
            trainer.stop()

    device = resolve_device(train.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="sagan-bench-") as tmp:
        trainer = Trainer(config, dataset, Path(tmp) / "run", listeners=[on_event])
        holder["trainer"] = trainer
        trainer.run()
    timed = ticks[: phase["timed_until"]] if phase["timed_until"] else ticks  # else: steps ran out
    if len(timed) < 2:
        raise RuntimeError(f"{spec.label}: too few steps to time ({train.steps})")
    return training_run(spec, trainer.config, device, timed, phase["shares"])


def _watch_modules(trainer) -> ModuleTimer:
    timer = ModuleTimer(trainer.device)
    timer.watch(trainer.G, "G")
    timer.watch(trainer.D, "D")
    for _, layer in trainer.G.attention_layers() + trainer.D.attention_layers():
        timer.watch(layer, "attention")
    return timer


def training_run(spec: RunSpec, config: RunConfig, device, ticks: list[Tick], shares):
    """The figures of one measurement from its clock readings."""
    train = config.train
    first, last = ticks[0], ticks[-1]
    steps, seconds = last.step - first.step, last.wall - first.wall
    images = train.batch_size * train.n_dis * steps
    rss = [t.rss_mb for t in ticks if t.rss_mb is not None]
    cuda_mb = None
    if device.type == "cuda":
        cuda_mb = torch.cuda.max_memory_allocated(device) / 2**20
    return TrainingRun(
        implementation=spec.implementation,
        label=spec.label,
        preset=config.preset,
        batch_size=train.batch_size,
        options={
            "channels_last": train.channels_last,
            "precision": train.precision,
            "compile": train.compile,
            "log_every": train.log_every,
            "threads": train.threads or torch.get_num_threads(),  # the count it trained with
        },
        steps=steps,
        seconds=seconds,
        images_per_s=images / seconds,
        step_ms=1000 * seconds / max(steps, 1),
        cpu_seconds=last.cpu - first.cpu,
        images_per_cpu_s=images / max(last.cpu - first.cpu, 1e-9),
        peak_rss_mb=rss_peak_mb(),
        rss_growth_mb=(rss[-1] - rss[0]) if len(rss) >= 2 else None,
        cuda_max_allocated_mb=cuda_mb,
        shares=shares,
        rss_trace=[(t.step, t.rss_mb) for t in ticks if t.rss_mb is not None],
    )


def measure(spec: RunSpec) -> TrainingRun:
    """Run one measurement in this process."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    if spec.implementation == "reference":
        from .bench_reference import measure_reference

        return measure_reference(spec)
    return measure_engine(spec)


def run_measurement(spec: RunSpec, isolate: bool) -> TrainingRun:
    """Run one measurement, in a fresh Python process when ``isolate``."""
    if not isolate:
        threads = torch.get_num_threads()
        try:
            return measure(spec)
        finally:
            torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="sagan-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(dataclasses.asdict(spec)), encoding="utf-8")
        command = [sys.executable, "-m", "sagan_engine.bench_timing", str(spec_path)]
        done = subprocess.run(
            command + [str(out_path)], env=subprocess_env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{spec.label} failed: " + " | ".join(tail))
        return _run_from_dict(json.loads(out_path.read_text(encoding="utf-8")))


def _run_from_dict(data: dict) -> TrainingRun:
    shares = data.pop("shares")
    data["rss_trace"] = [tuple(item) for item in data["rss_trace"]]
    return TrainingRun(**data, shares=TimeShares(**shares) if shares else None)


def attempt(spec: RunSpec, isolate: bool, notes: list[str]) -> list[TrainingRun]:
    """[the measurement], or [] with a note when it fails (e.g. out of memory at a preset's
    batch on a small GPU): one failed configuration does not cost the other figures."""
    try:
        return [run_measurement(spec, isolate)]
    except (RuntimeError, OSError) as err:  # torch.OutOfMemoryError is a RuntimeError
        notes.append(f"{spec.label}: no figure ({str(err).strip()[:300]})")
        return []


def median_run(runs: list[TrainingRun]) -> TrainingRun:
    ordered = sorted(runs, key=lambda r: r.images_per_s)
    return ordered[len(ordered) // 2]


def memory_trend(run: TrainingRun) -> MemoryTrend:
    """RSS over a run, after its warm-up: the growth is the median of the last quarter of the
    readings minus that of the first quarter (medians: single readings jitter by a few MB)."""
    mb = [m for _, m in run.rss_trace]
    if len(mb) < 2:
        return MemoryTrend(run.preset, run.steps, None, None, None, None)
    quarter = max(1, len(mb) // 4)
    return MemoryTrend(
        preset=run.preset,
        steps=run.rss_trace[-1][0],
        first_mb=mb[0],
        last_mb=mb[-1],
        peak_mb=run.peak_rss_mb,
        growth_mb=float(np.median(mb[-quarter:]) - np.median(mb[:quarter])),
    )


def _worker(spec_path: str, out_path: str) -> int:
    spec = RunSpec(**json.loads(Path(spec_path).read_text(encoding="utf-8")))
    result = measure(spec)
    Path(out_path).write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1], sys.argv[2]))
