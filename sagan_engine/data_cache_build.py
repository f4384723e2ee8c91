"""The on-disk decoded cache, building side: decoding a folder into the shards that
:mod:`sagan_engine.data_cache` reads (the format and why it is so are described there).

:func:`build_cache` first estimates what the build costs from a sample of the folder (size,
decoding time) and refuses a disk too small for it; then it decodes on every core (worker
processes), one bounded run of chunks at a time, writes each shard atomically as soon as it
is complete, and keeps finished shards: stopped or killed, a rerun decodes only what is
missing. A shard is valid for the exact files (paths, sizes, modification times) it was made
from, so a changed file rebuilds only its shard. This module never imports Qt or torch.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import ImageDataset
from .data_cache import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    _read_manifest,
    cache_folder_for,
    open_cache,
)
from .data_cache_cost import (
    CacheEstimate,
    check_space,
    estimate_build,
    free_bytes,
)
from .data_cache_lock import BuildLock, host_and_process, wait_for_lock
from .data_decode import MIN_IMAGE_SIDE, ImageSkip, decode_image
from .data_scan import (
    TRANSIENT_REASONS,
    FolderScan,
    SkippedFile,
    _display,
    _is_image_name,
    _nothing_usable_message,
    _ProgressReporter,
    _should_stop,
    file_stamp,
    scan_folder,
)
from .errors import DataError
from .stop_signals import leave_stop_signals_to_the_parent

# A shard holds about this many bytes of images: big enough that a folder of a million
# images is a few hundred files, small enough that the build holds little in memory.
SHARD_BYTES = 128 << 20
# Files handed to one decoding process at a time.
_CHUNK_FILES = 64
_FILES_PER_PROCESS = 1000


@dataclass
class _Plan:
    """The shards of one build: file ranges and their digests."""

    scan: FolderScan
    resolution: int
    out: Path
    ranges: list[range]
    digests: list[str]
    key: str

    def name(self, s: int) -> str:
        return f"shard_{s:05d}"

    def is_done(self, s: int) -> bool:
        try:
            meta = json.loads((self.out / f"{self.name(s)}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (
            meta.get("digest") == self.digests[s]
            and (self.out / f"{self.name(s)}.npy").is_file()
            and (self.out / f"{self.name(s)}.labels.npy").is_file()
        )


def _plan(scan: FolderScan, resolution: int, out: Path, shard_images: int | None = None) -> _Plan:
    per_shard = shard_images or max(1, SHARD_BYTES // (resolution * resolution * 3))
    n = len(scan.files)
    ranges = [range(i, min(i + per_shard, n)) for i in range(0, n, per_shard)]
    head = f"v{FORMAT_VERSION}|{resolution}|{scan.class_names!r}\n".encode()
    digests = []
    relative = scan.relative_paths()
    for r in ranges:
        digest = hashlib.sha256(head)
        for i in r:
            stamp = file_stamp(scan.files[i])
            digest.update(os.fsencode(relative[i]) + f"\0{stamp}|{scan.labels[i]}\n".encode())
        digests.append(digest.hexdigest())
    key = hashlib.sha256("".join(digests).encode() + head).hexdigest()
    return _Plan(scan, resolution, out, ranges, digests, key)


def default_workers() -> int:
    """Decoding processes: one per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)


