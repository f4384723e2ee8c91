"""Animated exports: frames over training as an animated GIF or WebP, or as one PNG strip.

Two kinds of frames: the attention figure of one latent replayed through a run's snapshots
(:func:`replay_frames_images`), and the time-lapse of the fixed-latent sample grids the
trainer saved in ``RUN/samples`` (:func:`sample_grid_frames`). Each frame carries its step
in a caption bar above it. Everything goes through Pillow; files are written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .checkpoint import write_atomically
from .errors import SaganError
from .export import attention_figure
from .runs import RunFolder
from .snapshots import ReplayFrame

ANIMATED_SUFFIXES = (".gif", ".webp")
STRIP_SUFFIXES = (".png",)
CAPTION_HEIGHT = 18
_SAMPLE_FILE = re.compile(r"^step_(\d+)\.png$")


class AnimationError(SaganError):
    """Nothing to animate, or an output the animation cannot be written as."""


def captioned(image: Image.Image | np.ndarray, text: str) -> Image.Image:
    """``image`` under a white caption bar holding ``text`` (e.g. "step 1200")."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    picture = picture.convert("RGB")
    canvas = Image.new("RGB", (picture.width, picture.height + CAPTION_HEIGHT), "white")
    canvas.paste(picture, (0, CAPTION_HEIGHT))
    ImageDraw.Draw(canvas).text((4, 2), text, fill=(0, 0, 0), font=ImageFont.load_default(size=13))
    return canvas


def replay_frames_images(frames: Sequence[ReplayFrame], **figure_options) -> list[Image.Image]:
    """One attention figure (query points, then one map per layer) per replayed step."""
    return [
        captioned(attention_figure(frame.result, **figure_options), _step_caption(frame))
        for frame in frames
    ]


def _step_caption(frame: ReplayFrame) -> str:
    return f"step {frame.step}" + (" (checkpoint)" if frame.source == "checkpoint" else "")


def sample_grid_frames(run: str | Path) -> list[tuple[int, Image.Image]]:
    """The run's saved sample grids (fixed latents), oldest step first, as (step, image)."""
    folder = RunFolder(run)
    if not folder.path.is_dir():
        raise AnimationError(f"{folder.path}: no such run folder")
    found = []
    if folder.samples_dir.is_dir():
        for entry in folder.samples_dir.iterdir():
            match = _SAMPLE_FILE.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
    if not found:
        raise AnimationError(
            f"{folder.samples_dir}: no sample grids (expected step_NNNNNN.png files)"
        )
    frames = []
    for step, path in sorted(found):
        try:
            with Image.open(path) as image:
                frames.append((step, image.convert("RGB")))
        except OSError as err:
            raise AnimationError(f"{path}: cannot read this sample grid ({err})") from None
    return frames


def timelapse_images(run: str | Path) -> list[Image.Image]:
    """The sample grids of ``run`` captioned with their steps, all of one size."""
    frames = sample_grid_frames(run)
    size = max(image.size for _, image in frames)
    return [captioned(_fit(image, size), f"step {step}") for step, image in frames]


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` on a white canvas of ``size`` (grids of a resumed run may differ in size)."""
    if image.size == size:
        return image
    canvas = Image.new("RGB", size, "white")
    canvas.paste(image, (0, 0))
    return canvas


def animation_bytes(
    frames: Sequence[Image.Image], suffix: str, duration_ms: int = 400, hold_last_ms: int = 1500
) -> bytes:
    """An animated GIF or WebP (by ``suffix``) that loops, the last frame held longer."""
    if not frames:
        raise AnimationError("no frames to animate")
    suffix = suffix.lower()
    if suffix not in ANIMATED_SUFFIXES:
        raise AnimationError(f"cannot animate as {suffix!r}: use one of {ANIMATED_SUFFIXES}")
    durations = [duration_ms] * (len(frames) - 1) + [max(duration_ms, hold_last_ms)]
    buffer = BytesIO()
    options = {"format": suffix[1:].upper(), "save_all": True, "loop": 0}
    if suffix == ".webp":
        options["lossless"] = True
    frames[0].save(buffer, append_images=list(frames[1:]), duration=durations, **options)
    return buffer.getvalue()


def strip_image(
    frames: Sequence[Image.Image], columns: int | None = None, pad: int = 4
) -> Image.Image:
    """The frames in reading order, ``columns`` per row (8 by default), as one image."""
    if not frames:
        raise AnimationError("no frames to lay out")
    width, height = max(f.width for f in frames), max(f.height for f in frames)
    columns = max(1, min(columns or 8, len(frames)))
    rows = -(-len(frames) // columns)
    canvas = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad) + pad), "white")
    for index, frame in enumerate(frames):
        row, col = divmod(index, columns)
        canvas.paste(frame, (pad + col * (width + pad), pad + row * (height + pad)))
    return canvas


def save_frames(
    frames: Sequence[Image.Image],
    path: str | Path,
    duration_ms: int = 400,
    columns: int | None = None,
) -> Path:
    """Save frames as an animation (``.gif``/``.webp``) or a strip (``.png``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in ANIMATED_SUFFIXES:
        data = animation_bytes(frames, suffix, duration_ms)
    elif suffix in STRIP_SUFFIXES:
        buffer = BytesIO()
        strip_image(frames, columns).save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        raise AnimationError(
            f"{path}: unknown output type {path.suffix!r}; use .gif or .webp for an animation, "
            ".png for a strip of frames"
        )
    try:
        write_atomically(path, data)
    except OSError as err:
        raise AnimationError(f"{path}: cannot write ({err.strerror or err})") from None
    return path
