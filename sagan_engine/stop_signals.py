"""The signals that stop a training run, and the child processes that leave them to it.

Ctrl-C (SIGINT), SIGTERM (schedulers' time limits, ``scancel``, ``docker stop``, ``kill``;
torchrun passes it on) and SIGHUP (the terminal or SSH session closed) reach every process of
the run's process group at once: a terminal, torchrun's agent (``killpg``) and Slurm signal
the whole group. The run's helpers (DataLoader workers, cache-decoding processes) must then
stay alive until the run has saved its checkpoint and shuts them down itself; died at once,
they would make the run fail on its next batch with nothing saved.
"""

from __future__ import annotations

import signal

# SIGHUP does not exist on Windows.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def leave_stop_signals_to_the_parent(*_args: object) -> None:
    """In a helper process (a DataLoader's ``worker_init_fn``, a pool's initializer): ignore
    the stop signals; the parent stops it when it is done."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