def build_cache(
    folder: str | os.PathLike,
    resolution: int,
    *,
    out: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    classes: str = "auto",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_estimate: Callable[[CacheEstimate], None] | None = None,
    shard_images: int | None = None,
    scan: FolderScan | None = None,
    note: Callable[[str], None] | None = None,
) -> ImageDataset:
    """Decode ``folder`` at ``resolution`` into a shard cache and return it opened.

    ``out`` is the cache folder (default: :func:`cache_folder_for` under ``cache_dir``). An
    up-to-date cache is opened at once; otherwise the missing shards are built: first
    ``on_estimate`` hears the size and time from a sample of the folder, and a disk that
    cannot hold it raises :class:`CacheSpaceError` before anything is written. ``progress``
    is called as for :func:`sagan_engine.data.load_image_folder` (files done, files), counting
    the files of shards kept from an earlier, stopped build. ``workers`` decoding processes
    (default: one per core; 1: decode in this process). ``should_stop()`` returning true
    raises :class:`LoadStopped`; finished shards stay, and the next build resumes. ``scan``:
    the folder's :func:`scan_folder` when the caller has it already. While another process
    builds the same cache (:mod:`sagan_engine.data_cache_lock`), this one waits (``note``
    hears for whom) and opens what it built.
    """
    if resolution < MIN_IMAGE_SIDE:
        raise ValueError(f"resolution must be at least {MIN_IMAGE_SIDE}, got {resolution}")
    if scan is None:
        scan = scan_folder(folder, should_stop=should_stop, classes=classes)
    target = (
        Path(out).expanduser()
        if out is not None
        else cache_folder_for(scan.root, resolution, cache_dir)
    )
    plan = _plan(scan, resolution, target, shard_images)
    manifest = _read_manifest(target)
    if manifest is not None and manifest.get("key") == plan.key:
        return open_cache(target)
    if out is not None:  # a folder the user named; the default ones are ours to rebuild
        _check_user_cache_folder(target, manifest, plan)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # where the build lock goes
    except OSError as err:
        raise _unwritable(target, err) from None
    lock = BuildLock(target)
    finished = wait_for_lock(lock, lambda: _finished_cache(plan), should_stop, note)
    if finished is not None:  # another process (or machine) built it meanwhile
        return finished
    try:
        return _build(plan, workers, progress, should_stop, on_estimate, lock)
    finally:
        lock.release()


def _finished_cache(plan: _Plan) -> ImageDataset | None:
    manifest = _read_manifest(plan.out)
    return open_cache(plan.out) if manifest and manifest.get("key") == plan.key else None


def _unwritable(target: Path, err: OSError) -> DataError:
    return DataError(
        f"{_display(target)}: cannot write the decoded cache there ({err.strerror or err})"
    )


def _build(
    plan: _Plan,
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    should_stop: Callable[[], bool] | None,
    on_estimate: Callable[[CacheEstimate], None] | None,
    lock: BuildLock,
) -> ImageDataset:
    """Decode the shards not finished yet (holding ``lock``), then write the manifest."""
    target, total = plan.out, len(plan.scan.files)
    todo = [s for s in range(len(plan.ranges)) if not plan.is_done(s)]
    if workers is None:
        # Starting a process costs about as much as decoding a thousand small files.
        left = sum(len(plan.ranges[s]) for s in todo)
        workers = min(default_workers(), 1 + left // _FILES_PER_PROCESS)
    workers = max(1, workers)
    estimate = estimate_build(plan, workers, todo, free_bytes(target))
    if on_estimate is not None:
        on_estimate(estimate)
    check_space(estimate)
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / MANIFEST).unlink(missing_ok=True)  # stale: made from other files
    except OSError as err:
        raise _unwritable(target, err) from None
    _remove_foreign_shards(plan)
    report = _ProgressReporter(progress)
    done = total - estimate.files_to_decode
    report(done, total, force=True)
    for finished in _decode_shards(plan, todo, workers, should_stop):
        lock.touch()
        done += finished
        report(done, total)
    report(total, total, force=True)
    return _finish(plan)


