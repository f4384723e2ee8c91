"""What one attention layer adds to the inspected image: per layer of G a "Without …" toggle;
with one on, the image, the same latent rendered without that layer's gamma * o, and a heatmap
of where they differ, side by side. Rendered by the inspector worker, never on the GUI thread
(sagan_engine.attention_ablation)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.image_items import PlaceholderStack, fit, image_view_box
from app.style import MUTED
from sagan_engine.attention_ablation import AblationResult, render_without_attention
from sagan_engine.export import heat_colours, normalise_map

TASK = "ablation"
TITLES = ("Normal", "Without the layer", "|Difference|")


class AblationView(QWidget):
    """Give it the inspected latent with :meth:`set_sample` and the layers with
    :meth:`set_layers`; toggling a layer asks ``inspector`` (an InspectorWorker) to render."""

    shown = Signal(object)  # the AblationResult now on screen

    def __init__(self, inspector, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inspector = inspector
        self.sample: tuple[np.ndarray, int | None] | None = None
        self.result: AblationResult | None = None
        self.buttons: dict[str, QPushButton] = {}
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)  # exclusive by hand: a second click turns it off
        self.button_row = QHBoxLayout()
        self.button_row.addWidget(QLabel("Render without:"))
        self.button_row.addStretch(1)
        self.caption = QLabel("")
        self.caption.setStyleSheet(f"color: {MUTED};")
        self.graphics = pg.GraphicsLayoutWidget()
        self.images: list[pg.ImageItem] = []
        self.labels = []
        for col, title in enumerate(TITLES):
            self.labels.append(self.graphics.addLabel(title, row=0, col=col, size="9pt"))
            box = image_view_box(self.graphics, row=1, col=col)
            item = pg.ImageItem()
            box.addItem(item)
            self.images.append(item)
        self.stack = PlaceholderStack(
            "Pick a sample and toggle a layer above: the same latent rendered without that "
            "layer's γ·o, and where the image changes.",
            self.graphics,
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.button_row)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        inspector.task_ready.connect(self._on_reply)
        inspector.failed.connect(self._on_failed)

    # ------------------------------------------------------------------ inputs
    def set_layers(self, names: list[str] | tuple[str, ...]) -> None:
        if list(names) == list(self.buttons):
            return
        for button in self.buttons.values():
            self.group.removeButton(button)
            button.deleteLater()
        self.buttons = {}
        for name in names:
            button = QPushButton(f"Without {name}")
            button.setCheckable(True)
            button.setToolTip(f"Render the image with {name}'s γ·o removed (y = x there)")
            button.toggled.connect(lambda on, name=name: self._on_toggled(name, on))
            self.group.addButton(button)
            self.button_row.insertWidget(self.button_row.count() - 1, button)
            self.buttons[name] = button
        self._show_nothing()

    def clear(self) -> None:
        """No sample (another model, or training began): not the last one's pictures."""
        self.sample = None
        for item in self.images:
            item.clear()
        self._show_nothing()

    def set_sample(self, z: np.ndarray, label: int | None) -> None:
        self.sample = (np.asarray(z).copy(), label)
        self._request()

    @property
    def layer(self) -> str | None:
        """The layer toggled off now, if any."""
        return next((name for name, b in self.buttons.items() if b.isChecked()), None)

    def toggle(self, name: str) -> None:
        self.buttons[name].toggle()

    # ------------------------------------------------------------------ work
    def _on_toggled(self, name: str, on: bool) -> None:
        if on:
            for other, button in self.buttons.items():
                if other != name and button.isChecked():
                    button.blockSignals(True)
                    button.setChecked(False)
                    button.blockSignals(False)
        self._request()

    def _request(self) -> None:
        layer = self.layer
        if layer is None or self.sample is None:
            self._show_nothing()
            return
        z, label = self.sample
        self.caption.setText(f"Rendering without {layer}…")
        self.inspector.run_task(TASK, lambda g: render_without_attention(g, z, label, layer))

    def _on_failed(self, what: str, message: str, _details: str) -> None:
        if what == f"task:{TASK}":  # said where the answer would have been, not left waiting
            self.caption.setText(f"Cannot compute this: {message}")

    def _on_reply(self, reply) -> None:
        if reply.key != TASK or self.layer is None:
            return
        result: AblationResult = reply.result
        if result.layer != self.layer:
            return  # the user moved on; the newer answer is on its way
        self.result = result
        height, width = result.image.shape[:2]
        heat = heat_colours(normalise_map(result.difference))
        for item, picture in zip(self.images, (result.image, result.ablated, heat), strict=True):
            item.setImage(picture, autoLevels=False, levels=(0, 255))
            fit(item.getViewBox(), width, height)
        self.labels[1].setText(f"Without {result.layer}")
        peak, mean = float(result.difference.max()), float(result.difference.mean())
        self.labels[2].setText(f"|Difference| (max {peak:.3f})")
        self.caption.setText(
            f"{result.layer} changes the image by {mean:.4f} on average, {peak:.3f} at most "
            "(fraction of the colour range); the heatmap is scaled to its largest change."
        )
        self.stack.show_content()
        self.shown.emit(result)

    def _show_nothing(self) -> None:
        self.result = None
        self.caption.setText("")
        self.stack.show_hint()
