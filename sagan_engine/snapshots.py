"""Compact snapshots of the EMA generator over training, and replaying attention through them.

While a run trains, :class:`SnapshotWriter` keeps ``RUN/snapshots/step_NNNNNN.safetensors``:
G's EMA copy in fp16 (G itself when EMA is off), an ordinary checkpoint file holding only
those tensors. The steps are log-spaced, 0 then 1, 2, 3, 5, 7 times each power of ten from
10 on (10, 20, 30, 50, 70, 100, 200, ...) plus the last step, so that early training, where
attention changes most, is dense. At most ``train.snapshots`` files are kept: when one more
arrives, the snapshot whose removal leaves the smallest gap in log(step) goes, so the
spacing stays even as a long run goes on.

:class:`SnapshotReplay` replays one latent and the same query pixels through a run's
snapshots (and through its regular checkpoints' G_ema, so older runs replay too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt_io
from .attention import AttentionResult, Query, attention_maps, fold_spectral_norm
from .config import RunConfig
from .errors import CheckpointError
from .models import Generator
from .runs import RunFolder

# Snapshot steps in each decade, as multiples of its power of ten.
DECADE_STEPS = (1, 2, 3, 5, 7)
FIRST_DECADE = 10  # below this the EMA copy has barely left its initial weights
_STEP_FILE = re.compile(r"^step_(\d+)\.safetensors$")


# ---------------------------------------------------------------------------- spacing
def is_snapshot_step(step: int) -> bool:
    """Whether the schedule takes a snapshot after ``step`` training steps."""
    if step == 0:
        return True
    if step < FIRST_DECADE:
        return False
    power = 10 ** (len(str(step)) - 1)
    return step % power == 0 and step // power in DECADE_STEPS


def scheduled_steps(up_to: int) -> list[int]:
    """The schedule's steps from 0 to ``up_to`` inclusive."""
    steps, power = [0], FIRST_DECADE
    while power <= up_to:
        steps += [m * power for m in DECADE_STEPS if m * power <= up_to]
        power *= 10
    return steps


def steps_to_prune(steps: Sequence[int], keep: int) -> list[int]:
    """Which of ``steps`` to delete so that ``keep`` remain, spaced as evenly as can be in
    log(1 + step). The first and the last step always stay."""
    if keep < 2:
        raise ValueError(f"keep at least 2 snapshots, not {keep}")
    remaining = sorted(set(steps))
    removed = []
    while len(remaining) > keep:
        logs = [math.log1p(s) for s in remaining]
        # Removing i merges its two gaps; take the i whose merged gap is smallest (earliest
        # on a tie), which thins the densest stretch first.
        i = min(range(1, len(remaining) - 1), key=lambda k: logs[k + 1] - logs[k - 1])
        removed.append(remaining.pop(i))
    return sorted(removed)


# ---------------------------------------------------------------------------- files
def step_files(folder: Path) -> list[tuple[int, Path]]:
    """The ``step_NNNNNN.safetensors`` files of ``folder`` as (step, path), by step."""
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = _STEP_FILE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found)


def save_snapshot(
    run: str | Path,
    step: int,
    config: RunConfig,
    class_names: Sequence[str],
    generator: torch.nn.Module,
    is_ema: bool = True,
) -> Path:
    """Write ``generator``'s weights (floating ones in fp16) as the run's snapshot of ``step``,
    atomically; the tensors are named ``G_ema/...`` (``G/...`` for a generator without EMA)."""
    prefix = "G_ema" if is_ema else "G"
    tensors = {
        f"{prefix}/{name}": value.detach().half() if value.is_floating_point() else value.detach()
        for name, value in generator.state_dict().items()
    }
    path = RunFolder(run).snapshot_path(step)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {"snapshot": True, "precision": "fp16", "is_ema": is_ema}
    return ckpt_io.save_checkpoint(path, step, config, list(class_names), tensors, extra)


def prune_snapshots(run: str | Path, keep: int) -> list[Path]:
    """Delete snapshot files beyond ``keep`` (see :func:`steps_to_prune`); returns them."""
    files = dict(step_files(RunFolder(run).snapshots_dir))
    gone = [files[step] for step in steps_to_prune(list(files), keep)]
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


class SnapshotWriter:
    """The trainer's hook: ``offer(step, G_ema)`` after each step writes the scheduled ones."""

    def __init__(
        self, run: str | Path, config: RunConfig, class_names: Sequence[str], keep: int
    ) -> None:
        if keep < 2:
            raise ValueError(f"keep at least 2 snapshots, not {keep}")
        self.run = Path(run)
        self.config = config
        self.class_names = list(class_names)
        self.keep = keep
        self.last_step: int | None = None

    def offer(
        self, step: int, generator: torch.nn.Module, is_ema: bool, final: bool = False
    ) -> Path | None:
        """Snapshot ``generator`` if ``step`` is on the schedule (or ``final``, the run's last
        step); returns the file written, if any."""
        if step == self.last_step or not (final or is_snapshot_step(step)):
            return None
        path = save_snapshot(self.run, step, self.config, self.class_names, generator, is_ema)
        self.last_step = step
        prune_snapshots(self.run, self.keep)
        return path


# ---------------------------------------------------------------------------- replay
@dataclass(frozen=True)
class SnapshotRef:
    """One generator state of a run, from a snapshot file or a regular checkpoint."""

    step: int
    path: Path
    source: str  # "snapshot" or "checkpoint"


