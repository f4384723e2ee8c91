"""What a data folder holds, found off the GUI thread: files, classes, skipped files with their
reasons, and a few decoded thumbnails so the user can see the data before training. A
finished decoded cache (``sagan-engine prepare --out CACHE``) is data too: its manifest says
what it holds and its first images are the thumbnails."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sagan_engine.data import (
    ImageSkip,
    SkippedFile,
    decode_image,
    demo_dataset_folder,
    scan_folder,
)
from sagan_engine.data_cache import is_cache_folder, open_cache

THUMBNAIL_SIZE = 48
THUMBNAILS = 12


@dataclass(frozen=True)
class FolderSummary:
    folder: str  # the folder as the user gave it ("" for the demo set)
    is_demo: bool
    files: int  # candidate image files (each is decoded, and may still be skipped, at training)
    class_names: tuple[str, ...]
    class_counts: tuple[int, ...]
    skipped: tuple[SkippedFile, ...]
    thumbnails: np.ndarray  # uint8 (K, THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3)
    unusable: bool = False  # every file was tried for a thumbnail and none could be decoded
    class_reason: str = ""  # what data.classes decided and why
    cache_resolution: int = 0  # a decoded cache's image size; 0 for a folder of images


def summarise_folder(
    folder: str | None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    classes: str = "auto",
) -> FolderSummary:
    """Scan ``folder`` (None: the bundled demo set) and decode a few thumbnails; ``classes``
    is the data.classes setting ("auto" or "none").

    ``progress(images_found, folders_scanned)`` follows the scan (see ``scan_folder``).
    Raises DataError (with the engine's message) for a folder that cannot be used, and
    LoadStopped when ``should_stop()`` turns true.
    """
    root = demo_dataset_folder() if folder is None else Path(folder)
    if folder is not None and is_cache_folder(root):
        return _summarise_cache(folder)
    scan = scan_folder(root, should_stop=should_stop, progress=progress, classes=classes)
    counts = Counter(scan.labels)
    # One thumbnail per class first, then evenly spread over the rest.
    order: list[int] = []
    seen_labels: set[int] = set()
    for index, label in enumerate(scan.labels):
        if label not in seen_labels:
            seen_labels.add(label)
            order.append(index)
    step = max(1, len(scan.files) // THUMBNAILS)
    order += [i for i in range(0, len(scan.files), step) if i not in order]
    thumbnails, skipped, tried = [], list(scan.skipped), 0
    for index in order:
        if len(thumbnails) >= THUMBNAILS or (should_stop and should_stop()):
            break
        tried += 1
        try:
            thumbnails.append(decode_image(scan.files[index], THUMBNAIL_SIZE))
        except ImageSkip as skip:
            rel = scan.files[index].relative_to(scan.root)
            skipped.append(SkippedFile(str(rel), skip.reason))
    return FolderSummary(
        folder="" if folder is None else str(folder),
        is_demo=folder is None,
        files=len(scan.files),
        class_names=tuple(scan.class_names),
        class_counts=tuple(counts[i] for i in range(len(scan.class_names))),
        skipped=tuple(skipped),
        thumbnails=np.stack(thumbnails)
        if thumbnails
        else np.zeros((0, THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3), np.uint8),
        unusable=not thumbnails and tried == len(scan.files),
        class_reason=scan.class_reason,
    )


def _summarise_cache(folder: str) -> FolderSummary:
    """A decoded cache: counts from its labels, thumbnails from its first images."""
    dataset = open_cache(folder)
    labels = np.asarray(dataset.labels[0 : len(dataset)])
    counts = np.bincount(labels, minlength=len(dataset.class_names)) if len(labels) else []
    first = dataset.images[0 : min(THUMBNAILS, len(dataset))]
    thumbnails = [
        np.asarray(Image.fromarray(image).resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.BOX))
        for image in first
    ]
    return FolderSummary(
        folder=folder,
        is_demo=False,
        files=len(dataset),
        class_names=tuple(dataset.class_names),
        class_counts=tuple(int(c) for c in counts[: len(dataset.class_names)]),
        skipped=tuple(dataset.skipped),
        thumbnails=np.stack(thumbnails)
        if thumbnails
        else np.zeros((0, THUMBNAIL_SIZE, THUMBNAIL_SIZE, 3), np.uint8),
        class_reason=dataset.class_reason,
        cache_resolution=int(dataset.images.shape[1]),
    )
