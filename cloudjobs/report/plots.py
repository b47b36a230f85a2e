"""The report's figures, drawn with matplotlib's object API onto the Agg canvas.

``matplotlib.figure.Figure`` is used directly, never pyplot: no global figure registry,
nothing to close, no backend switch for the process that imports this. Colours come from
the Okabe-Ito palette (distinguishable with every common colour-vision deficiency), and
lines and markers also differ by shape, so nothing depends on colour alone. Each figure's
title says what to look at; its caption (in the HTML) says how to read it.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cloudjobs.report.data import Episode, QualityDay, Window, ZoneDay, ZoneKey, ZoneLatest

DPI = 100
OKABE_ITO = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SEVERITY_STYLE = {  # colour, marker, drawing order (critical on top)
    "info": ("#0072B2", "o", 1),
    "warning": ("#E69F00", "^", 2),
    "critical": ("#D55E00", "X", 3),
}
# The agent's quality flags in its reporting order (fieldagent.quality.config.ALL_CHECKS, a
# test keeps them equal; importing it here would load scikit-image), so a flag has the same
# colour in every report.
QUALITY_FLAGS = ("dark", "underexposed", "overexposed", "blur", "fog", "moved", "frozen")
CAUSES = (*QUALITY_FLAGS, "unreadable", "other")
CAUSE_COLOURS = (*OKABE_ITO, "#999999", "#555555")
HIGHLIGHTED = 5  # zones drawn in colour per site panel; the rest in grey
MAX_PANELS = 12  # sites in a small-multiples figure (the worst ones)
MAX_HEATMAP_ZONES = 40
MAX_ROWS = 30  # sites in the heatmap and the alert time line (the worst ones)
STRESS_ABNORMAL = 3.0


@dataclass(frozen=True)
class Plot:
    """A written figure: its file (next to index.html), what to look at, how to read it."""

    file: str
    title: str
    how_to_read: str


@dataclass(frozen=True)
class Metric:
    """How one trend signal is labelled and scaled for people."""

    name: str
    title: str
    axis: str
    scale: float
    worse_when: str


METRICS = (
    Metric("stress_score", "Stress", "stress score (z; 0 = zone's own normal)", 1.0, "rises"),
    Metric("yellow_fraction", "Yellowing", "yellow share of plant area (%)", 100.0, "rises"),
    Metric("gcc", "Greenness", "greenness GCC = G/(R+G+B)", 1.0, "falls"),
)


def _figure(panels: int, *, height: float = 2.5) -> tuple[Figure, list[Axes]]:
    """Small multiples sharing both axes: panels compare at a glance, noise looks small."""
    cols = 1 if panels <= 4 else 2
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(10 if cols == 2 else 9, 1.0 + height * rows), dpi=DPI,
                 layout="constrained")  # fmt: skip
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel().tolist()
    for extra in axes[panels:]:
        extra.set_visible(False)
    return fig, axes[:panels]


def _x(at: datetime | date, hour: int = 0) -> float:
    """A time on the x axis (matplotlib date number); a day is placed at ``hour`` UTC."""
    if not isinstance(at, datetime):
        at = datetime.combine(at, time(hour), UTC)
    return float(mdates.date2num(at))


def _date_axis(ax: Axes, window: Window) -> None:
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlim(_x(window.since), _x(window.until + timedelta(days=1)))
    ax.grid(True, axis="y", alpha=0.3)


def _save(fig: Figure, out_dir: Path, file: str) -> None:
    fig.savefig(out_dir / file, dpi=DPI)


def worst_sites(latest: Sequence[ZoneLatest]) -> list[str]:
    """Sites ordered by their most stressed zone, worst first (at most MAX_PANELS)."""
    worst: dict[str, float] = defaultdict(lambda: -math.inf)
    for z in latest:
        worst[z.key.site] = max(worst[z.key.site], z.stress)
    return sorted(worst, key=lambda s: (-worst[s], s))[:MAX_PANELS]


def highlighted(latest: Sequence[ZoneLatest], site: str) -> list[ZoneKey]:
    """The zones of ``site`` drawn in colour: its most stressed now, worst first."""
    zones = sorted((z for z in latest if z.key.site == site), key=lambda z: -z.stress)
    return [z.key for z in zones[:HIGHLIGHTED]]


def trend_plot(
    metric: Metric, days: Sequence[ZoneDay], latest: Sequence[ZoneLatest], window: Window,
    out_dir: Path,
) -> Plot | None:  # fmt: skip
    """Small multiples of a signal's daily median per zone: one panel per site."""
    series: dict[ZoneKey, list[tuple[float, float]]] = defaultdict(list)
    for d in days:
        value = d.value(metric.name)
        if value is not None:
            series[d.key].append((_x(d.day, 12), value * metric.scale))
    sites = [s for s in worst_sites(latest) if any(k.site == s for k in series)]
    if not sites:
        return None
    fig, axes = _figure(len(sites))
    for ax, site in zip(axes, sites, strict=True):
        _trend_panel(ax, site, series, highlighted(latest, site), metric)
        _date_axis(ax, window)
    top = max(latest, key=lambda z: z.stress)
    fig.suptitle(f"{metric.title} per zone, daily median: look at {top.key.label} at site "
                 f"{top.key.site}, the most stressed now\n(coloured: each site's "
                 f"{HIGHLIGHTED} most stressed zones; grey: the others)", fontsize=11)
    file = f"trend_{metric.name}.png"
    _save(fig, out_dir, file)
    return Plot(file, f"{metric.title} per zone",
                f"One panel per site, one line per zone (daily median of trusted images); "
                f"a zone in trouble {metric.worse_when} away from the others"
                + (", and above the dashed line at 3 it is clearly abnormal."
                   if metric.name == "stress_score" else "."))  # fmt: skip


