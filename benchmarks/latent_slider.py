"""Slider to picture: how long from moving the explorer's path slider to the new enlarged image
*and* its attention maps in the window, on a 64x64 model (issue 13's target: p95 <= 100 ms on
2 CPU cores).

The real main window (offscreen) explores an untrained res64 generator with 8 classes (the
cost of a forward pass does not depend on training), one sample enlarged with two query
points. Two runs:

- isolated moves: the slider jumps to a random position, the clock stops when the frame is
  shown (image set and maps drawn, ``LatentExplorer.frame_shown``); then a pause so the
  class-swap row (rendered 150 ms after the slider rests) runs as it would for a user;
- a drag: the slider moves every 16 ms (60 Hz) for a few seconds; for each position that was
  shown, the time since it was sent, and how long after the drag stopped its last position
  was on screen. Positions skipped by coalescing are counted.

A QTimer on the GUI thread fires every 5 ms throughout; its lateness says whether the GUI
thread ever waited. Each isolated move is also split into where its time went: waiting on the
inspector's thread (behind other work), the render itself (G's forward and the maps), and
from the worker's answer to the frame on screen (the GUI thread); so is each shown position
of the drag. Run by hand::

    QT_QPA_PLATFORM=offscreen python benchmarks/latent_slider.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_report import print_report


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    array = np.asarray(values) * 1000
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(array, 50)), 1),
        "p95_ms": round(float(np.percentile(array, 95)), 1),
        "max_ms": round(float(array.max()), 1),
    }


def make_checkpoint(root: Path, resolution: int, classes: int) -> Path:
    import torch

    from sagan_engine.checkpoint import save_checkpoint
    from sagan_engine.config import preset
    from sagan_engine.models import Generator

    config = preset(f"res{resolution}").replace(model={"num_classes": classes})
    torch.manual_seed(0)
    generator = Generator(config.model)
    tensors = {f"G_ema/{k}": v for k, v in generator.state_dict().items()}
    names = [f"class {i}" for i in range(classes)]
    return save_checkpoint(root / "model.safetensors", 1, config, names, tensors)


def record_worker_tasks() -> dict[int, tuple[float, float]]:
    """(start, end) of every task the inspector's thread finishes, by token."""
    from app import inspector_worker

    spans: dict[int, tuple[float, float]] = {}
    run = inspector_worker._Renderer._task

    def timed(renderer, request) -> None:
        start = time.perf_counter()
        run(renderer, request)
        spans[request.token] = (start, time.perf_counter())

    inspector_worker._Renderer._task = timed
    return spans


