"""Rebuild the bundled demo dataset in resources/demo/ from the Noto Color Emoji font.

Each emoji is rendered with Pillow, cropped to its glyph, centred on a white square and
resized to --size pixels. The class sub-folders are 8 kinds of thing, each made of Unicode
emoji *subgroups* that share a shape (SHAPE_CLASSES: clocks, faces, flags, fruit and
vegetables, geometric shapes, hands, hearts, mammals), so that a GAN of the demo's size
draws every class recognisably. Output is deterministic: the same font and emoji-test.txt
give the same files.

``--classes groups`` builds the set bundled before (session notes of issue 11): Unicode's
8 emoji *groups* as classes, which mix kinds of thing ("objects" holds clothes,
instruments, phones and tools) and came out recognisable for 2 classes of 8.

Build-time needs (Debian): ``apt-get install fonts-noto-color-emoji unicode-data``.
Nothing here is needed at run time; the app only reads the PNGs.

    python scripts/build_demo_dataset.py
    python scripts/build_demo_dataset.py --classes groups --per-class-limit 250 --out DIR
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

DEFAULT_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEFAULT_EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resources" / "demo"

# CBDT bitmap fonts hold one strike; Noto Color Emoji's is 109 px (glyphs ~136x128).
STRIKE_SIZE = 109
CANVAS = (160, 160)
# Flags are near-identical waving rectangles and Component holds bare skin-tone swatches
# and hair pieces: neither makes an interesting class.
DEFAULT_DROPPED_GROUPS = ("component", "flags")
SKIN_TONES = range(0x1F3FB, 0x1F3FF + 1)
ZWJ = 0x200D
VARIATION_SELECTOR_16 = 0xFE0F
LICENCE_FILES = ("LICENSE-OFL.txt", "README.txt")

_LINE = re.compile(r"^(?P<cps>[0-9A-F ]+?)\s*;\s*fully-qualified\s*#")

# The bundled classes: class folder -> the emoji-test.txt subgroups it is made of.
SHAPE_CLASSES = {
    "clocks": ["time"],
    "faces": [
        "face-smiling", "face-affection", "face-tongue", "face-hand", "face-neutral-skeptical",
        "face-sleepy", "face-unwell", "face-hat", "face-glasses", "face-concerned",
        "face-negative",
    ],
    "flags": ["country-flag"],
    "fruit_vegetables": ["food-fruit", "food-vegetable"],
    "geometric": ["geometric"],
    "hands": [
        "hand-fingers-open", "hand-fingers-partial", "hand-single-finger",
        "hand-fingers-closed", "hands", "hand-prop",
    ],
    "hearts": ["heart"],
    "mammals": ["animal-mammal"],
}  # fmt: skip


@dataclass(frozen=True)
class Emoji:
    """One fully-qualified emoji sequence and the class folder it goes into."""

    codepoints: tuple[int, ...]
    group: str

    @property
    def text(self) -> str:
        return "".join(chr(cp) for cp in self.codepoints)

    @property
    def file_stem(self) -> str:
        # VS16 only selects emoji presentation; leaving it out keeps names short and stable.
        return "u" + "_".join(f"{cp:x}" for cp in self.codepoints if cp != VARIATION_SELECTOR_16)


def group_folder(name: str) -> str:
    """'Smileys & Emotion' -> 'smileys_emotion'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def read_emoji_test(path: Path, classes: str = "groups") -> list[Emoji]:
    """Fully-qualified emoji from Unicode's emoji-test.txt, in file order, each with its
    class folder: its group's, or for ``classes="shapes"`` its SHAPE_CLASSES entry (emoji of
    the subgroups no entry names are left out)."""
    shape_of = {sub: name for name, subs in SHAPE_CLASSES.items() for sub in subs}
    emoji: list[Emoji] = []
    group = subgroup = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = group_folder(line.split(":", 1)[1])
            continue
        if line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
            continue
        match = _LINE.match(line)
        if match:
            cps = tuple(int(cp, 16) for cp in match["cps"].split())
            folder = group if classes == "groups" else shape_of.get(subgroup)
            if folder is not None:
                emoji.append(Emoji(cps, folder))
    return emoji


