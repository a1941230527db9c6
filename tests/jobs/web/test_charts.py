"""The server-drawn SVG charts: what they draw, where, and that no text escapes its element."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from jobs.web.charts import (
    Marker,
    Series,
    amount,
    count,
    line_chart,
    percent,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
START = date(2025, 3, 1)


def _days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # also proves the markup is well-formed XML


def test_a_line_chart_draws_one_point_per_day_with_a_value_and_a_tooltip_each():
    ctr = Series("CTR", [(day, 0.02 + i / 1000) for i, day in enumerate(_days(30))])
    rate = Series("Conversion rate", [(day, 0.05) for day in _days(30)[:10]])
    svg = _parse(line_chart(series=[ctr, rate], title="CTR per day"))
    groups = svg.findall(f"{SVG}g[@class='series']")
    assert [g.get("data-name") for g in groups] == ["CTR", "Conversion rate"]
    assert len(groups[0].findall(f"{SVG}circle")) == 30
    assert len(groups[1].findall(f"{SVG}circle")) == 10
    first = groups[0].find(f"{SVG}circle/{SVG}title").text
    assert first == "2025-03-01 · CTR: 2%"
    assert svg.get("role") == "img" and svg.get("aria-label") == "CTR per day"
    assert re.fullmatch(r"0 0 900 \d+", svg.get("viewBox"))


def test_a_missing_day_breaks_the_line_instead_of_bridging_it():
    days = _days(10)
    points = [(day, 0.03) for i, day in enumerate(days) if i != 4]
    svg = _parse(line_chart(series=[Series("CTR", points)], title="t"))
    assert len(svg.findall(f".//{SVG}polyline")) == 2
    assert len(svg.findall(f".//{SVG}circle")) == 9


def test_a_marker_sits_at_the_x_of_its_day_and_carries_its_tooltip():
    days = _days(20)
    series = Series("CTR", [(day, 0.02) for day in days])
    alarm = days[12]
    svg = _parse(
        line_chart(
            series=[series], title="t",
            markers=[Marker(alarm, "High fatigue: CTR down 40%", "high")],
        )
    )  # fmt: skip
    marker = svg.find(f"{SVG}g[@class='marker']")
    assert marker.get("data-day") == "2025-03-13" and marker.get("data-severity") == "high"
    assert marker.find(f"{SVG}title").text == "High fatigue: CTR down 40%"
    point = svg.find(f".//{SVG}circle[@data-day='2025-03-13']")
    assert marker.find(f"{SVG}line").get("x1") == point.get("cx")
    earlier = svg.find(f".//{SVG}circle[@data-day='2025-03-12']")
    assert float(earlier.get("cx")) < float(point.get("cx"))


def test_impressions_bars_get_their_own_axis_and_tooltips():
    days = _days(5)
    bars = Series("Impressions", [(day, 1000 * (i + 1)) for i, day in enumerate(days)])
    svg = _parse(
        line_chart(series=[Series("CTR", [(d, 0.01) for d in days])], title="t", bars=bars)
    )
    rects = svg.findall(f"{SVG}g[@class='bars']/{SVG}rect")
    assert len(rects) == 5
    assert rects[-1].find(f"{SVG}title").text == "2025-03-05 · Impressions: 5k"
    right_ticks = [t.text for t in svg.findall(f"{SVG}g[@class='axis axis-right']/{SVG}text")]
    assert right_ticks == ["0", "2k", "4k", "6k", "Impressions"]
    higher = [float(r.get("height")) for r in rects]
    assert higher == sorted(higher)


def test_axes_have_round_percent_ticks_and_date_labels():
    svg = _parse(line_chart(series=[Series("CTR", [(d, 0.031) for d in _days(60)])], title="t"))
    left = [t.text for t in svg.findall(f"{SVG}g[@class='axis axis-left']/{SVG}text")]
    assert left == ["0%", "1%", "2%", "3%", "4%"]
    labels = [t.text for t in svg.findall(f"{SVG}g[@class='axis axis-x']/{SVG}text")]
    assert labels[:3] == ["Mar 1", "Mar 8", "Mar 15"] and len(labels) == 9


def test_a_stacked_bar_chart_stacks_each_series_per_day_with_a_legend():
    days = _days(7)
    a = Series("Ad A", [(day, 10.0) for day in days])
    b = Series("Ad B", [(day, 30.0) for day in days[:3]])
    svg = _parse(stacked_bar_chart(series=[a, b], title="Spend per ad", value_label="Spend"))
    groups = svg.findall(f"{SVG}g[@class='series']")
    # The larger series is drawn first, at the bottom of each bar.
    assert [g.get("data-name") for g in groups] == ["Ad B", "Ad A"]
    assert len(groups[0].findall(f"{SVG}rect")) == 3
    assert len(groups[1].findall(f"{SVG}rect")) == 7
    first_day_b = groups[0].find(f"{SVG}rect[@data-day='2025-03-01']")
    first_day_a = groups[1].find(f"{SVG}rect[@data-day='2025-03-01']")
    assert float(first_day_a.get("y")) + float(first_day_a.get("height")) == float(
        first_day_b.get("y")
    )
    assert first_day_a.find(f"{SVG}title").text == "Ad A · 2025-03-01: 10 (day total 40)"
    legend = [t.text for t in svg.findall(f".//{SVG}g[@class='legend-item']/{SVG}text")]
    assert legend == ["Ad B", "Ad A"]


def test_many_series_keep_the_largest_and_sum_the_rest_into_other():
    days = _days(3)
    series = [Series(f"Ad {n}", [(day, float(n + 1)) for day in days]) for n in range(12)]
    svg = _parse(stacked_bar_chart(series=series, title="t", max_series=5))
    names = [g.get("data-name") for g in svg.findall(f"{SVG}g[@class='series']")]
    assert names == ["Ad 11", "Ad 10", "Ad 9", "Ad 8", "Other (8 more)"]
    other = svg.find(f"{SVG}g[@data-name='Other (8 more)']/{SVG}rect/{SVG}title").text
    assert other.startswith("Other (8 more) · 2025-03-01: 36 ")


def test_a_hostile_name_is_escaped_everywhere():
    hostile = '<script>alert("x")</script> & "quotes"'
    days = _days(3)
    line = line_chart(
        series=[Series(hostile, [(d, 0.01) for d in days])], title=hostile,
        bars=Series(hostile, [(d, 100) for d in days]), markers=[Marker(days[1], hostile)],
    )  # fmt: skip
    stacked = stacked_bar_chart(series=[Series(hostile, [(d, 5.0) for d in days])], title=hostile)
    for markup in (line, stacked):
        assert "<script" not in markup
        assert "&lt;script&gt;" in markup
        svg = _parse(markup)  # a stray quote would break the attributes
        assert svg.get("aria-label") == hostile
        assert any(el.get("data-name") == hostile for el in svg.iter())


def test_an_empty_series_gives_a_message_instead_of_a_chart():
    svg = _parse(line_chart(series=[Series("CTR", [])], title="t", empty_message="No data <yet>"))
    assert "empty" in svg.get("class")
    assert svg.find(f"{SVG}text").text == "No data <yet>"
    assert svg.get("aria-label") == "No data <yet>"
    nothing = Series("Ad", [(START, None), (START + timedelta(days=1), 0.0)])
    assert "chart empty" in stacked_bar_chart(series=[nothing], title="t")


def test_all_zero_values_still_draw_an_axis():
    svg = _parse(line_chart(series=[Series("CTR", [(d, 0.0) for d in _days(4)])], title="t"))
    circles = svg.findall(f".//{SVG}circle")
    assert len(circles) == 4 and len({c.get("cy") for c in circles}) == 1
    left = [t.text for t in svg.findall(f"{SVG}g[@class='axis axis-left']/{SVG}text")]
    assert left[0] == "0%"


def test_formatters_read_well():
    assert percent(0.0213) == "2.13%" and percent(0.05) == "5%" and percent(0) == "0%"
    assert count(950) == "950" and count(12_345) == "12.3k" and count(2_000_000) == "2M"
    assert amount(1234.5) == "1,234.50" and amount(50) == "50"
