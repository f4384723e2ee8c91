"""Image folders as training data: scanning, decoding, class labels and the decode cache.

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
import errno
import hashlib
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
from PIL import Image, ImageOps, UnidentifiedImageError

from .class_labels import decide_classes
from .errors import DataError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
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

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp",
        ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".pcx",
    }
)  # fmt: skip

MIN_IMAGE_SIDE = 8
"""Images whose width or height is below this are skipped: too little to learn from."""

# Bump when decoding changes, so caches written by older code are rebuilt.
_DECODE_VERSION = 1
_PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress calls a second
_STOP_POLL_S = 0.05
_MAX_REASONS_IN_MESSAGE = 5
# Skips that may go away without the file changing; a load that met one is not cached.
_TRANSIENT_REASONS = frozenset({"permission denied", "file not found", "out of memory"})


NOT_A_FILE = "not a regular file (a named pipe, socket or device)"


class LoadStopped(DataError):
    """Scanning or loading was stopped through ``should_stop``."""

    def __init__(self) -> None:
        super().__init__("loading stopped")


class ImageSkip(Exception):
    """One file cannot be used as a training image; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SkippedFile:
    """A file (or folder) left out of the dataset, and why."""

    path: str  # relative to the scanned folder; always printable text
    reason: str

    def __str__(self) -> str:
        return f"{self.path} ({self.reason})"


@dataclass
class FolderScan:
    """What :func:`scan_folder` found: candidate image files and their class labels."""

    root: Path
    files: list[Path]
    labels: list[int]
    class_names: list[str]
    skipped: list[SkippedFile]
    seconds: float
    class_reason: str = ""  # what data.classes decided and why, in words

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when the folder is unconditional."""
        return len(self.class_names)


@dataclass
class ImageDataset:
    """Decoded training images: ``images`` is uint8 (N, H, W, 3) RGB with H == W."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: list[SkippedFile]
    source: str
    class_reason: str = ""  # what data.classes decided and why, in words

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when the dataset is unconditional."""
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.images)


def _display(path: str | os.PathLike) -> str:
    """Printable text for a path: undecodable bytes of the name become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _should_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise LoadStopped()


# --------------------------------------------------------------------------- scanning


def scan_folder(
    folder: str | os.PathLike,
    *,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    classes: str = "auto",
) -> FolderScan:
    """Find the image files under ``folder`` (recursively) and their class labels.

    Files are recognised by extension (:data:`IMAGE_EXTENSIONS`); other files are ignored, as
    are hidden files and folders (names starting with "."). Symbolic links to folders are
    followed, but a folder is never entered twice: a link back to a folder already being
    scanned is reported as a "symlink loop". Empty image files, unreadable sub-folders and
    broken links are reported in ``skipped`` and left out of ``files``. Class labels follow
    the rule in the module docstring: two or more immediate sub-folders holding all images,
    unless ``classes`` is "none" (see :mod:`sagan_engine.class_labels`).

    ``progress(images_found, folders_scanned)`` is called at most about 20 times a second
    while the walk goes on, and once at its end: a huge tree takes a while to list, and the
    total is not known until then.

    Raises :class:`DataError` naming the folder when it does not exist, is not a folder,
    cannot be read, or holds no usable image file.
    """
    start = time.perf_counter()
    shown = _display(folder)
    root = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    try:
        root_stat = root.stat()
    except FileNotFoundError:
        raise DataError(f"{shown}: folder not found") from None
    except OSError as err:
        raise DataError(f"{shown}: cannot open the folder ({_os_reason(err)})") from None
    if not stat.S_ISDIR(root_stat.st_mode):
        raise DataError(f"{shown}: not a folder")

    walk = _Walk(should_stop, progress)
    try:
        walk.run(os.fspath(root), (root_stat.st_dev, root_stat.st_ino))
    except _RootUnreadable as err:
        raise DataError(f"{shown}: cannot read the folder ({err.reason})") from None

    found = walk.found
    if not found and not walk.file_skips:
        looked_for = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise DataError(f"{shown}: no image files found (looked for {looked_for})")
    if not found:
        raise DataError(_nothing_usable_message(shown, len(walk.file_skips), walk.file_skips))

    decision = decide_classes((top for _, top in found), classes, _display)
    index = {name: i for i, name in enumerate(decision.class_dirs)}
    # Sorted as the Paths would sort (part by part), without the cost of comparing Paths.
    found.sort(key=lambda item: item[0].split(os.sep))
    return FolderScan(
        root=root,
        files=[root / rel for rel, _ in found],
        labels=[index.get(top, 0) for _, top in found],
        class_names=[_display(name) for name in decision.class_dirs],
        skipped=sorted(walk.skipped, key=lambda s: s.path),
        seconds=time.perf_counter() - start,
        class_reason=decision.reason,
    )


