"""A snapshot row's values read and checked: counts, money, seconds, rates, the day and the hour.

Each reader takes what a row gives (JSON values or CSV text) and gives back the value to copy,
or raises `Refused` with the sentence the user sees.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

EARLIEST_DAY = date(2000, 1, 1)
# BIGINT holds 19 digits; 18 keep every sum of a few days far from overflowing.
MAX_COUNT_DIGITS = 18
_COUNT_LIMIT = 10**MAX_COUNT_DIGITS
# numeric(14, 4): ten digits before the point.
MAX_MONEY = Decimal(10) ** 10
MONEY_STEP = Decimal("0.0001")
# Values are quoted in reasons; a pathological cell must not make a pathological message.
SHOWN_CHARS = 40

# ASCII only: \d would also take other scripts' digits, which int() and Decimal() accept.
_WHOLE = re.compile(r"\s*([+-]?)(\d+)(?:\.0*)?\s*", re.ASCII)
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)
_MONEY_PLAIN = re.compile(r"\d{1,10}(?:\.\d{1,4})?", re.ASCII)
_DATE = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*", re.ASCII
)
_HOUR = re.compile(r"\s*(\d{1,2})(?::00(?::00)?)?\s*", re.ASCII)


class Refused(Exception):
    """A row's value is unusable; the message is the sentence the user sees."""


def day_parse(raw: object, *, latest_day: date) -> tuple[str, int] | str:
    """The day as (ISO text, ordinal), or the reason it is refused (callers cache either)."""
    if raw is None or raw == "":
        return "date is missing."
    if isinstance(raw, datetime):
        if raw.time() != datetime.min.time():
            return f"date ({raw}) has a time of day: give the day in date and the hour in hour."
        raw = raw.date()
    if isinstance(raw, date):
        raw = raw.isoformat()
    match = _DATE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        return f"date {shown(raw)} is not a date (YYYY-MM-DD)."
    if any(part and int(part) for part in match.group(2, 3, 4)):
        return (
            f"date {shown(raw)} has a time of day: give the day in date (YYYY-MM-DD) "
            "and the hour in hour."
        )
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        return f"date {shown(raw)} is not a date (YYYY-MM-DD)."
    if day < EARLIEST_DAY:
        return f"date ({day}) is before {EARLIEST_DAY}."
    if day > latest_day:
        return f"date ({day}) is in the future; snapshots report days that have begun."
    return day.isoformat(), day.toordinal()


def hour_parse(raw: object) -> int | None:
    """The hour 0 to 23, or None for a whole day."""
    if raw is None or raw == "":
        return None
    if type(raw) is int:
        hour = raw
    elif isinstance(raw, str) and (match := _HOUR.fullmatch(raw)):
        hour = int(match.group(1))
    elif isinstance(raw, float) and raw.is_integer():
        hour = int(raw)
    else:
        raise Refused(f"hour {shown(raw)} is not an hour (a whole number 0 to 23, or empty).")
    if not 0 <= hour <= 23:
        raise Refused(f"hour ({hour}) is not between 0 and 23.")
    return hour


def _count(field: str, value: object, default: object) -> int | None:
    """A non-negative whole number (text, int or a float like 12.0); `default` when empty."""
    if type(value) is int:
        if 0 <= value < _COUNT_LIMIT:
            return value
    elif type(value) is str and value.isdigit() and value.isascii():
        if len(value) <= MAX_COUNT_DIGITS:
            return int(value)
    elif value is None or value == "":
        if default is _REQUIRED:
            raise Refused(f"{field} is missing; write 0 if there were none.")
        return default
    return _count_slow(field, value)


