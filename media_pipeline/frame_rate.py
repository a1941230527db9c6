"""Video frame rates, kept exact: 30000/1001 is NTSC "29.97", never a float."""

from __future__ import annotations

from fractions import Fraction

# Beyond 60 fps no player needs more for slides; a larger denominator than NTSC's 1001 only
# comes from a float (29.97 as a binary fraction) that x264 and the container can't carry.
MAX_FPS = 60
MAX_FPS_DENOMINATOR = 1001
# The NTSC rates are 1000/1001 of a whole rate; people write them as rounded decimals.
_NTSC_RATES = tuple(Fraction(rate * 1000, 1001) for rate in (24, 30, 60))
_NTSC_TOLERANCE = Fraction(1, 200)


def exact_frame_rate(fps: int | Fraction) -> Fraction:
    """Return the rate as a Fraction, or raise ValueError when the encoder cannot carry it."""
    rate = Fraction(fps)
    if not 1 <= rate <= MAX_FPS or rate.denominator > MAX_FPS_DENOMINATOR:
        raise ValueError(
            f"fps must be from 1 to {MAX_FPS}, exact (such as Fraction(30000, 1001)), not {fps!r}"
        )
    return rate


def frame_rate_from_text(text: str) -> Fraction:
    """Return the rate written as "25", "29.97" or "30000/1001"; raise ValueError if unusable.

    A rounded NTSC rate (23.976, 29.97, 59.94) means the exact 1000/1001 rate: 29.97 fps
    exactly would drift from NTSC video by a frame every few minutes.
    """
    try:
        value = Fraction(text.strip())
    except ZeroDivisionError as exc:
        raise ValueError(f"{text!r} divides by zero") from exc
    value = next((rate for rate in _NTSC_RATES if abs(value - rate) < _NTSC_TOLERANCE), value)
    return exact_frame_rate(value)


def frame_rate_argument(fps: Fraction) -> str:
    """Return the rate as ffmpeg and x264 take it exactly: "25/1", "30000/1001"."""
    return f"{fps.numerator}/{fps.denominator}"
