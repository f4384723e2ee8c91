"""``sagan-engine attention --run RUN --seed S --ablate LAYER --out fig.png``: the image of a
latent beside the same latent without one attention layer's gamma * o, and where they differ
(see :mod:`sagan_engine.attention_ablation`)."""

from __future__ import annotations

import argparse

from .cli_args import class_label


def add_ablate_argument(attention_parser: argparse.ArgumentParser) -> None:
    attention_parser.add_argument(
        "--ablate",
        metavar="LAYER",
        help="instead of maps: the image without this attention layer (its resolution, e.g. "
        "32, or its name), beside the normal image and a difference heatmap",
    )


def attention_ablation(args: argparse.Namespace) -> int:
    """The ``attention --ablate`` command."""
    from .attention_ablation import ablation_figure, render_without_attention
    from .checkpoint import load_generator
    from .export import save_png
    from .output_paths import check_output_file
    from .sampling import latents

    check_output_file(args.out, (".png",))
    loaded = load_generator(args.run)
    z = latents(1, loaded.config.model.z_dim, args.seed)
    result = render_without_attention(
        loaded.generator, z, class_label(loaded, args.label), args.ablate
    )
    path = save_png(ablation_figure(result), args.out)
    print(
        f"wrote {path} (seed {args.seed}, without {result.layer}: largest change "
        f"{result.difference.max():.3f}, mean {result.difference.mean():.4f} of the range)"
    )
    return 0