def _trend_panel(
    ax: Axes, site: str, series: dict[ZoneKey, list[tuple[float, float]]],
    colour_zones: list[ZoneKey], metric: Metric,
) -> None:  # fmt: skip
    for key, points in sorted(series.items(), key=lambda kv: kv[0].label):
        if key.site != site or key in colour_zones:
            continue
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="#BBBBBB", linewidth=1, zorder=1)
    for rank, key in enumerate(colour_zones):
        if key in series:
            xs, ys = zip(*series[key], strict=True)
            ax.plot(xs, ys, color=OKABE_ITO[rank], marker=MARKERS[rank], markersize=4,
                    linewidth=2, label=key.label, zorder=3)  # fmt: skip
    if metric.name == "stress_score":
        ax.axhline(STRESS_ABNORMAL, color="#000000", linestyle="--", linewidth=1, zorder=2)
    if metric.name != "gcc":  # stress and shares start at 0; greenness varies in a narrow band
        ax.set_ylim(bottom=0)
    ax.set_title(f"site {site}", loc="left", fontsize=10)
    ax.set_ylabel(metric.axis, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)


@dataclass(frozen=True)
class Heatmap:
    """Latest daily median stress, rows = sites, columns = zones, NaN = no such zone."""

    sites: tuple[str, ...]
    zones: tuple[str, ...]
    values: npt.NDArray[np.float64]
    total_zones: int
    total_sites: int


def heatmap_matrix(latest: Sequence[ZoneLatest]) -> Heatmap:
    """The heatmap's numbers, worst site on top and worst zone on the left."""
    cells = {(z.key.site, z.key.label): z.stress for z in latest}
    worst: dict[str, float] = defaultdict(lambda: -math.inf)
    for (site, label), v in cells.items():
        worst[site] = max(worst[site], v)
        worst[label] = max(worst[label], v)
    sites = sorted({s for s, _ in cells}, key=lambda s: (-worst[s], s))
    labels = sorted({lb for _, lb in cells}, key=lambda lb: (-worst[lb], lb))
    rows, shown = sites[:MAX_ROWS], labels[:MAX_HEATMAP_ZONES]
    values = np.array([[cells.get((s, lb), np.nan) for lb in shown] for s in rows], float)
    return Heatmap(tuple(rows), tuple(shown), values.reshape(len(rows), len(shown)),
                   len(labels), len(sites))  # fmt: skip