class _RootUnreadable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Walk:
    """Depth-first scandir walk collecting (relative path, top-level sub-folder) pairs."""

    def __init__(
        self,
        should_stop: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.should_stop = should_stop
        # Waits one interval before its first call: a small folder reports only its end.
        self.report_progress = _ProgressReporter(progress, wait_first=True)
        self.found: list[tuple[str, str | None]] = []
        self.skipped: list[SkippedFile] = []
        self.file_skips: list[SkippedFile] = []  # the image files among ``skipped``
        self.folders = 0
        self._seen = 0

    def _report(self, force: bool = False) -> None:
        self.report_progress(len(self.found), self.folders, force=force)

    def _skip(self, rel: str, reason: str, *, is_image: bool = False) -> None:
        skip = SkippedFile(_display(rel), reason)
        self.skipped.append(skip)
        if is_image:
            self.file_skips.append(skip)

    def run(self, root: str, root_id: tuple[int, int]) -> None:
        # Each stack entry: (absolute dir, relative dir, top-level sub-folder, ancestor ids).
        stack: list[tuple[str, str, str | None, frozenset[tuple[int, int]]]] = [
            (root, "", None, frozenset({root_id}))
        ]
        visited = {root_id}
        while stack:
            _should_stop(self.should_stop)
            self._report()
            path, rel_dir, top, ancestors = stack.pop()
            self.folders += 1
            try:
                with os.scandir(path) as it:
                    entries = list(it)
            except OSError as err:
                if not rel_dir:
                    raise _RootUnreadable(_os_reason(err)) from None
                self._skip(rel_dir, _os_reason(err))
                continue
            subdirs = []
            for entry in entries:
                self._seen += 1
                if self._seen % 4096 == 0:  # one folder may hold a million files
                    _should_stop(self.should_stop)
                    self._report()
                name = entry.name
                if name.startswith("."):
                    continue
                rel = os.path.join(rel_dir, name) if rel_dir else name
                is_image = os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
                try:
                    is_dir = entry.is_dir()
                    if not is_dir and is_image:
                        if not entry.is_file():
                            if entry.is_symlink():
                                self._skip(rel, "broken link", is_image=True)
                            else:  # never opened: reading a named pipe would wait forever
                                self._skip(rel, NOT_A_FILE, is_image=True)
                            continue
                        if entry.stat().st_size == 0:
                            self._skip(rel, "empty file", is_image=True)
                            continue
                except OSError as err:
                    if is_image or entry.is_symlink():
                        self._skip(rel, _os_reason(err), is_image=is_image)
                    continue
                if is_dir:
                    subdirs.append((entry, rel))
                elif is_image:
                    self.found.append((rel, top))
            # Claimed in name order, so which of two links to one folder wins is predictable.
            children = []
            for entry, rel in sorted(subdirs, key=lambda item: item[0].name):
                try:
                    st = entry.stat()
                except OSError as err:
                    self._skip(rel, _os_reason(err))
                    continue
                dir_id = (st.st_dev, st.st_ino)
                if dir_id in ancestors:
                    self._skip(rel, "symlink loop")
                    continue
                if dir_id in visited:
                    self._skip(rel, "same folder as one already scanned (linked twice)")
                    continue
                visited.add(dir_id)
                child_top = top if top is not None else entry.name
                children.append((entry.path, rel, child_top, ancestors | {dir_id}))
            stack.extend(reversed(children))  # popped in name order
        self._report(force=True)


def _os_reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, FileNotFoundError):
        return "file not found"
    if err.errno == errno.ELOOP:
        return "symlink loop"
    return err.strerror or str(err)


