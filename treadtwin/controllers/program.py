"""Workout programs: setpoints in time order, played back as commands."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .interface import BeltDirection, Command, Telemetry


@dataclass(frozen=True, slots=True)
class Setpoint:
    """From ``at_s`` on, hold this speed, incline, direction and resistance."""

    at_s: float
    speed_mps: float = 0.0
    incline_pct: float = 0.0
    direction: BeltDirection = BeltDirection.FORWARD
    resistance_level: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.at_s) and self.at_s >= 0.0):
            raise ValueError(f"setpoint at_s must be finite and >= 0, got {self.at_s!r}")

    def command(self) -> Command:
        """The command that holds this setpoint."""
        return Command(
            belt_speed_mps=self.speed_mps,
            incline_pct=self.incline_pct,
            belt_direction=self.direction,
            resistance_level=self.resistance_level,
        )


class ProgramController:
    """Plays a program back: at each tick, the command of the newest setpoint due.

    Before the first setpoint the belt is held stopped. The same command
    object is returned while the setpoint holds, so a treadmill can skip
    re-sending it.
    """

    def __init__(self, setpoints: Sequence[Setpoint], period_s: float = 0.01) -> None:
        if not period_s > 0.0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        times = [sp.at_s for sp in setpoints]
        if any(b < a for a, b in zip(times, times[1:], strict=False)):
            raise ValueError(f"setpoints must be in time order, got at_s = {times}")
        self.period_s = period_s
        self._times = times
        self._commands = [sp.command() for sp in setpoints]
        self._idle = Command()
        self._current = self._idle
        self._valid_from_s = math.inf  # nothing cached yet
        self._valid_until_s = -math.inf

    def command_at(self, now_s: float) -> Command:
        """The command the program asks for at ``now_s``."""
        index = bisect.bisect_right(self._times, now_s + 1e-9) - 1
        return self._commands[index] if index >= 0 else self._idle

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command:
        if self._valid_from_s <= now_s < self._valid_until_s:  # the setpoint still holds
            return self._current
        index = bisect.bisect_right(self._times, now_s + 1e-9) - 1
        self._current = self._commands[index] if index >= 0 else self._idle
        self._valid_from_s = self._times[index] - 1e-9 if index >= 0 else -math.inf
        self._valid_until_s = (self._times[index + 1] - 1e-9 if index + 1 < len(self._times)
                               else math.inf)
        return self._current
