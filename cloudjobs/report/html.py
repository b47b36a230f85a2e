"""The report page: one self-contained ``index.html`` next to its PNG files.

Plain HTML and a few lines of inline CSS: no script, no external stylesheet, font or CDN,
so the page opens from a file share, an e-mail attachment unpacked to a folder, or a
device with no internet. Every piece of text from the lake goes through ``html.escape``:
site, zone and alert texts are written by devices and people, never trusted as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from cloudjobs.report.data import Device, Episode, ReportData
from cloudjobs.report.plots import Plot
from cloudjobs.report.summary import ago, when, where

MAX_ALERT_ROWS = 100

CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; padding: 0 1em;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
.scope { color: #555; margin-top: 0; }
.summary { background: #f4f4f0; border-left: 6px solid #D55E00; padding: 0.5em 1em; }
.summary li { margin: 0.3em 0; }
.how { color: #444; font-style: italic; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
.warn { color: #A33A00; font-weight: bold; }
footer { color: #666; font-size: 0.85em; border-top: 1px solid #ccc; margin-top: 2em; }
"""


@dataclass(frozen=True)
class Page:
    """What the page needs beyond the data: plots, summary, times and where it came from."""

    data: ReportData
    plots: dict[str, Plot | None]
    summary: Sequence[str]
    generated_at: datetime
    reference: datetime  # "now" for silent devices: the report time, or the window's end
    silent_after: timedelta
    lake: str


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; cells are escaped here, except those already marked up by the caller."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}\n</table>"


def _figure(plot: Plot | None, absent: str) -> str:
    if plot is None:
        return f"<p>{escape(absent)}</p>"
    return (f'<p class="how">{escape(plot.how_to_read)}</p>\n'
            f'<img src="{escape(plot.file)}" alt="{escape(plot.title)}">')  # fmt: skip


def _absent(data: ReportData, dataset: str, what: str) -> str:
    if dataset in data.missing:
        return f"No {what} uploaded yet."
    site = f" for site {data.window.site}" if data.window.site else ""
    return f"No {what}{site} in this window."


def _attention(data: ReportData) -> str:
    if not data.attention:
        return ""
    rows = [
        [escape(f"site {a.key.site}"), escape(a.key.camera), escape(a.key.zone),
         escape("" if a.stress is None else f"{a.stress:.1f}"),
         escape("" if a.rise is None else f"{a.rise:+.1f}"), escape(a.reason), escape(a.source)]
        for a in data.attention
    ]  # fmt: skip
    headers = ["site", "camera", "zone", "latest stress", "change in window", "why", "found by"]
    return "<h2>Zones that need attention</h2>\n" + _table(headers, rows)


def _fleet(page: Page) -> str:
    devices: Sequence[Device] = page.data.devices
    if not devices:
        return f"<p>{escape(_absent(page.data, 'heartbeats', 'heartbeats'))}</p>"
    rows = []
    for d in devices:
        silent = page.reference - d.last_seen
        status = escape(f"{ago(silent)} ago")
        if silent > page.silent_after:
            status = f'<span class="warn">silent: {status}</span>'
        rows.append([
            escape(f"site {d.site}"), escape(d.device), escape(when(d.last_seen)), status,
            escape(d.agent_version or "?"), escape(d.model_version or "?"),
            escape("?" if d.backlog_items is None else f"{d.backlog_items:.0f}"),
            escape(_oldest(d)),
        ])  # fmt: skip
    headers = ["site", "device", "last heartbeat", "last seen", "agent", "model",
               "items waiting to upload", "oldest waiting"]  # fmt: skip
    note = ("<p class=\"how\">One row per device, from its latest heartbeat; the ones that "
            "stopped reporting first. A device that is silent or has a growing backlog "
            "needs a visit or a look at its link.</p>")  # fmt: skip
    return note + _table(headers, rows)


def _oldest(d: Device) -> str:
    """Age of the oldest item waiting: none when the backlog is empty, ? when unknown."""
    if d.backlog_items == 0:
        return "none waiting"
    return "?" if d.backlog_oldest_s is None else ago(timedelta(seconds=d.backlog_oldest_s))


def _alerts_table(episodes: Sequence[Episode]) -> str:
    latest = sorted(episodes, key=lambda e: e.started, reverse=True)
    rows = [
        [escape(when(e.started)), escape(where(e.site, e.camera, e.zone)), escape(e.what),
         escape(e.severity),
         escape(when(e.resolved)) if e.resolved else '<span class="warn">open</span>']
        for e in latest[:MAX_ALERT_ROWS]
    ]  # fmt: skip
    more = len(latest) - MAX_ALERT_ROWS
    tail = f"<p>…and {more} older episodes.</p>" if more > 0 else ""
    headers = ["raised", "where", "what", "severity", "resolved"]
    return _table(headers, rows) + tail


def _sections(page: Page) -> list[str]:
    data, p = page.data, page.plots
    signals = _absent(data, "signals", "plant signals")
    parts = []
    for key, title in (("stress", "Stress per zone"), ("heatmap", "Latest stress, site by zone"),
                       ("yellow", "Yellowing per zone"), ("green", "Greenness per zone")):
        parts.append(f"<h2>{escape(title)}</h2>\n{_figure(p.get(key), signals)}")  # fmt: skip
    parts.append("<h2>Camera image quality</h2>\n"
                 + _figure(p.get("quality"), _absent(data, "quality", "image quality records")))
    parts.append("<h2>Alerts</h2>\n" + _figure(p.get("alerts"), _absent(data, "alerts", "alerts")))
    if data.episodes:
        parts.append(_alerts_table(data.episodes))
    parts.append("<h2>Devices</h2>\n" + _fleet(page))
    return parts


def _footer(page: Page) -> str:
    w = page.data.window
    lines = [f"Data window: {w.since:%d %b %Y} to {w.until:%d %b %Y} (UTC dates, both included)"
             + (f", site {w.site}" if w.site else ", all sites") + ".",
             f"Generated {page.generated_at:%d %b %Y %H:%M} UTC from {page.lake}."]  # fmt: skip
    if page.data.skipped_files:
        lines.append(f"{len(page.data.skipped_files)} unreadable files were skipped: "
                     + ", ".join(page.data.skipped_files[:10]))  # fmt: skip
    return "<footer>\n" + "\n".join(f"<p>{escape(x)}</p>" for x in lines) + "\n</footer>"


def render(page: Page) -> str:
    """The whole page as a string."""
    data = page.data
    sites = ", ".join(data.sites) if data.sites else "none yet"
    scope = (f"Sites: {sites} · {data.window.since:%d %b %Y} to {data.window.until:%d %b %Y}"
             " (UTC)")  # fmt: skip
    summary = "\n".join(f"<li>{escape(line)}</li>" for line in page.summary)
    body = [f"<h1>Greenhouse report</h1>\n<p class=\"scope\">{escape(scope)}</p>",
            f'<section class="summary">\n<h2>Summary</h2>\n<ul>\n{summary}\n</ul>\n</section>']
    if not data.empty:
        body.append(_attention(data))
        body += _sections(page)
    body.append(_footer(page))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape('Greenhouse report · ' + sites)}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n" + "\n".join(body)
            + "\n</body>\n</html>\n")  # fmt: skip
