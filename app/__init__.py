"""SAGAN Studio: the PySide6 + pyqtgraph front end of :mod:`sagan_engine`.

The app talks to the engine only through its public API and its events; widgets set what to
show and read back plain results, and everything slow (training, decoding, PyTorch, disk)
runs off the GUI thread.
"""

from sagan_engine import __version__

__all__ = ["__version__"]
