"""``sagan-engine evaluate``: sample-quality metrics of a trained model or an image folder.

sagan-engine evaluate --run RUN [--n 2000] [--metrics swd,fid,kid,is,pr] [--json FILE]
sagan-engine evaluate --data DIR --against DIR [--n N] [--metrics ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .metrics import (
    METRICS,
    append_evaluation,
    evaluate_folders,
    evaluate_generator,
    parse_metrics,
)
from .metrics.evaluation import save_evaluations


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="sample-quality metrics (SWD; FID, KID, IS, precision/recall with the Inception "
        "weights)",
        description="Multi-scale SWD needs nothing but the images. FID, KID, IS and "
        "precision/recall need the FID Inception-v3 weights file "
        "(pt_inception-2015-12-05-6726825d.pth); without it they are reported unavailable.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN", help="run folder, checkpoint, or 'demo'")
    source.add_argument("--data", metavar="DIR", help="a folder of images to evaluate")
    parser.add_argument(
        "--against",
        metavar="DIR",
        help="reference images (required with --data; default for --run: its training data)",
    )
    parser.add_argument("--n", type=int, default=None, help="images per set (default 2000)")
    parser.add_argument(
        "--metrics", default="swd", help=f"comma-separated, from {','.join(METRICS)} (default swd)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the result here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, help="--data: decode at this size")
    parser.add_argument("--inception-weights", metavar="FILE", help="the Inception weights file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .output_paths import check_output_file, output_errors

    metrics = parse_metrics(args.metrics)
    if args.n is not None and args.n < 2:
        raise ConfigError(f"--n {args.n}: at least 2 images are needed")
    if args.json:  # before the work: a typo must not cost the evaluation
        check_output_file(args.json, (".json",))
    bar = _StageBar(enabled=not args.quiet)
    if args.run:
        result = evaluate_generator(
            args.run,
            args.n or 2000,
            metrics,
            against=args.against,
            seed=args.seed,
            inception_weights=args.inception_weights,
            progress=bar,
        )
    else:
        if not args.against:
            raise ConfigError("--data needs --against DIR (the reference images)")
        result = evaluate_folders(
            args.data,
            args.against,
            args.n,
            metrics,
            resolution=args.resolution,
            seed=args.seed,
            inception_weights=args.inception_weights,
            progress=bar,
        )
    bar.done()
    print(f"evaluated {result.source} against {result.protocol.reference}")
    print(result.summary())
    if args.json:
        with output_errors(args.json):
            path = save_evaluations(args.json, [result])
        print(f"wrote {path}")
    if args.run and Path(args.run).is_dir():
        append_evaluation(args.run, result)
    return 0


class _StageBar:
    """One line on stderr: the stage and how far it got."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        line = f"{stage:<10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if self.tty:
            print("\r\033[K" + line, end="", file=sys.stderr, flush=True)
        elif stage != self.last:  # not a terminal: one line per stage
            print(f"{stage}...", file=sys.stderr, flush=True)
        self.last = stage

    def done(self) -> None:
        if self.enabled and self.tty:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
