"""Python's cyclic garbage collector, run on the GUI thread only.

CPython runs a collection on whichever thread happens to allocate when its counters pass the
thresholds: in SAGAN Studio that is as often the training thread, the inspector's, the
evaluator's or a job's as the GUI thread. A Qt object that Python owns and that sits in a
reference cycle is destroyed by that collection, on that thread: pyqtgraph's context menus
(``ViewBoxMenu``, a ``QMenu`` without a parent, in a cycle with its view box) whenever a plot
is dropped, a window's leftovers, a view's job runner. Qt forbids destroying a widget (or
any object of another thread) off its own thread; in the GUI tests, where windows come and
go while training and inspector threads run, it ended in segfaults in the collector and in a
deadlock of the GUI, training and inspector threads.

:func:`collect_on_gui_thread` switches automatic collection off and lets a timer on the GUI
thread do what CPython would have done: every ``INTERVAL_MS`` it collects the oldest
generation whose count passed its threshold, with CPython's own rule that a full collection
waits until a quarter of the long-lived objects are new (a full pass over the ~200,000 objects
of a window with PyTorch takes a tenth of a second or more). Other threads then never collect;
a cycle lives at most one interval longer. An explicit ``gc.collect()`` still runs where it is
called.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 100


class GuiThreadCollector(QObject):
    """The timer that collects garbage on the GUI thread (see the module's docstring)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = True
        self._long_lived = 0  # objects in the oldest generation after its last collection
        self._pending = 0  # objects moved into the oldest generation since
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        if self.active:
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._long_lived, self._pending = len(gc.get_objects(2)), 0
        self._timer.start()

    def stop(self) -> None:
        """Give collection back to CPython (automatic again, on any thread)."""
        if self.active:
            self._timer.stop()
            if self._was_enabled:
                gc.enable()

    def collect_due(self) -> int | None:
        """Collect the generation CPython would collect now; returns what it found (None
        when none is due)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if thresholds[0] == 0:  # collection switched off by gc.set_threshold(0)
            return None
        for generation in (2, 1, 0):
            if counts[generation] <= thresholds[generation]:
                continue
            if generation == 2:
                if self._pending < self._long_lived // 4:
                    continue  # CPython's rule: full passes stay rare as the heap grows
                found = gc.collect(2)
                self._long_lived, self._pending = len(gc.get_objects(2)), 0
                return found
            if generation == 1:
                young = len(gc.get_objects(0)) + len(gc.get_objects(1))
                found = gc.collect(1)
                self._pending += max(young - found, 0)  # the survivors grow old
                return found
            return gc.collect(0)
        return None


def collect_on_gui_thread() -> GuiThreadCollector:
    """From now on collect garbage on the GUI thread only (once per QApplication; call it on
    the GUI thread once the application exists). Returns the collector: ``stop()`` undoes it.
    """
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("create the QApplication before collect_on_gui_thread()")
    if QThread.currentThread() is not app.thread():
        raise RuntimeError("collect_on_gui_thread() must be called on the GUI thread")
    collector = app.findChild(GuiThreadCollector)
    if collector is None:
        collector = GuiThreadCollector(app)
    collector.start()
    return collector
