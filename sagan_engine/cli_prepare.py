"""``sagan-engine prepare --data DIR --resolution R [--out CACHE]``: decode a folder into the
on-disk cache ahead of training (:mod:`sagan_engine.data_cache_build`).

Run it once on shared storage, or on each node of a cluster; then train with ``--data DIR``
(the cache in the user cache folder is found) or ``--data CACHE`` (the cache alone, without
the original images). Ctrl-C stops it; finished shards are kept and a rerun continues.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import positive_int
from .config import RESOLUTIONS
from .plurals import counted


def add_parser(sub: argparse._SubParsersAction) -> None:
    prepare = sub.add_parser(
        "prepare",
        help="decode a folder into the on-disk cache before training (large folders)",
        description="Decode every image of DIR at R x R into memory-mapped shards, on every "
        "core. Says the size and the time first, refuses when the disk is too small, and "
        "continues where a stopped run left off.",
    )
    prepare.add_argument("--data", required=True, metavar="DIR", help="folder of images")
    prepare.add_argument(
        "--resolution", required=True, type=int, choices=RESOLUTIONS, metavar="R",
        help=f"training resolution, one of {', '.join(map(str, RESOLUTIONS))}",
    )  # fmt: skip
    prepare.add_argument(
        "--out", metavar="CACHE",
        help="cache folder (default: under the user cache folder, where train finds it)",
    )  # fmt: skip
    prepare.add_argument(
        "--classes", choices=("auto", "none"), default="auto",
        help="class labels from sub-folders (auto) or none",
    )  # fmt: skip
    prepare.add_argument(
        "--workers", type=positive_int, help="decoding processes (default: one per core)"
    )
    prepare.add_argument("--quiet", action="store_true", help="no progress line")
    prepare.set_defaults(handler=_cmd_prepare)


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data_cache import cache_folder_for
    from .data_cache_build import build_cache
    from .data_cache_cost import RateMeter

    show = not args.quiet
    meter = RateMeter()
    tty = sys.stderr.isatty()
    last = [0.0]

    def on_estimate(estimate) -> None:
        if show:
            print(f"{estimate.describe()}", file=sys.stderr, flush=True)

    def progress(done: int, total: int) -> None:
        if not show:
            return
        import time

        line = meter.describe(done, total)
        now = time.monotonic()
        if tty:
            print(f"\r\033[K  decoding {line}", end="", file=sys.stderr, flush=True)
        elif now - last[0] >= 10 or done == total:  # a log file gets a line every 10 s
            last[0] = now
            print(f"  decoding {line}", file=sys.stderr, flush=True)

    try:
        dataset = build_cache(
            args.data,
            args.resolution,
            out=args.out,
            classes=args.classes,
            workers=args.workers,
            progress=progress,
            on_estimate=on_estimate,
            note=lambda text: print(text, file=sys.stderr, flush=True) if show else None,
        )
    except KeyboardInterrupt:
        if tty and show:
            print(file=sys.stderr)
        print("stopped; the finished shards are kept: run the same command to continue",
              file=sys.stderr)  # fmt: skip
        return 130
    if tty and show:
        print(file=sys.stderr)
    where = args.out or cache_folder_for(args.data, args.resolution)
    print(
        f"cache ready: {where} ({counted(len(dataset), 'image')}, "
        f"{dataset.num_classes or 'no'} classes, {counted(len(dataset.skipped), 'file')} skipped)"
    )
    return 0
