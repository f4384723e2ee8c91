"""Exploring a trained model without its data: which model is open, and new samples from
seeds (and, for a class-conditional model, of one class), walked seed by seed and drawn
with the truncation trick (psi and BigGAN's resampling threshold)."""

from __future__ import annotations

import html
import random
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.inspector_worker import ModelInfo
from sagan_engine.demo_model import is_demo_checkpoint
from sagan_engine.latent_paths import MIN_THRESHOLD, Truncation, next_seed, random_seed

PSI_STEPS = 100  # the psi slider moves in hundredths


MAX_NAME = 36  # characters of a run's name shown; the rest is in the tooltip


class ExplorePanel(QGroupBox):
    draw_requested = Signal(int, int, object, object)  # count, seed, class or None, Truncation
    truncation_changed = Signal(object)  # Truncation

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Explore a trained model", parent)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed of the latent vectors z: the same seed gives the same images")
        self.count = QSpinBox()
        self.count.setRange(1, 256)
        self.count.setValue(36)
        self.count.setToolTip("How many samples to draw")
        self.class_choice = QComboBox()
        self.class_choice.setToolTip("Draw every sample of one class, or cycle through them")
        self.new_seed_button = QPushButton("New seeds")
        self.new_seed_button.setToolTip("Draw samples from a new random seed (Ctrl+R)")
        self.draw_button = QPushButton("Draw")
        self.draw_button.setToolTip("Draw samples from this seed")
        self.previous_seed_button = QPushButton("◀")
        self.previous_seed_button.setToolTip("Previous seed (Alt+Left)")
        self.next_seed_button = QPushButton("▶")
        self.next_seed_button.setToolTip("Next seed (Alt+Right)")
        for button in (self.previous_seed_button, self.next_seed_button):
            button.setFixedWidth(32)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.previous_seed_button)
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.next_seed_button)
        self.psi = QSlider(Qt.Orientation.Horizontal)
        self.psi.setRange(0, PSI_STEPS)
        self.psi.setValue(PSI_STEPS)
        self.psi.setToolTip(
            "Truncation ψ: latents scaled towards the mean; lower = more typical, less varied "
            "(1 = off)"
        )
        self.psi_label = QLabel()
        self.psi_label.setMinimumWidth(36)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 4.0)
        self.threshold.setSingleStep(0.25)
        self.threshold.setDecimals(2)
        self.threshold.setSpecialValueText("off")
        self.threshold.setToolTip(
            "BigGAN's truncation: latent components with |z| above this are drawn again (off: none)"
        )
        psi_row = QHBoxLayout()
        psi_row.addWidget(self.psi, 1)
        psi_row.addWidget(self.psi_label)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_seed_button)
        buttons.addWidget(self.draw_button)
        form = QFormLayout()
        form.addRow("Seed", seed_row)
        form.addRow("Samples", self.count)
        self.class_label = QLabel("Class")
        form.addRow(self.class_label, self.class_choice)
        form.addRow("Truncation ψ", psi_row)
        form.addRow("Resample |z| >", self.threshold)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.info: ModelInfo | None = None

        self.new_seed_button.clicked.connect(self.new_seed)
        self.draw_button.clicked.connect(self.draw)
        self.class_choice.currentIndexChanged.connect(self._on_class)
        self.previous_seed_button.clicked.connect(lambda: self.step_seed(-1))
        self.next_seed_button.clicked.connect(lambda: self.step_seed(1))
        self.psi.valueChanged.connect(self._on_truncation)
        self.threshold.valueChanged.connect(self._on_truncation)
        self._show_psi()

    def set_model(self, info: ModelInfo) -> None:
        self.info = info
        model = info.config.model
        where = Path(info.run_dir).name if info.run_dir else Path(info.checkpoint).name
        if is_demo_checkpoint(info.checkpoint):
            where = "Demo model (bundled, emoji)"
        elif len(where) > MAX_NAME:  # one word cannot wrap: it would widen the whole panel
            half = (MAX_NAME - 1) // 2
            where = f"{where[:half]}…{where[-half:]}"  # the tooltip has the whole path
        weights = "EMA weights" if info.is_ema else "raw weights"
        classes = f"{len(info.class_names)} classes" if info.class_names else "unconditional"
        self.info_label.setText(
            f"<b>{html.escape(where)}</b><br>step {info.step} · {weights}<br>"
            f"{model.resolution}×{model.resolution} · {classes} · "
            f"{len(info.attention_layers)} attention layer(s) in G"
        )
        self.info_label.setToolTip(info.checkpoint)
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        self.class_choice.addItem("all classes, in turn", None)
        for index, name in enumerate(info.class_names):
            self.class_choice.addItem(name, index)
        self.class_choice.blockSignals(False)
        conditional = bool(info.class_names) or model.num_classes > 0
        self.class_choice.setVisible(conditional)
        self.class_label.setVisible(conditional)

    def _on_class(self) -> None:
        if self.info is not None:
            self.draw()

    def truncation(self) -> Truncation:
        """What the ψ slider and the threshold say (``Truncation()``: none)."""
        threshold = self.threshold.value()
        if threshold > 0:  # 0 is "off"; between it and the smallest threshold, the smallest
            threshold = max(threshold, MIN_THRESHOLD)
        return Truncation(self.psi.value() / PSI_STEPS, threshold if threshold > 0 else None)

    def set_truncation(self, truncation: Truncation) -> None:
        self.psi.setValue(round(truncation.psi * PSI_STEPS))
        self.threshold.setValue(truncation.threshold or 0.0)

    def _show_psi(self) -> None:
        self.psi_label.setText(f"{self.psi.value() / PSI_STEPS:.2f}")

    def _on_truncation(self) -> None:
        self._show_psi()
        self.truncation_changed.emit(self.truncation())
        if self.info is not None:
            self.draw()

    def draw(self) -> None:
        label = self.class_choice.currentData()
        self.draw_requested.emit(self.count.value(), self.seed.value(), label, self.truncation())

    def new_seed(self) -> None:
        self.seed.setValue(random_seed(random) % (self.seed.maximum() + 1))
        self.draw()

    def step_seed(self, step: int) -> None:
        """Draw from the next (``step`` 1) or previous (-1) seed."""
        self.seed.setValue(next_seed(self.seed.value(), step))
        self.draw()
