"""Plots for the HTML report, drawn with matplotlib and returned as inline SVG text.

Owns the figures: HDR percentile spectra (tail on a log axis), percentiles over time, throughput
and errors over time, server-side times over time. A latency axis is logarithmic when its values span
more than :data:`LOG_AXIS_RATIO` (1-7 ms percentiles stay readable under 500 ms outliers). Uses
matplotlib's object API (no pyplot, no global figure state) with text kept as SVG ``<text>``
(matplotlib escapes it) and math parsing off, so a name with ``$`` or ``<`` is drawn as written.
Deterministic: fixed hash salt, no date. Never reads files and never decides what a report contains.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, cast

from hdrh.histogram import HdrHistogram

from loadtest.recording.hdrstats import value_at_percentiles

FIG_WIDTH_IN = 9.0
FIG_HEIGHT_IN = 3.4
SPECTRUM_POINTS = 160
LOG_AXIS_RATIO = 100.0
"""Largest / smallest plotted latency above which the latency axis is logarithmic (two decades)."""
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "tritonload",
    "text.parse_math": False,
    "font.size": 9.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}

Series = Sequence[tuple[str, HdrHistogram]]
P = ParamSpec("P")


def _styled(function: Callable[P, str]) -> Callable[P, str]:
    """Run a plotting function under the report's matplotlib settings (they apply when artists are made)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        import matplotlib

        with matplotlib.rc_context(cast(Any, _RC)):
            return function(*args, **kwargs)

    return wrapper


def _figure(rows: int = 1, height_in: float = FIG_HEIGHT_IN) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(FIG_WIDTH_IN, height_in * rows), layout="constrained")


def _svg(figure: Any, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(cast(Any, {"svg.hashsalt": f"tritonload-{salt}"})):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "tritonload"})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _legend(axes: Any) -> None:
    """The legend to the right of the plot, where it never hides a line."""
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0.0)


def spectrum_points(histogram: HdrHistogram, points: int = SPECTRUM_POINTS) -> tuple[list[float], list[float]]:
    """The HDR percentile distribution: x = 1 / (1 - percentile/100), y = value (µs); empty when no data.

    x runs from 1 (the minimum) to the sample count (the maximum) on a log grid, the usual
    HdrHistogram plot: each decade to the right is one more nine (90%, 99%, 99.9%, ...).
    """
    count = histogram.get_total_count()
    if count == 0:
        return [], []
    top = max(float(count), 10.0)
    xs = [10 ** (math.log10(top) * i / (points - 1)) for i in range(points)]
    percentiles = [100.0 * (1.0 - 1.0 / x) for x in xs[:-1]] + [100.0]  # the line ends at the maximum
    values = value_at_percentiles(histogram, percentiles)
    return xs, [float(v) for v in values]


def _nines_axis(axes: Any, top: float) -> None:
    axes.set_xscale("log")
    ticks = [10.0**k for k in range(math.ceil(math.log10(max(top, 10.0))) + 1)]
    labels = ["0%" if t == 1 else f"{100 * (1 - 1 / t):.10g}%" for t in ticks]
    axes.set_xticks(ticks, labels)
    axes.set_xlim(1, max(top, 10.0))
    axes.set_xlabel("percentile")


def latency_axis(axes: Any, values: Sequence[float], unit_label: str) -> None:
    """A logarithmic latency axis when ``values`` span more than :data:`LOG_AXIS_RATIO`, else linear from 0."""
    positive = [v for v in values if v > 0 and not math.isnan(v)]
    if positive and max(positive) / min(positive) > LOG_AXIS_RATIO:
        axes.set_yscale("log")
        axes.set_ylabel(f"{unit_label} (log scale)")
    else:
        axes.set_ylim(bottom=0)
        axes.set_ylabel(unit_label)


