"""Exploring a trained model without its data: which model is open, and new samples from
seeds (and, for a class-conditional model, of one class)."""

from __future__ import annotations

import html
import random
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.inspector_worker import ModelInfo


class ExplorePanel(QGroupBox):
    draw_requested = Signal(int, int, object)  # count, seed, class index or None

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
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_seed_button)
        buttons.addWidget(self.draw_button)
        form = QFormLayout()
        form.addRow("Seed", self.seed)
        form.addRow("Samples", self.count)
        self.class_label = QLabel("Class")
        form.addRow(self.class_label, self.class_choice)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.info: ModelInfo | None = None

        self.new_seed_button.clicked.connect(self.new_seed)
        self.draw_button.clicked.connect(self.draw)
        self.class_choice.currentIndexChanged.connect(self._on_class)

    def set_model(self, info: ModelInfo) -> None:
        self.info = info
        model = info.config.model
        where = Path(info.run_dir).name if info.run_dir else Path(info.checkpoint).name
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

    def draw(self) -> None:
        label = self.class_choice.currentData()
        self.draw_requested.emit(self.count.value(), self.seed.value(), label)

    def new_seed(self) -> None:
        self.seed.setValue(random.randrange(self.seed.maximum()))
        self.draw()
