"""The attention analysis panel driven as a user drives it: toggle a layer off and see the
image without it, the query grid, all pixels of a layer, and the statistics curves."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from app.all_pixels_view import mosaic
from app.attention_stats_history import AttentionStatsHistory
from app.attention_tools import AttentionTools
from app.inspector_worker import InspectorWorker
from sagan_engine.attention import fold_spectral_norm
from sagan_engine.attention_ablation import render_without_attention
from sagan_engine.attention_grid import position_maps
from sagan_engine.config import preset
from sagan_engine.events import AttentionStats, LayerAttentionStats, StepStats
from sagan_engine.export import save_metrics_csv
from sagan_engine.models import Generator
from sagan_engine.trainer import GeneratorSnapshot

TIMEOUT = 30_000
LAYERS = ["G attention 8x8", "G attention 16x16"]


@pytest.fixture
def tools(qtbot):
    cfg = preset("demo").replace(model={"g_ch": 4, "z_dim": 8, "g_attention": (8, 16)})
    torch.manual_seed(0)
    generator = Generator(cfg.model)
    with torch.no_grad():
        for _, layer in generator.attention_layers():
            layer.gamma.fill_(0.7)  # an untrained gamma of 0 would change nothing
    state = generator.state_dict()
    inspector = InspectorWorker()
    inspector.follow_training(lambda: GeneratorSnapshot(cfg, state, 5, is_ema=True))
    panel = AttentionTools(inspector)
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    panel.reference = fold_spectral_norm(generator)  # what the worker renders with
    yield panel, inspector
    inspector.shutdown()


def _inspect(qtbot, panel, inspector, queries):
    z = np.random.default_rng(1).normal(size=8).astype(np.float32)
    panel.set_sample(z, None)
    with qtbot.waitSignal(inspector.attention_ready, timeout=TIMEOUT):
        inspector.query_attention(z, None, queries)
    return z


def test_toggling_a_layer_off_shows_the_image_without_it(qtbot, tools):
    panel, inspector = tools
    view = panel.ablation
    panel.setCurrentWidget(view)
    assert view.stack.currentIndex() == 0  # the hint, until a layer is toggled
    z = _inspect(qtbot, panel, inspector, [(5, 5)])
    assert list(view.buttons) == LAYERS
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT):
        qtbot.mouseClick(view.buttons[LAYERS[1]], Qt.MouseButton.LeftButton)
    assert view.layer == LAYERS[1] and view.stack.currentIndex() == 1
    expected = render_without_attention(panel.reference, z, None, LAYERS[1])
    normal, ablated, heat = (item.image for item in view.images)
    assert np.abs(normal.astype(int) - expected.image).max() <= 1
    assert np.abs(ablated.astype(int) - expected.ablated).max() <= 1
    assert not np.array_equal(normal, ablated)
    assert heat.shape == (32, 32, 3) and heat.std() > 0
    assert "Without G attention 16x16" in view.labels[1].text

    # The other layer: one toggle at a time.
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT) as shown:
        qtbot.mouseClick(view.buttons[LAYERS[0]], Qt.MouseButton.LeftButton)
    assert shown.args[0].layer == LAYERS[0]
    assert not view.buttons[LAYERS[1]].isChecked()
    # Toggled off again: back to the hint.
    qtbot.mouseClick(view.buttons[LAYERS[0]], Qt.MouseButton.LeftButton)
    assert view.layer is None and view.stack.currentIndex() == 0


def test_query_grid_has_a_row_per_point_and_a_column_per_layer(qtbot, tools):
    panel, inspector = tools
    _inspect(qtbot, panel, inspector, [(1, 1), (16, 16), (30, 2)])
    grid = panel.query_grid
    assert len(grid.heat_items) == 3 and all(len(row) == 2 for row in grid.heat_items)
    assert grid.heat_items[2][1].image.shape == (16, 16, 3)
    assert grid.graphics.minimumHeight() >= 3 * 96


def test_all_pixels_shows_the_maps_of_every_strided_position(qtbot, tools):
    panel, inspector = tools
    z = _inspect(qtbot, panel, inspector, [(3, 3)])
    view = panel.all_pixels
    view.layer.setCurrentIndex(1)
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT) as shown:
        panel.setCurrentWidget(view)  # computed when the tab is looked at
    result = shown.args[0]
    assert (
        result.layer == LAYERS[1] and result.stride == 1 and result.maps.shape == (16, 16, 16, 16)
    )
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT) as shown:
        view.stride.setValue(4)
    expected = position_maps(panel.reference, z, None, LAYERS[1], 4)
    np.testing.assert_allclose(shown.args[0].maps, expected.maps, atol=1e-4)
    assert view.mosaic_item.image.shape == (4 * 17 - 1, 4 * 17 - 1, 3)
    # "Every" wider than the 8x8 layer: its first position alone, not "Computing…" for ever.
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT):
        view.layer.setCurrentIndex(0)  # 8x8, every 4th: 2x2 maps
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT) as shown:
        view.stride.setValue(12)
    assert shown.args[0].maps.shape[:2] == (1, 1)
    panel.clear()  # another model: not the last one's maps
    assert view.mosaic_item.image is None and view.sample is None
    assert panel.ablation.sample is None


def test_all_pixels_computes_each_new_sample_set_while_hidden(qtbot, tools):
    """Samples set while the tab was hidden are each new: the one shown at last gets its
    own maps, even when Python gave its (sample, label) pair the address of the one whose
    maps are on screen (tuples are recycled, so id() is no name for a sample)."""
    panel, inspector = tools
    _inspect(qtbot, panel, inspector, [(3, 3)])  # the layers are known from its maps
    view = panel.all_pixels
    rng = np.random.default_rng(3)
    with qtbot.waitSignal(view.shown, timeout=TIMEOUT):
        panel.setCurrentWidget(view)
    for _ in range(6):  # hidden: nothing asked, each pair replaced (and freed) in turn
        panel.setCurrentWidget(panel.query_grid)
        view.set_sample(rng.normal(size=8).astype(np.float32), None)
        view.set_sample(rng.normal(size=8).astype(np.float32), None)
        z = view.sample[0]
        with qtbot.waitSignal(view.shown, timeout=TIMEOUT) as shown:
            panel.setCurrentWidget(view)
        expected = position_maps(panel.reference, z, None, view.layer.currentText(), None)
        np.testing.assert_allclose(shown.args[0].maps, expected.maps, atol=1e-4)


def test_mosaic_places_each_map_at_its_position():
    maps = np.zeros((2, 3, 4, 4), np.float32)
    maps[1, 2, 0, 0] = 1.0
    picture = mosaic(maps)
    assert picture.shape == (2 * 5 - 1, 3 * 5 - 1, 3)
    bright = np.argwhere(picture.sum(-1) > 600)
    assert bright.tolist() == [[5, 10]]


def test_mosaic_tiles_are_each_maps_own_heat_picture():
    from sagan_engine.export import heat_colours, normalise_map

    maps = np.random.default_rng(0).random((3, 4, 5, 6)).astype(np.float32)
    maps[1, 2] = 0  # a map with no peak stays dark, not NaN
    picture = mosaic(maps, gap=2)
    assert picture.shape == (3 * 7 - 2, 4 * 8 - 2, 3)
    for r in range(3):
        for c in range(4):
            tile = picture[r * 7 : r * 7 + 5, c * 8 : c * 8 + 6]
            np.testing.assert_array_equal(tile, heat_colours(normalise_map(maps[r, c])))
    assert (picture[5:7, :] == 40).all() and (picture[:, 6:8] == 40).all()  # the gaps


def _event(step: int, entropy: float) -> AttentionStats:
    return AttentionStats(
        step, tuple(LayerAttentionStats(name, 0.1, entropy, 4.0, 0.05) for name in LAYERS)
    )


def test_statistics_curves_live_and_from_metrics_csv(qtbot, tools, tmp_path):
    panel, _inspector = tools
    view = panel.stats_view
    view.add_stats([_event(0, 0.9)])
    view.add_stats([_event(50, 0.6)])
    steps, values = view.curve_data(LAYERS[0])
    assert list(steps) == [0, 50] and list(values) == pytest.approx([0.9, 0.6])
    view.select("distance")
    assert list(view.curve_data(LAYERS[1])[1]) == [4.0, 4.0]
    # The same from a metrics.csv, whose StepStats rows have no attention cells.
    stats = [StepStats(s, 1.0, 1.0, 0.0, 0.0, {}, 1.0, 0.1, s, 0.0) for s in (10, 50)]
    path = save_metrics_csv(stats, tmp_path / "metrics.csv", [_event(0, 0.9), _event(50, 0.6)])
    history = AttentionStatsHistory.from_csv(path)
    assert history.layers == LAYERS
    view.set_history(history)
    view.select("entropy")
    assert list(view.curve_data(LAYERS[0])[1]) == pytest.approx([0.9, 0.6])
    assert history.to_events() == [_event(0, 0.9), _event(50, 0.6)]


def test_the_window_plots_training_statistics_and_ablates_the_inspected_sample(
    qtbot, window, tiny_folder
):
    from app.training_worker import IDLE
    from tests.app.helpers import set_tiny_model

    window.data_panel.set_folder(tiny_folder)
    set_tiny_model(window, steps=4)
    tools = window.attention_tools
    assert window.attention_dock.isVisible()
    window.start_training()
    qtbot.waitUntil(lambda: window.training.state == IDLE, timeout=60_000)
    history = tools.stats_view.history
    assert history.layers == LAYERS
    assert list(history.steps(LAYERS[0])) == [0, 2, 4]  # sample_every = 2
    tools.setCurrentWidget(tools.ablation)
    with qtbot.waitSignal(window.attention_view.heatmaps_shown, timeout=TIMEOUT):
        window.inspect(1, [(4, 4)])
    with qtbot.waitSignal(tools.ablation.shown, timeout=TIMEOUT) as shown:
        qtbot.mouseClick(tools.ablation.buttons[LAYERS[0]], Qt.MouseButton.LeftButton)
    assert shown.args[0].image.shape == window.samples.images[1].shape
