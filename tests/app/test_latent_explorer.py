"""The latent-space explorer driven as a user drives it: the path slider moves the enlarged
sample while its query points stay and their maps follow, class swap, truncation, seed keys,
nudges, exports; every render happens on the inspector's thread, the latest position only."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

import app.latent_tasks as latent_tasks
from app.export_dialog import GridOptions
from sagan_engine.checkpoint import save_checkpoint
from sagan_engine.config import preset
from sagan_engine.models import Generator

TIMEOUT = 30_000
CLASSES = ("apple", "banana", "cherry")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A tiny untrained 32x32 conditional G (class gains spread so classes differ)."""
    config = preset("demo").replace(
        model={"g_ch": 4, "d_ch": 4, "z_dim": 16, "num_classes": len(CLASSES)}
    )
    torch.manual_seed(0)
    generator = Generator(config.model)
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if ".gain." in name or ".bias." in name:
                parameter.add_(0.5 * torch.randn_like(parameter))
    tensors = {f"G_ema/{k}": v for k, v in generator.state_dict().items()}
    return save_checkpoint(tmp_path / "model.safetensors", 7, config, list(CLASSES), tensors)


@pytest.fixture
def renders(monkeypatch):
    """Every frame render: (thread it ran on, path position)."""
    calls: list[tuple[threading.Thread, float]] = []
    original = latent_tasks.frame_work

    def frame_work(position, label, truncation, queries):
        work = original(position, label, truncation, queries)

        def recorded(generator):
            calls.append((threading.current_thread(), position.t))
            return work(generator)

        return recorded

    monkeypatch.setattr(latent_tasks, "frame_work", frame_work)
    return calls


@pytest.fixture
def explore(qtbot, window, checkpoint):
    """The window exploring the tiny model, sample 2 enlarged with two query points."""
    with qtbot.waitSignal(window.latent_explorer.strip.shown, timeout=TIMEOUT):
        with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
            window.open_run(checkpoint)
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        window.inspect(2, [(4, 4), (20, 25)])
    return window


def heatmaps(window) -> list[np.ndarray]:
    return [heat.copy() for _, _, heat in window.attention_view.heatmaps()]


def test_path_slider_moves_the_image_and_the_maps_follow(qtbot, explore, renders):
    window, explorer = explore, explore.latent_explorer
    assert window.latent_dock.isVisible()
    assert explorer.strip.images.shape == (8, 32, 32, 3)
    # The seed boxes show the path's ends.
    assert (explorer.seed_a.value(), explorer.seed_b.value()) == (explorer.a.seed, explorer.b.seed)
    image, maps = window.attention_view.image.copy(), heatmaps(window)
    assert len(maps) == 2  # two queries, one attention layer

    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        explorer.slider.setValue(600)
        # The GUI thread only asked: nothing is rendered or shown yet.
        assert np.array_equal(window.attention_view.image, image)
    assert window.attention_view.queries == [(4, 4), (20, 25)]
    assert not np.array_equal(window.attention_view.image, image)
    assert any(not np.array_equal(a, b) for a, b in zip(maps, heatmaps(window), strict=True))
    assert "60%" in window.attention_view.caption.text()
    assert window.attention_result is window.attention_view.result
    assert renders and all(t is not threading.main_thread() for t, _ in renders)
    # The slider's end is B's image: the strip's last frame (class of the enlarged sample).
    with qtbot.waitSignal(explorer.frame_shown, timeout=TIMEOUT):
        explorer.slider.setValue(1000)
    np.testing.assert_array_equal(window.attention_view.image, explorer.strip.images[-1])


def test_the_analysis_views_follow_the_moved_sample(qtbot, explore):
    """Moved along the path, the enlarged sample is another image of another latent: the
    analysis tabs, D's view and the replay over training take it, not the grid's sample."""
    window, explorer, tools = explore, explore.latent_explorer, explore.attention_tools
    grid_z = np.asarray(window.samples.z[2]).copy()
    np.testing.assert_array_equal(tools.ablation.sample[0], grid_z)
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        with qtbot.waitSignal(explorer.sample_moved, timeout=TIMEOUT) as moved:
            explorer.slider.setValue(600)
    frame = moved.args[0]
    assert not np.allclose(frame.z, grid_z)
    for view in (tools.ablation, tools.all_pixels):
        np.testing.assert_array_equal(view.sample[0], frame.z)
        assert view.sample[1] == frame.label
    np.testing.assert_array_equal(window.replay_view.z, frame.z)
    assert window.replay_view.queries == ((4, 4), (20, 25))
    np.testing.assert_array_equal(window.d_view.sample, window.attention_view.image)
    assert tools.query_grid.result is window.attention_view.result  # the moved sample's maps
    # Another query on the same moved latent: its maps, but nothing for the tabs to redo.
    given = tools.all_pixels._sample_number
    with qtbot.waitSignal(explorer.sample_moved, timeout=TIMEOUT):
        window.attention_view.add_query(9, 9)
    assert tools.all_pixels._sample_number == given
    assert tools.query_grid.result is window.attention_view.result

    # Picking the grid's sample again brings them all back to it.
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        window.inspect(2, [(4, 4)])
    np.testing.assert_array_equal(tools.ablation.sample[0], grid_z)
    assert window.replay_view.queries == ((4, 4),)
    np.testing.assert_array_equal(window.replay_view.z, grid_z)
    np.testing.assert_array_equal(window.d_view.sample, window.samples.images[2])


