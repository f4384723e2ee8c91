"""The on-disk decoded cache, reading side: folders larger than memory, decoded once, read
memory-mapped. Building it is :mod:`sagan_engine.data_cache_build` (whose public names are
still importable from here).

Format: a folder of shards, each ``shard_NNNNN.npy`` (uint8, (n, R, R, 3)) with its labels
``shard_NNNNN.labels.npy`` (int64) and a small ``shard_NNNNN.json`` (which files it covers, a
digest of their paths, sizes and times, the files skipped with their reasons), plus
``cache.json`` once every shard is there. Why raw uint8 ``.npy`` and not WebDataset tars:

- no decoding at training time: a batch is a memory-mapped slice copied into a pinned
  buffer, so the pipeline's cost is a memcpy, not a PNG/JPEG decode per image per epoch
  (docs/benchmarks.md, "Data pipeline");
- random access by index, which the sampler needs for a true per-epoch shuffle of the whole
  set and for an exact resume from any position, with any number of processes; tar shards
  are read sequentially and shuffled only within a buffer;
- nothing to add: NumPy reads it, and ``np.load(mmap_mode="r")`` pages images in from the
  OS page cache, shared by every process and worker of a machine, never as anonymous memory.

The price is size: 49 KB an image at 128x128 (ImageNet: 63 GB), several times a JPEG folder.
The build says so before it starts and refuses when the disk cannot hold it. This module
never imports Qt or torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import ImageDataset, default_cache_dir
from .data_scan import SkippedFile, _display
from .errors import DataError

FORMAT = "sagan-studio-decoded-cache"
FORMAT_VERSION = 1
MANIFEST = "cache.json"

# Names of the build side, importable from here as before the split (resolved on first use:
# data_cache_build imports this module, so a plain import here would be circular).
_BUILD_NAMES = frozenset(
    {
        "SHARD_BYTES", "DISK_RESERVE_BYTES", "ESTIMATE_SAMPLE_FILES", "CacheSpaceError",
        "CacheEstimate", "RateMeter", "format_bytes", "format_duration", "estimate_build",
        "check_space", "default_workers", "build_cache",
    }
)  # fmt: skip


def __getattr__(name: str):
    if name in _BUILD_NAMES:
        from . import data_cache_build, data_cache_cost

        return getattr(data_cache_build, name, None) or getattr(data_cache_cost, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DiskArray:
    """A read-only array over memory-mapped shards, indexed like one NumPy array.

    ``a[i]``, ``a[start:stop]`` and ``a[int_array]`` return NumPy arrays (copies); ``shape``,
    ``dtype``, ``ndim`` and ``len`` are those of the concatenation. Shards are opened in each
    process on first use, so the object pickles as paths (DataLoader workers may be spawned).
    """

    def __init__(self, paths: Sequence[Path], counts: Sequence[int], item_shape, dtype) -> None:
        self.paths = [Path(p) for p in paths]
        self.counts = np.asarray(counts, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.shape = (int(self.starts[-1]), *tuple(item_shape))
        self.dtype = np.dtype(dtype)
        self._maps: list[np.ndarray | None] = [None] * len(self.paths)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_maps"] = [None] * len(self.paths)
        return state

    def _shard(self, s: int) -> np.ndarray:
        mapped = self._maps[s]
        if mapped is None:
            try:
                mapped = np.load(self.paths[s], mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as err:  # e.g. cut short: "mmap length is greater..."
                raise DataError(
                    f"{self.paths[s]}: damaged cache shard ({err}); prepare the cache again"
                ) from None
            if mapped.shape != (int(self.counts[s]), *self.shape[1:]) or mapped.dtype != self.dtype:
                raise DataError(f"{self.paths[s]}: damaged cache shard (shape {mapped.shape})")
            self._maps[s] = mapped
        return mapped

    def __getitem__(self, index) -> np.ndarray:
        if isinstance(index, (int, np.integer)):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {index} out of range for {len(self)} items")
            s = int(np.searchsorted(self.starts, i, side="right")) - 1
            return np.array(self._shard(s)[i - self.starts[s]])
        if isinstance(index, slice):
            index = np.arange(*index.indices(len(self)))
        index = np.asarray(index, dtype=np.int64)
        if index.ndim != 1:
            raise IndexError("a DiskArray takes an int, a slice or a 1-D array of ints")
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} items")
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        shard_of = np.searchsorted(self.starts, index, side="right") - 1
        for s in np.unique(shard_of):
            mask = shard_of == s
            local = index[mask] - self.starts[s]
            order = np.argsort(local, kind="stable")  # read each shard front to back
            rows = np.flatnonzero(mask)[order]
            out[rows] = self._shard(int(s))[local[order]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # np.asarray(a): reads it all
        whole = self[0 : len(self)]
        return whole if dtype is None else whole.astype(dtype)


def is_cache_folder(path: str | os.PathLike) -> bool:
    """True when ``path`` is a finished decoded cache (it holds ``cache.json``)."""
    return (Path(path) / MANIFEST).is_file()


def open_cache(path: str | os.PathLike) -> ImageDataset:
    """The dataset of a finished cache folder: images and labels memory-mapped, not loaded."""
    folder = Path(path).expanduser()
    manifest = _read_manifest(folder)
    if manifest is None:
        raise DataError(f"{_display(folder)}: not a finished decoded cache (no valid {MANIFEST})")
    r = manifest["resolution"]
    names = [s["name"] for s in manifest["shards"]]
    counts = [s["count"] for s in manifest["shards"]]
    images = DiskArray([folder / f"{n}.npy" for n in names], counts, (r, r, 3), np.uint8)
    labels = DiskArray([folder / f"{n}.labels.npy" for n in names], counts, (), np.int64)
    skipped = [SkippedFile(p, reason) for p, reason in manifest["skipped"]]
    return ImageDataset(
        images=images,  # type: ignore[arg-type]  # an array-like, see DiskArray
        labels=labels,  # type: ignore[arg-type]
        class_names=list(manifest["class_names"]),
        skipped=skipped,
        source=manifest["source"],
        class_reason=manifest.get("class_reason", ""),
        fingerprint=manifest.get("fingerprint", ""),  # absent from caches of before 2026-11
    )


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
        return None
    return manifest


def cache_folder_for(
    folder: str | os.PathLike, resolution: int, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Where the cache of ``folder`` at ``resolution`` lives under ``cache_dir`` (default: the
    user cache folder): one sub-folder per (folder, resolution). Symbolic links are resolved:
    ``prepare --data link`` and ``train --data`` (which resolves) find the same cache."""
    root = Path(os.path.realpath(os.path.expanduser(os.fspath(folder))))
    base = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    where = hashlib.sha256(os.fsencode(root) + b"\0" + str(resolution).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", _display(root.name))[:40] or "folder"
    return base / f"{stem}-{where}-{resolution}px-shards"
