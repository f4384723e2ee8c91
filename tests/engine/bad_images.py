"""A generated corpus of awkward image files, for the data-loading tests.

Each :class:`Case` writes one file and says what loading it must give: either the reason it
is skipped with, or (when usable) the colour the decoded image must have at a few points.
Everything is made from scratch in a given folder; nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)

# Where to look in a decoded (res, res, 3) image, as fractions of its side: (row, col).
CENTRE = (0.5, 0.5)
TOP, BOTTOM, LEFT, RIGHT = (0.2, 0.5), (0.8, 0.5), (0.5, 0.2), (0.5, 0.8)


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what loading it must give."""

    name: str | bytes  # relative path; bytes for names that are not valid UTF-8
    write: Callable[[Path], None]
    reason: str | None = None  # expected skip reason (prefix), or None when usable
    # Expected colours of the decoded image at (row, col) fractions, when usable.
    colours: dict[tuple[float, float], tuple[int, int, int]] = field(default_factory=dict)
    tolerance: int = 12  # per channel, for lossy formats and resampling
    listed_at_scan: bool = False  # skipped by the scan (not by decoding)

    @property
    def shown(self) -> str:
        """The relative path as the loader reports it (undecodable bytes as U+FFFD)."""
        name = self.name if isinstance(self.name, bytes) else os.fsencode(self.name)
        return name.decode("utf-8", "replace")


# --------------------------------------------------------------------------- writers


def _save(image: Image.Image, fmt: str, **params) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        image.save(path, fmt, **params)

    return write


