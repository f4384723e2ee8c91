"""Files of a latent path: an animated GIF or WebP, or a PNG strip of its frames, chosen by the
file's suffix; what made them (seeds, truncation, classes...) goes into the file's metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from .export import png_bytes
from .imaging import make_grid
from .output_paths import check_output_file, write_output

PATH_SUFFIXES = (".gif", ".webp", ".png")
_EXIF_IMAGE_DESCRIPTION = 0x010E


def check_path_file(path: str | Path) -> Path:
    """Raise ValueError unless ``path`` ends in a suffix a path can be saved as, and
    OutputError unless it can be written."""
    path = Path(path)
    if path.suffix.lower() not in PATH_SUFFIXES:
        raise ValueError(
            f"{path}: save a path as .gif or .webp (animated) or .png (a strip of frames), "
            f"not {path.suffix or 'a file without suffix'}"
        )
    return check_output_file(path)


def strip_image(frames: np.ndarray, padding: int = 2, scale: int = 1) -> Image.Image:
    """The frames side by side in one row (uint8 (N, H, W, 3) in)."""
    strip = Image.fromarray(make_grid(frames, columns=len(frames), padding=padding))
    return _scaled(strip, scale)


def path_file_bytes(
    frames: np.ndarray,
    suffix: str,
    duration_ms: int = 80,
    scale: int = 1,
    metadata: Mapping[str, str] | None = None,
    bounce: bool = False,
) -> bytes:
    """The bytes of a ``suffix`` file of ``frames``; ``bounce`` plays the path back and forth."""
    suffix = suffix.lower()
    metadata = dict(metadata or {})
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"expected frames of shape (N, H, W, 3), got {frames.shape}")
    if suffix == ".png":
        return png_bytes(strip_image(frames, scale=scale), metadata)
    sequence = list(frames) + (list(frames[-2:0:-1]) if bounce else [])
    pictures = [_scaled(Image.fromarray(frame), scale) for frame in sequence]
    buffer = BytesIO()
    text = json.dumps(metadata, sort_keys=True)
    options: dict = {"save_all": True, "append_images": pictures[1:], "duration": duration_ms}
    if suffix == ".gif":
        pictures[0].save(buffer, format="GIF", loop=0, comment=text.encode("utf-8"), **options)
    elif suffix == ".webp":
        exif = Image.Exif()
        exif[_EXIF_IMAGE_DESCRIPTION] = text
        pictures[0].save(buffer, format="WEBP", loop=0, lossless=True, exif=exif, **options)
    else:
        raise ValueError(f"cannot save a path as {suffix!r}: use one of {', '.join(PATH_SUFFIXES)}")
    return buffer.getvalue()


def save_path_frames(
    frames: np.ndarray,
    path: str | Path,
    duration_ms: int = 80,
    scale: int = 1,
    metadata: Mapping[str, str] | None = None,
    bounce: bool = False,
) -> Path:
    """Save a path's frames as an animation (.gif, .webp) or a strip (.png), atomically."""
    path = check_path_file(path)
    return write_output(
        path, path_file_bytes(frames, path.suffix, duration_ms, scale, metadata, bounce)
    )


def read_path_metadata(path: str | Path) -> dict[str, str]:
    """The metadata :func:`save_path_frames` wrote into a file (for checks and tools)."""
    with Image.open(path) as image:
        if image.format == "PNG":
            return dict(image.text)
        if image.format == "GIF":
            comment = image.info.get("comment", b"{}")
            return json.loads(comment.decode("utf-8") if isinstance(comment, bytes) else comment)
        text = image.getexif().get(_EXIF_IMAGE_DESCRIPTION, "{}")
        return json.loads(text)


def _scaled(picture: Image.Image, scale: int) -> Image.Image:
    if scale <= 1:
        return picture
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
