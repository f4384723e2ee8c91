"""Run the whole test suite as `make test` and CI do: the engine and packaging tests in one
pytest process, then each GUI test file in a process of its own, and one summary line.

Why separate processes for the GUI files: after a few dozen main windows had been created
and destroyed in one process, PySide6 6.11 on CPython 3.11 crashed in the garbage collector
(a segfault while collecting an earlier test's widgets) and once hung with the training and
inspector threads idle. The cause, Python's collector destroying Qt widgets left in reference
cycles on whichever thread allocated (training, inspector, evaluator), is fixed: collection
now runs on the GUI thread only (app/gui_thread_gc.py), and tests/app then passed in one
process 3 times in a row. The split stays as isolation: a GUI test file never inherits
another file's dead windows. A file that hangs is stopped after PER_FILE_TIMEOUT_S and counts
as failed.

    python scripts/run_tests.py            # everything
    python scripts/run_tests.py -x -k ema  # extra arguments go to every pytest run
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PER_FILE_TIMEOUT_S = 900
COUNTS = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def runs() -> list[list[str]]:
    gui_files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "app").glob("test_*.py"))
    # The slow end-to-end engine tests (multi-process resume, memory over an epoch, torchrun)
    # get a process and a time cap of their own, so that they cannot starve the others.
    engine = ["tests", "--ignore=tests/app"]
    return [[*engine, "-m", "not slow"], [*engine, "-m", "slow"], *[[p] for p in gui_files]]


def main(extra: list[str]) -> int:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    totals: dict[str, int] = {}
    broken: list[str] = []
    start = time.perf_counter()
    for targets in runs():
        command = [sys.executable, "-m", "pytest", "-q", *targets, *extra]
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=PER_FILE_TIMEOUT_S,
            )
            output, code = done.stdout + done.stderr, done.returncode
        except subprocess.TimeoutExpired as err:
            output = f"{err.stdout or ''}\nstopped after {PER_FILE_TIMEOUT_S} s"
            code = -1
        last = output.strip().splitlines()[-1] if output.strip() else ""
        print(f"{' '.join(targets)}: {last}", flush=True)
        counts = {
            kind.rstrip("s") if kind.startswith("error") else kind: int(n)
            for n, kind in COUNTS.findall(last)
        }
        for kind, n in counts.items():
            totals[kind] = totals.get(kind, 0) + n
        if code not in (0, 5):  # 5: no test selected by the extra arguments
            broken.append(" ".join(targets))
            print(output[-6000:], flush=True)
            if code != 1 and not counts.get("failed"):
                totals["failed"] = totals.get("failed", 0) + 1  # a crash or a hang
    minutes = (time.perf_counter() - start) / 60
    if broken:
        print(f"failing: {', '.join(broken)}")
    print(f"({minutes:.1f} min in {len(runs())} pytest processes)")
    failed = totals.get("failed", 0) + totals.get("error", 0)
    summary = f"{totals.get('passed', 0)} passed, {failed} failed"
    if totals.get("skipped"):
        summary += f", {totals['skipped']} skipped"
    print(summary)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
