"""Benchmarks on the current device: ``python -m sagan_engine bench [--json FILE]``.

Figures, not timed tests. For each preset it trains the engine and the plain reference SAGAN
of ``benchmarks/reference_sagan.py`` (same architecture, same data and batch, same device) and
reports images/s, step time, their ratio, the model FLOPs of one step and the achieved share of
the device's matmul peak (measured in the same run), the time shares of G, D and attention, and
memory. It also times engine options, click-to-attention latency at 64x64, memory over a longer
run and, through ``benchmarks/gui_cost.py`` in a separate process, what the live window costs.

Each training measurement runs in a fresh process (``--no-isolate`` to run in this one), so that
its peak memory is its own and no run inherits another's warmed-up state. Training data are
synthetic images (throughput does not depend on what the pictures show).

This module never imports Qt: the GUI measurement is a separate program.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from .config import PRECISIONS, PRESETS, RunConfig, TrainConfig, preset
from .data import ImageDataset
from .devices import autocast_dtype, describe_device, resolve_device
from .events import StepStats

BENCHMARKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
SYNTHETIC_IMAGES = 512
ATTENTION_PRESET = "res64"  # the click-to-attention target is stated for 64x64
# Presets whose preset batch makes one CPU step take minutes (res128: ~50 TFLOP per step).
CPU_SKIPPED_PRESETS = ("res128",)


# --------------------------------------------------------------------------- results


@dataclass
class TimeShares:
    """Where a training step's time goes, as fractions of it. ``attention`` is part of ``g``
    and ``d``; ``other`` (optimizers, EMA, data, losses) is what G and D leave."""

    g: float
    d: float
    attention: float
    other: float


@dataclass
class TrainingRun:
    """One timed training measurement."""

    implementation: str  # "engine" or "reference"
    label: str
    preset: str
    batch_size: int
    options: dict[str, object]
    steps: int
    seconds: float
    images_per_s: float
    step_ms: float
    # This process's CPU time over the same steps: with one thread, a figure that other
    # programs on a shared machine disturb far less than wall time.
    cpu_seconds: float
    images_per_cpu_s: float
    peak_rss_mb: float | None
    rss_growth_mb: float | None  # RSS change over the timed steps
    cuda_max_allocated_mb: float | None
    shares: TimeShares | None = None
    rss_trace: list[tuple[int, float]] = field(default_factory=list)  # (step, MB)


@dataclass
class PresetFigures:
    preset: str
    batch_size: int
    resolution: int
    engine: TrainingRun
    reference: TrainingRun | None
    speedup: float | None  # engine images/s over the reference's
    speedup_cpu_time: float | None  # the same by images per CPU-second (steadier when shared)
    flops_per_step: float | None
    achieved_flop_per_s: float | None
    fraction_of_peak: float | None


@dataclass
class MatmulPeak:
    dtype: str
    size: int
    flop_per_s: float


@dataclass
class AttentionLatency:
    preset: str
    resolution: int
    queries: int
    threads: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    snapshot_load_ms: float  # loading a weight snapshot into the inspecting G, once per click


@dataclass
class MemoryTrend:
    preset: str
    steps: int
    first_mb: float | None
    last_mb: float | None
    peak_mb: float | None
    growth_mb: float | None  # from the start to the end of the run, after its warm-up


@dataclass
class GuiCost:
    status: str  # "ok" or "n/a (reason)"
    preset: str = ""
    headless_images_per_s: float | None = None
    gui_images_per_s: float | None = None
    ratio: float | None = None
    headless_images_per_cpu_s: float | None = None  # per CPU-second of the whole process
    gui_images_per_cpu_s: float | None = None
    ratio_cpu_time: float | None = None
    ratio_clicking: float | None = None  # with a click every 2 s as well
    stall_p99_ms: float | None = None
    stall_max_ms: float | None = None
    click_p50_ms: float | None = None  # click-to-attention while training runs
    click_p95_ms: float | None = None
    clicks: int = 0
    gui_thread_cpu_share: float | None = None  # of one core, while training runs


@dataclass
class Machine:
    device: str
    device_name: str
    cpu: str
    cores: int | None
    torch_threads: int
    torch_version: str
    python: str
    platform: str
    load_average_start: tuple[float, float, float] | None
    load_average_end: tuple[float, float, float] | None = None


@dataclass
class BenchReport:
    machine: Machine
    settings: dict[str, object]
    matmul_peak: MatmulPeak
    presets: list[PresetFigures]
    options: list[TrainingRun]
    attention: AttentionLatency | None
    memory: MemoryTrend | None
    gui: GuiCost
    notes: list[str]

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- settings


@dataclass
class BenchSettings:
    device: str = "auto"
    presets: tuple[str, ...] = ()  # empty: every preset that fits the device
    batch_size: int | None = None  # None: each preset's own
    precision: str | None = None  # the engine's (the reference is fp32); None: the config's
    warmup_steps: int = 2
    min_steps: int = 5
    min_seconds: float = 20.0
    breakdown_steps: int = 2
    repeats: int = 1
    options_preset: str | None = None
    compile: bool = False  # also time torch.compile (slow to start on a CPU)
    attention_queries: int = 40
    memory_steps: int = 200
    matmul_size: int | None = None
    matmul_seconds: float = 2.0
    num_images: int = SYNTHETIC_IMAGES
    gui: bool = True
    gui_seconds: float = 30.0
    # Time, not steps: the window's start-up jobs run beside the first seconds of training.
    gui_warmup_seconds: float = 8.0
    isolate: bool = True
    threads: int | None = None  # torch threads of every measurement (None: PyTorch's choice)
    quick: bool = False

    @classmethod
    def quick_settings(cls, **changes: object) -> BenchSettings:
        """A smoke run of every part in seconds: tiny model and batch, few steps."""
        base = cls(
            presets=("demo",),
            batch_size=4,
            warmup_steps=1,
            min_steps=2,
            min_seconds=0.0,
            breakdown_steps=1,
            attention_queries=4,
            memory_steps=6,
            matmul_size=1024,
            matmul_seconds=0.2,
            num_images=32,
            gui_seconds=4.0,
            gui_warmup_seconds=1.0,
            quick=True,
        )
        return dataclasses.replace(base, **changes)


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


# --------------------------------------------------------------------------- helpers


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


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return None


def load_reference() -> ModuleType | None:
    """The plain SAGAN of ``benchmarks/reference_sagan.py`` (absent from installed wheels)."""
    path = BENCHMARKS_DIR / "reference_sagan.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("sagan_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation, as numpy's default."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


# --------------------------------------------------------------------------- peak and FLOPs


def matmul_peak(
    device: torch.device, dtype: torch.dtype, size: int | None = None, seconds: float = 2.0
) -> MatmulPeak:
    """The device's matmul throughput: the best of many short timed runs of a large square
    matmul (the best, because on a shared machine a short run is sometimes undisturbed)."""
    sizes = [size] if size else ([8192] if device.type == "cuda" else [1024, 2048])
    best = MatmulPeak(str(dtype).removeprefix("torch."), sizes[0], 0.0)
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)
        torch.matmul(a, b, out=out)  # warm-up (library initialisation, clocks)
        _synchronize(device)
        deadline = time.perf_counter() + seconds / len(sizes)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            reps = 0
            while reps < 2 or time.perf_counter() - start < seconds / 40:
                torch.matmul(a, b, out=out)
                reps += 1
                if device.type == "cuda" and reps % 8 == 0:
                    _synchronize(device)
            _synchronize(device)
            rate = 2 * n**3 * reps / (time.perf_counter() - start)
            if rate > best.flop_per_s:
                best = MatmulPeak(best.dtype, n, rate)
    return best


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


class _ModuleTimer:
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
        _synchronize(self.device)
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
class _Tick:
    """The clocks after ``step`` steps: wall time, this process's CPU time, RSS."""

    step: int
    wall: float
    cpu: float
    rss_mb: float | None

    @classmethod
    def now(cls, step: int) -> _Tick:
        return cls(step, time.perf_counter(), time.process_time(), rss_now_mb())