def _nothing_usable_message(shown: str, count: int, problems: Sequence[SkippedFile]) -> str:
    problems = sorted(problems, key=lambda s: s.path)
    first = ", ".join(str(s) for s in problems[:_MAX_REASONS_IN_MESSAGE])
    more = len(problems) - _MAX_REASONS_IN_MESSAGE
    if more > 0:
        first += f", and {more} more"
    noun = "image file" if count == 1 else "image files"
    return f"{shown}: none of the {count} {noun} could be used; first problems: {first}"


# --------------------------------------------------------------------------- decoding


def decode_image(path: Path, resolution: int) -> np.ndarray:
    """Decode one image file to a (resolution, resolution, 3) uint8 RGB array.

    Every mode Pillow opens becomes RGB: palette and grey images are expanded, transparency
    is composited on white, 16-bit and float images are scaled (not clipped) to 8 bits, CMYK
    is converted, the EXIF orientation is applied, and an animation gives its first frame.
    The largest centred square is then resized with Lanczos to ``resolution``.

    Raises :class:`ImageSkip` with a short reason for any file that cannot be used; no other
    exception escapes for a bad file.
    """
    try:
        return _decode(Path(path), resolution)
    except ImageSkip:
        raise
    except Image.DecompressionBombError as err:
        raise ImageSkip(_bomb_reason(str(err))) from None
    except UnidentifiedImageError:
        raise ImageSkip("not an image (cannot identify image file)") from None
    except MemoryError:
        raise ImageSkip("out of memory") from None
    except OSError as err:
        if err.errno is not None:  # from the file system, not from a decoder
            raise ImageSkip(_os_reason(err)) from None
        raise ImageSkip(_decoder_reason(err)) from None
    except (EOFError, SyntaxError) as err:
        raise ImageSkip(_decoder_reason(err)) from None
    except Exception as err:  # a broken file must never stop the whole load
        raise ImageSkip(f"cannot decode ({type(err).__name__}: {err})") from None


def _decoder_reason(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, EOFError) or "truncated" in text.lower():
        return "truncated image"
    return f"cannot decode ({text or type(err).__name__})"


def _bomb_reason(text: str) -> str:
    match = re.search(r"\((\d+) pixels\)", text)
    pixels = match.group(1) if match else "too many"
    return f"image too large (decompression bomb guard: {pixels} pixels)"


