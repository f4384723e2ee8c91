"""Settings for the whole suite."""

from __future__ import annotations

import os

# Training settings left at "auto" take the built-in defaults instead of timing this machine
# (sagan_engine.machine_choices): fast, and the same on every machine. Set at import, so that
# the processes the tests start (bench workers, GUI-cost runs) inherit it.
os.environ["SAGAN_MACHINE_PROBE"] = "off"
