"""Feeding the trainer from the on-disk cache: a ``torch.utils.data`` pipeline.

:class:`CachedImages` is a map-style Dataset over the memory-mapped shards of
:mod:`sagan_engine.data_cache`; it fetches a whole batch at once (``__getitems__``: one fancy
index per shard, no per-image Python). A standard :class:`torch.utils.data.DataLoader` runs
it in worker processes, with pinned memory on CUDA and ``prefetch_factor`` batches queued per
worker, so the next batches are read while the GPU trains.

:class:`EpochSampler` is the batch sampler. Like ``DistributedSampler`` it reshuffles every
epoch from the run's seed and gives each rank its own part; unlike it, its position is one
global number that a checkpoint can hold and any number of processes can resume from:

- the *stream* is the permutation of epoch 0, then that of epoch 1, ... (every image once an
  epoch; a batch may straddle two epochs, so nothing is dropped and nothing repeated early);
- step k of a run with ``world_size`` processes of ``batch_size`` each consumes the next
  ``world_size * batch_size`` samples of the stream, rank r taking the r-th slice;
- :class:`DataPosition` (epoch, samples of that epoch consumed) says where the stream is.
  Resumed with another number of processes, the run goes on from the same sample.

``DistributedSampler`` itself cannot start in the middle of an epoch nor survive a change
of world size, which is why it is not used here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .data_cache import DiskArray
from .stop_signals import leave_stop_signals_to_the_parent


@dataclass(frozen=True)
class DataPosition:
    """Where a run is in its stream of training samples, over all processes together."""

    epoch: int = 0
    offset: int = 0  # samples of ``epoch`` already consumed

    def advanced(self, samples: int, size: int) -> DataPosition:
        """The position ``samples`` later in a stream of epochs of ``size`` samples each."""
        total = self.offset + samples
        return DataPosition(self.epoch + total // size, total % size)

    def to_json(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}

    @classmethod
    def from_json(cls, value: dict | None, size: int) -> DataPosition:
        """A saved position; an offset past the end (the set shrank) starts the next epoch."""
        if not value:
            return cls()
        epoch, offset = int(value.get("epoch", 0)), int(value.get("offset", 0))
        return cls(epoch + 1, 0) if offset >= size else cls(epoch, offset)


def epoch_permutation(size: int, seed: int, epoch: int) -> np.ndarray:
    """The order of epoch ``epoch``: the same on every process, different every epoch."""
    return np.random.default_rng([seed, epoch]).permutation(size)


class EpochSampler(Sampler[list[int]]):
    """Endless batches of this rank's indices, reshuffled every epoch (see the module doc)."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start: DataPosition = DataPosition(),
    ) -> None:
        if size < 1:
            raise ValueError("the sampler needs at least one sample")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size, self.start = rank, world_size, start

    def __len__(self) -> int:  # endless; DataLoader only asks when told to
        raise TypeError("EpochSampler is endless: training is counted in steps, not epochs")

    def __iter__(self) -> Iterator[list[int]]:
        epoch, offset = self.start.epoch, self.start.offset
        order = epoch_permutation(self.size, self.seed, epoch)
        global_batch = self.batch_size * self.world_size
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        while True:
            parts, need = [], global_batch
            while need:
                take = min(need, self.size - offset)
                parts.append(order[offset : offset + take])
                offset += take
                need -= take
                if offset == self.size:
                    epoch, offset = epoch + 1, 0
                    order = epoch_permutation(self.size, self.seed, epoch)
            yield np.concatenate(parts)[mine].tolist()


