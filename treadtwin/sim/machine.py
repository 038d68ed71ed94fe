"""A whole treadmill: its parts' parameters and what it can and cannot do."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ..controllers.units import STANDARD_GRAVITY_MPS2, mph_to_mps, mps_to_mph
from .belt import BeltParams, force_constant_n_per_a
from .brake import BrakeParams
from .drive import DriveParams
from .incline import InclineParams
from .motor import MotorParams
from .params import ParameterError, default_tag
from .provenance import NOT_USED_TAG, tag_code
from .sensors import SensorParams

#: The machine's parts, by the attribute and the ``[machine.<part>]`` table name.
PART_NAMES = ("motor", "belt", "drive", "brake", "incline", "sensors")
#: The speed a coasting machine's stated deceleration refers to: 3 mph, brisk walking.
STATEMENT_SPEED_MPS = mph_to_mps(3.0)


class MachineKind(enum.Enum):
    """The kinds of treadmill in the source articles (docs/references.md)."""

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
    #: The heaviest user the maker rates the machine for (0: not a figure this machine has).
    rated_user_mass_kg: float = 0.0
    #: Tags for the values this machine states, keyed ``"part.field"`` (see provenance.py).
    tags: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    #: Parts this machine does not have: their parameters are tagged not used.
    unused_parts: tuple[str, ...] = ()

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

        for key, tag in self.tags.items():
            part_name, _, name = key.partition(".")
            part = getattr(self, part_name, None) if part_name in PART_NAMES else None
            if part is None or name not in {f.name for f in dataclasses.fields(part)}:
                raise ParameterError(f"machine {self.name!r}: tag for unknown parameter {key!r}")
            tag_code(tag)

    def tag(self, part_name: str, name: str) -> str:
        """Where this machine's value of ``part.name`` comes from."""
        own = self.tags.get(f"{part_name}.{name}")
        if own is not None:
            return own
        if part_name in self.unused_parts:
            return NOT_USED_TAG
        return default_tag(type(getattr(self, part_name)), name)

    def parameters(self) -> Iterator[tuple[str, str, float, str]]:
        """(part, name, value, tag) for every declared parameter, in declaration order."""
        for part_name in PART_NAMES:
            part = getattr(self, part_name)
            for f in dataclasses.fields(part):
                if "range" in f.metadata:
                    yield part_name, f.name, getattr(part, f.name), self.tag(part_name, f.name)

    def coast_decel_mps2(self, user_mass_kg: float, speed_mps: float) -> float:
        """How fast the belt slows with the drive's power off and the armature open.

        Force balance at the belt surface: the drag of the drive side and the deck
        (empty drag, the user's weight times the deck friction coefficient, the viscous
        terms at this speed) over the equivalent mass of everything that turns. This is
        the whole stop of a machine that can only coast.
        """
        b = self.belt
        drag_n = (b.drive_coulomb_n + b.deck_drag_empty_n
                  + b.deck_friction_coeff * user_mass_kg * STANDARD_GRAVITY_MPS2
                  + (b.drive_viscous_n_per_mps + b.deck_viscous_n_per_mps) * speed_mps)
        return drag_n / (b.drive_side_mass_kg(self.motor) + b.belt_side_mass_kg)

    @property
    def stop_kind(self) -> str:
        """How a key pull or the stop button stops the belt: controlled, brake or coast."""
        d = self.drive
        if d.stop_decel_mps2 > 0.0 and d.quadrants >= 2:
            return "controlled"
        return "brake" if math.isfinite(d.stop_brake_resistance_ohm) else "coast"

    def stop_statement(self, speed_mps: float = STATEMENT_SPEED_MPS) -> str:
        """What this machine states about its stop, in one line (a coast at ``speed_mps``)."""
        d = self.drive
        if self.stop_kind == "controlled":
            return (f"controlled stop (IEC 60204-1 category 1) at {d.stop_decel_mps2:g} m/s^2,"
                    f" power removed when stopped or after {d.stop_power_off_s:g} s")
        if self.stop_kind == "brake":
            return (f"power cut, armature shorted through {d.stop_brake_resistance_ohm:g} ohm"
                    " (the deceleration grows with speed)")
        rated = self.rated_user_mass_kg
        return (f"power cut, the belt coasts: {self.coast_decel_mps2(0.0, speed_mps):.2f} m/s^2"
                f" empty, {self.coast_decel_mps2(rated, speed_mps):.2f} m/s^2 with {rated:g} kg"
                f" at {speed_mps:.2f} m/s")

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
