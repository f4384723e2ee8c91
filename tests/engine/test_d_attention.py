"""D attention queries: G's pixel -> position rule, maps equal D's beta rows, the score with
its projection term equals D's forward."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sagan_engine.attention import query_position
from sagan_engine.checkpoint import save_checkpoint
from sagan_engine.config import ModelConfig, RunConfig
from sagan_engine.d_attention import (
    DiscriminatorUnavailable,
    discriminator_attention,
    image_for_discriminator,
    load_discriminator,
)
from sagan_engine.errors import DataError
from sagan_engine.models import Discriminator


def make_discriminator(classes: int = 0, attention=(16, 8), variant="paper") -> Discriminator:
    torch.manual_seed(0)
    cfg = ModelConfig(
        resolution=32,
        z_dim=8,
        g_ch=4,
        d_ch=8,
        num_classes=classes,
        d_attention=attention,
        attention_variant=variant,
    )
    d = Discriminator(cfg)
    for _, layer in d.attention_layers():
        with torch.no_grad():
            layer.gamma.fill_(0.7)
    return d.eval()


def random_image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def as_input(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_maps_are_betas_rows_at_gs_query_position():
    d = make_discriminator()
    image = random_image()
    queries = [(0, 0), (13, 27), (31, 31)]
    result = discriminator_attention(d, image, queries)
    assert [layer.name for layer in result.attention.layers] == [
        "D attention 16x16",
        "D attention 8x8",
    ]
    with torch.no_grad():
        _, betas = d.features(as_input(image), return_attention=True)
    for layer, beta in zip(result.attention.layers, betas, strict=True):
        h, w = layer.grid
        assert layer.maps.shape == (3, h, w)
        for q, query in enumerate(queries):
            j = query_position(query, (32, 32), (h, w))
            np.testing.assert_allclose(layer.maps[q].ravel(), beta[0, j].numpy(), rtol=1e-6)
            assert layer.maps[q].sum() == pytest.approx(1.0, abs=1e-4)
    # Different pixels look at different places.
    first = result.attention.layers[0].maps
    assert np.abs(first[0] - first[1]).max() > 1e-6
    np.testing.assert_array_equal(result.attention.image, image)


def test_official_variant_maps_on_pooled_keys():
    d = make_discriminator(attention=(16,), variant="official")
    result = discriminator_attention(d, random_image(), (5, 5))
    assert result.attention.layers[0].grid == (16, 16)
    assert result.attention.layers[0].map.shape == (8, 8)


def test_unconditional_score_is_ds_logit():
    d = make_discriminator()
    image = random_image(1)
    score = discriminator_attention(d, image, (3, 3)).score
    assert score.projection is None and score.per_class is None
    with torch.no_grad():
        assert score.score() == pytest.approx(float(d(as_input(image))), rel=1e-5, abs=1e-5)


def test_projection_term_per_class_equals_forward():
    d = make_discriminator(classes=4)
    with torch.no_grad():  # make the projection term matter
        d.embed.parametrizations.weight.original.normal_()
    image = random_image(2)
    score = discriminator_attention(d, image, (3, 3), class_names="abcd").score
    assert score.projection.shape == (4,)
    with torch.no_grad():
        forward = d(as_input(image).repeat(4, 1, 1, 1), torch.arange(4)).numpy()
    np.testing.assert_allclose(score.per_class, forward, rtol=1e-5, atol=1e-5)
    assert np.ptp(score.per_class) > 1e-3  # the classes really differ
    assert score.score(2) == pytest.approx(float(forward[2]), rel=1e-5, abs=1e-5)
    with pytest.raises(ValueError, match="class"):
        score.score()


def test_features_leave_forward_unchanged():
    d = make_discriminator(classes=3)
    x = as_input(random_image(3)).repeat(2, 1, 1, 1)
    y = torch.tensor([0, 2])
    with torch.no_grad():
        phi, betas = d.features(x)
        expected = d.linear(phi).squeeze(1) + (d.embed(y) * phi).sum(1)
        assert betas == []
        torch.testing.assert_close(d(x, y), expected)


def test_images_are_brought_to_the_models_resolution(tmp_path):
    from PIL import Image

    thumb = np.random.default_rng(0).integers(0, 256, (48, 60, 3), dtype=np.uint8)
    assert image_for_discriminator(thumb, 32).shape == (32, 32, 3)
    Image.fromarray(thumb).save(tmp_path / "x.png")
    assert image_for_discriminator(tmp_path / "x.png", 32).shape == (32, 32, 3)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="bad.png"):
        image_for_discriminator(tmp_path / "bad.png", 32)
    with pytest.raises(DataError, match="shape"):
        discriminator_attention(make_discriminator(), thumb, (0, 0))


def test_loading_d_and_its_absence(tmp_path):
    d = make_discriminator(classes=2)
    config = RunConfig(model=d.cfg)
    with_d = {f"D/{k}": v for k, v in d.state_dict().items()}
    save_checkpoint(tmp_path / "full.safetensors", 7, config, ["a", "b"], with_d)
    loaded = load_discriminator(tmp_path / "full.safetensors")
    assert loaded.step == 7 and loaded.class_names == ["a", "b"]
    image = random_image(4)
    ours = discriminator_attention(loaded.discriminator, image, (1, 1)).score.per_class
    np.testing.assert_allclose(ours, discriminator_attention(d, image, (1, 1)).score.per_class)
    only_g = {"G_ema/linear.bias": torch.zeros(3)}
    save_checkpoint(tmp_path / "g.safetensors", 7, config, [], only_g)
    with pytest.raises(DiscriminatorUnavailable, match="holds no discriminator"):
        load_discriminator(tmp_path / "g.safetensors")
