"""Which events of a run are hazards, and which of them the scenario declared.

A verdict tells the truth (DESIGN.md, "Scenarios"): a fall, a lanyard pull
or a stop that the scenario did not declare fails the run. A hazard event is
declared when

- an injected fault causes it (a ``lanyard_pull`` fault explains the key-out
  stop that follows it; a ``comms_loss`` the watchdog stop), or
- an ``expect_event`` or ``allow_event`` criterion names it (within its
  time window), or
- it follows from a declared hazard (an expected fall explains the lanyard
  pull of the falling body and the stops that pull causes) or from what the
  scenario has the walker do (stepping off at ``step_off_at_s`` empties the
  deck, which a force-deck supervisor rightly stops for).

Everything else is unexpected. This module only classifies; the criteria
module turns the result into verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..sim.engine import Event
from ..sim.faults import FaultKind, FaultSpec

#: Event kinds a scenario may name in ``expect_event`` / ``allow_event``.
DECLARABLE_EVENTS = ("fall", "lanyard_pull", "supervisor_stop", "safety_trip",
                     "board_command_timeout", "adapter_stopped", "stumble", "off_rear",
                     "walk_run_limit", "rail_grab", "supervisor_limit", "console_contact")
#: Declarable events only a walker can cause.
WALKER_EVENTS = ("fall", "lanyard_pull", "stumble", "off_rear", "walk_run_limit", "rail_grab",
                 "console_contact")
#: Event kinds that stop the belt or end the session: unexpected ones fail the run.
STOP_EVENTS = ("lanyard_pull", "supervisor_stop", "safety_trip", "board_command_timeout",
               "adapter_stopped")

#: What each injected fault explains: (event kind, words its subject contains; () any).
FAULT_EXPLAINS: dict[FaultKind, tuple[tuple[str, tuple[str, ...]], ...]] = {
    FaultKind.LANYARD_PULL: (("lanyard_pull", ()), ("supervisor_stop", ("key_out",)),
                             ("safety_trip", ("key out",)), ("adapter_stopped", ())),
    FaultKind.STOP_BUTTON: (("supervisor_stop", ("stop_button",)),
                            ("safety_trip", ("stop button",)), ("adapter_stopped", ())),
    FaultKind.COMMS_LOSS: (("supervisor_stop", ("watchdog",)), ("board_command_timeout", ()),
                           ("adapter_stopped", ())),
    FaultKind.TACH_DROPOUT: (("supervisor_stop", ("tach_implausible",)),),
    FaultKind.BELT_SLIP: (("supervisor_stop", ("tach_implausible",)),),
    FaultKind.MOTOR_OVERTEMP: (("supervisor_stop", ("over_temperature", "drive_trip")),
                               ("safety_trip", ("over-temperature",)), ("adapter_stopped", ())),
    FaultKind.INCLINE_STUCK: (("safety_trip", ("incline",)),),
    FaultKind.WALKER_STUMBLE: (),
}
#: What a declared hazard brings with it.
FOLLOWS_FROM: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "fall": (("lanyard_pull", ()), ("off_rear", ()),
             ("supervisor_stop", ("key_out", "walker_fallen", "walker_drift")),
             ("safety_trip", ("key out",)), ("adapter_stopped", ())),
    "lanyard_pull": (("supervisor_stop", ("key_out",)), ("safety_trip", ("key out",)),
                     ("adapter_stopped", ())),
    "supervisor_stop": (("adapter_stopped", ()),),
    "step_off": (("supervisor_stop", ("walker_fallen",)), ("adapter_stopped", ())),
}
#: Walker actions the scenario itself schedules: what follows from them is declared.
PLANNED_EVENTS = ("step_off",)


@dataclass(frozen=True)
class Declaration:
    """An ``expect_event`` or ``allow_event`` row: an event kind, optionally a supervisor
    rule, within a window of run time."""

    event: str
    rule: str | None = None
    after_s: float = 0.0
    before_s: float = math.inf

    def matches(self, event: Event) -> bool:
        """Is this event the one declared?"""
        return (event.kind == self.event and self.after_s <= event.t_s <= self.before_s
                and (self.rule is None or subject(event).startswith(self.rule)))


def subject(event: Event) -> str:
    """What the event is about: a supervisor stop's rule, a trip's text."""
    if event.kind.startswith("supervisor_"):
        return event.detail.split(":", 1)[0]
    return event.detail


def _explains(rules: Iterable[tuple[str, tuple[str, ...]]], event: Event) -> bool:
    about = subject(event)
    return any(kind == event.kind and (not words or any(w in about for w in words))
               for kind, words in rules)


def unexpected_hazards(events: Sequence[Event], faults: Sequence[FaultSpec],
                       declared: Sequence[Declaration]) -> list[Event]:
    """The falls and stops no fault, declaration or declared hazard explains, in time order.

    Causes and effects often share a time stamp (the key-out trip and the lanyard pull
    that caused it), so explanation spreads until nothing changes, not in one pass."""
    hazards = sorted((e for e in events if e.kind == "fall" or e.kind in STOP_EVENTS),
                     key=lambda e: e.t_s)
    explained = [e for e in events if e.kind in PLANNED_EVENTS]
    explained += [e for e in hazards
                  if any(d.matches(e) for d in declared)
                  or any(f.at_s <= e.t_s + 1e-9 and _explains(FAULT_EXPLAINS[f.kind], e)
                         for f in faults)]
    open_ = [e for e in hazards if e not in explained]
    spreading = True
    while spreading:
        follows = [e for e in open_
                   if any(c.t_s <= e.t_s + 1e-9 and _explains(FOLLOWS_FROM.get(c.kind, ()), e)
                          for c in explained)]
        explained += follows
        open_ = [e for e in open_ if e not in follows]
        spreading = bool(follows)
    return open_


def describe(event: Event) -> str:
    """One phrase for a verdict line."""
    return f"{event.kind.replace('_', ' ')} at {event.t_s:.2f} s ({event.detail})"
