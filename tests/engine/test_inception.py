"""The FID Inception-v3: the published file's keys and shapes, loading, missing weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.metrics import evaluate_images
from sagan_engine.metrics import inception as inc

# From pytorch-fid's fid_inception_v3 (torchvision's Inception3, no aux head, 1008 classes):
# 94 conv + batch-norm layers and the fc layer. Parameter count: torchvision's 27,161,264
# minus the aux head's 3,326,696 plus 8 more classes (8 x 2048 + 8).
EXPECTED_PARAMETERS = 27_161_264 - 3_326_696 + 8 * 2048 + 8
EXPECTED_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
    "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7c.branch3x3_2b.bn.running_var": (384,),
    "fc.weight": (1008, 2048),
    "fc.bias": (1008,),
}


def _random_state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, value in inc.FIDInceptionV3().state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue  # as in files saved before PyTorch 0.4.1
        if key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(value.shape, generator=gen) * 0.1
    return state


def test_keys_and_shapes_are_those_of_the_published_file():
    net = inc.FIDInceptionV3()
    state = net.state_dict()
    assert sum(p.numel() for p in net.parameters()) == EXPECTED_PARAMETERS
    convs = [k for k in state if k.endswith(".conv.weight")]
    assert len(convs) == 94
    assert all(not k.startswith("AuxLogits") for k in state)
    for key, shape in EXPECTED_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    for conv in convs:  # every conv has its batch norm (eps 1e-3, TensorFlow's)
        stem = conv.removesuffix(".conv.weight")
        for part in ("weight", "bias", "running_mean", "running_var"):
            assert f"{stem}.bn.{part}" in state


def test_random_weights_run_end_to_end_on_299x299(tmp_path):
    path = tmp_path / inc.WEIGHTS_FILE
    torch.save(_random_state(), path)
    net = inc.load_inception(path)
    images = np.random.default_rng(0).integers(0, 256, (2, 299, 299, 3), dtype=np.uint8)
    pool3, logits = inc.inception_features(net, images, batch_size=2)
    assert pool3.shape == (2, 2048) and logits.shape == (2, 1008)
    assert np.isfinite(pool3).all() and not np.array_equal(pool3[0], pool3[1])
    expected = pool3 @ net.fc.weight.double().numpy().T  # no bias, as the original IS code
    assert np.allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_wrong_or_missing_files_are_refused_with_a_line_saying_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(inc.WEIGHTS_ENV, raising=False)
    with pytest.raises(inc.InceptionUnavailable, match="published at https://github.com"):
        inc.find_weights()
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(inc.InceptionUnavailable, match="not the FID Inception-v3 weights"):
        inc.load_inception(wrong)
    pickled = tmp_path / "object.pth"
    torch.save({"model": object.__new__(_Thing)}, pickled)
    with pytest.raises(inc.InceptionUnavailable, match="not a readable PyTorch weights file"):
        inc.load_inception(pickled)  # weights_only refuses arbitrary objects
    monkeypatch.setenv(inc.WEIGHTS_ENV, str(tmp_path / "absent.pth"))
    with pytest.raises(inc.InceptionUnavailable, match="absent.pth"):
        inc.find_weights()


class _Thing:
    pass


def test_missing_weights_make_the_metric_unavailable_not_zero(monkeypatch):
    monkeypatch.delenv(inc.WEIGHTS_ENV, raising=False)
    images = np.random.default_rng(0).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    result = evaluate_images(images, images[::-1], ["swd", "fid", "is"])
    assert "fid" not in result.values and "is" not in result.values
    assert set(result.unavailable) == {"fid", "is"}
    assert inc.WEIGHTS_FILE in result.unavailable["fid"]
    assert "swd_avg" in result.values and result.protocol.feature_network is None