def test_a_burst_of_slider_moves_renders_only_the_latest(qtbot, explore, renders):
    explorer = explore.latent_explorer
    renders.clear()
    with qtbot.waitSignal(explorer.frame_shown, timeout=TIMEOUT):
        for value in range(0, 1001, 50):  # 21 positions, as fast as the GUI can send them
            explorer.slider.setValue(value)
    qtbot.wait(300)
    assert len(renders) < 21
    assert renders[-1][1] == 1.0
    assert "100%" in explore.attention_view.caption.text()


def test_class_swap_row_and_class_selector(qtbot, explore):
    window, explorer = explore, explore.latent_explorer
    # The row may be done already: background work gives way to the enlarged sample's maps.
    qtbot.waitUntil(lambda: explorer.class_strip.images is not None, timeout=TIMEOUT)
    row = explorer.class_strip.images
    assert row.shape == (3, 32, 32, 3)
    label = int(window.samples.labels[2])
    np.testing.assert_array_equal(row[label], window.samples.images[2])
    other = (label + 1) % 3
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        qtbot.mouseClick(
            explorer.class_strip.graphics.viewport(),
            Qt.MouseButton.LeftButton,
            pos=explorer.class_strip.viewport_pos(other),
        )
    assert explorer.class_choice.currentIndex() == other
    np.testing.assert_array_equal(window.attention_view.image, row[other])
    assert CLASSES[other] in window.attention_view.caption.text()


def test_truncation_applies_to_grid_and_exports(qtbot, explore, tmp_path):
    window, panel = explore, explore.explore_panel
    before = window.samples.images.copy()
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        panel.threshold.setValue(1.0)
        panel.psi.setValue(40)
    qtbot.waitUntil(lambda: window.samples.truncation.psi == 0.4, timeout=TIMEOUT)
    assert window.samples.truncation.threshold == 1.0
    assert not np.array_equal(window.samples.images, before)
    out = tmp_path / "grid.png"
    with qtbot.waitSignal(window.export_done, timeout=TIMEOUT):
        window.write_grid(out, GridOptions(count=4, columns=2, padding=2, scale=1))
    with Image.open(out) as image:
        assert image.text["truncation_psi"] == "0.4"
        assert image.text["truncation_threshold"] == "1"


def test_fewer_samples_drawn_and_points_cleared_leave_no_stale_inspector(qtbot, explore):
    window = explore
    panel = window.explore_panel
    window.attention_tools.setCurrentWidget(window.attention_tools.query_grid)
    qtbot.waitUntil(lambda: bool(window.attention_tools.query_grid.heat_items), timeout=TIMEOUT)
    qtbot.mouseClick(window.attention_view.clear_button, Qt.MouseButton.LeftButton)
    assert window.attention_tools.query_grid.heat_items == []  # the maps went with the points
    panel.count.setValue(2)  # sample 3 was enlarged: there is no sample 3 now
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        panel.draw()
    assert window.selected is None and window.attention_view.image is None
    window.attention_view.add_query(3, 3)  # a click where the enlarged image was: no IndexError
    panel.threshold.setValue(0.05)  # below the smallest threshold, not "off": the smallest
    assert panel.truncation().threshold == 0.1


def test_seed_keys_nudge_and_path_export(qtbot, explore, tmp_path):
    window, explorer = explore, explore.latent_explorer
    seed = window.explore_panel.seed.value()
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.samples.seed == seed + 1 and explorer.sample.seed == seed + 1
    qtbot.waitUntil(
        lambda: np.array_equal(window.attention_view.image, window.samples.images[2]),
        timeout=TIMEOUT,
    )
    image = window.attention_view.image.copy()
    with qtbot.waitSignal(explorer.frame_shown, timeout=TIMEOUT):
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    assert not np.array_equal(window.attention_view.image, image)
    assert "1 nudge(s)" in window.attention_view.caption.text()
    with qtbot.waitSignal(explorer.frame_shown, timeout=TIMEOUT):
        qtbot.mouseClick(explorer.reset_button, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(window.attention_view.image, image)

    explorer.export_frames.setValue(5)
    out = tmp_path / "path.webp"
    with qtbot.waitSignal(window.export_done, timeout=TIMEOUT):
        explorer.write_path(out)
        assert not explorer.export_button.isEnabled()  # under way, and says so
        assert explorer.export_button.text() == "Exporting 5 frames…"
    assert explorer.export_button.isEnabled() and explorer.exporting is None
    with Image.open(out) as animation:
        assert animation.n_frames == 5 and animation.size == (32, 32)
    bad = tmp_path / "missing folder" / "path.gif"
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        explorer.write_path(bad)
    assert "missing folder" in shown.args[0] and explorer.export_button.isEnabled()
    # An export still waiting its turn when another model is opened is given up: it says so.
    started = threading.Event()
    window.inspector.run_task("busy", lambda g: started.set() or time.sleep(1))
    assert started.wait(TIMEOUT / 1000)
    later = tmp_path / "later.gif"
    explorer.write_path(later)
    with qtbot.waitSignal(window.error_shown, timeout=TIMEOUT) as shown:
        window.open_run(window.model_info.checkpoint)
    assert "later.gif was not written" in shown.args[0] and not later.exists()
    assert explorer.export_button.text() == "Export path…"


def test_a_long_run_name_does_not_widen_the_explore_panel(qtbot, window, checkpoint):
    import shutil

    long = checkpoint.with_name("x" * 100 + ".safetensors")
    shutil.copy(checkpoint, long)
    with qtbot.waitSignal(window.sample_view.samples_shown, timeout=TIMEOUT):
        window.open_run(long)
    label = window.explore_panel.info_label
    assert "…" in label.text() and label.toolTip() == str(long)
    assert window.explore_panel.sizeHint().width() < 450  # ▶ and Draw stay on screen
