"""Finding the images of a folder: a recursive scan with class labels and a report of the
files left out (see :mod:`sagan_engine.data` for the rules). Never imports Qt or torch."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .class_labels import decide_classes
from .errors import DataError

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".webp",
        ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".pcx",
    }
)  # fmt: skip

_PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress calls a second
_MAX_REASONS_IN_MESSAGE = 5


NOT_A_FILE = "not a regular file (a named pipe, socket or device)"


class LoadStopped(DataError):
    """Scanning or loading was stopped through ``should_stop``."""

    def __init__(self) -> None:
        super().__init__("loading stopped")


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
    sizes: list[int] = field(default_factory=list)  # of ``files``, in bytes, as scanned

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 when the folder is unconditional."""
        return len(self.class_names)

    def relative_paths(self) -> list[str]:
        """Each file's path relative to the root, in this OS's separators. A string slice:
        Path.relative_to cost 5 µs a file (seconds for a million)."""
        start = len(os.path.join(os.fspath(self.root), ""))  # files lie under the root
        return [os.fspath(file)[start:] for file in self.files]

    def fingerprint(self, used: Sequence[bool] | None = None) -> str:
        """A digest of which images a dataset of this folder holds: every used file's path
        relative to the folder, its size and its class, in order (``used``: a flag per file,
        False for those left out when decoding).

        Two copies of a folder have the same fingerprint wherever they lie; a file added,
        removed, renamed, resized or moved to another class changes it. Not the pixels:
        reading every file again would cost as much as decoding it.
        """
        sizes = self.sizes or [-1] * len(self.files)
        lines = [f"{self.class_names!r}\n"]
        rows = zip(self.relative_paths(), self.labels, sizes, strict=True)
        for i, (rel, label, size) in enumerate(rows):
            if used is None or used[i]:
                lines.append(f"{rel}\0{size}|{label}\n")
        text = "".join(lines)
        if os.sep != "/":
            text = text.replace(os.sep, "/")  # the same on every OS
        return hashlib.sha256(os.fsencode(text)).hexdigest()[:16]


def _display(path: str | os.PathLike) -> str:
    """Printable text for a path: undecodable bytes of the name become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def _should_stop(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise LoadStopped()


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

    decision = decide_classes((top for _, top, _ in found), classes, _display)
    index = {name: i for i, name in enumerate(decision.class_dirs)}
    # Sorted as the Paths would sort (part by part), without the cost of comparing Paths.
    found.sort(key=lambda item: item[0].split(os.sep))
    return FolderScan(
        root=root,
        files=[root / rel for rel, _, _ in found],
        labels=[index.get(top, 0) for _, top, _ in found],
        class_names=[_display(name) for name in decision.class_dirs],
        skipped=sorted(walk.skipped, key=lambda s: s.path),
        seconds=time.perf_counter() - start,
        class_reason=decision.reason,
        sizes=[size for _, _, size in found],
    )


class _RootUnreadable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Walk:
    """Depth-first scandir walk collecting (relative path, top-level sub-folder, size)."""

    def __init__(
        self,
        should_stop: Callable[[], bool] | None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.should_stop = should_stop
        # Waits one interval before its first call: a small folder reports only its end.
        self.report_progress = _ProgressReporter(progress, wait_first=True)
        self.found: list[tuple[str, str | None, int]] = []
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
                        size = entry.stat().st_size
                        if size == 0:
                            self._skip(rel, "empty file", is_image=True)
                            continue
                except OSError as err:
                    if is_image or entry.is_symlink():
                        self._skip(rel, _os_reason(err), is_image=is_image)
                    continue
                if is_dir:
                    subdirs.append((entry, rel))
                elif is_image:
                    self.found.append((rel, top, size))
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


# Skip reasons that may go away without the file changing (from _os_reason and the decoder):
# a load or cache shard that met one is not cached, so the next load tries those files again.
TRANSIENT_REASONS = frozenset({"permission denied", "file not found", "out of memory"})


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


def _is_image_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def file_stamp(file: Path) -> str:
    """What a decode cache keys a file by: size, mtime and ctime ("?" when it cannot be
    stat'd). ctime too: it changes on chmod, so a file once unreadable is retried."""
    try:
        st = os.stat(file)
    except OSError:
        return "?"
    return f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}"


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
