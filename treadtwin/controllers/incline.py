"""Incline control: homing, a calibration table, and a closed loop on the incline sensor.

A treadmill lift is slow (well under 1 %/s), stops on its own end stops,
and positions itself against its own sensor, a potentiometer or a counted
lift motor whose zero drifts. :class:`InclineController` wraps a source of
target grades and does three things:

1. Homing (at start, or on :meth:`InclineController.home`): command the
   lower end stop (and ``homing_overdrive_pct`` beyond it, so the lift's own
   deadband cannot stop it short) until the reading has not changed for
   ``homing_settle_s``; the reading there minus the known end-stop grade is
   the sensor offset, subtracted from every later reading. A board that
   re-zeroes its counter on the end stop reads the stop exactly and the
   recorded offset is zero; a drifted potentiometer keeps its offset and
   the controller removes it. An offset beyond ``max_sensor_offset_pct``
   fails homing (a broken sensor, or a lift that never reached the stop),
   and time with the lift unpowered (key out, stop button, stall) does not
   count as still.
2. Calibration: a table of (commanded %, measured %) pairs from a sweep of the
   lift, inverted by linear interpolation, turns a target into the command
   that reaches it (:class:`InclineCalibration`). It is the feedforward; the
   loop trims what the table leaves, and without a sensor it is all there is.
3. Closed loop: once the reading has been still for ``settle_s`` after the
   last command change, an error beyond ``deadband_pct`` is added to a trim
   (clamped to ``trim_limit_pct``). Correcting only a settled lift, never a
   moving one, is the anti-windup for an actuator that is rate-limited and
   positions itself; the deadband, wider than the sensor's resolution, stops
   hunting. An error larger than the trim may correct is not a calibration
   error but a lift that has not got there: held back by a rate limit
   upstream (the safety supervisor ramps incline commands, so after homing the
   lift waits on its stop while the ramp climbs back from the overdrive) or
   by beginner mode; it is left alone.

Without an incline sensor (``incline_pct`` is ``None``) the controller runs
open loop on the calibration table and skips homing.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from .interface import Command, Controller, Fault, Telemetry
from .speed import CommandSource
from .validation import check_range

_GRADE_RANGE_PCT = (-50.0, 50.0)
#: Faults that cut power to the lift (or jam it): it stops without being on target.
_LIFT_STOPPING_FAULTS = Fault.KEY_OUT | Fault.STOP_BUTTON | Fault.INCLINE_STALL


@dataclass(frozen=True, slots=True)
class InclineCalibration:
    """How the lift responds: (commanded %, measured %) pairs, measured rising with command.

    :meth:`command_for_pct` inverts the table by linear interpolation and
    extrapolates the end segments.
    """

    pairs_pct: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        pairs = tuple(sorted((float(c), float(m)) for c, m in self.pairs_pct))
        if len(pairs) < 2:
            raise ValueError(
                f"InclineCalibration.pairs_pct needs at least 2 pairs, got {self.pairs_pct!r}")
        for commanded, measured in pairs:
            check_range("InclineCalibration.pairs_pct", "commanded", commanded,
                        *_GRADE_RANGE_PCT)
            check_range("InclineCalibration.pairs_pct", "measured", measured, *_GRADE_RANGE_PCT)
        for (c0, m0), (c1, m1) in zip(pairs, pairs[1:], strict=False):
            if not (c1 > c0 and m1 > m0):
                raise ValueError(
                    "InclineCalibration.pairs_pct must rise in both commanded and measured %,"
                    f" got ({c0}, {m0}) then ({c1}, {m1})")
        object.__setattr__(self, "pairs_pct", pairs)

    def command_for_pct(self, target_pct: float) -> float:
        """The command that, by the table, makes the lift reach ``target_pct``."""
        pairs = self.pairs_pct
        measured = [m for _, m in pairs]
        i = min(max(bisect.bisect_right(measured, target_pct) - 1, 0), len(pairs) - 2)
        (c0, m0), (c1, m1) = pairs[i], pairs[i + 1]
        return c0 + (target_pct - m0) * (c1 - c0) / (m1 - m0)


@dataclass(frozen=True, slots=True)
class InclineControlParams:
    """Incline loop and homing settings; grades in percent."""

    period_s: float = 0.05  # 0.001..1 s
    deadband_pct: float = 0.15  # 0..2 %: no correction within this (sensor steps are 0.1 %)
    settle_s: float = 0.5  # 0.05..10 s the reading must be still before a correction
    trim_limit_pct: float = 2.0  # 0..10 %: largest correction the loop may add
    lower_stop_pct: float = 0.0  # -30..50 %: grade at the lower end stop (machine spec)
    upper_stop_pct: float = 15.0  # -30..50 %: grade at the upper end stop (machine spec)
    homing_overdrive_pct: float = 1.0  # 0..10 %: commanded this far below the stop
    homing_settle_s: float = 1.0  # 0.1..30 s the reading must be still to count as homed
    homing_timeout_s: float = 60.0  # 1..600 s: give up homing after this
    max_sensor_offset_pct: float = 5.0  # 0..20 %: a larger offset at the stop fails homing
    home_on_start: bool = True
    calibration: InclineCalibration | None = None

    def __post_init__(self) -> None:
        ranges = {
            "period_s": (0.001, 1.0), "deadband_pct": (0.0, 2.0), "settle_s": (0.05, 10.0),
            "trim_limit_pct": (0.0, 10.0), "lower_stop_pct": (-30.0, 50.0),
            "upper_stop_pct": (-30.0, 50.0),
            "homing_overdrive_pct": (0.0, 10.0), "homing_settle_s": (0.1, 30.0),
            "homing_timeout_s": (1.0, 600.0), "max_sensor_offset_pct": (0.0, 20.0),
        }
        for f in fields(self):
            if f.name in ranges:
                check_range(type(self).__name__, f.name, getattr(self, f.name), *ranges[f.name])
        if self.lower_stop_pct > self.upper_stop_pct:
            raise ValueError(
                f"InclineControlParams.lower_stop_pct = {self.lower_stop_pct} exceeds"
                f" upper_stop_pct = {self.upper_stop_pct}")
        if self.homing_timeout_s <= self.homing_settle_s:
            raise ValueError(
                f"InclineControlParams.homing_timeout_s = {self.homing_timeout_s} must exceed"
                f" homing_settle_s = {self.homing_settle_s}")


class InclineState(enum.Enum):
    """Where the incline controller is."""

    HOMING = "homing"
    TRACKING = "tracking"  # closed loop on the (offset-corrected) sensor
    OPEN_LOOP = "open loop"  # no sensor: calibration table only
    HOMING_FAILED = "homing failed"  # no plausible reading on the stop: the lift is held down


class InclineController:
    """Makes the deck's grade, as the homed sensor reads it, meet the source's target.

    ``source`` is a :class:`Controller` whose commands carry the target grade
    (every other field is passed on), or a callable giving the target grade
    at ``now_s``.
    """

    def __init__(self, source: Controller | Callable[[float], float],
                 params: InclineControlParams | None = None) -> None:
        self.params = params if params is not None else InclineControlParams()
        self.period_s = self.params.period_s
        self._source = CommandSource(source, "incline_pct")
        self.sensor_offset_pct = 0.0
        self.trim_pct = 0.0
        self.state = InclineState.HOMING if self.params.home_on_start else InclineState.TRACKING
        self._state_since_s: float | None = None
        self._reading_pct: float | None = None
        self._command_pct: float | None = None
        self._quiet_since_s = 0.0  # neither reading nor command has changed since
        self._last: Command | None = None

    def home(self) -> None:
        """Start homing at the next tick (for instance when the sensor is suspected to drift)."""
        self.state = InclineState.HOMING
        self._state_since_s = None

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command:
        p = self.params
        source = self._source.command(now_s, dt_s, telemetry)
        reading = telemetry.incline_pct
        if self._state_since_s is None:  # first tick, or homing requested
            self._state_since_s = self._quiet_since_s = now_s
        if reading is None:
            self.state = InclineState.OPEN_LOOP
        else:
            self._watch_reading(now_s, reading)
        if telemetry.faults & _LIFT_STOPPING_FAULTS:
            self._quiet_since_s = now_s  # an unpowered lift is still, not settled
        if self.state is InclineState.HOMING:
            self._home_step(now_s, reading)
        if self.state in (InclineState.HOMING, InclineState.HOMING_FAILED):
            command_pct = p.lower_stop_pct - p.homing_overdrive_pct
        else:
            target = source.incline_pct
            feedforward = target if p.calibration is None else p.calibration.command_for_pct(target)
            self._note_command(now_s, feedforward + self.trim_pct)  # a new target: wait
            if self.state is InclineState.TRACKING and reading is not None:
                self._correct(now_s, target, reading)
            command_pct = feedforward + self.trim_pct
        self._note_command(now_s, command_pct)
        command = replace(source, incline_pct=command_pct)
        if command != self._last:
            self._last = command
        return self._last

    def _note_command(self, now_s: float, command_pct: float) -> None:
        if command_pct != self._command_pct:
            self._command_pct = command_pct
            self._quiet_since_s = now_s

    def _watch_reading(self, now_s: float, reading: float) -> None:
        if reading != self._reading_pct:
            self._reading_pct = reading
            self._quiet_since_s = now_s

    def _home_step(self, now_s: float, reading: float | None) -> None:
        p = self.params
        if reading is None:
            return
        if now_s - self._quiet_since_s >= p.homing_settle_s:  # on the stop, reading still
            offset_pct = reading - p.lower_stop_pct
            if abs(offset_pct) > p.max_sensor_offset_pct:
                self.state = InclineState.HOMING_FAILED
                return
            self.sensor_offset_pct = offset_pct
            self.trim_pct = 0.0
            self.state = InclineState.TRACKING
        elif now_s - self._state_since_s > p.homing_timeout_s:
            self.state = InclineState.HOMING_FAILED

    def _correct(self, now_s: float, target_pct: float, reading_pct: float) -> None:
        p = self.params
        if (now_s - self._quiet_since_s < p.settle_s
                or not p.lower_stop_pct < target_pct < p.upper_stop_pct):
            return  # the lift is moving, or sits on an end stop that no trim can pass
        error = target_pct - (reading_pct - self.sensor_offset_pct)
        if p.deadband_pct < abs(error) <= p.trim_limit_pct:
            limit = p.trim_limit_pct
            self.trim_pct = min(max(self.trim_pct + error, -limit), limit)
