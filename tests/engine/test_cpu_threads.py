"""A thread's own CPU thread count: set there, no OpenMP team of its own, others untouched."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from sagan_engine.cpu_threads import set_threads_of_this_thread, uses_openmp

needs_openmp_and_two_threads = pytest.mark.skipif(
    not uses_openmp() or torch.get_num_threads() < 2 or not os.path.isdir("/proc/self/task"),
    reason="needs PyTorch's OpenMP backend, two or more threads, and Linux /proc",
)


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _run_on_a_new_thread(count: int | None) -> tuple[int, int]:
    """(threads this thread then reports, OS threads added by its parallel ops)."""
    result = {}

    def work() -> None:
        if count is not None:
            set_threads_of_this_thread(count)
        before = _os_threads()
        x = torch.randn(16, 128, 128)
        (x @ x).sum()  # bmm, through MKL
        torch.nn.functional.conv2d(torch.randn(4, 8, 32, 32), torch.randn(8, 8, 3, 3)).sum()
        result["threads"] = torch.get_num_threads()
        result["added"] = _os_threads() - before

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return result["threads"], result["added"]


@needs_openmp_and_two_threads
def test_one_thread_here_starts_no_openmp_team_and_leaves_the_others_alone():
    everyone = torch.get_num_threads()
    # Without the setting, a new thread's first parallel ops start a team of helper threads:
    # this is what the check below would miss if the setting did nothing.
    assert _run_on_a_new_thread(None) == (everyone, everyone - 1)
    assert _run_on_a_new_thread(1) == (1, 0)
    assert torch.get_num_threads() == everyone  # this thread, and the process default
    assert _run_on_a_new_thread(None)[0] == everyone


def test_a_count_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        set_threads_of_this_thread(0)
