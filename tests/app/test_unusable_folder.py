"""A folder none of whose files can be decoded: Train says why instead of starting a run that
fails, and what the window showed before does not stay captioned as if it were still there."""

from __future__ import annotations

from tests.app.helpers import write_images
from tests.app.test_main_window import choose_folder

TIMEOUT = 60_000


def test_train_is_off_for_a_folder_of_undecodable_files_and_back_for_a_good_one(
    qtbot, window, tmp_path, monkeypatch
):
    bad = tmp_path / "notimg"
    bad.mkdir()
    (bad / "fake.png").write_bytes(b"not a png at all")
    summary = choose_folder(qtbot, window, bad, monkeypatch)
    assert summary.unusable
    assert not window.train_action.isEnabled()
    assert "can be decoded" in window.train_action.toolTip()

    # Scanned again (class labels toggled) and the scan given up: nothing says "none" now.
    window.data_panel.scan(str(bad))
    window.data_panel.cancel_scan()
    assert window.train_action.isEnabled()
    assert window.train_action.toolTip() == window.train_tip

    good = write_images(tmp_path / "good", 8, size=32)
    choose_folder(qtbot, window, good, monkeypatch)
    assert window.train_action.isEnabled()
    assert window.train_action.toolTip() == window.train_tip


def test_cleared_samples_lose_their_caption(qtbot, window):
    import numpy as np

    window.sample_view.set_samples(np.zeros((4, 32, 32, 3), np.uint8), "4 samples · step 22")
    window.sample_view.clear("Loading the images…")
    assert window.sample_view.caption.text() == "Samples"