def keep(emoji: Emoji, dropped_groups: set[str], shaping: bool) -> bool:
    if emoji.group in dropped_groups:
        return False
    if any(cp in SKIN_TONES for cp in emoji.codepoints):
        return False
    # Without HarfBuzz shaping a ZWJ sequence draws as several side-by-side glyphs.
    return shaping or ZWJ not in emoji.codepoints


def spread(items: list[Emoji], limit: int | None) -> list[Emoji]:
    """At most `limit` items taken evenly across the list, so every subgroup stays represented."""
    if limit is None or len(items) <= limit:
        return items
    return [items[(i * len(items)) // limit] for i in range(limit)]


def render(emoji: Emoji, font: ImageFont.FreeTypeFont, size: int) -> Image.Image | None:
    """The emoji centred on a white square of `size` pixels, or None if the font lacks it."""
    canvas = Image.new("RGBA", CANVAS, (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((8, 8), emoji.text, font=font, embedded_color=True)
    bbox = canvas.getchannel("A").getbbox()
    if bbox is None:
        return None
    glyph = canvas.crop(bbox)
    width, height = glyph.size
    if width > 1.5 * STRIKE_SIZE or height > 1.5 * STRIKE_SIZE:
        return None  # drew as several glyphs: the font has no single glyph for this sequence
    side = max(width, height)
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - width) // 2, (side - height) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def clear_output(out: Path) -> None:
    """Remove previously built class folders, keeping the licence and README files."""
    if not out.exists():
        return
    for child in out.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        elif child.name not in LICENCE_FILES:
            child.unlink()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    dropped_default = ", ".join(DEFAULT_DROPPED_GROUPS)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--font", type=Path, default=DEFAULT_FONT, help="NotoColorEmoji.ttf")
    parser.add_argument(
        "--emoji-test", type=Path, default=DEFAULT_EMOJI_TEST, help="Unicode emoji-test.txt"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--size", type=int, default=64, help="side of the square images")
    parser.add_argument(
        "--per-class-limit",
        type=int,
        default=None,
        help="at most this many images per class (default: 120 for shapes, 250 for groups)",
    )
    parser.add_argument(
        "--classes",
        choices=("shapes", "groups"),
        default="shapes",
        help="class folders: subgroups that share a shape (SHAPE_CLASSES, the bundled set), "
        "or Unicode's emoji groups (the set bundled before)",
    )
    parser.add_argument(
        "--drop-group",
        action="append",
        default=None,
        help=f"group folder to leave out, repeatable (default: {dropped_default})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.per_class_limit is None:  # flags hold 258: the other classes hold 25 to 107
        args.per_class_limit = 120 if args.classes == "shapes" else 250
    for path, package in ((args.font, "fonts-noto-color-emoji"), (args.emoji_test, "unicode-data")):
        if not path.is_file():
            print(f"error: {path} not found (apt-get install {package})", file=sys.stderr)
            return 1
    shaping = features.check("raqm")
    layout = ImageFont.Layout.RAQM if shaping else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(args.font), STRIKE_SIZE, layout_engine=layout)
    # The defaults leave out two of Unicode's groups; the shape classes choose their own.
    default_dropped = DEFAULT_DROPPED_GROUPS if args.classes == "groups" else ()
    dropped = set(args.drop_group if args.drop_group is not None else default_dropped)

    by_group: dict[str, list[Emoji]] = {}
    for emoji in read_emoji_test(args.emoji_test, args.classes):
        if keep(emoji, dropped, shaping):
            by_group.setdefault(emoji.group, []).append(emoji)

    clear_output(args.out)
    total = 0
    for group in sorted(by_group):
        rendered = [(e, img) for e in by_group[group] if (img := render(e, font, args.size))]
        folder = args.out / group
        folder.mkdir(parents=True, exist_ok=True)
        chosen = spread([e for e, _ in rendered], args.per_class_limit)
        images = dict(rendered)
        for emoji in chosen:
            images[emoji].save(folder / f"{emoji.file_stem}.png", optimize=True)
        skipped = len(by_group[group]) - len(rendered)
        print(f"{group:20s} {len(chosen):5d} images ({skipped} not in the font)")
        total += len(chosen)
    note = "" if shaping else " (Pillow without raqm: ZWJ sequences left out)"
    print(f"{total} images in {args.out}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