def _count_slow(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise Refused(f"{field} {shown(value)} is not a whole number.")
    if isinstance(value, int):
        number = value
    else:
        # A float or Decimal is judged by its text, like a CSV cell: 12.0 is 12, nan is refused.
        text = value if isinstance(value, str) else str(value)
        match = _WHOLE.fullmatch(text)
        if match is None:
            raise Refused(_not_number(field, text, "a whole number"))
        number = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
    if number < 0:
        raise _negative(field, value)
    if number >= _COUNT_LIMIT:
        raise _too_large(field, value)
    return number


def _money(field: str, value: object, default: object) -> str:
    """A non-negative amount with at most 4 decimals (more are rounded half-even), as text."""
    if type(value) is str and _MONEY_PLAIN.fullmatch(value):
        return value
    if value is None or value == "":
        if default is _REQUIRED:
            raise Refused(f"{field} is missing; write 0 if there was none.")
        return default
    amount = _decimal(field, value)
    if amount < 0:
        raise _negative(field, value)
    rounded = amount.quantize(MONEY_STEP, rounding=ROUND_HALF_EVEN) if amount < MAX_MONEY else None
    if rounded is None or rounded >= MAX_MONEY:
        raise _too_large(field, value)
    return str(rounded)


def _seconds(field: str, value: object, default: None) -> float | None:
    """A non-negative number of seconds, or None when empty."""
    if value is None or value == "":
        return None
    seconds = float(_decimal(field, value))
    if not math.isfinite(seconds):
        raise _too_large(field, value)
    if seconds < 0:
        raise _negative(field, value)
    return seconds


def _rate(field: str, value: object, default: None) -> float | None:
    """A fraction 0..1; text "45%" means 0.45. None when empty."""
    if value is None or value == "":
        return None
    percent = isinstance(value, str) and value.strip().endswith("%")
    try:
        number = float(_decimal(field, value.strip()[:-1] if percent else value))
    except Refused:
        if not percent:
            raise
        raise Refused(f"{field} {shown(value)} is not a percentage.") from None
    if percent:
        if not 0 <= number <= 100:
            raise Refused(f"{field} ({shown(value, quote=False)}) is not between 0% and 100%.")
        return number / 100
    if 1 < number <= 100:
        raise Refused(
            f"{field} ({shown(value, quote=False)}) is above 1: give a fraction "
            f"({number / 100:g}) or a percentage ({number:g}%)."
        )
    if not 0 <= number <= 1:
        raise Refused(f"{field} ({shown(value, quote=False)}) is not between 0 and 1.")
    return number


def _decimal(field: str, value: object) -> Decimal:
    """A finite number from text, int, float or Decimal; refuses separators and words."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise Refused(f"{field} {shown(value)} is not a number.")
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            raise Refused(_not_number(field, value, "a number"))
        value = value.strip()
    elif isinstance(value, float):
        value = repr(value)
    number = Decimal(value)
    if not number.is_finite():
        raise Refused(f"{field} ({value}) is not a finite number.")
    return number


# Each metric: its reader and its value when the row leaves it out. Order = the COPY columns.
_REQUIRED = "required"
METRICS = (
    ("impressions", _count, _REQUIRED),
    ("reach", _count, None),
    ("clicks", _count, _REQUIRED),
    ("spend", _money, _REQUIRED),
    ("video_views", _count, 0),
    ("avg_watch_seconds", _seconds, None),
    ("completion_rate", _rate, None),
    ("conversions", _count, 0),
    ("revenue", _money, "0"),
)
METRIC_FIELDS: tuple[str, ...] = tuple(field for field, _, _ in METRICS)
SNAPSHOT_FIELDS: tuple[str, ...] = ("ad_id", "ad_external_id", "date", "hour", *METRIC_FIELDS)


def _not_number(field: str, text: str, kind: str) -> str:
    if "," in text:
        return (
            f"{field} {shown(text)} is not {kind}: write it without thousands separators "
            "and with a point for decimals."
        )
    if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return f"{field} ({text.strip()}) is not a finite number."
    return f"{field} {shown(text)} is not {kind}."


def _negative(field: str, value: object) -> Refused:
    return Refused(f"{field} must not be negative ({shown(value, quote=False)}).")


def _too_large(field: str, value: object) -> Refused:
    return Refused(f"{field} ({shown(value, quote=False)}) is too large.")


def shown(value: object, *, quote: bool = True) -> str:
    """The value as text for a reason, cut short and quoted."""
    text = str(value)
    if len(text) > SHOWN_CHARS:
        text = text[: SHOWN_CHARS - 1] + "…"
    return f"'{text}'" if quote else text
