"""Soak test: train for a set time with SAGAN Studio's window live (offscreen), clicking a
sample now and then, and print the process's memory every ``--every`` seconds.

Not part of ``make test``: it runs for minutes by design. Memory should be flat after the
warm-up (histories, plots, events and attention results must not accumulate)::

    QT_QPA_PLATFORM=offscreen python benchmarks/soak.py --minutes 30 --every 60
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_trend(series: list[dict], warmup_minutes: float) -> str:
    """RSS after the warm-up: its range, the medians of its two halves, and a fitted slope.

    Single readings swing by tens of MB as sample and attention buffers are replaced, so
    the first and last reading alone say little about growth; halves and a slope do.
    """
    rows = [r for r in series if r["minutes"] >= warmup_minutes]
    if len(rows) < 4:
        return ""
    minutes = np.array([r["minutes"] for r in rows])
    rss = np.array([r["rss_mb"] for r in rows])
    half = len(rss) // 2
    slope_per_hour = 60 * np.polyfit(minutes, rss, 1)[0]
    return (
        f"after {warmup_minutes:g} min of warm-up: RSS {rss.min():.1f}-{rss.max():.1f} MB; "
        f"median {np.median(rss[:half]):.1f} MB in the first half, "
        f"{np.median(rss[half:]):.1f} MB in the second; "
        f"fitted trend {slope_per_hour:+.1f} MB per hour"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between reports")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--click-every", type=float, default=5.0)
    parser.add_argument("--json", help="write the memory series here")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QEventLoop, QTimer

    from app.refcount_guard import guard_singletons
    from benchmarks.gui_cost import live_window
    from sagan_engine.config import preset

    guard_singletons()
    root = Path(tempfile.mkdtemp(prefix="sagan-soak-"))
    config = preset(args.preset).replace(
        train={"steps": 10_000_000, "checkpoint_every": 2000, "sample_every": 50}
    )
    app, window = live_window(config, root)
    rng = np.random.default_rng(0)
    series: list[dict] = []
    start = time.monotonic()
    last_step = {"step": 0}
    window.training.stats.connect(lambda batch: last_step.update(step=batch[-1].step))

    def report() -> None:
        minute = (time.monotonic() - start) / 60
        row = {"minutes": round(minute, 2), "step": last_step["step"], "rss_mb": rss_mb()}
        series.append(row)
        print(
            f"{row['minutes']:7.2f} min  step {row['step']:7d}  RSS {row['rss_mb']:8.1f} MB",
            flush=True,
        )
        if minute >= args.minutes:
            window.training.stop()

    def click() -> None:
        if window.samples is not None:
            size = window.samples.images.shape[1]
            count = window.samples.images.shape[0]
            window.inspect(
                int(rng.integers(count)), [(int(rng.integers(size)), int(rng.integers(size)))]
            )

    loop = QEventLoop()
    reporter = QTimer()
    reporter.timeout.connect(report)
    reporter.start(int(args.every * 1000))
    clicker = QTimer()
    clicker.timeout.connect(click)
    clicker.start(int(args.click_every * 1000))
    window.training.session_ended.connect(lambda _finished: loop.quit())
    if not window.start_training():
        print("the window did not start training", file=sys.stderr)
        return 1
    report()
    loop.exec()
    window.shutdown()
    window.close()
    app.processEvents()
    summary = memory_trend(series, warmup_minutes=min(2.0, args.minutes / 2))
    if summary:
        print(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(series, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
