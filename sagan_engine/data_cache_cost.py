"""What building the decoded cache costs, said before it starts and while it runs: the size
and decoding time estimated from a sample of the folder, the free space it needs, and the
rate and time left of a running build. Used by :mod:`sagan_engine.data_cache_build`, the CLI's
``prepare`` and the window's loading line. Never imports Qt or torch."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data_decode import ImageSkip, decode_image
from .data_scan import _display
from .errors import DataError
from .plurals import counted

if TYPE_CHECKING:
    from .data_cache_build import _Plan

# Free space left on the disk after the cache, so the build never fills it to the last byte.
DISK_RESERVE_BYTES = 256 << 20
ESTIMATE_SAMPLE_FILES = 32


class CacheSpaceError(DataError):
    """The disk cannot hold the decoded cache."""


@dataclass(frozen=True)
class CacheEstimate:
    """What a build will cost, from decoding a sample of the folder before it starts."""

    folder: str
    cache: Path
    files: int  # image files in the folder
    files_to_decode: int  # those not already in a finished shard
    bytes_total: int  # the whole cache, if every file is usable (an upper bound)
    bytes_to_write: int
    free_bytes: int  # on the cache's disk
    seconds: float  # decoding time of what is left, on ``workers`` processes
    workers: int

    def describe(self) -> str:
        done = self.files - self.files_to_decode
        resumed = f", {done} already decoded" if done else ""
        return (
            f"{counted(self.files, 'image')}{resumed}: the cache takes up to "
            f"{format_bytes(self.bytes_total)} ({format_bytes(self.bytes_to_write)} to write, "
            f"{format_bytes(self.free_bytes)} free in {self.cache.parent}); decoding about "
            f"{format_duration(self.seconds)} on {counted(self.workers, 'process', 'processes')}"
        )


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def format_duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds) + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class RateMeter:
    """Files per second and time left of a long job fed ``(done, total)`` progress calls."""

    def __init__(self) -> None:
        self.start: tuple[float, int] | None = None

    def describe(self, done: int, total: int) -> str:
        now = time.monotonic()
        if self.start is None:
            self.start = (now, done)  # files finished before (a resumed build) do not count
        t0, d0 = self.start
        rate = (done - d0) / (now - t0) if now > t0 and done > d0 else 0.0
        left = f", {format_duration((total - done) / rate)} left" if rate > 0 else ""
        return f"{done}/{total} files, {rate:.0f} files/s{left}"


def estimate_build(
    plan: _Plan, workers: int, todo: Sequence[int], free_bytes: int
) -> CacheEstimate:
    """Size and decoding time of a build, timed on a sample of the files still to decode."""
    files = [i for s in todo for i in plan.ranges[s]]
    per_image = plan.resolution * plan.resolution * 3 + 8  # pixels and a label
    shards = len(plan.ranges)
    header = 2 * 128 + 512  # two .npy headers and the shard's json, roughly
    bytes_total = len(plan.scan.files) * per_image + shards * header
    bytes_to_write = len(files) * per_image + len(todo) * header
    seconds = 0.0
    if files:
        picks = sorted(
            {files[int(k)] for k in np.linspace(0, len(files) - 1, ESTIMATE_SAMPLE_FILES)}
        )
        try:  # untimed: the first decode loads Pillow's plugins
            decode_image(plan.scan.files[picks[0]], plan.resolution)
        except ImageSkip:
            pass
        start = time.perf_counter()
        for i in picks:
            try:
                decode_image(plan.scan.files[i], plan.resolution)
            except ImageSkip:
                pass
        per_file = (time.perf_counter() - start) / len(picks)
        seconds = per_file * len(files) / max(1, workers)
    return CacheEstimate(
        folder=_display(plan.scan.root),
        cache=plan.out,
        files=len(plan.scan.files),
        files_to_decode=len(files),
        bytes_total=bytes_total,
        bytes_to_write=bytes_to_write,
        free_bytes=free_bytes,
        seconds=seconds,
        workers=workers,
    )


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_space(estimate: CacheEstimate) -> None:
    """Raise :class:`CacheSpaceError` when the disk cannot hold what is left to write."""
    needed = estimate.bytes_to_write + DISK_RESERVE_BYTES
    if needed > estimate.free_bytes:
        raise CacheSpaceError(
            f"{estimate.folder}: the decoded cache of {counted(estimate.files, 'image')} needs "
            f"{format_bytes(estimate.bytes_to_write)} more (and "
            f"{format_bytes(DISK_RESERVE_BYTES)} kept free) in {estimate.cache}, but only "
            f"{format_bytes(estimate.free_bytes)} is free there; free some space or put the "
            "cache on a larger disk (sagan-engine prepare --out CACHE, then train --data CACHE)"
        )
