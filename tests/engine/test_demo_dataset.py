"""The bundled demo dataset (sagan_engine.data.load_demo_dataset)."""

from __future__ import annotations

import pytest

from sagan_engine import data
from sagan_engine.errors import DataError
from tests.engine.data_helpers import RES, write_images


def test_demo_folder_is_the_bundled_resource():
    from sagan_studio_resources import resource_path

    assert data.demo_dataset_folder() == resource_path("demo")


def test_demo_dataset_is_labelled_demo(tmp_path, monkeypatch):
    write_images(tmp_path, ["circles/1.png", "squares/1.png"])
    monkeypatch.setattr(data, "demo_dataset_folder", lambda: tmp_path)
    dataset = data.load_demo_dataset(RES, cache_dir=None)
    assert dataset.source == "demo" and dataset.class_names == ["circles", "squares"]


def test_missing_demo_dataset_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "demo_dataset_folder", lambda: tmp_path / "demo")
    with pytest.raises(DataError, match="bundled demo dataset"):
        data.load_demo_dataset(RES, cache_dir=None)
