"""Typed readers for settings that come from the environment."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# The NTSC rates are 1000/1001 of a whole rate; people write them as rounded decimals.
_NTSC_RATES = tuple(Fraction(rate * 1000, 1001) for rate in (24, 30, 60))
_NTSC_TOLERANCE = Fraction(1, 200)
# Larger denominators add nothing a video needs and overflow some containers' time bases.
_MAX_RATE_DENOMINATOR = 1001


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable, or the contents of the file named by NAME_FILE (Docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_path!r}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def env_frame_rate(
    name: str, default: int | Fraction, *, minimum: int = 1, maximum: int = 60
) -> Fraction:
    """Return a frame rate written as "25", "29.97" or "30000/1001", exactly, as a Fraction.

    A rounded NTSC rate (23.976, 29.97, 59.94) means the exact 1000/1001 rate: 29.97 fps
    exactly would drift from NTSC video by a frame every few minutes.
    """
    raw = os.environ.get(name)
    if raw is None:
        return Fraction(default)
    hint = f"{name} must be a frame rate such as 25, 29.97 or 30000/1001"
    try:
        value = Fraction(raw.strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ImproperlyConfigured(f"{hint}, not {raw!r}") from exc
    value = next((rate for rate in _NTSC_RATES if abs(value - rate) < _NTSC_TOLERANCE), value)
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(
            f"{hint}, from {minimum} to {maximum} frames per second, not {raw!r}"
        )
    if value.denominator > _MAX_RATE_DENOMINATOR:
        raise ImproperlyConfigured(
            f"{hint}, with at most {_MAX_RATE_DENOMINATOR} as its denominator, not {raw!r}"
        )
    return value