@_styled
def spectrum_svg(title: str, series: Series, salt: str, unit_label: str = "ms", scale: float = 1e-3) -> str:
    """One HDR percentile spectrum with a line per (label, histogram)."""
    figure = _figure()
    axes = figure.add_subplot()
    top = 10.0
    plotted: list[float] = []
    for label, histogram in series:
        xs, values = spectrum_points(histogram)
        if xs:
            scaled = [v * scale for v in values]
            axes.plot(xs, scaled, label=label, linewidth=1.4)
            plotted += scaled
            top = max(top, xs[-1])
    _nines_axis(axes, top)
    latency_axis(axes, plotted, unit_label)
    axes.set_title(title, loc="left")
    if len(series) > 1:
        _legend(axes)
    return _svg(figure, salt)


@_styled
def over_time_svg(
    title: str,
    intervals: Sequence[tuple[float, HdrHistogram]],
    percentiles: Sequence[float],
    salt: str,
) -> str:
    """Percentiles (and max) of each interval histogram against the interval's end time (s)."""
    figure = _figure()
    axes = figure.add_subplot()
    times = [end_s for end_s, _ in intervals]
    columns: list[list[float | None]] = [[] for _ in (*percentiles, "max")]
    for _, histogram in intervals:
        empty = histogram.get_total_count() == 0
        values = [] if empty else value_at_percentiles(histogram, [*percentiles, 100.0])
        for index, column in enumerate(columns):
            column.append(None if empty else values[index] / 1000.0)
    for label, column in zip([f"p{p:g}" for p in percentiles] + ["max"], columns, strict=True):
        axes.plot(
            times,
            [math.nan if v is None else v for v in column],
            label=label,
            marker=".",
            linewidth=1.2,
            linestyle=":" if label == "max" else "-",
        )
    axes.set_xlabel("time (s)")
    latency_axis(axes, [v for column in columns for v in column if v is not None], "ms")
    axes.set_title(title, loc="left")
    _legend(axes)
    return _svg(figure, salt)


@_styled
def throughput_svg(
    times_s: Sequence[float],
    ok_rps: Mapping[str, Sequence[float]],
    errors_rps: Mapping[str, Sequence[float]],
    salt: str,
) -> str:
    """Successful requests/s and errors/s per traffic entry, one point per interval."""
    figure = _figure(rows=2, height_in=2.6)
    top, bottom = figure.subplots(2, 1, sharex=True)
    for name, values in ok_rps.items():
        top.plot(times_s, values, label=name, marker=".", linewidth=1.2)
    top.set_ylabel("ok requests/s")
    top.set_ylim(bottom=0)
    top.set_title("Throughput and errors over time", loc="left")
    _legend(top)
    for name, values in errors_rps.items():
        bottom.plot(times_s, values, label=name, marker=".", linewidth=1.2)
    bottom.set_ylabel("errors/s")
    bottom.set_ylim(bottom=0, top=max([1.0, *(max(v, default=0.0) * 1.1 for v in errors_rps.values())]))
    bottom.set_xlabel("time (s)")
    return _svg(figure, salt)


@_styled
def server_time_svg(title: str, times_s: Sequence[float], phases_ms: Mapping[str, Sequence[float]], salt: str) -> str:
    """Average server-side time per request in each interval, one line per phase (queue, compute...)."""
    figure = _figure()
    axes = figure.add_subplot()
    for phase, values in phases_ms.items():
        axes.plot(times_s, values, label=phase, marker=".", linewidth=1.2)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("ms per request")
    axes.set_ylim(bottom=0)
    axes.set_title(title, loc="left")
    _legend(axes)
    return _svg(figure, salt)


CURVE_COLORS: dict[str, str] = {
    "p50": "#1f77b4",
    "p99": "#ff7f0e",
    "slo": "#e41a1c",
    "knee": "#9467bd",
    "answer": "#2ca02c",
}
"""Colours of the latency-throughput curve (fixed, so a test can find each element in a screenshot)."""
PHASE_COLORS: dict[str, str] = {
    "queue": "#8c564b",
    "compute_input": "#bcbd22",
    "compute_infer": "#17becf",
    "compute_output": "#7f7f7f",
}
"""Colours of the server-breakdown bars (none shared with the curve)."""


