"""A settings file that cannot be written is reported with its path, not lost silently
(issue 15, item 1)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.settings import Settings


def test_an_unwritable_settings_file_is_named(tmp_path: Path):
    (tmp_path / "a-file").write_text("in the way")
    path = tmp_path / "a-file" / "settings.ini"  # its folder is a file
    settings = Settings(QSettings(str(path), QSettings.Format.IniFormat))
    settings.last_folder = "/some/where"
    problem = settings.sync()
    assert problem is not None and str(path) in problem and "cannot save" in problem
    good = Settings(QSettings(str(tmp_path / "ok.ini"), QSettings.Format.IniFormat))
    good.last_folder = "/some/where"
    assert good.sync() is None and (tmp_path / "ok.ini").is_file()
