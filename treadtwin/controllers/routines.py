"""Built-in workout routines: the sessions the source articles describe, as setpoints.

Each routine returns the :class:`~.program.Setpoint` list a
:class:`~.program.ProgramController` plays; a scenario names one in its
``[routine]`` table, or writes the same rows out as ``[[program]]``. The
numbers are those of the backward-walking guides (docs/references.md):

- start the belt at the lowest speed, 0.5-1.0 mph, before stepping on;
- raise speed in steps of about 0.5 mph, one to two minutes each;
- the backward warm-up: 5 minutes at 2 mph and 5 % incline;
- intervals: 3-5 minutes forward and 1-2 minutes backward, or 2 forward
  and 1 backward; between directions the belt stops so the walker can turn
  round, and restarts at the lowest speed, climbing in 0.5 mph steps;
- hills: master level ground first, then 1-2 %, later 5 % and up to 10 %,
  never raising speed and incline together.
"""

from __future__ import annotations

from collections.abc import Callable

from .program import Setpoint
from .units import mph_to_mps
from .validation import check_range

#: Start and step speeds of the source articles (docs/references.md).
START_MPH = 0.5
STEP_MPH = 0.5


def _check(name: str, value: float, lo: float, hi: float) -> None:
    check_range("routine", name, value, lo, hi)


def _ramp(start_s: float, top_mph: float, hold_s: float, incline_pct: float = 0.0,
          from_mph: float = START_MPH) -> tuple[list[Setpoint], float]:
    """From ``from_mph`` up to ``top_mph`` in 0.5 mph steps of ``hold_s``; returns the rows
    and the time the top speed is reached."""
    rows = []
    t = start_s
    speed = from_mph
    while speed < top_mph - 1e-9:
        rows.append(Setpoint(t, mph_to_mps(speed), incline_pct))
        t += hold_s
        speed += STEP_MPH
    rows.append(Setpoint(t, mph_to_mps(top_mph), incline_pct))
    return rows, t


def beginner_backward_progression(top_mph: float = 2.0, hold_s: float = 90.0) -> list[Setpoint]:
    """From 0.5 mph in 0.5 mph steps of ``hold_s`` to ``top_mph``, then a stop."""
    _check("top_mph", top_mph, START_MPH, 3.0)
    _check("hold_s", hold_s, 30.0, 300.0)
    rows, t = _ramp(0.0, top_mph, hold_s)
    return rows + [Setpoint(t + hold_s, 0.0)]


def backward_warmup(speed_mph: float = 2.0, incline_pct: float = 5.0, minutes: float = 5.0,
                    ramp_hold_s: float = 30.0) -> list[Setpoint]:
    """Up to ``speed_mph`` in 0.5 mph steps, then the incline, held for ``minutes``."""
    _check("speed_mph", speed_mph, START_MPH, 3.0)
    _check("incline_pct", incline_pct, 0.0, 15.0)
    _check("minutes", minutes, 1.0, 30.0)
    _check("ramp_hold_s", ramp_hold_s, 10.0, 120.0)
    rows, t = _ramp(0.0, speed_mph, ramp_hold_s)
    t += ramp_hold_s
    rows.append(Setpoint(t, mph_to_mps(speed_mph), incline_pct))  # incline once at speed
    t += 60.0 * minutes
    rows.append(Setpoint(t, mph_to_mps(speed_mph), 0.0))
    rows.append(Setpoint(t + ramp_hold_s, 0.0, 0.0))
    return rows


def forward_backward_intervals(forward_mph: float = 3.0, backward_mph: float = 1.5,
                               forward_s: float = 180.0, backward_s: float = 60.0,
                               repeats: int = 4, turn_s: float = 15.0,
                               step_s: float = 5.0) -> list[Setpoint]:
    """Forward and backward blocks with a stop between them to turn round.

    Each block starts at the lowest speed ``turn_s`` after the stop and climbs to its
    speed in 0.5 mph steps of ``step_s`` (the articles' step; the short hold is this
    routine's choice, [U]); the block's time counts from when its speed is reached.
    """
    _check("forward_mph", forward_mph, START_MPH, 8.0)
    _check("backward_mph", backward_mph, START_MPH, 3.0)
    _check("forward_s", forward_s, 30.0, 600.0)
    _check("backward_s", backward_s, 30.0, 600.0)
    _check("repeats", repeats, 1, 20)
    _check("turn_s", turn_s, 5.0, 60.0)
    _check("step_s", step_s, 2.0, 120.0)
    rows: list[Setpoint] = []
    t = 0.0
    for _ in range(int(repeats)):
        for speed_mph, block_s in ((forward_mph, forward_s), (backward_mph, backward_s)):
            rows.append(Setpoint(t, 0.0))  # stop: the walker turns round
            climb, t = _ramp(t + turn_s, speed_mph, step_s)
            rows.extend(climb)
            t += block_s
    rows.append(Setpoint(t, 0.0))
    return rows


def hill(speed_mph: float = 3.0, inclines_pct: tuple[float, ...] = (2.0, 5.0, 10.0, 5.0, 0.0),
         step_s: float = 60.0) -> list[Setpoint]:
    """Up to ``speed_mph`` on the level, then the incline steps at that speed."""
    _check("speed_mph", speed_mph, START_MPH, 8.0)
    _check("step_s", step_s, 20.0, 600.0)
    for grade in inclines_pct:
        _check("inclines_pct", grade, -10.0, 15.0)
    rows, t = _ramp(0.0, speed_mph, 20.0)
    for grade in inclines_pct:
        t += step_s
        rows.append(Setpoint(t, mph_to_mps(speed_mph), grade))
    rows.append(Setpoint(t + step_s, 0.0, 0.0))
    return rows


#: Routines by the name a scenario's ``[routine]`` table uses.
ROUTINES: dict[str, Callable[..., list[Setpoint]]] = {
    "beginner-backward-progression": beginner_backward_progression,
    "backward-warmup": backward_warmup,
    "forward-backward-intervals": forward_backward_intervals,
    "hill": hill,
}