def measure_engine(spec: RunSpec) -> TrainingRun:
    """Train with the engine's :class:`Trainer` (its real loop, listeners and all) and time
    the steps between its statistics events, which follow the loop's only host syncs."""
    from .trainer import Trainer

    config = RunConfig.from_dict(spec.config)
    train = config.train
    dataset = synthetic_dataset(config.model.resolution, spec.num_images)
    ticks: list[_Tick] = []  # from the end of the warm-up to the end of the timed steps
    phase: dict = {"name": "warmup", "timed_until": None, "shares": None}
    holder: dict[str, Trainer] = {}

    def on_event(event) -> None:
        if not isinstance(event, StepStats):
            return
        tick = _Tick.now(event.step)
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
                if spec.breakdown_steps > 0 and not train.compile:
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
    return _training_run(spec, config, device, timed, phase["shares"])


def _watch_modules(trainer) -> _ModuleTimer:
    timer = _ModuleTimer(trainer.device)
    timer.watch(trainer.G, "G")
    timer.watch(trainer.D, "D")
    for _, layer in trainer.G.attention_layers() + trainer.D.attention_layers():
        timer.watch(layer, "attention")
    return timer


def measure_reference(spec: RunSpec) -> TrainingRun:
    """Train the plain reference SAGAN on the same data, batch and device. Its ``.item()``
    after every step means each clock reading follows a finished step, on any device."""
    reference = load_reference()
    if reference is None:
        raise FileNotFoundError(f"{BENCHMARKS_DIR / 'reference_sagan.py'} is missing")
    config = RunConfig.from_dict(spec.config)
    device = resolve_device(config.train.device)
    dataset = synthetic_dataset(config.model.resolution, spec.num_images)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer = reference.ReferenceTrainer(config, dataset.images, dataset.labels, device)
    for _ in range(spec.warmup_steps):
        trainer.step()
    ticks = [_Tick.now(0)]
    step = 0
    while step < spec.min_steps or ticks[-1].wall - ticks[0].wall < spec.min_seconds:
        trainer.step()
        step += 1
        ticks.append(_Tick.now(step))
    return _training_run(spec, config, device, ticks, None)