@_styled
def latency_throughput_svg(
    points: Sequence[tuple[float, float | None, float | None, bool]],
    slo_lines_ms: Sequence[tuple[str, float]],
    knee: tuple[float, float] | None,
    answer: tuple[float, float | None, float | None] | None,
    salt: str,
) -> str:
    """p50 and p99 (ms) against achieved throughput (req/s), one point per step, in level order.

    Args:
        points: (achieved req/s, p50 ms, p99 ms, stable) per step; an unstable step is drawn as an x.
        slo_lines_ms: (label, threshold ms) of each latency SLO, drawn as a dashed horizontal line.
        knee: (req/s, p99 ms) of the knee, circled.
        answer: (req/s, lower req/s, upper req/s): a vertical line at the answer and the band between
            the last passing and the first failing level when known.
        salt: the figure's id salt.

    Each element carries an SVG id (``p50-curve``, ``p99-curve``, ``slo-line-N``, ``knee``,
    ``answer``, ``answer-band``) so the page can be checked for it.
    """
    figure = _figure(height_in=4.2)
    axes = figure.add_subplot()
    xs = [x for x, _, _, _ in points]
    plotted: list[float] = []
    for key in ("p50", "p99"):
        ys = [(p50 if key == "p50" else p99) for _, p50, p99, _ in points]
        values = [math.nan if y is None else y for y in ys]
        plotted += [y for y in ys if y is not None]
        (line,) = axes.plot(xs, values, label=f"{key} latency", color=CURVE_COLORS[key], linewidth=1.6, marker="o")
        line.set_gid(f"{key}-curve")
        unstable = [(x, y) for (x, *_, stable), y in zip(points, values, strict=True) if not stable]
        if unstable:
            marks = axes.scatter(*zip(*unstable, strict=True), marker="x", s=70, color="black", zorder=5)
            marks.set_gid(f"{key}-unstable")
    if any(not stable for *_, stable in points):
        axes.scatter([], [], marker="x", color="black", label="unstable step")
    for number, (label, threshold_ms) in enumerate(slo_lines_ms):
        line = axes.axhline(
            threshold_ms, color=CURVE_COLORS["slo"], linestyle="--", linewidth=1.8, label=f"SLO {label}"
        )
        line.set_gid(f"slo-line-{number}")
        plotted.append(threshold_ms)
    if knee is not None:
        marker = axes.scatter(
            [knee[0]], [knee[1]], s=220, facecolors="none", edgecolors=CURVE_COLORS["knee"], linewidths=2.2, zorder=6
        )
        marker.set_gid("knee")
        marker.set_label("knee")
    if answer is not None:
        at, lower, upper = answer
        if lower is not None and upper is not None and upper > lower:
            band = axes.axvspan(lower, upper, color=CURVE_COLORS["answer"], alpha=0.12, label="answer uncertainty")
            band.set_gid("answer-band")
        line = axes.axvline(at, color=CURVE_COLORS["answer"], linewidth=2.2, label=f"answer {at:.1f} req/s")
        line.set_gid("answer")
    axes.set_xlabel("achieved throughput (req/s)")
    axes.set_xlim(left=0, right=max([*xs, *(answer[:1] if answer else ()), 1.0]) * 1.08)
    latency_axis(axes, plotted, "latency (ms)")
    axes.set_title("Latency against throughput", loc="left")
    _legend(axes)
    return _svg(figure, salt)


@_styled
def server_breakdown_svg(labels: Sequence[str], phases_ms: Mapping[str, Sequence[float]], salt: str) -> str:
    """A stacked bar per step: mean server time per request in each phase (ms)."""
    figure = _figure(height_in=3.2)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    bottoms = [0.0] * len(labels)
    for phase, values in phases_ms.items():
        heights = [0.0 if math.isnan(v) else v for v in values]
        bars = axes.bar(
            positions, heights, bottom=bottoms, label=phase, color=PHASE_COLORS.get(phase), width=0.6, edgecolor="white"
        )
        for number, patch in enumerate(bars.patches):
            patch.set_gid(f"bar-{phase}-{number}")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    axes.set_xticks(positions, labels)
    axes.set_xlabel("step (level)")
    axes.set_ylabel("ms per request")
    axes.set_ylim(bottom=0)
    axes.grid(axis="x", visible=False)
    axes.set_title("Server time per request, by phase", loc="left")
    _legend(axes)
    return _svg(figure, salt)
