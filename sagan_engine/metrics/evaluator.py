"""The evaluator that measures sample quality while a run trains.

Every ``train.eval_every`` steps the trainer hands it a CPU copy of the EMA generator's
weights (taken between steps, like the inspector's snapshots); a background thread with one
CPU thread of its own generates ``train.eval_images`` images from fixed latents and measures
their multi-scale SWD against a fixed random sample of the training data (its descriptors
computed once). The training loop never waits for it: when an evaluation is still running at
the next interval, that interval is skipped. Results come back to the training thread, which
emits them (:class:`~sagan_engine.events.QualityMeasured`), appends them to metrics.csv and
to the run folder's evaluation.json.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import RunConfig
from ..cpu_threads import set_threads_of_this_thread
from ..events import Log, QualityMeasured
from ..interruption import Interrupted, interruptible
from .evaluation import Evaluation, Protocol, append_evaluation, random_sample
from .swd import SWDReference, swd_value_names

# Seed offsets of the evaluator's own random streams (reference sample, latents).
_REFERENCE_SEED_OFFSET = 2_000_003
_LATENT_SEED_OFFSET = 3_000_017


def quality_columns(config: RunConfig) -> list[str]:
    """The metrics.csv columns the evaluator fills for this model (known at run start)."""
    return swd_value_names(config.model.resolution)


@dataclass(frozen=True)
class Cancelled:
    """What an evaluation given up by :meth:`TrainingEvaluator.cancel` reports."""

    step: int


@dataclass(frozen=True)
class _Job:
    step: int
    state: dict[str, torch.Tensor]


class TrainingEvaluator:
    """Background SWD of snapshots of G against a fixed sample of the training images."""

    def __init__(
        self, config: RunConfig, images: np.ndarray, reference_name: str, run_dir: str | Path
    ) -> None:
        train = config.train
        self.config = config
        self.every = train.eval_every
        self.run_dir = Path(run_dir)
        self.real = random_sample(images, train.eval_images, train.seed + _REFERENCE_SEED_OFFSET)
        self.n = len(self.real)
        self.reference_name = reference_name
        self.seed = train.seed
        self._reference: SWDReference | None = None
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.skipped = 0

    # ----------------------------------------------------------------- training thread
    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, step: int, state: dict[str, torch.Tensor]) -> bool:
        """Start evaluating these weights unless an evaluation is still running."""
        if self.busy:
            self.skipped += 1
            return False
        self._cancel.clear()
        self._thread = threading.Thread(
            target=self._work, args=(_Job(step, state),), name="sagan-evaluator", daemon=True
        )
        self._thread.start()
        return True

    def results(self) -> list[Evaluation | Exception]:
        """Finished evaluations (or their errors) since the last call; never blocks."""
        found = []
        while True:
            try:
                found.append(self._results.get_nowait())
            except queue.Empty:
                return found

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def cancel(self) -> None:
        """Give up the evaluation in flight: it stops between two layers of G (or after the
        distance it is computing), and reports :class:`Cancelled` instead of a result."""
        self._cancel.set()

    def _check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Interrupted("quality evaluation given up")

    # ----------------------------------------------------------------- background thread
    def _work(self, job: _Job) -> None:
        try:
            set_threads_of_this_thread(1)  # one core: training keeps the rest
            self._results.put(self._evaluate(job))
        except Interrupted:
            self._results.put(Cancelled(job.step))
        except Exception as err:  # noqa: BLE001 - reported on the training thread
            self._results.put(err)

    @torch.no_grad()
    def _evaluate(self, job: _Job) -> Evaluation:
        from ..models import Generator
        from .evaluation import generate_images

        start = time.perf_counter()
        self._check_cancelled()
        if self._reference is None:
            self._reference = SWDReference(self.real, self.seed)
        self._check_cancelled()
        generator = Generator(self.config.model)
        generator.load_state_dict(job.state)
        generator.eval()
        with interruptible(generator, self._cancel.is_set):
            fake = generate_images(
                generator, self.config, self.n, self.seed + _LATENT_SEED_OFFSET, batch_size=64
            )
        self._check_cancelled()
        result = self._reference.distance(fake)
        self._check_cancelled()  # given up meanwhile: its result is not reported
        protocol = Protocol(
            metrics=("swd",),
            n_generated=self.n,
            n_real=self.n,
            reference=f"{self.reference_name} (a fixed random {self.n} images, seed {self.seed})",
            resolution=self.config.model.resolution,
            seed=self.seed,
        )
        return Evaluation(
            result.as_values(),
            {},
            protocol,
            step=job.step,
            source="training (EMA generator)" if self.config.train.ema else "training",
            seconds=time.perf_counter() - start,
        )


def attach(trainer) -> TrainingEvaluator | None:
    """The evaluator of a trainer, or None when ``eval_every`` is 0 or this is not the main
    process."""
    config = trainer.config
    if config.train.eval_every <= 0 or not trainer.dist.is_main:
        return None
    source = trainer.dataset.source
    name = "the bundled demo dataset" if source == "demo" else f"training data {source}"
    return TrainingEvaluator(config, trainer.dataset.images, name, trainer.run_folder.path)


def on_step(
    trainer, evaluator: TrainingEvaluator, final: bool = False, stopping: bool = False
) -> None:
    """The trainer's hook after each step: report finished evaluations, start a due one.
    ``final``: the run is ending (its checkpoint saved): wait for the evaluation in flight,
    or, when the user ``stopping`` it waits for nothing, give it up and say so."""
    if not final and evaluator.due(trainer.step):
        if not evaluator.submit(trainer.step, trainer.generator_snapshot().state):
            trainer._emit(
                Log(f"quality evaluation at step {trainer.step} skipped: the previous one is "
                    "still running (raise train.eval_every)", "warning")
            )  # fmt: skip
    if final and stopping:
        evaluator.cancel()
    if final:
        evaluator.wait()
    for item in evaluator.results():
        if isinstance(item, Cancelled):
            trainer._emit(
                Log(f"quality evaluation of step {item.step} left unfinished: the run was "
                    "stopped (a continued run measures again at its next interval)")
            )  # fmt: skip
            continue
        if isinstance(item, Exception):
            trainer._emit(Log(f"quality evaluation failed: {item}", "warning"))
            continue
        event = QualityMeasured(item.step, item.values, item.seconds, evaluator.n)
        trainer._append_metrics(quality=[event])
        append_evaluation(evaluator.run_dir, item)
        trainer._emit(event)
