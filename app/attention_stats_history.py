"""The attention statistics of a run, per layer, as NumPy columns over the sample steps,
from live AttentionStats events or from the run's metrics.csv. Pure NumPy: no Qt here."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from app.metric_history import cell_number, layer_columns, read_metrics_rows
from sagan_engine.events import AttentionStats, LayerAttentionStats
from sagan_engine.export import ATTENTION_STATISTICS, attention_column


class AttentionStatsHistory:
    """``steps(layer)`` and ``values(layer, statistic)`` of every layer seen, in step order."""

    def __init__(self) -> None:
        self._steps: dict[str, list[int]] = {}
        self._values: dict[str, dict[str, list[float]]] = {}

    def __len__(self) -> int:
        return max((len(steps) for steps in self._steps.values()), default=0)

    @property
    def layers(self) -> list[str]:
        return list(self._steps)

    def extend(self, events: Iterable[AttentionStats]) -> int:
        count = 0
        for event in events:
            for layer in event.layers:
                self._append(event.step, layer)
            count += 1
        return count

    def _append(self, step: int, layer: LayerAttentionStats) -> None:
        steps = self._steps.setdefault(layer.name, [])
        values = self._values.setdefault(layer.name, {s: [] for s in ATTENTION_STATISTICS})
        steps.append(step)
        for statistic in ATTENTION_STATISTICS:
            values[statistic].append(getattr(layer, statistic))

    def steps(self, layer: str) -> np.ndarray:
        return np.asarray(self._steps[layer], dtype=float)

    def values(self, layer: str, statistic: str) -> np.ndarray:
        return np.asarray(self._values[layer][statistic], dtype=float)

    def until(self, step: int) -> AttentionStatsHistory:
        """A copy of the statistics up to ``step`` (a run continued from its checkpoint at
        ``step`` measures the later ones again; its log may still hold the lost ones)."""
        kept = AttentionStatsHistory()
        kept.extend(event for event in self.to_events() if event.step <= step)
        return kept

    def last_step(self) -> int | None:
        return max((steps[-1] for steps in self._steps.values() if steps), default=None)

    def to_events(self) -> list[AttentionStats]:
        """The history as events again (e.g. for :func:`sagan_engine.export.save_metrics_csv`)."""
        by_step: dict[int, list[LayerAttentionStats]] = {}
        for name, steps in self._steps.items():
            for index, step in enumerate(steps):
                values = {s: self._values[name][s][index] for s in ATTENTION_STATISTICS}
                by_step.setdefault(step, []).append(LayerAttentionStats(name, **values))
        return [AttentionStats(step, tuple(layers)) for step, layers in sorted(by_step.items())]

    @classmethod
    def from_csv(cls, path: str | Path) -> AttentionStatsHistory:
        """The attention statistics of a run's ``metrics.csv``; rows whose cells are empty
        (steps without statistics) are skipped. Raises DataError."""
        path = Path(path)
        history = cls()
        rows = read_metrics_rows(path)
        if not rows or "step" not in rows[0]:
            return history
        header = rows[0]
        step_index = header.index("step")
        layers = layer_columns(header, "attention_entropy")
        columns = {
            layer: {s: header.index(attention_column(s, layer)) for s in ATTENTION_STATISTICS}
            for layer in layers
            if all(attention_column(s, layer) in header for s in ATTENTION_STATISTICS)
        }
        for row in rows[1:]:
            for layer, where in columns.items():
                cells = {s: row[i] if i < len(row) else "" for s, i in where.items()}
                if not any(cell.strip() for cell in cells.values()):
                    continue
                try:
                    values = {s: cell_number(c) for s, c in cells.items()}
                    step = int(float(row[step_index]))
                except (ValueError, IndexError):
                    continue  # a row cut short: left out (as the loss curves do)
                history._append(step, LayerAttentionStats(layer, **values))
        return history
