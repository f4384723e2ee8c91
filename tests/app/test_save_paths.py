"""Export paths: a name typed without its suffix gets one, and the file that suffix names is
not replaced unless the user says so (the save dialog only asked about the name typed)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.save_paths import choose_save_path, filter_suffix
from sagan_engine.animation import FRAME_SUFFIXES


@pytest.fixture
def dialog(monkeypatch, qtbot):
    """Answers the save dialog with (typed, chosen filter) and the question with ``answer``."""
    state = {"typed": "", "filter": "", "answer": QMessageBox.StandardButton.No, "asked": []}
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (state["typed"], state["filter"])
    )

    def question(parent, title, text, *args):
        state["asked"].append(text)
        return state["answer"]

    monkeypatch.setattr(QMessageBox, "question", question)
    parent = QWidget()
    qtbot.addWidget(parent)
    return parent, state


def test_a_suffix_added_to_an_existing_file_asks_before_replacing_it(dialog, tmp_path):
    parent, state = dialog
    kept = tmp_path / "samples.png"
    kept.write_bytes(b"the user's grid")
    state["typed"] = str(tmp_path / "samples")
    assert choose_save_path(parent, "Export", tmp_path, "PNG (*.png)", (".png",)) is None
    assert "samples.png already exists" in state["asked"][0]
    assert kept.read_bytes() == b"the user's grid"
    state["answer"] = QMessageBox.StandardButton.Yes
    assert choose_save_path(parent, "Export", tmp_path, "PNG (*.png)", (".png",)) == kept


def test_the_dialogs_own_answer_and_new_names_ask_nothing(dialog, tmp_path):
    parent, state = dialog
    (tmp_path / "grid.png").write_bytes(b"x")
    state["typed"] = str(tmp_path / "grid.png")  # the dialog asked about this very name
    assert choose_save_path(parent, "Export", tmp_path, "PNG (*.png)", (".png",)).name == "grid.png"
    state["typed"], state["filter"] = str(tmp_path / "path"), "Animated WebP (*.webp)"
    filters = "Animated GIF (*.gif);;Animated WebP (*.webp)"
    assert choose_save_path(parent, "E", tmp_path, filters, FRAME_SUFFIXES).name == "path.webp"
    state["typed"], state["filter"] = str(tmp_path / "path.v2"), ""
    assert choose_save_path(parent, "E", tmp_path, filters, FRAME_SUFFIXES).name == "path.v2.gif"
    assert state["asked"] == []


def test_filter_suffix():
    assert filter_suffix("PNG strip of frames (*.png)") == ".png"
    assert filter_suffix("All files") is None
