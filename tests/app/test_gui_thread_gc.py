"""Garbage collection on the GUI thread only: a Qt object in a reference cycle that becomes
garbage while another thread allocates dies on the GUI thread, not on that thread."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject

from app.gui_thread_gc import GuiThreadCollector, collect_on_gui_thread


class _Cyclic(QObject):
    """A Python-owned QObject in a cycle (as pyqtgraph's menus are), noting where it dies."""

    def __init__(self, died_on: list[str]) -> None:
        super().__init__()
        self.me = self  # the cycle: only the collector frees it
        self.died_on = died_on

    def __del__(self) -> None:
        self.died_on.append(threading.current_thread().name)


def _drop_a_cycle_then_allocate_on_a_worker(kept: list) -> list[str]:
    """Make a cyclic QObject garbage, then allocate on a worker thread as training does,
    far past gc's first threshold (into ``kept``, so the count stays up); returns the names
    of the threads the object died on so far."""
    died_on: list[str] = []
    gc.collect()  # counts at zero: no collection is due on this thread before the worker's
    _Cyclic(died_on)

    def allocate() -> None:
        kept.extend([index] for index in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=allocate, name="allocating-worker")
    worker.start()
    worker.join()
    return died_on


def test_cycles_die_on_the_gui_thread_while_a_worker_allocates(qtbot):
    collector = collect_on_gui_thread()
    try:
        assert not gc.isenabled() and collector.active
        died_on = _drop_a_cycle_then_allocate_on_a_worker(kept := [])
        assert died_on == []  # the worker's allocations collected nothing
        qtbot.waitUntil(lambda: died_on == ["MainThread"], timeout=5_000)
        kept.clear()

        # Without the collector, CPython collects on the allocating thread: what destroyed
        # pyqtgraph's menus (QWidgets) on the training and inspector threads.
        collector.stop()
        assert gc.isenabled()
        assert _drop_a_cycle_then_allocate_on_a_worker([]) == ["allocating-worker"]
    finally:
        collector.start()


def test_one_collector_per_application_and_full_collections_stay_rare(qtbot):
    from PySide6.QtCore import QCoreApplication

    collector = collect_on_gui_thread()
    assert collect_on_gui_thread() is collector
    assert QCoreApplication.instance().findChildren(GuiThreadCollector) == [collector]
    gc.collect()
    assert collector.collect_due() is None  # nothing allocated: nothing due
    full_before = gc.get_stats()[2]["collections"]
    found = 0
    for _ in range(300):  # cyclic garbage, past the first threshold each time
        for _ in range(gc.get_threshold()[0] + 1):
            cycle: list = []
            cycle.append(cycle)
        found += collector.collect_due() or 0
    assert found >= 300 * gc.get_threshold()[0]  # every cycle was collected
    # By counts alone, (700, 10, 10) would make 2 of these 300 collections full passes over
    # every object; nothing here grows old, so CPython's rule makes none.
    assert gc.get_stats()[2]["collections"] == full_before


def test_a_window_collects_on_the_gui_thread(make_window):
    from PySide6.QtCore import QCoreApplication

    collect_on_gui_thread().stop()  # as before the app's first window
    assert gc.isenabled()
    make_window()
    (collector,) = QCoreApplication.instance().findChildren(GuiThreadCollector)
    assert collector.active and not gc.isenabled()


# Menus in cycles (as pyqtgraph leaves them) dropped on the GUI thread while another thread
# allocates. With collection on any thread this segfaulted within 1 to 3 s in 5 runs of 5.
_DROPPED_MENUS = """
import sys, threading, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMenu
from app.gui_thread_gc import collect_on_gui_thread

app = QApplication([])
collect_on_gui_thread()
label = QLabel("menus dropped: 0")
label.show()
stop = False


def allocate():  # as a training thread does: many short-lived Python objects
    while not stop:
        [[i] for i in range(2000)]


class Menu(QMenu):
    def __init__(self):
        super().__init__()
        for index in range(5):
            self.addAction(f"action {index}").triggered.connect(self.close)
        self.me = self  # a reference cycle: only the collector frees it


worker = threading.Thread(target=allocate)
worker.start()
start, dropped = time.monotonic(), 0


def drop_menus():
    global dropped
    for _ in range(20):
        menu = Menu()
        menu.popup(label.pos())
        menu.hide()
        dropped += 1
    label.setText(f"menus dropped: {dropped}")
    if time.monotonic() - start > float(sys.argv[1]):
        app.quit()


timer = QTimer()
timer.timeout.connect(drop_menus)
timer.start(0)
app.exec()
stop = True
worker.join()
print("dropped", dropped)
"""


def test_menus_dropped_while_a_thread_allocates_never_crash(tmp_path):
    script = tmp_path / "dropped_menus.py"
    script.write_text(_DROPPED_MENUS)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script), "4"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 100
