"""Where `make setup` installs PyTorch from: prints the extra pip arguments (or nothing).

On a machine without an NVIDIA GPU, the default package index's Linux torch wheel is the
CUDA build (several GB). When the PyTorch CPU wheel index answers within a few seconds, pip
is pointed at it as well (``--extra-index-url``: its ``2.13.0+cpu`` outranks ``2.13.0``);
when it does not (offline, a mirror-only network, a firewall), nothing is printed and the
install goes on as before. Standard library only: it runs before the virtual environment
exists.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 3.0


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/proc/driver/nvidia/gpus")


def index_answers(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether ``url``'s torch page answers (any HTTP status below 400) within ``timeout_s``."""
    request = urllib.request.Request(f"{url}/torch/", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status < 400
    except (OSError, ValueError):  # URLError, timeouts, refused connections are OSErrors
        return False


def torch_index_arguments(
    gpu: bool,
    answers: Callable[[str], bool],
    platform: str | None = None,
) -> list[str]:
    """The pip arguments that choose the CPU wheels, or [] for today's default path."""
    platform = platform or sys.platform
    if gpu or not platform.startswith("linux"):
        return []  # a GPU wants CUDA; macOS and Windows wheels on PyPI are CPU builds already
    if not answers(CPU_INDEX):
        return []
    return ["--extra-index-url", CPU_INDEX]


def main() -> int:
    arguments = torch_index_arguments(has_nvidia_gpu(), index_answers)
    note = (
        f"PyTorch: CPU wheels from {CPU_INDEX}"
        if arguments
        else "PyTorch: from the default package index"
    )
    print(note, file=sys.stderr)
    print(" ".join(arguments))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
