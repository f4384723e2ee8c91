"""A folder of broken and odd files dropped on the window: the skipped files are listed with
their reasons, two training steps run on what is usable, and the GUI thread never stalls
(issue 15, item 5). Also the class-label check box of the data panel (item 6)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from sagan_engine.data import NOT_A_FILE
from tests.app.helpers import set_tiny_model, write_images
from tests.app.test_main_window import TIMEOUT, click, drop
from tests.engine.bad_images import CORPUS, write_corpus

# The longest the event loop may go without running a 20 ms timer (a busy 2-core machine
# delays it a little; reading a pipe or decoding on the GUI thread would stall it for good).
MAX_STALL_S = 1.5


class StallMeter:
    """Records the longest gap between the ticks of a 20 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self) -> StallMeter:
        self.last = time.perf_counter()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


def listed(window) -> list[str]:
    items = window.data_panel.skipped_list
    return [items.item(i).text() for i in range(items.count())]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_hostile_folder_dropped_on_the_window(qtbot, window, tmp_path: Path):
    folder = tmp_path / "hostile"
    write_corpus(folder)
    os.mkfifo(folder / "pipe.png")  # opening it for reading would wait for ever
    write_images(folder / "folder.png", 2, seed=5)  # a folder named like an image
    os.symlink(tmp_path / "gone.jpg", folder / "broken-link.jpg")
    set_tiny_model(window, steps=2)

    with StallMeter() as meter:
        with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
            drop(window, folder)
        summary = scanned.args[0]
        reasons = {skip.path: skip.reason for skip in summary.skipped}
        assert reasons["pipe.png"] == NOT_A_FILE
        assert reasons["broken-link.jpg"] == "broken link"
        assert reasons["dangling.png"] == "broken link"
        assert f"pipe.png — {NOT_A_FILE}" in listed(window)

        with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT * 4) as ended:
            click(qtbot, window, window.train_action)
    assert ended.args[0].reason == "completed" and ended.args[0].step == 2
    assert meter.longest < MAX_STALL_S, f"the GUI thread stalled {meter.longest:.2f} s"

    # After loading, every file left out is listed with the reason it was left out.
    texts = listed(window)
    for case in CORPUS:
        if case.reason is not None:
            assert any(text.startswith(f"{case.shown} — {case.reason}") for text in texts), (
                case.shown,
                texts,
            )
    assert f"pipe.png — {NOT_A_FILE}" in texts
    assert not any(text.startswith("folder.png") for text in texts)  # a folder, and used
    assert window.samples is not None and window.train_action.isEnabled()


def test_class_labels_can_be_turned_off(qtbot, window, classes_folder: Path):
    panel = window.data_panel
    with qtbot.waitSignal(panel.summary_ready, timeout=TIMEOUT) as scanned:
        panel.set_folder(classes_folder)
    assert scanned.args[0].class_names == ("circles", "squares")
    assert "2 classes from sub-folders" in panel.summary_label.text()
    with qtbot.waitSignal(panel.summary_ready, timeout=TIMEOUT) as scanned:
        panel.classes_check.setChecked(False)  # as a click on the check box
    assert scanned.args[0].class_names == () and panel.classes == "none"
    assert "class labels turned off" in panel.summary_label.text()

    set_tiny_model(window, steps=1)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT * 2) as ended:
        click(qtbot, window, window.train_action)
    config = json.loads((Path(ended.args[0].run_dir) / "config.json").read_text())
    assert config["data"]["classes"] == "none" and config["model"]["num_classes"] == 0
