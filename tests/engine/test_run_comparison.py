"""The settings that set runs apart, for the legend of File -> Compare runs."""

from __future__ import annotations

from sagan_engine.config import preset
from sagan_engine.run_comparison import differing_keys, differing_settings


def test_only_the_settings_that_differ_are_named():
    base = preset("demo")
    official = base.replace(model={"attention_variant": "official"}, train={"augment": "off"})
    labels = differing_settings([base, official])
    assert labels == [
        "attention_variant=paper, augment=auto",
        "attention_variant=official, augment=off",
    ]


def test_identical_or_single_configs_have_empty_labels():
    assert differing_settings([preset("demo")]) == [""]
    assert differing_settings([preset("demo"), preset("demo")]) == ["", ""]
    assert differing_settings([]) == []


def test_bookkeeping_is_left_out_and_values_are_short():
    base = preset("demo")
    other = base.replace(
        train={
            "steps": 5,
            "sample_every": 7,
            "snapshots": 0,
            "ema": not base.train.ema,
            "device": "cpu" if base.train.device != "cpu" else "auto",  # where, not what
        },
        model={"g_attention": (8, 16)},
        data={"folder": "/data/my emoji"},
    )
    assert differing_keys([base, other]) == ["model.g_attention", "data.folder", "train.ema"]
    first, second = differing_settings([base, other])
    ema = "on" if base.train.ema else "off"
    assert first.endswith(f"folder=demo set, ema={ema}")
    assert second == f"g_attention=(8,16), folder=my emoji, ema={'off' if ema == 'on' else 'on'}"


def test_floats_are_compact_and_three_runs_compare_together():
    base = preset("demo")
    runs = [base, base.replace(train={"lr_d": 1e-4}), base.replace(train={"lr_d": 2e-4})]
    assert differing_settings(runs) == [f"lr_d={base.train.lr_d:g}", "lr_d=0.0001", "lr_d=0.0002"]
