"""What D looks at: pick an image (the inspector's sample, a training thumbnail or a file),
click a pixel, and see the discriminator's attention map of that pixel in each of D's attention
layers, with D's score for the image (per class, with its projection term, for a conditional
model). D comes from the run's latest checkpoint and runs on the inspector's worker thread;
a file that holds no D (a generator exported on its own) is said so plainly."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.data_panel import pixmap_of
from app.image_items import ClickableImage, fit, image_view_box, title_label
from app.inspector_worker import InspectorWorker, TaskReply
from app.jobs import Job, JobRunner, ShownContent
from app.style import ERROR, MUTED
from sagan_engine.attention import Query
from sagan_engine.d_attention import (
    DAttentionResult,
    discriminator_attention,
    image_for_discriminator,
    load_discriminator,
)
from sagan_engine.export import attention_figure

TASK_KEY = "d_attention"


class _DiscriminatorCache:
    """D of one checkpoint, reloaded when the file changes; used on the worker thread only."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._loaded = None

    def answer(
        self, model: str, image: np.ndarray, query: Query
    ) -> tuple[DAttentionResult, np.ndarray, int]:
        from sagan_engine.checkpoint import resolve_checkpoint

        path = resolve_checkpoint(model)
        key = (str(path), path.stat().st_mtime_ns)
        if key != self._key:
            self._loaded, self._key = None, None
            self._loaded = load_discriminator(path)
            self._key = key
        loaded = self._loaded
        resolution = loaded.config.model.resolution
        # The shown image is square (samples, thumbnails, files decoded as for training):
        # the clicked pixel scales to D's resolution with it.
        query = (query[0] * resolution // image.shape[0], query[1] * resolution // image.shape[1])
        image = image_for_discriminator(image, resolution)
        result = discriminator_attention(
            loaded.discriminator, image, query, class_names=loaded.class_names
        )
        return result, np.asarray(attention_figure(result.attention)), loaded.step


class DAttentionView(QWidget):
    """Set the model with :meth:`set_model`, images with :meth:`set_sample` / thumbnails."""

    answered = Signal(object)  # DAttentionResult

    def __init__(
        self,
        inspector: InspectorWorker,
        thumbnails: Callable[[], np.ndarray | None] = lambda: None,
        jobs: JobRunner | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self._inspector = inspector
        self._jobs = jobs or JobRunner(self, threads=1)
        self._chosen = ShownContent()  # a file still decoding loses to an image chosen since
        self._thumbnails = thumbnails
        self._cache = _DiscriminatorCache()
        self.model: str | None = None
        self.sample: np.ndarray | None = None
        self.image: np.ndarray | None = None
        self.image_name = ""
        self.query: Query | None = None
        self.result: DAttentionResult | None = None
        self._asked_while_hidden = False

        self.caption = title_label("What D looks at")
        self.sample_button = QPushButton("Inspector's sample")
        self.sample_button.setToolTip("The generated sample enlarged in the inspector")
        self.file_button = QPushButton("Image file…")
        self.file_button.setToolTip("Any image, brought to the model's resolution as in training")
        header = QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(self.sample_button)
        header.addWidget(self.file_button)
        self.training_images = QListWidget()
        self.training_images.setViewMode(QListWidget.ViewMode.IconMode)
        self.training_images.setIconSize(QSize(40, 40))
        self.training_images.setFlow(QListWidget.Flow.LeftToRight)
        self.training_images.setWrapping(False)
        self.training_images.setFixedHeight(64)
        self.training_images.setToolTip("Training images (the data panel's thumbnails)")

        self.input_view = pg.GraphicsLayoutWidget()
        self.input_box = image_view_box(self.input_view)
        self.input_image = ClickableImage()
        self.input_image.setToolTip("Click a pixel: D's attention maps of that pixel")
        self.input_box.addItem(self.input_image)
        self.marker = pg.ScatterPlotItem(size=14, pen=pg.mkPen("w", width=2), brush="r")
        self.input_box.addItem(self.marker)
        self.maps_view = pg.GraphicsLayoutWidget()
        self.maps_box = image_view_box(self.maps_view)
        self.maps_image = pg.ImageItem()
        self.maps_box.addItem(self.maps_image)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.input_view)
        splitter.addWidget(self.maps_view)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([250, 500])  # the maps hold the image plus one panel per layer
        self.score_label = QLabel("")
        self.score_label.setWordWrap(True)
        self.score_label.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel("Pick an image, then click one of its pixels.")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {MUTED};")
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.training_images)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.score_label)
        layout.addWidget(self.status)

        self.sample_button.clicked.connect(self.use_sample)
        self.file_button.clicked.connect(self._choose_file)
        self.training_images.itemClicked.connect(self._on_thumbnail)
        self.input_image.clicked.connect(self._on_click)
        inspector.task_ready.connect(self._on_reply)
        inspector.failed.connect(self._on_failed)
        self.refresh_thumbnails()

    # ------------------------------------------------------------------ inputs
    def set_model(self, model: str | None) -> None:
        """The run folder or checkpoint whose D answers (None: none)."""
        self.model = model
        self._request()

    def set_sample(self, image: np.ndarray | None) -> None:
        """The inspector's current sample, offered by the "Inspector's sample" button."""
        self.sample = image
        self.sample_button.setEnabled(image is not None)
        if self.image is None and image is not None:
            self.use_sample()

    def use_sample(self) -> None:
        if self.sample is not None:
            self.set_image(self.sample, "generated sample")

    def refresh_thumbnails(self) -> None:
        self.training_images.clear()
        thumbnails = self._thumbnails()
        for index, thumb in enumerate([] if thumbnails is None else thumbnails):
            item = QListWidgetItem(QIcon(pixmap_of(thumb)), "")
            item.setData(Qt.ItemDataRole.UserRole, index)
            self.training_images.addItem(item)
        self.training_images.setVisible(self.training_images.count() > 0)

    def _on_thumbnail(self, item: QListWidgetItem) -> None:
        thumbnails = self._thumbnails()
        index = item.data(Qt.ItemDataRole.UserRole)
        if thumbnails is not None and index < len(thumbnails):
            self.set_image(thumbnails[index], f"training image {index + 1}")

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "An image for D", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif)"
        )
        if path:
            self.set_image_file(path)

    def set_image_file(self, path: str | Path) -> Job:
        """Decode ``path`` in the background (a photo of 50 megapixels takes a second or two)
        and show it; a file that cannot be read is named in the status line."""
        size = self._resolution_hint()
        job = self._jobs.start(lambda job: image_for_discriminator(path, size), "D image")
        job.succeeded.connect(
            self._chosen.guard(lambda image: self.set_image(image, Path(path).name))
        )
        job.failed.connect(self._chosen.guard(lambda message, _d: self._say(message, error=True)))
        self._say(f"Reading {Path(path).name}…")
        return job

    def _resolution_hint(self) -> int:
        # The file is shown at this size; the worker brings it to D's resolution anyway.
        return 128

    def set_image(self, image: np.ndarray, name: str) -> None:
        self._chosen.replaced()
        self.image, self.image_name = np.ascontiguousarray(image), name
        self.input_image.setImage(self.image, autoLevels=False, levels=(0, 255))
        fit(self.input_box, image.shape[1], image.shape[0])
        height, width = image.shape[:2]
        if self.query is None or not (0 <= self.query[0] < height and 0 <= self.query[1] < width):
            self.query = (height // 2, width // 2)
        self._show_marker()
        self._request()

    def _on_click(self, x: float, y: float, _button) -> None:
        if self.image is None:
            return
        row, col = int(y), int(x)
        if 0 <= row < self.image.shape[0] and 0 <= col < self.image.shape[1]:
            self.query = (row, col)
            self._show_marker()
            self._request()

    def _show_marker(self) -> None:
        if self.query is not None:
            self.marker.setData(x=[self.query[1] + 0.5], y=[self.query[0] + 0.5])

    def _request(self) -> None:
        if self.model is None:
            self._say("Train or open a run to see its discriminator.")
            return
        if self.image is None or self.query is None:
            return
        self._asked_while_hidden = not self.isVisible()
        if self._asked_while_hidden:
            return  # a hidden view asks nothing: showing it asks (showEvent)
        model, image, cache, query = self.model, self.image, self._cache, self.query
        self._say("Asking D…")
        self._inspector.run_task(TASK_KEY, lambda _g: cache.answer(model, image, query))

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._asked_while_hidden:
            self._request()

    # ------------------------------------------------------------------ answers
    def _on_reply(self, reply: TaskReply) -> None:
        if reply.key != TASK_KEY:
            return
        result, figure, step = reply.result
        self.result = result
        self.maps_image.setImage(figure, autoLevels=False, levels=(0, 255))
        fit(self.maps_box, figure.shape[1], figure.shape[0])
        self.score_label.setText(score_html(result))
        self._say(f"{self.image_name} · D of step {step}")
        self.answered.emit(result)

    def _on_failed(self, what: str, message: str, _details: str) -> None:
        if what == f"task:{TASK_KEY}":
            self.result = None
            self.maps_image.clear()
            self.score_label.setText("")
            self._say(message, error=True)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {ERROR if error else MUTED};")


def score_html(result: DAttentionResult) -> str:
    """D's score as one line, or one line per class (highest first) for a conditional D."""
    score = result.score
    if score.per_class is None:
        return f"<b>D(x) = {score.psi:+.3f}</b> (higher: more real to D)"
    names = score.class_names or tuple(f"class {i}" for i in range(len(score.per_class)))
    order = np.argsort(-score.per_class)
    rows = " · ".join(
        f"{html.escape(names[i])} <b>{score.per_class[i]:+.3f}</b>"
        f" <span style='color:{MUTED}'>(proj {score.projection[i]:+.3f})</span>"
        for i in order
    )
    return f"D(x, y) = ψ {score.psi:+.3f} + projection y: {rows}"
