"""One way to check a parameter, so every message reads the same."""

from __future__ import annotations

import math


def check_range(owner: str, name: str, value: float, lo: float, hi: float) -> None:
    """Raise ValueError naming ``owner.name``, its value and the allowed range ``lo..hi``.

    Booleans, non-numbers and NaN are refused too.
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
            or not lo <= value <= hi):
        raise ValueError(f"{owner}.{name} = {value!r} is outside {lo:g}..{hi:g}")
