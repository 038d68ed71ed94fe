"""Pass/fail criteria: each compares one metric of a run with a limit.

A scenario's verdict is the AND of its criteria. A criterion whose metric
could not be measured (no stop happened for ``stops_within``) fails and
says so, rather than passing vacuously.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..sim.engine import Event


@dataclass(frozen=True)
class CriterionDef:
    """What a criterion kind measures and how it is judged."""

    metric: str
    at_most: bool  # pass when metric <= limit (else metric >= limit)
    limit_unit: str | None
    default_limit: float | None
    doc: str
    needs_walker: bool = False
    options: tuple[str, ...] = ()


CRITERIA: dict[str, CriterionDef] = {
    "no_fall": CriterionDef("walker_fell", True, None, None, "the walker does not fall",
                            needs_walker=True),
    "min_rear_margin": CriterionDef("min_rear_margin_m", False, "m", 0.0,
                                    "the walker keeps this far from the rear edge",
                                    needs_walker=True),
    "max_belt_speed": CriterionDef("max_belt_speed_mps", True, "m/s", None,
                                   "the belt never runs faster than the limit"),
    "speed_tracking": CriterionDef("mean_abs_speed_error_mps", True, "m/s", 0.05,
                                   "mean |belt - command| once settled"),
    "stops_within": CriterionDef("stop_time_s", True, "s", None,
                                 "after the first stop trigger the belt stops within the limit"),
    "peak_decel": CriterionDef("peak_decel_mps2", True, "m/s^2", None,
                               "the belt never slows faster than the limit"),
    "energy_balance": CriterionDef("energy_residual_pct", True, "%", 0.5,
                                   "the energy columns balance to within the limit"),
    "no_drive_trip": CriterionDef("drive_trips", True, None, None,
                                  "the drive never trips (over-current, over-voltage, over-temp)"),
    "max_motor_current": CriterionDef("max_motor_current_a", True, "A", None,
                                      "armature current stays within the limit"),
    "max_motor_temp": CriterionDef("max_motor_temp_c", True, "C", None,
                                   "winding temperature stays within the limit"),
    "max_bus_voltage": CriterionDef("max_bus_voltage_v", True, "V", None,
                                    "the DC bus stays below the limit (regeneration)"),
}

_DRIVE_TRIPS = ("over-current", "over-voltage", "over-temperature")


def drive_trips(events: Sequence[Event]) -> int:
    """How many times the drive tripped on its own protection."""
    return sum(1 for e in events if e.kind == "safety_trip"
               and any(word in e.detail for word in _DRIVE_TRIPS))


def evaluate(specs: Sequence[Any], metrics: Mapping[str, Any],
             events: Sequence[Event]) -> list[dict[str, Any]]:
    """Judge each criterion; returns the contract's ``criteria`` list."""
    results = []
    derived = {**metrics, "drive_trips": drive_trips(events)}
    for spec in specs:
        definition = CRITERIA[spec.kind]
        value = derived.get(definition.metric)
        limit = spec.limit
        if definition.metric == "walker_fell":
            passed = value is False
        elif definition.metric == "drive_trips":
            limit = 0
            passed = value == 0
        elif value is None or limit is None:
            passed = False
        elif definition.at_most:
            passed = value <= limit
        else:
            passed = value >= limit
        results.append({"name": spec.kind, "passed": bool(passed), "value": value, "limit": limit})
    return results
