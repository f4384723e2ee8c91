"""``sagan-engine prepare`` and ``train --data-cache``, and the README's torchrun example run as
written (on a generated folder, with tiny settings appended)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sagan_engine.cli import _parser, _train_config, main
from sagan_engine.data_cache import is_cache_folder, open_cache
from tests.engine.cli_helpers import assert_one_error_line, run_cli
from tests.engine.test_data_cache import write_ppm_folder

ROOT = Path(__file__).resolve().parents[2]
# torchrun of this interpreter's environment (the venv need not be on PATH).
TORCHRUN = next(
    (str(p) for p in [Path(sys.executable).parent / "torchrun"] if p.exists()),
    shutil.which("torchrun"),
)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-images")
    write_ppm_folder(folder, 24, size=40, classes=2)
    return folder


def test_prepare_builds_a_cache_that_train_opens(images, tmp_path, capsys):
    cache = tmp_path / "cache"
    assert main(["prepare", "--data", str(images), "--resolution", "32", "--out", str(cache)]) == 0
    out, err = capsys.readouterr()
    assert "cache ready" in out and "24 images, 2 classes" in out
    assert "24 images" in err and "decoding about" in err  # the estimate, before the build
    assert is_cache_folder(cache) and len(open_cache(cache)) == 24


def test_prepare_says_what_is_wrong_in_one_line(tmp_path):
    result = run_cli("prepare", "--data", str(tmp_path / "nowhere"), "--resolution", "32")
    assert_one_error_line(result, "nowhere", "folder not found")


def test_train_takes_data_cache(images):
    args = _parser().parse_args(["train", "--data", str(images), "--data-cache", "disk"])
    config, _ = _train_config(args)
    assert config.data.cache == "disk"
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "--data-cache", "sometimes"])


def readme_torchrun_command() -> list[str]:
    """The single-machine torchrun line of the README, split as a shell would."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("torchrun --nproc_per_node"))
    return shlex.split(line)


def test_readme_torchrun_example_parses_as_a_training_command():
    argv = readme_torchrun_command()
    module = argv.index("-m")
    assert argv[module + 1] == "sagan_engine"
    args = _parser().parse_args(argv[module + 2 :])
    config, resume = _train_config(args)
    assert config.preset == "res128" and config.model.resolution == 128 and resume is None
    assert config.data.cache == "auto"  # a folder too large for memory goes to the disk cache


@pytest.mark.slow
@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed")
def test_readme_torchrun_example_runs_as_written(images, tmp_path):
    """The README's command with its folder and run folder replaced by generated ones, two
    processes instead of four (this machine's cores), and tiny settings appended: the demo
    model's size (res128 takes minutes a step on a CPU), one step, the disk cache."""
    argv = readme_torchrun_command()
    command = [TORCHRUN if a == "torchrun" else a for a in argv]
    command = [re.sub(r"--nproc_per_node=\d+", "--nproc_per_node=2", a) for a in command]
    data, out = command.index("--data") + 1, command.index("--out") + 1
    command[data], command[out] = str(images), str(tmp_path / "run")
    preset = command.index("--preset") + 1
    command[preset] = "demo"
    command += ["--steps", "1", "--batch-size", "2", "--device", "cpu", "--data-cache", "disk"]
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "completed at step 1" in result.stdout
    assert (tmp_path / "run" / "checkpoints" / "step_000001.safetensors").is_file()
    assert list((tmp_path / "xdg-cache").rglob("cache.json"))  # trained from the disk cache
