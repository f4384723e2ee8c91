from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.config import RunConfig, preset
from sagan_engine.data import ImageDataset


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never write runs or caches into the real home directory."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


def tiny_config(**train) -> RunConfig:
    """A model small enough to train a few steps in well under a second on 2 cores."""
    settings = dict(
        steps=6,
        batch_size=4,
        log_every=2,
        sample_every=3,
        checkpoint_every=3,
        n_samples=4,
        device="cpu",
        channels_last=False,
        # Every engine test trains through DiffAugment, as it did when "auto" meant "fewer
        # than 10,000 images"; "auto" now also asks for a long run (augment.AUTO_MIN_EPOCHS).
        augment="color,translation,cutout",
    )
    settings.update(train)
    return preset("demo").replace(model={"g_ch": 4, "d_ch": 4, "z_dim": 8}, train=settings)


def synthetic_dataset(
    n: int = 16, resolution: int = 32, classes: int = 0, seed: int = 0
) -> ImageDataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8)
    labels = (np.arange(n) % classes if classes else np.zeros(n)).astype(np.int64)
    names = [f"class{i}" for i in range(classes)]
    return ImageDataset(images, labels, names, [], "synthetic")


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return tiny_config()


def whole_and_resumed(data: ImageDataset, root, steps: int, stop_at: int):
    """Train ``steps`` steps in one go, and ``stop_at`` steps then a resume up to ``steps``, in
    folders under ``root``; returns (the whole run's trainer, the resumed run's trainer)."""
    from sagan_engine.trainer import Trainer

    def config(n: int) -> RunConfig:
        return tiny_config(steps=n, checkpoint_every=100)

    whole = Trainer(config(steps), data, root / "whole")
    whole.run()
    Trainer(config(stop_at), data, root / "split").run()
    resumed = Trainer(config(steps), data, root / "split", resume=True)
    resumed.run()
    return whole, resumed


def assert_same_models(a, b) -> None:
    """The G, D and EMA G of trainers ``a`` and ``b`` hold bit-identical weights and buffers."""
    for name in ("G", "D", "G_ema"):
        first, second = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert first.keys() == second.keys(), name
        for key in first:
            assert torch.equal(first[key], second[key]), (name, key)
