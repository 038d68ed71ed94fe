"""A whole treadmill: its parts' parameters and what it can and cannot do."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..controllers.units import mps_to_mph
from .belt import BeltParams, force_constant_n_per_a
from .brake import BrakeParams
from .drive import DriveParams
from .incline import InclineParams
from .motor import MotorParams
from .params import ParameterError
from .sensors import SensorParams


class MachineKind(enum.Enum):
    """The kinds of treadmill in the source articles (reference/seeds-guidance.md)."""

    MOTORIZED = "motorized"
    MANUAL = "manual"
    CURVED = "curved manual"
    SLED = "backward sled"


class CapabilityError(ValueError):
    """A request the machine cannot carry out (too fast, too steep, no reverse...)."""


@dataclass(frozen=True)
class Machine:
    """One treadmill model: parts, capabilities and where the numbers come from."""

    name: str
    kind: MachineKind
    description: str
    motor: MotorParams = field(default_factory=MotorParams)
    belt: BeltParams = field(default_factory=BeltParams)
    drive: DriveParams = field(default_factory=DriveParams)
    brake: BrakeParams = field(default_factory=BrakeParams)
    incline: InclineParams = field(default_factory=InclineParams)
    sensors: SensorParams = field(default_factory=SensorParams)
    bidirectional: bool = False
    has_distance_sensor: bool = False
    has_force_deck: bool = False
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        motorized = self.motor.motorized
        if motorized != (self.kind is MachineKind.MOTORIZED):
            raise ParameterError(
                f"machine {self.name!r}: kind {self.kind.value!r} but motor torque constant"
                f" {self.motor.torque_constant_nm_per_a} (0 means no motor)"
            )
        if self.bidirectional and self.drive.quadrants != 4:
            raise ParameterError(
                f"machine {self.name!r}: a bidirectional belt needs a 4-quadrant drive,"
                f" got quadrants = {self.drive.quadrants}"
            )

    @property
    def motorized(self) -> bool:
        """True when a motor drives the belt; manual machines are moved by the walker."""
        return self.kind is MachineKind.MOTORIZED

    @property
    def force_constant_n_per_a(self) -> float:
        """Motor force at the belt surface per ampere."""
        return force_constant_n_per_a(self.motor, self.belt)

    def check_speed(self, speed_mps: float) -> None:
        """Raise :class:`CapabilityError` unless the drive can hold this speed magnitude."""
        if speed_mps == 0.0:
            return
        if not self.motorized:
            raise CapabilityError(
                f"{self.name} is a {self.kind.value} treadmill with no motor: the walker moves"
                " the belt, so it takes no speed setpoint (use resistance_level)"
            )
        lo, hi = self.drive.speed_min_mps, self.drive.speed_max_mps
        if not lo <= speed_mps <= hi:
            raise CapabilityError(
                f"speed {speed_mps:.3f} m/s ({mps_to_mph(speed_mps):.2f} mph) is outside what"
                f" {self.name} can do: 0 or {lo:.3f}..{hi:.3f} m/s"
                f" ({mps_to_mph(lo):.2f}..{mps_to_mph(hi):.2f} mph)"
            )

    def check_incline(self, incline_pct: float) -> None:
        """Raise :class:`CapabilityError` unless the lift can reach this grade."""
        lo, hi = self.incline.incline_min_pct, self.incline.incline_max_pct
        if not lo - 1e-9 <= incline_pct <= hi + 1e-9:
            what = f"fixed at {lo:g} %" if self.incline.fixed else f"{lo:g}..{hi:g} %"
            raise CapabilityError(
                f"incline {incline_pct:g} % is outside what {self.name} can do: {what}"
            )

    def check_reverse(self) -> None:
        """Raise :class:`CapabilityError` unless the belt can run in reverse."""
        if not self.bidirectional:
            raise CapabilityError(
                f"{self.name} cannot run its belt in reverse; walk backwards by facing the rear"
                " (walker facing = \"rear\") or choose the 'instrumented' preset"
            )
