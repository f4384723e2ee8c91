"""A guard against a reference-counting bug of some PySide6 builds on Python < 3.12.

PySide6 6.12.0 on CPython 3.11 drops one reference to ``None`` on every call of a Qt method that
returns nothing (``widget.setToolTip(...)``, ``painter.drawImage(...)``...), and one to ``True``
on every ``Signal.emit``. On Python 3.12 and later ``None``, ``True`` and ``False`` are immortal
(PEP 683) and nothing happens; on 3.11 their counts drain while the window paints, and after
some minutes of training Python aborts with "Fatal Python error: none_dealloc: deallocating
None". Where the loss is measured, :func:`guard_singletons` gives the three singletons a count
so large that it cannot drain: what Python 3.12 does for them anyway. They are static objects,
never freed, so an over-count is harmless; where there is no loss it does nothing.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_HEADROOM = 1 << 40  # a million lost references a second would take 12 days to drain this
_PROBES = 64
_guarded = False


class _Probe(QObject):
    fired = Signal()


def _loses_references() -> bool:
    probe = _Probe()
    probe.fired.connect(lambda: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.setObjectName("probe")  # returns nothing
        probe.fired.emit()
    lost = none_before - sys.getrefcount(None) + true_before - sys.getrefcount(True)
    probe.fired.disconnect()
    return lost >= _PROBES


def guard_singletons() -> bool:
    """Make None, True and False immortal in effect when this PySide6 leaks them.

    Returns whether the guard is in place (once applied it stays; calling again is cheap).
    """
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _guarded
    if _loses_references():
        for singleton in (None, True, False):
            # ob_refcnt is the first field of every CPython object.
            ctypes.c_ssize_t.from_address(id(singleton)).value += _HEADROOM
        _guarded = True
    return _guarded
