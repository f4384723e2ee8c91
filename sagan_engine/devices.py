"""Choosing the training device and its precision."""

from __future__ import annotations

import os
import platform

import torch

from .errors import ConfigError
from .plurals import counted


def mps_available() -> bool:
    """Whether PyTorch can train on an Apple GPU here (Metal Performance Shaders)."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str, dist=None) -> torch.device:
    """ "auto" -> the CUDA GPU of this process when there is one, else an Apple GPU (MPS),
    else the CPU."""
    local_rank = getattr(dist, "local_rank", 0)
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif mps_available() and getattr(dist, "world_size", 1) == 1:
            name = "mps"
        else:
            name = "cpu"
    if name == "mps":
        if not mps_available():
            raise ConfigError(
                "device 'mps' was asked for, but PyTorch sees no Apple GPU here (it needs a "
                "Mac with Apple silicon or an AMD GPU, macOS 12.3+ and an MPS build of PyTorch)"
            )
        return torch.device("mps")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {name!r} was asked for, but PyTorch sees no CUDA GPU here "
                "(is this a CPU build of PyTorch?)"
            )
        if name == "cuda":
            name = f"cuda:{local_rank % torch.cuda.device_count()}"
        elif int(os.environ.get("LOCAL_WORLD_SIZE", 1)) > 1:
            raise ConfigError(
                f"device {name!r} under torchrun would put every process of this machine on "
                "that one GPU: use 'cuda' (or 'auto'), and each process takes the GPU of its "
                "LOCAL_RANK (CUDA_VISIBLE_DEVICES chooses which GPUs the run uses)"
            )
        device = torch.device(name)
        torch.cuda.set_device(device)
        return device
    if name != "cpu":
        raise ConfigError(f"unknown device {name!r}")
    return torch.device("cpu")


def available_devices() -> list[tuple[str, str]]:
    """(device string, human name) of every device this machine can train on."""
    found = [("cpu", describe_device(torch.device("cpu")))]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            found.append((f"cuda:{index}", describe_device(torch.device("cuda", index))))
    if mps_available():
        found.append(("mps", describe_device(torch.device("mps"))))
    return found


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return f"Apple GPU (MPS) of {cpu_name()}"
    threads = torch.get_num_threads()
    return f"CPU ({counted(threads, 'thread')} of {os.cpu_count()} cores)"


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision setting; None means plain fp32."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            # fp32: MPS autocast covers fewer ops and its bf16 needs macOS 14; the GradScaler
            # that fp16 needs is young there. An explicit "fp16"/"bf16" still asks for it.
            return None
        # CPUs with native bf16 (AVX512-BF16, AMX) train ~1.6x faster in bf16 autocast; on
        # others bf16 is emulated and slower than fp32.
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), as oneDNN uses it."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    except RuntimeError:  # cpuinfo unavailable
        return False


def cpu_name() -> str:
    """The CPU's model name, e.g. "AMD EPYC 7B13" (from /proc/cpuinfo on Linux, sysctl on a
    Mac, else what the platform module knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            done = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            if done.returncode == 0 and done.stdout.strip():
                return done.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()
