"""Decoding one image file to a square RGB uint8 array at the training resolution (see
:mod:`sagan_engine.data`). Never imports Qt or torch."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .data_scan import _os_reason

log = logging.getLogger(__name__)

MIN_IMAGE_SIDE = 8
"""Images whose width or height is below this are skipped: too little to learn from."""


class ImageSkip(Exception):
    """One file cannot be used as a training image; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def decode_image(path: Path, resolution: int) -> np.ndarray:
    """Decode one image file to a (resolution, resolution, 3) uint8 RGB array.

    Every mode Pillow opens becomes RGB: palette and grey images are expanded, transparency
    is composited on white, 16-bit and float images are scaled (not clipped) to 8 bits, CMYK
    is converted, the EXIF orientation is applied, and an animation gives its first frame.
    The largest centred square is then resized with Lanczos to ``resolution``.

    Raises :class:`ImageSkip` with a short reason for any file that cannot be used; no other
    exception escapes for a bad file.
    """
    try:
        return _decode(Path(path), resolution)
    except ImageSkip:
        raise
    except Image.DecompressionBombError as err:
        raise ImageSkip(_bomb_reason(str(err))) from None
    except UnidentifiedImageError:
        raise ImageSkip("not an image (cannot identify image file)") from None
    except MemoryError:
        raise ImageSkip("out of memory") from None
    except OSError as err:
        if err.errno is not None:  # from the file system, not from a decoder
            raise ImageSkip(_os_reason(err)) from None
        raise ImageSkip(_decoder_reason(err)) from None
    except (EOFError, SyntaxError) as err:
        raise ImageSkip(_decoder_reason(err)) from None
    except Exception as err:  # a broken file must never stop the whole load
        raise ImageSkip(f"cannot decode ({type(err).__name__}: {err})") from None


def _decoder_reason(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, EOFError) or "truncated" in text.lower():
        return "truncated image"
    return f"cannot decode ({text or type(err).__name__})"


def _bomb_reason(text: str) -> str:
    match = re.search(r"\((\d+) pixels\)", text)
    pixels = match.group(1) if match else "too many"
    return f"image too large (decompression bomb guard: {pixels} pixels)"


def _decode(path: Path, resolution: int) -> np.ndarray:
    if os.stat(path).st_size == 0:
        raise ImageSkip("empty file")
    with Image.open(path) as im:
        width, height = im.size
        limit = Image.MAX_IMAGE_PIXELS
        # Pillow only warns between 1x and 2x its limit; such images cost hundreds of MB per
        # decoding thread, so they are skipped like the ones Pillow refuses.
        if limit is not None and width * height > limit:
            raise ImageSkip(_bomb_reason(f"({width * height} pixels)"))
        if min(width, height) < MIN_IMAGE_SIDE:
            raise ImageSkip(
                f"too small ({width}x{height} pixels; "
                f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} needed)"
            )
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: much faster for big photos.
        im.draft("RGB", (resolution, resolution))
        im.load()  # decode now, so truncated data raises here (LOAD_TRUNCATED_IMAGES is off)
        try:
            ImageOps.exif_transpose(im, in_place=True)
        except Exception:  # a broken EXIF block must not cost a good image
            log.debug("ignoring unreadable EXIF orientation of %s", path, exc_info=True)
        im = _to_l_rgb_or_rgba(im)
        im = _centre_square(im, resolution)
        if im.mode == "RGBA":
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            white.alpha_composite(im)
            im = white
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _to_l_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to "L", "RGB" or "RGBA" (alpha not yet composited)."""
    mode = im.mode
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        return im.convert("RGBA") if mode != "RGBA" else im
    if "transparency" in im.info and mode in ("P", "L", "RGB"):
        return im.convert("RGBA")
    if mode in ("L", "RGB"):
        return im
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode), "L")
    try:
        return im.convert("RGB")  # P, 1, CMYK, YCbCr, RGBX, HSV...
    except ValueError:
        raise ImageSkip(f"unsupported colour mode {mode}") from None


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map 16-bit, 32-bit and float grey levels onto 0..255 (rounded, never clipped)."""
    x = values.astype(np.float64)
    if mode.startswith("I;16"):
        x = x / 257.0  # 65535 -> 255 exactly
    else:
        finite = x[np.isfinite(x)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        if mode == "I" and lo >= 0 and hi <= 65535:
            x = x / 257.0  # 16-bit data held in a 32-bit image (PGM, some TIFF and PNG)
        elif mode == "F" and lo >= 0 and hi <= 1:
            x = x * 255.0
        elif hi > lo:
            x = (x - lo) * (255.0 / (hi - lo))
        else:
            x = np.zeros_like(x)
    x = np.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)
    return np.floor(x + 0.5).clip(0, 255).astype(np.uint8)


def _centre_square(im: Image.Image, resolution: int) -> Image.Image:
    width, height = im.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    if side == resolution:
        return im.crop(box)
    return im.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
