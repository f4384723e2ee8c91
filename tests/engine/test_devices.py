"""Which device "auto" trains on (CUDA, then an Apple GPU, then the CPU) and with what
precision, checked on any machine by pretending which GPUs PyTorch reports."""

from __future__ import annotations

import pytest
import torch

from sagan_engine import devices
from sagan_engine.config import preset
from sagan_engine.errors import ConfigError


def _pretend(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_an_apple_gpu_then_the_cpu(monkeypatch, cuda, mps, expected):
    _pretend(monkeypatch, cuda, mps)
    assert devices.resolve_device("auto").type == expected


def test_auto_stays_on_the_cpu_for_several_processes_without_cuda(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=True)

    class TwoProcesses:
        world_size, local_rank = 2, 0

    assert devices.resolve_device("auto", TwoProcesses()).type == "cpu"


def test_under_torchrun_each_process_takes_its_own_gpu_and_cpu_runs_use_gloo(monkeypatch):
    from sagan_engine.distributed import backend_for

    _pretend(monkeypatch, cuda=True, mps=False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")

    class ThirdOfFour:
        world_size, local_rank = 4, 2

    assert devices.resolve_device("cuda", ThirdOfFour()) == torch.device("cuda:2")
    assert devices.resolve_device("auto", ThirdOfFour()) == torch.device("cuda:2")
    # cuda:1 would put all four processes on one GPU (NCCL: "Duplicate GPU detected").
    with pytest.raises(ConfigError, match="'cuda:1' under torchrun would put every process"):
        devices.resolve_device("cuda:1", ThirdOfFour())
    # One process on each of four machines: cuda:1 is that machine's GPU 1, as asked.
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert devices.resolve_device("cuda:1", ThirdOfFour()) == torch.device("cuda:1")
    # A CPU run on a GPU machine: NCCL cannot reduce CPU tensors.
    assert [backend_for(d) for d in ("cpu", "auto", "cuda", "cuda:0")] == ["gloo"] + ["nccl"] * 3
    # A CPU build of PyTorch has no NCCL: gloo, and the trainer says 'cuda' is not here.
    _pretend(monkeypatch, cuda=False, mps=True)
    assert [backend_for(d) for d in ("auto", "cuda")] == ["gloo", "gloo"]


def test_asking_for_mps_where_there_is_none_names_the_device(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ConfigError, match="'mps'.*no Apple GPU"):
        devices.resolve_device("mps")


def test_mps_is_a_valid_config_device_and_listed_where_present(monkeypatch):
    preset("demo").replace(train={"device": "mps"})  # validates
    _pretend(monkeypatch, cuda=False, mps=True)
    assert ("mps", devices.describe_device(torch.device("mps"))) in devices.available_devices()
    _pretend(monkeypatch, cuda=False, mps=False)
    assert [name for name, _ in devices.available_devices()] == ["cpu"]


def test_auto_precision_on_an_apple_gpu_is_fp32_and_explicit_ones_are_kept():
    mps = torch.device("mps")
    assert devices.autocast_dtype("auto", mps) is None
    assert devices.autocast_dtype("fp16", mps) is torch.float16
    assert devices.autocast_dtype("bf16", mps) is torch.bfloat16


def test_the_cpu_has_a_name():
    assert devices.cpu_name().strip()
