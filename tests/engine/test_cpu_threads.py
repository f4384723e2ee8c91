"""A thread's own CPU thread count: set there, no OpenMP team of its own, others untouched."""

from __future__ import annotations

import ctypes
import os
import sys
import threading

import pytest
import torch

from sagan_engine.cpu_threads import set_threads_of_this_thread, uses_openmp

needs_openmp_and_linux = pytest.mark.skipif(
    not uses_openmp() or not sys.platform.startswith("linux"),
    reason="needs PyTorch's OpenMP backend and Linux (thread names)",
)


def _threads_named(name: bytes) -> int:
    count = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm", "rb") as comm:
                count += comm.read().strip() == name
        except OSError:  # the thread ended while we looked
            pass
    return count


def _run_on_a_new_thread(count: int | None, name: bytes) -> tuple[int, int]:
    """(threads this thread then reports, helper threads its parallel ops started).

    The thread names itself; Linux gives threads it starts the same name, so its OpenMP
    helpers are counted and threads other tests left running are not.
    """
    result = {}

    def work() -> None:
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
        if count is not None:
            set_threads_of_this_thread(count)
        x = torch.randn(16, 128, 128)
        (x @ x).sum()  # bmm, through MKL
        torch.nn.functional.conv2d(torch.randn(4, 8, 32, 32), torch.randn(8, 8, 3, 3)).sum()
        result["threads"] = torch.get_num_threads()
        result["helpers"] = _threads_named(name) - 1

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result["threads"], result["helpers"]


@needs_openmp_and_linux
def test_one_thread_here_starts_no_openmp_team_and_leaves_the_others_alone():
    own = torch.get_num_threads()
    # Two threads at least, also in a pytest process run on one (scripts/run_tests.py sets
    # OMP_NUM_THREADS=1 when it runs two processes on two cores).
    everyone = max(2, own)
    # As the bench and tests do: this also fixes MKL's process-wide count, after which MKL
    # sizes its own teams unless told otherwise per thread.
    torch.set_num_threads(everyone)
    try:
        # Without the setting, a new thread's first parallel ops start a team of helper
        # threads: this is what the check below would miss if the setting did nothing.
        assert _run_on_a_new_thread(None, b"omp-probe-a") == (everyone, everyone - 1)
        assert _run_on_a_new_thread(1, b"omp-probe-b") == (1, 0)
        assert torch.get_num_threads() == everyone  # this thread, and the process default
        assert _run_on_a_new_thread(None, b"omp-probe-c")[0] == everyone
    finally:
        torch.set_num_threads(own)


def test_a_count_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        set_threads_of_this_thread(0)
