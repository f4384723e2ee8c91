"""Data files shipped with SAGAN Studio (installed as the package ``sagan_studio_resources``).

The repository keeps them in ``resources/``; code finds them through :func:`resource_path`, which
works from a checkout, an installed wheel and a frozen bundle alike.
"""

from __future__ import annotations

from pathlib import Path

_ROOT = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Path of a bundled file, e.g. ``resource_path("icons", "sagan-studio.png")``."""
    return _ROOT.joinpath(*parts)
