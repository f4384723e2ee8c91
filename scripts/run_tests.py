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

On a machine with two cores or more, two pytest processes run at once, each with
OMP_NUM_THREADS = cores / 2 (unless OMP_NUM_THREADS is set already): the tiny models of the
tests gain little from a second thread, so two processes on one thread each nearly halve the
wall time. The longest runs start first. The GUI tests' waits allow 5 s at the least and their
stall check 1.5 s, and they pass on a 2-core machine under a load of 4 to 5; ``--jobs 1`` (or
SAGAN_TEST_JOBS=1) runs one process at a time, as before.

    python scripts/run_tests.py            # everything
    python scripts/run_tests.py -x -k ema  # extra arguments go to every pytest run
    python scripts/run_tests.py --jobs 1   # one pytest process at a time
"""

from __future__ import annotations

import concurrent.futures
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
    """The pytest runs, longest first (engine runs, then GUI files by size): with two at once,
    a long run started last would finish alone."""
    gui_files = sorted(
        (p for p in (ROOT / "tests" / "app").glob("test_*.py")),
        key=lambda p: (-p.stat().st_size, p.name),
    )
    # The slow end-to-end engine tests (multi-process resume, memory over an epoch, torchrun)
    # get a process and a time cap of their own, so that they cannot starve the others.
    engine = ["tests", "--ignore=tests/app"]
    return [
        [*engine, "-m", "not slow"],
        [*engine, "-m", "slow"],
        *[[str(p.relative_to(ROOT))] for p in gui_files],
    ]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def parse_jobs(args: list[str]) -> tuple[int, list[str]]:
    """``--jobs N`` / ``--jobs=N`` (default SAGAN_TEST_JOBS, else 2 on 2 cores or more, else
    1); the other arguments go to pytest."""
    jobs = os.environ.get("SAGAN_TEST_JOBS", "")
    rest = []
    it = iter(args)
    for arg in it:
        if arg == "--jobs":
            jobs = next(it, "")
        elif arg.startswith("--jobs="):
            jobs = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if not jobs:
        return (2 if cores() >= 2 else 1), rest
    if not jobs.isdigit() or int(jobs) < 1:
        raise SystemExit(f"--jobs / SAGAN_TEST_JOBS must be a whole number >= 1, got {jobs!r}")
    return int(jobs), rest


def run_one(targets: list[str], extra: list[str], env: dict[str, str]) -> tuple[str, int, float]:
    """One pytest process: its output, exit code (-1: stopped after the time cap), seconds."""
    command = [sys.executable, "-m", "pytest", "-q", *targets, *extra]
    start = time.perf_counter()
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
    return output, code, time.perf_counter() - start


def main(args: list[str]) -> int:
    jobs, extra = parse_jobs(args)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    if jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, cores() // jobs))
    totals: dict[str, int] = {}
    broken: list[str] = []
    start = time.perf_counter()
    print(f"{jobs} pytest process{'es' if jobs > 1 else ''} at a time", flush=True)
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(run_one, targets, extra, env): targets for targets in runs()}
        for future in concurrent.futures.as_completed(futures):
            targets = futures[future]
            output, code, seconds = future.result()
            last = output.strip().splitlines()[-1] if output.strip() else ""
            print(f"{' '.join(targets)} ({seconds:.0f} s): {last}", flush=True)
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
