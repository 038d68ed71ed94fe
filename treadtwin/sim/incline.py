"""Incline lift: a rate-limited actuator between end stops, and its sensor.

The lift moves at a fixed rate toward its target and stops at its end
stops. The published standards limit incline speed in the crush zone to
under 1 degree per second (EN 957-6 as summarised, docs/references.md); consumer
lifts are slower, and the rate here is an assumption [U]. Presets with a
negative lower end stop can decline.

The position sensor (a potentiometer or a counted lift motor) reads with a
calibration offset that can drift; driving the lift onto its lower end stop
re-zeroes it (homing), as consoles do at power-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb

from .params import ParameterError, param, validate


@dataclass(frozen=True, slots=True)
class InclineParams:
    """Lift range, rate and sensor. Equal end stops mean a fixed deck (no lift)."""

    incline_min_pct: float = param(0.0, -30.0, 50.0, "lower end stop (negative for decline)")
    incline_max_pct: float = param(15.0, -30.0, 50.0, "upper end stop")
    incline_rate_pct_per_s: float = param(0.6, 0.0, 20.0, "lift speed")
    incline_deadband_pct: float = param(0.05, 0.0, 2.0, "lift stops within this of target")
    incline_sensor_offset_pct: float = param(0.0, -10.0, 10.0, "sensor calibration error",
                                              "[M] 0: a calibrated sensor")
    incline_sensor_step_pct: float = param(0.1, 0.0, 2.0, "sensor resolution")

    def __post_init__(self) -> None:
        validate(self)
        if self.incline_min_pct > self.incline_max_pct:
            raise ParameterError(
                f"InclineParams.incline_min_pct = {self.incline_min_pct} exceeds"
                f" incline_max_pct = {self.incline_max_pct}"
            )

    @property
    def fixed(self) -> bool:
        """True when the deck cannot be raised or lowered."""
        return self.incline_min_pct == self.incline_max_pct


@nb.njit(cache=True)
def incline_after(
    incline_pct: float,
    target_pct: float,
    min_pct: float,
    max_pct: float,
    rate_pct_per_s: float,
    deadband_pct: float,
    dt_s: float,
) -> float:
    """Move the lift toward its target at its rate; the end stops hold it.

    A target at or beyond an end stop drives the lift onto the stop (that is
    how it homes); elsewhere the lift rests within the deadband of its target.
    """
    goal = min(max(target_pct, min_pct), max_pct)
    error = goal - incline_pct
    on_stop_goal = target_pct <= min_pct or target_pct >= max_pct
    if abs(error) > (0.0 if on_stop_goal else deadband_pct):
        step = rate_pct_per_s * dt_s
        incline_pct += min(step, error) if error > 0.0 else max(-step, error)
    return min(max(incline_pct, min_pct), max_pct)