def _training_run(spec, config, device, ticks: list[_Tick], shares) -> TrainingRun:
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
            "threads": torch.get_num_threads(),
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


MEASURES = {"engine": measure_engine, "reference": measure_reference}


def measure(spec: RunSpec) -> TrainingRun:
    """Run one measurement in this process."""
    if spec.threads:
        torch.set_num_threads(spec.threads)
    return MEASURES[spec.implementation](spec)


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
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "sagan_engine.bench", "--worker", str(spec_path)]
        done = subprocess.run(
            command + ["--worker-out", str(out_path)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{spec.label} failed: " + " | ".join(tail))
        return _run_from_dict(json.loads(out_path.read_text(encoding="utf-8")))


def _run_from_dict(data: dict) -> TrainingRun:
    shares = data.pop("shares")
    data["rss_trace"] = [tuple(item) for item in data["rss_trace"]]
    return TrainingRun(**data, shares=TimeShares(**shares) if shares else None)


def _worker(spec_path: str, out_path: str) -> int:
    spec = RunSpec(**json.loads(Path(spec_path).read_text(encoding="utf-8")))
    result = measure(spec)
    Path(out_path).write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
    return 0


def _attempt(spec: RunSpec, isolate: bool, notes: list[str]) -> list[TrainingRun]:
    """[the measurement], or [] with a note when it fails (e.g. out of memory at a preset's
    batch on a small GPU): one failed configuration does not cost the other figures."""
    try:
        return [run_measurement(spec, isolate)]
    except (RuntimeError, OSError) as err:  # torch.OutOfMemoryError is a RuntimeError
        notes.append(f"{spec.label}: no figure ({str(err).strip()[:300]})")
        return []


def _median_run(runs: list[TrainingRun]) -> TrainingRun:
    ordered = sorted(runs, key=lambda r: r.images_per_s)
    return ordered[len(ordered) // 2]


# --------------------------------------------------------------------------- the other parts


def attention_latency(
    device: torch.device, queries: int, preset_name: str = ATTENTION_PRESET, seed: int = 0
) -> AttentionLatency:
    """Click-to-attention: one ``attention_maps`` call (a new image and the maps of every
    attention layer for the clicked pixel) per query, on a fresh random latent each time."""
    from .attention import attention_maps, fold_spectral_norm
    from .models import Generator

    cfg = preset(preset_name).model
    torch.manual_seed(seed)
    trained = Generator(cfg).to(device).eval()
    state = {k: v.detach().to("cpu", copy=True) for k, v in trained.state_dict().items()}
    generator = fold_spectral_norm(trained)  # W / sigma once, not at every click
    start = time.perf_counter()  # what the inspector does with each new training snapshot:
    trained.load_state_dict(state)
    fold_spectral_norm(trained, into=generator)  # refilled, not rebuilt
    _synchronize(device)
    load_ms = 1000 * (time.perf_counter() - start)
    rng = np.random.default_rng(seed)
    size = cfg.resolution
    attention_maps(generator, rng.standard_normal(cfg.z_dim), query=(0, 0))  # warm-up
    times = []
    for _ in range(queries):
        z = rng.standard_normal(cfg.z_dim).astype(np.float32)
        pixel = (int(rng.integers(size)), int(rng.integers(size)))
        start = time.perf_counter()
        attention_maps(generator, z, query=pixel)  # returns NumPy: already synchronised
        times.append(1000 * (time.perf_counter() - start))
    return AttentionLatency(
        preset=preset_name,
        resolution=size,
        queries=queries,
        threads=torch.get_num_threads(),
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
        max_ms=max(times),
        snapshot_load_ms=load_ms,
    )


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


def gui_cost(settings: BenchSettings, config: RunConfig) -> GuiCost:
    """Run ``benchmarks/gui_cost.py`` (offscreen Qt) in its own process, if the app is here."""
    script = BENCHMARKS_DIR / "gui_cost.py"
    if not script.is_file():
        return GuiCost("n/a (benchmarks/gui_cost.py not found)")
    try:
        found = importlib.util.find_spec("app.training_worker") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return GuiCost("n/a (app not importable)")
    with tempfile.TemporaryDirectory(prefix="sagan-bench-") as tmp:
        spec_path, out_path = Path(tmp) / "config.json", Path(tmp) / "gui.json"
        config.save(spec_path)
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        command = [
            sys.executable,
            str(script),
            "--config",
            str(spec_path),
            "--seconds",
            str(settings.gui_seconds),
            "--warmup-seconds",
            str(settings.gui_warmup_seconds),
            *(["--threads", str(settings.threads)] if settings.threads else []),
            "--json",
            str(out_path),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out_path.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return GuiCost("n/a (gui_cost.py failed: " + " | ".join(tail) + ")")
        return GuiCost(**json.loads(out_path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the whole bench


def _preset_config(name: str, settings: BenchSettings, device: torch.device, **train) -> RunConfig:
    cfg = preset(name)
    changes: dict[str, object] = {
        "device": str(device),
        "steps": 100_000_000,
        "sample_every": 100_000_000,
        "checkpoint_every": 100_000_000,
        "n_samples": 4,
    }
    if settings.batch_size is not None:
        changes["batch_size"] = settings.batch_size
    if settings.precision is not None:
        changes["precision"] = settings.precision
    if settings.quick:
        changes["log_every"] = 1
    changes.update(train)
    return cfg.replace(train=changes)


def _spec(
    implementation: str, label: str, cfg: RunConfig, settings: BenchSettings, breakdown: int = 0
) -> RunSpec:
    return RunSpec(
        implementation=implementation,
        label=label,
        config=cfg.to_dict(),
        warmup_steps=settings.warmup_steps,
        min_steps=settings.min_steps,
        min_seconds=settings.min_seconds,
        breakdown_steps=breakdown,
        num_images=settings.num_images,
        threads=settings.threads,
    )


def option_variants(
    device: torch.device, compile_too: bool, quick: bool = False
) -> list[tuple[str, dict]]:
    """Engine options worth comparing on this device (defaults first; quick: two)."""
    flipped = not TrainConfig().channels_last
    variants: list[tuple[str, dict]] = [("defaults", {})]
    variants.append((f"channels_last={flipped}", {"channels_last": flipped}))
    variants.append(("log_every=1", {"log_every": 1}))
    variants.append(("log_every=50", {"log_every": 50}))
    if device.type == "cuda" or cpu_bf16_supported():
        # precision "auto" is a low-precision autocast here: show what fp32 would give.
        variants.append(("precision=fp32", {"precision": "fp32"}))
        variants.append(
            (
                f"precision=fp32,channels_last={flipped}",
                {"precision": "fp32", "channels_last": flipped},
            )
        )
    else:
        variants.append(("precision=bf16 (emulated)", {"precision": "bf16"}))
    if compile_too:
        variants.append(("compile=True", {"compile": True}))
    return variants[:2] if quick else variants


def cpu_bf16_supported() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except (AttributeError, RuntimeError):
        return False


def run_bench(settings: BenchSettings, log: Callable[[str], None] = print) -> BenchReport:
    """Every measurement of the bench, in order; ``log`` hears what is being measured."""
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _run_bench(settings, log)
    finally:
        torch.set_num_threads(threads)


def _run_bench(settings: BenchSettings, log: Callable[[str], None]) -> BenchReport:
    device = resolve_device(settings.device)
    notes: list[str] = []
    machine = Machine(
        device=str(device),
        device_name=describe_device(device),
        cpu=_cpu_name(),
        cores=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch_version=torch.__version__,
        python=platform.python_version(),
        platform=platform.platform(),
        load_average_start=_load_average(),
    )
    load = machine.load_average_start
    if load and machine.cores and load[0] > 0.5 * machine.cores:
        notes.append(
            f"the machine was busy (load average {load[0]:.1f} on {machine.cores} cores): "
            "timings are noisy; re-measure on an idle machine"
        )
    names = settings.presets or tuple(
        n for n in PRESETS if device.type == "cuda" or n not in CPU_SKIPPED_PRESETS
    )
    if not settings.presets and device.type != "cuda":
        notes.append(
            f"{', '.join(CPU_SKIPPED_PRESETS)} skipped on the CPU (its preset batch needs "
            "minutes per step); ask with --presets res128 --batch-size 8"
        )
    reference = load_reference()
    if reference is None:
        notes.append("benchmarks/reference_sagan.py not found: no reference figures")

    probe = _preset_config(names[0], settings, device)
    compute_dtype = autocast_dtype(probe.train.precision, device) or torch.float32
    log(f"matmul peak ({compute_dtype}) on {machine.device_name} ...")
    peak = matmul_peak(device, compute_dtype, settings.matmul_size, settings.matmul_seconds)

    figures = []
    for name in names:
        cfg = _preset_config(name, settings, device)
        engine_runs, reference_runs = [], []
        for repeat in range(settings.repeats):
            log(f"{name}: engine, batch {cfg.train.batch_size} (run {repeat + 1}) ...")
            spec = _spec("engine", f"{name} engine", cfg, settings, settings.breakdown_steps)
            engine_runs += _attempt(spec, settings.isolate, notes)
            if reference is not None:
                log(f"{name}: reference (run {repeat + 1}) ...")
                spec = _spec("reference", f"{name} reference", cfg, settings)
                reference_runs += _attempt(spec, settings.isolate, notes)
        if not engine_runs:
            continue
        engine = _median_run(engine_runs)
        ref_run = _median_run(reference_runs) if reference_runs else None
        flops = step_flops(cfg, reference) if reference is not None else None
        achieved = flops / (engine.step_ms / 1000) if flops else None
        figures.append(
            PresetFigures(
                preset=name,
                batch_size=cfg.train.batch_size,
                resolution=cfg.model.resolution,
                engine=engine,
                reference=ref_run,
                speedup=engine.images_per_s / ref_run.images_per_s if ref_run else None,
                speedup_cpu_time=(
                    engine.images_per_cpu_s / ref_run.images_per_cpu_s
                    if ref_run and device.type == "cpu"
                    else None
                ),
                flops_per_step=flops,
                achieved_flop_per_s=achieved,
                fraction_of_peak=achieved / peak.flop_per_s if achieved else None,
            )
        )

    options_preset = settings.options_preset or names[0]
    options = []
    for label, change in option_variants(device, settings.compile, settings.quick):
        cfg = _preset_config(options_preset, settings, device, **change)
        log(f"options on {options_preset}: {label} ...")
        options += _attempt(_spec("engine", label, cfg, settings), settings.isolate, notes)

    log("click-to-attention latency ...")
    attention = attention_latency(device, settings.attention_queries)

    memory = None
    if settings.memory_steps > 0:
        log(f"memory over {settings.memory_steps} steps of {options_preset} ...")
        cfg = _preset_config(
            options_preset,
            settings,
            device,
            steps=settings.memory_steps,
            log_every=max(1, settings.memory_steps // 40),
        )
        spec = dataclasses.replace(
            _spec("engine", "memory", cfg, settings), min_steps=10**9, min_seconds=0.0
        )
        memory = next((memory_trend(r) for r in _attempt(spec, settings.isolate, notes)), None)

    gui = GuiCost("skipped (--no-gui)")
    if settings.gui:
        log("GUI cost (offscreen window) ...")
        gui_train: dict[str, object] = {"device": str(device)}
        if settings.batch_size is not None:
            gui_train["batch_size"] = settings.batch_size
        if settings.precision is not None:
            gui_train["precision"] = settings.precision
        gui_config = preset(options_preset).replace(train=gui_train)
        gui = gui_cost(settings, gui_config)

    machine.load_average_end = _load_average()
    return BenchReport(
        machine=machine,
        settings=dataclasses.asdict(settings),
        matmul_peak=peak,
        presets=figures,
        options=options,
        attention=attention,
        memory=memory,
        gui=gui,
        notes=notes,
    )


# --------------------------------------------------------------------------- printing


def _fmt(value: float | None, spec: str = ".1f", scale: float = 1.0, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value * scale:{spec}}{suffix}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def format_report(report: BenchReport) -> str:
    m = report.machine
    out = [
        f"device: {m.device_name} [{m.device}]; CPU: {m.cpu}, {m.cores} cores, "
        f"{m.torch_threads} torch threads; torch {m.torch_version}",
        f"matmul peak: {report.matmul_peak.flop_per_s / 1e9:.1f} GFLOP/s "
        f"({report.matmul_peak.dtype}, {report.matmul_peak.size}^2)",
        "",
    ]
    rows = []
    for f in report.presets:
        e, r, s = f.engine, f.reference, f.engine.shares
        rows.append(
            [
                f.preset,
                str(f.batch_size),
                _fmt(e.images_per_s),
                _fmt(e.step_ms, ".0f"),
                _fmt(r.images_per_s if r else None),
                _fmt(r.step_ms if r else None, ".0f"),
                _fmt(f.speedup, ".2f", suffix="x"),
                _fmt(f.speedup_cpu_time, ".2f", suffix="x"),
                _fmt(f.flops_per_step, ".1f", 1e-9),
                _fmt(f.achieved_flop_per_s, ".1f", 1e-9),
                _fmt(f.fraction_of_peak, ".1f", 100, "%"),
                "/".join(_fmt(v, ".0f", 100) for v in (s.g, s.d, s.attention)) if s else "n/a",
                _fmt(e.peak_rss_mb, ".0f"),
                _fmt(r.peak_rss_mb if r else None, ".0f"),
                _fmt(e.cuda_max_allocated_mb, ".0f"),
            ]
        )
    header = [
        "preset",
        "batch",
        "img/s",
        "ms/step",
        "ref img/s",
        "ref ms",
        "speed-up",
        "by CPU s",
        "GFLOP/step",
        "GFLOP/s",
        "of peak",
        "G/D/attn %",
        "RSS MB",
        "ref RSS",
        "CUDA MB",
    ]
    out += ["training (engine vs plain reference)", _table(header, rows), ""]
    if report.options:
        base = report.options[0].images_per_s
        base_cpu = report.options[0].images_per_cpu_s
        rows = [
            [
                o.label,
                _fmt(o.images_per_s),
                _fmt(o.step_ms, ".0f"),
                _fmt(o.images_per_s / base, ".2f"),
                _fmt(o.images_per_cpu_s, ".1f"),
                _fmt(o.images_per_cpu_s / base_cpu, ".2f"),
            ]
            for o in report.options
        ]
        out += [
            f"engine options ({report.options[0].preset}, batch {report.options[0].batch_size})",
            _table(
                ["options", "img/s", "ms/step", "vs defaults", "img/CPU-s", "vs defaults"], rows
            ),
            "",
        ]
    a = report.attention
    if a is not None:
        out.append(
            f"click-to-attention ({a.preset}, {a.resolution}x{a.resolution}, {a.threads} threads, "
            f"{a.queries} clicks): p50 {a.p50_ms:.1f} ms, p95 {a.p95_ms:.1f} ms, "
            f"max {a.max_ms:.1f} ms; snapshot load {a.snapshot_load_ms:.1f} ms"
        )
    mem = report.memory
    if mem is not None:
        out.append(
            f"memory over {mem.steps} steps of {mem.preset}: RSS {_fmt(mem.first_mb, '.0f')} -> "
            f"{_fmt(mem.last_mb, '.0f')} MB (growth {_fmt(mem.growth_mb, '+.1f')} MB), process "
            f"peak {_fmt(mem.peak_mb, '.0f')} MB"
        )
    g = report.gui
    if g.status == "ok":
        out.append(
            f"GUI ({g.preset}): {_fmt(g.gui_images_per_s)} img/s with the window live vs "
            f"{_fmt(g.headless_images_per_s)} headless ({_fmt(g.ratio, '.1f', 100, '%')}; by CPU "
            f"time {_fmt(g.ratio_cpu_time, '.1f', 100, '%')}; "
            f"{_fmt(g.ratio_clicking, '.1f', 100, '%')} clicking every 2 s); GUI thread stall p99 "
            f"{_fmt(g.stall_p99_ms)} ms, max {_fmt(g.stall_max_ms)} ms, GUI thread busy "
            f"{_fmt(g.gui_thread_cpu_share, '.1f', 100, '%')} of a core; clicks while training "
            f"p50 {_fmt(g.click_p50_ms)} ms, p95 {_fmt(g.click_p95_ms)} ms ({g.clicks})"
        )
    else:
        out.append(f"GUI: {g.status}")
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagan_engine bench",
        description="Measure training speed, attention latency, memory and GUI cost on this "
        "device, against a plain reference SAGAN. Prints a table; --json writes the figures.",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--presets",
        help=f"comma-separated presets (default: all that fit; from {', '.join(PRESETS)})",
    )
    parser.add_argument("--batch-size", type=int, help="override every preset's batch size")
    parser.add_argument(
        "--precision", choices=PRECISIONS, help="the engine's precision (default: the preset's)"
    )
    parser.add_argument("--warmup-steps", type=int, help="untimed steps first (default 2)")
    parser.add_argument("--min-steps", type=int, help="timed steps at least (default 5)")
    parser.add_argument("--min-seconds", type=float, help="timed seconds at least (default 20)")
    parser.add_argument("--repeats", type=int, help="runs of each; the median is kept")
    parser.add_argument("--options-preset", help="preset for the options and memory runs")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--threads", type=int, help="torch threads of every measurement")
    parser.add_argument("--memory-steps", type=int, help="steps of the memory run (0: none)")
    parser.add_argument("--gui-seconds", type=float, help="seconds of each GUI-cost run")
    parser.add_argument("--no-gui", action="store_true", help="skip the GUI-cost measurement")
    parser.add_argument(
        "--no-isolate", action="store_true", help="measure in this process, not fresh ones"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny model, few steps (seconds)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    return parser


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    settings = BenchSettings.quick_settings() if args.quick else BenchSettings()
    changes: dict[str, object] = {"device": args.device, "gui": not args.no_gui}
    if args.presets:
        names = tuple(n.strip() for n in args.presets.split(",") if n.strip())
        unknown = [n for n in names if n not in PRESETS]
        if unknown:
            raise ValueError(f"unknown preset(s) {', '.join(unknown)}; choose from {list(PRESETS)}")
        changes["presets"] = names
    for name in (
        "batch_size",
        "precision",
        "warmup_steps",
        "min_steps",
        "min_seconds",
        "repeats",
        "options_preset",
        "memory_steps",
        "gui_seconds",
        "threads",
    ):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.compile:
        changes["compile"] = True
    if args.no_isolate:
        changes["isolate"] = False
    return dataclasses.replace(settings, **changes)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return _worker(args.worker, args.worker_out)
    try:
        settings = settings_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report = run_bench(settings, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
