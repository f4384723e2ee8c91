"""The sample grid and the attention inspector of the main window: which sample is enlarged,
which pixels are queried, and the maps the inspector worker sends back. A mixin of
:class:`app.main_window.MainWindow`."""

from __future__ import annotations

import numpy as np

from app.inspector_worker import AttentionReply, SampleSet
from app.modes import EXPLORE
from sagan_engine.attention import Query
from sagan_engine.demo_model import demo_first_look
from sagan_engine.latent_paths import Frame

# On the first start the demo model's grid comes up with a sample enlarged and one pixel of
# it queried: maps on screen before the first click. The shipped model names its sample
# (resources/demo_model/first_look.json); without it, the first face and this pixel.
FIRST_LOOK_CLASS = "faces"
FIRST_LOOK_QUERY: Query = (11, 11)


class WindowInspection:
    """Shows samples and asks for their attention maps (``self`` is the main window)."""

    def _show_samples(self, samples: SampleSet, caption: str) -> None:
        self.samples = samples
        self.sample_view.set_samples(samples.images, caption)
        if self.first_look_pending:
            self.first_look_pending = False
            self.inspect(*self._first_look(samples))
        elif self.selected is not None and self.selected < len(samples.images):
            self.sample_view.select(self.selected)
            self._show_selected(self.attention_view.queries)
        elif self.selected is not None:  # fewer samples drawn: the enlarged one is gone
            self.selected = None
            self.attention_result = None
            self.attention_view.clear()
        self._update_actions()

    def _first_look(self, samples: SampleSet) -> tuple[int, list[Query]]:
        """The sample to enlarge and the pixel to query on the first start."""
        chosen = demo_first_look()
        if chosen is not None and chosen.seed == samples.seed and chosen.sample < len(samples.z):
            return chosen.sample, [chosen.query]
        return self._first_of_class(samples), [FIRST_LOOK_QUERY]

    def _first_of_class(self, samples: SampleSet) -> int:
        """The first sample of the class most recognisable at a glance (the demo model's
        faces), else the first."""
        if samples.labels is not None and FIRST_LOOK_CLASS in self.class_names:
            label = self.class_names.index(FIRST_LOOK_CLASS)
            found = np.flatnonzero(np.asarray(samples.labels) == label)
            if len(found):
                return int(found[0])
        return 0

    def _on_sample_clicked(self, index: int, row: int, col: int) -> None:
        self.inspect(index, [(row, col)])

    def inspect(self, index: int, queries: list[Query]) -> None:
        """Enlarge sample ``index`` in the inspector and query these pixels of it."""
        if self.samples is None or not 0 <= index < len(self.samples.images):
            return
        self.selected = index
        self.sample_view.select(index)
        self.latent_explorer.leave()
        self._show_selected(queries)

    def _show_selected(self, queries: list[Query]) -> None:
        assert self.samples is not None and self.selected is not None
        samples, index = self.samples, self.selected
        caption = f"Sample {index + 1}"
        if samples.labels is not None:
            names = self.class_names
            label = int(samples.labels[index])
            caption += f" · {names[label] if label < len(names) else f'class {label}'}"
        if samples.step is not None:
            caption += f" · step {samples.step}"
        label = None if samples.labels is None else int(samples.labels[index])
        self._followed_latent = None  # the grid's sample again
        self.attention_tools.set_sample(samples.z[index], label)
        self.latent_explorer.set_sample(samples, index)
        self.attention_view.show_sample(samples.images[index], caption, queries)
        self.d_view.set_sample(samples.images[index])
        self.request_attention()

    def _follow_moved_sample(self, frame: Frame) -> None:
        """The latent explorer moved the enlarged sample off the grid: the analysis tabs, D's
        view and the replay over training take the image and latent now shown, not the
        grid's sample they had. Frames of the same latent (a query clicked, the truncation
        or the class row) leave them as they are: nothing for them to compute again."""
        followed = getattr(self, "_followed_latent", None)
        if (
            followed is not None
            and followed[1] == frame.label
            and np.array_equal(followed[0], frame.z)
        ):
            return
        self._followed_latent = (np.array(frame.z, copy=True), frame.label)
        self.attention_tools.set_sample(frame.z, frame.label)
        self.d_view.set_sample(frame.image)
        self.replay_view.set_subject(
            self._inspected_run(), frame.z, frame.label, self.attention_view.queries
        )

    def request_attention(self) -> None:
        queries = self.attention_view.queries
        if not queries:  # "Clear points": the query grid's maps go with them
            self.attention_tools.query_grid.clear()
        if self.latent_explorer.render_focus():  # the enlarged sample was moved off the grid
            return
        if self.samples is None or self.selected is None or not queries:
            return
        label = None if self.samples.labels is None else int(self.samples.labels[self.selected])
        self.inspector.query_attention(self.samples.z[self.selected], label, queries)
        self.replay_view.set_subject(
            self._inspected_run(), self.samples.z[self.selected], label, queries
        )

    def _inspected_run(self) -> str | None:
        """The run folder (or checkpoint) the inspector's generator comes from."""
        if self.mode == EXPLORE and self.model_info is not None:
            return self.model_info.run_dir or self.model_info.checkpoint
        return self.run_dir

    def _training_thumbnails(self) -> np.ndarray | None:
        summary = self.data_panel.summary
        return None if summary is None else summary.thumbnails

    def _on_attention(self, reply: AttentionReply) -> None:
        self.attention_view.show_result(reply.result)
        if self.attention_view.result is reply.result:
            self.attention_result = reply.result
            grid_step = None if self.samples is None else self.samples.step
            note = ""
            if reply.step is not None and grid_step is not None and reply.step != grid_step:
                # Training went on after the grid was drawn: the enlarged image and its maps
                # come from newer weights, so say so rather than let them pass as the grid's.
                note = f"Image and maps from step {reply.step} (the grid is from step {grid_step})."
            self.attention_view.set_source_note(note)
            self._update_actions()

    def _on_inspector_failed(self, what: str, message: str, details: str) -> None:
        if what == "load":
            self.show_error("Cannot open the model", message, details)
            if self.mode == EXPLORE and self.model_info is not None:
                self._show_exploring_state()  # the model explored before is still there
            else:
                self._set_state_text("Ready")
        elif what == "samples" and self.samples is None:  # in place of "Drawing samples…"
            self.sample_view.clear(f"Cannot draw samples: {message}")
        elif not what.startswith("task:"):  # a view's own task: that view says what failed
            self.statusBar().showMessage(f"Inspector: {message}", 8000)