def _bytes(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


def _encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(size: tuple[int, int] = (64, 64), seed: int = 0) -> Image.Image:
    """An RGB image of random pixels (compresses badly, so truncation hits pixel data)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def solid(colour: tuple[int, ...], size: tuple[int, int] = (32, 32), mode: str = "RGB"):
    return Image.new(mode, size, colour)


def left_right(left: tuple[int, int, int], right: tuple[int, int, int], size: int = 32):
    """A square image whose left half is ``left`` and right half is ``right``."""
    a = np.empty((size, size, 3), dtype=np.uint8)
    a[:, : size // 2] = left
    a[:, size // 2 :] = right
    return Image.fromarray(a)


def truncated(image: Image.Image, fmt: str, keep: float = 0.6) -> bytes:
    data = _encoded(image, fmt)
    return data[: int(len(data) * keep)]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels but holds no pixel data: a cheap bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b""))
        + png_chunk(b"IEND", b"")
    )


def corrupt_png() -> bytes:
    """A PNG of the right length whose compressed pixel data is scrambled."""
    data = bytearray(_encoded(noise(), "PNG"))
    start = data.find(b"IDAT") + 20
    data[start : start + 16] = bytes(16)
    return bytes(data)


def wide_image() -> Image.Image:
    """4000 x 20: red left, a green band in the middle 40 columns, blue right."""
    a = np.empty((20, 4000, 3), dtype=np.uint8)
    a[:, :1980] = RED
    a[:, 1980:2020] = GREEN
    a[:, 2020:] = BLUE
    return Image.fromarray(a)


def grey16(value: int, size: int = 16) -> Image.Image:
    return Image.fromarray(np.full((size, size), value, dtype=np.uint16))


def palette_with_transparency() -> Image.Image:
    """Palette image: left half index 0 (black, fully transparent), right half index 1 (red)."""
    a = np.zeros((32, 32), dtype=np.uint8)
    a[:, 16:] = 1
    image = Image.fromarray(a, "P")
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    image.info["transparency"] = 0
    return image


def exif_rotated() -> Image.Image:
    """Red left / blue right as stored, tagged orientation 6 (display rotated 90° clockwise)."""
    return left_right(RED, BLUE)


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def animated_gif(path: Path) -> None:
    frames = [solid(RED), solid(BLUE), solid(GREEN)]
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def pgm16(value: int, size: int = 16) -> bytes:
    header = f"P5 {size} {size} 65535\n".encode()
    return header + np.full(size * size, value, dtype=">u2").tobytes()


def self_link(path: Path) -> None:
    os.symlink(path.name, path)


def dangling_link(path: Path) -> None:
    os.symlink("does-not-exist.png", path)


# --------------------------------------------------------------------------- the corpus

NOT_AN_IMAGE = "not an image (cannot identify image file)"

CORPUS: tuple[Case, ...] = (
    # Unusable files.
    Case("empty.png", _bytes(b""), "empty file", listed_at_scan=True),
    Case("empty.jpg", _bytes(b""), "empty file", listed_at_scan=True),
    Case("text.png", _bytes(b"this is not an image\n"), NOT_AN_IMAGE),
    Case("text.jpg", _bytes(b"<html>nope</html>\n" * 20), NOT_AN_IMAGE),
    Case("truncated.jpg", _bytes(truncated(noise(), "JPEG")), "truncated image"),
    Case("truncated.png", _bytes(truncated(noise(), "PNG")), "truncated image"),
    Case("corrupt.png", _bytes(corrupt_png()), "cannot decode ("),
    Case("one-pixel.png", _save(solid(RED, (1, 1)), "PNG"),
         "too small (1x1 pixels; at least 8x8 needed)"),
    Case("thin.png", _save(solid(RED, (300, 7)), "PNG"),
         "too small (300x7 pixels; at least 8x8 needed)"),
    Case("bomb.png", _bytes(png_header_only(20000, 20000)),
         "image too large (decompression bomb guard: 400000000 pixels)"),
    Case("self-loop.png", self_link, "symlink loop", listed_at_scan=True),
    Case("dangling.png", dangling_link, "broken link", listed_at_scan=True),
    Case(b"bad-\xff\xfe-empty.png", _bytes(b""), "empty file", listed_at_scan=True),
    # Usable files, with the colours they must decode to.
    Case("plain.png", _save(solid(GREEN), "PNG"), colours={CENTRE: GREEN}),
    Case(b"\xff\xfe-latin1.png", _save(solid(BLUE), "PNG"), colours={CENTRE: BLUE}),
    Case("png-named.jpg", _save(solid(RED), "PNG"), colours={CENTRE: RED}),
    Case("wide.png", _save(wide_image(), "PNG"),
         colours={LEFT: GREEN, CENTRE: GREEN, RIGHT: GREEN}),
    Case("grey16.png", _save(grey16(32768), "PNG"), colours={CENTRE: (128, 128, 128)}, tolerance=0),
    Case("grey16-white.png", _save(grey16(65535), "PNG"), colours={CENTRE: WHITE}, tolerance=0),
    Case("grey16.pgm", _bytes(pgm16(32768)), colours={CENTRE: (128, 128, 128)}, tolerance=0),
    Case("float.tif", _save(Image.fromarray(np.full((16, 16), 0.5, np.float32)), "TIFF"),
         colours={CENTRE: (128, 128, 128)}, tolerance=0),
    Case("palette-transparent.png", _save(palette_with_transparency(), "PNG"),
         colours={LEFT: WHITE, RIGHT: RED}, tolerance=0),
    Case("rgba-half.png", _save(solid((255, 0, 0, 128), mode="RGBA"), "PNG"),
         colours={CENTRE: (255, 127, 127)}, tolerance=2),
    Case("la-clear.png", _save(solid((0, 0), mode="LA"), "PNG"), colours={CENTRE: WHITE},
         tolerance=0),
    Case("bilevel.png", _save(solid(1, mode="1"), "PNG"), colours={CENTRE: WHITE}, tolerance=0),
    Case("grey.jpg", _save(solid(200, mode="L"), "JPEG"), colours={CENTRE: (200, 200, 200)}),
    Case("cmyk.jpg", _save(solid((0, 255, 255, 0), mode="CMYK"), "JPEG", quality=95),
         colours={CENTRE: RED}),
    Case("animated.gif", animated_gif, colours={CENTRE: RED}),
    Case("rotated.jpg", _save(exif_rotated(), "JPEG", quality=95, exif=exif_orientation(6)),
         colours={TOP: RED, BOTTOM: BLUE}, tolerance=40),
    Case("big.jpg", _save(noise((1200, 900)), "JPEG")),
    Case("photo.webp", _save(solid(BLUE), "WEBP", lossless=True), colours={CENTRE: BLUE}),
    Case("bitmap.bmp", _save(solid(RED), "BMP"), colours={CENTRE: RED}, tolerance=0),
    Case("targa.tga", _save(solid(GREEN), "TGA"), colours={CENTRE: GREEN}, tolerance=0),
    Case("pixmap.ppm", _save(solid(BLUE), "PPM"), colours={CENTRE: BLUE}, tolerance=0),
    Case("tiff-rgba.tiff", _save(solid((0, 0, 255, 0), mode="RGBA"), "TIFF"),
         colours={CENTRE: WHITE}, tolerance=0),
)  # fmt: skip

# Files the scan must ignore without a word: not an image extension, or hidden.
IGNORED: tuple[Case, ...] = (
    Case("notes.txt", _bytes(b"some notes\n")),
    Case("README", _bytes(b"read me\n")),
    Case(".hidden.png", _bytes(b"not an image either\n")),
    Case(".thumbnails/cached.png", _save(solid(RED), "PNG")),
)


def write_case(folder: Path, case: Case) -> Path:
    """Write one case's file under ``folder`` and return its path."""
    name = case.name if isinstance(case.name, bytes) else os.fsencode(case.name)
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
    path.parent.mkdir(parents=True, exist_ok=True)
    case.write(path)
    return path


def write_corpus(folder: Path, cases: tuple[Case, ...] = CORPUS + IGNORED) -> list[Case]:
    """Write ``cases`` into ``folder``; returns the cases written (all of them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in cases:
        write_case(folder, case)
    # A link back to the folder itself: scanning must not run in circles.
    os.symlink(".", folder / "loop")
    return list(cases)


def write_tiny_files(folder: Path, count: int, per_folder: int = 10_000) -> None:
    """``count`` one-byte ``.png`` files in sub-folders of ``per_folder``: a scan-speed load.

    They are hard links of one file per sub-folder where the file system allows it: one
    system call per name instead of three, and the scan cannot tell the difference.
    """
    base = os.fsencode(folder)
    for start in range(0, count, per_folder):
        sub = os.path.join(base, b"part%03d" % (start // per_folder))
        os.mkdir(sub)
        first = os.path.join(sub, b"%07d.png" % start)
        with open(first, "wb") as f:
            f.write(b"x")
        for i in range(start + 1, min(start + per_folder, count)):
            name = os.path.join(sub, b"%07d.png" % i)
            try:
                os.link(first, name)
            except OSError:
                with open(name, "wb") as f:
                    f.write(b"x")
