"""GUI tests run offscreen, with settings, run folders and caches in a temporary folder, so a
test never touches the real home or needs a display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.app.helpers import write_images  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def guarded_singletons():
    """The GUI tests paint a lot: see app.refcount_guard (PySide6 6.12 on Python 3.11)."""
    from app.refcount_guard import guard_singletons

    guard_singletons()


@pytest.fixture(autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As in the app (app.gui_thread_gc): a Qt object left in a reference cycle, by this test
    or an earlier one, never dies on a training, inspector or job thread. Automatic
    collection comes back after the test (for tests that run no event loop)."""
    from app.gui_thread_gc import collect_on_gui_thread

    collector = collect_on_gui_thread()
    yield
    collector.stop()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a busy 2-core machine: one intra-op thread wastes least on handoffs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs (runs, dataset cache) and Qt's user folders point into tmp_path."""
    home = tmp_path / "home"
    for variable, folder in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        (home / folder).mkdir(parents=True)
        monkeypatch.setenv(variable, str(home / folder))
    return home


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    return write_images(tmp_path / "tiny data", 8)


@pytest.fixture
def classes_folder(tmp_path: Path) -> Path:
    root = tmp_path / "two classes"
    write_images(root / "circles", 4, seed=1)
    write_images(root / "squares", 4, seed=2)
    return root


@pytest.fixture
def settings(tmp_path: Path):
    from PySide6.QtCore import QSettings

    from app.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_window(qtbot, settings, tmp_path: Path):
    """Creates main windows on the test's settings; stops their threads afterwards."""
    from app.main_window import MainWindow

    windows = []

    def make(window_settings=None):
        window = MainWindow(settings=window_settings or settings)
        window.set_runs_dir(tmp_path / "runs")
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()
        window.close()
        window.deleteLater()


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def worker(qtbot, trained_run: Path):
    """An inspector worker with the model of ``trained_run`` loaded (a fixture each test module
    that uses this one defines: the run its views explore); shut down afterwards."""
    from app.inspector_worker import InspectorWorker

    inspector = InspectorWorker()
    with qtbot.waitSignal(inspector.model_loaded, timeout=30_000):
        inspector.load_model(trained_run)
    yield inspector
    inspector.shutdown()
