"""Benchmarks on the current device: ``python -m sagan_engine bench [--json FILE]``.

Figures, not timed tests. For each preset it trains the engine and the plain reference SAGAN
of ``benchmarks/reference_sagan.py`` (same architecture, same data and batch, same device) and
reports images/s, step time, their ratio, the model FLOPs of one step and the achieved share of
the device's matmul peak (sampled between the timed runs, at fp32 and at the engine's
precision), the time shares of G, D and attention, and memory. It also times engine options,
click-to-attention latency at 64x64, memory over a longer run and, through
``benchmarks/gui_cost.py`` in a separate process, what the live window costs.

Each training measurement runs in a fresh process (``--no-isolate`` to run in this one), so that
its peak memory is its own and no run inherits another's warmed-up state. Training data are
synthetic images (throughput does not depend on what the pictures show).

The parts live in modules of their own: ``bench_timing`` (the harness and worker processes),
``bench_reference`` (the plain reference), ``bench_flops`` (FLOPs and the matmul peak),
``bench_attention``, ``bench_gui`` and ``bench_report`` (the figures and their table). This
module holds the settings, the order of the sections and the command line. A new section is a
function beside the ``_..._section`` ones below, called from :func:`_run_bench`, with a field
in :class:`~sagan_engine.bench_report.BenchReport` and lines in its ``format_report``.

This module never imports Qt: the GUI measurement is a separate program.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .bench_attention import attention_latency
from .bench_flops import PeakMeter, engine_step_flops, step_flops
from .bench_gui import gui_cost
from .bench_reference import load_reference
from .bench_report import (
    BenchReport,
    GuiCost,
    Machine,
    MemoryTrend,
    PresetFigures,
    TrainingRun,
    format_report,
    load_average,
)
from .bench_timing import (
    SYNTHETIC_IMAGES,
    RunSpec,
    attempt,
    median_run,
    memory_trend,
    run_measurement,
)
from .config import PRECISIONS, PRESETS, RunConfig, preset
from .devices import autocast_dtype, resolve_device

__all__ = ["BenchSettings", "format_report", "main", "run_bench", "run_measurement"]

# Presets whose preset batch makes one CPU step take minutes (res128: ~50 TFLOP per step).
CPU_SKIPPED_PRESETS = ("res128",)


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
    # Matmul-peak sampling: this long first, and half of it after every training run.
    matmul_seconds: float = 2.0
    num_images: int = SYNTHETIC_IMAGES
    options: bool = True  # the options table: every per-machine choice both ways
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


def preset_config(name: str, settings: BenchSettings, device: torch.device, **train) -> RunConfig:
    """The preset as the bench trains it: on ``device``, without samples or checkpoints
    getting in the way, with the settings' batch and precision."""
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
    if settings.threads:
        changes["threads"] = settings.threads
    if settings.quick:
        changes["log_every"] = 1
    changes.update(train)
    return cfg.replace(train=changes)


