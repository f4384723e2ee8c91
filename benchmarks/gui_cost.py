"""What the live window costs training: images/s headless versus with SAGAN Studio's main
window live (offscreen), the GUI thread's stalls while it trains, and click-to-attention
latency while training runs.

Run by ``python -m sagan_engine bench`` in a process of its own (the engine never imports
Qt); it can also be run by hand::

    QT_QPA_PLATFORM=offscreen python benchmarks/gui_cost.py --preset demo --seconds 30

Both runs train the same config on the bundled demo images. Headless is a plain
``Trainer.run()``; the GUI run goes through ``MainWindow.start_training`` (its training worker,
sample grid, curves and attention inspector all live), with a simulated click on a sample
every ``--click-every`` seconds once the previous click's maps arrived, in a second timed
window after the first (views only; 0: no clicking window).
Throughput comes from the trainer's own clock (``StepStats.elapsed_s``) after
``--warmup-seconds`` of it, so signal delivery does not blur it. The warm-up is time, not
steps: while the window starts, its device scan, folder scan and thumbnails run beside the
first steps, and a few steps' warm-up put that one-off cost on the live window's account
(78-85% instead of ~100% on 2 idle cores). A QTimer on the GUI thread fires
every ``--probe-ms``; a stall is how much later than due it fired. The probe runs in the
clicking window (it also times the clicks), or in the views window when there is none: its
200 wake-ups a second take a training thread off its core each time, which cost 2-4% of
the throughput on 2 cores and would be charged to the window. The headless run is
repeated before and after the GUI run and averaged, to cancel drift.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_report import print_report

PROBE_MS = 5


Mark = tuple[int, float, float]  # (step, trainer-clock seconds, process CPU seconds)


def _rates(marks: list[Mark], batch: int, warmup_s: float) -> tuple[float, float] | None:
    """(images/s, images per CPU-second of this whole process) after the warm-up.

    The CPU figure counts every thread (training, GUI, inspector): what the window costs in
    CPU is what it takes from training on a machine whose cores training keeps busy.
    """
    timed = [m for m in marks if m[1] >= warmup_s]
    if len(timed) < 2 or timed[-1][1] <= timed[0][1]:
        return None
    images = (timed[-1][0] - timed[0][0]) * batch
    return images / (timed[-1][1] - timed[0][1]), images / max(timed[-1][2] - timed[0][2], 1e-9)


def headless(config, dataset, seconds: float, warmup_s: float, root: Path):
    from sagan_engine.events import StepStats
    from sagan_engine.trainer import Trainer

    marks: list[Mark] = []
    holder = {}

    def listen(event) -> None:
        if isinstance(event, StepStats):
            marks.append((event.step, event.elapsed_s, time.process_time()))
            timed = [m for m in marks if m[1] >= warmup_s]
            if timed and timed[-1][1] - timed[0][1] >= seconds:
                holder["trainer"].stop()

    trainer = Trainer(config, dataset, Path(tempfile.mkdtemp(dir=root)) / "run", listeners=[listen])
    holder["trainer"] = trainer
    # On a thread of its own, as the app trains: an OpenMP team left on the main thread
    # would count against the window's run (see sagan_engine.cpu_threads).
    thread = threading.Thread(target=trainer.run, name="headless-training")
    thread.start()
    thread.join()
    return _rates(marks, config.train.batch_size, warmup_s)


def live_window(config, root: Path):
    """The real main window, shown offscreen on the demo data, set to train exactly ``config``
    with its settings and runs in ``root``: (QApplication, MainWindow)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.settings import Settings

    app = QApplication.instance() or QApplication([])
    settings = Settings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings)
    window.set_runs_dir(root / "runs")
    window.resize(1280, 800)
    window.show()
    window.data_panel.use_demo()
    window.model_panel.config = lambda: config  # train exactly the benchmark's config
    return app, window


