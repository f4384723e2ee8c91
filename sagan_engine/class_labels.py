"""Whether a dataset is class-conditional, and why: the ``data.classes`` setting.

``auto`` (the default) keeps the rule of :mod:`sagan_engine.data`: two or more immediate
sub-folders holding every image become classes, one per sub-folder. ``none`` makes any folder
unconditional, e.g. an icon theme whose sub-folders are icon *sizes*, not kinds of picture.
Either way the decision comes with a sentence saying why, for the data panel and the CLI.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import ConfigError

CLASS_MODES = ("auto", "none")
# Sub-folder names that are sizes ("16x16", "256", "512x512@2"), as in icon themes.
_SIZE_NAME = re.compile(r"^\d+(x\d+)?(@\d+x?)?$", re.IGNORECASE)


@dataclass(frozen=True)
class ClassDecision:
    """The class sub-folders (sorted; empty: unconditional) and the reason in words."""

    class_dirs: list[str]
    reason: str


def decide_classes(
    tops: Iterable[str | None], mode: str = "auto", display: Callable[[str], str] = str
) -> ClassDecision:
    """Decide from the immediate sub-folder of every image (None: directly in the folder)."""
    if mode not in CLASS_MODES:
        raise ConfigError(f"data.classes = {mode!r} is invalid: expected one of {CLASS_MODES}")
    counts = Counter(tops)
    loose = counts.pop(None, 0)
    dirs = sorted(counts)
    auto_conditional = len(dirs) >= 2 and not loose
    if mode == "none":
        would = (
            f" (auto would make {len(dirs)} classes of the sub-folders)" if auto_conditional else ""
        )
        return ClassDecision([], f"unconditional: class labels turned off{would}")
    if auto_conditional:
        reason = f"{len(dirs)} classes from sub-folders"
        if all(_SIZE_NAME.match(name) for name in dirs):
            reason += (
                " (their names look like image sizes: if they are not kinds of picture, "
                "turn class labels off)"
            )
        return ClassDecision(dirs, reason)
    if loose and dirs:
        noun = "image lies" if loose == 1 else "images lie"
        return ClassDecision(
            [], f"unconditional: {loose} {noun} directly in the folder, beside the sub-folders"
        )
    if len(dirs) == 1:
        return ClassDecision(
            [], f"unconditional: all images are in one sub-folder ({display(dirs[0])})"
        )
    return ClassDecision([], "unconditional: images lie directly in the folder")
