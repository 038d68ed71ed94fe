"""Pass/fail criteria: each compares one metric of a run with a limit.

A scenario's verdict is the AND of its criteria. A criterion whose metric
could not be measured (no stop happened for ``stops_within``) fails and
says so, rather than passing vacuously.

Every scenario is also judged by the truth criteria (:func:`truth_criteria`):
``no_fall`` (with a walker) and ``no_unexpected_stop``, unless it declares the
hazard with ``expect_event`` or ``allow_event`` (:mod:`.hazards`). A scenario
cannot PASS over a fall, a lanyard pull or a stop it did not declare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..sim.engine import Event
from ..sim.faults import FaultSpec
from .hazards import Declaration, describe, unexpected_hazards


@dataclass(frozen=True)
class CriterionDef:
    """What a criterion kind measures and how it is judged."""

    metric: str
    at_most: bool  # pass when metric <= limit (else metric >= limit)
    limit_unit: str | None
    default_limit: float | None
    doc: str
    needs_walker: bool = False
    options: tuple[str, ...] = ()  # further numeric keys
    text_options: tuple[str, ...] = ()  # further text keys


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
    "no_unexpected_stop": CriterionDef(
        "unexpected_stops", True, None, None,
        "no lanyard pull, supervisor stop, drive trip or board timeout that no injected fault"
        " or declared event explains"),
    "expect_event": CriterionDef(
        "expected_event_t_s", True, None, None,
        "the named event happens (within after_s..before_s); it and what follows from it are"
        " then expected", options=("after_s", "before_s"), text_options=("event", "rule")),
    "allow_event": CriterionDef(
        "allowed_events", True, None, None,
        "the named event may happen (within after_s..before_s) without failing the run",
        options=("after_s", "before_s"), text_options=("event", "rule")),
}
#: Criteria that declare events rather than judge a metric.
DECLARING = ("expect_event", "allow_event")

_DRIVE_TRIPS = ("over-current", "over-voltage", "over-temperature")


def drive_trips(events: Sequence[Event]) -> int:
    """How many times the drive tripped on its own protection."""
    return sum(1 for e in events if e.kind == "safety_trip"
               and any(word in e.detail for word in _DRIVE_TRIPS))


def declaration(spec: Any) -> Declaration:
    """The event an ``expect_event`` / ``allow_event`` spec names."""
    options = spec.options
    return Declaration(event=options["event"], rule=options.get("rule"),
                       after_s=options.get("after_s", 0.0),
                       before_s=options.get("before_s", float("inf")))


def declares_fall(specs: Sequence[Any]) -> bool:
    """Does the scenario expect or allow its walker to fall?"""
    return any(s.kind in DECLARING and s.options.get("event") == "fall" for s in specs)


def truth_criteria(specs: Sequence[Any], has_walker: bool) -> list[str]:
    """The truth criteria a scenario lacks: ``no_fall`` (with a walker, unless a fall is
    declared) and ``no_unexpected_stop``. Every scenario is judged by them too."""
    kinds = {s.kind for s in specs}
    missing = []
    if has_walker and "no_fall" not in kinds and not declares_fall(specs):
        missing.append("no_fall")
    if "no_unexpected_stop" not in kinds:
        missing.append("no_unexpected_stop")
    return missing


def evaluate(specs: Sequence[Any], metrics: Mapping[str, Any], events: Sequence[Event],
             faults: Sequence[FaultSpec] = ()) -> list[dict[str, Any]]:
    """Judge each criterion; returns the contract's ``criteria`` list, each entry with a
    ``detail`` that says why it failed (or what it saw)."""
    results = []
    declared = [declaration(s) for s in specs if s.kind in DECLARING]
    unexpected = unexpected_hazards(events, faults, declared)
    stops = [e for e in unexpected if e.kind != "fall"]
    derived = {**metrics, "drive_trips": drive_trips(events), "unexpected_stops": len(stops)}
    for spec in specs:
        definition = CRITERIA[spec.kind]
        value = derived.get(definition.metric)
        limit = spec.limit
        detail = ""
        if spec.kind in DECLARING:
            wanted = declaration(spec)
            seen = [e for e in events if wanted.matches(e)]
            if spec.kind == "expect_event":
                value = round(seen[0].t_s, 3) if seen else None
                passed = bool(seen)
                detail = describe(seen[0]) if seen else f"no {wanted.event} happened"
            else:
                value, passed = len(seen), True
        elif spec.kind == "no_unexpected_stop":
            limit = 0
            passed = not stops
            if stops:
                more = f" and {len(stops) - 1} more" if len(stops) > 1 else ""
                detail = f"unexpected {describe(stops[0])}{more}"
        elif definition.metric == "walker_fell":
            passed = value is False
            fall = next((e for e in events if e.kind == "fall"), None)
            if fall is not None:
                detail = f"the walker fell at {fall.t_s:.2f} s ({fall.detail})"
        elif definition.metric == "drive_trips":
            limit = 0
            passed = value == 0
        elif value is None or limit is None:
            passed = False
        elif definition.at_most:
            passed = value <= limit
        else:
            passed = value >= limit
        if not passed and not detail:
            detail = f"{definition.metric} = {value} against the limit {limit}"
        results.append({"name": spec.kind, "passed": bool(passed), "value": value, "limit": limit,
                        "detail": detail})
    return results


def interrupted_criterion(reached_s: float, duration_s: float) -> dict[str, Any]:
    """The failed ``completed`` criterion of a run stopped short (Ctrl-C, SIGTERM): what
    it did not reach was not judged, so it cannot pass."""
    return {"name": "completed", "passed": False, "value": round(reached_s, 3),
            "limit": duration_s,
            "detail": f"interrupted at {reached_s:.2f} s of {duration_s:g} s: the rest was"
                      " not run, so the run is not judged a pass"}


def describe_result(result: Mapping[str, Any]) -> str:
    """One criterion result for people: ``stops_within: 1.67 s (limit 8 s)``, rounded,
    with units; ``no_fall: the walker did not fall``."""
    name, value, limit = result["name"], result["value"], result["limit"]
    if name == "completed":
        return f"{name}: {result['detail']}"
    definition = CRITERIA[name]
    if name == "no_fall":
        return f"{name}: the walker {'fell' if value else 'did not fall'}"
    if name in DECLARING:
        return f"{name}: {result['detail'] or value}"
    if name == "no_unexpected_stop":
        return f"{name}: {value} unexpected" + (f" ({result['detail']})" if value else "")
    unit = f" {definition.limit_unit}" if definition.limit_unit else ""
    shown = "not measured" if value is None else (
        f"{value:.3g}{unit}" if isinstance(value, float) else f"{value}{unit}")
    bound = "" if limit is None else f" (limit {limit:.3g}{unit})" if isinstance(
        limit, float) else f" (limit {limit}{unit})"
    return f"{name}: {shown}{bound}"
