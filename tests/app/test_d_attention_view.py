"""The D view: pick an image, click a pixel, D's maps and score come back from the worker; a
file without D says so."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from app.d_attention_view import DAttentionView
from app.image_items import pixel_to_viewport
from sagan_engine.checkpoint import load_checkpoint, load_generator, save_checkpoint
from sagan_engine.d_attention import discriminator_attention, load_discriminator
from sagan_engine.data import load_demo_dataset
from sagan_engine.demo_model import demo_model_available, demo_model_path
from sagan_engine.trainer import Trainer
from tests.engine.conftest import synthetic_dataset, tiny_config


@pytest.fixture
def trained_run(tmp_path):
    run = tmp_path / "run"
    config = tiny_config(steps=3, sample_every=100, checkpoint_every=100, snapshots=0)
    Trainer(config, synthetic_dataset(classes=2), run).run()
    return run


def test_click_a_pixel_shows_ds_maps_and_score(qtbot, worker, trained_run):
    thumbs = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    view = DAttentionView(worker, lambda: thumbs)
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    assert view.training_images.count() == 3
    view.set_model(str(trained_run))
    with qtbot.waitSignal(view.answered, timeout=30_000):
        view._on_thumbnail(view.training_images.item(1))
    assert view.image_name == "training image 2"
    qtbot.wait(50)
    with qtbot.waitSignal(view.answered, timeout=30_000) as blocker:
        qtbot.mouseClick(
            view.input_view.viewport(),
            Qt.MouseButton.LeftButton,
            pos=pixel_to_viewport(view.input_view, view.input_image, 36.5, 12.5),
        )
    result = blocker.args[0]
    assert view.query == (12, 36)
    # The 48-px thumbnail's pixel (12, 36) is pixel (8, 24) of D's 32-px input.
    assert result.attention.queries == ((8, 24),)
    loaded = load_discriminator(trained_run)
    expected = discriminator_attention(loaded.discriminator, result.attention.image, (8, 24))
    np.testing.assert_allclose(result.score.per_class, expected.score.per_class, rtol=1e-5)
    np.testing.assert_allclose(
        result.attention.layers[0].maps, expected.attention.layers[0].maps, rtol=1e-5
    )
    assert "class0" in view.score_label.text() and "proj" in view.score_label.text()
    assert view.maps_image.image is not None
    assert "D of step 3" in view.status.text()


def test_generated_sample_and_no_d(qtbot, worker, trained_run, tmp_path):
    ckpt = load_checkpoint(sorted((trained_run / "checkpoints").iterdir())[-1])
    g_only = {k: v for k, v in ckpt.tensors.items() if k.startswith("G_ema/")}
    path = tmp_path / "g_only.safetensors"
    save_checkpoint(path, ckpt.step, ckpt.config, ckpt.class_names, g_only)
    view = DAttentionView(worker)
    qtbot.addWidget(view)
    view.show()
    assert not view.training_images.isVisible()
    view.set_model(str(path))
    sample = (torch.rand(32, 32, 3) * 255).to(torch.uint8).numpy()
    view.set_sample(sample)  # the first sample is taken at once
    assert view.image_name == "generated sample"
    qtbot.waitUntil(lambda: "holds no discriminator" in view.status.text(), timeout=30_000)
    assert view.result is None and view.score_label.text() == ""


@pytest.mark.skipif(not demo_model_available(), reason="resources/demo_model is not built")
def test_the_demo_model_brings_its_d(qtbot, worker):
    """What D looks at answers for the bundled model too: its file holds D of its step."""
    view = DAttentionView(worker)
    qtbot.addWidget(view)
    view.show()
    view.set_model(str(demo_model_path()))
    data = load_demo_dataset(32)
    image = data.images[data.labels == data.class_names.index("faces")][0]
    with qtbot.waitSignal(view.answered, timeout=30_000) as blocker:
        view.set_sample(image)
    result = blocker.args[0]
    assert len(result.score.per_class) == 8 and result.attention.layers
    assert f"D of step {load_generator('demo').step}" in view.status.text()


def test_an_image_file_is_read_in_the_background(qtbot, worker, trained_run, tmp_path):
    from PIL import Image

    view = DAttentionView(worker, lambda: np.zeros((1, 48, 48, 3), np.uint8))
    qtbot.addWidget(view)
    view.show()
    view.set_model(str(trained_run))
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((300, 200, 3), 200, np.uint8)).save(photo)
    with qtbot.waitSignal(view.set_image_file(photo).finished, timeout=30_000):
        assert view.image is None and "Reading photo.png" in view.status.text()  # not yet
    assert view.image_name == "photo.png" and view.image.shape[0] == view.image.shape[1]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with qtbot.waitSignal(view.set_image_file(broken).finished, timeout=30_000):
        pass
    assert "broken.png" in view.status.text() and view.image_name == "photo.png"
    # A file still being read when a training image is picked does not replace it.
    job = view.set_image_file(photo)
    view._on_thumbnail(view.training_images.item(0))
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    assert view.image_name == "training image 1"
