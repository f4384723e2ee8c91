"""Configuration of a SAGAN run: the model, the data and the training, as dataclasses.

One source of truth for each setting: the CLI, the app and the run folder's ``config.json``
all read and write these classes. ``from_dict`` checks every value's type and range and
raises :class:`ConfigError` naming the field, so a hand-edited JSON file gets a clear message.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .augment import parse_policy
from .class_labels import CLASS_MODES
from .errors import ConfigError

RESOLUTIONS = (32, 64, 128)
ATTENTION_VARIANTS = ("paper", "official")
LOSSES = ("hinge", "bce")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DATA_CACHES = ("auto", "memory", "disk")


@dataclass
class ModelConfig:
    """Architecture of G and D (ResNet SAGAN, as in the paper's ImageNet model)."""

    resolution: int = 64
    z_dim: int = 128
    g_ch: int = 32
    d_ch: int = 32
    # 0 = unconditional; >= 2 turns on conditional BN in G and the projection D.
    num_classes: int = 0
    # Feature-map resolutions after which a self-attention layer sits (paper: "feat32/64").
    g_attention: tuple[int, ...] = (32,)
    d_attention: tuple[int, ...] = (32,)
    attention_variant: str = "paper"

    def validate(self) -> None:
        _require(
            self.resolution in RESOLUTIONS,
            "model.resolution",
            self.resolution,
            f"one of {RESOLUTIONS}",
        )
        _require(1 <= self.z_dim <= 4096, "model.z_dim", self.z_dim, "between 1 and 4096")
        for name in ("g_ch", "d_ch"):
            value = getattr(self, name)
            _require(1 <= value <= 1024, f"model.{name}", value, "between 1 and 1024")
        _require(
            self.num_classes == 0 or 2 <= self.num_classes <= 100_000,
            "model.num_classes",
            self.num_classes,
            "0 (unconditional) or at least 2",
        )
        _require(
            self.attention_variant in ATTENTION_VARIANTS,
            "model.attention_variant",
            self.attention_variant,
            f"one of {ATTENTION_VARIANTS}",
        )
        possible = tuple(2**k for k in range(3, int(math.log2(self.resolution)) + 1))
        for name in ("g_attention", "d_attention"):
            for res in getattr(self, name):
                _require(
                    res in possible,
                    f"model.{name}",
                    res,
                    f"a feature resolution of this model, one of {possible}",
                )
        # f and g project to C/8 channels; the paper's form needs C >= 8 where attention sits.
        _require(
            min(self.g_ch, self.d_ch) * 1 >= 2,
            "model.g_ch/d_ch",
            min(self.g_ch, self.d_ch),
            "at least 2",
        )

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0


@dataclass
class DataConfig:
    """Where the images come from and how they are augmented."""

    folder: str | None = None  # None = the bundled demo dataset
    hflip: bool = True
    # Keep the decoded uint8 cache on the training device (fast; costs device memory).
    cache_on_device: bool = True
    # Class labels: "auto" = one class per sub-folder when two or more hold every image;
    # "none" = unconditional whatever the folders (sagan_engine.class_labels).
    classes: str = "auto"
    # Where decoded images live while training (sagan_engine.training_data): "memory" (all in
    # RAM, or on the device with cache_on_device), "disk" (memory-mapped shards read by a
    # DataLoader; memory does not grow with the folder) or "auto" (memory below a size limit).
    cache: str = "auto"
    # DataLoader worker processes reading the disk cache, per training process; -1 = auto.
    loader_workers: int = -1

    def validate(self) -> None:
        if self.folder is not None:
            _require(bool(self.folder.strip()), "data.folder", self.folder, "a folder path")
        _require(self.classes in CLASS_MODES, "data.classes", self.classes, f"one of {CLASS_MODES}")
        _require(self.cache in DATA_CACHES, "data.cache", self.cache, f"one of {DATA_CACHES}")
        _require(
            -1 <= self.loader_workers <= 256,
            "data.loader_workers",
            self.loader_workers,
            "-1 (auto), 0 (read in the training process) or a number of processes",
        )


@dataclass
class TrainConfig:
    """The paper's training recipe (TTUR, hinge loss) plus engineering knobs."""

    steps: int = 100_000
    batch_size: int = 64
    lr_g: float = 1e-4
    lr_d: float = 4e-4
    betas: tuple[float, float] = (0.0, 0.9)
    n_dis: int = 1
    loss: str = "hinge"
    ema: bool = True
    ema_decay: float = 0.999
    ema_start: int = 0
    seed: int = 0
    device: str = "auto"
    # "auto" values are chosen per machine: a few timed steps of each option, once, cached
    # (sagan_engine.machine_choices; SAGAN_MACHINE_PROBE=off keeps the built-in defaults).
    precision: str = "auto"
    channels_last: bool | str = "auto"  # true, false or "auto"
    # "auto" also probes torch.compile (its probe compiles: tens of seconds on a CPU).
    compile: bool | str = False
    threads: int = 0  # CPU threads of the training thread; 0 = auto
    # DiffAugment policy applied to real and generated images before D (sagan_engine.augment):
    # "auto" (on for small folders), "off", or ops such as "color,translation,cutout".
    augment: str = "auto"
    # Statistics are read back from the device every `log_every` steps, not every step.
    log_every: int = 10
    sample_every: int = 200
    n_samples: int = 64
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    # Multi-scale SWD of the EMA generator against a fixed sample of `eval_images` training
    # images every `eval_every` steps, in a background thread (sagan_engine.metrics.evaluator);
    # 0 = off. The default costs under 5% of training throughput (docs/benchmarks.md).
    eval_every: int = 1000
    eval_images: int = 256
    # Most fp16 EMA-G snapshots kept for replaying attention over training, log-spaced
    # (sagan_engine.snapshots); 0 = none. About 0.6 MB each for the demo preset.
    snapshots: int = 24

    def validate(self) -> None:
        _require(
            1 <= self.steps <= 100_000_000, "train.steps", self.steps, "between 1 and 100000000"
        )
        _require(
            1 <= self.batch_size <= 65_536,
            "train.batch_size",
            self.batch_size,
            "between 1 and 65536",
        )
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            _require(0 < value < 1, f"train.{name}", value, "a positive number below 1")
        _require(
            len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
            "train.betas",
            self.betas,
            "two numbers in [0, 1)",
        )
        _require(1 <= self.n_dis <= 100, "train.n_dis", self.n_dis, "between 1 and 100")
        _require(self.loss in LOSSES, "train.loss", self.loss, f"one of {LOSSES}")
        _require(0 <= self.ema_decay < 1, "train.ema_decay", self.ema_decay, "in [0, 1)")
        _require(self.ema_start >= 0, "train.ema_start", self.ema_start, "0 or more")
        _require(0 <= self.seed < 2**63, "train.seed", self.seed, "a non-negative integer")
        _require(
            self.device in DEVICES or self.device.startswith("cuda:"),
            "train.device",
            self.device,
            f"one of {DEVICES} or cuda:N",
        )
        _require(
            self.precision in PRECISIONS, "train.precision", self.precision, f"one of {PRECISIONS}"
        )
        for name in ("channels_last", "compile"):
            value = getattr(self, name)
            _require(
                value in (True, False, "auto"), f"train.{name}", value, 'true, false or "auto"'
            )
        _require(0 <= self.threads <= 4096, "train.threads", self.threads, "0 (auto) to 4096")
        if self.augment.strip().lower() != "auto":
            parse_policy(self.augment)  # raises ConfigError naming the unknown op
        for name in ("log_every", "sample_every", "checkpoint_every"):
            value = getattr(self, name)
            _require(value >= 1, f"train.{name}", value, "at least 1")
        _require(
            1 <= self.n_samples <= 1024, "train.n_samples", self.n_samples, "between 1 and 1024"
        )
        _require(self.eval_every >= 0, "train.eval_every", self.eval_every, "0 (off) or more")
        _require(
            16 <= self.eval_images <= 100_000,
            "train.eval_images",
            self.eval_images,
            "between 16 and 100000",
        )
        _require(
            self.keep_checkpoints >= 1,
            "train.keep_checkpoints",
            self.keep_checkpoints,
            "at least 1",
        )
        _require(
            self.snapshots == 0 or 2 <= self.snapshots <= 10_000,
            "train.snapshots",
            self.snapshots,
            "0 (none) or between 2 and 10000",
        )


@dataclass
class RunConfig:
    """Everything that defines a run; saved as ``config.json`` in the run folder."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "custom"

    def validate(self) -> RunConfig:
        self.model.validate()
        self.data.validate()
        self.train.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> RunConfig:
        return _from_dict(cls, data, "config").validate()

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> RunConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{source}: not valid JSON ({err})") from None
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the config ({err})") from None
        return cls.from_json(text, source=str(path))

    def replace(self, **sections: dict[str, Any]) -> RunConfig:
        """A copy with some fields changed, e.g. ``cfg.replace(train={"steps": 10})``."""
        merged = self.to_dict()
        for section, changes in sections.items():
            if section == "preset":
                merged["preset"] = changes
                continue
            if section not in merged:
                raise ConfigError(f"unknown config section {section!r}")
            merged[section].update(changes)
        return RunConfig.from_dict(merged)


def _preset_demo() -> RunConfig:
    # Small enough to show recognisable samples within minutes on 2 CPU cores.
    return RunConfig(
        model=ModelConfig(
            resolution=32, z_dim=64, g_ch=16, d_ch=16, g_attention=(16,), d_attention=(16,)
        ),
        train=TrainConfig(
            steps=3000,
            batch_size=32,
            log_every=5,
            sample_every=50,
            checkpoint_every=500,
            n_samples=36,
            ema_decay=0.99,
            # A quality curve of 6 points. An evaluation takes <= 3.8 CPU-s on one thread
            # (docs/benchmarks.md): <= 2.8% of the run even at the fastest demo step measured.
            eval_every=500,
        ),
        preset="demo",
    )


def _preset_res32() -> RunConfig:
    return RunConfig(
        model=ModelConfig(
            resolution=32, z_dim=128, g_ch=64, d_ch=64, g_attention=(16,), d_attention=(16,)
        ),
        train=TrainConfig(batch_size=64),
        preset="res32",
    )


def _preset_res64() -> RunConfig:
    return RunConfig(
        model=ModelConfig(
            resolution=64, z_dim=128, g_ch=32, d_ch=32, g_attention=(32,), d_attention=(32,)
        ),
        train=TrainConfig(batch_size=64),
        preset="res64",
    )


def _preset_res128() -> RunConfig:
    # The paper's ImageNet 128x128 model: ch=64, attention on the 64x64 feature maps.
    return RunConfig(
        model=ModelConfig(
            resolution=128, z_dim=128, g_ch=64, d_ch=64, g_attention=(64,), d_attention=(64,)
        ),
        train=TrainConfig(batch_size=256, ema_decay=0.9999, ema_start=20_000),
        preset="res128",
    )


PRESETS = {
    "demo": _preset_demo,
    "res32": _preset_res32,
    "res64": _preset_res64,
    "res128": _preset_res128,
}


def preset(name: str) -> RunConfig:
    """A fresh copy of the named preset."""
    try:
        return PRESETS[name]().validate()
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def _require(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{name} = {value!r} is invalid: expected {expected}")


def _from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass ``cls`` from plain JSON data, checking names and types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{where}.{name}".removeprefix("config."))
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        for hint in inner[:-1]:  # the first type the value fits, e.g. bool | str
            try:
                return _coerce(hint, value, where)
            except ConfigError:
                pass
        return _coerce(inner[-1], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{where} must have {len(args)} items, got {value!r}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be text, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {hint}")  # pragma: no cover
