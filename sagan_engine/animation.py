"""Frames as a file: an animated GIF or WebP, or one PNG strip, chosen by the file's suffix.

One writer (:func:`save_frames`) serves every sequence of frames the program exports: the
attention figure of one latent replayed through a run's snapshots
(:func:`replay_frames_images`), the time-lapse of the fixed-latent sample grids the trainer
saved in ``RUN/samples`` (:func:`timelapse_images`), both captioned with their steps, and a
latent path (:func:`save_path_frames`). What made the frames (seeds, truncation...) can go
into the file's metadata (PNG text chunks, GIF comment, WebP EXIF description; read back by
:func:`read_frames_metadata`). Files are checked and written atomically through
:mod:`sagan_engine.output_paths`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import SaganError
from .export import attention_figure, png_bytes
from .output_paths import check_output_file, write_output
from .runs import RunFolder
from .snapshots import ReplayFrame

ANIMATED_SUFFIXES = (".gif", ".webp")
STRIP_SUFFIXES = (".png",)
FRAME_SUFFIXES = ANIMATED_SUFFIXES + STRIP_SUFFIXES
CAPTION_HEIGHT = 18
_SAMPLE_FILE = re.compile(r"^step_(\d+)\.png$")
_EXIF_IMAGE_DESCRIPTION = 0x010E

Frames = Sequence[Image.Image] | np.ndarray  # PIL images, or uint8 (N, H, W, 3)


class AnimationError(SaganError, ValueError):
    """Nothing to animate, or an output the frames cannot be written as."""


def check_frames_file(path: str | Path) -> Path:
    """Raise AnimationError unless ``path`` ends in a suffix frames can be saved as, and
    OutputError unless it can be written (call it before long work, to report a typo at once)."""
    return check_output_file(_checked_suffix(path))


def _checked_suffix(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in FRAME_SUFFIXES:
        raise AnimationError(
            f"{path}: unknown output type {path.suffix or '(no suffix)'!r}; use .gif or .webp "
            "for an animation, .png for a strip of frames"
        )
    return path


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
    from .demo_model import is_demo_name

    if is_demo_name(run):
        raise AnimationError(
            "the bundled demo model has no sample grids over training: a timelapse needs a "
            "run folder trained with this engine (`attention --run demo --over-training` "
            "replays the demo model's states over training instead)"
        )
    folder = RunFolder(run)
    if not folder.path.is_dir():
        what = "a file, not a run folder" if folder.path.exists() else "no such run folder"
        raise AnimationError(f"{folder.path}: {what}")
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


def strip_image(frames: Frames, columns: int | None = None, pad: int = 4) -> Image.Image:
    """The frames in reading order, ``columns`` per row (8 by default), as one image."""
    frames = _pictures(frames)
    width, height = max(f.width for f in frames), max(f.height for f in frames)
    columns = max(1, min(columns or 8, len(frames)))
    rows = -(-len(frames) // columns)
    canvas = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + pad) + pad), "white")
    for index, frame in enumerate(frames):
        row, col = divmod(index, columns)
        canvas.paste(frame, (pad + col * (width + pad), pad + row * (height + pad)))
    return canvas


def frames_file_bytes(
    frames: Frames,
    suffix: str,
    duration_ms: int = 400,
    *,
    columns: int | None = None,
    pad: int = 4,
    scale: int = 1,
    hold_last_ms: int = 1500,
    bounce: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of a ``suffix`` file of ``frames``.

    ``.gif``/``.webp``: an animation that loops, ``duration_ms`` per frame, the last one held
    ``hold_last_ms`` (if longer), played back and forth with ``bounce``. ``.png``: a strip of
    ``columns`` frames per row (:func:`strip_image`). ``scale`` magnifies the file's pixels.
    """
    suffix = suffix.lower()
    pictures = _pictures(frames)
    metadata = dict(metadata or {})
    if suffix in STRIP_SUFFIXES:
        return png_bytes(_scaled(strip_image(pictures, columns, pad), scale), metadata)
    if suffix not in ANIMATED_SUFFIXES:
        raise AnimationError(f"cannot save frames as {suffix!r}: use one of {FRAME_SUFFIXES}")
    sequence = pictures + (pictures[-2:0:-1] if bounce else [])
    sequence = [_scaled(picture, scale) for picture in sequence]
    durations = [duration_ms] * (len(sequence) - 1) + [max(duration_ms, hold_last_ms)]
    options: dict = {"save_all": True, "append_images": sequence[1:], "duration": durations}
    text = json.dumps(metadata, sort_keys=True)
    if suffix == ".gif":
        if metadata:
            options["comment"] = text.encode("utf-8")
        options.update(format="GIF", loop=0)
    else:
        if metadata:
            exif = Image.Exif()
            exif[_EXIF_IMAGE_DESCRIPTION] = text
            options["exif"] = exif
        options.update(format="WEBP", loop=0, lossless=True)
    buffer = BytesIO()
    sequence[0].save(buffer, **options)
    return buffer.getvalue()


def save_frames(
    frames: Frames,
    path: str | Path,
    duration_ms: int = 400,
    *,
    columns: int | None = None,
    pad: int = 4,
    scale: int = 1,
    hold_last_ms: int = 1500,
    bounce: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Save frames as an animation (``.gif``/``.webp``) or a strip (``.png``), atomically.

    The options are those of :func:`frames_file_bytes`. Raises AnimationError for an unknown
    suffix or no frames, OutputError naming the path when it cannot be written.
    """
    path = _checked_suffix(path)
    data = frames_file_bytes(
        frames,
        path.suffix,
        duration_ms,
        columns=columns,
        pad=pad,
        scale=scale,
        hold_last_ms=hold_last_ms,
        bounce=bounce,
        metadata=metadata,
    )
    return write_output(path, data)


def save_path_frames(
    frames: Frames,
    path: str | Path,
    duration_ms: int = 80,
    scale: int = 1,
    metadata: Mapping[str, str] | None = None,
    bounce: bool = False,
) -> Path:
    """Save a latent path: every frame shown alike, a ``.png`` strip in one row."""
    return save_frames(
        frames,
        path,
        duration_ms,
        columns=len(frames),
        pad=2,
        scale=scale,
        hold_last_ms=0,
        bounce=bounce,
        metadata=metadata,
    )


def read_frames_metadata(path: str | Path) -> dict[str, str]:
    """The metadata :func:`save_frames` wrote into a file (for checks and tools)."""
    with Image.open(path) as image:
        if image.format == "PNG":
            return dict(image.text)
        if image.format == "GIF":
            comment = image.info.get("comment", b"{}")
            return json.loads(comment.decode("utf-8") if isinstance(comment, bytes) else comment)
        text = image.getexif().get(_EXIF_IMAGE_DESCRIPTION, "{}")
        return json.loads(text)


def _pictures(frames: Frames) -> list[Image.Image]:
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise AnimationError(f"expected frames of shape (N, H, W, 3), got {frames.shape}")
        frames = [Image.fromarray(frame) for frame in frames]
    if len(frames) == 0:
        raise AnimationError("no frames to save")
    return list(frames)


def _scaled(picture: Image.Image, scale: int) -> Image.Image:
    if scale <= 1:
        return picture
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
