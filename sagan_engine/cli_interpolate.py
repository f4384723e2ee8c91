"""``sagan-engine interpolate``: the path between two seeds' latents as an animated GIF/WebP or
a PNG strip; and the truncation options it shares with ``sample``."""

from __future__ import annotations

import argparse
import math

from .cli_args import (
    add_class_argument,
    add_run_argument,
    class_label,
    int_pair,
    whole_number,
)
from .errors import SaganError
from .latent_paths import SeedLatent, Truncation


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "interpolate",
        help="animate the path between two seeds (GIF/WebP) or save it as a PNG strip",
    )
    add_run_argument(parser)
    parser.add_argument(
        "--seeds", required=True, type=_seed_pair, metavar="A,B", help="the two end seeds"
    )
    parser.add_argument(
        "--frames", type=_frames, default=16, metavar="N", help="images on the path (default 16)"
    )
    add_class_argument(parser)
    parser.add_argument(
        "--linear",
        action="store_true",
        help="straight line between the latents (default: spherical, which keeps their norm)",
    )
    parser.add_argument(
        "--duration", type=int, default=80, metavar="MS", help="milliseconds per frame"
    )
    parser.add_argument("--bounce", action="store_true", help="animation plays back and forth")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel (nearest)")
    add_truncation_arguments(parser)
    parser.add_argument(
        "--out", required=True, metavar="FILE", help=".gif, .webp (animated) or .png (a strip)"
    )
    parser.set_defaults(handler=run_interpolate)


def add_truncation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--truncation",
        type=float,
        metavar="PSI",
        help="truncation trick: scale latents by PSI in [0, 1] towards the mean",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="with --truncation: first draw again every latent component with |z| > T "
        "(BigGAN's truncation; default 2 when --truncation is given)",
    )


def truncation_of(args: argparse.Namespace) -> Truncation:
    """The truncation the options ask for: none without --truncation and --threshold."""
    if args.truncation is None and args.threshold is None:
        return Truncation()
    psi = 1.0 if args.truncation is None else args.truncation
    threshold = 2.0 if args.threshold is None else args.threshold
    try:
        return Truncation(psi, threshold)
    except ValueError as err:
        raise SaganError(f"--truncation/--threshold: {err}") from None


def _seed_pair(text: str) -> tuple[int, int]:
    return int_pair(text, "two seeds A,B (e.g. 3,7)")


def _frames(text: str) -> int:
    value = whole_number(text)
    if not 2 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"{value}: a path has 2 to 10000 frames")
    return value


def run_interpolate(args: argparse.Namespace) -> int:
    from .animation import check_frames_file, save_path_frames
    from .checkpoint import load_generator
    from .latent_paths import render_path

    if args.scale < 1 or args.duration < 1:
        raise SaganError("--scale and --duration must be at least 1")
    truncation = truncation_of(args)
    check_frames_file(args.out)  # a typo in --out is reported before any work
    loaded = load_generator(args.run)
    model = loaded.config.model
    check_frames_fit(args.frames, model.resolution, args.scale)
    label = class_label(loaded, args.label)
    a, b = (SeedLatent(seed).latent(model.z_dim, truncation) for seed in args.seeds)
    spherical = not args.linear
    frames = render_path(loaded.generator, a, b, args.frames, label, spherical)
    metadata = {
        "software": "SAGAN Studio",
        "seeds": f"{args.seeds[0]},{args.seeds[1]}",
        "frames": str(args.frames),
        "interpolation": "spherical" if spherical else "linear",
        "step": str(loaded.step),
        **truncation.metadata(),
    }
    if label is not None:
        metadata["class"] = str(label)
    path = save_path_frames(frames, args.out, args.duration, args.scale, metadata, args.bounce)
    print(f"wrote {path} ({args.frames} frames, {metadata['interpolation']}, step {loaded.step})")
    return 0


def check_frames_fit(frames: int, resolution: int, scale: int) -> None:
    """Raise :class:`RequestTooLarge` before rendering frames that together exceed the largest
    image written (a strip holds them all; an animation keeps them all in memory): a --scale
    of 100000 was killed by the system for memory, without a word."""
    from .errors import RequestTooLarge
    from .sample_grid import MAX_GRID_PIXELS

    side = resolution * scale
    pixels = frames * side * side
    if pixels > MAX_GRID_PIXELS:
        largest = max(1, math.isqrt(MAX_GRID_PIXELS // frames) // resolution)
        raise RequestTooLarge(
            f"--scale {scale}: {frames} frames of {side:,}x{side:,} pixels would be "
            f"{pixels / 1e6:,.0f} megapixels, more than the {MAX_GRID_PIXELS / 1e6:.0f} "
            f"an image may have: use --scale {largest} or less (or fewer --frames)"
        )
