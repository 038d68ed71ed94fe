"""Unit conversions at the edges; everything inside treadtwin is SI.

Speeds are m/s, incline is percent grade (rise over run times 100), angles
are radians unless a name says ``_deg``. This is the only module that knows
about mph, km/h and degrees.
"""

from __future__ import annotations

import math

MPS_PER_MPH = 0.44704  # exact: 1 mile = 1609.344 m, 1 h = 3600 s
MPS_PER_KMH = 1.0 / 3.6
KG_PER_LB = 0.45359237  # exact: the international avoirdupois pound
STANDARD_GRAVITY_MPS2 = 9.80665  # exact, CGPM 1901


def mph_to_mps(speed_mph: float) -> float:
    """Miles per hour to metres per second."""
    return speed_mph * MPS_PER_MPH


def mps_to_mph(speed_mps: float) -> float:
    """Metres per second to miles per hour."""
    return speed_mps / MPS_PER_MPH


def kmh_to_mps(speed_kmh: float) -> float:
    """Kilometres per hour to metres per second."""
    return speed_kmh * MPS_PER_KMH


def mps_to_kmh(speed_mps: float) -> float:
    """Metres per second to kilometres per hour."""
    return speed_mps / MPS_PER_KMH


def lb_to_kg(mass_lb: float) -> float:
    """Pounds to kilograms (makers rate consumer treadmills in pounds)."""
    return mass_lb * KG_PER_LB


def grade_pct_to_rad(incline_pct: float) -> float:
    """Percent grade to deck angle in radians (15 % grade is 8.53 degrees)."""
    return math.atan(incline_pct / 100.0)


def rad_to_grade_pct(angle_rad: float) -> float:
    """Deck angle in radians to percent grade."""
    return 100.0 * math.tan(angle_rad)


def deg_to_grade_pct(angle_deg: float) -> float:
    """Deck angle in degrees to percent grade (15 degrees is 26.8 %)."""
    return rad_to_grade_pct(math.radians(angle_deg))


def grade_pct_to_deg(incline_pct: float) -> float:
    """Percent grade to deck angle in degrees."""
    return math.degrees(grade_pct_to_rad(incline_pct))