def with_window(
    config,
    seconds: float,
    warmup_s: float,
    root: Path,
    click_every: float = 2.0,
    probe_ms: int = PROBE_MS,
) -> dict:
    """Train through the main window: ``seconds`` with the views live, then ``seconds`` more
    with a click every ``click_every`` seconds (none when 0)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    app, window = live_window(config, root)

    phases = ["warmup", "views"] + (["clicks"] if click_every > 0 else []) + ["done"]
    marks: dict[str, list[Mark]] = {name: [] for name in phases}
    ticks: list[float] = []
    clicks: list[float] = []
    state = {"phase": 0, "since": 0.0, "gui_cpu": 0.0, "click_at": None, "replied": 0.0}
    rng = np.random.default_rng(0)
    loop = QEventLoop()

    def next_phase() -> None:
        state["phase"] += 1
        state["since"] = time.perf_counter()
        if phases[state["phase"]] == "views":
            state["gui_cpu"] = time.thread_time()  # this is the GUI thread
        if phases[state["phase"]] == ("clicks" if click_every > 0 else "views"):
            probe.start()
        if phases[state["phase"]] != "views" and "gui_share" not in state:
            busy = time.thread_time() - state["gui_cpu"]
            state["gui_share"] = busy / (state["since"] - state["views_from"])
        if phases[state["phase"]] == "done":
            probe.stop()
            window.training.stop()

    def on_stats(batch) -> None:
        cpu = time.process_time()  # read on delivery: at most a flush interval late
        phase = phases[state["phase"]]
        for stats in batch:
            marks[phase].append((stats.step, stats.elapsed_s, cpu))
        if phase == "warmup" and batch[-1].elapsed_s >= warmup_s:
            next_phase()
            state["views_from"] = state["since"]
            marks["views"].append(marks["warmup"][-1])
        elif phase not in ("warmup", "done") and time.perf_counter() - state["since"] >= seconds:
            next_phase()
            marks[phases[state["phase"]]].append(marks[phase][-1])

    def on_tick() -> None:
        ticks.append(time.perf_counter())
        if (
            phases[state["phase"]] == "clicks"
            and window.samples is not None
            and state["click_at"] is None
            and ticks[-1] - state["replied"] >= click_every
        ):
            size = window.samples.images.shape[1]
            state["click_at"] = time.perf_counter()
            window.inspect(0, [(int(rng.integers(size)), int(rng.integers(size)))])

    def on_attention(_reply) -> None:
        if state["click_at"] is not None:
            state["replied"] = time.perf_counter()
            clicks.append(1000 * (state["replied"] - state["click_at"]))
            state["click_at"] = None

    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(probe_ms)
    probe.timeout.connect(on_tick)
    window.training.stats.connect(on_stats)
    window.training.session_ended.connect(lambda _finished: loop.quit())
    window.inspector.attention_ready.connect(on_attention)
    if not window.start_training():
        raise RuntimeError("the window did not start training")
    QTimer.singleShot(int(1000 * (seconds * 6 + 600)), loop.quit)  # never hang a benchmark
    loop.exec()
    window.shutdown()
    window.close()
    app.processEvents()
    gaps = np.diff(np.asarray(ticks)) * 1000 if len(ticks) >= 2 else np.zeros(1)
    stalls = np.maximum(gaps - probe_ms, 0.0)
    clicks = clicks[1:]  # the first click also builds the inspector's generator
    batch = config.train.batch_size
    return {
        "rates": _rates(marks["views"], batch, warmup_s),
        "rates_clicking": _rates(marks["clicks"], batch, warmup_s) if clicks else None,
        "stall_p99_ms": float(np.percentile(stalls, 99)),
        "stall_max_ms": float(stalls.max()),
        "click_p50_ms": float(np.percentile(clicks, 50)) if clicks else None,
        "click_p95_ms": float(np.percentile(clicks, 95)) if clicks else None,
        "clicks": len(clicks),
        "gui_thread_cpu_share": state.get("gui_share"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="a RunConfig JSON file (default: --preset)")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed seconds per run")
    parser.add_argument(
        "--warmup-seconds", type=float, default=8.0, help="untimed seconds of training first"
    )
    parser.add_argument(
        "--click-every", type=float, default=2.0, help="seconds between clicks (0: none)"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: PyTorch's)")
    parser.add_argument(
        "--probe-ms", type=int, default=PROBE_MS, help="period of the GUI-thread stall probe"
    )
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import torch

    from sagan_engine.config import RunConfig, preset
    from sagan_engine.data import load_demo_dataset

    if args.threads:
        torch.set_num_threads(args.threads)

    config = RunConfig.load(args.config) if args.config else preset(args.preset)
    # Views live: samples and curves refresh often enough to be seen changing.
    config = config.replace(
        train={
            "steps": 100_000_000,
            "log_every": min(config.train.log_every, 5),
            "sample_every": min(config.train.sample_every, 10),
            "checkpoint_every": 100_000_000,
        }
    )
    with tempfile.TemporaryDirectory(prefix="sagan-gui-bench-") as tmp:
        root = Path(tmp)
        dataset = load_demo_dataset(config.model.resolution, cache_dir=root / "cache")
        headless_rates = [headless(config, dataset, args.seconds, args.warmup_seconds, root)]
        gui = with_window(
            config, args.seconds, args.warmup_seconds, root, args.click_every, args.probe_ms
        )
        headless_rates.append(headless(config, dataset, args.seconds, args.warmup_seconds, root))
    rates = [r for r in headless_rates if r]
    base = tuple(sum(r[k] for r in rates) / len(rates) for k in (0, 1)) if rates else None
    live = gui["rates"]
    result = {
        "status": "ok" if base and live else "n/a (too few steps to time)",
        "preset": config.preset,
        "headless_images_per_s": base[0] if base else None,
        "gui_images_per_s": live[0] if live else None,
        "ratio": live[0] / base[0] if base and live else None,
        "headless_images_per_cpu_s": base[1] if base else None,
        "gui_images_per_cpu_s": live[1] if live else None,
        "ratio_cpu_time": live[1] / base[1] if base and live else None,
        "ratio_clicking": (
            gui["rates_clicking"][0] / base[0] if base and gui["rates_clicking"] else None
        ),
        "stall_p99_ms": gui["stall_p99_ms"],
        "stall_max_ms": gui["stall_max_ms"],
        "click_p50_ms": gui["click_p50_ms"],
        "click_p95_ms": gui["click_p95_ms"],
        "clicks": gui["clicks"],
        "gui_thread_cpu_share": gui["gui_thread_cpu_share"],
    }
    print_report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