def _check_user_cache_folder(target: Path, manifest: dict | None, plan: _Plan) -> None:
    """Raise :class:`DataError` rather than build over what ``target`` holds: the finished
    cache of other images (maybe the only copy: a cache trains without them), or files that
    are no cache's. The same folder's cache at the same resolution is brought up to date."""
    source = _display(plan.scan.root)
    if manifest is not None:
        if manifest.get("source") == source and manifest.get("resolution") == plan.resolution:
            return
        raise DataError(
            f"{_display(target)}: holds the decoded cache of {manifest.get('source')} at "
            f"{manifest.get('resolution')}x{manifest.get('resolution')}; building the one of "
            f"{source} at {plan.resolution}x{plan.resolution} there would replace it: choose "
            "another folder (or delete that one)"
        )
    if target.exists() and not target.is_dir():
        raise DataError(
            f"{_display(target)}: is a file; the decoded cache is a folder of shards: choose a "
            "new or empty folder"
        )
    if target.is_dir():
        # shard_*: an earlier, stopped build (resumed); dot files: its temporary files
        foreign = sorted(p.name for p in target.iterdir() if not p.name.startswith(("shard_", ".")))
        if foreign:
            named = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise DataError(
                f"{_display(target)}: holds files that are not a decoded cache ({named}): "
                "choose a new or empty folder"
            )


def _remove_foreign_shards(plan: _Plan) -> None:
    """Shards past the end of this plan (the folder shrank) would be read by nobody."""
    for path in plan.out.glob("shard_*"):
        match = re.fullmatch(r"shard_(\d+)\..*", path.name)
        if match and int(match.group(1)) >= len(plan.ranges):
            path.unlink(missing_ok=True)


def _decode_files(paths: list[str], resolution: int) -> tuple[np.ndarray, list[str | None]]:
    """One chunk, in a decoding process: the images (unused slots zero) and skip reasons."""
    images = np.zeros((len(paths), resolution, resolution, 3), dtype=np.uint8)
    reasons: list[str | None] = []
    for k, path in enumerate(paths):
        try:
            images[k] = decode_image(Path(path), resolution)
            reasons.append(None)
        except ImageSkip as skip:
            reasons.append(skip.reason)
    return images, reasons


class _ShardBuffer:
    def __init__(self, n: int, resolution: int) -> None:
        self.images = np.empty((n, resolution, resolution, 3), dtype=np.uint8)
        self.reasons: list[str | None] = [None] * n
        self.missing = n


