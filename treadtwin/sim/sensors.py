"""Sensors as a treadmill board has them: reed-switch tach, current, incline.

The tach is one reed-switch pulse per drive-roller turn, about 0.25 m of
belt (ESP32_TTGO_FTMS README: 90.4 ms per pulse at 10 km/h on
a Taurus 9.5). It sees the roller, not the belt, so a slipping belt looks
like a moving one, and it cannot tell direction. Speed is estimated from the
period between the last two pulses, capped by the time since the last pulse
(a belt that stopped between pulses is not reported at its old speed), and
reported as zero after a timeout. At 0.5 mph (0.22 m/s) pulses are 1.1 s
apart, so the estimate is sparse and late: that is the point.

The current sensor is a first-order low-pass (analogue filter) followed by
an ADC quantum. The incline reading is the lift position plus its
calibration offset, quantised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb

from .params import param, validate


@dataclass(frozen=True, slots=True)
class SensorParams:
    """Board-side sensing."""

    tach_pulses_per_roller_turn: float = param(
        1.0, 1.0, 10000.0,
        "pulses per drive-roller turn: 1 for a reed switch, an encoder's count otherwise",
    )
    tach_timeout_s: float = param(3.0, 0.01, 30.0, "no pulse for this long reads as stopped")
    current_filter_tau_s: float = param(0.005, 0.0, 1.0, "current-sense filter time constant")
    current_step_a: float = param(0.05, 0.0, 2.0, "current ADC quantum")

    def __post_init__(self) -> None:
        validate(self)


@nb.njit(cache=True)
def tach_speed_estimate(
    now_s: float,
    last_pulse_s: float,
    previous_pulse_s: float,
    belt_per_pulse_m: float,
    timeout_s: float,
) -> float:
    """Board speed estimate (magnitude) from the last two pulse times; NaN times mean none."""
    if math.isnan(last_pulse_s) or now_s - last_pulse_s > timeout_s:
        return 0.0
    if math.isnan(previous_pulse_s):
        return 0.0
    period_s = max(last_pulse_s - previous_pulse_s, now_s - last_pulse_s)
    return belt_per_pulse_m / period_s if period_s > 0.0 else 0.0
