"""Image folders as training data: loading a folder into memory, and the decode cache.

Scanning lives in :mod:`sagan_engine.data_scan`, decoding one file in
:mod:`sagan_engine.data_decode`, the on-disk cache of folders larger than memory in
:mod:`sagan_engine.data_cache`; their public names are importable from here.

A dataset is a folder of images, searched recursively. When the images lie in two or more
immediate sub-folders (``cats/``, ``dogs/``...) and none lies directly in the folder, the
sub-folder names become class labels for the class-conditional SAGAN; otherwise the set is
unconditional (every label 0, no class names). A class is an *immediate* sub-folder: images
nested deeper count for the class folder they are in.

Every image is decoded once to RGB uint8, centre-cropped to a square and resized with Lanczos
to the training resolution. A file that cannot be used does not stop the load: it is listed
in :attr:`ImageDataset.skipped` with a short reason, and only a folder where *nothing* is
usable raises :class:`DataError`. The decoded arrays are cached (``.npz``, read with
``allow_pickle=False``) so a second load of an unchanged folder is fast.

Stopping: ``should_stop()`` returning true makes :func:`scan_folder` and
:func:`load_image_folder` raise :class:`LoadStopped`, a :class:`DataError` whose message is
"loading stopped".

This module never imports Qt or torch.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

# Scanning and decoding live in their own modules; their public names are re-exported here,
# so ``from sagan_engine.data import scan_folder, decode_image`` keeps working.
from .data_cache_lock import BuildLock, wait_for_lock
from .data_decode import MIN_IMAGE_SIDE, ImageSkip, decode_image
from .data_scan import (
    IMAGE_EXTENSIONS,
    NOT_A_FILE,
    TRANSIENT_REASONS,
    FolderScan,
    LoadStopped,
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

__all__ = [
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
    "NOT_A_FILE",
    "FolderScan",
    "ImageDataset",
    "ImageSkip",
    "LoadStopped",
    "SkippedFile",
    "decode_image",
    "default_cache_dir",
    "demo_dataset_folder",
    "load_demo_dataset",
    "load_image_folder",
    "scan_folder",
]

log = logging.getLogger(__name__)

_DECODE_VERSION = 1
_STOP_POLL_S = 0.05


@dataclass
class ImageDataset:
    """Decoded training images: ``images`` is uint8 (N, H, W, 3) RGB with H == W."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: list[SkippedFile]
    source: str
    class_reason: str = ""  # what data.classes decided and why, in words
    # Which files it holds (FolderScan.fingerprint); "" when not from a folder or unknown.
    fingerprint: str = ""

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when the dataset is unconditional."""
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.images)


# --------------------------------------------------------------------------- loading


def default_cache_dir() -> Path:
    """Where decoded datasets are cached unless told otherwise."""
    return Path(platformdirs.user_cache_dir("sagan-studio")) / "datasets"


def load_image_folder(
    folder: str | os.PathLike,
    resolution: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    cache_dir: str | os.PathLike | None = "default",
    workers: int | None = None,
    classes: str = "auto",
    note: Callable[[str], None] | None = None,
) -> ImageDataset:
    """Scan ``folder``, decode every image at ``resolution`` and return the dataset.

    ``progress(done, total)`` is called at most about 20 times a second and last with
    ``(total, total)``. ``should_stop()`` returning true raises :class:`LoadStopped`.
    ``cache_dir`` is where the decoded arrays are cached ("default": the user cache folder,
    None: no cache); the cache is keyed on the folder, the resolution and every file's
    relative path, size and modification time, so any change rebuilds it. ``workers`` is
    the number of decoding threads (None: one per CPU core, at most 8; 1: no threads).
    ``classes`` is the ``data.classes`` setting ("auto" or "none"). While another process
    decodes the same folder into the cache, this one waits for it (``note`` hears for whom).

    Raises :class:`DataError` naming the folder when no image can be used.
    """
    if resolution < MIN_IMAGE_SIDE:
        raise ValueError(f"resolution must be at least {MIN_IMAGE_SIDE}, got {resolution}")
    shown = _display(folder)
    scan = scan_folder(folder, should_stop=should_stop, classes=classes)
    total = len(scan.files)
    lock: BuildLock | None = None

    def progress_of_the_holder(done: int, total: int) -> None:
        if lock is not None:
            lock.touch()  # still decoding: others keep waiting
        if progress is not None:
            progress(done, total)

    report = _ProgressReporter(progress_of_the_holder)
    report(0, total, force=True)

    cache = _DecodeCache.open(cache_dir, scan, resolution)
    cached = cache.read(total, resolution) if cache else None
    if cached is None and cache is not None:
        # Processes loading this folder at once (the ranks of a torchrun on one machine,
        # two windows): one decodes it, the others wait and read what it cached.
        lock = cache.lock()
        cached = wait_for_lock(lock, lambda: cache.read(total, resolution), should_stop, note)
        if cached is None and lock.waited:
            # The load before could not write the cache (a file it could not read, a full
            # disk): decoding in turn would make each process wait for all the others.
            lock.release()
    try:
        if cached is not None:
            images, ok, decode_skips = cached
        else:
            images, ok, decode_skips = _decode_and_cache(scan, resolution, workers, should_stop,
                                                         report, cache)  # fmt: skip
    finally:
        if lock is not None:
            lock.release()
    report(total, total, force=True)

    if not ok.any():
        scan_skips = [s for s in scan.skipped if _is_image_name(s.path)]
        raise DataError(
            _nothing_usable_message(shown, total + len(scan_skips), scan_skips + decode_skips)
        )
    return ImageDataset(
        images=images,
        labels=np.asarray(scan.labels, dtype=np.int64)[ok],
        class_names=list(scan.class_names),
        skipped=scan.skipped + decode_skips,
        source=_display(scan.root),
        class_reason=scan.class_reason,
        fingerprint=scan.fingerprint(ok),
    )


def _decode_and_cache(
    scan: FolderScan,
    resolution: int,
    workers: int | None,
    should_stop: Callable[[], bool] | None,
    report: _ProgressReporter,
    cache: _DecodeCache | None,
) -> tuple[np.ndarray, np.ndarray, list[SkippedFile]]:
    """Decode every file of ``scan``: (used images, used mask, skips), saved in ``cache``."""
    total = len(scan.files)
    images = np.empty((total, resolution, resolution, 3), dtype=np.uint8)
    reasons = _decode_all(scan.files, images, resolution, workers, should_stop, report)
    ok = np.array([r is None for r in reasons], dtype=bool)
    if not ok.all():
        images = images[ok]  # also drops the never-written slots of skipped files
    decode_skips = [
        SkippedFile(_display(f.relative_to(scan.root)), r)
        for f, r in zip(scan.files, reasons, strict=True)
        if r is not None
    ]
    if ok.any() and cache and not any(s.reason in TRANSIENT_REASONS for s in decode_skips):
        cache.write(images, ok, decode_skips)
    return images, ok, decode_skips


def _decode_all(
    files: Sequence[Path],
    out: np.ndarray,
    resolution: int,
    workers: int | None,
    should_stop: Callable[[], bool] | None,
    report: _ProgressReporter,
) -> list[str | None]:
    """Decode ``files`` into ``out``; returns per file None (used) or the skip reason."""
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    workers = max(1, workers)
    reasons: list[str | None] = [None] * len(files)
    halt = threading.Event()

    def decode_chunk(indices: range) -> int:
        for i in indices:
            if halt.is_set():
                break
            try:
                out[i] = decode_image(files[i], resolution)
            except ImageSkip as skip:
                reasons[i] = skip.reason
        return len(indices)

    chunk = max(1, min(32, len(files) // (workers * 4)))
    chunks = [range(i, min(i + chunk, len(files))) for i in range(0, len(files), chunk)]
    done = 0
    for n in _run_chunks(decode_chunk, chunks, workers, should_stop, halt):
        done += n
        report(done, len(files))
    return reasons


def _run_chunks(
    work: Callable[[range], int],
    chunks: list[range],
    workers: int,
    should_stop: Callable[[], bool] | None,
    halt: threading.Event,
) -> Iterator[int]:
    """Yield ``work(chunk)`` for every chunk, in threads when ``workers`` > 1.

    On a stop, ``halt`` is set before waiting for the running chunks, so they end early.
    """
    if workers == 1 or len(chunks) == 1:
        for c in chunks:
            _should_stop(should_stop)
            yield work(c)
        return
    with concurrent.futures.ThreadPoolExecutor(workers, "sagan-decode") as pool:
        pending = {pool.submit(work, c) for c in chunks}
        try:
            while pending:
                _should_stop(should_stop)
                finished, pending = concurrent.futures.wait(
                    pending,
                    timeout=_STOP_POLL_S,
                    return_when=concurrent.futures.FIRST_COMPLETED,
                )
                for future in finished:
                    yield future.result()
        finally:
            halt.set()
            for future in pending:
                future.cancel()


class _DecodeCache:
    """One ``.npz`` per (folder, resolution), valid for one exact list of files."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    @classmethod
    def open(
        cls, cache_dir: str | os.PathLike | None, scan: FolderScan, resolution: int
    ) -> _DecodeCache | None:
        if cache_dir is None:
            return None
        base = default_cache_dir() if cache_dir == "default" else Path(cache_dir).expanduser()
        root = os.fsencode(scan.root)
        where = hashlib.sha256(root + b"\0" + str(resolution).encode()).hexdigest()[:16]
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", _display(scan.root.name))[:40] or "folder"
        digest = hashlib.sha256(f"v{_DECODE_VERSION}|{resolution}|{scan.class_names!r}\n".encode())
        for file, label in zip(scan.files, scan.labels, strict=True):
            rel = os.fsencode(file.relative_to(scan.root))
            digest.update(rel + f"\0{file_stamp(file)}|{label}\n".encode())
        return cls(base / f"{stem}-{where}-{resolution}px.npz", digest.hexdigest())

    def lock(self) -> BuildLock:
        """The lock one process decoding this folder holds (beside the ``.npz``)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # then no lock, and no cache either: each process decodes, as before
        return BuildLock(self.path)

    def read(
        self, total: int, resolution: int
    ) -> tuple[np.ndarray, np.ndarray, list[SkippedFile]] | None:
        """The cached (used images, used mask, decode skips), or None if absent or stale."""
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                if str(npz["key"]) != self.key:
                    return None
                ok = npz["ok"]
                images = npz["images"]
                skip_paths, skip_reasons = npz["skip_paths"], npz["skip_reasons"]
        except FileNotFoundError:
            return None
        except Exception:  # corrupt or foreign file: rebuild it
            log.info("ignoring unreadable dataset cache %s", self.path, exc_info=True)
            return None
        if (
            ok.dtype != np.bool_ or ok.shape != (total,) or images.dtype != np.uint8
            or images.shape != (int(ok.sum()), resolution, resolution, 3)
            or len(skip_paths) != len(skip_reasons) or len(skip_paths) != total - ok.sum()
        ):  # fmt: skip
            return None
        skips = [SkippedFile(str(p), str(r)) for p, r in zip(skip_paths, skip_reasons, strict=True)]
        return images, ok, skips

    def write(self, images: np.ndarray, ok: np.ndarray, skips: list[SkippedFile]) -> None:
        """Save atomically; a cache that cannot be written is only a missed speed-up."""
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    key=np.array(self.key),
                    images=images,
                    ok=ok,
                    skip_paths=np.array([s.path for s in skips], dtype=str),
                    skip_reasons=np.array([s.reason for s in skips], dtype=str),
                )
            os.replace(tmp, self.path)
        except Exception:
            log.warning("could not write the dataset cache %s", self.path, exc_info=True)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass


# --------------------------------------------------------------------------- demo set


def demo_dataset_folder() -> Path:
    """The small dataset bundled with SAGAN Studio (one sub-folder per class)."""
    from sagan_studio_resources import resource_path

    return resource_path("demo")


def load_demo_dataset(resolution: int, **kwargs) -> ImageDataset:
    """The bundled demo dataset; keyword arguments as for :func:`load_image_folder`."""
    try:
        dataset = load_image_folder(demo_dataset_folder(), resolution, **kwargs)
    except LoadStopped:
        raise
    except DataError as err:
        raise DataError(f"the bundled demo dataset cannot be used: {err}") from None
    dataset.source = "demo"
    return dataset
