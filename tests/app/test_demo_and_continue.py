"""The first minute: the bundled demo model opens by itself on the first start and answers a
click; and a stopped or opened run continues from its last checkpoint, exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.attention_stats_history import AttentionStatsHistory
from app.main_window import EXPLORE, TRAIN
from app.run_continuation import CannotContinue, plan_continuation
from app.window_inspection import FIRST_LOOK_CLASS, FIRST_LOOK_QUERY
from sagan_engine.demo_model import DEMO_MODEL_DIR, demo_first_look, demo_model_available
from sagan_engine.metrics.evaluation import load_evaluations
from tests.app.helpers import set_tiny_model, write_images
from tests.app.test_main_window import choose_folder, click, click_sample

TIMEOUT = 120_000

needs_demo_model = pytest.mark.skipif(
    not demo_model_available(), reason="resources/demo_model is not built in this checkout"
)


@needs_demo_model
def test_first_start_opens_the_demo_model_once_and_a_click_shows_attention(
    qtbot, make_window, settings
):
    window = make_window()
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        assert window.greet_first_start()
    # Before any click: the shipped model's chosen sample enlarged (a face), one pixel of
    # it queried, its map on screen.
    chosen = demo_first_look()
    assert chosen is not None and window.samples.seed == chosen.seed
    assert window.selected == chosen.sample
    names = window.model_info.class_names
    assert names[int(window.samples.labels[window.selected])] == FIRST_LOOK_CLASS
    assert window.attention_view.queries == [chosen.query]
    assert len(window.attention_view.heatmaps()) == 1
    assert window.mode == EXPLORE
    assert window.model_info.config.model.resolution == 32
    assert len(window.model_info.class_names) == 8
    assert window.windowTitle() == "exploring the demo model — SAGAN Studio"
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        click_sample(qtbot, window, 0, 12, 20)
    assert [name for _, name, _ in window.attention_view.heatmaps()] == ["G attention 16x16"]
    # The demo model has no run folder: nothing to continue.
    assert not window.continue_action.isEnabled()

    second = make_window()  # the next start: the user's own choice stands
    assert not second.greet_first_start() and second.mode == TRAIN


@needs_demo_model
def test_without_a_chosen_first_look_the_first_face_is_enlarged(
    qtbot, make_window, settings, monkeypatch
):
    monkeypatch.setattr("app.window_inspection.demo_first_look", lambda: None)
    window = make_window()
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        assert window.greet_first_start()
    labels, names = window.samples.labels, window.model_info.class_names
    first = next(i for i, label in enumerate(labels) if names[label] == FIRST_LOOK_CLASS)
    assert window.selected == first and window.attention_view.queries == [FIRST_LOOK_QUERY]


@needs_demo_model
def test_explore_menu_opens_the_demo_model(qtbot, window):
    assert window.demo_model_action.isEnabled()
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.demo_model_action.trigger()
    assert window.mode == EXPLORE and window.model_info.step > 0
    # Its quality, measured when it was exported, is in the Quality panel at once.
    (shipped,) = load_evaluations(DEMO_MODEL_DIR)
    qtbot.waitUntil(lambda: window.quality_view.best() is not None, timeout=TIMEOUT)
    assert window.quality_view.best() == (shipped.step, shipped.values["swd_avg"])
    assert f"SWD {shipped.values['swd_avg']:.2f}" in window.quality_view.best_label.text()
    # Its training log, shipped beside it, fills the curves up to the model's own step.
    qtbot.waitUntil(lambda: len(window.curves_view.history) > 0, timeout=TIMEOUT)
    steps = window.curves_view.history.column("step")
    step, log_every = window.model_info.step, window.model_info.config.train.log_every
    assert step - log_every < steps[-1] <= step and steps[0] < step / 10
    assert "G attention 16x16" in window.curves_view.history.gamma_names
    assert window.curves_view.empty_note.isHidden()


def metric_steps(run_dir: Path) -> list[int]:
    """Steps of the loss rows (attention statistics have rows of their own)."""
    with open(run_dir / "metrics.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle) if row["loss_d"]]


def test_stop_then_continue_training_picks_up_exactly(qtbot, window, tiny_folder, monkeypatch):
    choose_folder(qtbot, window, tiny_folder, monkeypatch)
    set_tiny_model(window, steps=4)
    assert not window.continue_action.isEnabled()  # nothing trained yet
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.train_action)
    assert ended.args[0].step == 4
    run_dir = Path(window.run_dir)
    assert window.continue_action.isEnabled()
    # The title says what the window shows now, the app's name once, at its end (Qt adds
    # it on X11 to a title that does not end with it).
    assert window.windowTitle() == f"{run_dir.name}, finished at step 4 — SAGAN Studio"

    # Steps not above the run's: one clear message, nothing starts.
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        click(qtbot, window, window.continue_action)
    assert "already at step 4" in shown.args[0] and not window.training.active
    window.error_box.close()

    window.model_panel.steps.setValue(7)
    starts = []
    window.training.started.connect(starts.append)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.continue_action)
    assert starts[0].start_step == 4 and starts[0].total_steps == 7
    assert ended.args[0].step == 7 and Path(ended.args[0].run_dir) == run_dir
    assert Path(window.run_dir) == run_dir  # the same run, not a new one
    assert metric_steps(run_dir) == list(range(1, 8))  # log_every = 1: one row a step
    qtbot.waitUntil(lambda: len(window.curves_view.history) == 7, timeout=TIMEOUT)
    assert list(window.curves_view.history.column("step")) == list(range(1, 8))
    # The attention statistics over training too: the first session's, then the new ones.
    logged = AttentionStatsHistory.from_csv(run_dir / "metrics.csv")
    layer = logged.layers[0]
    stats = window.attention_tools.stats_view
    qtbot.waitUntil(lambda: len(stats.history) == len(logged), timeout=TIMEOUT)
    assert list(stats.history.steps(layer)) == list(logged.steps(layer))
    assert logged.steps(layer)[0] < 4 < logged.steps(layer)[-1]


def test_continue_an_opened_run_whose_data_moved(qtbot, window, tiny_folder, tmp_path, monkeypatch):
    choose_folder(qtbot, window, tiny_folder, monkeypatch)
    set_tiny_model(window, steps=3)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        click(qtbot, window, window.train_action)
    run_dir = window.run_dir
    moved = tiny_folder.rename(tmp_path / "moved data")

    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.open_run(run_dir)
    assert window.mode == EXPLORE and window.continue_action.isEnabled()
    window.model_panel.steps.setValue(5)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(moved))
    monkeypatch.setattr(window, "show_error", lambda *a, **k: None)  # the "moved" notice
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        qtbot.mouseClick(
            window.toolbar.widgetForAction(window.continue_action), Qt.MouseButton.LeftButton
        )
    assert ended.args[0].step == 5 and ended.args[0].reason == "completed"
    assert metric_steps(Path(run_dir)) == list(range(1, 6))
    assert window.data_panel.folder == str(moved)  # the panel shows what the run trained on


def test_continue_after_a_failure_on_another_device(qtbot, window, tiny_folder, monkeypatch):
    """A run trained on a GPU that is not here, whose log holds steps trained after its last
    checkpoint and lost in a failure: Continue goes on with the Device box's choice, and the
    curves show each step once."""
    import json

    choose_folder(qtbot, window, tiny_folder, monkeypatch)
    set_tiny_model(window, steps=4)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        click(qtbot, window, window.train_action)
    run_dir = Path(window.run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    config["train"]["device"] = "cuda:0"
    (run_dir / "config.json").write_text(json.dumps(config))
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    last = next(row for row in reversed(rows) if row[0] == "4" and row[1])
    with open(run_dir / "metrics.csv", "a", newline="") as handle:  # steps 5, 6: lost
        csv.writer(handle).writerows([["5", *last[1:]], ["6", *last[1:]]])
    window.model_panel.steps.setValue(7)
    assert window.model_panel.device.currentData() == "cpu"
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.continue_action)
    assert ended.args[0] is not None and ended.args[0].step == 7
    qtbot.waitUntil(lambda: len(window.curves_view.history) == 7, timeout=TIMEOUT)
    assert list(window.curves_view.history.column("step")) == list(range(1, 8))


def test_a_continue_that_fails_before_its_first_step_says_so_and_stays_possible(
    qtbot, window, tiny_folder, tmp_path, monkeypatch
):
    import json

    choose_folder(qtbot, window, tiny_folder, monkeypatch)
    set_tiny_model(window, steps=3)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        click(qtbot, window, window.train_action)
    run_dir = Path(window.run_dir)
    empty = tmp_path / "emptied"
    empty.mkdir()  # its images were deleted: the run's data folder holds none
    config = json.loads((run_dir / "config.json").read_text())
    config["data"]["folder"] = str(empty)
    (run_dir / "config.json").write_text(json.dumps(config))
    window.model_panel.steps.setValue(6)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        click(qtbot, window, window.continue_action)
    assert ended.args[0] is None  # failed while loading
    assert window.state_label.text() == "Training failed"  # not "Ready"
    assert window.progress.format() == "failed before the first step"
    assert "failed before its first step" in window.sample_view.stack.hint.text()
    assert window.continue_action.isEnabled() and Path(window.run_dir) == run_dir
    assert window.windowTitle() == f"{run_dir.name}, failed — SAGAN Studio"


def test_a_typed_data_folder_is_kept_as_a_full_path(qtbot, window, tiny_folder, monkeypatch):
    """ "~/pics" trained, but Continue then found "~/pics" gone (nobody expanded the ~)."""
    monkeypatch.setenv("HOME", str(tiny_folder.parent))
    window.data_panel.set_folder(f"~/{tiny_folder.name}")
    set_tiny_model(window, steps=2)
    with qtbot.waitSignal(window.training.started, timeout=TIMEOUT) as started:
        window.start_training()
    import json

    config = json.loads((Path(started.args[0].run_dir) / "config.json").read_text())
    assert config["data"]["folder"] == str(tiny_folder.resolve())
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT):
        pass


def test_plan_names_what_stands_in_the_way(tmp_path):
    with pytest.raises(CannotContinue, match="no run folder with a checkpoint"):
        plan_continuation(tmp_path, 10, lambda old: None)
    empty = tmp_path / "run"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(CannotContinue, match="no run folder"):
        plan_continuation(empty, 10, lambda old: None)
    write_images(tmp_path / "x", 1)  # unrelated folder: still no checkpoint
    with pytest.raises(CannotContinue):
        plan_continuation(tmp_path / "x", 10, lambda old: None)


@needs_demo_model
def test_failures_while_exploring_say_what_failed_and_keep_the_model(
    qtbot, window, tmp_path, monkeypatch
):
    """Samples that cannot be drawn replace "Drawing samples…" with why; a model that cannot
    be opened leaves the one explored before, and the status line says it is still there."""
    import app.inspector_worker as inspector_module

    def out_of_memory(self, request):
        raise RuntimeError("not enough memory for 36 samples")

    monkeypatch.setattr(inspector_module._Renderer, "_draw", out_of_memory)
    with qtbot.waitSignal(window.inspector.failed, timeout=TIMEOUT):
        window.open_demo_model()
    qtbot.waitUntil(lambda: "not enough memory" in window.sample_view.stack.hint.text())
    assert window.mode == EXPLORE
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT):
        window.open_run(broken)
    assert window.state_label.text().startswith("Exploring the demo model")


def test_a_run_that_cannot_be_read_is_not_continuable(tmp_path, monkeypatch):
    """The window asks this at every update of its actions: an unreadable run folder must
    answer "no", not raise and leave Stop or Pause in a stale state."""
    from app.run_continuation import continuable_run
    from sagan_engine.runs import RunFolder

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "checkpoints" / "step_000005.safetensors").write_bytes(b"")
    assert continuable_run(run).path == run

    def unreadable(self):
        raise PermissionError(13, "Permission denied", str(self.checkpoints_dir))

    monkeypatch.setattr(RunFolder, "latest_checkpoint", unreadable)
    assert continuable_run(run) is None