def wait_for(app, condition, timeout_s: float = 60.0) -> None:
    """Run Qt's event loop until ``condition()`` holds. The loop blocks between events as
    the app's own does; a 2 ms timer checks the condition. (A processEvents-and-sleep loop
    woke the GUI thread 2000 times a second and took CPU from the render it measured; the
    figures are time stamps taken in the signal handlers, so the check's period adds
    nothing to them.)"""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    deadline = time.perf_counter() + timeout_s
    loop, check = QEventLoop(), QTimer()
    timed_out = []

    def on_check() -> None:
        if condition():
            loop.quit()
        elif time.perf_counter() > deadline:
            timed_out.append(True)
            loop.quit()

    check.setInterval(2)
    check.timeout.connect(on_check)
    check.start()
    loop.exec()
    check.stop()
    if timed_out:
        raise TimeoutError("the window did not answer in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--moves", type=int, default=60, help="isolated slider moves")
    parser.add_argument("--pause-ms", type=int, default=250, help="rest between isolated moves")
    parser.add_argument("--drag-seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2 cores)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import torch
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(args.threads)  # before the window: its worker takes this count
    from app.main_window import MainWindow
    from app.settings import Settings

    spans = record_worker_tasks()

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="sagan-slider-bench-") as tmp:
        root = Path(tmp)
        checkpoint = make_checkpoint(root, args.resolution, args.classes)
        settings = Settings(QSettings(str(root / "settings.ini"), QSettings.Format.IniFormat))
        window = MainWindow(settings=settings)
        window.set_runs_dir(root / "runs")
        window.resize(1400, 950)
        window.show()
        explorer = window.latent_explorer
        window.open_run(checkpoint)
        wait_for(app, lambda: window.samples is not None and explorer.strip.images is not None)
        half = args.resolution // 2
        shown_maps = []
        window.attention_view.heatmaps_shown.connect(shown_maps.append)
        window.inspect(0, [(half // 2, half // 2), (half + 5, half + 9)])
        wait_for(app, lambda: shown_maps)

        shown: list[tuple[float, float, int]] = []  # (time, t, token)
        explorer.frame_shown.connect(
            lambda token: shown.append((time.perf_counter(), explorer.shown_position.t, token))
        )
        lateness: list[float] = []
        probe = QTimer()
        probe.setInterval(5)
        due = [time.perf_counter() + 0.005]

        def on_probe() -> None:
            now = time.perf_counter()
            lateness.append(max(0.0, now - due[0]))
            due[0] = now + 0.005

        probe.timeout.connect(on_probe)
        probe.start()

        # ---------------------------------------------------------- isolated moves
        rng = random.Random(0)
        isolated, set_value = [], []
        split: dict[str, list[float]] = {"queue_wait": [], "render": [], "answer_to_shown": []}
        for _ in range(args.moves):
            value = rng.randrange(0, 1001)
            while value == explorer.slider.value():
                value = rng.randrange(0, 1001)
            target = value / 1000
            start = time.perf_counter()
            explorer.slider.setValue(value)
            set_value.append(time.perf_counter() - start)
            # The frame of this position, shown with its maps (heatmaps_shown comes first).
            wait_for(app, lambda t=target: shown and shown[-1][1] == t)
            isolated.append(shown[-1][0] - start)
            token = shown[-1][2]
            # The worker notes a task's end after sending its answer: the window may be first.
            wait_for(app, lambda token=token: token in spans)
            began, ended = spans[token]
            split["queue_wait"].append(began - start)
            split["render"].append(ended - began)
            split["answer_to_shown"].append(shown[-1][0] - ended)
            pause_until = time.perf_counter() + args.pause_ms / 1000
            wait_for(app, lambda until=pause_until: time.perf_counter() >= until)

        # ---------------------------------------------------------- a 60 Hz drag
        sent: dict[float, float] = {}
        drag_shown_from = len(shown)
        timer = QTimer()
        timer.setInterval(16)
        position = [0]
        drag_end = time.perf_counter() + args.drag_seconds

        def on_drag() -> None:
            if time.perf_counter() >= drag_end:
                timer.stop()
                return
            position[0] = (position[0] + 7) % 1001
            start = time.perf_counter()
            explorer.slider.setValue(position[0])
            set_value.append(time.perf_counter() - start)
            sent[position[0] / 1000] = start

        timer.timeout.connect(on_drag)
        timer.start()
        wait_for(app, lambda: not timer.isActive(), args.drag_seconds + 10)
        last = position[0] / 1000
        wait_for(app, lambda: shown and shown[-1][1] == last)
        probe.stop()
        drag = [when - sent[t] for when, t, _ in shown[drag_shown_from:] if t in sent]
        wait_for(app, lambda: all(token in spans for _, _, token in shown[drag_shown_from:]))
        drag_split: dict[str, list[float]] = {"queue_wait": [], "render": [], "answer_to_shown": []}
        for when, t, token in shown[drag_shown_from:]:
            if t in sent:
                began, ended = spans[token]
                drag_split["queue_wait"].append(began - sent[t])
                drag_split["render"].append(ended - began)
                drag_split["answer_to_shown"].append(when - ended)
        settle = shown[-1][0] - sent[last]

        result = {
            "resolution": args.resolution,
            "classes": args.classes,
            "torch_threads": args.threads,
            "queries": 2,
            "isolated_move_to_image_and_maps": percentiles(isolated),
            "isolated_split": {name: percentiles(values) for name, values in split.items()},
            "drag_60hz_shown_latency": percentiles(drag),
            "drag_split": {name: percentiles(values) for name, values in drag_split.items()},
            "drag_positions_sent": len(sent),
            "drag_positions_rendered": len(drag),
            "drag_last_position_shown_after_ms": round(settle * 1000, 1),
            "gui_thread_setValue": percentiles(set_value),
            "gui_probe_lateness": {
                "p99_ms": round(float(np.percentile(np.asarray(lateness) * 1000, 99)), 1),
                "max_ms": round(float(max(lateness)) * 1000, 1),
            },
        }
        window.shutdown()
        window.close()
    print_report(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
