"""A treadmill that mirrors commands: for unit tests of controllers.

The mock is ideal and instantaneous: the belt is at the commanded speed and
incline as soon as the command is written. Tests can set ``key_present``,
``faults`` and the clock directly to exercise a controller's logic without
any physics.
"""

from __future__ import annotations

from dataclasses import replace

from .interface import BeltDirection, Command, DriveMode, Fault, Telemetry


class MockTreadmill:
    """Implements :class:`~treadtwin.controllers.interface.Treadmill` by echoing commands."""

    def __init__(self, tach_belt_per_pulse_m: float = 0.25) -> None:
        if tach_belt_per_pulse_m <= 0.0:
            raise ValueError(
                f"tach_belt_per_pulse_m must be > 0, got {tach_belt_per_pulse_m!r}"
            )
        self.t_s = 0.0
        self.key_present = True
        self.faults = Fault.NONE
        self.commands: list[Command] = []
        self._tach_m = tach_belt_per_pulse_m
        self._distance_m = 0.0
        self._last = Command()

    def advance(self, dt_s: float) -> None:
        """Move the mock clock on; the belt travels at the last commanded speed."""
        if dt_s < 0.0:
            raise ValueError(f"dt_s must be >= 0, got {dt_s!r}")
        self.t_s += dt_s
        self._distance_m += self._speed_mps() * dt_s

    def _speed_mps(self) -> float:
        stopped = (
            self._last.mode is DriveMode.STOP
            or self._last.emergency_stop
            or not self.key_present
        )
        return 0.0 if stopped else self._last.belt_speed_mps

    def read(self) -> Telemetry:
        faults = self.faults | (Fault.NONE if self.key_present else Fault.KEY_OUT)
        return Telemetry(
            t_s=self.t_s,
            belt_speed_mps=self._speed_mps(),
            belt_direction=self._last.belt_direction,
            tach_pulse_count=int(self._distance_m / self._tach_m),
            tach_last_pulse_t_s=None,
            incline_pct=self._last.incline_pct,
            motor_current_a=0.0,
            bus_voltage_v=None,
            key_present=self.key_present,
            drive_enabled=self._speed_mps() > 0.0,
            faults=faults,
        )

    def write(self, command: Command) -> None:
        self.commands.append(command)
        self._last = replace(command, reset=False)
        if command.reset:
            self.faults = Fault.NONE


__all__ = ["MockTreadmill", "BeltDirection"]
