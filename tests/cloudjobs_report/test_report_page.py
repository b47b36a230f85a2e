"""The written report: a self-contained page whose every image exists and says something."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from cloudjobs.report import Report, build_report, main
from tests.cloudjobs_report.lakegen import NOW, PLANTED, Lake

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class PageParser(HTMLParser):
    """Checks nesting as it goes and collects what the tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []
        self.attrs: list[str] = []
        self.text: list[str] = []
        self.items: list[str] = []  # the summary's <li> texts
        self._in_li = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [v or "" for _, v in attrs]
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag == "li":
            self._in_li = True
            self.items.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()
        if tag == "li":
            self._in_li = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_li:
            self.items[-1] += data


def parse(index: Path) -> PageParser:
    parser = PageParser()
    parser.feed(index.read_text(encoding="utf-8"))
    parser.close()
    assert not parser.problems, parser.problems
    assert not parser.stack, f"unclosed: {parser.stack}"
    return parser


def test_every_image_on_the_page_is_a_png_of_modest_size(report: Report) -> None:
    page = parse(report.index)
    assert len(page.images) == 6, page.images  # 3 trends, heatmap, quality, alerts
    for src in page.images:
        path = report.index.parent / src
        assert path.parent == report.index.parent, "images sit next to index.html"
        assert 5_000 < path.stat().st_size < 400_000, (src, path.stat().st_size)
        with Image.open(path) as im:
            assert im.format == "PNG"
            im.verify()
        with Image.open(path) as im:
            assert 300 <= im.width <= 1300 and 150 <= im.height <= 1300, (src, im.size)
            assert len(im.getcolors(1 << 16) or range(1 << 16)) > 8, f"{src} looks blank"


def test_page_is_self_contained_and_escapes_text(report: Report) -> None:
    html = report.index.read_text(encoding="utf-8")
    page = parse(report.index)
    assert not {"script", "link", "iframe", "object"} & set(page.tags)
    assert not [a for a in page.attrs if "://" in a or a.startswith("//")]
    assert "http" not in html and "url(" not in html
    assert "<b>" not in html  # an alert text holds markup: shown as text, never as tags
    assert 'soil "dry" <b>& hot</b>' in "".join(page.text)


def test_summary_names_the_planted_zone_first_and_only_it(report: Report) -> None:
    page = parse(report.index)
    site, camera, zone = PLANTED
    headline = page.items[0]
    assert f"zone {zone} ({camera}) at site {site}" in headline
    assert "1 zone needs attention" in headline
    others = ("B-1", "B-2", "B-4", "tray-left")
    assert not any(z in headline for z in others), headline
    summary = " ".join(page.items)
    assert "b-dev1" in summary and "a-dev1" not in summary  # only the silent device
    assert "cam2 at site a" in summary and "fog" in summary  # the fogged camera


def test_page_has_sections_tables_and_window_footer(report: Report) -> None:
    text = " ".join(parse(report.index).text)
    for heading in ("Stress per zone", "Camera image quality", "Alerts", "Devices",
                    "Zones that need attention"):  # fmt: skip
        assert heading in text
    assert "Data window: 01 Mar 2025 to 10 Mar 2025" in text
    assert f"Generated {NOW:%d %b %Y %H:%M} UTC" in text


def test_site_filter_leaves_other_sites_out(
    lake: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    code = main(["--store", str(lake.root), "--site", "b", "--out", str(out)], clock=lambda: NOW)
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    page = parse(out / "index.html")
    text = " ".join(page.text)
    assert re.search(r"\bsite b\b", text)
    assert not re.search(r"\bsite [ac]\b", text)
    for other in ("a-dev1", "c-dev1", "tray-left", "dry"):
        assert other not in text, other
    assert all((out / src).is_file() for src in page.images)


def test_empty_lake_says_there_is_no_data_yet(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "alerts.png").write_bytes(b"a figure from an earlier report")
    report = build_report(tmp_path / "lake", out, clock=lambda: NOW)
    page = parse(report.index)
    assert page.images == [] and report.plots == ()
    assert page.items[0].startswith("No data yet")
    assert not list(out.glob("*.png")), "figures of an earlier report must not linger"


def test_cli_refuses_a_missing_lake_and_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--store", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert code == 1
    assert "nowhere" in capsys.readouterr().err
    for bad in (["--since", "3 March"], ["--site", "Site/../x"]):
        with pytest.raises(SystemExit) as exc:
            main(["--store", str(tmp_path), "--out", str(tmp_path / "o"), *bad])
        assert exc.value.code == 2
    (tmp_path / "lake").mkdir()
    code = main(["--store", str(tmp_path / "lake"), "--out", str(tmp_path / "o"),
                 "--since", "2025-03-05", "--until", "2025-03-01"])  # fmt: skip
    assert code == 1 and "after --until" in capsys.readouterr().err
