"""Per-machine choices: the training settings left at "auto" (precision, channels_last, compile,
CPU threads), settled by timing them on this machine rather than by the author's.

A choice that is faster on one CPU can be slower on another (channels_last, bf16 on a CPU
without native bf16, fewer threads than cores on a shared machine), so the first run on a
machine times a few training steps of its own model and batch with each option, one option
changed at a time from the built-in default and all of them interleaved, and keeps the
faster (the median step, and only when it beats the default by more than the noise). The
result is cached as JSON under the user cache dir, keyed by the device (CPU model and the
features that decide its speed, or the GPU's name), the PyTorch version and the
preset/resolution/batch, so the probe runs once per machine and model size.

``SAGAN_MACHINE_PROBE=off`` (the test suite sets it) skips the probe and the cache: "auto"
then means the built-in defaults, the same on every machine of a kind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
import torch

from .config import RunConfig
from .cpu_threads import set_threads_of_this_thread
from .devices import autocast_dtype, cpu_has_native_bf16, cpu_name
from .plurals import counted

PROBE_ENV = "SAGAN_MACHINE_PROBE"  # "off" (or 0/false/no): the built-in defaults, no probe
CACHE_FILE = "machine_choices.json"
PROBE_SECONDS = 30.0  # the probe's budget, warm-up included; longer steps get fewer rounds
# Timed rounds, every candidate once per round: at least 3, more while a third of the budget
# lasts (small models get more samples of their short, noisier steps).
MIN_ROUNDS, MAX_ROUNDS = 3, 9
MARGIN = 0.03  # an option must beat the default by this much to be chosen over it
# PyTorch's thread count when the engine was imported: a program that changes it later
# (torch.set_num_threads, e.g. a script's --threads) or sets OMP_NUM_THREADS has chosen.
_STARTUP_THREADS = torch.get_num_threads()
_probing = threading.local()  # set while this thread probes: its trainers take the defaults


@dataclass
class MachineChoices:
    """What "auto" became on this machine, and why."""

    precision: str  # "fp32", "bf16" or "fp16"
    channels_last: bool
    compile: bool
    threads: int  # of the training thread; 0 = PyTorch's count, left alone
    source: str  # "probe" (measured now), "cache", "defaults" (probe off) or "config"
    auto: tuple[str, ...] = ()  # the settings that were left at "auto"
    step_seconds: dict[str, float] = field(default_factory=dict)  # option -> median s/step

    def describe(self) -> str:
        """One line for the log: the chosen values and where they come from."""
        threads = counted(self.threads, "CPU thread")
        if not self.threads:
            threads = "PyTorch's thread count"
        how = {
            "probe": "measured on this machine",
            "cache": "measured earlier on this machine",
            "defaults": "built-in defaults, not measured",
            "config": "as configured",
        }[self.source]
        line = (
            f"machine choices ({how}): precision {self.precision}, "
            f"channels_last {'on' if self.channels_last else 'off'}, "
            f"compile {'on' if self.compile else 'off'}, {threads}"
        )
        if self.step_seconds:
            timed = ", ".join(f"{k} {1000 * v:.0f}" for k, v in self.step_seconds.items())
            line += f" (ms/step: {timed})"
        return line


def probing_enabled() -> bool:
    return os.environ.get(PROBE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def auto_settings(config: RunConfig) -> tuple[str, ...]:
    train = config.train
    return tuple(
        name
        for name, value in (
            ("precision", train.precision),
            ("channels_last", train.channels_last),
            ("compile", train.compile),
            ("threads", train.threads),
        )
        if value == "auto" or (name == "threads" and value == 0)
    )


def default_choices(config: RunConfig, device: torch.device) -> MachineChoices:
    """The built-in defaults for the "auto" settings (the configured values for the rest):
    a low-precision autocast where the hardware has it natively, channels_last, no compile,
    PyTorch's thread count."""
    train = config.train
    precision = train.precision
    if precision == "auto":
        dtype = autocast_dtype("auto", device)
        precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    auto = tuple(
        name
        for name in auto_settings(config)
        if name != "threads" or (device.type == "cpu" and thread_count_is_pytorchs())
    )
    return MachineChoices(
        precision=precision,
        channels_last=True if train.channels_last == "auto" else bool(train.channels_last),
        compile=False if train.compile == "auto" else bool(train.compile),
        threads=train.threads,
        source="defaults" if auto else "config",
        auto=auto,
    )


def apply(config: RunConfig, choices: MachineChoices) -> RunConfig:
    """``config`` with the choices written in (so the run's config.json says what it used)."""
    return config.replace(
        train={
            "precision": choices.precision,
            "channels_last": choices.channels_last,
            "compile": choices.compile,
            "threads": choices.threads,
        }
    )


# --------------------------------------------------------------------------- the cache


