"""Files and folders the user asks us to write: checked before the work starts, written
atomically, and every file system failure turned into one :class:`OutputError` that names the
path and says why ("folder not found", "permission denied", "no space left on device"...).

Every command and view that writes a user-chosen file goes through here:

- :func:`check_output_file` / :func:`check_output_folder` before the (long) work starts, so a
  typo in ``--out`` is reported at once and not after an hour of sampling;
- :func:`write_output` to write the bytes (temporary file in the same folder, fsync, rename),
  so a failure leaves the old file or nothing, never half a file;
- :func:`output_errors` around any other writing code, to turn its ``OSError`` into the same
  one-line message.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .checkpoint import write_atomically
from .errors import OutputError
from .runs import RunFolder

# Kernel file systems that look like folders but hold no user files.
PSEUDO_FILE_SYSTEMS = frozenset(
    {
        "proc",
        "sysfs",
        "devpts",
        "cgroup",
        "cgroup2",
        "debugfs",
        "tracefs",
        "securityfs",
        "configfs",
        "pstore",
        "bpf",
        "efivarfs",
        "fusectl",
        "mqueue",
        "binfmt_misc",
    }
)

_REASONS = {
    errno.ENOENT: "folder not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name is in the way",
    errno.ENAMETOOLONG: "name too long",
    errno.EFBIG: "file too large for this file system",
    errno.EIO: "input/output error",
}


def os_reason(err: OSError) -> str:
    """A few words for a file system error, without the path (the caller names it)."""
    return _REASONS.get(err.errno or 0) or (err.strerror or str(err)).lower()


def filesystem_type(path: Path) -> str | None:
    """The type of the file system ``path`` lies on ("ext4", "proc"...), None if unknown."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, best_type = "", None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, types = left.split(), right.split()
        if len(fields) < 5 or not types:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, best_type = mount, types[0]
    return best_type


def check_output_file(path: str | os.PathLike, suffixes: Sequence[str] = ()) -> Path:
    """Raise :class:`OutputError` unless a file can be written at ``path``.

    Checks that the name ends in one of ``suffixes`` (lower case, with the dot; any when
    empty), that it is not a run's own record (its config, log, evaluations, a checkpoint:
    the engine writes those itself, and an export written over one loses the run), that the
    folder exists and is a folder on a real file system, that ``path`` is not a folder or a
    device, and that a file can be created in the folder (a probe file, removed at once).
    Does not check the free space: that is only known while writing.
    """
    path = Path(path).expanduser()
    if path.name in ("", ".", ".."):
        raise OutputError(f"{path}: is a folder, not a file name")
    try:
        target = path.stat()
    except FileNotFoundError:
        target = None
    except OSError as err:
        raise OutputError(f"{path}: cannot write here ({os_reason(err)})") from None
    if target is not None:
        if stat.S_ISDIR(target.st_mode):
            raise OutputError(f"{path}: is a folder, not a file; add a file name")
        if not stat.S_ISREG(target.st_mode):
            raise OutputError(f"{path}: not a regular file (a device, pipe or pseudo file)")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(
            f"{path}: the name must end in {' or '.join(suffixes)} (the format written)"
        )
    owner = RunFolder.owner_of(path)
    if owner is not None:
        raise OutputError(
            f"{path}: is a file of the run {owner.path}, which writing here would lose; "
            "choose another name"
        )
    _check_folder_writable(path.parent, f"{path}: cannot write here")
    return path


def check_output_folder(path: str | os.PathLike) -> Path:
    """Raise :class:`OutputError` unless ``path`` is, or can be made, a writable folder.

    Nothing is created: the nearest existing folder above ``path`` is checked instead.
    """
    path = Path(path).expanduser()
    existing = path
    while True:
        try:
            mode = existing.stat().st_mode
            break
        except FileNotFoundError:
            if existing.parent == existing:
                raise OutputError(f"{path}: cannot create the folder (folder not found)") from None
            existing = existing.parent
        except OSError as err:
            raise OutputError(f"{path}: cannot create the folder ({os_reason(err)})") from None
    if not stat.S_ISDIR(mode):
        what = "is a file" if existing == path else f"{existing} is a file, not a folder"
        raise OutputError(f"{path}: cannot use it as a folder ({what})")
    verb = "cannot write in the folder" if existing == path else "cannot create the folder"
    _check_folder_writable(existing, f"{path}: {verb}")
    return path


def _check_folder_writable(folder: Path, prefix: str) -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.exists():
        raise OutputError(f"{prefix} (folder {folder} not found)")
    if not folder.is_dir():
        raise OutputError(f"{prefix} ({folder} is a file, not a folder)")
    kind = filesystem_type(folder)
    if kind in PSEUDO_FILE_SYSTEMS:
        raise OutputError(f"{prefix} ({folder} is on the {kind} pseudo file system)")
    try:  # the only reliable test: root passes os.access, ACLs and read-only mounts do not
        with tempfile.TemporaryFile(dir=folder, prefix=".sagan-write-test-"):
            pass
    except OSError as err:
        raise OutputError(f"{prefix} ({os_reason(err)})") from None


@contextmanager
def output_errors(path: str | os.PathLike, what: str = "cannot write") -> Iterator[Path]:
    """Turn an ``OSError`` raised inside the block into ``OutputError("PATH: what (reason)")``."""
    path = Path(path)
    try:
        yield path
    except OSError as err:
        raise OutputError(f"{path}: {what} ({os_reason(err)})") from None


def write_output(path: str | os.PathLike, data: bytes) -> Path:
    """Check ``path``, then write ``data`` atomically: the old file or the new one, never half.

    Raises :class:`OutputError` naming the path and the reason.
    """
    path = check_output_file(path)
    with output_errors(path):
        write_atomically(path, data)
    return path
