"""The run folder side of the trainer: config and dataset summary, metrics.csv, checkpoints,
snapshots, and resuming from a checkpoint. A mixin of :class:`sagan_engine.trainer.Trainer`,
kept apart so that trainer.py reads as the training loop (``self`` is the Trainer)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import torch

from . import checkpoint as ckpt_io
from .errors import CheckpointError, ConfigError, OutputError, TrainingError
from .events import AttentionStats, CheckpointSaved, Log, QualityMeasured, StepStats
from .export import metrics_header, metrics_rows, metrics_until, training_seconds_at
from .metrics.evaluator import quality_columns
from .output_paths import check_output_folder, output_errors
from .plurals import counted
from .runs import RunFolder
from .snapshots import SnapshotWriter


def check_new_run_folder(path: str | Path, data_folder: str | None) -> None:
    """Raise :class:`ConfigError` for a folder a new run must not use: a new run writes
    config.json, dataset.json, metrics.csv and samples/ there, so not over a finished run, nor
    over files of the user's, nor inside the data folder (its samples would become data)."""
    folder = RunFolder(path)
    if folder.is_run():
        if folder.latest_checkpoint() is not None:
            raise ConfigError(
                f"{folder.path} already holds a run; resume it or choose another folder"
            )
        return  # a run that stopped before its first checkpoint: started again
    if folder.path.is_dir() and any(folder.path.iterdir()):
        raise ConfigError(
            f"{folder.path}: holds files and is not a run folder; the run would write over "
            "them: choose a new or empty folder"
        )
    if data_folder and folder.path.resolve().is_relative_to(
        Path(data_folder).expanduser().resolve()
    ):
        raise ConfigError(
            f"{folder.path}: is inside the data folder {data_folder}, so its sample images "
            "would become training images: choose a folder outside it"
        )


