import json

import pytest

from sagan_engine.config import PRESETS, RunConfig, preset
from sagan_engine.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_round_trip_through_json(name):
    cfg = preset(name)
    assert RunConfig.from_json(cfg.to_json()) == cfg


def test_paper_defaults():
    train = RunConfig().train
    assert (train.lr_g, train.lr_d, train.betas, train.n_dis, train.loss) == (
        1e-4,
        4e-4,
        (0.0, 0.9),
        1,
        "hinge",
    )
    assert RunConfig().model.attention_variant == "paper"


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"train": {"lr_g": "fast"}}', "train.lr_g"),
        ('{"train": {"batch_size": 0}}', "train.batch_size"),
        ('{"train": {"steps": 1.5}}', "train.steps"),
        ('{"model": {"resolution": 48}}', "model.resolution"),
        ('{"model": {"g_attention": [7]}}', "model.g_attention"),
        ('{"model": {"attention_variant": "x"}}', "model.attention_variant"),
        ('{"train": {"ema": "yes"}}', "train.ema"),
        ('{"train": {"betas": [0.0]}}', "train.betas"),
        ('{"nonsense": 1}', "nonsense"),
        ("[1, 2]", "object"),
        ('{"train": {"lr_d": NaN}}', "train.lr_d"),
    ],
)
def test_bad_values_name_the_field(text, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        RunConfig.from_json(text)


def test_a_step_count_beyond_the_limit_says_the_limit():
    with pytest.raises(ConfigError, match="between 1 and 100000000"):
        RunConfig.from_json('{"train": {"steps": 100000000000000000000000}}')


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{oops")
    with pytest.raises(ConfigError, match="config.json"):
        RunConfig.load(path)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="res32"):
        preset("huge")


def test_replace_validates():
    with pytest.raises(ConfigError, match="train.lr_d"):
        preset("demo").replace(train={"lr_d": -1.0})
    assert json.loads(preset("demo").replace(train={"steps": 7}).to_json())["train"]["steps"] == 7
