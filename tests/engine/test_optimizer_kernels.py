"""The trainer's fused Adam is the per-tensor Adam update; resumes keep this machine's kernel."""

from __future__ import annotations

import torch

from sagan_engine.checkpoint import restore_optimizer
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config


def test_trainer_uses_fused_adam_on_the_cpu(tmp_path):
    trainer = Trainer(tiny_config(), synthetic_dataset(), tmp_path / "run")
    trainer._build()
    for optimizer in (trainer.opt_G, trainer.opt_D):
        assert optimizer.param_groups[0]["fused"] is True


def test_fused_adam_equals_the_per_tensor_update():
    """Several steps of the paper's Adam (beta1 = 0, beta2 = 0.9) on shapes like G's."""
    torch.manual_seed(0)
    shapes = [(64, 64, 3, 3), (64,), (3, 64, 3, 3), ()]
    start = [torch.randn(s) for s in shapes]
    results = []
    for kernel in ({"foreach": False}, {"fused": True}):
        params = [t.clone().requires_grad_(True) for t in start]
        optimizer = torch.optim.Adam(params, lr=4e-4, betas=(0.0, 0.9), **kernel)
        gen = torch.Generator().manual_seed(1)
        for _ in range(5):
            for p in params:
                p.grad = torch.randn(p.shape, generator=gen)
            optimizer.step()
        results.append(params)
    for loop, fused, before in zip(*results, start, strict=True):
        assert not torch.equal(loop, before)  # the steps moved every tensor
        torch.testing.assert_close(fused, loop, rtol=1e-6, atol=1e-7)


class _Checkpoint:
    """What restore_optimizer reads from a checkpoint: its tensors and path."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors, self.path = tensors, "old.safetensors"

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        return {k.removeprefix(prefix + "/"): v for k, v in self.tensors.items()}


def test_restore_keeps_this_machines_kernel_and_the_checkpoints_state():
    param = torch.nn.Parameter(torch.ones(3))
    old = torch.optim.Adam([param], lr=1e-4, betas=(0.0, 0.9))  # a checkpoint from before
    param.grad = torch.full((3,), 0.5)
    old.step()
    saved = old.state_dict()
    tensors = {f"opt/0/{k}": v.clone() for k, v in saved["state"][0].items()}
    groups = [dict(g, betas=list(g["betas"])) for g in saved["param_groups"]]
    assert groups[0]["fused"] is None

    new = torch.optim.Adam([param], lr=1e-3, betas=(0.5, 0.5), fused=True)
    restore_optimizer(new, _Checkpoint(tensors), "opt", groups)
    group = new.param_groups[0]
    assert group["fused"] is True  # the kernel: this machine's
    assert group["lr"] == 1e-4 and group["betas"] == (0.0, 0.9)  # the algorithm: the run's
    torch.testing.assert_close(new.state[param]["exp_avg_sq"], saved["state"][0]["exp_avg_sq"])
    new.step()  # and the fused kernel runs on the restored state
