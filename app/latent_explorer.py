"""Moving through the latent space of an opened model while the attention maps follow: a path
between two latents (a strip of frames and a slider that moves the enlarged sample along it),
the enlarged sample under another class (a class-swap row for conditional models), random
nudges, and the path exported as an animation or a strip.

Every image comes from the inspector worker's thread (``InspectorWorker.run_task``); a newer
slider position replaces one not yet started, so only the latest renders, and background
renders (the path strip, the class-swap row) give way to it between two of G's layers. The
widgets keep "what to show" as plain engine data (:class:`LatentPosition`, a class, a
truncation). The layout lives in ``latent_explorer_layout``, exports in
``latent_path_export``, the work sent to the worker in ``latent_tasks``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QWidget

import app.latent_tasks as tasks
from app.attention_view import AttentionView
from app.explore_panel import ExplorePanel
from app.inspector_worker import AttentionReply, InspectorWorker, ModelInfo, SampleSet, TaskReply
from app.latent_explorer_layout import SLIDER_STEPS, LatentExplorerLayout
from app.latent_path_export import LatentPathExport
from sagan_engine.attention import Query
from sagan_engine.latent_paths import LatentPosition, SeedLatent, Truncation, random_seed

CLASS_ROW_DELAY_MS = 150  # the class-swap row waits for the slider to rest
# Classes per render. A slider's frame interrupts a chunk between two of G's layers, so it
# waits for one layer of a chunk: of one image, at most a tenth of a frame's render.
CLASS_CHUNK = 1


class LatentExplorer(LatentExplorerLayout, LatentPathExport, QWidget):
    """The "Latent space" view of explore mode; drives the inspector's enlarged sample."""

    attention_ready = Signal(object)  # AttentionReply of a frame with query points
    frame_shown = Signal(int)  # token of the frame just put in the inspector
    # The Frame (image, latent, class) now enlarged in the inspector in place of the grid's
    # sample: the window's other views of "the inspector's sample" follow it.
    sample_moved = Signal(object)
    path_written = Signal(str)
    export_failed = Signal(str, str)  # message, details

    def __init__(
        self,
        inspector: InspectorWorker,
        attention_view: AttentionView,
        explore_panel: ExplorePanel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.inspector = inspector
        self.attention_view = attention_view
        self.panel = explore_panel
        self.info: ModelInfo | None = None
        self.exporting: Path | None = None  # the file of a path export under way
        self.sample: SeedLatent | None = None  # the grid sample last enlarged
        self.sample_label: int | None = None
        self.position: LatentPosition | None = None  # where the enlarged sample is
        self.label: int | None = None
        self.active = False  # the enlarged sample is ours, not the grid's
        self.a = SeedLatent(0)
        self.b = SeedLatent(1)
        self._frames: dict[int, tuple[LatentPosition, str]] = {}  # asked, not yet shown
        self.shown_position: LatentPosition | None = None  # of the frame last shown
        self._class_row: list[np.ndarray] = []  # chunks of the row being rendered
        self._class_row_for: tuple | None = None  # what that row is of
        self._class_row_id = 0
        self._build()
        self._build_actions()
        self._class_timer = QTimer(self)
        self._class_timer.setSingleShot(True)
        self._class_timer.setInterval(CLASS_ROW_DELAY_MS)
        self._class_timer.timeout.connect(self._render_class_row)
        inspector.task_ready.connect(self._on_task)
        inspector.failed.connect(self._on_failed)
        inspector.task_dropped.connect(self._on_dropped)
        explore_panel.truncation_changed.connect(self._on_truncation)
        self.clear()

    # ================================================================== model and sample
    def set_model(self, info: ModelInfo) -> None:
        self.info = info
        self.sample, self.position, self.active = None, None, False
        classes = info.config.model.num_classes
        self.class_choice.blockSignals(True)
        self.class_choice.clear()
        for index in range(classes):
            name = info.class_names[index] if index < len(info.class_names) else f"class {index}"
            self.class_choice.addItem(name, index)
        self.class_choice.blockSignals(False)
        self.label = 0 if classes else None
        for widget in (self.class_choice, self.class_label, self.class_strip):
            widget.setVisible(classes > 0)
        self.setEnabled(True)
        for item in self.menu_actions:
            item.setEnabled(True)
        self.class_strip.clear("Click a sample to see it under every class.")
        self._show_where()
        self.render_path()

    def clear(self) -> None:
        """No model (training, or nothing opened): nothing to explore."""
        self.info = None
        self.sample, self.position, self.active = None, None, False
        self._class_timer.stop()
        self.strip.clear()
        self.class_strip.clear()
        self.setEnabled(False)
        for item in self.menu_actions:
            item.setEnabled(False)

    def set_sample(self, samples: SampleSet, index: int) -> None:
        """The grid's sample ``index`` is enlarged (a click, or the grid was drawn again)."""
        if self.info is None or samples.seed is None:
            return
        sample = SeedLatent(samples.seed, index, len(samples.images))
        label = None if samples.labels is None else int(samples.labels[index])
        if sample != self.sample or not self.active:
            # Another sample (a click, a new seed): the grid shows it, we start from it.
            path_class_changed = label != self.label
            self.sample, self.sample_label, self.label = sample, label, label
            self.position = LatentPosition(sample)
            self.active = False
            self._select_class(label)
            self._class_timer.start()
            if path_class_changed:  # the path is drawn in the enlarged sample's class
                self.render_path()
        self._show_where()

    def leave(self) -> None:
        """The user picked a grid sample: the grid's own sample is enlarged again."""
        self.active = False

    def render_focus(self) -> bool:
        """Render the enlarged sample where we moved it, with the inspector's query points;
        False when the grid's own sample is shown (the window's usual query then runs)."""
        if not self.active or self.info is None or self.position is None:
            return False
        queries: tuple[Query, ...] = tuple(self.attention_view.queries)
        truncation = self.panel.truncation()
        caption = self._describe(self.position, self.label, truncation)
        work = tasks.frame_work(self.position, self.label, truncation, queries)
        token = self.inspector.run_task("frame", work, tasks.FRAME_PRIORITY)
        self._frames[token] = (self.position, caption)
        return True

    def _move_to(self, position: LatentPosition, label: int | None) -> None:
        self.position, self.label, self.active = position, label, True
        self.render_focus()
        self._class_timer.start()
        self._show_where()

    # ================================================================== path
    def set_endpoint(self, which: str, latent: SeedLatent) -> None:
        setattr(self, which, latent)
        spin, label = (self.seed_a, self.label_a) if which == "a" else (self.seed_b, self.label_b)
        spin.blockSignals(True)
        spin.setValue(latent.seed)
        spin.blockSignals(False)
        label.setToolTip(latent.describe())
        label.setText(f"{which.upper()}{'*' if latent.count > 1 else ''}")
        self._on_path_changed()

    def use_enlarged(self, which: str) -> None:
        if self.sample is not None:
            self.set_endpoint(which, self.sample)

    def _on_path_changed(self) -> None:
        self.render_path()
        if self.active and self.position is not None and self.position.end is not None:
            self._on_slider(self.slider.value())

    def path_label(self) -> int | None:
        if self.info is None or not self.info.config.model.num_classes:
            return None
        return self.label if self.label is not None else 0

    def render_path(self) -> None:
        if self.info is None:
            return
        work = tasks.path_work(
            self.a,
            self.b,
            self.frames.value(),
            self.path_label(),
            not self.linear.isChecked(),
            self.panel.truncation(),
        )
        self.inspector.run_task("path", work, yields=True)

    def _on_slider(self, value: int) -> None:
        t = value / SLIDER_STEPS
        self.position_label.setText(f"{round(100 * t)}%")
        self.strip.set_current(round(t * (self.frames.value() - 1)))
        if self.info is None:
            return
        spherical = not self.linear.isChecked()
        self._move_to(LatentPosition(self.a, self.b, t, spherical), self.path_label())

    def _on_strip_click(self, index: int) -> None:
        position = round(index * SLIDER_STEPS / (self.frames.value() - 1))
        if position == self.slider.value():
            self._on_slider(position)
        self.slider.setValue(position)

    def step(self, frames: int) -> None:
        """Move the slider ``frames`` strip frames along the path."""
        per_frame = SLIDER_STEPS / (self.frames.value() - 1)
        self.slider.setValue(round(self.slider.value() + frames * per_frame))

    # ================================================================== class, nudge, seeds
    def _select_class(self, label: int | None) -> None:
        if label is None:
            return
        self.class_choice.blockSignals(True)
        self.class_choice.setCurrentIndex(label)
        self.class_choice.blockSignals(False)
        self.class_strip.set_current(label)

    def _on_class(self, index: int) -> None:
        if self.info is None or index < 0:
            return
        self.class_strip.set_current(index)
        self._move_to(self.position or LatentPosition(self.a), index)
        self.render_path()

    def nudge(self) -> None:
        if self.info is None:
            return
        position = self.position or LatentPosition(self.sample or self.a)
        nudges = position.nudges + ((random_seed(), self.nudge_step.value()),)
        self._move_to(replace(position, nudges=nudges), self.label)

    def reset(self) -> None:
        if self.info is not None and self.sample is not None:
            self._select_class(self.sample_label)
            self._move_to(LatentPosition(self.sample), self.sample_label)

    def walk(self, step: int) -> None:
        """Next (1) or previous (-1) seed: the grid is drawn again and its sample enlarged."""
        if self.info is not None:
            self.active = False
            self.panel.step_seed(step)

    def _on_truncation(self, _truncation: Truncation) -> None:
        if self.info is None:
            return
        self.render_path()
        if self.render_focus():
            self._class_timer.start()
        self._show_where()

    def _render_class_row(self, first: int = 0) -> None:
        """Render the class-swap row ``CLASS_CHUNK`` classes at a time, so that a slider
        move never waits behind a whole row."""
        if self.info is None or not self.info.config.model.num_classes:
            return
        position = self.position or (LatentPosition(self.sample) if self.sample else None)
        if position is None:
            return
        truncation = self.panel.truncation()
        if first == 0:
            self._class_row, self._class_row_for = [], (position, truncation)
            self._class_row_id += 1
        elif self._class_row_for != (position, truncation):
            return  # moved on: the timer starts a new row
        classes = range(first, min(first + CLASS_CHUNK, self.info.config.model.num_classes))
        work = tasks.class_row_work(self._class_row_id, position, truncation, classes)
        self.inspector.run_task("classes", work, yields=True)

    # ================================================================== replies
    def _on_task(self, reply: TaskReply) -> None:
        if self.info is None:
            return
        if reply.key == "frame":
            asked = self._frames.pop(reply.token, None)
            for token in [t for t in self._frames if t < reply.token]:
                del self._frames[token]  # replaced before they started
            if asked is None or not self.active:
                return
            frame = reply.result
            self.shown_position = asked[0]
            self.attention_view.show_sample(frame.image, asked[1], self.attention_view.queries)
            self.sample_moved.emit(frame)
            if frame.attention is not None:
                self.attention_ready.emit(AttentionReply(reply.token, frame.attention, reply.step))
            self.frame_shown.emit(reply.token)
        elif reply.key == "path":
            self.strip.set_images(reply.result)
            self.strip.set_current(
                round(self.slider.value() / SLIDER_STEPS * (len(reply.result) - 1))
            )
        elif reply.key == "classes":
            row, classes, images = reply.result
            if row != self._class_row_id:
                return  # a chunk of a row given up
            self._class_row.append(images)
            if classes.stop < self.info.config.model.num_classes:
                self._render_class_row(classes.stop)
            else:
                self.class_strip.set_images(np.concatenate(self._class_row))
                self.class_strip.set_current(self.label)
        elif reply.key == "export":
            self.export_finished()
            self.path_written.emit(str(reply.result))

    def _on_failed(self, what: str, message: str, details: str) -> None:
        if what == "task:export":
            self.export_finished()
            self.export_failed.emit(message, details)

    def _on_dropped(self, key: str) -> None:
        if key == "export" and self.exporting is not None:
            path = self.exporting
            self.export_finished()
            self.export_failed.emit(
                f"{path} was not written: another model was opened or training started "
                "before the export began. Export the path again.",
                "",
            )

    # ================================================================== captions
    def _describe(self, position: LatentPosition, label: int | None, truncation) -> str:
        if position.end is not None:
            kind = "spherical" if position.spherical else "linear"
            text = (
                f"Path {position.start.describe()} → {position.end.describe()} · "
                f"{round(100 * position.t)}% ({kind})"
            )
        else:
            text = position.start.describe().capitalize()
        if position.nudges:
            text += f" · {len(position.nudges)} nudge(s)"
        if label is not None and self.info is not None:
            names = self.info.class_names
            text += f" · {names[label] if label < len(names) else f'class {label}'}"
        if not truncation.is_identity:
            text += f" · {truncation.describe()}"
        if self.info is not None:
            text += f" · step {self.info.step}"
        return text

    def _show_where(self) -> None:
        if self.info is None:
            self.where.setText("")
        elif self.sample is None:
            self.where.setText("Click a sample of the grid to enlarge it.")
        elif self.active and self.position is not None:
            self.where.setText("Moved: " + self._describe(self.position, self.label, Truncation()))
        else:
            self.where.setText(f"Grid sample: {self.sample.describe()}")
