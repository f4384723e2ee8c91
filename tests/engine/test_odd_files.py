"""Files that are not files: a named pipe with an image's name is listed, never opened (which
would wait forever); a folder with an image's name is a folder (issue 15, item 5)."""

from __future__ import annotations

import os

import pytest

from sagan_engine.data import NOT_A_FILE, load_image_folder
from tests.app.helpers import write_images


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_and_a_folder_named_like_images(tmp_path):
    write_images(tmp_path, 4)
    os.mkfifo(tmp_path / "pipe.png")
    write_images(tmp_path / "folder.png", 2, seed=3)
    dataset = load_image_folder(tmp_path, 32, cache_dir=None, workers=1)
    assert len(dataset) == 6  # the folder's images are used
    assert [(s.path, s.reason) for s in dataset.skipped] == [("pipe.png", NOT_A_FILE)]
