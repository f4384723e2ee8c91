"""The training statistics of one run as growing NumPy columns (memory stays flat: no list of
event objects), with conversion back to StepStats for the CSV export and a reader for a run's
``metrics.csv``. Pure NumPy: no Qt here."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sagan_engine.errors import DataError
from sagan_engine.events import StepStats
from sagan_engine.export import read_metrics_rows as read_csv_rows

# The scalar fields of StepStats, in order; gammas are kept per layer beside them.
FIELDS = (
    "step",
    "loss_d",
    "loss_g",
    "d_real",
    "d_fake",
    "images_per_s",
    "seconds_per_step",
    "elapsed_s",
    "eta_s",
)


class MetricHistory:
    """Columns of float64 that double their capacity when full."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self.clear()

    def clear(self) -> None:
        self._n = 0
        self._columns = {name: np.empty(self._capacity) for name in FIELDS}
        self._gammas: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def gamma_names(self) -> list[str]:
        return list(self._gammas)

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one column (a StepStats field) of the points so far."""
        view = self._columns[name][: self._n]
        view.flags.writeable = False
        return view

    def gamma(self, layer: str) -> np.ndarray:
        view = self._gammas[layer][: self._n]
        view.flags.writeable = False
        return view

    def _grow(self, needed: int) -> None:
        capacity = len(self._columns["step"])
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        for table in (self._columns, self._gammas):
            for name, old in table.items():
                new = np.full(capacity, np.nan)
                new[: self._n] = old[: self._n]
                table[name] = new

    def _gamma_column(self, layer: str) -> np.ndarray:
        if layer not in self._gammas:
            self._gammas[layer] = np.full(len(self._columns["step"]), np.nan)
        return self._gammas[layer]

    def extend(self, stats: Iterable[StepStats]) -> int:
        """Append events; returns how many were added."""
        items = list(stats)
        if not items:
            return 0
        start = self._n
        self._grow(start + len(items))
        for offset, s in enumerate(items):
            row = start + offset
            for name in FIELDS:
                self._columns[name][row] = getattr(s, name)
            for layer, value in s.gammas.items():
                self._gamma_column(layer)[row] = value
        self._n = start + len(items)
        return len(items)

    def until(self, step: int) -> MetricHistory:
        """A copy of the points up to ``step`` (a run continued from its checkpoint at
        ``step`` trains the later ones again; its log may still hold the lost ones)."""
        kept = self.copy()
        kept._n = int(np.searchsorted(self.column("step"), step, side="right"))
        return kept

    def copy(self) -> MetricHistory:
        """An independent copy (cheap: one array copy per column)."""
        other = MetricHistory.__new__(MetricHistory)
        other._capacity = self._capacity
        other._n = self._n
        other._columns = {k: v[: self._n].copy() for k, v in self._columns.items()}
        other._gammas = {k: v[: self._n].copy() for k, v in self._gammas.items()}
        return other

    def last(self) -> StepStats | None:
        return self.step_stats(self._n - 1) if self._n else None

    def step_stats(self, index: int) -> StepStats:
        values = {name: float(self._columns[name][index]) for name in FIELDS}
        gammas = {
            layer: float(column[index])
            for layer, column in self._gammas.items()
            if math.isfinite(column[index])
        }
        return StepStats(step=int(values.pop("step")), gammas=gammas, **values)

    def to_step_stats(self) -> list[StepStats]:
        """Every point as a StepStats event (for :func:`sagan_engine.export.save_metrics_csv`)."""
        return [self.step_stats(i) for i in range(self._n)]

    @classmethod
    def from_csv(cls, path: str | Path) -> MetricHistory:
        """Read a run's ``metrics.csv`` (as written by the trainer); raises DataError."""
        path = Path(path)
        history = cls()
        rows = read_metrics_rows(path)
        if not rows:
            return history
        header = rows[0]
        if "step" not in header:
            raise DataError(f"{path}: not a metrics file (no 'step' column)")
        gamma_columns = layer_columns(header, "gamma")
        index = {name: header.index(name) for name in FIELDS if name in header}
        events = []
        for row in rows[1:]:
            try:
                # Empty cells: a value not computed at this step (e.g. a row of statistics
                # taken only at sample steps); a row without any StepStats field is skipped.
                values = {name: cell_number(row[i]) for name, i in index.items()}
                gammas = {layer: cell_number(row[i]) for layer, i in gamma_columns.items()}
            except (ValueError, IndexError):
                # A row cut short (the run was killed, or the power failed, while writing):
                # left out, rather than losing the whole log for one line.
                continue
            if all(math.isnan(v) for name, v in values.items() if name != "step"):
                continue
            events.append(
                StepStats(
                    step=int(values.get("step", 0)),
                    loss_d=values.get("loss_d", math.nan),
                    loss_g=values.get("loss_g", math.nan),
                    d_real=values.get("d_real", math.nan),
                    d_fake=values.get("d_fake", math.nan),
                    gammas={k: v for k, v in gammas.items() if math.isfinite(v)},
                    images_per_s=values.get("images_per_s", math.nan),
                    seconds_per_step=values.get("seconds_per_step", math.nan),
                    elapsed_s=values.get("elapsed_s", math.nan),
                    eta_s=values.get("eta_s", math.nan),
                )
            )
        history.extend(events)
        return history


def read_metrics_rows(path: Path) -> list[list[str]]:
    """The rows of a run's ``metrics.csv``, header first; raises DataError naming the file."""
    try:
        return read_csv_rows(path)
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the metrics ({err})") from None


def layer_columns(header: list[str], prefix: str) -> dict[str, int]:
    """Layer name -> column index of the per-layer columns ``prefix[LAYER]`` of ``header``."""
    return {
        name[len(prefix) + 1 : -1]: i
        for i, name in enumerate(header)
        if name.startswith(prefix + "[") and name.endswith("]")
    }


def cell_number(cell: str) -> float:
    """A metrics.csv cell as a float; an empty cell is NaN (a value not computed that step)."""
    return float(cell) if cell.strip() else math.nan


class Smoother:
    """Debiased exponential moving average (TensorBoard's smoothing), computed incrementally:
    each call only processes the points added since the previous one. NaNs are skipped."""

    def __init__(self, weight: float = 0.0) -> None:
        self.weight = weight
        self.reset()

    def reset(self) -> None:
        self._out = np.empty(0)
        self._done = 0
        self._last = 0.0
        self._debias = 0.0

    def __call__(self, values: np.ndarray) -> np.ndarray:
        w = self.weight
        if w <= 0:
            return values
        n = len(values)
        if n < self._done:  # the history was cleared
            self.reset()
        if len(self._out) < n:
            grown = np.empty(max(n, 2 * len(self._out), 256))
            grown[: self._done] = self._out[: self._done]
            self._out = grown
        last, debias, out = self._last, self._debias, self._out
        for i in range(self._done, n):
            value = float(values[i])
            if value == value:  # not NaN
                last = w * last + (1 - w) * value
                debias = w * debias + (1 - w)
            out[i] = last / debias if debias > 0 else math.nan
        self._last, self._debias, self._done = last, debias, n
        return out[:n]
