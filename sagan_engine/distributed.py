"""Several processes, one run: DistributedDataParallel under ``torchrun`` (NCCL on GPUs,
gloo on CPUs). A single process uses the same interface with nothing to synchronise."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist


@dataclass
class DistributedContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def single(cls) -> DistributedContext:
        return cls()

    @classmethod
    def from_environment(cls) -> DistributedContext:
        """Join the process group ``torchrun`` describes in the environment, if any."""
        if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
            return cls.single()
        if not torch_dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch_dist.init_process_group(backend=backend)
        return cls(
            rank=torch_dist.get_rank(),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            world_size=torch_dist.get_world_size(),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if self.world_size == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        # Buffers need no broadcast: BN statistics are synchronised by SyncBatchNorm and the
        # spectral-norm vectors u, v depend only on the weights, which DDP keeps identical.
        return DistributedDataParallel(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,
        )

    def barrier(self) -> None:
        if self.world_size > 1:
            torch_dist.barrier()

    def agree(self, flag: bool) -> bool:
        """True on every rank when any rank says True (e.g. a stop request on rank 0)."""
        if self.world_size == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        if torch_dist.get_backend() == "nccl":
            value = value.cuda()
        torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
        return bool(value.item())

    def shutdown(self) -> None:
        if self.world_size > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()
