"""Which way a run's images take: all in memory, or the on-disk cache (``data.cache``).

"memory" is the fast path of small folders: every decoded image in one uint8 array, on the
training device when ``data.cache_on_device``, batches drawn by index with no pipeline at all.
"disk" builds (or opens) the memory-mapped shard cache of :mod:`sagan_engine.data_cache` and
the trainer reads it through a DataLoader (:mod:`sagan_engine.data_pipeline`): memory does not
grow with the folder. "auto" takes memory when the decoded images fit in
:func:`memory_limit_bytes`, the disk otherwise.

A ``data.folder`` that is itself a finished cache (``sagan-engine prepare --out CACHE``) is
opened directly, without the original images: the way to train on nodes that only hold the
cache. Never imports Qt or torch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .config import DataConfig
from .data import ImageDataset, load_demo_dataset, load_image_folder
from .data_cache import _read_manifest, cache_folder_for, is_cache_folder, open_cache
from .data_cache_build import build_cache
from .data_cache_cost import CacheEstimate
from .data_scan import scan_folder
from .plurals import counted

# Decoded bytes below which "auto" keeps everything in memory (docs/benchmarks.md, "Data
# pipeline"): up to here, loading takes seconds and costs at most a quarter of the RAM.
AUTO_MEMORY_BYTES = 2 << 30


def memory_limit_bytes() -> int:
    """The "auto" limit: :data:`AUTO_MEMORY_BYTES`, or a quarter of the RAM if that is less."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return AUTO_MEMORY_BYTES
    return min(AUTO_MEMORY_BYTES, ram // 4)


def load_training_data(
    data: DataConfig,
    resolution: int,
    *,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_estimate: Callable[[CacheEstimate], None] | None = None,
    note: Callable[[str], None] | None = None,
    builds: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> ImageDataset:
    """The dataset of a run's ``data`` settings at ``resolution``.

    ``builds`` false (every process of a machine but one, under torchrun) waits for another
    process to finish the disk cache instead of building it too. ``note`` hears which way was
    taken and why; the other arguments are those of
    :func:`sagan_engine.data_cache_build.build_cache`.
    """
    say = note or (lambda text: None)
    if data.folder is None:
        return load_demo_dataset(
            resolution, progress=progress, should_stop=should_stop, classes=data.classes
        )
    if is_cache_folder(data.folder):
        dataset = open_cache(data.folder)
        if dataset.images.shape[1] != resolution:
            from .errors import DataError

            raise DataError(
                f"{data.folder}: a decoded cache at {dataset.images.shape[1]}x"
                f"{dataset.images.shape[1]}, but the model trains at {resolution}x{resolution}"
            )
        if data.cache == "memory":
            say("reading the decoded cache into memory (data.cache = memory)")
            return _in_memory(dataset)
        say(f"training from the decoded cache {data.folder}")
        return dataset
    cache, scan = data.cache, None
    if cache == "auto":
        scan = scan_folder(data.folder, should_stop=should_stop, classes=data.classes)
        files = len(scan.files)
        need, limit = files * resolution * resolution * 3, memory_limit_bytes()
        cache = "memory" if need <= limit else "disk"
        say(
            f"data.cache auto: {counted(files, 'image')}, {need / 1e9:.2f} GB decoded, "
            f"{'within' if cache == 'memory' else 'over'} the {limit / 1e9:.2f} GB limit "
            f"for memory: {'memory' if cache == 'memory' else 'disk cache'}"
        )
    if cache == "memory":
        return load_image_folder(
            data.folder, resolution, progress=progress, should_stop=should_stop,
            classes=data.classes, note=note,
        )  # fmt: skip
    if not builds:
        return _wait_for_cache(data, resolution, should_stop, cache_dir)
    return build_cache(
        data.folder,
        resolution,
        cache_dir=cache_dir,
        classes=data.classes,
        progress=progress,
        should_stop=should_stop,
        on_estimate=on_estimate,
        scan=scan,
        note=note,
    )


def _in_memory(dataset: ImageDataset) -> ImageDataset:
    images, labels = dataset.images, dataset.labels
    dataset.images = images[0 : len(images)]
    dataset.labels = np.asarray(labels[0 : len(labels)], dtype=np.int64)
    return dataset


def _wait_for_cache(
    data: DataConfig,
    resolution: int,
    should_stop: Callable[[], bool] | None,
    cache_dir: str | os.PathLike | None,
) -> ImageDataset:
    """Wait until another process has finished the cache of this very folder, then open it.

    The cache is recognised by its key (the files it was made from), so a stale cache left
    from an older state of the folder is never taken for the new one."""
    from .data_cache_build import _plan

    scan = scan_folder(data.folder, should_stop=should_stop, classes=data.classes)
    target = cache_folder_for(scan.root, resolution, cache_dir)
    key = _plan(scan, resolution, target).key
    del scan
    while True:
        manifest = _read_manifest(Path(target))
        if manifest is not None and manifest.get("key") == key:
            return open_cache(target)
        if should_stop is not None and should_stop():
            from .data_scan import LoadStopped

            raise LoadStopped()
        time.sleep(1.0)