def run_spec(
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
    device: torch.device, compile_too: bool, quick: bool = False, threads: int | None = None
) -> list[tuple[str, dict]]:
    """Engine options worth comparing on this device: first the defaults (the per-machine
    choices of sagan_engine.machine_choices), then both values of every choice it makes, so
    that the table shows what each choice is worth here (quick: the first two)."""
    variants: list[tuple[str, dict]] = [("defaults", {})]
    variants += [(f"channels_last={v}", {"channels_last": v}) for v in (True, False)]
    low = autocast_dtype("auto", device)
    if low is not None:  # a GPU, or a CPU with native bf16
        name = {torch.bfloat16: "bf16", torch.float16: "fp16"}[low]
        variants += [(f"precision={p}", {"precision": p}) for p in ("fp32", name)]
    elif device.type == "cpu":
        variants += [("precision=fp32", {"precision": "fp32"})]
        variants += [("precision=bf16 (emulated)", {"precision": "bf16"})]
    count = threads or torch.get_num_threads()
    if device.type == "cpu" and count >= 2:
        variants += [(f"threads={n}", {"threads": n}) for n in (count, count // 2)]
    variants.append(("log_every=1", {"log_every": 1}))
    variants.append(("log_every=50", {"log_every": 50}))
    if compile_too:
        variants.append(("compile=True", {"compile": True}))
    return variants[:2] if quick else variants


def run_bench(settings: BenchSettings, log: Callable[[str], None] = print) -> BenchReport:
    """Every measurement of the bench, in order; ``log`` hears what is being measured."""
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _run_bench(settings, log)
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Context:
    """What every section shares: the device, the settings, the running peak, the notes."""

    device: torch.device
    settings: BenchSettings
    meter: PeakMeter
    notes: list[str]
    log: Callable[[str], None]

    def measure(self, spec: RunSpec) -> list[TrainingRun]:
        """One training measurement, then a matmul-peak sample: the peak is measured
        alongside the runs it is compared with, under the same load."""
        runs = attempt(spec, self.settings.isolate, self.notes)
        for run in runs:  # as measured: a bench cut short (a time limit) still leaves them
            self.log(
                f"  {run.images_per_s:.1f} img/s, {run.step_ms:.1f} ms/step ({run.steps} steps)"
            )
        self.meter.sample(self.settings.matmul_seconds / 2)
        return runs


def _run_bench(settings: BenchSettings, log: Callable[[str], None]) -> BenchReport:
    device = resolve_device(settings.device)
    notes: list[str] = []
    machine = Machine.here(device)
    load = machine.load_average_start
    if load and machine.cores and load[0] > 0.5 * machine.cores:
        notes.append(
            f"the machine was busy (load average {load[0]:.1f} on {machine.cores} cores): "
            "timings are noisy; re-measure on an idle machine"
        )
    names = settings.presets or tuple(
        n for n in PRESETS if device.type != "cpu" or n not in CPU_SKIPPED_PRESETS
    )
    if not settings.presets and device.type == "cpu":
        notes.append(
            f"{', '.join(CPU_SKIPPED_PRESETS)} skipped on the CPU (its preset batch needs "
            "minutes per step); ask with --presets res128 --batch-size 8"
        )
    low = autocast_dtype(preset_config(names[0], settings, device).train.precision, device)
    meter = PeakMeter(
        device,
        (torch.float32,) + ((low,) if low else ()),
        settings.matmul_size,
        burst_seconds=0.01 if settings.quick else 0.05,
    )
    log(f"matmul peak ({', '.join(str(d) for d in meter.dtypes)}) on {machine.device_name} ...")
    meter.sample(settings.matmul_seconds)
    peaks = (meter.peak(dtype) for dtype in meter.dtypes)
    log("  " + ", ".join(f"{p.dtype} {p.flop_per_s / 1e9:,.0f} GFLOP/s" for p in peaks))
    ctx = _Context(device, settings, meter, notes, log)

    figures = _training_section(ctx, names)
    options_preset = settings.options_preset or names[0]
    options = _options_section(ctx, options_preset)
    log("click-to-attention latency ...")
    attention = attention_latency(device, settings.attention_queries)
    memory = _memory_section(ctx, options_preset)
    gui = _gui_section(ctx, options_preset)
    # (A new section goes here: see the module docstring.)

    for f in figures:
        _divide_by_peaks(f, meter, device, notes)
    machine.load_average_end = load_average()
    return BenchReport(
        machine=machine,
        settings=dataclasses.asdict(settings),
        matmul_peak=meter.peak(low or torch.float32),
        matmul_peak_fp32=meter.peak(torch.float32),
        presets=figures,
        options=options,
        attention=attention,
        memory=memory,
        gui=gui,
        notes=notes,
    )


def _divide_by_peaks(
    f: PresetFigures, meter: PeakMeter, device: torch.device, notes: list[str]
) -> None:
    """The engine's FLOP/s (effective, and its own) as shares of the fp32 peak and of the
    peak at the precision it trained in (once every run is done: the best burst is known)."""
    dtype = autocast_dtype(str(f.engine.options["precision"]), device) or torch.float32
    used = meter.peak(dtype if dtype in meter.dtypes else torch.float32)
    if f.engine_flops_per_step:
        own = f.engine_flops_per_step / (f.engine.step_ms / 1000)
        f.engine_fraction_of_peak = own / used.flop_per_s
    if not f.achieved_flop_per_s:
        return
    f.fraction_of_peak = f.achieved_flop_per_s / used.flop_per_s
    f.fraction_of_fp32_peak = f.achieved_flop_per_s / meter.peak(torch.float32).flop_per_s
    if f.fraction_of_peak > 1:
        notes.append(
            f"{f.preset}: the engine ran at {f.fraction_of_peak:.0%} of the {used.dtype} matmul "
            "peak (effective: the reference's FLOPs over the engine's time): either the engine "
            "skips FLOPs the reference does (e.g. D's weight gradients in the G step) or the "
            "peak was under-measured (a busy machine?)"
        )


def _training_section(ctx: _Context, names: tuple[str, ...]) -> list[PresetFigures]:
    """Engine against the plain reference, preset by preset, runs alternating."""
    settings, device = ctx.settings, ctx.device
    reference = load_reference()
    if reference is None:
        ctx.notes.append("benchmarks/reference_sagan.py not found: no reference figures")
    figures = []
    for name in names:
        cfg = preset_config(name, settings, device)
        engine_runs, reference_runs = [], []
        for repeat in range(settings.repeats):
            ctx.log(f"{name}: engine, batch {cfg.train.batch_size} (run {repeat + 1}) ...")
            spec = run_spec("engine", f"{name} engine", cfg, settings, settings.breakdown_steps)
            engine_runs += ctx.measure(spec)
            if reference is not None:
                ctx.log(f"{name}: reference (run {repeat + 1}) ...")
                reference_runs += ctx.measure(
                    run_spec("reference", f"{name} reference", cfg, settings)
                )
        if not engine_runs:
            continue
        engine = median_run(engine_runs)
        ref_run = median_run(reference_runs) if reference_runs else None
        flops = step_flops(cfg, reference) if reference is not None else None
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
                achieved_flop_per_s=flops / (engine.step_ms / 1000) if flops else None,
                fraction_of_peak=None,  # filled in by _divide_by_peaks at the end
                engine_flops_per_step=engine_step_flops(cfg),
            )
        )
    return figures


