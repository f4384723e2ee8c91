"""One builder per decoded cache, across the processes and machines that share its disk.

Two builds of one shard cache (the first process of each machine of a multi-node run on
shared storage, or a second ``prepare`` in another terminal) would each decode the whole
folder and replace each other's shard files under the processes already reading them; every
rank of a torchrun would decode a folder loaded into memory and write the same ``.npz``. So a
build first takes the cache's lock: a file beside the cache folder or ``.npz``, created with
``O_EXCL`` (atomic also on NFS v3 and later), naming its host and process, touched as the
build goes. Another build of the same cache waits while the lock is fresh and opens the
cache when the holder has finished it. A lock whose process is gone (on this machine), or
that nobody touched for :data:`STALE_S` seconds (another machine's), is taken over, and the
new holder keeps the finished shards. Never imports Qt or torch.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from .errors import DataError

STALE_S = 600.0  # no shard chunk takes this long to decode: its holder is gone
POLL_S = 1.0
TOUCH_EVERY_S = 10.0  # far inside STALE_S; a build's progress calls come up to 20 a second


def host_and_process() -> str:
    """``host.pid``, for names two machines sharing a disk must not both write."""
    host = re.sub(r"[^A-Za-z0-9_-]+", "_", socket.gethostname())[:40] or "host"
    return f"{host}.{os.getpid()}"


class BuildLock:
    """The lock of the cache ``target``, a folder or a file (``.<name>.building`` beside it).

    The file holds ``host pid token pid-namespace``: the token says whose lock it is (a lock
    taken over from a stalled holder is not released by it), host and namespace say whether
    ``pid`` can be asked about here (containers share host names, not process numbers)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.parent / f".{target.name}.building"
        self.token = uuid.uuid4().hex
        self.held = False
        self.waited = False  # another build held it when this one first asked
        self._touched = 0.0  # time.monotonic() of the last touch

    def try_acquire(self) -> bool:
        """Take the lock if it is free or its holder is gone; False while a build holds it."""
        for _ in range(2):  # a stale lock is moved away, then taken like a free one
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                stale = self._stale_content()
                if stale is None or not self._take_over(stale):
                    self.waited = True
                    return False
                continue
            except OSError:
                # No lock can be made beside the cache (a folder the user may write in, under
                # one they may not): build without it, as before there was one.
                return True
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{socket.gethostname()} {os.getpid()} {self.token} {_pid_space()}\n")
            self.held = True
            return True
        self.waited = True
        return False

    def _read(self, path: Path | None = None) -> list[str] | None:
        try:
            return (path or self.path).read_text(encoding="utf-8").split()
        except (OSError, ValueError):
            return None

    def _stale_content(self) -> list[str] | None:
        """The lock's content when its holder is gone: a process of this machine (same host
        and process namespace) that no longer runs, or nobody touched it for STALE_S."""
        try:
            age = time.time() - self.path.stat().st_mtime
        except OSError:
            return None  # gone (then free), or not ours to judge: wait
        fields = self._read()
        if fields is None:
            return None
        if age > STALE_S:
            return fields
        same_machine = len(fields) >= 4 and fields[0] == socket.gethostname()
        if same_machine and fields[3] == _pid_space() and sys.platform != "win32":
            if fields[1].isdigit() and not _running(int(fields[1])):
                return fields
        return None

    def _take_over(self, stale: list[str]) -> bool:
        """Move the stale lock aside (one rename wins when several take over at once) and
        check that what moved is the stale one, not a lock just taken by another."""
        aside = self.path.with_name(f"{self.path.name}.{self.token}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True  # someone moved or released it: try to take it
        except OSError as err:
            raise DataError(
                f"{self.path}: cannot take over this lock of a build that is gone "
                f"({err.strerror or err}); delete it if no build of {self.target} runs"
            ) from None
        if self._read(aside) == stale:
            aside.unlink(missing_ok=True)
            return True
        try:  # another build's fresh lock: put it back (unless a newer one is there)
            os.link(aside, self.path)
        except OSError:
            pass
        aside.unlink(missing_ok=True)
        return False

    def holder(self) -> str:
        """Who holds the lock, in words."""
        fields = self._read()
        if fields is None or len(fields) < 2:
            return "another process"
        return f"process {fields[1]} on {fields[0]}"

    def _ours(self) -> bool:
        fields = self._read()
        return self.held and fields is not None and fields[2:3] == [self.token]

    def touch(self) -> None:
        """Still building: keeps the lock from looking stale. At most every TOUCH_EVERY_S:
        each touch reads and stamps the file, over the network on shared storage."""
        now = time.monotonic()
        if now - self._touched < TOUCH_EVERY_S:
            return
        self._touched = now
        if self._ours():
            try:
                os.utime(self.path)
            except OSError:
                pass  # removed by hand: the build goes on

    def release(self) -> None:
        if self._ours():
            self.path.unlink(missing_ok=True)
        self.held = False


def _pid_space() -> str:
    """This process's PID namespace (containers of one host name have their own), or "-"."""
    try:
        return os.readlink("/proc/self/ns/pid").replace(" ", "_")
    except OSError:
        return "-"


def _running(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (not on Windows, where os.kill(pid, 0)
    is no question: it sends Ctrl-C)."""
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's (PermissionError)
        return True
    return True


def wait_for_lock(
    lock: BuildLock,
    finished: Callable[[], object | None],
    should_stop: Callable[[], bool] | None,
    note: Callable[[str], None] | None,
) -> object | None:
    """Take ``lock``, waiting while another build holds it. Returns None once it is ours and
    the cache still to build, or what ``finished()`` returns when it is not None (the other
    build finished the cache; the lock is then not held)."""
    from .data_scan import LoadStopped

    told = False
    while not lock.try_acquire():
        done = finished()
        if done is not None:
            return done
        if not told and note is not None:
            note(
                f"waiting for {lock.holder()} to finish building the decoded cache "
                f"{lock.target} (lock {lock.path}: taken over after {STALE_S / 60:.0f} "
                "minutes without progress; delete it if no build runs)"
            )
            told = True
        if should_stop is not None and should_stop():
            raise LoadStopped()
        time.sleep(POLL_S)
    try:
        done = finished()  # finished just before this one took the lock
    except BaseException:
        lock.release()
        raise
    if done is not None:
        lock.release()
    return done
