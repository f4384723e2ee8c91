"""Several processes, one run: DistributedDataParallel under ``torchrun`` (NCCL on GPUs,
gloo on CPUs). A single process uses the same interface with nothing to synchronise."""

from __future__ import annotations

import itertools
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist
from torch import nn

from .errors import DataError


@dataclass
class DistributedContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def single(cls) -> DistributedContext:
        return cls()

    @classmethod
    def from_environment(cls, device: str = "auto") -> DistributedContext:
        """Join the process group ``torchrun`` describes in the environment, if any, with the
        backend of the device the run trains on (``train.device``): NCCL for CUDA GPUs, gloo
        for CPUs, also on a machine that has a GPU (NCCL cannot reduce CPU tensors)."""
        if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1:
            return cls.single()
        if not torch_dist.is_initialized():
            torch_dist.init_process_group(backend=backend_for(device))
        return cls(
            rank=torch_dist.get_rank(),
            local_rank=int(os.environ.get("LOCAL_RANK", 0)),
            world_size=torch_dist.get_world_size(),
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def sync_batch_norm(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` with every batch norm computing its statistics over the global batch.

        PyTorch's SyncBatchNorm runs on GPUs only (DDP refuses it on a CPU), so on other
        devices each BatchNorm2d becomes a :class:`GlobalBatchNorm2d` with the same state.
        """
        if self.world_size == 1:
            return module
        if device.type == "cuda":
            return nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return GlobalBatchNorm2d.convert(module)

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if self.world_size == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        # Buffers need no broadcast: BN statistics are synchronised (sync_batch_norm) and the
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

    def check_same(self, what: str, facts: dict, where: str = "") -> None:
        """Raise :class:`DataError` on every rank when the ranks disagree on ``facts`` (e.g.
        how many images of which classes each one loaded): a run whose machines hold other
        copies of the data would train on it silently, or fail in DDP with a message about
        parameter sizes. A fact that is None on some rank (not known there) is not compared."""
        if self.world_size == 1:
            return
        gathered: list = [None] * self.world_size
        torch_dist.all_gather_object(gathered, (socket.gethostname(), facts))
        host0, first = gathered[0]
        known = [k for k in first if all(f.get(k) is not None for _, f in gathered)]
        for rank, (host, other) in enumerate(gathered[1:], start=1):
            differs = "; ".join(
                f"{key} {first.get(key)} on rank 0 ({host0}), {other.get(key)} on rank "
                f"{rank} ({host})"
                for key in known
                if first.get(key) != other.get(key)
            )
            if differs:
                raise DataError(
                    f"the processes of this run do not see the same {what}{where}: {differs}; "
                    "give every machine the same copy"
                )

    def average(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` averaged over the ranks (every rank gets the average)."""
        if self.world_size == 1:
            return tensor
        total = tensor.detach().clone()
        torch_dist.all_reduce(total)
        return total / self.world_size

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """``tensor`` of every rank (same shape everywhere), on the CPU, in rank order."""
        if self.world_size == 1:
            return [tensor.cpu()]
        local = tensor.cuda() if torch_dist.get_backend() == "nccl" else tensor.cpu()
        pieces = [torch.empty_like(local) for _ in range(self.world_size)]
        torch_dist.all_gather(pieces, local.contiguous())
        return [p.cpu() for p in pieces]

    def shutdown(self) -> None:
        if self.world_size > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def backend_for(device: str) -> str:
    """The process group backend for ``train.device``: "nccl" when it means a CUDA GPU."""
    # Without CUDA, gloo: the trainer then says plainly that 'cuda' cannot be had here
    # (a CPU build of PyTorch has no NCCL to start a process group with).
    on_gpu = torch.cuda.is_available() and (device.startswith("cuda") or device == "auto")
    return "nccl" if on_gpu else "gloo"


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """Batch norm over the batch of every rank together, on any device and backend (gloo).

    Each rank sums x and x^2 per channel; one differentiable all-reduce of those sums gives
    the global mean and variance, and its backward all-reduces their gradients, so the result
    and the gradients equal those of one process seeing the whole batch. Outside training or
    in a single process it is plain BatchNorm2d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and torch_dist.is_initialized() and torch_dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        channels = x.shape[1]
        xf = x.float()
        count = torch.full((1,), x.numel() / channels, device=x.device, dtype=torch.float32)
        local = torch.cat([xf.sum(dim=(0, 2, 3)), xf.square().sum(dim=(0, 2, 3)), count])
        total = all_reduce(local)
        n = total[-1]
        mean = total[:channels] / n
        var = (total[channels : 2 * channels] / n - mean.square()).clamp_min(0.0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (
                    1.0 / float(self.num_batches_tracked)
                    if self.momentum is None
                    else self.momentum
                )
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * (n / (n - 1).clamp_min(1.0)), momentum)
        shape = (1, channels, 1, 1)
        y = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """Replace every BatchNorm2d in ``module`` (in place) by one of these, same state."""
        if isinstance(module, nn.BatchNorm2d) and not isinstance(module, cls):
            like = next(itertools.chain(module.parameters(), module.buffers()))
            replacement = cls(
                module.num_features,
                module.eps,
                module.momentum,
                module.affine,
                module.track_running_stats,
                device=like.device,
            )
            replacement.load_state_dict(module.state_dict())
            replacement.train(module.training)
            return replacement
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module
