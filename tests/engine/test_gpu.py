"""GPU paths: autocast, torch.compile and CUDA sampling. Skipped cleanly without a CUDA GPU.

Run them on a GPU machine with `make test` (or `pytest -m gpu`).
"""

from __future__ import annotations

import pytest
import torch

from sagan_engine.attention import attention_maps
from sagan_engine.checkpoint import load_generator
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("precision", ["auto", "fp32", "fp16"])
def test_training_on_the_gpu(tmp_path, precision):
    cfg = tiny_config(device="cuda", precision=precision, channels_last=True)
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "run")
    finished = trainer.run()
    assert finished.step == cfg.train.steps
    assert trainer.images.device.type == "cuda"  # the dataset cache lives on the device
    loaded = load_generator(tmp_path / "run")
    for tensor in loaded.generator.state_dict().values():
        assert torch.isfinite(tensor).all()


@pytest.mark.parametrize("channels_last", [False, True])
def test_resume_is_exact_on_the_gpu_in_fp32(tmp_path, channels_last):
    """channels_last: the moments come back from the checkpoint contiguous, which CUDA's fused
    Adam refused beside NHWC weights (seen on an H200, a CPU run continued there)."""

    def config(steps: int):
        return tiny_config(
            device="cuda",
            precision="fp32",
            steps=steps,
            checkpoint_every=100,
            channels_last=channels_last,
        )

    data = synthetic_dataset()
    whole = Trainer(config(6), data, tmp_path / "whole")
    whole.run()
    Trainer(config(3), data, tmp_path / "split").run()
    second = Trainer(config(6), data, tmp_path / "split", resume=True)
    second.run()
    for key, value in whole.G.state_dict().items():
        torch.testing.assert_close(second.G.state_dict()[key], value, atol=1e-5, rtol=1e-4)


def test_attention_maps_on_the_gpu_match_the_cpu(tmp_path):
    Trainer(tiny_config(device="cuda", steps=3), synthetic_dataset(), tmp_path / "run").run()
    gpu = load_generator(tmp_path / "run", device="cuda").generator
    cpu = load_generator(tmp_path / "run", device="cpu").generator
    z = torch.randn(1, gpu.cfg.z_dim)
    a = attention_maps(gpu, z, query=[(3, 4), (20, 30)])
    b = attention_maps(cpu, z, query=[(3, 4), (20, 30)])
    for la, lb in zip(a.layers, b.layers, strict=True):
        torch.testing.assert_close(
            torch.from_numpy(la.maps), torch.from_numpy(lb.maps), atol=1e-4, rtol=1e-3
        )


def test_compiled_training_runs(tmp_path):
    cfg = tiny_config(device="cuda", compile=True, steps=4)
    assert Trainer(cfg, synthetic_dataset(), tmp_path / "run").run().step == 4
