"""Training and attention on an Apple GPU (MPS). Skipped cleanly where PyTorch reports none,
as the CUDA tests are without a CUDA GPU."""

from __future__ import annotations

import pytest
import torch

from sagan_engine.attention import attention_maps
from sagan_engine.checkpoint import load_generator
from sagan_engine.devices import mps_available
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not mps_available(), reason="needs an Apple GPU (MPS)"),
]


@pytest.mark.parametrize("channels_last", [False, True])
def test_training_on_an_apple_gpu(tmp_path, channels_last):
    cfg = tiny_config(device="mps", channels_last=channels_last)
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / "run")
    assert trainer.run().step == cfg.train.steps
    assert trainer.device.type == "mps" and trainer.images.device.type == "mps"
    loaded = load_generator(tmp_path / "run")
    for tensor in loaded.generator.state_dict().values():
        assert torch.isfinite(tensor).all()


def test_auto_picks_the_apple_gpu_without_cuda(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA comes first")
    trainer = Trainer(tiny_config(device="auto", steps=2), synthetic_dataset(), tmp_path / "r")
    trainer.run()
    assert trainer.device.type == "mps"


def test_the_generator_on_the_apple_gpu_matches_the_cpu(tmp_path):
    """The same weights give the same images (fp32 on both)."""
    data = synthetic_dataset()
    trainers = []
    for device in ("cpu", "mps"):
        cfg = tiny_config(device=device, precision="fp32", steps=1, checkpoint_every=100)
        trainer = Trainer(cfg, data, tmp_path / device)
        trainer._build()
        trainers.append(trainer)
    cpu, mps = trainers
    mps.G.load_state_dict(cpu.G.state_dict())
    mps.D.load_state_dict(cpu.D.state_dict())
    z = torch.randn(2, cpu.config.model.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(
            mps.G.eval()(z.to("mps")).cpu(), cpu.G.eval()(z), atol=1e-4, rtol=1e-3
        )


def test_attention_maps_on_the_apple_gpu_match_the_cpu(tmp_path):
    Trainer(tiny_config(device="mps", steps=3), synthetic_dataset(), tmp_path / "run").run()
    gpu = load_generator(tmp_path / "run", device="mps").generator
    cpu = load_generator(tmp_path / "run", device="cpu").generator
    z = torch.randn(1, gpu.cfg.z_dim)
    a = attention_maps(gpu, z, query=[(3, 4), (20, 30)])
    b = attention_maps(cpu, z, query=[(3, 4), (20, 30)])
    for la, lb in zip(a.layers, b.layers, strict=True):
        torch.testing.assert_close(
            torch.from_numpy(la.maps), torch.from_numpy(lb.maps), atol=1e-4, rtol=1e-3
        )
