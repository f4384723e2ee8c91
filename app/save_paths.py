"""Where an export goes: the save dialog, then the file type's suffix when the name typed has
none, without replacing a file nobody agreed to replace.

The dialog asks before overwriting the name it returns; a suffix added afterwards names
another file ("samples" -> "samples.png"), which it never asked about, so that question is
asked here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


def filter_suffix(chosen_filter: str) -> str | None:
    """The suffix a filter names (".gif" for "Animated GIF (*.gif)"), None if it names none."""
    match = re.search(r"\*(\.[\w.]+)", chosen_filter)
    return match.group(1).lower() if match else None


def choose_save_path(
    parent: QWidget, title: str, start: str | Path, filters: str, suffixes: Sequence[str]
) -> Path | None:
    """The path to write, or None when the user cancels. ``suffixes`` are those the writer
    takes (lower case, with the dot); a name without one gets the chosen filter's, or the
    first of ``suffixes``."""
    path, chosen = QFileDialog.getSaveFileName(parent, title, str(start), filters)
    if not path:
        return None
    path = Path(path)
    if path.suffix.lower() in suffixes:
        return path
    suffix = filter_suffix(chosen)
    path = path.with_name(path.name + (suffix if suffix in suffixes else suffixes[0]))
    return path if not path.exists() or confirm_replace(parent, path) else None


def confirm_replace(parent: QWidget, path: Path) -> bool:
    answer = QMessageBox.question(
        parent,
        "Replace the file?",
        f"{path.name} already exists in {path.parent}.\nReplace it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
