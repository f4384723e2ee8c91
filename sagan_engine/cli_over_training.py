"""Command line for looking at a run over training.

``sagan-engine attention --run RUN --seed S --query R,C --over-training --out anim.gif``
replays one latent through every snapshot (one frame each; see :mod:`sagan_engine.snapshots`),
and ``sagan-engine timelapse --run RUN --out grids.gif`` animates the run's saved sample grids.
``.gif`` or ``.webp`` gives an animation, ``.png`` a strip of the frames.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import class_label, positive_int
from .plurals import counted


def add_over_training_argument(attention_parser: argparse.ArgumentParser) -> None:
    attention_parser.add_argument(
        "--over-training",
        action="store_true",
        help="one frame per snapshot of the run (an animated .gif/.webp, or a .png strip)",
    )
    attention_parser.add_argument(
        "--frame-ms",
        type=positive_int,
        default=400,
        help="milliseconds per frame of an animation",
    )


def attention_over_training(args: argparse.Namespace) -> int:
    """The ``attention --over-training`` command."""
    from .animation import check_frames_file, replay_frames_images, save_frames
    from .sampling import latents
    from .snapshots import SnapshotReplay

    check_frames_file(args.out)  # a typo in --out is reported before any work
    replay = SnapshotReplay(args.run)
    z = latents(1, replay.config.model.z_dim, args.seed)
    label = class_label(replay, args.label)

    def progress(done: int, count: int) -> None:
        if sys.stderr.isatty():
            print(f"\r  replaying step {done}/{count}", end="", file=sys.stderr, flush=True)

    frames = replay.frames(z, label, args.query, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    path = save_frames(replay_frames_images(frames), args.out, duration_ms=args.frame_ms)
    source = "snapshots" if replay.refs[0].source == "snapshot" else "checkpoints"
    for problem in replay.damaged:  # left out of the animation, and said so
        print(f"  left out: {problem}", file=sys.stderr)
    print(
        f"wrote {path} ({counted(len(frames), 'frame')} from {source}, steps {frames[0].step}.."
        f"{frames[-1].step}, {counted(len(frames[0].result.layers), 'attention layer')}, "
        f"{counted(len(args.query), 'query', 'queries')})"
    )
    return 0


def add_timelapse_parser(sub: argparse._SubParsersAction) -> None:
    timelapse = sub.add_parser(
        "timelapse", help="animate a run's fixed-latent sample grids over training"
    )
    timelapse.add_argument("--run", required=True, metavar="RUN", help="run folder")
    timelapse.add_argument(
        "--out", required=True, metavar="FILE", help=".gif or .webp (animation), .png (strip)"
    )
    timelapse.add_argument(
        "--frame-ms", type=positive_int, default=250, help="milliseconds per frame"
    )
    timelapse.add_argument(
        "--columns", type=positive_int, default=None, help="frames per row of a .png strip"
    )
    timelapse.set_defaults(handler=_cmd_timelapse)


def _cmd_timelapse(args: argparse.Namespace) -> int:
    from .animation import check_frames_file, save_frames, timelapse_images

    check_frames_file(args.out)
    frames = timelapse_images(args.run)
    path = save_frames(frames, args.out, duration_ms=args.frame_ms, columns=args.columns)
    width, height = frames[0].size
    print(f"wrote {path} ({counted(len(frames), 'frame')} of {width}x{height})")
    return 0
