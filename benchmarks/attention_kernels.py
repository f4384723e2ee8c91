"""Time the ways of computing SAGAN's attention sums on this device, forward and backward.

The shapes default to the res64 preset's attention layer as D sees it in a D step (batch
16 real + 16 fake, 64 channels at 32x32, so f and g have 8). Prints one line per kernel with
its time and its largest error against a float64 computation::

    python benchmarks/attention_kernels.py                     # fp32 and bf16 autocast
    python benchmarks/attention_kernels.py --threads 1 --batch 16

Kernels:
  sdpa             F.scaled_dot_product_attention (the engine's GPU path)
  channel-major    o = h beta^T, two bmm's and a softmax (the layout of the paper's text)
  position-major   o^T = beta h^T (the engine's CPU path, sagan_engine.layers)
  sdpa-padded      f and g zero-padded to h's width so the CPU flash kernel accepts them
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sagan_engine.layers import _fused_attention, _position_major_attention  # noqa: E402


def channel_major(g: torch.Tensor, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    beta = torch.softmax(torch.bmm(g.transpose(1, 2), f), dim=-1)
    return torch.bmm(h, beta.transpose(1, 2))


def sdpa_padded(g: torch.Tensor, f: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    pad = h.shape[1] - g.shape[1]
    q = F.pad(g.transpose(1, 2), (0, pad)).unsqueeze(1)
    k = F.pad(f.transpose(1, 2), (0, pad)).unsqueeze(1)
    o = F.scaled_dot_product_attention(q, k, h.transpose(1, 2).unsqueeze(1), scale=1.0)
    return o.squeeze(1).transpose(1, 2)


KERNELS = {
    "sdpa": _fused_attention,
    "channel-major": channel_major,
    "position-major": _position_major_attention,
    "sdpa-padded": sdpa_padded,
}


def time_kernel(kernel, inputs, dtype, device: torch.device, repeats: int) -> tuple[float, float]:
    """(seconds per forward+backward, largest error of the output against float64)."""
    with torch.no_grad():
        exact = channel_major(*(t.double() for t in inputs))
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
    seconds = []
    error = 0.0
    for repeat in range(repeats + 1):  # the first is a warm-up
        for t in inputs:
            t.grad = None
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with autocast:
            out = kernel(*inputs)
        out.float().square().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if repeat == 0:
            error = (out.detach().double() - exact).abs().max().item()
        else:
            seconds.append(time.perf_counter() - start)
    return min(seconds), error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="feature map side (N = size^2)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n, qk = args.size**2, max(args.channels // 8, 1)
    generator = torch.Generator(device=device).manual_seed(0)
    inputs = [
        torch.randn(args.batch, c, n, device=device, generator=generator, requires_grad=True)
        for c in (qk, qk, args.channels)
    ]
    lowp = torch.bfloat16 if device.type == "cpu" else torch.float16
    print(
        f"{device} ({torch.get_num_threads()} threads), B={args.batch}, C={args.channels}, "
        f"N={n}: forward + backward, best of {args.repeats}"
    )
    print(f"{'kernel':<16}{'dtype':>10}{'ms':>10}{'max error':>12}")
    for dtype in (torch.float32, lowp):
        for name, kernel in KERNELS.items():
            seconds, error = time_kernel(kernel, inputs, dtype, device, args.repeats)
            dtype_name = str(dtype).replace("torch.", "")
            print(f"{name:<16}{dtype_name:>10}{1000 * seconds:>10.1f}{error:>12.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
