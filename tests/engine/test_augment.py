"""DiffAugment: each op keeps shape and range, passes gradients, is off when asked, and a
resumed run with augmentation equals an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from sagan_engine.augment import (
    AUTO_MIN_EPOCHS,
    AUTO_THRESHOLD,
    DEFAULT_POLICY,
    OPS,
    DiffAugment,
    color,
    cutout,
    parse_policy,
    resolve_policy,
    translation,
)
from sagan_engine.config import RunConfig
from sagan_engine.errors import ConfigError
from sagan_engine.events import StepStats
from sagan_engine.trainer import Trainer

from .conftest import assert_same_models, synthetic_dataset, tiny_config, whole_and_resumed


def images(b: int = 6, size: int = 16, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=gen) * 2 - 1


@pytest.mark.parametrize("name", sorted(OPS))
def test_each_op_keeps_shape_and_is_differentiable(name):
    x = images().requires_grad_(True)
    y = OPS[name](x, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_translation_and_cutout_stay_in_range_and_only_move_or_zero_pixels():
    x = images(b=32)
    moved = translation(x, torch.Generator().manual_seed(2))
    assert moved.min() >= -1 and moved.max() <= 1
    # Every pixel is either a pixel of the same image or the zero padding.
    for original, shifted in zip(x, moved, strict=True):
        values = set(original.flatten().tolist()) | {0.0}
        assert set(shifted.flatten().tolist()) <= values
    cut = cutout(x, torch.Generator().manual_seed(3))
    zeroed = (cut == 0).all(dim=1)  # (b, h, w)
    kept = ~zeroed
    assert torch.equal(cut.permute(0, 2, 3, 1)[kept], x.permute(0, 2, 3, 1)[kept])
    # A square of half the side (8x8 = 64 px), clipped at the borders: at most 64, some > 0.
    counts = zeroed.flatten(1).sum(1)
    assert (counts <= 64).all() and (counts >= 16).all() and (counts == 64).any()


def test_translation_shifts_by_at_most_an_eighth():
    x = torch.zeros(64, 1, 32, 32)
    x[:, :, 16, 16] = 1  # one lit pixel per image
    moved = translation(x, torch.Generator().manual_seed(4))
    rows, cols = (moved[:, 0] == 1).nonzero()[:, 1:].T
    assert len(rows) == 64  # a shift of 4 keeps the centre pixel inside
    assert (rows - 16).abs().max() <= 4 and (cols - 16).abs().max() <= 4
    assert (rows - 16).abs().max() == 4  # the extremes are reachable


def test_color_changes_brightness_saturation_and_contrast_per_image():
    x = images(b=4)
    y = color(x, torch.Generator().manual_seed(5))
    assert not torch.allclose(x, y)
    # One draw per image: two copies of the same image get different transforms.
    pair = color(torch.cat([x[:1], x[:1]]), torch.Generator().manual_seed(6))
    assert not torch.allclose(pair[0], pair[1])


def test_same_generator_state_same_result_and_off_is_identity():
    x = images()
    policy = DiffAugment(DEFAULT_POLICY)
    a = policy(x, torch.Generator().manual_seed(7))
    b = policy(x, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    off = DiffAugment("off")
    assert not off and off(x) is x


def test_policies_parse_and_auto_depends_on_folder_size_and_run_length():
    assert parse_policy("Color, cutout") == ("color", "cutout")
    assert parse_policy("off") == () and parse_policy("") == ()
    with pytest.raises(ConfigError, match="unknown op.*blur"):
        parse_policy("color,blur")
    small = AUTO_THRESHOLD - 1
    long = AUTO_MIN_EPOCHS * small
    assert resolve_policy("auto", small, long) == DEFAULT_POLICY
    assert resolve_policy("auto", small, long - 1) == "off"  # a short run: the faster start
    assert resolve_policy("auto", AUTO_THRESHOLD, 10**12) == "off"  # a large folder
    assert resolve_policy("translation", 10, 0) == "translation"
    assert resolve_policy("none", 10, 10**6) == "off"
    with pytest.raises(ConfigError, match="train.augment"):
        RunConfig.from_dict({"train": {"augment": "rotate"}})


def test_trainer_records_the_policy_it_used(tmp_path):
    # 16 images: 100 epochs of batch 4 are 400 steps; auto decides on the planned total.
    long = Trainer(tiny_config(augment="auto", steps=400), synthetic_dataset(), tmp_path / "a")
    assert long.config.train.augment == DEFAULT_POLICY
    short = Trainer(tiny_config(augment="auto", steps=399), synthetic_dataset(), tmp_path / "c")
    assert short.config.train.augment == "off"
    off = Trainer(tiny_config(augment="off"), synthetic_dataset(), tmp_path / "b")
    assert off.config.train.augment == "off"
    long.add_listener(lambda event: long.stop() if isinstance(event, StepStats) else None)
    long.run()  # stopped at its first log line: config.json is written when the run starts
    saved = RunConfig.load(tmp_path / "a" / "config.json")
    assert saved.train.augment == DEFAULT_POLICY


def test_augmentation_changes_training_and_resume_stays_exact(tmp_path):
    data = synthetic_dataset()
    plain = Trainer(tiny_config(augment="off", steps=4), data, tmp_path / "plain")
    plain.run()
    assert_same_models(*whole_and_resumed(data, tmp_path, 6, 3))
    # Augmentation really reached D: four augmented steps differ from four plain ones.
    four = Trainer(tiny_config(steps=4, checkpoint_every=100), data, tmp_path / "four")
    four.run()
    assert not torch.equal(
        four.D.blocks[0].conv1.parametrizations.weight.original,
        plain.D.blocks[0].conv1.parametrizations.weight.original,
    )
