"""Charts drawn on the server as SVG markup: lines over days with markers, and stacked bars.

Every text that reaches the markup is escaped here, so a page may include the result as it
is. Tooltips are <title> elements, which the browser shows on hover: no script, no CDN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Formatter = Callable[[float], str]

# Tell apart for the common kinds of colour blindness (after Okabe and Ito, and Tableau 10).
PALETTE = (
    "#2f5bd3", "#e07b39", "#1f9e89", "#c03a76", "#7a5cc7", "#8c6d31", "#3a9bd9", "#d4a017",
)  # fmt: skip
OTHER_COLOR = "#b7bdc9"
BAR_COLOR = "#dfe3ec"
SEVERITY_COLORS = {"warning": "#c98a00", "high": "#e0592a", "critical": "#b42318"}
INK, MUTED, GRID = "#1d2433", "#5b6477", "#e7eaf2"

_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 60, 60, 22, 26
_LEGEND_ROW = 20
_CHAR_WIDTH = 6.6  # of a 12px system-ui glyph, on average: enough to lay out the legend
_LEGEND_NAME_CHARS = 40


@dataclass(frozen=True)
class Series:
    """A named list of (day, value) points; None is a day without a value (a gap)."""

    name: str
    points: Sequence[tuple[date, float | None]]


@dataclass(frozen=True)
class Marker:
    """A day to mark on a line chart (a vertical line), with its tooltip text."""

    day: date
    label: str
    severity: str = "warning"


def percent(value: float) -> str:
    """0.0213 → "2.13%": at most two decimals, no trailing zeros."""
    return _trim(f"{value * 100:.2f}") + "%"


def count(value: float) -> str:
    """12345 → "12.3k": thousands and millions shortened."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return _trim(f"{value / limit:.1f}") + suffix
    return _trim(f"{value:.1f}")


