"""The attention analysis panel: statistics over training, the query grid, all pixels of a
layer, and the image without a layer, as tabs. It follows the inspector: the sample enlarged
there (:meth:`set_sample`) and the maps the inspector worker answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QTabWidget, QWidget

from app.ablation_view import AblationView
from app.all_pixels_view import AllPixelsView
from app.attention_stats_history import AttentionStatsHistory
from app.attention_stats_view import AttentionStatsView
from app.jobs import ShownContent
from app.query_grid_view import QueryGridView


class AttentionTools(QTabWidget):
    def __init__(self, inspector, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats_view = AttentionStatsView()
        self.query_grid = QueryGridView()
        self.all_pixels = AllPixelsView(inspector)
        self.ablation = AblationView(inspector)
        self.addTab(self.stats_view, "Statistics over training")
        self.addTab(self.query_grid, "Query grid")
        self.addTab(self.all_pixels, "All pixels of a layer")
        self.addTab(self.ablation, "Without a layer")
        inspector.attention_ready.connect(self.show_attention)
        self.shown = ShownContent()

    def show_attention(self, reply) -> None:
        """Maps of the inspector's sample: the grid's (the inspector worker) or one the latent
        explorer moved (connected by the window)."""
        result = reply.result
        self.query_grid.show_result(result)
        names = [layer.name for layer in result.layers]
        self.ablation.set_layers(names)
        self.all_pixels.set_layers(names)

    def set_sample(self, z: np.ndarray, label: int | None) -> None:
        """The latent (and class) of the sample the inspector shows."""
        self.ablation.set_sample(z, label)
        self.all_pixels.set_sample(z, label)

    def load_run_metrics(self, jobs, metrics: str | Path, resumed_at: int | None = None) -> None:
        """Read a run's attention statistics from its metrics.csv in the background.
        ``resumed_at``: the run goes on from its checkpoint at that step, so the statistics
        up to it go before those streaming in (as the training curves do)."""

        def read(job) -> AttentionStatsHistory:
            history = AttentionStatsHistory.from_csv(metrics)
            return history if resumed_at is None else history.until(resumed_at)

        job = jobs.start(read, "attention-stats")
        show = (
            self.stats_view.set_history if resumed_at is None else self.stats_view.prepend_history
        )
        job.succeeded.connect(self.shown.guard(show))
        job.failed.connect(
            self.shown.guard(lambda message, _d: self.stats_view.show_problem(message))
        )

    def clear(self) -> None:
        self.shown.replaced()  # a log still being read belongs to the model before
        self.stats_view.clear()
        self.query_grid.clear()
        self.all_pixels.clear()
        self.ablation.clear()
