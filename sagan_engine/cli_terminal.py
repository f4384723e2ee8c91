"""A training run in a terminal: its progress line, and the signals that stop it.

A run stops after its current step and saves a checkpoint on the first Ctrl-C (SIGINT), on
SIGTERM (how cluster schedulers, time limits, ``docker stop`` and ``kill`` end a job; torchrun
passes it on to every worker) and on SIGHUP (the terminal or SSH session closed). A second
Ctrl-C aborts; a signal ignored when the run starts (SIGHUP under ``nohup``) stays ignored.
Progress written to a terminal that went away is dropped; the run goes on to its checkpoint.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .data_cache_cost import RateMeter, format_duration
from .events import CheckpointSaved, Event, Log, StepStats, TrainingFinished, TrainingStarted
from .stop_signals import STOP_SIGNALS

# A second Ctrl-C this long after the first aborts; sooner, it is the same keypress
# delivered twice (to the process and again through torchrun's agent).
ABORT_AFTER_S = 1.5


@contextmanager
def stop_on_signals(stop: Callable[[], None], note: Callable[[str], None]) -> Iterator[None]:
    """Inside the block, the stop signals (:data:`~sagan_engine.stop_signals.STOP_SIGNALS`)
    call ``stop()``: the run ends after its current step, with a checkpoint. SIGTERM and
    SIGHUP never abort (a scheduler sends them to every process, often twice, and follows
    with SIGKILL when it will wait no longer); a second Ctrl-C, from
    :data:`ABORT_AFTER_S` on, does. The handlers before are restored on leaving."""
    previous: dict[int, object] = {}
    first_interrupt: list[float] = []

    def on_signal(signum: int, _frame) -> None:
        stop()  # first: a note that cannot be written must not keep the run going
        if signum == signal.SIGINT:
            now = time.monotonic()
            if first_interrupt and now - first_interrupt[0] >= ABORT_AFTER_S:
                raise KeyboardInterrupt
            if first_interrupt:
                return
            first_interrupt.append(now)
        name = signal.Signals(signum).name
        again = " (Ctrl-C again to abort)" if signum == signal.SIGINT else ""
        note(f"{name}: stopping after the current step and saving{again}")

    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # e.g. SIGHUP under nohup: the user asked for the run to go on
        previous[signum] = signal.signal(signum, on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class ProgressLine:
    """A one-line progress bar on stderr plus a loss line every few seconds."""

    def __init__(self, enabled: bool, every_s: float = 10.0) -> None:
        self.enabled = enabled
        self.every_s = every_s
        self.total = 0
        self.last_line = 0.0
        self.tty = sys.stderr.isatty()
        self.rate: RateMeter | None = None

    def _write(self, text: str, end: str = "\n") -> None:
        try:
            print(text, end=end, file=sys.stderr, flush=True)
        except OSError:  # the terminal closed (SIGHUP): nobody to tell, the run goes on
            self.enabled = False

    def note(self, text: str) -> None:
        if self.enabled:
            self._clear()
            self._write(text)

    def loading(self, done: int, total: int) -> None:
        if self.enabled and self.tty:
            if self.rate is None:
                self.rate = RateMeter()
            line = self.rate.describe(done, total)  # files/s and time left
            self._write(f"\r\033[K  decoding {line}", end="")

    def _clear(self) -> None:
        if self.tty:
            self._write("\r\033[K", end="")

    def on_event(self, event: Event) -> None:
        if not self.enabled:
            return
        if isinstance(event, TrainingStarted):
            self.total = event.total_steps
            self.note(f"training on {event.device_name}; run folder {event.run_dir}")
        elif isinstance(event, StepStats):
            self._progress(event)
        elif isinstance(event, (CheckpointSaved, Log)):
            self.note(
                f"checkpoint {event.path}" if isinstance(event, CheckpointSaved) else event.message
            )
        elif isinstance(event, TrainingFinished):
            self._clear()

    def _progress(self, s: StepStats) -> None:
        width = 30
        filled = int(width * s.step / max(self.total, 1))
        text = (
            f"[{'#' * filled}{'.' * (width - filled)}] {s.step}/{self.total} "
            f"{s.images_per_s:.0f} img/s ETA {format_duration(s.eta_s)} "
            f"loss_D {s.loss_d:.3f} loss_G {s.loss_g:.3f}"
        )
        now = time.monotonic()
        if self.tty:
            self._write("\r\033[K" + text, end="")
        if now - self.last_line >= self.every_s or s.step >= self.total:
            self.last_line = now
            self._clear()
            self._write(
                f"step {s.step}: loss_D {s.loss_d:.4f} loss_G {s.loss_g:.4f} "
                f"D(x) {s.d_real:.3f} D(G(z)) {s.d_fake:.3f} {s.images_per_s:.1f} img/s"
            )