def _decode_shards(
    plan: _Plan, todo: list[int], workers: int, should_stop: Callable[[], bool] | None
) -> Iterator[int]:
    """Decode the shards ``todo``, writing each when complete; yields files done per chunk.

    At most ``2 * workers`` chunks are in flight, so memory holds at most the shards those
    chunks fall in (about two), however large the folder.
    """
    chunks = [
        (s, range(start, min(start + _CHUNK_FILES, r.stop)))
        for s in todo
        for r in [plan.ranges[s]]
        for start in range(r.start, r.stop, _CHUNK_FILES)
    ]
    buffers: dict[int, _ShardBuffer] = {}

    def accept(s: int, rows: range, images: np.ndarray, reasons: list[str | None]) -> int:
        buf = buffers.get(s)
        if buf is None:
            buf = buffers[s] = _ShardBuffer(len(plan.ranges[s]), plan.resolution)
        offset = rows.start - plan.ranges[s].start
        buf.images[offset : offset + len(rows)] = images
        buf.reasons[offset : offset + len(rows)] = reasons
        buf.missing -= len(rows)
        if buf.missing == 0:
            _write_shard(plan, s, buffers.pop(s))
        return len(rows)

    paths = plan.scan.files
    if workers == 1:
        for s, rows in chunks:
            _should_stop(should_stop)
            yield accept(s, rows, *_decode_files([str(paths[i]) for i in rows], plan.resolution))
        return
    # Spawned, not forked: the caller may be a GUI or a trainer with threads running.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=leave_stop_signals_to_the_parent
    ) as pool:
        pending: dict[concurrent.futures.Future, tuple[int, range]] = {}
        queue = iter(chunks)
        try:
            while True:
                while len(pending) < 2 * workers:
                    item = next(queue, None)
                    if item is None:
                        break
                    s, rows = item
                    future = pool.submit(
                        _decode_files, [str(paths[i]) for i in rows], plan.resolution
                    )
                    pending[future] = item
                if not pending:
                    break
                _should_stop(should_stop)
                finished, _ = concurrent.futures.wait(
                    pending, timeout=0.05, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in finished:
                    s, rows = pending.pop(future)
                    yield accept(s, rows, *future.result())
        except concurrent.futures.process.BrokenProcessPool:
            raise DataError(
                "a decoding process ended abruptly (out of memory, or killed); a script that "
                "builds a cache must keep its top-level code under "
                '`if __name__ == "__main__":` (decoding processes are spawned), or pass workers=1'
            ) from None
        finally:
            for future in pending:
                future.cancel()


def _write_atomically(path: Path, write: Callable[[object], None]) -> None:
    # Host and process: two machines building on a shared disk can have the same pid.
    tmp = path.with_name(f".{path.name}.{host_and_process()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_shard(plan: _Plan, s: int, buf: _ShardBuffer) -> None:
    """Images, labels, then the json that marks the shard finished; each file atomically."""
    rows = plan.ranges[s]
    ok = np.array([r is None for r in buf.reasons], dtype=bool)
    labels = np.asarray(plan.scan.labels[rows.start : rows.stop], dtype=np.int64)[ok]
    skips = [
        [_display(plan.scan.files[rows.start + k].relative_to(plan.scan.root)), reason]
        for k, reason in enumerate(buf.reasons)
        if reason is not None
    ]
    name = plan.name(s)
    try:
        _write_atomically(plan.out / f"{name}.npy", lambda f: np.save(f, buf.images[ok]))
        _write_atomically(plan.out / f"{name}.labels.npy", lambda f: np.save(f, labels))
        transient = any(reason in TRANSIENT_REASONS for _, reason in skips)
        # A shard that met a skip that may go away (permission denied...) is redone next time.
        meta = {
            "digest": "" if transient else plan.digests[s],
            "count": int(ok.sum()),
            "skipped": skips,
        }
        data = json.dumps(meta).encode("utf-8")
        _write_atomically(plan.out / f"{name}.json", lambda f: f.write(data))
    except OSError as err:
        raise DataError(
            f"{_display(plan.out)}: cannot write cache shard {name} ({err.strerror or err})"
        ) from None


def _finish(plan: _Plan) -> ImageDataset:
    """Write ``cache.json`` from the finished shards and open the cache."""
    shards, skipped = [], [[s.path, s.reason] for s in plan.scan.skipped]
    for s in range(len(plan.ranges)):
        meta = json.loads((plan.out / f"{plan.name(s)}.json").read_text(encoding="utf-8"))
        shards.append({"name": plan.name(s), "count": meta["count"]})
        skipped.extend(meta["skipped"])
    shown = _display(plan.scan.root)
    if not any(s["count"] for s in shards):
        image_skips = [SkippedFile(p, r) for p, r in skipped if _is_image_name(p)]
        raise DataError(_nothing_usable_message(shown, len(image_skips), image_skips))
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "key": plan.key,
        "resolution": plan.resolution,
        "source": shown,
        "images": sum(s["count"] for s in shards),
        "class_names": list(plan.scan.class_names),
        "class_reason": plan.scan.class_reason,
        "fingerprint": _fingerprint(plan.scan, skipped),
        "shards": [s for s in shards if s["count"]],
        "skipped": sorted(skipped),
    }
    data = (json.dumps(manifest, indent=1) + "\n").encode("utf-8")
    _write_atomically(plan.out / MANIFEST, lambda f: f.write(data))
    return open_cache(plan.out)


def _fingerprint(scan: FolderScan, skipped: list[list[str]]) -> str:
    """The scan's fingerprint over the files the shards hold (not those a decode skipped)."""
    left_out = {path for path, _ in skipped}
    if not left_out:
        return scan.fingerprint()
    return scan.fingerprint([_display(rel) not in left_out for rel in scan.relative_paths()])