class CachedImages(Dataset):
    """The images and labels of a disk cache; a batch is fetched in one call."""

    def __init__(self, images: DiskArray, labels: DiskArray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.__getitems__([index])
        return images[0], labels[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, H, W, 3) images and int64 (B,) labels, in the order asked."""
        index = np.asarray(indices, dtype=np.int64)
        return torch.from_numpy(self.images[index]), torch.from_numpy(self.labels[index])


def _whole_batch(batch):
    """The collate function: ``__getitems__`` already made the batch."""
    return batch


def default_loader_workers() -> int:
    """DataLoader workers per training process: the cores of this machine shared by its
    training processes (torchrun's LOCAL_WORLD_SIZE), one left for each training process
    itself, at most 4 (docs/benchmarks.md, "Data pipeline")."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(0, min(4, cores // local_world - 1))


def make_loader(
    images: DiskArray,
    labels: DiskArray,
    sampler: EpochSampler,
    *,
    workers: int,
    pin_memory: bool,
    prefetch: int = 4,
) -> DataLoader:
    """The standard DataLoader over the cache: ``workers`` processes (0: read in this one),
    ``prefetch`` batches queued per worker, pinned host memory for fast copies to a GPU.

    The workers are forked (quick) from the main thread of a process with one thread, and
    spawned, like the cache build's decoding processes, when other threads run (the app
    trains in a QThread beside its GUI and inspector threads, which Python does not count;
    an evaluator thread): a forked child inherits the locks those threads held at that instant.
    """
    alone = threading.current_thread() is threading.main_thread() and threading.active_count() == 1
    context = "spawn" if workers and not alone else None
    return DataLoader(
        CachedImages(images, labels),
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=_whole_batch,
        pin_memory=pin_memory,
        prefetch_factor=prefetch if workers else None,
        persistent_workers=workers > 0,
        multiprocessing_context=context,
        # A stop signal sent to the whole process group (Ctrl-C, torchrun, Slurm) must not
        # kill the workers before the trainer has saved its checkpoint.
        worker_init_fn=leave_stop_signals_to_the_parent if workers else None,
    )


class DiskFeed:
    """The trainer's real batches from a disk cache, and where in the stream it is.

    The DataLoader reads ahead; :attr:`position` counts only the batches handed to the
    trainer, so a checkpoint holds exactly where the next step's batch starts. The loader is
    started on the first batch, after a resume has set the position.
    """

    def __init__(
        self,
        images: DiskArray,
        labels: DiskArray,
        *,
        batch_size: int,
        seed: int,
        rank: int,
        world_size: int,
        device: torch.device,
        workers: int,
    ) -> None:
        self.images, self.labels = images, labels
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.device, self.workers = device, workers
        self.position = DataPosition()
        self._batches: Iterator | None = None

    @classmethod
    def for_run(cls, dataset, config, dist, device: torch.device) -> DiskFeed:
        """The feed of a trainer: its dataset (on disk), run config, processes and device."""
        workers = config.data.loader_workers
        return cls(
            dataset.images,
            dataset.labels,
            batch_size=config.train.batch_size,
            seed=config.train.seed,
            rank=dist.rank,
            world_size=dist.world_size,
            device=device,
            workers=default_loader_workers() if workers < 0 else workers,
        )

    def restore(self, saved: dict | None) -> None:
        """Continue from a checkpoint's position (any world size)."""
        self.close()
        self.position = DataPosition.from_json(saved, len(self.images))

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, H, W, 3) images and int64 labels on the training device."""
        if self._batches is None:
            sampler = EpochSampler(
                len(self.images), self.batch_size, self.seed,
                self.rank, self.world_size, self.position,
            )  # fmt: skip
            loader = make_loader(
                self.images, self.labels, sampler,
                workers=self.workers, pin_memory=self.device.type == "cuda",
            )  # fmt: skip
            self._batches = iter(loader)
        images, labels = next(self._batches)
        self.position = self.position.advanced(self.batch_size * self.world_size, len(self.images))
        return (
            images.to(self.device, non_blocking=True),
            labels.to(self.device, non_blocking=True),
        )

    def close(self) -> None:
        """Stop the worker processes (a new loader starts on the next batch)."""
        self._batches = None  # the iterator's destructor shuts its workers down
