"""The benchmark harness runs end to end and reports sane figures (no timing assertions:
speed on a shared test machine is not a property of the code)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sagan_engine import bench, pool_conv, upsample_conv
from sagan_engine.bench_flops import PeakMeter, step_flops
from sagan_engine.bench_reference import load_reference
from sagan_engine.config import preset
from sagan_engine.models import Discriminator, Generator

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on a shared 2-core machine two threads can wait on each other for
    seconds per op when other programs hold a core. Figures here are not timings anyway."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    argv = ["--quick", "--no-gui", "--no-isolate", "--threads", "1", "--json", str(out)]
    assert bench.main(argv) == 0
    return json.loads(out.read_text())


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_quick_bench_reports_training_figures_for_engine_and_reference(quick_report):
    assert quick_report["machine"]["device"] == "cpu"
    for peak in (quick_report["matmul_peak"], quick_report["matmul_peak_fp32"]):
        assert _positive(peak["flop_per_s"]) and peak["samples"] >= 2
        assert peak["median_flop_per_s"] <= peak["flop_per_s"]
    assert quick_report["matmul_peak_fp32"]["dtype"] == "float32"
    (figures,) = quick_report["presets"]
    assert figures["preset"] == "demo" and figures["batch_size"] == 4
    for run in (figures["engine"], figures["reference"]):
        assert run["steps"] >= 2
        for name in ("seconds", "images_per_s", "step_ms"):
            assert _positive(run[name]), (run["implementation"], name)
        assert run["peak_rss_mb"] is None or run["peak_rss_mb"] > 50
        assert run["cuda_max_allocated_mb"] is None  # no GPU here
    assert figures["engine"]["images_per_s"] == pytest.approx(
        figures["batch_size"] * figures["engine"]["steps"] / figures["engine"]["seconds"]
    )
    for name in ("speedup", "flops_per_step", "achieved_flop_per_s", "fraction_of_peak"):
        assert _positive(figures[name]), name
    assert figures["fraction_of_fp32_peak"] == pytest.approx(
        figures["achieved_flop_per_s"] / quick_report["matmul_peak_fp32"]["flop_per_s"]
    )
    # The engine's own FLOPs: fewer than the reference's (no D weight gradients in the G step)
    assert 0.5 * figures["flops_per_step"] < figures["engine_flops_per_step"]
    assert figures["engine_flops_per_step"] < figures["flops_per_step"]
    assert figures["engine_fraction_of_peak"] < figures["fraction_of_peak"]


def test_quick_bench_splits_step_time_between_g_d_and_attention(quick_report):
    shares = quick_report["presets"][0]["engine"]["shares"]
    assert 0 < shares["g"] < 1 and 0 < shares["d"] < 1
    assert shares["g"] + shares["d"] <= 1.0 + 1e-6
    assert 0 < shares["attention"] < shares["g"] + shares["d"]
    assert shares["other"] == pytest.approx(1 - shares["g"] - shares["d"])


def test_quick_bench_reports_options_latency_memory_and_gui(quick_report):
    labels = [o["label"] for o in quick_report["options"]]
    assert labels[0] == "defaults" and labels[1].startswith("channels_last=")
    assert all(_positive(o["images_per_s"]) for o in quick_report["options"])
    latency = quick_report["attention"]
    assert latency["resolution"] == 64 and latency["queries"] >= 1
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]
    memory = quick_report["memory"]
    assert memory["steps"] > 0 and (memory["last_mb"] is None or memory["last_mb"] > 0)
    assert quick_report["gui"]["status"].startswith("skipped")
    assert quick_report["notes"] is not None


def test_the_options_time_both_values_of_every_per_machine_choice():
    labels = [label for label, _ in bench.option_variants(torch.device("cpu"), True, threads=2)]
    assert labels[0] == "defaults"  # the per-machine choices themselves
    for pair in (("channels_last=True", "channels_last=False"), ("threads=2", "threads=1")):
        assert set(pair) <= set(labels), pair
    assert "precision=fp32" in labels and any(x.startswith("precision=bf16") for x in labels)
    assert labels[-1] == "compile=True"
    one_thread = [
        label for label, _ in bench.option_variants(torch.device("cpu"), False, threads=1)
    ]
    assert not any(label.startswith("threads=") for label in one_thread)


def test_a_measurement_runs_in_a_process_of_its_own():
    settings = bench.BenchSettings.quick_settings(threads=1)
    cfg = bench.preset_config("demo", settings, torch.device("cpu"))
    run = bench.run_measurement(bench.run_spec("engine", "isolated", cfg, settings), isolate=True)
    assert run.label == "isolated" and run.steps >= settings.min_steps
    assert run.images_per_s > 0 and run.options["threads"] == 1


def test_the_matmul_peak_is_the_best_of_bursts_taken_between_runs():
    meter = PeakMeter(torch.device("cpu"), (torch.float32,), size=64, burst_seconds=0.001)
    meter.sample(0.0)  # at least one burst per dtype and size, even with no time asked
    assert meter.peak(torch.float32).samples == 1
    meter.sample(0.02)
    meter.sample(0.02)
    later = meter.peak(torch.float32)
    assert later.samples >= 3 and later.dtype == "float32" and later.size == 64
    rates = [rate for rate, _ in meter._rates[torch.float32]]
    assert later.flop_per_s == max(rates)
    assert min(rates) <= later.median_flop_per_s <= later.flop_per_s
    with pytest.raises(RuntimeError, match="bfloat16"):
        PeakMeter(torch.device("cpu"), (torch.bfloat16,)).peak(torch.bfloat16)


def test_an_engine_above_the_peak_gets_a_note_not_a_silent_figure():
    meter = PeakMeter(torch.device("cpu"), (torch.float32,), size=64, burst_seconds=0.001)
    meter.sample(0.0)
    peak = meter.peak(torch.float32).flop_per_s
    run = bench.TrainingRun(
        "engine",
        "x",
        "demo",
        4,
        {"precision": "fp32"},
        2,
        1.0,
        8.0,
        125.0,
        1.0,
        8.0,
        None,
        None,
        None,
    )
    figures = bench.PresetFigures("demo", 4, 32, run, None, None, None, 1.0, 2 * peak, None)
    notes: list[str] = []
    bench._divide_by_peaks(figures, meter, torch.device("cpu"), notes)
    assert figures.fraction_of_peak == pytest.approx(2.0)
    assert figures.fraction_of_fp32_peak == pytest.approx(2.0)
    assert len(notes) == 1 and "200%" in notes[0] and "under-measured" in notes[0]


def test_flops_of_a_step_are_counted_at_the_preset_batch():
    reference = load_reference()
    cfg = preset("demo").replace(train={"batch_size": 6, "device": "cpu"})
    flops = step_flops(cfg, reference)
    # Three G passes (two with weight gradients) and three D passes over the batch at least.
    model = cfg.model
    with FlopCounterMode(display=False) as counter:
        Generator(model)(torch.randn(6, model.z_dim))
    assert flops > 3 * counter.get_total_flops()
    assert flops == pytest.approx(3 * step_flops(cfg.replace(train={"batch_size": 2}), reference))


@pytest.mark.parametrize("num_classes", [0, 3])
def test_reference_model_has_the_engine_architecture(num_classes, monkeypatch):
    # The engine's CPU forms of up-conv and conv-pool compute the same layers with fewer
    # multiply-adds; the plain forms make the FLOP counts comparable layer for layer.
    monkeypatch.setattr(upsample_conv, "MIN_SIDE", 10**6)
    monkeypatch.setattr(pool_conv, "usable", lambda x: False)
    reference = load_reference()
    model = preset("demo").model
    model.num_classes = num_classes
    G_ref, D_ref = reference.build(model, torch.device("cpu"))  # asserts parameter counts
    G, D = Generator(model), Discriminator(model)
    z = torch.randn(2, model.z_dim)
    y = torch.tensor([0, 1]) if num_classes else None
    counts = []
    for g, d in ((G, D), (G_ref, D_ref)):
        with FlopCounterMode(display=False) as counter:
            out = g(z, y)
            image = out[0] if isinstance(out, tuple) else out
            d(image, y)
        counts.append((counter.get_total_flops(), tuple(image.shape)))
    assert counts[0] == counts[1]


def test_an_unknown_preset_is_refused(capsys):
    assert bench.main(["--presets", "res999"]) == 2
    assert "res999" in capsys.readouterr().err


def test_the_cli_hands_every_bench_option_to_the_bench(capsys):
    from sagan_engine import cli

    # An option first (argparse.REMAINDER alone would refuse it) and an unknown preset, so
    # that nothing is measured: the bench itself must answer, with status 2.
    assert cli.main(["bench", "--presets", "res999"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_no_options_skips_the_options_runs():
    settings = bench.settings_from_args(bench.build_parser().parse_args(["--no-options"]))
    assert (
        not settings.options
        and bench.settings_from_args(bench.build_parser().parse_args([])).options
    )

    def never(*_args):
        raise AssertionError("an options run was measured")

    ctx = SimpleNamespace(settings=settings, device=torch.device("cpu"), log=never, measure=never)
    assert bench._options_section(ctx, "demo") == []


def test_every_measurement_is_logged_with_its_figures_as_it_is_made(monkeypatch):
    """A bench cut short (the device tool's time limit killed one on an H200 before its
    report) still leaves every figure it measured in its log."""
    run = SimpleNamespace(images_per_s=1234.5, step_ms=51.9, steps=120)
    monkeypatch.setattr(bench, "attempt", lambda spec, isolate, notes: [run])
    meter = SimpleNamespace(sample=lambda seconds: None)
    settings = SimpleNamespace(isolate=False, matmul_seconds=0.0)
    lines: list[str] = []
    context = bench._Context(torch.device("cpu"), settings, meter, [], lines.append)
    assert context.measure(object()) == [run]
    assert lines == ["  1234.5 img/s, 51.9 ms/step (120 steps)"]
