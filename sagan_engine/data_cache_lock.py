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
import time
from collections.abc import Callable
from pathlib import Path

STALE_S = 600.0  # no shard chunk takes this long to decode: its holder is gone
POLL_S = 1.0


def host_and_process() -> str:
    """``host.pid``, for names two machines sharing a disk must not both write."""
    host = re.sub(r"[^A-Za-z0-9_-]+", "_", socket.gethostname())[:40] or "host"
    return f"{host}.{os.getpid()}"


class BuildLock:
    """The lock of the cache ``target``, a folder or a file (``.<name>.building`` beside it)."""

    def __init__(self, target: Path) -> None:
        self.path = target.parent / f".{target.name}.building"
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free or stale; False while another build holds it."""
        for _ in range(2):  # a stale lock is removed, then taken like a free one
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self.is_stale():
                    return False
                self.path.unlink(missing_ok=True)
                continue
            except OSError:
                # No lock can be made beside the cache (a folder the user may write in, under
                # one they may not): build without it, as before there was one.
                return True
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{socket.gethostname()} {os.getpid()}\n")
            self.held = True
            return True
        return False

    def is_stale(self) -> bool:
        """Its holder is gone: a process of this machine that no longer runs, or a lock
        nobody touched for :data:`STALE_S` seconds (another machine's, killed)."""
        try:
            age = time.time() - self.path.stat().st_mtime
            host, pid = self.path.read_text(encoding="utf-8").split()[:2]
        except FileNotFoundError:
            return False
        except (OSError, ValueError):  # half written, or not ours: judged by its age
            return age > STALE_S
        if host == socket.gethostname() and pid.isdigit() and not _running(int(pid)):
            return True
        return age > STALE_S

    def holder(self) -> str:
        """Who holds the lock, in words."""
        try:
            host, pid = self.path.read_text(encoding="utf-8").split()[:2]
        except (OSError, ValueError):
            return "another process"
        return f"process {pid} on {host}"

    def touch(self) -> None:
        """Still building: keeps the lock from looking stale."""
        if self.held:
            try:
                os.utime(self.path)
            except OSError:
                pass  # removed by hand: the build goes on

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's (PermissionError), or no such call here
        return True
    return True


def wait_for_lock(
    lock: BuildLock,
    finished: Callable[[], object | None],
    should_stop: Callable[[], bool] | None,
    note: Callable[[str], None] | None,
) -> object | None:
    """Take ``lock``, waiting while another build holds it. Returns None once it is ours, or
    what ``finished()`` returns when it is not None (the other build finished the cache)."""
    from .data_scan import LoadStopped

    told = False
    while not lock.try_acquire():
        done = finished()
        if done is not None:
            return done
        if not told and note is not None:
            note(f"waiting for {lock.holder()} to finish building this decoded cache")
            told = True
        if should_stop is not None and should_stop():
            raise LoadStopped()
        time.sleep(POLL_S)
    return None