def heatmap_plot(latest: Sequence[ZoneLatest], out_dir: Path) -> Plot | None:
    """Site x zone heatmap of the latest stress, worst in the top-left corner."""
    hm = heatmap_matrix(latest)
    if not hm.sites:
        return None
    width = min(12.0, 3.0 + 0.45 * len(hm.zones))
    fig = Figure(figsize=(width, 1.6 + 0.45 * len(hm.sites)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    vmax = max(4.0, float(np.nanmax(hm.values)))
    image = ax.imshow(np.ma.masked_invalid(hm.values), cmap="YlOrRd", vmin=0.0, vmax=vmax,
                      aspect="auto")  # fmt: skip
    ax.set_facecolor("#FFFFFF")
    ax.set_xticks(range(len(hm.zones)), hm.zones, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(hm.sites)), [f"site {s}" for s in hm.sites], fontsize=8)
    if hm.values.size <= 240:
        for (i, j), v in np.ndenumerate(hm.values):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                        color="#FFFFFF" if v > 0.6 * vmax else "#000000")  # fmt: skip
    fig.colorbar(image, ax=ax, label="latest stress score (z)", shrink=0.9)
    more = [f"the {len(shown)} worst of {total} {what}" for shown, total, what in (
        (hm.sites, hm.total_sites, "sites"), (hm.zones, hm.total_zones, "zones"))
        if len(shown) < total]  # fmt: skip
    cut = f" ({', '.join(more)})" if more else ""
    fig.suptitle(f"Latest stress per zone{cut}: dark red cells need a look", fontsize=11)
    _save(fig, out_dir, "heatmap_stress.png")
    return Plot("heatmap_stress.png", "Latest stress, site by zone",
                "Each cell is a zone's median stress on its latest day with data; the worst "
                "site is the top row and the worst zones are on the left, blank cells are "
                "zones a site does not have.")  # fmt: skip


def quality_plot(quality: Sequence[QualityDay], window: Window, out_dir: Path) -> Plot | None:
    """Per camera, the share of images failing each day, stacked by first cause."""
    if not quality:
        return None
    per_camera: dict[tuple[str, str], list[QualityDay]] = defaultdict(list)
    for q in quality:
        per_camera[(q.site, q.camera)].append(q)
    seen = {c for q in quality for c, _ in q.failing}
    causes = [c for c in CAUSES if c in seen] + sorted(seen - set(CAUSES))
    colours = {c: CAUSE_COLOURS[CAUSES.index(c) if c in CAUSES else -1] for c in causes}
    ranked = sorted(per_camera, key=lambda k: (-max(_share(q) for q in per_camera[k]), k))
    shown = ranked[:MAX_PANELS]
    fig, axes = _figure(len(shown), height=1.7)
    for ax, (site, camera) in zip(axes, shown, strict=True):
        _quality_panel(ax, per_camera[(site, camera)], causes, colours)
        ax.set_title(f"site {site}, camera {camera}", loc="left", fontsize=10)
        _date_axis(ax, window)
    handles = [Line2D([], [], color=colours[c], linewidth=8, label=c) for c in causes]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8,
                   title="first problem found", title_fontsize=8)  # fmt: skip
    worst = max(quality, key=lambda q: (_share(q), q.day))
    more = f" (the {len(shown)} worst of {len(ranked)} cameras)" if len(shown) < len(ranked) else ""
    fig.suptitle(f"Images failing quality checks per day{more}: worst was camera "
                 f"{worst.camera} at site {worst.site}, {_share(worst):.0%} on {worst.day:%d %b}")
    _save(fig, out_dir, "quality.png")
    return Plot("quality.png", "Camera image quality",
                "One panel per camera, worst first; bar height is the share of its images that "
                "failed a check that day, split by the first problem found: a run of tall bars "
                "means the camera needs cleaning, re-aiming or its light fixed.")  # fmt: skip