class RunFiles:
    """What a run writes to and reads from its folder."""

    def _prepare_run_folder(self) -> None:
        folder = self.run_folder
        if not self._resume_from:
            check_new_run_folder(folder.path, self.config.data.folder)
        summary = {
            "source": self.dataset.source,
            "images": len(self.dataset),
            "class_names": list(self.dataset.class_names),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.dataset.skipped],
        }
        check_output_folder(folder.path)
        created = not folder.path.exists()
        try:
            with output_errors(folder.path, "cannot create the run folder"):
                folder.create()
                self.config.save(folder.config_path)
                ckpt_io.write_atomically(
                    folder.dataset_path, (json.dumps(summary, indent=2) + "\n").encode("utf-8")
                )
        except OutputError:
            if created:  # nothing half-made left behind
                shutil.rmtree(folder.path, ignore_errors=True)
            raise

    def _append_metrics(
        self,
        stats: Iterable[StepStats] = (),
        attention: Iterable[AttentionStats] = (),
        quality: Iterable[QualityMeasured] = (),
    ) -> None:
        """Append rows to metrics.csv. Its header is written once, when the file is created, with
        every column the run can fill; a resumed run keeps the header its file already has."""
        path = self.run_folder.metrics_path
        new = not path.exists() or path.stat().st_size == 0
        if new:
            header = metrics_header(
                (name for name, _ in self.G.attention_layers() + self.D.attention_layers()),
                (name for name, _ in self.G.attention_layers()),
                quality_columns(self.config),
            )
        else:
            with open(path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
        _, rows = metrics_rows(stats, attention, header=header, quality=quality)
        with open(path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(header)
            writer.writerows(rows)

    def _training_tensors(
        self, rank_rng_states: list[torch.Tensor] | None = None
    ) -> tuple[dict[str, torch.Tensor], dict]:
        tensors: dict[str, torch.Tensor] = {}
        for prefix, module in (("G", self.G), ("D", self.D), ("G_ema", self.G_ema)):
            if module is not None:
                tensors.update({f"{prefix}/{k}": v for k, v in module.state_dict().items()})
        opt_g, groups_g = ckpt_io.optimizer_tensors(self.opt_G, "opt_G")
        opt_d, groups_d = ckpt_io.optimizer_tensors(self.opt_D, "opt_D")
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors["rng/state"] = self.rng.get_state()
        for rank, state in list(enumerate(rank_rng_states or []))[1:]:  # each rank's own stream
            tensors[f"rng/state/rank{rank}"] = state
        tensors["scaler/scale"] = torch.tensor(
            self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        )
        extra = {
            "opt_G_groups": groups_g,
            "opt_D_groups": groups_d,
            "world_size": self.dist.world_size,
            "elapsed_s": self._training_s(),  # the clock goes on from here on a resume
        }
        if self.feed is not None:  # where the disk pipeline's sample stream is, over all ranks
            extra["data_position"] = self.feed.position.to_json()
        return tensors, extra

    def _write_snapshot(self, final: bool = False) -> None:
        """The fp16 EMA-G snapshot of this step, when the log-spaced schedule has one."""
        keep = self.config.train.snapshots
        if not keep or not self.dist.is_main:
            return
        if self._snapshots is None:
            self._snapshots = SnapshotWriter(
                self.run_folder.path, self.config, self.dataset.class_names, keep
            )
        source = self.G_ema if self.G_ema is not None else self.G
        try:
            self._snapshots.offer(self.step, source, self.G_ema is not None, final=final)
        except OSError as err:  # a replay aid: training goes on without it
            self._emit(Log(f"snapshot of step {self.step} not written: {err.strerror or err}"))

    def _save_checkpoint(self) -> None:
        self._measure_ema_statistics()
        rank_rng_states = self.dist.all_gather(self.rng.get_state())
        if not self.dist.is_main:
            # The file rank 0 writes: every rank then agrees that this step is saved, and none
            # saves it again (and waits at a collective the others never reach) at the end.
            self.last_checkpoint = self.run_folder.checkpoint_path(self.step)
            self.dist.barrier()
            return
        tensors, extra = self._training_tensors(rank_rng_states)
        for name, value in tensors.items():
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise TrainingError(
                    f"non-finite values in {name} at step {self.step}; the checkpoint was not "
                    "written so the last good one stays intact"
                )
        path = self.run_folder.checkpoint_path(self.step)
        try:
            ckpt_io.save_checkpoint(
                path, self.step, self.config, self.dataset.class_names, tensors, extra
            )
        except OSError as err:
            raise TrainingError(f"cannot write checkpoint {path}: {err.strerror or err}") from err
        self.last_checkpoint = path
        for old in self.run_folder.checkpoints()[: -self.config.train.keep_checkpoints]:
            old.unlink(missing_ok=True)
        self._emit(CheckpointSaved(self.step, str(path)))
        self.dist.barrier()

    def _resume_checkpoint(self) -> Path:
        source = self._resume_from
        return ckpt_io.resolve_checkpoint(self.run_folder.path if source is True else source)

    def _check_steps_left(self) -> None:
        """Refuse a resume with no step to train, before anything is built or written: the
        loop would train nothing, yet write config.json with the smaller total, the grid of
        the checkpoint's step and a statistics row again."""
        path = self._resume_checkpoint()
        done, total = ckpt_io.saved_step(path), self.config.train.steps
        if total <= done:
            raise ConfigError(
                f"the run is already at step {done} ({path.name}) and train.steps is {total}: "
                f"set it above {done} (the new total) to continue the run"
            )

    def _load_for_resume(self) -> None:
        path = self._resume_checkpoint()
        ckpt = ckpt_io.load_checkpoint(path, device=self.device)
        if ckpt.config.model != self.config.model:
            raise CheckpointError(_model_mismatch(path, ckpt.config.model, self.config.model))
        ckpt_io.load_state(self.G, ckpt.state_dict("G"), "generator", path)
        ckpt_io.load_state(self.D, ckpt.state_dict("D"), "discriminator", path)
        if self.G_ema is not None:
            ema = ckpt.state_dict("G_ema") or ckpt.state_dict("G")
            ckpt_io.load_state(self.G_ema, ema, "EMA generator", path)
        ckpt_io.restore_optimizer(self.opt_G, ckpt, "opt_G", ckpt.extra["opt_G_groups"])
        ckpt_io.restore_optimizer(self.opt_D, ckpt, "opt_D", ckpt.extra["opt_D_groups"])
        own = ckpt.tensors.get(f"rng/state/rank{self.dist.rank}", ckpt.tensors["rng/state"])
        same_processes = ckpt.extra.get("world_size", 1) == self.dist.world_size
        # A CPU generator's state (Mersenne Twister, 5056 bytes) does not fit a CUDA one
        # (Philox, 16 bytes): a run trained on a laptop and continued on a GPU, or back.
        same_kind = own.numel() == self.rng.get_state().numel()
        if same_processes and same_kind:
            self.rng.set_state(own.cpu())
        else:
            # Other shards or another kind of device draw other numbers: exactness is moot.
            self.rng.manual_seed(self.config.train.seed * 1000 + self.dist.rank + ckpt.step)
        if self.feed is not None:  # any number of processes: the position is global
            self.feed.restore(ckpt.extra.get("data_position"))
        if self.scaler.is_enabled():
            self.scaler.update(float(ckpt.tensors["scaler/scale"]))
        self.step = ckpt.step
        elapsed = ckpt.extra.get("elapsed_s")
        if not isinstance(elapsed, (int, float)):  # a checkpoint from before it kept the time
            elapsed = training_seconds_at(self.run_folder.metrics_path, ckpt.step)
        self._seconds_before = float(elapsed)
        self.last_checkpoint = path
        self._emit(Log(f"resumed from {path} at step {ckpt.step}"))
        self._drop_metrics_after(ckpt.step)

    def _drop_metrics_after(self, step: int) -> None:
        """Remove the metrics.csv rows past the checkpoint resumed from: training from there
        runs again (a run killed between checkpoints, or resumed from an earlier one), and
        rows of the same steps twice would fold the curves back on themselves."""
        path = self.run_folder.metrics_path
        if not self.dist.is_main or not path.is_file():
            return
        with output_errors(path, "cannot read"):
            header, kept, dropped = metrics_until(path, step)
        if not dropped:
            return
        text = io.StringIO()
        csv.writer(text).writerows([header, *kept])
        with output_errors(path, "cannot rewrite"):
            ckpt_io.write_atomically(path, text.getvalue().encode("utf-8"))
        self._emit(Log(f"metrics.csv: {counted(dropped, 'row')} after step {step} removed"))


def _model_mismatch(path, saved, wanted) -> str:
    """What differs between the checkpoint's model and the run's, field by field; a class
    count that differs is the data folder's doing (a class sub-folder added or removed)."""
    differences = [
        f"{field.name} {getattr(saved, field.name)} in it, {getattr(wanted, field.name)} now"
        for field in dataclasses.fields(saved)
        if getattr(saved, field.name) != getattr(wanted, field.name)
    ]
    message = f"{path}: made for another model ({'; '.join(differences)})"
    if saved.num_classes != wanted.num_classes:
        message += (
            f": the data has {wanted.num_classes or 'no'} class sub-folders now, the run was "
            f"trained with {saved.num_classes or 'none'}; put the folder back as it was, or "
            "train a new run"
        )
    return message
