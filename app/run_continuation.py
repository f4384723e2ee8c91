"""Continue a run from the window: what to train, from which checkpoint, on which data.

The window's "Continue training" resumes a run folder exactly as the CLI's ``--resume`` does
(the trainer restores G, D, their optimizers, the EMA and the random stream). This module
works out the request from the run folder and tells the window, in one line, what stands in
the way (no checkpoint, too few steps, data folder moved). It reads two small files and lists
one folder, and never imports PyTorch's heavy parts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.training_worker import TrainingRequest
from sagan_engine.config import RunConfig
from sagan_engine.errors import ConfigError
from sagan_engine.runs import RunFolder


class CannotContinue(Exception):
    """The run cannot be continued; the message says why and what to do."""


@dataclass(frozen=True)
class Continuation:
    request: TrainingRequest
    from_step: int
    checkpoint: Path


def checkpoint_step(path: Path) -> int:
    """The step in a checkpoint's name (``step_001500.safetensors`` -> 1500)."""
    try:
        return int(path.stem.rsplit("_", 1)[-1])
    except ValueError:
        return 0


def continuable_run(run_dir: str | Path | None) -> RunFolder | None:
    """The run folder when it holds a config and at least one checkpoint."""
    if not run_dir:
        return None
    folder = RunFolder(run_dir)
    try:
        if not folder.is_run() or folder.latest_checkpoint() is None:
            return None
    except OSError:  # unreadable or gone (a share unmounted): nothing to continue
        return None
    return folder


def _trained_on(folder: RunFolder) -> str | None:
    """The data folder that dataset.json names (runs whose config.json did not say it)."""
    try:
        source = json.loads(folder.dataset_path.read_text(encoding="utf-8")).get("source")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(source, str) or source in ("", "demo"):
        return None
    return str(Path(source).expanduser())


def plan_continuation(
    run_dir: str | Path,
    total_steps: int,
    locate_moved_data: Callable[[str], str | None],
    device: str | None = None,
) -> Continuation:
    """The request that continues ``run_dir`` up to ``total_steps`` steps in all.

    ``locate_moved_data(old_folder)`` is asked for the data folder's new place when the run's
    folder is gone; it returns None when the user gives up. ``device``: where to go on (the
    window's Device box; default the run's own), so that a run trained on a GPU can continue
    on a machine without it, as ``train --resume --device`` can.
    """
    folder = continuable_run(run_dir)
    if folder is None:
        raise CannotContinue(f"{run_dir}: no run folder with a checkpoint to continue from")
    try:
        config = RunConfig.load(folder.config_path)
    except ConfigError as err:
        raise CannotContinue(str(err)) from None
    latest = folder.latest_checkpoint()
    assert latest is not None
    done = checkpoint_step(latest)
    if total_steps <= done:
        raise CannotContinue(
            f"the run is already at step {done}: set Steps above {done} (the new total) "
            "to continue it"
        )
    data_folder = config.data.folder or _trained_on(folder)
    if data_folder is not None:
        data_folder = str(Path(data_folder).expanduser())  # "~/pics" typed in the window
    if data_folder is not None and not Path(data_folder).is_dir():
        data_folder = locate_moved_data(data_folder)
        if data_folder is None:
            raise CannotContinue(
                f"the run's data folder {config.data.folder or 'of this run'} is gone; "
                "continue again and choose where it is now"
            )
    train = {"steps": total_steps} | ({"device": device} if device else {})
    config = config.replace(train=train, data={"folder": data_folder})
    request = TrainingRequest(config, data_folder, folder.path, resume=True)
    return Continuation(request, done, latest)
