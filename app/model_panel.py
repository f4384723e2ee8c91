"""The preset and the key hyper-parameters of a run, with tooltips and sane limits, and the
training device. Reads and writes :class:`sagan_engine.config.RunConfig`, the one source of
truth for every setting."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sagan_engine.augment import AUTO_MIN_EPOCHS, AUTO_THRESHOLD, DEFAULT_POLICY
from sagan_engine.config import ATTENTION_VARIANTS, PRESETS, RESOLUTIONS, RunConfig, preset

PRESET_HELP = {
    "demo": "32×32, small networks: recognisable samples within minutes on a laptop CPU",
    "res32": "32×32, 64 channels (CIFAR-sized)",
    "res64": "64×64, 32 channels, attention on the 32×32 features",
    "res128": "128×128: the paper's ImageNet model (attention on 64×64 features); needs a GPU",
}


def _spin(low: int, high: int, tip: str, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setToolTip(tip)
    box.setAccelerated(True)
    return box


def _rate(tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(6)
    box.setRange(1e-6, 1e-2)
    box.setSingleStep(1e-5)
    box.setToolTip(tip)
    return box


class AttentionPlacement(QWidget):
    """One checkbox per feature resolution where a self-attention layer may sit."""

    changed = Signal()

    def __init__(self, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip(tip)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[int, QCheckBox] = {}

    def set_resolution(self, resolution: int) -> None:
        chosen = self.value()
        for box in self.boxes.values():
            self._layout.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        for res in (2**k for k in range(3, int(math.log2(resolution)) + 1)):
            box = QCheckBox(f"{res}²")
            box.setToolTip(f"a self-attention layer on the {res}×{res} feature maps")
            box.setChecked(res in chosen)
            box.toggled.connect(self.changed)
            self.boxes[res] = box
            self._layout.addWidget(box)
        self._layout.addStretch(1)

    def value(self) -> tuple[int, ...]:
        return tuple(res for res, box in self.boxes.items() if box.isChecked())

    def set_value(self, resolutions: tuple[int, ...]) -> None:
        for res, box in self.boxes.items():
            box.setChecked(res in resolutions)


AUGMENT_CHOICES = (
    ("auto (small folder, long run)", "auto"),
    ("off", "off"),
    ("colour, translation, cutout", DEFAULT_POLICY),
    ("translation, cutout", "translation,cutout"),
)


class ModelPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model and training", parent)
        self.preset = QComboBox()
        for name in PRESETS:
            self.preset.addItem(name, name)
            self.preset.setItemData(
                self.preset.count() - 1, PRESET_HELP.get(name, ""), Qt.ItemDataRole.ToolTipRole
            )
        self.preset.setToolTip("A starting point; every value below can be changed")
        self.resolution = QComboBox()
        for res in RESOLUTIONS:
            self.resolution.addItem(f"{res} × {res}", res)
        self.resolution.setToolTip("Size of the generated images (the data is resized to it)")
        self.batch_size = _spin(1, 1024, "Images per step for D and for G (paper: 256)")
        self.lr_g = _rate("Adam learning rate of the generator (TTUR, paper: 0.0001)")
        self.lr_d = _rate("Adam learning rate of the discriminator (TTUR, paper: 0.0004)")
        self.g_attention = AttentionPlacement(
            "Feature resolutions of G where a self-attention layer sits (the paper's best: 32 "
            "and 64 at 128×128); the inspector shows one map per layer"
        )
        self.d_attention = AttentionPlacement(
            "Feature resolutions of D where a self-attention layer sits"
        )
        self.ema = QCheckBox("EMA of G's weights")
        self.ema.setToolTip(
            "Samples and the inspector use an exponential moving average of G's weights, "
            "which gives steadier, better images"
        )
        self.augment = QComboBox()
        for text, policy in AUGMENT_CHOICES:
            self.augment.addItem(text, policy)
        self.augment.setToolTip(
            "DiffAugment: the same random colour, translation and cutout applied to real and "
            "generated images before D, so D cannot memorise a small folder (Zhao et al. 2020). "
            f"auto: on for folders below {AUTO_THRESHOLD:,} images when the steps show D each "
            f"image at least {AUTO_MIN_EPOCHS} times; a shorter run learns faster without it"
        )
        self.seed = _spin(0, 2**31 - 1, "Seed of every random choice: same seed, same run")
        self.steps = _spin(1, 10_000_000, "Training steps in total", step=100)
        self.device = QComboBox()
        self.device.setToolTip("Where to train: the CPU, or a CUDA GPU when there is one")
        self.device.addItem("CPU", "cpu")

        # Less often changed: hidden behind "More settings".
        self.g_ch = _spin(2, 1024, "Channel width of G (channels = width × block multiplier)")
        self.d_ch = _spin(2, 1024, "Channel width of D")
        self.z_dim = _spin(1, 4096, "Size of the latent vector z")
        self.variant = QComboBox()
        for name in ATTENTION_VARIANTS:
            self.variant.addItem(name, name)
        self.variant.setToolTip(
            "paper: the layer as in the paper's equations; official: as in the released "
            "TensorFlow code (C/2 values, 2×2 pooled keys, output convolution)"
        )
        self.ema_decay = QDoubleSpinBox()
        self.ema_decay.setDecimals(4)
        self.ema_decay.setRange(0.0, 0.9999)
        self.ema_decay.setSingleStep(0.001)
        self.ema_decay.setToolTip("Decay of the EMA of G's weights")
        self.n_samples = _spin(1, 256, "Samples in the live grid (from fixed latents)")
        self.sample_every = _spin(1, 1_000_000, "Refresh the sample grid every N steps")
        self.log_every = _spin(1, 100_000, "Add a point to the curves every N steps")
        self.checkpoint_every = _spin(1, 10_000_000, "Save a checkpoint every N steps")

        form = QFormLayout()
        form.addRow("Preset", self.preset)
        form.addRow("Resolution", self.resolution)
        form.addRow("Batch size", self.batch_size)
        form.addRow("lr G", self.lr_g)
        form.addRow("lr D", self.lr_d)
        form.addRow("Attention in G", self.g_attention)
        form.addRow("Attention in D", self.d_attention)
        form.addRow("", self.ema)
        form.addRow("Augment", self.augment)
        form.addRow("Seed", self.seed)
        form.addRow("Steps", self.steps)
        form.addRow("Device", self.device)

        self.more_button = QToolButton()
        self.more_button.setText("More settings")
        self.more_button.setCheckable(True)
        self.more_button.setAutoRaise(True)
        self.more = QWidget()
        more_form = QFormLayout(self.more)
        more_form.setContentsMargins(0, 0, 0, 0)
        more_form.addRow("G channels", self.g_ch)
        more_form.addRow("D channels", self.d_ch)
        more_form.addRow("z size", self.z_dim)
        more_form.addRow("Attention form", self.variant)
        more_form.addRow("EMA decay", self.ema_decay)
        more_form.addRow("Samples shown", self.n_samples)
        more_form.addRow("Samples every", self.sample_every)
        more_form.addRow("Curve point every", self.log_every)
        more_form.addRow("Checkpoint every", self.checkpoint_every)
        self.more.setVisible(False)
        self.more_button.toggled.connect(self.more.setVisible)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.more_button)
        layout.addWidget(self.more)

        self.preset.currentIndexChanged.connect(self._on_preset)
        self.resolution.currentIndexChanged.connect(self._on_resolution)
        self.ema.toggled.connect(self.ema_decay.setEnabled)
        self.set_config(preset("demo"))

    # ------------------------------------------------------------------ config <-> widgets
    def _on_preset(self) -> None:
        self.set_config(preset(self.preset.currentData()))

    def _on_resolution(self) -> None:
        resolution = self.resolution.currentData()
        self.g_attention.set_resolution(resolution)
        self.d_attention.set_resolution(resolution)

    def set_preset(self, name: str) -> None:
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)
            self.set_config(preset(name))

    def set_config(self, config: RunConfig) -> None:
        model, train = config.model, config.train
        self.preset.blockSignals(True)
        index = self.preset.findData(config.preset)
        if index >= 0:
            self.preset.setCurrentIndex(index)
        self.preset.blockSignals(False)
        self.resolution.setCurrentIndex(self.resolution.findData(model.resolution))
        self._on_resolution()
        self.g_attention.set_value(model.g_attention)
        self.d_attention.set_value(model.d_attention)
        self.batch_size.setValue(train.batch_size)
        self.lr_g.setValue(train.lr_g)
        self.lr_d.setValue(train.lr_d)
        self.ema.setChecked(train.ema)
        if self.augment.findData(train.augment) < 0:
            self.augment.addItem(train.augment.replace(",", ", "), train.augment)
        self.augment.setCurrentIndex(self.augment.findData(train.augment))
        self.seed.setValue(min(train.seed, self.seed.maximum()))
        self.steps.setValue(min(train.steps, self.steps.maximum()))
        self.g_ch.setValue(model.g_ch)
        self.d_ch.setValue(model.d_ch)
        self.z_dim.setValue(model.z_dim)
        self.variant.setCurrentIndex(self.variant.findData(model.attention_variant))
        self.ema_decay.setValue(train.ema_decay)
        self.n_samples.setValue(min(train.n_samples, self.n_samples.maximum()))
        self.sample_every.setValue(train.sample_every)
        self.log_every.setValue(train.log_every)
        self.checkpoint_every.setValue(train.checkpoint_every)

    def config(self) -> RunConfig:
        """The settings as a validated RunConfig; raises ConfigError naming a bad value."""
        return preset(self.preset.currentData()).replace(
            model={
                "resolution": self.resolution.currentData(),
                "z_dim": self.z_dim.value(),
                "g_ch": self.g_ch.value(),
                "d_ch": self.d_ch.value(),
                "g_attention": self.g_attention.value(),
                "d_attention": self.d_attention.value(),
                "attention_variant": self.variant.currentData(),
            },
            train={
                "steps": self.steps.value(),
                "batch_size": self.batch_size.value(),
                "lr_g": self.lr_g.value(),
                "lr_d": self.lr_d.value(),
                "ema": self.ema.isChecked(),
                "augment": self.augment.currentData(),
                "ema_decay": self.ema_decay.value(),
                "seed": self.seed.value(),
                "device": self.device.currentData() or "cpu",
                "n_samples": self.n_samples.value(),
                "sample_every": self.sample_every.value(),
                "log_every": self.log_every.value(),
                "checkpoint_every": self.checkpoint_every.value(),
            },
        )

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """Fill the device list; the first CUDA GPU is chosen when there is one, unless a run
        already trains with the choice shown (the panel is disabled then): the box must keep
        saying where it trains."""
        current = self.device.currentData()
        self.device.clear()
        for name, description in devices:
            self.device.addItem(description, name)
        gpus = [i for i in range(self.device.count()) if self.device.itemData(i) != "cpu"]
        keep = self.device.findData(current)
        prefer_gpu = gpus and current == "cpu" and self.isEnabled()
        self.device.setCurrentIndex(gpus[0] if prefer_gpu else max(keep, 0))