def _share(q: QualityDay) -> float:
    return q.failed / q.images if q.images else 0.0


def _quality_panel(
    ax: Axes, days: Sequence[QualityDay], causes: list[str], colours: dict[str, str]
) -> None:
    centres = [_x(q.day, 12) for q in days]
    bottom = np.zeros(len(days))
    for cause in causes:
        share = np.array([100.0 * dict(q.failing).get(cause, 0) / max(1, q.images) for q in days])
        ax.bar(centres, share, bottom=bottom, width=0.8, color=colours[cause], label=cause)
        bottom += share
    ax.set_ylim(0, 100)
    ax.set_ylabel("images failing (%)", fontsize=8)


def alerts_plot(episodes: Sequence[Episode], window: Window, out_dir: Path) -> Plot | None:
    """Alert episodes on a time line: one row per site, spans until resolved."""
    if not episodes:
        return None
    ranked = Counter((e.site, e.resolved is None) for e in episodes)
    every = sorted({e.site for e in episodes}, key=lambda s: (-ranked[(s, True)],
                                                             -ranked[(s, False)], s))
    sites = sorted(every[:MAX_ROWS])  # the sites with most open, then most alerts
    fig = Figure(figsize=(9, 1.4 + 0.5 * len(sites)), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    end = _x(window.until + timedelta(days=1))
    shown = [e for e in episodes if e.site in sites]
    for e in sorted(shown, key=lambda e: SEVERITY_STYLE.get(e.severity, ("", "", 0))[2]):
        colour, marker, order = SEVERITY_STYLE.get(e.severity, ("#666666", "o", 0))
        row = sites.index(e.site)
        stop = _x(e.resolved) if e.resolved else end
        ax.plot([_x(e.started), stop], [row, row], color=colour, linewidth=6, alpha=0.35,
                solid_capstyle="butt", linestyle="-" if e.resolved else (0, (2, 1)),
                zorder=order)  # fmt: skip
        ax.plot([_x(e.started)], [row], marker=marker, color=colour, markersize=9,
                markeredgecolor="#000000", linestyle="", zorder=10 + order)  # fmt: skip
    ax.set_yticks(range(len(sites)), [f"site {s}" for s in sites])
    ax.set_ylim(len(sites) - 0.5, -0.5)
    _date_axis(ax, window)
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(handles=_alert_legend(), fontsize=8, loc="outside lower center", ncols=4)
    still_open = [e for e in episodes if e.resolved is None]
    cut = f" ({len(sites)} of {len(every)} sites shown)" if len(sites) < len(every) else ""
    fig.suptitle(f"Alerts in the window{cut}: {len(episodes)} episodes, {len(still_open)} not "
                 "resolved (the bars that run to the right edge)", fontsize=11)  # fmt: skip
    _save(fig, out_dir, "alerts.png")
    return Plot("alerts.png", "Alerts over time",
                "Each marker is an alert being raised (shape and colour give its severity); the "
                "bar behind it lasts until the alert was resolved, and a dashed bar that reaches "
                "the right edge was still open at the end of the window.")  # fmt: skip


def _alert_legend() -> list[Line2D]:
    handles = [
        Line2D([], [], color=c, marker=m, markeredgecolor="#000000", linestyle="", markersize=8,
               label=name)
        for name, (c, m, _) in SEVERITY_STYLE.items()
    ]  # fmt: skip
    handles.append(Line2D([], [], color="#666666", linewidth=6, alpha=0.35, label="until resolved"))
    return handles