def device_key(device: torch.device) -> str:
    """What a measured choice depends on besides PyTorch: the GPU's name, or the CPU's model,
    vector width, native bf16 and core count."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"cuda:{torch.cuda.get_device_name(device)} sm{major}{minor}"
    if device.type == "mps":
        return f"mps:{cpu_name()}"
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")()
    bf16 = "native-bf16" if cpu_has_native_bf16() else "no-bf16"
    return f"cpu:{cpu_name()}|{capability}|{bf16}|{os.cpu_count()} cores"


_CHOICES = ("precision", "channels_last", "compile", "threads")


def cache_key(config: RunConfig, device: torch.device) -> str:
    model, train = config.model, config.train
    base = default_choices(config, device)
    given = [name for name in _CHOICES if name not in auto_settings(config)]
    return " / ".join(
        [
            device_key(device),
            f"torch {torch.__version__}",
            f"{config.preset} {model.resolution}px g{model.g_ch} d{model.d_ch} "
            f"batch {train.batch_size}",
            "auto: " + ",".join(base.auto),
            # The settings given explicitly: what the auto ones were measured against (with
            # channels_last=False given, the best precision or thread count may differ).
            "given: " + ",".join(f"{n}={getattr(base, n)}" for n in given),
        ]
    )


def cache_path() -> Path:
    return platformdirs.user_cache_path("sagan-studio") / CACHE_FILE


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: measured again and rewritten
        return {}
    return data if isinstance(data, dict) else {}


def cached(key: str, path: Path | None = None) -> MachineChoices | None:
    entry = _read_cache(path or cache_path()).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        entry = dict(entry, auto=tuple(entry["auto"]), source="cache")
        return MachineChoices(**entry)
    except (TypeError, KeyError):
        return None


def store(key: str, choices: MachineChoices, path: Path | None = None) -> None:
    """Add one entry to the cache file (written whole, then renamed into place)."""
    path = path or cache_path()
    entries = _read_cache(path)
    entries[key] = dataclasses.asdict(choices)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError:  # a read-only cache dir costs a probe next time, nothing else
        pass


# --------------------------------------------------------------------------- the probe


def candidates(base: MachineChoices, device: torch.device) -> dict[str, MachineChoices]:
    """The options to time: the defaults, then each "auto" setting changed alone."""
    options = {"defaults": base}
    if "channels_last" in base.auto:
        flipped = not base.channels_last
        options[f"channels_last={flipped}"] = dataclasses.replace(base, channels_last=flipped)
    if "precision" in base.auto:
        # fp32 against the low precision where the hardware has one. On a CPU without native
        # bf16 it is emulated and always slower, and on an Apple GPU fp32 is the safe one.
        if base.precision != "fp32":
            options["precision=fp32"] = dataclasses.replace(base, precision="fp32")
    if "compile" in base.auto:
        options["compile=True"] = dataclasses.replace(base, compile=True)
    if "threads" in base.auto:
        fewer = torch.get_num_threads() // 2
        options[f"threads={fewer}"] = dataclasses.replace(base, threads=fewer)
    return options


def thread_count_is_pytorchs() -> bool:
    """Whether the thread count is still PyTorch's own default (and worth halving)."""
    count = torch.get_num_threads()
    return count >= 2 and count == _STARTUP_THREADS and "OMP_NUM_THREADS" not in os.environ


def _probe_dataset(config: RunConfig):
    from .data import ImageDataset

    count, res = max(2 * config.train.batch_size, 8), config.model.resolution
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, res, res, 3), dtype=np.uint8)
    classes = config.model.num_classes
    labels = (np.arange(count) % classes if classes else np.zeros(count)).astype(np.int64)
    return ImageDataset(images, labels, [f"c{i}" for i in range(classes)], [], "probe")


class _Candidate:
    """One option's trainer, built but not run: its steps are timed one by one."""

    def __init__(self, config: RunConfig, choices: MachineChoices, tmp: Path) -> None:
        from .trainer import Trainer

        cfg = apply(config, choices).replace(
            train={"eval_every": 0, "snapshots": 0, "n_samples": 1}
        )
        self.threads = choices.threads
        self.trainer = Trainer(cfg, _probe_dataset(cfg), tmp)
        self.trainer._build()
        self.times: list[float] = []

    def step(self) -> float:
        """Seconds of one training step, finished (its statistics read back)."""
        trainer = self.trainer
        trainer.G.train()
        trainer.D.train()
        start = time.perf_counter()
        trainer._train_step().sum().item()
        return time.perf_counter() - start


