"""`make setup`'s choice of where PyTorch comes from, with the network probe injected
(issue 15, item 4); and the SPDX licence string that silences setuptools' deprecation."""

from __future__ import annotations

import importlib.util
import socket
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "choose_torch_index", ROOT / "scripts" / "choose_torch_index.py"
)
choose = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(choose)

CPU = ["--extra-index-url", "https://download.pytorch.org/whl/cpu"]


def test_cpu_index_only_without_a_gpu_on_linux_when_it_answers():
    asked = []

    def answers(url: str) -> bool:
        asked.append(url)
        return True

    assert choose.torch_index_arguments(False, answers, "linux") == CPU
    assert asked == ["https://download.pytorch.org/whl/cpu"]
    assert choose.torch_index_arguments(False, lambda url: False, "linux") == []
    assert choose.torch_index_arguments(True, answers, "linux") == []  # a GPU wants CUDA
    assert choose.torch_index_arguments(False, answers, "darwin") == []  # PyPI's is CPU
    assert len(asked) == 1  # no probe where the answer cannot change the choice


def test_a_silent_index_falls_back_within_the_timeout():
    # A server that accepts the connection and never answers, like a blackholing firewall.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/whl/cpu"
        start = time.monotonic()
        assert choose.index_answers(url, timeout_s=0.5) is False
        assert time.monotonic() - start < 5
    assert choose.index_answers("http://127.0.0.1:9/nothing-listens", timeout_s=0.5) is False


def test_the_script_prints_pip_arguments(monkeypatch, capsys):
    monkeypatch.setattr(choose, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(choose, "index_answers", lambda url: True)
    monkeypatch.setattr(choose.sys, "platform", "linux")
    assert choose.main() == 0
    out, err = capsys.readouterr()
    assert out.strip() == " ".join(CPU) and "CPU wheels" in err
    monkeypatch.setattr(choose, "index_answers", lambda url: False)
    assert choose.main() == 0
    out, err = capsys.readouterr()
    assert out.strip() == "" and "default package index" in err


def test_the_licence_is_an_spdx_string_and_setuptools_can_read_it():
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    assert 'license = "MIT"' in lines  # not the deprecated table form
    requires = next(line for line in lines if line.startswith("requires = "))
    assert '"setuptools>=77"' in requires  # the first setuptools that reads the string form