def amount(value: float) -> str:
    """1234.5 → "1,234.50"; whole amounts without decimals (axis ticks)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def line_chart(
    *,
    series: Sequence[Series],
    title: str,
    value_format: Formatter = percent,
    value_label: str = "",
    bars: Series | None = None,
    bar_format: Formatter = count,
    markers: Sequence[Marker] = (),
    width: int = 900,
    height: int = 300,
    empty_message: str = "No data for these days yet.",
) -> SafeString:
    """An SVG line chart over days: the series on the left axis, optional light bars on a
    right axis, and vertical markers on chosen days."""
    plotted = [s for s in series if _values(s)]
    if not plotted and not (bars and _values(bars)):
        return _empty(empty_message, width=width)
    days = [day for s in [*series, *([bars] if bars else [])] for day, _ in s.points]
    frame = _Frame.over(days + [m.day for m in markers], width=width, height=height)
    scale = _Scale.up_to(max((v for s in plotted for v in _values(s)), default=0))
    legend = [(PALETTE[i % len(PALETTE)], s.name, "line") for i, s in enumerate(series)]
    parts = [_y_axis(frame, scale, value_format, value_label, side="left")]
    if bars and _values(bars):
        bar_scale = _Scale.up_to(max(_values(bars)))
        parts.append(_y_axis(frame, bar_scale, bar_format, bars.name, side="right"))
        parts.append(_bars(frame, bar_scale, bars, bar_format))
        legend.append((BAR_COLOR, bars.name, "bar"))
    parts.append(_x_axis(frame))
    parts += [_line(frame, scale, item, i, value_format) for i, item in enumerate(series)]
    parts += [_marker(frame, marker) for marker in markers]
    if markers:
        severities = dict.fromkeys(m.severity for m in markers)
        legend += [(SEVERITY_COLORS.get(s, INK), f"Alarm ({s})", "marker") for s in severities]
    return _svg(frame, title, parts, legend, kind="line-chart")


def stacked_bar_chart(
    *,
    series: Sequence[Series],
    title: str,
    value_format: Formatter = amount,
    value_label: str = "",
    max_series: int = 8,
    width: int = 900,
    height: int = 300,
    empty_message: str = "No data for these days yet.",
) -> SafeString:
    """An SVG chart of one bar a day, each series a coloured part of it, with a legend.

    The largest series (by their sum) come first, from the bottom; beyond `max_series` the
    smallest are summed into one "Other" part so the colours stay tellable apart.
    """
    kept = sorted((s for s in series if sum(_values(s)) > 0), key=lambda s: -sum(_values(s)))
    if not kept:
        return _empty(empty_message, width=width)
    colors = [PALETTE[i % len(PALETTE)] for i in range(min(len(kept), max_series))]
    if len(kept) > max_series:
        rest = kept[max_series - 1 :]
        other = Series(f"Other ({len(rest)} more)", sorted(_by_day(rest).items()))
        kept, colors[-1] = [*kept[: max_series - 1], other], OTHER_COLOR
    totals = _by_day(kept)
    frame = _Frame.over(list(totals), width=width, height=height)
    scale = _Scale.up_to(max(totals.values()))
    parts = [_y_axis(frame, scale, value_format, value_label, side="left"), _x_axis(frame)]
    base: dict[date, float] = {}
    for index, (item, color) in enumerate(zip(kept, colors, strict=True)):
        rects = []
        for day, value in sorted(item.points):
            if not value or value <= 0:
                continue
            bottom = base.get(day, 0.0)
            base[day] = bottom + value
            y_top, y_bottom = scale.y(frame, bottom + value), scale.y(frame, bottom)
            tip = f"{item.name} · {day.isoformat()}: {value_format(value)}"
            if len(kept) > 1:
                tip += f" (day total {value_format(totals[day])})"
            rects.append(_bar(frame, day, y_top, max(y_bottom - y_top, 0.5), tip))
        parts.append(
            f'<g class="series" data-series="{index}" data-name="{escape(item.name)}" '
            f'fill="{color}">{"".join(rects)}</g>'
        )
    legend = [(color, item.name, "bar") for item, color in zip(kept, colors, strict=True)]
    return _svg(frame, title, parts, legend, kind="stacked-bar-chart")


@dataclass(frozen=True)
class _Frame:
    """Where the days go across and the plot area sits: one band of equal width per day."""

    first: date
    days: int
    width: int
    height: int

    @classmethod
    def over(cls, days: Sequence[date], *, width: int, height: int) -> _Frame:
        first, last = min(days), max(days)
        return cls(first=first, days=(last - first).days + 1, width=width, height=height)

    left = _MARGIN_LEFT
    top = _MARGIN_TOP

    @property
    def right(self) -> float:
        return self.width - _MARGIN_RIGHT

    @property
    def bottom(self) -> float:
        return self.height - _MARGIN_BOTTOM

    @property
    def band(self) -> float:
        return (self.right - self.left) / self.days

    @property
    def bar(self) -> float:
        return max(self.band * 0.72, 1.0)

    def x(self, day: date) -> float:
        """The middle of the day's band."""
        return self.left + ((day - self.first).days + 0.5) * self.band


@dataclass(frozen=True)
class _Scale:
    """A value axis from 0 to a round number, with round steps between."""

    top: float
    step: float

    @classmethod
    def up_to(cls, maximum: float, ticks: int = 4) -> _Scale:
        if not maximum or maximum <= 0 or not math.isfinite(maximum):
            maximum = 1.0
        raw = maximum / ticks
        magnitude = 10 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
        return cls(top=step * math.ceil(maximum / step - 1e-9), step=step)

    def y(self, frame: _Frame, value: float) -> float:
        return frame.bottom - (value / self.top) * (frame.bottom - frame.top)

    def ticks(self) -> list[float]:
        count_ = round(self.top / self.step)
        return [self.step * i for i in range(count_ + 1)]


def _by_day(series: Sequence[Series]) -> dict[date, float]:
    """The series' positive values summed per day."""
    totals: dict[date, float] = {}
    for item in series:
        for day, value in item.points:
            totals[day] = totals.get(day, 0.0) + max(value or 0.0, 0.0)
    return totals


def _values(series: Series) -> list[float]:
    return [v for _, v in series.points if v is not None and math.isfinite(v)]


