"""Belt, rollers and deck: inertia, friction and slip on the drive roller.

Two mechanical degrees of freedom, both as surface speeds along the belt:

- the *drive side*: motor rotor, flywheel and front (drive) roller, lumped
  into an equivalent mass at the roller surface;
- the *belt side*: the belt and the rear roller.

While the belt grips the drive roller they move as one; when the force the
roller must pass to the belt exceeds what friction on the wrapped roller can
carry (capstan equation, ``T_slack (exp(mu theta) - 1)``), the belt slips and
the two sides move apart until their speeds meet again.

Deck friction grows with the walker's vertical load: ``mu_deck * N`` on top
of the empty-belt drag. The reference gives no measured coefficient
(Willwacher 2021 confirms only that it grows with load; 0.1-0.3 assumed [U]), so it is a
parameter. The belt is a closed loop, so gravity along an inclined deck
does no net work on it; gravity acts on the walker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .motor import MotorParams
from .params import param, validate


@dataclass(frozen=True, slots=True)
class BeltParams:
    """Rollers, belt and deck. Forces and viscous terms are referred to the belt surface."""

    roller_radius_m: float = param(
        0.04, 0.015, 0.15, "drive-roller radius"
    )
    front_roller_inertia_kgm2: float = param(0.0032, 0.0, 0.2, "drive (front) roller")
    rear_roller_inertia_kgm2: float = param(0.0032, 0.0, 0.2, "rear roller")
    belt_mass_kg: float = param(4.0, 0.5, 200.0, "belt (slats for curved machines)")
    drive_viscous_n_per_mps: float = param(
        2.0, 1e-3, 500.0, "bearing and motor drag on the drive side"
    )
    drive_coulomb_n: float = param(5.0, 0.0, 500.0, "dry friction on the drive side")
    deck_viscous_n_per_mps: float = param(1.0, 1e-3, 500.0, "belt-side viscous drag")
    deck_drag_empty_n: float = param(10.0, 0.0, 500.0, "belt-deck drag with nobody on it")
    deck_friction_coeff: float = param(
        0.2, 0.0, 0.6, "belt-deck friction per newton of walker load",
        "[U] no measured figure published; 0.1-0.3 assumed"
    )
    belt_slack_tension_n: float = param(300.0, 1.0, 5000.0, "slack-side belt tension")
    roller_belt_friction_coeff: float = param(0.3, 0.01, 1.5, "belt on drive-roller friction")
    roller_wrap_angle_rad: float = param(math.pi, 0.5, 2 * math.pi, "belt wrap on the drive roller")
    running_length_m: float = param(1.4, 0.8, 3.5, "length of the running surface")

    def __post_init__(self) -> None:
        validate(self)

    @property
    def roller_circumference_m(self) -> float:
        """Belt travel per drive-roller turn."""
        return 2.0 * math.pi * self.roller_radius_m

    @property
    def belt_side_mass_kg(self) -> float:
        """Belt plus rear roller as an equivalent mass at the belt surface."""
        return self.belt_mass_kg + self.rear_roller_inertia_kgm2 / self.roller_radius_m**2

    def drive_side_mass_kg(self, motor: MotorParams) -> float:
        """Drive roller, motor rotor and flywheel as an equivalent mass at the belt surface."""
        shaft_to_belt = motor.pulley_ratio / self.roller_radius_m  # rad/s of motor per m/s
        return (
            self.front_roller_inertia_kgm2 / self.roller_radius_m**2
            + (motor.motor_inertia_kgm2 + motor.flywheel_inertia_kgm2) * shaft_to_belt**2
        )

    def slip_capacity_n(self, tension_scale: float = 1.0) -> float:
        """Largest force the drive roller passes to the belt before it slips (capstan)."""
        tension_n = self.belt_slack_tension_n * tension_scale
        grip = math.exp(self.roller_belt_friction_coeff * self.roller_wrap_angle_rad)
        return tension_n * (grip - 1.0)


def force_constant_n_per_a(motor: MotorParams, belt: BeltParams) -> float:
    """Motor force at the belt surface per ampere (= back-EMF in V per m/s of belt)."""
    return motor.torque_constant_nm_per_a * motor.pulley_ratio / belt.roller_radius_m
