"""Running the command line as a user does (a separate process), and a tiny checkpoint to
run it on, for the tests of what the user meets when something goes wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sagan_engine.checkpoint import save_checkpoint
from sagan_engine.models import Generator
from tests.engine.conftest import tiny_config


def run_cli(*args: str, prefix: tuple[str, ...] = (), code: str = "", timeout: int = 300):
    """``python -m sagan_engine ARGS``; ``code`` runs first in the same process (to simulate
    a fault the machine cannot produce on demand, such as a full disk)."""
    launcher = (
        f"{code}\nimport sys\nfrom sagan_engine.cli import main\nsys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [*prefix, sys.executable, "-c", launcher, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 2, no traceback, and a last line ``error: ...`` holding every fragment."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, (fragment, last)
    return last


def tiny_checkpoint(folder: Path, classes: int = 0) -> Path:
    """A checkpoint of an untrained tiny generator (32x32), written in a moment."""
    config = tiny_config()
    if classes:
        config = config.replace(model={"num_classes": classes})
    generator = Generator(config.model)
    tensors = {f"G/{name}": value for name, value in generator.state_dict().items()}
    names = [f"class{i}" for i in range(classes)]
    return save_checkpoint(folder / "tiny.safetensors", 1, config, names, tensors)
