"""The window's Train and Continue training take the images the way the CLI does
(sagan_engine.training_data): a folder forced to the disk cache is decoded into it with
progress in the window, trains from it, can be stopped while decoding, and a disk too small
for the cache is refused with a message naming the folder and the bytes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import app.training_worker as training_worker
from app.training_worker import IDLE
from sagan_engine.data_pipeline import DiskFeed
from tests.app.helpers import set_tiny_model, write_images

TIMEOUT = 60_000


def record(window) -> tuple[list[str], list[str]]:
    """The texts of the progress bar while loading, and the log lines, as they arrive."""
    progress: list[str] = []
    logs: list[str] = []
    window.training.load_progress.connect(lambda p: progress.append(p.text))
    window.training.log.connect(lambda event: logs.append(event.message))
    return progress, logs


def train(qtbot, window, folder: Path, cache_mode: str, steps: int):
    """Train ``steps`` steps on ``folder`` with data.cache ``cache_mode`` chosen in the Data
    panel; returns the TrainingFinished, the progress texts and the log lines."""
    window.data_panel.set_folder(folder)
    window.data_panel.set_cache_mode(cache_mode)
    set_tiny_model(window, steps=steps)
    progress, logs = record(window)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        assert window.start_training()
    return ended.args[0], progress, logs


def test_a_folder_forced_to_the_disk_cache_trains_and_continues_from_it(
    qtbot, make_window, tiny_folder, private_user_dirs
):
    window = make_window()
    finished, progress, logs = train(qtbot, window, tiny_folder, "disk", steps=2)
    assert finished.reason == "completed" and finished.step == 2
    assert any(text.startswith("decoding into the disk cache: 8/8 files") for text in progress)
    assert any(line.startswith("building the disk cache: 8 images") for line in logs)
    trained_from = [line for line in logs if line.startswith("training from the disk cache")]
    assert len(trained_from) == 1, logs
    cache = Path(trained_from[0].split("training from the disk cache ")[1].split(" (")[0])
    assert cache.is_relative_to(private_user_dirs / "cache") and (cache / "cache.json").is_file()
    assert "from the disk cache" in window.data_panel.summary_label.text()
    assert isinstance(window.training._last_trainer.feed, DiskFeed)

    # Continue training: the run's own data.cache (disk), whatever the panel shows now; the
    # cache is up to date, so nothing is decoded again.
    window.data_panel.set_cache_mode("memory")
    progress.clear()
    logs.clear()
    window.model_panel.steps.setValue(4)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        assert window.continue_training()
    assert ended.args[0].reason == "completed" and ended.args[0].step == 4
    assert window.data_panel.cache_mode == "disk"
    assert not any(text.startswith("decoding") for text in progress)
    assert f"training from the disk cache {cache} (8 images)" in logs
    assert make_window().data_panel.cache_mode == "disk"  # remembered from the last Train


def test_memory_mode_loads_into_memory_as_before(qtbot, window, tiny_folder):
    finished, progress, logs = train(qtbot, window, tiny_folder, "memory", steps=1)
    assert finished.step == 1
    assert "loading images 8 / 8" in progress
    assert not any("disk cache" in line for line in logs + progress)
    assert window.training._last_trainer.feed is None


def test_stopping_while_decoding_keeps_the_window_usable_and_train_continues_it(
    qtbot, window, tmp_path, monkeypatch
):
    folder = write_images(tmp_path / "many", 200)
    real = training_worker.load_training_data

    def slow_disk(*args, progress, **kwargs):  # each chunk of decoded files takes 0.2 s
        def slowly(done: int, total: int) -> None:
            time.sleep(0.2)
            progress(done, total)

        return real(*args, progress=slowly, **kwargs)

    monkeypatch.setattr(training_worker, "load_training_data", slow_disk)
    window.data_panel.set_folder(folder)
    window.data_panel.set_cache_mode("disk")
    set_tiny_model(window, steps=1)
    progress, logs = record(window)

    def stop_once_decoding(p) -> None:
        if p.text.startswith("decoding"):
            window.stop_action.trigger()

    window.training.load_progress.connect(stop_once_decoding)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        assert window.start_training()
    assert ended.args[0] is None  # never trained
    assert window.windowTitle() == "SAGAN Studio"  # no run folder was made to name
    stopped = [line for line in logs if line.startswith("decoding stopped")]
    assert stopped and "the next Train continues it" in stopped[0], logs
    assert not any(text.startswith("decoding into the disk cache: 200/200") for text in progress)
    assert window.train_action.isEnabled() and window.training.state == IDLE

    window.training.load_progress.disconnect(stop_once_decoding)
    monkeypatch.setattr(training_worker, "load_training_data", real)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        assert window.start_training()
    assert ended.args[0].reason == "completed"
    assert any(line.startswith("training from the disk cache") for line in logs)


def test_a_disk_too_small_for_the_cache_is_refused_with_folder_and_bytes(
    qtbot, window, tiny_folder, monkeypatch
):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10 << 20))
    window.data_panel.set_folder(tiny_folder)
    window.data_panel.set_cache_mode("disk")
    set_tiny_model(window, steps=1)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        assert window.start_training()
    message = shown.args[0]
    assert str(tiny_folder) in message and "needs" in message and "10.5 MB is free" in message
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=TIMEOUT)
    assert window.train_action.isEnabled()


def test_a_prepared_cache_chosen_as_data_shows_what_it_holds_and_trains(
    qtbot, window, tiny_folder, tmp_path
):
    from sagan_engine.data_cache_build import build_cache

    cache = tmp_path / "prepared"
    build_cache(tiny_folder, 32, out=cache, workers=1)  # sagan-engine prepare --out
    with qtbot.waitSignal(window.data_panel.summary_ready, timeout=TIMEOUT) as scanned:
        window.data_panel.set_folder(cache)
    summary = scanned.args[0]
    assert (summary.files, summary.cache_resolution, summary.unusable) == (8, 32, False)
    assert summary.thumbnails.shape == (8, 48, 48, 3) and summary.thumbnails.any()
    assert "8</b> images in a decoded cache at 32×32" in window.data_panel.summary_label.text()

    window.model_panel.resolution.setCurrentIndex(window.model_panel.resolution.findData(64))
    set_tiny_model(window, steps=1)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        assert window.start_training()
    assert str(cache) in shown.args[0] and "32x32" in shown.args[0] and "64x64" in shown.args[0]
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=TIMEOUT)
    window.error_box.close()

    window.model_panel.resolution.setCurrentIndex(window.model_panel.resolution.findData(32))
    set_tiny_model(window, steps=1)
    progress, logs = record(window)
    with qtbot.waitSignal(window.training.session_ended, timeout=TIMEOUT) as ended:
        assert window.start_training()
    assert ended.args[0].reason == "completed"
    assert not progress  # nothing to decode
    assert f"training from the disk cache {cache} (8 images)" in logs
