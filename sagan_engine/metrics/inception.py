"""The FID Inception-v3 in plain PyTorch, and where its standard weights file is found.

FID, KID, IS and precision/recall are defined on this network's pool3 features (2048-d) and
logits with the weights ``pt_inception-2015-12-05-6726825d.pth`` (the TensorFlow FID graph,
ported by pytorch-fid and also used by torch-fidelity). The architecture follows pytorch-fid's
``fid_inception_v3``: torchvision's Inception-v3 without the auxiliary head, 1008 classes, and
the TensorFlow graph's differences in the mixed blocks (average pools that ignore the padding;
the last block max-pools). Module names match the file's keys, so ``load_state_dict`` reads it
as is. No download happens here: the file comes from the user (see :func:`find_weights`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SaganError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILE
)
WEIGHTS_ENV = "SAGAN_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
FEATURES = 2048
CLASSES = 1008
DESCRIPTION = (
    f"FID Inception-v3 ({WEIGHTS_FILE}): pool3 features (2048-d) and logits; "
    "input resized to 299x299 bilinearly (PyTorch, align_corners=False, as pytorch-fid), "
    "scaled to [-1, 1]"
)


class InceptionUnavailable(SaganError):
    """The Inception weights are missing or unusable; the message says where to put them."""


# --------------------------------------------------------------------------- the network
class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, as TensorFlow), ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_tf(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3x3 average pool leaves the padded zeros out of the mean.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([self.branch1x1(x), b5, b3, pool], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4):
            d = layer(d)
        d = self.branch7x7dbl_5(d)
        pool = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([self.branch1x1(x), b7, d, pool], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """The last two mixed blocks; the FID graph's final one max-pools its pool branch."""

    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_tf(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


@dataclass(frozen=True)
class InceptionOutput:
    pool3: torch.Tensor  # (N, 2048) features of FID, KID and precision/recall
    logits: torch.Tensor  # (N, 1008) pool3 . W, without the bias (as the original IS code)


class FIDInceptionV3(nn.Module):
    """Inception-v3 as in the TensorFlow FID graph; input uint8 (N, 3, H, W) or floats in
    [0, 255], any size (resized to 299x299)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, CLASSES)

    def forward(self, images: torch.Tensor) -> InceptionOutput:
        x = images.float() / 255.0
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2.0 * x - 1.0
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        pool3 = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return InceptionOutput(pool3, pool3 @ self.fc.weight.T)


# --------------------------------------------------------------------------- the weights
def default_weights_path() -> Path:
    """Where the weights file is looked for when no path is given: the user cache dir."""
    return platformdirs.user_cache_path("sagan-studio") / "inception" / WEIGHTS_FILE


def missing_message() -> str:
    return (
        f"Inception weights not found: put {WEIGHTS_FILE} in {default_weights_path().parent} "
        f"(or pass --inception-weights FILE, or set {WEIGHTS_ENV}); it is published at "
        f"{WEIGHTS_URL}"
    )


def find_weights(explicit: str | Path | None = None) -> Path:
    """The weights file: ``explicit``, else $SAGAN_INCEPTION_WEIGHTS, else the cache dir.

    Raises :class:`InceptionUnavailable` with the one line a user needs when it is missing.
    """
    chosen = explicit or os.environ.get(WEIGHTS_ENV) or None
    path = Path(chosen).expanduser() if chosen else default_weights_path()
    if not path.is_file():
        if chosen:
            raise InceptionUnavailable(f"{path}: no such Inception weights file. {WEIGHTS_URL}")
        raise InceptionUnavailable(missing_message())
    return path


def load_inception(
    path: str | Path | None = None, device: str | torch.device = "cpu"
) -> FIDInceptionV3:
    """The network with the standard weights, in eval mode; refuses anything but a plain
    state dict of exactly this network's tensors (read with ``weights_only=True``)."""
    path = find_weights(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise InceptionUnavailable(
            f"{path}: not a readable PyTorch weights file ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200] if str(err) else ''})"
        ) from None
    return network_from_state(state, str(path)).to(device)


def network_from_state(state: object, source: str = "state dict") -> FIDInceptionV3:
    """Build the network from a state dict, checking every key and shape."""
    net = FIDInceptionV3()
    expected = {k: v.shape for k, v in net.state_dict().items()}
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InceptionUnavailable(f"{source}: not a state dict of tensors")
    # num_batches_tracked is training bookkeeping: files made before PyTorch 0.4.1 lack it.
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if state[k].shape != expected[k])
    if missing or unexpected or wrong:
        first = (missing + unexpected + wrong)[:3]
        raise InceptionUnavailable(
            f"{source}: not the FID Inception-v3 weights ({len(missing)} missing, "
            f"{len(unexpected)} unexpected, {len(wrong)} misshaped tensors, e.g. "
            f"{', '.join(first)}); expected {WEIGHTS_FILE}"
        )
    full = dict(net.state_dict())
    full.update(state)
    net.load_state_dict(full, strict=True)
    return net.eval().requires_grad_(False)


@torch.no_grad()
def inception_features(
    net: FIDInceptionV3,
    images: np.ndarray,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """pool3 features and logits (float64 NumPy) of uint8 images (N, H, W, 3), in batches."""
    device = next(net.parameters()).device
    pools, logits = [], []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
        out = net(batch.permute(0, 3, 1, 2).to(device))
        pools.append(out.pool3.double().cpu().numpy())
        logits.append(out.logits.double().cpu().numpy())
        if progress is not None:
            progress(min(start + batch_size, len(images)), len(images))
    return np.concatenate(pools), np.concatenate(logits)
