"""What sets runs apart: the settings whose values differ between several runs' configs, as
short "name=value" labels for the legend of a comparison (File -> Compare runs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import RunConfig

# Settings that change how a run is logged or stored, or how long it ran (the curves show
# that), not what it learns: a difference in these would only clutter a legend.
BOOKKEEPING = frozenset(
    {
        "preset",
        "data.cache_on_device",
        "train.steps",
        "train.log_every",
        "train.sample_every",
        "train.n_samples",
        "train.checkpoint_every",
        "train.keep_checkpoints",
        "train.snapshots",
        "train.channels_last",
        "train.compile",
        "train.threads",
        # Where and how it ran, not the recipe: the window writes the Device box's "cpu",
        # the CLI "auto", for two runs on the same CPU.
        "train.device",
        "data.cache",
        "data.loader_workers",
    }
)


def flat_settings(config: RunConfig) -> dict[str, Any]:
    """``{"model.g_ch": 32, "train.augment": "auto", ...}``: every setting by dotted name."""
    flat: dict[str, Any] = {}
    for section, values in config.to_dict().items():
        if isinstance(values, dict):
            flat.update({f"{section}.{name}": value for name, value in values.items()})
        else:
            flat[section] = values
    return flat


def differing_keys(configs: Sequence[RunConfig]) -> list[str]:
    """Dotted names of the settings (bookkeeping aside) not equal in all ``configs``."""
    flats = [flat_settings(c) for c in configs]
    keys = dict.fromkeys(key for flat in flats for key in flat)
    return [
        key
        for key in keys
        if key not in BOOKKEEPING and len({repr(flat.get(key)) for flat in flats}) > 1
    ]


def differing_settings(configs: Sequence[RunConfig]) -> list[str]:
    """One label per config, e.g. ``"attention_variant=official, augment=off"``: its values of
    the settings that differ between the configs (empty for one config or identical ones).
    A setting is named by its field alone unless two sections share that field name."""
    keys = differing_keys(configs)
    names = [key.rsplit(".", 1)[-1] for key in keys]
    short = {
        key: name if names.count(name) == 1 else key for key, name in zip(keys, names, strict=True)
    }
    labels = []
    for config in configs:
        flat = flat_settings(config)
        labels.append(", ".join(f"{short[key]}={_format(key, flat.get(key))}" for key in keys))
    return labels


def _format(key: str, value: Any) -> str:
    if key == "data.folder":
        return Path(value).name if value else "demo set"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_format("", v) for v in value) + ")" if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)
