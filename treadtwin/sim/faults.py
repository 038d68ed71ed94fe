"""Faults as data: what each kind does to the machine, and how it ends.

A scenario lists faults by kind and time. The kinds that act on the
machine are applied here; ``comms_loss`` acts on the link between host and
board and is handled by the engine; ``walker_stumble`` acts on the walker.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .treadmill import SimulatedTreadmill


class FaultKind(enum.Enum):
    """Fault kinds a scenario may inject (names as in scenario files)."""

    LANYARD_PULL = "lanyard_pull"  # the safety key leaves the console
    STOP_BUTTON = "stop_button"  # someone presses the stop button
    COMMS_LOSS = "comms_loss"  # host and board stop hearing each other
    TACH_DROPOUT = "tach_dropout"  # the reed switch stops giving pulses
    MOTOR_OVERTEMP = "motor_overtemp"  # the winding is found above its trip temperature
    BELT_SLIP = "belt_slip"  # belt tension drops; the drive roller slips under load
    WALKER_STUMBLE = "walker_stumble"  # the walker misplaces a foot
    INCLINE_STUCK = "incline_stuck"  # the lift stops moving


#: Kinds whose ``duration_s = 0`` means "until the end of the run" rather than "an instant".
PERSISTENT_KINDS = frozenset(
    {FaultKind.LANYARD_PULL, FaultKind.COMMS_LOSS, FaultKind.TACH_DROPOUT, FaultKind.BELT_SLIP,
     FaultKind.INCLINE_STUCK}
)

#: Belt tension left by a ``belt_slip`` fault unless the scenario says otherwise.
DEFAULT_SLIP_TENSION_SCALE = 0.05
#: How far above the trip point ``motor_overtemp`` puts the winding.
OVERTEMP_MARGIN_C = 5.0


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One fault: its kind, when it starts and how long it lasts (0: see PERSISTENT_KINDS)."""

    kind: FaultKind
    at_s: float
    duration_s: float = 0.0
    severity: float = math.nan  # belt_slip: tension scale 0..1; walker_stumble: error in m

    def __post_init__(self) -> None:
        if not (math.isfinite(self.at_s) and self.at_s >= 0.0):
            raise ValueError(f"fault at_s must be finite and >= 0, got {self.at_s!r}")
        if not (math.isfinite(self.duration_s) and self.duration_s >= 0.0):
            raise ValueError(f"fault duration_s must be finite and >= 0, got {self.duration_s!r}")

    @property
    def ends(self) -> bool:
        """True when the fault is undone after ``duration_s``."""
        return self.duration_s > 0.0


def apply_fault(treadmill: SimulatedTreadmill, fault: FaultSpec) -> str:
    """Start a machine fault; returns a one-line description for the event log."""
    kind = fault.kind
    if kind is FaultKind.LANYARD_PULL:
        treadmill.set_key_present(False)
        return "safety key pulled from the console"
    if kind is FaultKind.STOP_BUTTON:
        treadmill.press_stop_button()
        return "stop button pressed"
    if kind is FaultKind.TACH_DROPOUT:
        treadmill.set_input("tach_ok", 0)
        return "tach gives no pulses"
    if kind is FaultKind.BELT_SLIP:
        scale = DEFAULT_SLIP_TENSION_SCALE if math.isnan(fault.severity) else fault.severity
        treadmill.set_input("tension_scale", scale)
        return f"belt tension down to {scale:.0%} of normal"
    if kind is FaultKind.INCLINE_STUCK:
        treadmill.set_input("incline_stuck", 1)
        return "incline lift stuck"
    if kind is FaultKind.MOTOR_OVERTEMP:
        temp_c = treadmill.machine.motor.winding_trip_temp_c + OVERTEMP_MARGIN_C
        treadmill.heat_winding_to(temp_c)
        return f"motor winding at {temp_c:.0f} C"
    raise ValueError(f"fault {kind.value!r} does not act on the machine")


def end_fault(treadmill: SimulatedTreadmill, fault: FaultSpec) -> str:
    """Undo a machine fault that has a duration; returns a description."""
    kind = fault.kind
    if kind is FaultKind.LANYARD_PULL:
        treadmill.set_key_present(True)
        return "safety key back in (the stop stays latched until reset)"
    if kind is FaultKind.TACH_DROPOUT:
        treadmill.set_input("tach_ok", 1)
        return "tach pulses back"
    if kind is FaultKind.BELT_SLIP:
        treadmill.set_input("tension_scale", 1.0)
        return "belt tension restored"
    if kind is FaultKind.INCLINE_STUCK:
        treadmill.set_input("incline_stuck", 0)
        return "incline lift free"
    return "ended"