def _options_section(ctx: _Context, options_preset: str) -> list[TrainingRun]:
    """Every option variant, ``repeats`` rounds of all of them in turn (so that a load change
    on a shared machine falls on every variant alike); the median run of each."""
    settings = ctx.settings
    if not settings.options:
        return []
    variants = option_variants(ctx.device, settings.compile, settings.quick, settings.threads)
    runs: dict[str, list[TrainingRun]] = {label: [] for label, _ in variants}
    for repeat in range(settings.repeats):
        for label, change in variants:
            cfg = preset_config(options_preset, settings, ctx.device, **change)
            ctx.log(f"options on {options_preset}: {label} (run {repeat + 1}) ...")
            runs[label] += ctx.measure(run_spec("engine", label, cfg, settings))
    return [median_run(found) for found in runs.values() if found]


def _memory_section(ctx: _Context, options_preset: str) -> MemoryTrend | None:
    steps = ctx.settings.memory_steps
    if steps <= 0:
        return None
    ctx.log(f"memory over {steps} steps of {options_preset} ...")
    cfg = preset_config(
        options_preset, ctx.settings, ctx.device, steps=steps, log_every=max(1, steps // 40)
    )
    spec = dataclasses.replace(
        run_spec("engine", "memory", cfg, ctx.settings), min_steps=10**9, min_seconds=0.0
    )
    return next((memory_trend(r) for r in attempt(spec, ctx.settings.isolate, ctx.notes)), None)


def _gui_section(ctx: _Context, options_preset: str) -> GuiCost:
    settings = ctx.settings
    if not settings.gui:
        return GuiCost("skipped (--no-gui)")
    ctx.log("GUI cost (offscreen window) ...")
    gui_train: dict[str, object] = {"device": str(ctx.device)}
    if settings.batch_size is not None:
        gui_train["batch_size"] = settings.batch_size
    if settings.precision is not None:
        gui_train["precision"] = settings.precision
    config = preset(options_preset).replace(train=gui_train)
    return gui_cost(config, settings.gui_seconds, settings.gui_warmup_seconds, settings.threads)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagan_engine bench",
        description="Measure training speed, attention latency, memory and GUI cost on this "
        "device, against a plain reference SAGAN. Prints a table; --json writes the figures.",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
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
    parser.add_argument(
        "--matmul-seconds",
        type=float,
        help="matmul-peak sampling: seconds first, half as many after every run (default 2)",
    )
    parser.add_argument("--gui-seconds", type=float, help="seconds of each GUI-cost run")
    parser.add_argument("--no-gui", action="store_true", help="skip the GUI-cost measurement")
    parser.add_argument(
        "--no-options",
        action="store_true",
        help="skip the options table (9 more runs per repeat)",
    )
    parser.add_argument(
        "--no-isolate", action="store_true", help="measure in this process, not fresh ones"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: tiny model, few steps (seconds)"
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    settings = BenchSettings.quick_settings() if args.quick else BenchSettings()
    changes: dict[str, object] = {
        "device": args.device,
        "gui": not args.no_gui,
        "options": not args.no_options,
    }
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
        "matmul_seconds",
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