def probe(
    config: RunConfig,
    base: MachineChoices,
    device: torch.device,
    budget_s: float | None = None,
) -> dict[str, float]:
    """Median seconds per step of every candidate, timed in interleaved rounds (each round
    in a rotated order, so that no option always follows the same one)."""
    import tempfile

    options = candidates(base, device)
    budget_s = PROBE_SECONDS if budget_s is None else budget_s
    own_threads = torch.get_num_threads()
    deadline = time.perf_counter() + budget_s
    _probing.active = True
    try:
        with tempfile.TemporaryDirectory(prefix="sagan-probe-") as tmp:
            return _time_candidates(config, options, Path(tmp), own_threads, deadline, budget_s)
    finally:
        _probing.active = False


class ProbeTooSlow(RuntimeError):
    """One step of this model takes too long for a probe of seconds."""


def _time_candidates(
    config: RunConfig,
    options: dict[str, MachineChoices],
    tmp: Path,
    own_threads: int,
    deadline: float,
    budget_s: float,
) -> dict[str, float]:
    built: dict[str, _Candidate] = {}
    warmups = []
    for label, choices in options.items():
        built[label] = _Candidate(config, choices, tmp / label)
        warmups.append(_timed_step(built[label], own_threads))  # and the compile, if any
        if label == "defaults" and warmups[0] > budget_s / 2:
            raise ProbeTooSlow(f"a step takes {warmups[0]:.1f} s, too long to time the options")
    if min(warmups) > budget_s / (2 * len(options)):  # the fastest option, as slow as that
        raise ProbeTooSlow(f"a step takes {min(warmups):.1f} s, too long to time the options")
    names = list(built)
    more_until = time.perf_counter() + budget_s / 3
    for round_ in range(MAX_ROUNDS):
        now = time.perf_counter()
        if (round_ > 0 and now > deadline) or (round_ >= MIN_ROUNDS and now > more_until):
            break
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            built[name].times.append(_timed_step(built[name], own_threads))
    return {name: statistics.median(c.times) for name, c in built.items()}


def _timed_step(candidate: _Candidate, own_threads: int) -> float:
    if candidate.threads:
        set_threads_of_this_thread(candidate.threads)
    try:
        return candidate.step()
    finally:
        if candidate.threads:
            set_threads_of_this_thread(own_threads)


def pick(base: MachineChoices, step_seconds: dict[str, float]) -> MachineChoices:
    """The defaults, with every option that beat them by more than ``MARGIN`` taken."""
    chosen = base
    reference = step_seconds["defaults"]
    for label, seconds in step_seconds.items():
        if label == "defaults" or seconds >= reference * (1 - MARGIN):
            continue
        name, value = label.split("=", 1)
        parsed: object = {"True": True, "False": False}.get(value, value)
        if name == "threads":
            parsed = int(value)
        chosen = dataclasses.replace(chosen, **{name: parsed})
    return dataclasses.replace(chosen, step_seconds=step_seconds)


def choose(
    config: RunConfig,
    device: torch.device,
    log: Callable[[str], None] = lambda line: None,
    may_probe: bool = True,
) -> MachineChoices:
    """The choices for ``config`` on ``device``: the configured values where set, and for the
    "auto" ones the cached measurement, a new probe (``may_probe``, the switch on), or the
    built-in defaults."""
    base = default_choices(config, device)
    if not base.auto or not may_probe or not probing_enabled() or getattr(_probing, "active", 0):
        return base
    key = cache_key(config, device)
    found = cached(key)
    if found is not None:
        # Only what was left at "auto" comes from the cache: a value given explicitly wins.
        measured = {name: getattr(found, name) for name in base.auto}
        return dataclasses.replace(
            base, **measured, source="cache", step_seconds=found.step_seconds
        )
    log(f"measuring which settings train fastest on this machine (once): {', '.join(base.auto)}")
    try:
        step_seconds = probe(config, base, device)
    except ProbeTooSlow as err:  # not cached: a faster machine or smaller batch may probe
        log(f"machine probe skipped ({err}); using the defaults")
        return base
    except Exception as err:  # noqa: BLE001 - e.g. out of memory, or no compiler here:
        # the probe only picks among working options; training goes on with the defaults
        log(f"machine probe failed ({str(err).strip()[:200]}); using the defaults")
        return base
    chosen = dataclasses.replace(pick(base, step_seconds), source="probe")
    store(key, chosen)
    return chosen


def settle(
    config: RunConfig,
    device: torch.device,
    log: Callable[[str], None] = lambda line: None,
    may_probe: bool = True,
) -> tuple[RunConfig, MachineChoices]:
    """What the trainer calls once it knows its device: ``config`` with every "auto" choice
    made, and the choices (``describe()`` says them); this thread's CPU thread count is set
    when one was chosen. ``log`` hears when a probe starts or fails."""
    choices = choose(config, device, log, may_probe)
    if choices.threads and device.type == "cpu":
        set_threads_of_this_thread(choices.threads)
    return apply(config, choices), choices
