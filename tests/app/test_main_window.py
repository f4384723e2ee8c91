"""The main window driven as a user drives it: choose data, train, click a sample, export,
stop, explore the run; and bad input that must leave the window usable."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

from app.export_dialog import GridExportDialog
from app.main_window import EXPLORE, MainWindow
from app.training_worker import IDLE
from sagan_engine.events import TrainingFailed
from tests.app.helpers import set_tiny_model

TIMEOUT = 30_000


def click(qtbot, window: MainWindow, action) -> None:
    """Press the toolbar button of ``action``."""
    button = window.toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled(), action.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def choose_folder(qtbot, window: MainWindow, folder: Path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args, **kw: str(folder))
    with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
        qtbot.mouseClick(window.data_panel.browse_button, Qt.MouseButton.LeftButton)
    return scanned.args[0]


def click_sample(qtbot, window: MainWindow, index: int, row: int, col: int) -> None:
    view = window.sample_view
    qtbot.mouseClick(
        view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport_pos(index, row, col)
    )


def heatmap_shapes(window: MainWindow) -> list[tuple[int, str, tuple[int, ...]]]:
    return [(q, name, heat.shape) for q, name, heat in window.attention_view.heatmaps()]


def test_train_inspect_export_stop_and_explore(qtbot, window, tiny_folder, tmp_path, monkeypatch):
    summary = choose_folder(qtbot, window, tiny_folder, monkeypatch)
    assert (summary.files, summary.class_names, summary.skipped) == (8, (), ())
    assert len(summary.thumbnails) == 8
    set_tiny_model(window, steps=100_000)

    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        click(qtbot, window, window.train_action)
    assert not window.train_action.isEnabled() and window.stop_action.isEnabled()

    # A click on a pixel of a sample: one heatmap per attention layer of G, on its key grid.
    answers = []  # (step of the maps, step of the grid shown when they arrived)
    window.inspector.attention_ready.connect(
        lambda reply: answers.append((reply.step, window.samples.step))
    )
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        click_sample(qtbot, window, 1, 5, 7)
    assert window.selected == 1
    # A newer grid may arrive before the maps do; it asks again: wait for the answer that
    # the grid now shown got.
    qtbot.waitUntil(
        lambda: bool(answers) and answers[-1][1] == window.samples.step, timeout=TIMEOUT
    )
    # The caption names the grid's step; the hint, the step the maps came from when training
    # moved on since.
    maps_step, grid_step = answers[-1]
    assert window.attention_view.caption.text() == f"Sample 2 · step {grid_step}"
    assert maps_step >= grid_step
    hint = window.attention_view.hint.text()
    assert (f"maps from step {maps_step} (the grid is from step {grid_step})" in hint) == (
        maps_step != grid_step
    )
    assert window.attention_view.queries == [(5, 7)]
    assert heatmap_shapes(window) == [
        (0, "G attention 8x8", (8, 8, 3)),
        (0, "G attention 16x16", (16, 16, 3)),
    ]

    # A second query point, placed on the enlarged sample: its own row of maps.
    view = window.attention_view
    with qtbot.waitSignal(view.heatmaps_shown, timeout=TIMEOUT, check_params_cb=lambda n: n == 4):
        qtbot.mouseClick(
            view.query_view.viewport(), Qt.MouseButton.LeftButton, pos=view.viewport_pos(20, 25)
        )
    assert view.queries == [(5, 7), (20, 25)]
    assert [shape for _, _, shape in heatmap_shapes(window)] == [(8, 8, 3), (16, 16, 3)] * 2

    # Export the grid: 4 samples in 2 columns, 3 px padding, twice the size.
    def choose_options(dialog: GridExportDialog) -> int:
        dialog.count.setValue(4)
        dialog.columns.setValue(2)
        dialog.padding.setValue(3)
        dialog.scale.setValue(2)
        # Replaced while the dialog is open (a new sample step): the grid chosen is written.
        window.samples = replace(window.samples, images=window.samples.images[:1])
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(GridExportDialog, "exec", choose_options)
    save_as = iter([tmp_path / "grid", tmp_path / "attention.png", tmp_path / "metrics.csv"])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(next(save_as)), ""))
    with qtbot.waitSignal(window.export_done, timeout=TIMEOUT) as done:
        click(qtbot, window, window.export_grid_action)
    assert done.args[0] == str(tmp_path / "grid.png")
    side = (2 * (32 + 3) + 3) * 2
    assert Image.open(done.args[0]).size == (side, side)

    with qtbot.waitSignal(window.export_done, timeout=TIMEOUT) as done:
        click(qtbot, window, window.export_attention_action)
    figure = Image.open(done.args[0])
    assert figure.format == "PNG" and figure.width > figure.height > 192

    qtbot.waitUntil(lambda: window.export_metrics_action.isEnabled(), timeout=TIMEOUT)
    with qtbot.waitSignal(window.export_done, timeout=TIMEOUT) as done:
        click(qtbot, window, window.export_metrics_action)
    with open(done.args[0], newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["step", "loss_d", "loss_g"] and len(rows) >= 2

    # A disk error while exporting: one clear message, training goes on.
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    save_as = iter([blocker / "grid.png"])
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        click(qtbot, window, window.export_grid_action)
    assert "a file" in shown.args[0] and window.training.active
    window.error_box.close()

    # Stop: a checkpoint is saved in the run folder, under the chosen runs folder.
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.stop_action)
    finished = ended.args[0]
    assert finished.reason == "stopped"
    checkpoint = Path(finished.checkpoint)
    assert checkpoint.is_file() and checkpoint.parent.parent == Path(window.run_dir)
    assert Path(window.run_dir).parent == tmp_path / "runs"
    assert window.training.state == IDLE and window.train_action.isEnabled()
    assert window.settings.last_run == window.run_dir

    # Open that run to explore it: no data set needed.
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: window.run_dir)
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        click(qtbot, window, window.open_run_action)
    assert window.mode == EXPLORE and window.explore_panel.isVisible()
    assert window.model_info.step == finished.step and window.model_info.is_ema
    assert len(window.samples.images) == window.explore_panel.count.value()
    first = window.samples.images.copy()
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        qtbot.mouseClick(window.explore_panel.new_seed_button, Qt.MouseButton.LeftButton)
    assert window.samples.seed == window.explore_panel.seed.value()
    assert not (window.samples.images == first).all()
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        click_sample(qtbot, window, 2, 16, 16)
    assert [name for _, name, _ in window.attention_view.heatmaps()] == [
        "G attention 8x8",
        "G attention 16x16",
    ]
    qtbot.waitUntil(lambda: len(window.curves_view.history) > 0, timeout=TIMEOUT)
    assert window.curves_view.history.column("step")[-1] == finished.step


def test_bad_folder_gives_a_message_and_the_window_still_works(
    qtbot, window, tmp_path, tiny_folder, monkeypatch
):
    bad = tmp_path / "not images"
    bad.mkdir()
    (bad / "notes.txt").write_text("hello")
    (bad / "broken.png").write_bytes(b"not a png at all")
    with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
        window.data_panel.set_folder(bad)
    assert scanned.args[0].unusable
    assert [skip.path for skip in scanned.args[0].skipped] == ["broken.png"]
    assert "broken.png" in window.data_panel.skipped_list.item(0).text()
    set_tiny_model(window, steps=2)
    # Train is off and says why (tests/app/test_unusable_folder.py); started all the same
    # (the folder emptied after its scan), the loader names the folder and the file.
    assert not window.train_action.isEnabled()
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        window.start_training()
    assert "not images" in shown.args[0] and "broken.png" in shown.args[0]
    assert window.error_box is not None and window.error_box.isVisible()
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=TIMEOUT)
    assert window.model_panel.isEnabled()
    window.error_box.close()

    # A folder that does not exist at all: the scan and the training both name it.
    with qtbot.waitSignal(window.data_panel.scan_failed, timeout=TIMEOUT) as failed:
        window.data_panel.set_folder(tmp_path / "nowhere")
    assert "nowhere" in failed.args[0] and "nowhere" in window.data_panel.summary_label.text()
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        click(qtbot, window, window.train_action)
    assert "nowhere" in shown.args[0] and "not found" in shown.args[0]
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=TIMEOUT)

    # Then a good folder trains.
    choose_folder(qtbot, window, tiny_folder, monkeypatch)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.train_action)
    assert ended.args[0].reason == "completed" and ended.args[0].step == 2
    assert window.samples is not None


def test_failing_training_shows_its_message(qtbot, window, tiny_folder, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("runs cannot go inside a file")
    window.set_runs_dir(blocker / "runs")
    window.data_panel.set_folder(tiny_folder)
    set_tiny_model(window, steps=2)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        click(qtbot, window, window.train_action)
    assert "a file" in shown.args[0]
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=TIMEOUT)
    assert window.train_action.isEnabled()
    assert window.error_box.detailedText()  # the traceback is one click away


def test_closing_while_training_asks_then_stops_and_saves(qtbot, window, tiny_folder, monkeypatch):
    window.data_panel.set_folder(tiny_folder)
    set_tiny_model(window, steps=100_000)
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.start_training()
    asked = []

    def answer(*args, **kwargs):
        asked.append(args)
        return QMessageBox.StandardButton.No if len(asked) == 1 else QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert not window.close()  # "No": keeps training
    assert window.isVisible() and window.training.active
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        window.close()
    assert len(asked) == 2
    assert ended.args[0].reason == "stopped" and Path(ended.args[0].checkpoint).is_file()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)


def test_closing_when_the_run_ends_during_the_question_closes_now(
    qtbot, window, tiny_folder, monkeypatch
):
    """The run ends while "Stop the training…?" is open: "Yes" closes at once, rather than
    waiting for a session that is over (and closing after the next run instead)."""
    window.data_panel.set_folder(tiny_folder)
    set_tiny_model(window, steps=100_000)
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.start_training()

    def answer(*args, **kwargs):
        with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
            window.training.stop()  # as if the last step came while the user read
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)


def test_a_failure_while_stopping_to_close_keeps_the_window_to_say_so(qtbot, window):
    window._close_when_idle = True  # the user chose to stop and close...
    window._on_failed(TrainingFailed(7, "No space left on device: checkpoint not saved"))
    window._on_session_ended(None)  # ...and the session ended by failing to save
    qtbot.wait(50)
    assert window.isVisible() and "No space left" in window.error_box.text()


def test_pause_resume_and_shortcuts(qtbot, window, tiny_folder):
    window.data_panel.set_folder(tiny_folder)
    set_tiny_model(window, steps=100_000)
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.train_action.trigger()
    assert window.train_action.shortcut().toString() == "Ctrl+T"
    assert window.pause_action.shortcut().toString() == "Space"
    assert window.stop_action.shortcut().toString() == "Ctrl+."
    with qtbot.waitSignal(window.training.state_changed, check_params_cb=lambda s: s == "paused"):
        click(qtbot, window, window.pause_action)
    assert window.pause_action.isChecked() and window.pause_action.text() == "Resume"
    with qtbot.waitSignal(window.training.state_changed, check_params_cb=lambda s: s == "running"):
        click(qtbot, window, window.pause_action)
    assert not window.pause_action.isChecked()
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        window.stop_action.trigger()


def test_conditional_model_explores_by_class(qtbot, window, classes_folder):
    window.data_panel.set_folder(classes_folder)
    with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
        pass
    assert scanned.args[0].class_names == ("circles", "squares")
    set_tiny_model(window, steps=2, g_attention=(16,))
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        window.start_training()
    assert list(window.samples.labels) == [0, 1, 0, 1]
    window.inspect(1, [(3, 3)])
    assert "squares" in window.attention_view.caption.text()
    assert window.explore_run_action.isEnabled()
    # Dropping a checkpoint file on the window opens it to explore.
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        drop(window, Path(window.last_checkpoint))
    assert window.mode == EXPLORE
    panel = window.explore_panel
    assert [panel.class_choice.itemText(i) for i in range(panel.class_choice.count())] == [
        "all classes, in turn",
        "circles",
        "squares",
    ]
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        panel.class_choice.setCurrentIndex(2)
    assert set(window.samples.labels) == {1}
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        click_sample(qtbot, window, 0, 3, 3)
    assert heatmap_shapes(window) == [(0, "G attention 16x16", (16, 16, 3))]
    assert "squares" in window.attention_view.caption.text()


def test_opening_a_bad_checkpoint_shows_a_message(qtbot, window, tmp_path):
    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04not really")
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        window.open_run(pickle)
    assert "pickle" in shown.args[0]
    empty = tmp_path / "empty run"
    empty.mkdir()
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        window.open_run(empty)
    assert "no checkpoints" in shown.args[0]
    assert window.mode != EXPLORE and window.train_action.isEnabled()


def drop(window: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPoint(10, 10).toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def test_dropping_a_folder_chooses_it(qtbot, window, tiny_folder):
    with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
        drop(window, tiny_folder)
    assert scanned.args[0].folder == str(tiny_folder)
    assert window.data_panel.folder == str(tiny_folder)


def test_dropping_a_folder_that_cannot_be_read_says_so(qtbot, window, tmp_path, monkeypatch):
    from sagan_engine.runs import RunFolder

    def unreadable(self):  # what a folder of another user's gives (the tests run as root)
        raise PermissionError(13, "Permission denied", str(self.config_path))

    monkeypatch.setattr(RunFolder, "is_run", unreadable)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        drop(window, tmp_path)
    assert shown.args[0] == f"{tmp_path}: permission denied"


def test_settings_are_remembered(qtbot, make_window, settings, tiny_folder):
    first = make_window()
    first.resize(first.minimumSizeHint().width(), 612)  # the offscreen screen is 800 x 800
    with qtbot.waitSignal(first.data_panel.summary_ready, timeout=TIMEOUT):
        first.data_panel.set_folder(tiny_folder)
    first.model_panel.set_preset("res32")
    set_tiny_model(first, steps=2)
    with qtbot.waitSignal(first.training.session_ended, timeout=TIMEOUT):
        first.start_training()
    run_dir = first.run_dir
    first.close()
    second = make_window()
    assert settings.geometry is not None and second.height() == 612
    assert second.data_panel.folder == str(tiny_folder)
    assert second.settings.last_run == run_dir
    assert second.model_panel.preset.currentData() == "res32"
    assert second.open_last_run_action.isEnabled()


@pytest.mark.parametrize("seconds, text", [(5, "5 s"), (125, "2 min 05 s"), (7260, "2 h 01 min")])
def test_time_left_reads_well(seconds, text):
    from app.main_window import format_duration

    assert format_duration(seconds) == text
