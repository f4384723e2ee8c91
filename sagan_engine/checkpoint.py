"""Checkpoints: safetensors weights with JSON metadata in the same file, written atomically.

Nothing is ever unpickled: a checkpoint is tensors plus text. A file the user picks that is a
PyTorch pickle (``.pt``/``.pth``/``.ckpt``) is refused before a byte of it is interpreted.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from .config import RunConfig
from .errors import CheckpointError, ConfigError
from .models import Generator
from .runs import RunFolder

FORMAT = "sagan-studio-checkpoint"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")


@dataclass
class Checkpoint:
    """The contents of one checkpoint file."""

    path: Path
    step: int
    config: RunConfig
    class_names: list[str]
    tensors: dict[str, torch.Tensor]
    extra: dict[str, Any]  # JSON-able state: optimizer hyper-parameters, timings...

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        """Tensors stored under ``prefix/`` (e.g. "G", "G_ema", "D") with the prefix removed."""
        head = prefix + "/"
        return {k[len(head) :]: v for k, v in self.tensors.items() if k.startswith(head)}


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    Temporary file in the same folder, fsync, rename over the target, fsync the folder.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files: give the user's usual mode
            os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename itself is already atomic
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_checkpoint(
    path: str | Path,
    step: int,
    config: RunConfig,
    class_names: list[str],
    tensors: dict[str, torch.Tensor],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save tensors and metadata to ``path`` atomically."""
    path = Path(path)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "step": str(step),
        "config": config.to_json(),
        "class_names": json.dumps(list(class_names)),
        "extra": json.dumps(extra or {}),
    }
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    write_atomically(path, safetensors_bytes(cpu, metadata=metadata))
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint file; every problem becomes a CheckpointError naming the file."""
    path = Path(path)
    metadata, tensors = _read(path, device, with_tensors=True)
    try:
        step = int(metadata["step"])
        class_names = json.loads(metadata["class_names"])
        extra = json.loads(metadata.get("extra", "{}"))
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({err})") from None
    try:
        config = RunConfig.from_json(metadata.get("config", ""), source=f"{path} (config)")
    except ConfigError as err:
        raise CheckpointError(str(err)) from None
    return Checkpoint(path, step, config, class_names, tensors, extra)


def saved_step(path: str | Path) -> int:
    """The step a checkpoint file was saved at, from its header alone (no tensor is read),
    with the errors of :func:`load_checkpoint`."""
    path = Path(path)
    metadata, _ = _read(path, "cpu", with_tensors=False)
    try:
        return int(metadata["step"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path}: damaged checkpoint metadata ({err})") from None


def _read(
    path: Path, device: str | torch.device, with_tensors: bool
) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    """A checkpoint's metadata, and its tensors when asked; CheckpointError naming the file
    for a pickle, a missing file, a damaged one, or a safetensors file of something else."""
    refuse_pickle(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()} if with_tensors else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(
            f"{path}: not a readable safetensors checkpoint (truncated or corrupted?): {err}"
        ) from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: a safetensors file, but not a SAGAN Studio checkpoint")
    return metadata, tensors


def refuse_pickle(path: Path) -> None:
    """Refuse PyTorch pickle files: unpickling a file from elsewhere can run arbitrary code."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path}: this looks like a PyTorch pickle file ({path.suffix}); SAGAN Studio only "
            "loads .safetensors checkpoints, because loading a pickle can run arbitrary code"
        )


def load_state(
    module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, path: Path
) -> None:
    """``module.load_state_dict`` with a readable error when the architecture differs."""
    if not state:
        raise CheckpointError(f"{path}: holds no weights for {what}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(
            f"{path}: the {what} weights do not fit this model (different architecture or "
            f"resolution?): {detail[:300]}"
        ) from None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file from a file path, a run folder (its latest checkpoint), or the name
    ``demo`` for the bundled demo model (when no file or folder of that name is here)."""
    from .demo_model import demo_model_path, is_demo_name

    if is_demo_name(path):
        return demo_model_path()
    path = Path(path).expanduser()
    if path.is_dir():
        latest = RunFolder(path).latest_checkpoint()
        if latest is None:
            raise CheckpointError(
                f"{path}: this folder holds no checkpoints "
                "(expected checkpoints/step_NNNNNN.safetensors)"
            )
        return latest
    refuse_pickle(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run folder or checkpoint file")
    return path


@dataclass
class LoadedGenerator:
    """A trained generator ready to sample or to inspect, without any dataset."""

    generator: Generator
    config: RunConfig
    step: int
    class_names: list[str]
    checkpoint: Path
    is_ema: bool


def load_generator(
    path: str | Path, device: str | torch.device = "cpu", prefer_ema: bool = True
) -> LoadedGenerator:
    """Load G (its EMA copy when there is one) from a run folder or checkpoint, in eval mode."""
    ckpt = load_checkpoint(resolve_checkpoint(path), device=device)
    generator = Generator(ckpt.config.model).to(device)
    state = ckpt.state_dict("G_ema") if prefer_ema else {}
    is_ema = bool(state)
    load_state(generator, state or ckpt.state_dict("G"), "generator", ckpt.path)
    generator.eval()
    return LoadedGenerator(generator, ckpt.config, ckpt.step, ckpt.class_names, ckpt.path, is_ema)


def optimizer_tensors(
    optimizer: torch.optim.Optimizer, prefix: str
) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    """Flatten an optimizer's state into named tensors plus its JSON-able param groups."""
    state = optimizer.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}/{index}/{name}"] = tensor
    return tensors, state["param_groups"]


def restore_optimizer(
    optimizer: torch.optim.Optimizer,
    ckpt: Checkpoint,
    prefix: str,
    param_groups: list[dict[str, Any]],
) -> None:
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in ckpt.state_dict(prefix).items():
        index, name = key.split("/", 1)
        slots.setdefault(int(index), {})[name] = value
    for group, own in zip(param_groups, optimizer.param_groups, strict=False):
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        # Which kernel runs the update is this machine's choice, not the checkpoint's.
        for flag in ("foreach", "fused"):
            if flag in own:
                group[flag] = own[flag]
    try:
        optimizer.load_state_dict({"state": slots, "param_groups": param_groups})
    except (ValueError, KeyError, RuntimeError) as err:
        raise CheckpointError(f"{ckpt.path}: optimizer state does not fit ({err})") from None
    _match_parameter_layouts(optimizer)


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give every moment the memory layout of its parameter. A checkpoint stores tensors
    contiguous, so a channels_last run's Adam moments come back NCHW beside NHWC weights,
    which CUDA's fused Adam refuses ("params, grads, exp_avgs, and exp_avg_sqs must have same
    dtype, device, and layout") at the first step after a resume."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for name, value in state.items():
                if value.shape == param.shape and value.stride() != param.stride():
                    state[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)
