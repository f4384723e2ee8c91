"""Per-machine choices: "auto" settings timed once per machine and model size, cached, and
every option trains the same numbers as the plain path."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from sagan_engine import machine_choices as mc
from sagan_engine.config import RunConfig
from sagan_engine.cpu_threads import set_threads_of_this_thread
from sagan_engine.errors import ConfigError
from sagan_engine.events import Log, TrainingStarted
from sagan_engine.trainer import Trainer

from .conftest import synthetic_dataset, tiny_config

CPU = torch.device("cpu")


@pytest.fixture
def probing(monkeypatch):
    """The probe switched on (the suite switches it off), and a count of real probes."""
    monkeypatch.setenv(mc.PROBE_ENV, "on")
    monkeypatch.setattr(mc, "MAX_ROUNDS", mc.MIN_ROUNDS)  # fast: the fewest rounds
    calls = []
    real = mc.probe

    def counted(config, base, device, budget_s=None):
        calls.append(mc.cache_key(config, device))
        return real(config, base, device, budget_s)

    monkeypatch.setattr(mc, "probe", counted)
    return calls


def auto_config(**train) -> RunConfig:
    return tiny_config(**{"channels_last": "auto", "precision": "auto", "threads": 0, **train})


def test_the_probe_switched_off_gives_the_defaults_and_writes_nothing(monkeypatch):
    monkeypatch.setenv(mc.PROBE_ENV, "off")
    choices = mc.choose(auto_config(), CPU)
    assert choices.source == "defaults" and choices.step_seconds == {}
    assert choices.channels_last is True and choices.compile is False and choices.threads == 0
    assert choices.precision == ("bf16" if mc.cpu_has_native_bf16() else "fp32")
    assert not mc.cache_path().exists()
    assert "built-in defaults" in choices.describe()


def test_settings_given_explicitly_are_not_probed(probing):
    cfg = tiny_config(channels_last=False, precision="fp32", threads=1)
    choices = mc.choose(cfg, CPU)
    assert choices.source == "config" and choices.auto == () and probing == []
    assert (choices.precision, choices.channels_last, choices.threads) == ("fp32", False, 1)


def test_a_probe_times_every_option_and_its_result_is_cached_and_reused(probing):
    cfg = auto_config()
    first = mc.choose(cfg, CPU)
    assert first.source == "probe" and len(probing) == 1
    assert set(first.step_seconds) >= {"defaults", "channels_last=False"}
    assert all(seconds > 0 for seconds in first.step_seconds.values())
    entry = json.loads(mc.cache_path().read_text())[mc.cache_key(cfg, CPU)]
    assert entry["channels_last"] == first.channels_last
    again = mc.choose(cfg, CPU)
    assert again.source == "cache" and len(probing) == 1
    assert (again.precision, again.channels_last, again.threads) == (
        first.precision,
        first.channels_last,
        first.threads,
    )
    assert "measured earlier" in again.describe()


def test_a_value_given_explicitly_is_never_replaced_by_a_cached_choice(probing, monkeypatch):
    """Two configs that leave the same settings at "auto" but give another value explicitly
    (the bench's channels_last=True / =False rows) each train with the value they gave."""
    monkeypatch.setattr(mc, "probe", lambda *args, **kw: probing.append(1) or {"defaults": 1.0})
    given = {}
    for flag in (True, False, True, False):
        for precision in ("fp32", "bf16"):
            cfg = auto_config(channels_last=flag, precision=precision, compile="auto")
            choices = mc.choose(cfg, CPU)
            assert (choices.channels_last, choices.precision) == (flag, precision), choices
            given.setdefault(mc.cache_key(cfg, CPU), choices.source)
    assert len(given) == 4 and set(given.values()) == {"probe"} and len(probing) == 4


def test_the_cache_is_invalidated_by_a_new_torch_or_another_device(probing, monkeypatch):
    cfg = auto_config()
    monkeypatch.setattr(mc, "probe", lambda *args, **kw: probing.append(1) or {"defaults": 1.0})
    mc.choose(cfg, CPU)
    mc.choose(cfg, CPU)
    assert len(probing) == 1
    monkeypatch.setattr(torch, "__version__", torch.__version__ + "+other")
    assert mc.choose(cfg, CPU).source == "probe" and len(probing) == 2
    monkeypatch.setattr(mc, "cpu_name", lambda: "Another CPU 9000")
    assert mc.choose(cfg, CPU).source == "probe" and len(probing) == 3
    assert mc.choose(cfg, CPU).source == "cache" and len(probing) == 3
    # The model size is part of the key too: another batch is measured on its own.
    assert mc.choose(auto_config(batch_size=8), CPU).source == "probe"


def test_an_unreadable_cache_is_measured_again(probing, monkeypatch):
    monkeypatch.setattr(mc, "probe", lambda *args, **kw: {"defaults": 1.0})
    mc.cache_path().parent.mkdir(parents=True)
    mc.cache_path().write_text("{ not json")
    assert mc.choose(auto_config(), CPU).source == "probe"
    assert mc.choose(auto_config(), CPU).source == "cache"


def test_a_model_too_slow_to_probe_keeps_the_defaults_and_is_not_cached(probing, monkeypatch):
    monkeypatch.setattr(mc, "PROBE_SECONDS", 1e-6)
    lines: list[str] = []
    choices = mc.choose(auto_config(), CPU, lines.append)
    assert choices.source == "defaults" and len(probing) == 1
    assert "too long" in lines[-1] and not mc.cache_path().exists()


def test_threads_are_probed_only_while_the_count_is_pytorchs_own(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(mc, "_STARTUP_THREADS", 2)
        base = mc.default_choices(auto_config(), CPU)
        assert "threads" in base.auto and "threads=1" in mc.candidates(base, CPU)
        monkeypatch.setattr(mc, "_STARTUP_THREADS", 4)  # the program set 2 itself
        assert "threads" not in mc.default_choices(auto_config(), CPU).auto
        monkeypatch.setattr(mc, "_STARTUP_THREADS", 2)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # so did the user
        assert "threads" not in mc.default_choices(auto_config(), CPU).auto
    finally:
        torch.set_num_threads(threads)


def test_an_option_is_taken_only_when_it_beats_the_defaults_beyond_the_noise():
    base = mc.default_choices(auto_config(), CPU)
    timed = {"defaults": 1.0, "channels_last=False": 0.99, "threads=1": 0.5}
    chosen = mc.pick(base, timed)
    assert chosen.channels_last is True  # 1% faster: noise
    assert chosen.threads == 1 and chosen.step_seconds == timed
    assert mc.pick(base, {"defaults": 1.0, "channels_last=False": 0.9}).channels_last is False


def test_the_trainer_writes_the_choices_into_its_config_and_logs_them(tmp_path, monkeypatch):
    monkeypatch.setenv(mc.PROBE_ENV, "on")
    timed = {"defaults": 1.0, "channels_last=False": 0.5}
    monkeypatch.setattr(mc, "probe", lambda *args, **kw: dict(timed))
    events = []
    trainer = Trainer(
        auto_config(threads=1), synthetic_dataset(), tmp_path / "run", listeners=[events.append]
    )
    trainer.run()
    assert trainer.config.train.channels_last is False
    assert trainer.memory_format == torch.contiguous_format
    assert trainer.config.train.precision in ("fp32", "bf16") and trainer.config.train.threads == 1
    saved = RunConfig.load(tmp_path / "run" / "config.json").train
    assert (saved.channels_last, saved.threads) == (False, 1)  # what the run really used
    lines = [e.message for e in events if isinstance(e, Log)]
    assert lines[0].startswith("measuring which settings")
    assert "machine choices (measured on this machine): precision" in lines[1]
    assert "channels_last off" in lines[1] and "1 CPU thread (" in lines[1]
    kinds = [type(e) for e in events]
    assert kinds[:3] == [Log, TrainingStarted, Log]  # the choice is said right after the start
    assert events[2].message == lines[1]


def _one_step(cfg: RunConfig, tmp_path, name: str) -> dict[str, torch.Tensor]:
    """The statistics of one training step (D's losses and outputs, G's loss) and the
    gradients it left on D (of the D step) and on G."""
    trainer = Trainer(cfg, synthetic_dataset(), tmp_path / name)
    threads = torch.get_num_threads()
    try:
        trainer._build()
        found = {"stats": trainer._train_step()}
    finally:
        set_threads_of_this_thread(threads)
    for model_name, model in (("D", trainer.D), ("G", trainer.G)):
        for key, param in model.named_parameters():
            found[f"{model_name}.{key}"] = param.grad.detach().float().contiguous()
    return found


def test_every_option_trains_the_same_numbers_as_the_plain_path(tmp_path):
    """Compared before the optimizer: Adam's first step is lr * sign(gradient), which turns
    the rounding noise of gradients that are zero in exact arithmetic (a conv bias before
    batch norm) into full steps; the gradients themselves agree to fp32 rounding."""
    plain = tiny_config(precision="fp32", channels_last=False, threads=0)
    expected = _one_step(plain, tmp_path, "plain")
    scale = max(v.abs().max().item() for k, v in expected.items() if k != "stats")
    base = mc.default_choices(auto_config(), CPU)
    options = mc.candidates(base, CPU)
    options["threads=1"] = dataclasses.replace(base, threads=1)  # even on one core
    for label, choices in options.items():
        if choices.precision != "fp32":  # native bf16 here: its own tolerance, not this one
            choices = dataclasses.replace(choices, precision="fp32")
        got = _one_step(mc.apply(plain, choices), tmp_path, label)
        torch.testing.assert_close(got["stats"], expected["stats"], atol=1e-5, rtol=1e-5)
        for key, value in expected.items():
            torch.testing.assert_close(
                got[key], value, atol=1e-5 * scale, rtol=1e-4, msg=f"{label}: {key}"
            )


def test_bf16_where_chosen_trains_close_to_the_plain_path(tmp_path):
    plain = tiny_config(precision="fp32", channels_last=False)
    expected = _one_step(plain, tmp_path, "plain")
    got = _one_step(plain.replace(train={"precision": "bf16"}), tmp_path, "bf16")
    torch.testing.assert_close(got["stats"], expected["stats"], atol=0.05, rtol=0.05)


def test_config_takes_true_false_or_auto_for_the_probed_switches():
    cfg = tiny_config(channels_last="auto", compile="auto", threads=2)
    again = RunConfig.from_json(cfg.to_json())
    assert (again.train.channels_last, again.train.compile, again.train.threads) == (
        "auto",
        "auto",
        2,
    )
    assert RunConfig.from_json(tiny_config(channels_last=True).to_json()).train.channels_last
    with pytest.raises(ConfigError, match="train.channels_last"):
        tiny_config(channels_last="yes")
    with pytest.raises(ConfigError, match="train.threads"):
        tiny_config(threads=-1)