def _y_axis(frame: _Frame, scale: _Scale, fmt: Formatter, label: str, *, side: str) -> str:
    lines = []
    x, anchor = (frame.left - 8, "end") if side == "left" else (frame.right + 8, "start")
    for value in scale.ticks():
        y = _n(scale.y(frame, value))
        if side == "left":
            lines.append(
                f'<line x1="{_n(frame.left)}" x2="{_n(frame.right)}" y1="{y}" y2="{y}" '
                f'stroke="{GRID}"/>'
            )
        lines.append(
            f'<text x="{_n(x)}" y="{y}" dy="4" text-anchor="{anchor}" fill="{MUTED}">'
            f"{escape(fmt(value))}</text>"
        )
    if label:
        lx, la = (frame.left, "start") if side == "left" else (frame.right, "end")
        lines.append(
            f'<text x="{_n(lx)}" y="{_n(frame.top - 9)}" text-anchor="{la}" fill="{MUTED}" '
            f'font-weight="600">{escape(label)}</text>'
        )
    return f'<g class="axis axis-{side}">{"".join(lines)}</g>'


def _x_axis(frame: _Frame) -> str:
    # A step that keeps the labels to nine at most, each a whole number of days or weeks.
    step = next((s for s in (1, 2, 7, 14, 28) if frame.days / s <= 9), 56)
    parts = [
        f'<line x1="{_n(frame.left)}" x2="{_n(frame.right)}" y1="{_n(frame.bottom)}" '
        f'y2="{_n(frame.bottom)}" stroke="{MUTED}"/>'
    ]
    for offset in range(0, frame.days, step):
        day = frame.first + timedelta(days=offset)
        x = _n(frame.x(day))
        parts.append(
            f'<line x1="{x}" x2="{x}" y1="{_n(frame.bottom)}" y2="{_n(frame.bottom + 4)}" '
            f'stroke="{MUTED}"/><text class="tick" x="{x}" y="{_n(frame.bottom + 17)}" '
            f'text-anchor="middle" fill="{MUTED}">{day:%b} {day.day}</text>'
        )
    return f'<g class="axis axis-x">{"".join(parts)}</g>'


def _bars(frame: _Frame, scale: _Scale, bars: Series, fmt: Formatter) -> str:
    rects = []
    for day, value in sorted(bars.points):
        if value is None or value <= 0:
            continue
        y = scale.y(frame, value)
        tip = f"{day.isoformat()} · {bars.name}: {fmt(value)}"
        rects.append(_bar(frame, day, y, frame.bottom - y, tip))
    name = escape(bars.name)
    return f'<g class="bars" data-name="{name}" fill="{BAR_COLOR}">{"".join(rects)}</g>'


