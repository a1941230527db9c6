"""Sizes and lengths written the way people read them in messages ("3.1 GB", "5 h 2 min")."""

from __future__ import annotations

import math

_GB = 1024**3


def format_bytes(count: int, *, up: bool = False) -> str:
    """Return "3.1 GB", "200 MB": binary units, as the MB of SLIDECAST_MEDIA_MAX_MB are."""
    for unit, size in (("GB", _GB), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            tenths = count * 10 / size
            value = (math.ceil(tenths) if up else round(tenths)) / 10
            return f"{value:g} {unit}"
    return f"{count} bytes"


def format_duration(seconds: float, *, up: bool = False) -> str:
    """Return "5 h 2 min", "12 min 5 s", "45 s"; `up` rounds up what it leaves out."""
    whole = math.ceil(seconds) if up else int(seconds)
    if whole >= 3600:
        hours, rest = divmod(whole, 3600)
        minutes = math.ceil(rest / 60) if up else rest // 60
        if minutes == 60:
            hours, minutes = hours + 1, 0
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if whole >= 60:
        minutes, secs = divmod(whole, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{seconds:.1f}".removesuffix(".0") + " s"
