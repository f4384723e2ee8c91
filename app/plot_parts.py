"""What every plot over training shares.

The step axis: labelled "step", never with an SI prefix (steps are counts, so
"step (x0.001)" around a lone point at 0 means nothing), never negative and never narrower
than a few steps (pyqtgraph's auto range puts an empty or one-point plot around 0, e.g.
-5000..5000 or -0.4..0.4), thousands written short (15k). The legend: on a translucent
panel of the plot's background, so a curve running under it does not cross out its text."""

from __future__ import annotations

import pyqtgraph as pg

from app.style import BACKGROUND

MIN_STEP_RANGE = 10  # narrowest step range a plot zooms to (a lone point at 0 shows 0..10)
LEGEND_ALPHA = 190  # of 255: the curve under a legend stays faintly visible


class StepAxis(pg.AxisItem):
    """Step counts as people say them: 500, 1500, 5k, 15k. Ticks a thousand or more apart are
    all written in thousands: in a narrow plot "5000" and "10k" ran together ("500010k")."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        in_thousands = spacing * scale >= 1000
        return [step_text(value * scale, in_thousands) for value in values]


def step_text(step: float, in_thousands: bool = False) -> str:
    if step and (in_thousands or abs(step) >= 10_000):
        return f"{step / 1000:g}k"
    return f"{step:g}"


def step_axis(plot: pg.PlotItem) -> None:
    grid = plot.getAxis("bottom").grid  # showGrid's setting, kept by the new axis
    plot.setAxisItems({"bottom": StepAxis(orientation="bottom")})
    plot.getAxis("bottom").setGrid(grid)
    plot.setLabel("bottom", "step")
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.setLimits(xMin=0, minXRange=MIN_STEP_RANGE)


def add_legend(plot: pg.PlotItem, offset: tuple[float, float]) -> pg.LegendItem:
    panel = pg.mkColor(BACKGROUND)
    panel.setAlpha(LEGEND_ALPHA)
    return plot.addLegend(offset=offset, labelTextSize="8pt", brush=pg.mkBrush(panel))


def forget_step_range(plots: list[pg.PlotItem]) -> None:
    """Back to 0..MIN_STEP_RANGE with the range following the data, for plots about to get
    another history. Judged against the range of the one before (a demo model's 0..15k), a
    short new curve was downsampled to nothing (pyqtgraph's auto downsampling keeps no point
    when it merges more than there are), so nothing was drawn and the range never shrank."""
    for plot in plots:
        plot.setXRange(0, MIN_STEP_RANGE, padding=0)
        plot.enableAutoRange()
