"""What the app remembers between sessions (QSettings): window layout, last folder, last run,
where runs are saved. One place names every key."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from sagan_engine.runs import default_runs_dir

ORGANISATION = "SAGAN Studio"
APP_NAME = "sagan-studio"
DISPLAY_NAME = "SAGAN Studio"  # in titles and dialogs

GEOMETRY = "window/geometry"
WINDOW_STATE = "window/state"
LAST_FOLDER = "data/last_folder"
USE_DEMO = "data/use_demo"
DATA_CACHE = "data/cache"
LAST_RUN = "runs/last_run"
RUNS_DIR = "runs/runs_dir"
PRESET = "model/preset"
DEMO_MODEL_SHOWN = "app/demo_model_shown"


class Settings:
    """Typed access to the stored settings; tests pass a QSettings on a temporary file."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANISATION, APP_NAME)

    def _text(self, key: str) -> str:
        value = self.store.value(key, "")
        return value if isinstance(value, str) else ""

    def _bytes(self, key: str) -> QByteArray | None:
        value = self.store.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # window
    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes(GEOMETRY)

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self.store.setValue(GEOMETRY, value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes(WINDOW_STATE)

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self.store.setValue(WINDOW_STATE, value)

    # data
    @property
    def last_folder(self) -> str:
        return self._text(LAST_FOLDER)

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self.store.setValue(LAST_FOLDER, value)

    @property
    def use_demo(self) -> bool:
        return self._text(USE_DEMO) != "false"

    @use_demo.setter
    def use_demo(self, value: bool) -> None:
        self.store.setValue(USE_DEMO, "true" if value else "false")

    @property
    def data_cache(self) -> str:
        """The data.cache mode last trained with: "auto", "memory" or "disk"."""
        return self._text(DATA_CACHE) or "auto"

    @data_cache.setter
    def data_cache(self, value: str) -> None:
        self.store.setValue(DATA_CACHE, value)

    @property
    def preset(self) -> str:
        return self._text(PRESET) or "demo"

    @preset.setter
    def preset(self, value: str) -> None:
        self.store.setValue(PRESET, value)

    @property
    def demo_model_shown(self) -> bool:
        """Whether the first start already opened the bundled demo model."""
        return self._text(DEMO_MODEL_SHOWN) == "true"

    @demo_model_shown.setter
    def demo_model_shown(self, value: bool) -> None:
        self.store.setValue(DEMO_MODEL_SHOWN, "true" if value else "false")

    # runs
    @property
    def last_run(self) -> str:
        return self._text(LAST_RUN)

    @last_run.setter
    def last_run(self, value: str) -> None:
        self.store.setValue(LAST_RUN, value)

    @property
    def runs_dir(self) -> Path:
        chosen = self._text(RUNS_DIR)
        return Path(chosen) if chosen else default_runs_dir()

    @runs_dir.setter
    def runs_dir(self, value: str | Path) -> None:
        self.store.setValue(RUNS_DIR, str(value))

    def sync(self) -> str | None:
        """Write the settings to their file; a message naming the file when that failed."""
        self.store.sync()
        status = self.store.status()
        if status == QSettings.Status.AccessError:
            return f"{self.store.fileName()}: cannot save the settings (cannot write there)"
        if status == QSettings.Status.FormatError:
            return f"{self.store.fileName()}: cannot save the settings (the file is damaged)"
        return None
