"""The disk cache's DataLoader forks its workers only from the main thread of a process with
no other thread; from anywhere else (the app trains in a QThread) it spawns them, as the cache
build does, so no child inherits a lock another thread held."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from sagan_engine.data_cache import DiskArray
from sagan_engine.data_pipeline import EpochSampler, make_loader


def start_method(workers: int) -> str | None:
    images = DiskArray([Path("shard.npy")], [4], (8, 8, 3), np.uint8)  # opened lazily: never
    labels = DiskArray([Path("shard.labels.npy")], [4], (), np.int64)
    loader = make_loader(images, labels, EpochSampler(4, 2, 0), workers=workers, pin_memory=False)
    context = loader.multiprocessing_context
    return None if context is None else context.get_start_method()


def in_a_thread(work):
    result = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    return result[0]


def test_workers_are_forked_from_a_lone_main_thread():
    if threading.active_count() > 1:  # an earlier test of this process left a thread running
        pytest.skip(f"{threading.active_count() - 1} other threads run in this process")
    assert start_method(2) is None  # the platform's default: fork on Linux


def test_workers_are_spawned_from_another_thread_or_beside_one():
    assert in_a_thread(lambda: start_method(2)) == "spawn"
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert start_method(1) == "spawn"
    finally:
        stop.set()
        other.join()


def test_no_workers_no_processes():
    assert in_a_thread(lambda: start_method(0)) is None
