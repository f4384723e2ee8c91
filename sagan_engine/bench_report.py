"""What ``python -m sagan_engine bench`` reports: the figures as dataclasses (plain data, JSON
through :meth:`BenchReport.to_dict`) and their printed table."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .devices import cpu_name, describe_device


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
    flops_per_step: float | None  # the reference's model FLOPs of one step
    achieved_flop_per_s: float | None  # those FLOPs over the engine's step time
    fraction_of_peak: float | None  # of the matmul peak at the engine's compute precision
    fraction_of_fp32_peak: float | None = None  # of the fp32 matmul peak
    # The engine's own FLOPs of a step, and their rate as a share of the peak it ran against:
    # what the hardware really did (the "effective" figures above credit skipped work too).
    engine_flops_per_step: float | None = None
    engine_fraction_of_peak: float | None = None


@dataclass
class MatmulPeak:
    """The best matmul throughput seen at one dtype, over ``samples`` short timed bursts
    taken between the training measurements (``median``: their middle, for the spread)."""

    dtype: str
    size: int
    flop_per_s: float
    samples: int = 1
    median_flop_per_s: float | None = None


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

    @classmethod
    def here(cls, device: torch.device) -> Machine:
        return cls(
            device=str(device),
            device_name=describe_device(device),
            cpu=cpu_name(),
            cores=os.cpu_count(),
            torch_threads=torch.get_num_threads(),
            torch_version=torch.__version__,
            python=platform.python_version(),
            platform=platform.platform(),
            load_average_start=load_average(),
        )


@dataclass
class BenchReport:
    machine: Machine
    settings: dict[str, object]
    matmul_peak: MatmulPeak  # at the engine's compute precision
    presets: list[PresetFigures]
    options: list[TrainingRun]
    attention: AttentionLatency | None
    memory: MemoryTrend | None
    gui: GuiCost
    notes: list[str]
    matmul_peak_fp32: MatmulPeak | None = None  # the same at fp32 (equal when that is fp32)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (OSError, AttributeError):
        return None


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


def _peak_line(peak: MatmulPeak) -> str:
    spread = ""
    if peak.median_flop_per_s:
        spread = f", median {peak.median_flop_per_s / 1e9:.1f}"
    return (
        f"{peak.dtype} {peak.flop_per_s / 1e9:.1f} GFLOP/s (best of {peak.samples} bursts "
        f"interleaved with the runs{spread}; {peak.size}^2)"
    )


def format_report(report: BenchReport) -> str:
    m = report.machine
    peaks = [report.matmul_peak]
    if report.matmul_peak_fp32 is not None and report.matmul_peak_fp32.dtype != peaks[0].dtype:
        peaks.append(report.matmul_peak_fp32)
    out = [
        f"device: {m.device_name} [{m.device}]; CPU: {m.cpu}, {m.cores} cores, "
        f"{m.torch_threads} torch threads; torch {m.torch_version}",
        "matmul peak: " + "; ".join(_peak_line(p) for p in peaks),
        "",
    ]
    out += _training_lines(report, len(peaks) > 1)
    out += _options_lines(report.options)
    out += _other_lines(report)
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out)


def _training_lines(report: BenchReport, two_peaks: bool) -> list[str]:
    rows = []
    for f in report.presets:
        e, r, s = f.engine, f.reference, f.engine.shares
        row = [
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
            _fmt(f.engine_fraction_of_peak, ".1f", 100, "%"),
        ]
        if two_peaks:
            row.append(_fmt(f.fraction_of_fp32_peak, ".1f", 100, "%"))
        row += [
            "/".join(_fmt(v, ".0f", 100) for v in (s.g, s.d, s.attention)) if s else "n/a",
            _fmt(e.peak_rss_mb, ".0f"),
            _fmt(r.peak_rss_mb if r else None, ".0f"),
            _fmt(e.cuda_max_allocated_mb, ".0f"),
        ]
        rows.append(row)
    header = ["preset", "batch", "img/s", "ms/step", "ref img/s", "ref ms", "speed-up"]
    header += ["by CPU s", "GFLOP/step", "GFLOP/s", f"of {report.matmul_peak.dtype} peak"]
    header.append("own, of peak")
    if two_peaks:
        header.append("of fp32 peak")
    header += ["G/D/attn %", "RSS MB", "ref RSS", "CUDA MB"]
    return [
        'training (engine vs plain reference; GFLOP/s and "of peak" count the reference\'s '
        "FLOPs over the engine's time; \"own\" the engine's own FLOPs)",
        _table(header, rows),
        "",
    ]


def _options_lines(options: list[TrainingRun]) -> list[str]:
    if not options:
        return []
    base, base_cpu = options[0].images_per_s, options[0].images_per_cpu_s
    rows = [
        [
            o.label,
            _settings_used(o.options),
            _fmt(o.images_per_s),
            _fmt(o.step_ms, ".0f"),
            _fmt(o.images_per_s / base, ".2f"),
            _fmt(o.images_per_cpu_s, ".1f"),
            _fmt(o.images_per_cpu_s / base_cpu, ".2f"),
        ]
        for o in options
    ]
    header = ["options", "ran with", "img/s", "ms/step", "vs defaults", "img/CPU-s"]
    header.append("vs defaults")
    return [
        f"engine options ({options[0].preset}, batch {options[0].batch_size})",
        _table(header, rows),
        "",
    ]


def _settings_used(options: dict[str, object]) -> str:
    """What a run trained with, after the per-machine choices: "fp32 NHWC 2 thr"."""
    layout = "NHWC" if options.get("channels_last") is True else "NCHW"
    compiled = " compiled" if options.get("compile") is True else ""
    return f"{options.get('precision')} {layout} {options.get('threads')} thr{compiled}"


def _other_lines(report: BenchReport) -> list[str]:
    out = []
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
    return out
