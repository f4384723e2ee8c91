"""The layout of a run folder: the one place that knows where each file of a run lives.

RUN/
  config.json           RunConfig (model, data, train)
  dataset.json          what the data scan found: image count, classes, skipped files
  metrics.csv           one row per StepStats event
  samples/step_000200.png
  checkpoints/step_001000.safetensors   weights + JSON metadata in the header
  snapshots/step_000050.safetensors     fp16 EMA generator, log-spaced (sagan_engine.snapshots)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import platformdirs

APP_NAME = "sagan-studio"
_CHECKPOINT_RE = re.compile(r"^step_(\d+)\.safetensors$")
_STEP_GRID = re.compile(r"step_\d+\.png")  # samples/step_NNNNNN.png, written while training


def default_runs_dir() -> Path:
    """Where runs go unless the user says otherwise (platformdirs user data dir)."""
    return platformdirs.user_data_path(APP_NAME) / "runs"


def new_run_name(preset: str) -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{preset}"


EVALUATION_FILE = "evaluation.json"  # the quality results a run keeps (sagan_engine.metrics)


class RunFolder:
    """Paths inside one run folder; creates nothing until :meth:`create` is called."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def dataset_path(self) -> Path:
        return self.path / "dataset.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def evaluation_path(self) -> Path:
        return self.path / EVALUATION_FILE

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def snapshots_dir(self) -> Path:
        return self.path / "snapshots"

    def snapshot_path(self, step: int) -> Path:
        return self.snapshots_dir / f"step_{step:06d}.safetensors"

    def sample_path(self, step: int) -> Path:
        return self.samples_dir / f"step_{step:06d}.png"

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints_dir / f"step_{step:06d}.safetensors"

    def create(self) -> RunFolder:
        for folder in (self.path, self.samples_dir, self.checkpoints_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest step first."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for entry in self.checkpoints_dir.iterdir():
            match = _CHECKPOINT_RE.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
        return [path for _, path in sorted(found)]

    def latest_checkpoint(self) -> Path | None:
        found = self.checkpoints()
        return found[-1] if found else None

    def is_run(self) -> bool:
        return self.config_path.is_file()

    @staticmethod
    def owner_of(path: str | Path) -> RunFolder | None:
        """The run whose own record ``path`` is (its config, data summary, log, evaluations,
        a checkpoint, a snapshot, or a sample grid of its training that timelapse and the
        window replay), None for any other path: an export, a file of the user's."""
        path = Path(path).expanduser()
        folder = path.parent
        if folder.name in ("checkpoints", "snapshots"):
            run = RunFolder(folder.parent)
            return run if path.suffix == ".safetensors" and run.is_run() else None
        if folder.name == "samples":
            run = RunFolder(folder.parent)
            return run if _STEP_GRID.fullmatch(path.name) and run.is_run() else None
        run = RunFolder(folder)
        records = (run.config_path, run.dataset_path, run.metrics_path, run.evaluation_path)
        return run if path.name in {record.name for record in records} and run.is_run() else None

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"