def _decode(path: Path, resolution: int) -> np.ndarray:
    if os.stat(path).st_size == 0:
        raise ImageSkip("empty file")
    with Image.open(path) as im:
        width, height = im.size
        limit = Image.MAX_IMAGE_PIXELS
        # Pillow only warns between 1x and 2x its limit; such images cost hundreds of MB per
        # decoding thread, so they are skipped like the ones Pillow refuses.
        if limit is not None and width * height > limit:
            raise ImageSkip(_bomb_reason(f"({width * height} pixels)"))
        if min(width, height) < MIN_IMAGE_SIDE:
            raise ImageSkip(
                f"too small ({width}x{height} pixels; "
                f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} needed)"
            )
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: much faster for big photos.
        im.draft("RGB", (resolution, resolution))
        im.load()  # decode now, so truncated data raises here (LOAD_TRUNCATED_IMAGES is off)
        try:
            ImageOps.exif_transpose(im, in_place=True)
        except Exception:  # a broken EXIF block must not cost a good image
            log.debug("ignoring unreadable EXIF orientation of %s", path, exc_info=True)
        im = _to_l_rgb_or_rgba(im)
        im = _centre_square(im, resolution)
        if im.mode == "RGBA":
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            white.alpha_composite(im)
            im = white
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _to_l_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to "L", "RGB" or "RGBA" (alpha not yet composited)."""
    mode = im.mode
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        return im.convert("RGBA") if mode != "RGBA" else im
    if "transparency" in im.info and mode in ("P", "L", "RGB"):
        return im.convert("RGBA")
    if mode in ("L", "RGB"):
        return im
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode), "L")
    try:
        return im.convert("RGB")  # P, 1, CMYK, YCbCr, RGBX, HSV...
    except ValueError:
        raise ImageSkip(f"unsupported colour mode {mode}") from None


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit, 32-bit and float grey levels onto 0..255 (rounded, never clipped)."""
    x = values.astype(np.float64)
    if mode.startswith("I;16"):
        x = x / 257.0  # 65535 -> 255 exactly
    else:
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if mode == "I" and lo >= 0 and hi <= 65535:
            x = x / 257.0  # 16-bit data held in a 32-bit image (PGM, some TIFF and PNG)
        elif mode == "F" and lo >= 0 and hi <= 1:
            x = x * 255.0
        elif hi > lo:
            x = (x - lo) * (255.0 / (hi - lo))
        else:
            x = np.zeros_like(x)
    x = np.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)
    return np.floor(x + 0.5).clip(0, 255).astype(np.uint8)


def _centre_square(im: Image.Image, resolution: int) -> Image.Image:
    width, height = im.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    if side == resolution:
        return im.crop(box)
    return im.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


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
) -> ImageDataset:
    """Scan ``folder``, decode every image at ``resolution`` and return the dataset.

    ``progress(done, total)`` is called at most about 20 times a second and last with
    ``(total, total)``. ``should_stop()`` returning true raises :class:`LoadStopped`.
    ``cache_dir`` is where the decoded arrays are cached ("default": the user cache folder,
    None: no cache); the cache is keyed on the folder, the resolution and every file's
    relative path, size and modification time, so any change rebuilds it. ``workers`` is
    the number of decoding threads (None: one per CPU core, at most 8; 1: no threads).
    ``classes`` is the ``data.classes`` setting ("auto" or "none").

    Raises :class:`DataError` naming the folder when no image can be used.
    """
    if resolution < MIN_IMAGE_SIDE:
        raise ValueError(f"resolution must be at least {MIN_IMAGE_SIDE}, got {resolution}")
    shown = _display(folder)
    scan = scan_folder(folder, should_stop=should_stop, classes=classes)
    total = len(scan.files)
    report = _ProgressReporter(progress)
    report(0, total, force=True)

    cache = _DecodeCache.open(cache_dir, scan, resolution)
    cached = cache.read(total, resolution) if cache else None
    if cached is not None:
        images, ok, decode_skips = cached
    else:
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
        if ok.any() and cache and not any(s.reason in _TRANSIENT_REASONS for s in decode_skips):
            cache.write(images, ok, decode_skips)
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
    )


def _is_image_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


class _ProgressReporter:
    """Passes its calls on to ``progress`` no more often than every 50 ms, or when forced."""

    def __init__(
        self, progress: Callable[[int, int], None] | None, *, wait_first: bool = False
    ) -> None:
        self.progress = progress
        self.last = time.monotonic() if wait_first else float("-inf")

    def __call__(self, first: int, second: int, *, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if force or now - self.last >= _PROGRESS_INTERVAL_S:
            self.last = now
            self.progress(first, second)


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
            try:
                st = os.stat(file)
                # ctime too: it changes on chmod, so a file once unreadable is retried.
                stamp = f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"
            except OSError:
                stamp = "?"
            rel = os.fsencode(file.relative_to(scan.root))
            digest.update(rel + f"\0{stamp}|{label}\n".encode())
        return cls(base / f"{stem}-{where}-{resolution}px.npz", digest.hexdigest())

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
