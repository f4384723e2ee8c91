"""Real images beside generated ones, one column per class: the figure that says by eye
whether every class of a model reads as its kind of thing (issue 11, the demo model's card).

    python scripts/real_beside_generated.py --run demo --out docs/demo_model_classes.png
    python scripts/real_beside_generated.py --run runs/x/checkpoints/step_008000.safetensors \\
        --data resources/demo --out x.png

Left: the first ``--rows`` images of each class folder (sorted names, so the figure is the
same on every machine), at the model's resolution. Right: ``--rows`` samples per class,
classes in columns, seed ``--seed``, as `sagan-engine sample --n rows*classes --columns
classes` draws them. Class names are written over the columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sagan_engine.checkpoint import LoadedGenerator, load_generator  # noqa: E402
from sagan_engine.cli_args import class_labels  # noqa: E402
from sagan_engine.data import demo_dataset_folder  # noqa: E402
from sagan_engine.errors import SaganError  # noqa: E402
from sagan_engine.latent_paths import seed_latents  # noqa: E402
from sagan_engine.sample_grid import render_grid  # noqa: E402

SCALE = 2  # 32 px samples are hard to judge at their size
GAP = 12
LABEL_HEIGHT = 14


def real_columns(folder: Path, classes: list[str], rows: int, size: int) -> Image.Image:
    sheet = Image.new("RGB", (len(classes) * size, rows * size), "white")
    for column, name in enumerate(classes):
        files = sorted((folder / name).glob("*.png"))[:rows]
        if not files:
            raise SystemExit(f"error: {folder / name}: no PNG images for class {name!r}")
        for row, path in enumerate(files):
            image = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
            sheet.paste(image, (column * size, row * size))
    return sheet


def generated_columns(loaded: LoadedGenerator, rows: int, seed: int) -> Image.Image:
    """``rows`` samples of every class, classes in columns: `sample`'s latents and labels."""
    classes = len(loaded.class_names)
    z = seed_latents(rows * classes, loaded.config.model.z_dim, seed)
    labels = class_labels(loaded, None, rows * classes)
    return Image.fromarray(render_grid(loaded.generator, z, labels, classes, padding=0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="run folder, checkpoint or 'demo'")
    parser.add_argument("--data", type=Path, help="class folders (default: the bundled demo set)")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        loaded = load_generator(args.run)
    except SaganError as err:
        raise SystemExit(f"error: {err}") from None
    classes = loaded.class_names
    if not classes:
        raise SystemExit(f"error: {args.run} is not a class-conditional model")
    size = loaded.config.model.resolution
    real = real_columns(args.data or demo_dataset_folder(), classes, args.rows, size)
    fake = generated_columns(loaded, args.rows, args.seed)
    width = real.width + GAP + fake.width
    figure = Image.new("RGB", (width * SCALE, (LABEL_HEIGHT + real.height) * SCALE), "white")
    for x, part in ((0, real), (real.width + GAP, fake)):
        scaled = part.resize((part.width * SCALE, part.height * SCALE), Image.Resampling.NEAREST)
        figure.paste(scaled, (x * SCALE, LABEL_HEIGHT * SCALE))
    draw = ImageDraw.Draw(figure)
    for x in (0, real.width + GAP):
        for column, name in enumerate(classes):
            draw.text(((x + column * size) * SCALE + 2, 4), name[:10], fill=(0, 0, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.save(args.out)
    print(f"{args.out}: real images (left), samples of step {loaded.step} (right)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