def _bar(frame: _Frame, day: date, y: float, height: float, tip: str) -> str:
    return (
        f'<rect class="bar" data-day="{day.isoformat()}" x="{_n(frame.x(day) - frame.bar / 2)}" '
        f'y="{_n(y)}" width="{_n(frame.bar)}" height="{_n(height)}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _line(frame: _Frame, scale: _Scale, series: Series, index: int, fmt: Formatter) -> str:
    color = PALETTE[index % len(PALETTE)]
    segments: list[list[tuple[float, float]]] = [[]]
    points = []
    previous: date | None = None
    for day, value in sorted(series.points):
        # A missing day or value breaks the line rather than drawing a slope nobody measured.
        if value is None or not math.isfinite(value):
            segments.append([])
            previous = None
            continue
        if previous is not None and (day - previous).days > 1:
            segments.append([])
        previous = day
        x, y = frame.x(day), scale.y(frame, value)
        segments[-1].append((x, y))
        tip = f"{day.isoformat()} · {series.name}: {fmt(value)}"
        points.append(
            f'<circle class="point" data-day="{day.isoformat()}" cx="{_n(x)}" cy="{_n(y)}" r="3">'
            f"<title>{escape(tip)}</title></circle>"
        )
    lines = [
        '<polyline fill="none" stroke-width="2" stroke-linejoin="round" points="'
        + " ".join(f"{_n(x)},{_n(y)}" for x, y in segment)
        + '"/>'
        for segment in segments
        if len(segment) > 1
    ]
    return (
        f'<g class="series" data-series="{index}" data-name="{escape(series.name)}" '
        f'stroke="{color}" fill="{color}">{"".join(lines)}{"".join(points)}</g>'
    )


def _marker(frame: _Frame, marker: Marker) -> str:
    x = _n(frame.x(marker.day))
    color = SEVERITY_COLORS.get(marker.severity, INK)
    top, bottom = _n(frame.top), _n(frame.bottom)
    # The wide transparent strip gives the thin line an area the pointer can find.
    return (
        f'<g class="marker" data-day="{marker.day.isoformat()}" '
        f'data-severity="{escape(marker.severity)}"><title>{escape(marker.label)}</title>'
        f'<rect x="{_n(frame.x(marker.day) - 5)}" y="{top}" width="10" '
        f'height="{_n(frame.bottom - frame.top)}" fill="transparent"/>'
        f'<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}" stroke="{color}" stroke-width="2" '
        f'stroke-dasharray="5 3"/>'
        f'<path d="M{x},{top} l-6,-9 h12 z" fill="{color}"/></g>'
    )


def _legend(items: Sequence[tuple[str, str, str]], *, width: int, top: float) -> tuple[str, int]:
    """The legend's markup below the plot and how many rows it takes."""
    parts, x, row = [], float(_MARGIN_LEFT), 0
    for color, name, kind in items:
        shown = name if len(name) <= _LEGEND_NAME_CHARS else name[: _LEGEND_NAME_CHARS - 1] + "…"
        item_width = 22 + len(shown) * _CHAR_WIDTH + 18
        if x + item_width > width - _MARGIN_RIGHT and x > _MARGIN_LEFT:
            x, row = float(_MARGIN_LEFT), row + 1
        y = top + row * _LEGEND_ROW
        if kind == "line":
            swatch = (
                f'<line x1="{_n(x)}" x2="{_n(x + 16)}" y1="{_n(y)}" y2="{_n(y)}" '
                f'stroke="{color}" stroke-width="3"/>'
            )
        elif kind == "marker":
            swatch = (
                f'<line x1="{_n(x + 8)}" x2="{_n(x + 8)}" y1="{_n(y - 7)}" y2="{_n(y + 7)}" '
                f'stroke="{color}" stroke-width="2" stroke-dasharray="4 2"/>'
            )
        else:
            swatch = f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="16" height="12" fill="{color}"/>'
        parts.append(
            f'<g class="legend-item"><title>{escape(name)}</title>{swatch}'
            f'<text x="{_n(x + 22)}" y="{_n(y + 4)}" fill="{INK}">{escape(shown)}</text></g>'
        )
        x += item_width
    return f'<g class="legend">{"".join(parts)}</g>', row + 1 if items else 0


def _svg(frame: _Frame, title: str, parts: list[str], legend_items, *, kind: str) -> SafeString:
    legend, rows = _legend(legend_items, width=frame.width, top=frame.height + 4)
    height = frame.height + rows * _LEGEND_ROW + 6
    return mark_safe(  # noqa: S308 - every text above went through escape()
        f'<svg class="chart {kind}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {frame.width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, -apple-system, sans-serif" '
        f'font-size="12">{"".join(parts)}{legend}</svg>'
    )


def _empty(message: str, *, width: int) -> SafeString:
    return mark_safe(  # noqa: S308 - the message is escaped
        f'<svg class="chart empty" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 80" '
        f'width="100%" role="img" aria-label="{escape(message)}" '
        f'font-family="system-ui, -apple-system, sans-serif" font-size="14">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="79" rx="8" fill="#fafbfd" '
        f'stroke="{GRID}"/><text x="{width / 2}" y="45" text-anchor="middle" fill="{MUTED}">'
        f"{escape(message)}</text></svg>"
    )


def _n(value: float) -> str:
    """A coordinate with one decimal, which is finer than a pixel at any shown size."""
    return _trim(f"{value:.1f}")


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text
