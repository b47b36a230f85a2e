"""The plain-words parts and the caps that keep a big fleet's report readable."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from PIL import Image

from cloudjobs.report import data as queries
from cloudjobs.report.data import Device, Episode, ZoneKey, ZoneLatest
from cloudjobs.report.html import MAX_ALERT_ROWS, Page, render
from cloudjobs.report.plots import (
    MAX_HEATMAP_ZONES,
    MAX_PANELS,
    MAX_ROWS,
    alerts_plot,
    heatmap_matrix,
    worst_sites,
)
from cloudjobs.report.summary import ago, summary_lines
from cloudjobs.report.views import open_lake
from tests.cloudjobs_report.lakegen import DAYS, NOW, START, Lake

WINDOW = queries.Window(START, START + timedelta(days=DAYS - 1))


def _latest(site: str, zone: str, stress: float) -> ZoneLatest:
    return ZoneLatest(ZoneKey(site, "cam1", zone), date(2025, 3, 10), stress, date(2025, 3, 1),
                      stress)  # fmt: skip


def test_a_calm_site_reads_as_calm(lake: Lake) -> None:
    data = queries.load(open_lake(lake.root, site="c"), WINDOW)
    lines = summary_lines(data, NOW, timedelta(hours=2))
    assert lines[0].startswith("No zone needs attention")
    assert lines[1] == "1 alert in the window, all resolved."
    assert len(lines) == 2  # its device reports, its camera is fine: nothing more to say


def test_durations_read_as_people_say_them() -> None:
    assert ago(timedelta(minutes=1)) == "1 minute"
    assert ago(timedelta(minutes=90)) == "90 minutes"
    assert ago(timedelta(hours=5)) == "5 hours"
    assert ago(timedelta(days=3, hours=2)) == "3 days"
    assert ago(timedelta(seconds=-5)) == "0 minutes"


def test_heatmap_keeps_the_worst_zones_when_there_are_too_many() -> None:
    latest = [_latest("s1", f"z{i:02d}", i / 10) for i in range(MAX_HEATMAP_ZONES + 10)]
    latest.append(_latest("s2", "z00", 9.0))
    hm = heatmap_matrix(latest)
    assert hm.total_zones == MAX_HEATMAP_ZONES + 10
    assert hm.values.shape == (2, MAX_HEATMAP_ZONES)
    assert hm.sites == ("s2", "s1") and hm.zones[0] == "z00 (cam1)"
    assert hm.zones[1] == f"z{MAX_HEATMAP_ZONES + 9:02d} (cam1)"  # then the worst of s1
    assert f"z{1:02d} (cam1)" not in hm.zones  # a calm zone makes room
    many = heatmap_matrix([_latest(f"s{i:03d}", "z", i / 100) for i in range(MAX_ROWS + 3)])
    assert many.total_sites == MAX_ROWS + 3 and len(many.sites) == MAX_ROWS
    assert many.sites[0] == f"s{MAX_ROWS + 2:03d}" and "s000" not in many.sites


def test_small_multiples_show_the_worst_sites_first() -> None:
    latest = [_latest(f"site{i:02d}", "z", float(i)) for i in range(MAX_PANELS + 5)]
    sites = worst_sites(latest)
    assert len(sites) == MAX_PANELS and sites[0] == f"site{MAX_PANELS + 4:02d}"
    assert "site00" not in sites


def test_alert_table_is_capped_with_a_count_of_the_rest(lake: Lake) -> None:
    data = queries.load(open_lake(lake.root, site="b"), WINDOW)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    many = tuple(
        Episode("b", "cam1", "B-1", "r", "info", f"episode {i}", "", start + timedelta(hours=i),
                None)
        for i in range(MAX_ALERT_ROWS + 7)
    )  # fmt: skip
    html = render(Page(replace(data, episodes=many), {}, [], NOW, NOW, timedelta(hours=2), "lake"))
    assert f"episode {MAX_ALERT_ROWS + 6}" in html  # the newest first
    assert "episode 6<" not in html and "and 7 older episodes" in html


def test_alert_time_line_keeps_its_size_for_a_big_fleet(tmp_path: Path) -> None:
    start = datetime(2025, 3, 2, tzinfo=UTC)
    episodes = [
        Episode(f"site{i:02d}", "cam1", "-", "fog", "warning", "fog", "", start,
                None if i % 3 == 0 else start + timedelta(hours=5))
        for i in range(MAX_ROWS + 10)
    ]  # fmt: skip
    plot = alerts_plot(episodes, WINDOW, tmp_path)
    assert plot is not None
    with Image.open(tmp_path / plot.file) as im:
        assert im.height <= 100 * (1.4 + 0.5 * MAX_ROWS) + 1


def test_fleet_table_flags_silent_devices_and_reads_an_empty_backlog(lake: Lake) -> None:
    data = queries.load(open_lake(lake.root, site="b"), WINDOW)
    idle = Device("b", "b-dev2", NOW - timedelta(minutes=5), "0.1.0", None, 0.0, None)
    html = render(Page(replace(data, devices=(*data.devices, idle)), {}, [], NOW, NOW,
                       timedelta(hours=2), "lake"))  # fmt: skip
    row = html[html.index("b-dev2"):].split("</tr>")[0]
    assert "none waiting" in row and "silent" not in row and "5 minutes ago" in row
    silent_row = html[html.index("<td>b-dev1"):].split("</tr>")[0]
    assert "silent: 6 days ago" in silent_row
