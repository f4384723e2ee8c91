"""Files a user takes away: sample grids, attention figures (paper figure 1 style), metrics."""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .attention import AttentionResult
from .events import AttentionStats, QualityMeasured, StepStats
from .imaging import make_grid
from .output_paths import write_output

# One colour per query point, as in the paper's figure 1 (red, green, blue, ...).
QUERY_COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
]
# Anchors of a perceptually ordered colour map (close to matplotlib's "inferno").
_HEAT_ANCHORS = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float32,
)


def heat_colours(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 RGB through the heat colour map."""
    v = np.clip(np.nan_to_num(values), 0.0, 1.0) * (len(_HEAT_ANCHORS) - 1)
    low = np.floor(v).astype(int).clip(0, len(_HEAT_ANCHORS) - 2)
    frac = (v - low)[..., None]
    rgb = _HEAT_ANCHORS[low] * (1 - frac) + _HEAT_ANCHORS[low + 1] * frac
    return rgb.round().astype(np.uint8)


def normalise_map(attention: np.ndarray) -> np.ndarray:
    """Scale a map to [0, 1] by its maximum, so that where a pixel looks stands out."""
    peak = float(attention.max()) if attention.size else 0.0
    return attention / peak if peak > 0 else np.zeros_like(attention)


def png_bytes(image: Image.Image, metadata: Mapping[str, str] | None = None) -> bytes:
    """PNG of ``image``; ``metadata`` (e.g. the truncation psi) goes into tEXt chunks."""
    from io import BytesIO

    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(key, str(value))
    buffer = BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def save_png(
    image: np.ndarray | Image.Image, path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Save atomically, so an interrupted export never leaves half a file.

    Raises OutputError naming the path when it cannot be written."""
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    return write_output(path, png_bytes(picture, metadata))


def save_grid(
    images: np.ndarray,
    path: str | Path,
    columns: int | None = None,
    padding: int = 2,
    scale: int = 1,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Tile uint8 images (N, H, W, 3) and save them as one PNG."""
    grid = make_grid(images, columns, padding)
    picture = Image.fromarray(grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    return save_png(picture, path, metadata)


def attention_figure(
    result: AttentionResult, scale: int | None = None, overlay: float = 0.65
) -> Image.Image:
    """The image with each query point marked, beside one heatmap per attention layer.

    One row per query, as in the paper's figure 1: the left column shows every query in its
    colour, the following columns the query's attention map of each layer, over the image.
    """
    height, width = result.image.shape[:2]
    scale = scale or max(1, 192 // max(height, width))
    cell = (width * scale, height * scale)
    pad, title_h = 6, 16
    columns = 1 + len(result.layers)
    rows = len(result.queries)
    canvas = Image.new(
        "RGB", (columns * (cell[0] + pad) + pad, title_h + rows * (cell[1] + pad) + pad), "white"
    )
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    base = Image.fromarray(result.image).resize(cell, Image.NEAREST)
    titles = ["query"] + [layer.name for layer in result.layers]
    for col, title in enumerate(titles):
        draw.text((pad + col * (cell[0] + pad), 2), title, fill=(0, 0, 0), font=font)
    for row, query in enumerate(result.queries):
        top = title_h + pad + row * (cell[1] + pad)
        marked = base.copy()
        for other, colour in zip(result.queries, QUERY_COLOURS * 8, strict=False):
            _mark(marked, other, scale, colour, bold=other == query)
        canvas.paste(marked, (pad, top))
        for col, layer in enumerate(result.layers, start=1):
            heat = Image.fromarray(heat_colours(normalise_map(layer.maps[row])))
            heat = heat.resize(cell, Image.NEAREST)
            blended = Image.blend(base, heat, overlay)
            _mark(blended, query, scale, QUERY_COLOURS[row % len(QUERY_COLOURS)], bold=True)
            canvas.paste(blended, (pad + col * (cell[0] + pad), top))
    return canvas


def _mark(
    image: Image.Image, query: tuple[int, int], scale: int, colour: tuple[int, int, int], bold: bool
) -> None:
    row, col = query
    cx, cy = (col + 0.5) * scale, (row + 0.5) * scale
    radius = max(3, scale * 1.5)
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius),
        outline=(255, 255, 255),
        fill=colour,
        width=2 if bold else 1,
    )


def save_attention_figure(
    result: AttentionResult,
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
    **kwargs,
) -> Path:
    return save_png(attention_figure(result, **kwargs), path, metadata)


STEP_COLUMNS = ("step", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s", "elapsed_s")
ATTENTION_STATISTICS = ("gamma", "entropy", "distance", "contribution")  # of LayerAttentionStats


def attention_column(statistic: str, layer: str) -> str:
    """The metrics.csv column of one attention statistic of one layer of G."""
    return f"attention_{statistic}[{layer}]"


def metrics_header(
    gamma_layers: Iterable[str],
    attention_layers: Iterable[str] = (),
    quality_columns: Iterable[str] = (),
) -> list[str]:
    """The columns of a metrics.csv, all known when a run starts: the StepStats fields, gamma of
    every attention layer (G's and D's), and the attention statistics of G's layers, which
    rows fill at sample steps only (their other rows leave those cells empty), then the
    evaluator's quality figures (``swd_avg``, ``swd_32``...), filled at evaluation steps."""
    header = list(STEP_COLUMNS) + [f"gamma[{name}]" for name in sorted(gamma_layers)]
    header += [
        attention_column(statistic, layer)
        for layer in attention_layers
        for statistic in ATTENTION_STATISTICS
    ]
    return header + list(quality_columns)


def _cells(item: StepStats | AttentionStats | QualityMeasured) -> dict[str, float]:
    if isinstance(item, QualityMeasured):
        return {"step": item.step, **item.values}
    if isinstance(item, StepStats):
        cells = {name: getattr(item, name) for name in STEP_COLUMNS}
        cells.update({f"gamma[{name}]": value for name, value in item.gammas.items()})
        return cells
    cells = {"step": item.step}
    for layer in item.layers:
        for statistic in ATTENTION_STATISTICS:
            cells[attention_column(statistic, layer.name)] = getattr(layer, statistic)
    return cells


def metrics_rows(
    stats: Iterable[StepStats],
    attention: Iterable[AttentionStats] = (),
    header: Sequence[str] | None = None,
    quality: Iterable[QualityMeasured] = (),
) -> tuple[list[str], list[list[float | str]]]:
    """The header and rows of a metrics.csv, in step order; a StepStats and an AttentionStats
    of the same step share a row. Cells of columns an item does not fill are empty ("").
    ``header`` (e.g. a run's, fixed at its start) decides the columns; by default they are
    those the items fill."""
    stats, attention, quality = list(stats), list(attention), list(quality)
    if header is None:
        layers = dict.fromkeys(layer.name for a in attention for layer in a.layers)
        columns = dict.fromkeys(name for q in quality for name in q.values)
        header = metrics_header({name for s in stats for name in s.gammas}, layers, columns)
    rows: list[dict[str, float]] = []
    for cells in sorted(map(_cells, stats + attention + quality), key=lambda c: c["step"]):
        last = rows[-1] if rows else None
        if (
            last is not None
            and last["step"] == cells["step"]
            and last.keys() & cells.keys() == {"step"}
        ):
            last.update(cells)
        else:
            rows.append(cells)
    return list(header), [[cells.get(name, "") for name in header] for cells in rows]


def save_metrics_csv(
    stats: Sequence[StepStats], path: str | Path, attention: Sequence[AttentionStats] = ()
) -> Path:
    """Write the statistics as CSV, one row per step (see :func:`metrics_rows`)."""
    import io

    header, rows = metrics_rows(stats, attention)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return write_output(path, buffer.getvalue().encode("utf-8"))


def read_metrics_rows(path: str | Path) -> list[list[str]]:
    """The rows of a metrics.csv as text, header first. NUL bytes, what a power failure leaves
    where the last writes were, are dropped (the csv module refuses a line holding one)."""
    text = Path(path).read_text(encoding="utf-8")
    return list(csv.reader(text.replace("\x00", "").splitlines()))


def metrics_until(path: Path, step: int) -> tuple[list[str], list[list[str]], int]:
    """A metrics.csv's header, its rows of steps up to ``step`` (as text), and how many rows it
    left out: those of later steps, and any without a step (a damaged line), which belongs to
    no checkpoint. Both a resume and the demo model's export cut a log at a step this way."""
    rows = read_metrics_rows(path)
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    kept = [row for row in body if row and row[0].isdigit() and int(row[0]) <= step]
    return header, kept, len(body) - len(kept)


def training_seconds_at(path: Path, step: int) -> float:
    """The training time a metrics.csv records up to ``step`` (``elapsed_s``), 0 where it has
    none or cannot be read."""
    try:
        header, rows, _ = metrics_until(path, step)
    except (OSError, ValueError):  # no log, or not text: the time is not known
        return 0.0
    totals = [total for _step, total in _training_seconds(header, rows)]
    return totals[-1] if totals else 0.0


def training_seconds_by_step(path: Path) -> dict[int, float]:
    """The training time of every logged step of a metrics.csv (see :func:`_training_seconds`);
    raises OSError or ValueError when the file cannot be read."""
    header, rows, _ = metrics_until(path, sys.maxsize)
    return dict(_training_seconds(header, rows))


def _training_seconds(header: list[str], rows: list[list[str]]) -> Iterator[tuple[int, float]]:
    """(step, training time) of the rows that record one, in order. Logs written before the
    clock went on over resumes started it again at 0 on every resume: those sessions are
    laid end to end."""
    if "elapsed_s" not in header:
        return
    column = header.index("elapsed_s")
    earlier = last = 0.0
    for row in rows:
        try:
            elapsed = float(row[column])
        except (IndexError, ValueError):  # a row of attention statistics only
            continue
        if not math.isfinite(elapsed):
            continue
        if elapsed < last:  # a resume that started the clock again
            earlier += last
        last = elapsed
        yield int(row[0]), earlier + last