def list_snapshots(run: str | Path) -> list[SnapshotRef]:
    """The generator states of ``run`` to replay, oldest first: its snapshot files, or, for
    a run that has none (trained before snapshots existed, or with ``train.snapshots = 0``),
    its regular checkpoints. A checkpoint file given instead of a folder is the only step,
    except the demo model, whose states over training ship beside it.
    """
    path = Path(run).expanduser()
    if not path.is_dir():
        file = ckpt_io.resolve_checkpoint(run)  # a checkpoint file (or the demo model)
        from .demo_model import shipped_snapshots_dir

        folder = shipped_snapshots_dir(file)  # None but for the demo model
        shipped = step_files(folder) if folder is not None else []
        if shipped:
            return [SnapshotRef(s, p, "snapshot") for s, p in shipped]
        return [SnapshotRef(ckpt_io.load_checkpoint(file).step, file, "checkpoint")]
    folder = RunFolder(path)
    refs = [SnapshotRef(s, p, "snapshot") for s, p in step_files(folder.snapshots_dir)]
    if not refs:
        refs = [SnapshotRef(s, p, "checkpoint") for s, p in step_files(folder.checkpoints_dir)]
    if not refs:
        raise CheckpointError(
            f"{path}: no snapshots or checkpoints to replay (expected "
            "snapshots/step_NNNNNN.safetensors or checkpoints/step_NNNNNN.safetensors)"
        )
    return refs


@dataclass(frozen=True)
class ReplayFrame:
    """The image and every layer's maps of the replayed latent, at one step of training."""

    step: int
    source: str  # "snapshot" or "checkpoint"
    result: AttentionResult


class SnapshotReplay:
    """Replays one latent (and class) and the same query pixels through a run's snapshots.

    Each state is read once and kept (fp16 snapshots are small); one folded generator is
    refilled per frame. Not thread-safe: use it from one thread.
    """

    def __init__(self, run: str | Path, device: str | torch.device = "cpu") -> None:
        self.run = Path(run).expanduser()
        self.device = torch.device(device)
        self.refs = list_snapshots(self.run)
        self.damaged: list[str] = []  # why states that could not be read were left out
        first = self._first_readable()
        self.config: RunConfig = first.config
        self.class_names: list[str] = list(first.class_names)
        self._states: dict[Path, dict[str, torch.Tensor]] = {}
        self._loader: Generator | None = None
        self._folded: Generator | None = None

    def _first_readable(self) -> ckpt_io.Checkpoint:
        """The first state that can be read (its config describes the run): one damaged file
        (a copy cut short) must not make the others unreachable."""
        for ref in self.refs:
            try:
                return ckpt_io.load_checkpoint(ref.path)
            except CheckpointError as err:
                self.damaged.append(str(err))
        raise CheckpointError(f"{self.run}: no state can be read: " + "; ".join(self.damaged))

    @property
    def steps(self) -> list[int]:
        return [ref.step for ref in self.refs]

    def refresh(self) -> None:
        """List the run's snapshots again (a training run keeps adding them). A checkpoint
        file replays its own step (or the demo model's shipped states): nothing to add, and
        listing it again would read the whole file for its step."""
        if self.run.is_dir():
            self.refs = list_snapshots(self.run)

    def generator(self, index: int) -> Generator:
        """The generator of frame ``index`` (eval mode, spectral norms folded)."""
        ref = self.refs[index]
        state = self._states.get(ref.path)
        if state is None:
            state = self._read_state(ref)
            self._states[ref.path] = state
        if self._loader is None:
            self._loader = Generator(self.config.model).to(self.device)
        ckpt_io.load_state(self._loader, state, "generator", ref.path)
        self._folded = fold_spectral_norm(self._loader, into=self._folded)
        return self._folded

    def _read_state(self, ref: SnapshotRef) -> dict[str, torch.Tensor]:
        ckpt = ckpt_io.load_checkpoint(ref.path, device=self.device)
        if ckpt.config.model != self.config.model:
            raise CheckpointError(
                f"{ref.path}: made for a different model than the rest of {self.run}"
            )
        return ckpt.state_dict("G_ema") or ckpt.state_dict("G")

    def frame(
        self,
        index: int,
        z: torch.Tensor | np.ndarray,
        y: int | None,
        queries: Query | Sequence[Query],
    ) -> ReplayFrame:
        """The image of ``z`` (class ``y``) and every layer's maps of ``queries`` at frame
        ``index`` (negative counts from the end)."""
        ref = self.refs[index]
        result = attention_maps(self.generator(index), z, y, queries)
        return ReplayFrame(ref.step, ref.source, result)

    def frames(
        self,
        z: torch.Tensor | np.ndarray,
        y: int | None,
        queries: Query | Sequence[Query],
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> list[ReplayFrame]:
        """One frame per snapshot, oldest first. ``progress(done, total)`` after each."""
        frames = []
        for index in range(len(self.refs)):
            if should_stop is not None and should_stop():
                break
            try:
                frames.append(self.frame(index, z, y, queries))
            except CheckpointError as err:  # a damaged state is left out and named
                if str(err) not in self.damaged:
                    self.damaged.append(str(err))
            if progress is not None:
                progress(index + 1, len(self.refs))
        if not frames and self.damaged and not (should_stop is not None and should_stop()):
            raise CheckpointError(f"{self.run}: no state can be read: " + "; ".join(self.damaged))
        return frames


def replay_attention(
    run: str | Path,
    z: torch.Tensor | np.ndarray,
    y: int | None,
    queries: Query | Sequence[Query],
    device: str | torch.device = "cpu",
) -> list[ReplayFrame]:
    """Attention maps of ``queries`` in the image of ``z`` at every snapshot of ``run``."""
    return SnapshotReplay(run, device).frames(z, y, queries)
