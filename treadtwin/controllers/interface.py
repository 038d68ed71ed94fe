"""The one seam between controllers and treadmills.

A controller sees a treadmill only through :class:`Treadmill`: it reads
:class:`Telemetry` (what a real treadmill board can report) and writes
:class:`Command`. The simulated treadmill, the mock, the serial adapter and
the device emulator all implement this interface, so a controller cannot
tell them apart. Ground truth (true belt speed, walker position, energies)
never crosses this seam.

All quantities are SI: m/s, m, s, N, W, A, V, and percent grade for incline.
A field that a given treadmill cannot measure is ``None``, never a guess.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable


class BeltDirection(enum.IntEnum):
    """Direction of the belt's top surface.

    ``FORWARD`` is the normal direction: the top of the belt runs from the
    console towards the rear. ``REVERSE`` runs towards the console and is
    offered only by bidirectional (research and clinical) machines.
    """

    FORWARD = 1
    REVERSE = -1


class DriveMode(enum.IntEnum):
    """What the drive is asked to do.

    RESISTANCE is for a board with a resistance mode of its own (a real
    machine's adapter offers it with the RESISTANCE capability). The twin has
    none: on a machine without a motor its brake follows ``resistance_level``
    in any mode, and manual-treadmill emulation on a motorized twin is done by
    the emulation controllers with NORMAL commands (controllers/emulation.py).
    """

    NORMAL = 0  # track the target speed
    RESISTANCE = 1  # a board's own resistance mode: the drive resists the walker
    STOP = 2  # controlled stop: ramp to zero, then disable the drive


class Fault(enum.IntFlag):
    """Fault and stop flags a treadmill board reports; several may be set."""

    NONE = 0
    KEY_OUT = enum.auto()  # safety key (lanyard clip) removed
    STOP_BUTTON = enum.auto()  # stop button pressed, latched until reset
    OVERCURRENT = enum.auto()  # drive tripped on armature over-current
    OVERVOLTAGE = enum.auto()  # drive tripped on DC-bus over-voltage (regeneration)
    OVERTEMP = enum.auto()  # drive tripped on motor winding temperature
    INCLINE_STALL = enum.auto()  # incline lift commanded but not moving
    COMMS = enum.auto()  # host link lost (adapter watchdog)


class Telemetry(NamedTuple):
    """One report from the treadmill board, stamped with the board's clock.

    ``belt_speed_mps`` is the board's tach estimate (a magnitude; the
    direction is ``belt_direction``): one reed-switch pulse per roller turn,
    so it is quantised in time and stale at low speed. The raw pulse count
    and the time of the last pulse are given as well, so a controller may
    estimate speed its own way. Telemetry is immutable; it is a named tuple
    because a control loop builds one every tick.

    ``drive_enabled`` is whether the drive is powering the motor; after a stop
    it clears once the drive is cut, and ``belt_coasting`` then says whether
    the belt is still running down with nothing braking it.
    """

    t_s: float
    belt_speed_mps: float
    belt_direction: BeltDirection
    tach_pulse_count: int
    tach_last_pulse_t_s: float | None
    incline_pct: float | None
    motor_current_a: float | None
    bus_voltage_v: float | None
    key_present: bool | None
    drive_enabled: bool
    faults: Fault = Fault.NONE
    motor_temp_c: float | None = None
    walker_distance_m: float | None = None  # distance sensor at the console, if fitted
    deck_force_n: float | None = None  # vertical force on a force-sensing deck, if fitted
    # The belt moves and the motor neither drives nor brakes it: it is running down on
    # friction alone (a drive cut, or a drive that cannot brake asked to slow). ``None``
    # where the board cannot tell.
    belt_coasting: bool | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """What a controller asks of the treadmill.

    ``belt_speed_mps`` is a magnitude; the direction is separate because
    only bidirectional machines accept ``REVERSE``. ``reset`` clears latched
    stops (key, stop button, drive trips) once their cause is gone.
    """

    belt_speed_mps: float = 0.0
    incline_pct: float = 0.0
    belt_direction: BeltDirection = BeltDirection.FORWARD
    mode: DriveMode = DriveMode.NORMAL
    resistance_level: float = 0.0  # 0..1 of the machine's brake range (manual machines)
    emergency_stop: bool = False
    reset: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.belt_speed_mps) and self.belt_speed_mps >= 0.0):
            raise ValueError(
                f"belt_speed_mps must be a finite magnitude >= 0, got {self.belt_speed_mps!r}"
            )
        if not math.isfinite(self.incline_pct):
            raise ValueError(f"incline_pct must be finite, got {self.incline_pct!r}")
        if not 0.0 <= self.resistance_level <= 1.0:
            raise ValueError(
                f"resistance_level must be within 0..1, got {self.resistance_level!r}"
            )


@runtime_checkable
class Treadmill(Protocol):
    """Anything a controller can drive: simulated, mocked, or real over serial."""

    def read(self) -> Telemetry:
        """Return the newest telemetry the board has delivered."""
        ...

    def write(self, command: Command) -> None:
        """Send a command; it takes effect after the link's latency."""
        ...


@runtime_checkable
class Controller(Protocol):
    """Something ticked at a declared period by a clock it does not own.

    ``tick`` gets the host time, the *measured* time since its last tick
    (not the nominal period) and the newest telemetry, and returns the
    command to send, or ``None`` to send nothing this tick.
    """

    period_s: float

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None: ...
