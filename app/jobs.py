"""Short background jobs on a thread pool: scanning a folder, reading a run's metrics, writing
an export. The GUI thread starts a job and gets its result, failure or progress as a signal;
it never waits on one."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from sagan_engine.errors import SaganError


def user_message(err: BaseException) -> str:
    """One line a user can act on, for any exception a job or the training raised."""
    if isinstance(err, SaganError):
        return str(err)
    if isinstance(err, OSError):
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        return f"file system error{where}: {err.strerror or err}"
    if isinstance(err, MemoryError):
        return "out of memory"
    return f"{type(err).__name__}: {err}"


def error_details(err: BaseException) -> str:
    """The traceback, for a "details" box; empty for the engine's own, self-explaining errors."""
    if isinstance(err, SaganError):
        return ""
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


class JobCancelled(Exception):
    """Raised by :meth:`Job.stop_here` in a cancelled job."""


class Job(QObject):
    """One piece of background work: ``work(job)`` runs on a pool thread.

    ``work`` may call :meth:`report` for progress and should poll :meth:`should_stop`. Exactly
    one of ``succeeded`` / ``failed`` / ``cancelled`` is emitted, then ``finished``; all arrive
    on the GUI thread.
    """

    progress = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    cancelled = Signal()
    finished = Signal()

    _done = Signal(str, object)  # from the pool thread to this object (queued)
    _reported = Signal(int, int)  # likewise: ``progress`` is then emitted on the GUI thread

    def __init__(self, work: Callable[[Job], Any], name: str = "") -> None:
        super().__init__()
        self.name = name
        self._work = work
        self._stop = threading.Event()
        self._done.connect(self._deliver)
        self._reported.connect(self._relay_progress)

    def cancel(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def stop_here(self) -> None:
        """For work whose loop is someone else's (a progress callback): leave it by raising
        once the job is cancelled, which ends the job as ``cancelled``."""
        if self._stop.is_set():
            raise JobCancelled(self.name)

    def report(self, done: int, total: int) -> None:
        """Called by ``work`` on the pool thread; ``progress`` follows on the GUI thread."""
        self._reported.emit(int(done), int(total))

    @Slot(int, int)
    def _relay_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    def execute(self) -> None:
        """Runs on the pool thread."""
        try:
            result = self._work(self)
        except BaseException as err:  # noqa: BLE001 - every failure reaches the GUI
            if self._stop.is_set():
                self._done.emit("cancelled", None)
            else:
                self._done.emit("failed", (user_message(err), error_details(err)))
            return
        self._done.emit("cancelled" if self._stop.is_set() else "succeeded", result)

    @Slot(str, object)
    def _deliver(self, outcome: str, payload: object) -> None:
        if outcome == "succeeded":
            self.succeeded.emit(payload)
        elif outcome == "failed":
            message, details = payload  # type: ignore[misc]
            self.failed.emit(message, details)
        else:
            self.cancelled.emit()
        self.finished.emit()
        # The work's closure may hold large data (an export's images); a finished job that a
        # view still references must not keep it.
        self._work = None


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:
        self.job.execute()


class ShownContent:
    """What a view shows now, as a count of the times it was emptied. A background result
    for what it showed when it was asked for (a model's log, its evaluation) goes through
    :meth:`guard` and is dropped once the view has moved on to another model or run."""

    def __init__(self) -> None:
        self.version = 0

    def replaced(self) -> None:
        self.version += 1

    def guard(self, deliver: Callable[..., None]) -> Callable[..., None]:
        asked_for = self.version

        def deliver_if_current(*args) -> None:
            if self.version == asked_for:
                deliver(*args)

        return deliver_if_current


class JobRunner(QObject):
    """Starts jobs on its own small pool and keeps them alive until they finish."""

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._jobs: set[Job] = set()

    def start(self, work: Callable[[Job], Any], name: str = "") -> Job:
        job = Job(work, name)
        self._jobs.add(job)
        # A bound slot, not a lambda capturing the job: the job's own connection to such a
        # lambda would keep the job, and every closure it holds, alive for the window's life.
        job.finished.connect(self._forget_finished)
        self._pool.start(_Runnable(job))
        return job

    @Slot()
    def _forget_finished(self) -> None:
        self._jobs.discard(self.sender())

    def active(self, name: str | None = None) -> list[Job]:
        return [job for job in self._jobs if name is None or job.name == name]

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job and wait for the pool (only when the window closes)."""
        for job in list(self._jobs):
            job.cancel()
        return self._pool.waitForDone(timeout_ms)
