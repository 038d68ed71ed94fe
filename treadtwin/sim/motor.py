"""Permanent-magnet DC drive motor: armature, back-EMF, winding temperature.

The electrical equation is ``L di/dt = V - R(T) i - Ke w`` with ``Ke = Kt``
(SI units make the two constants equal). Seen from the belt surface, the
motor is a force ``k_belt * i`` with ``k_belt = Kt * pulley_ratio /
roller_radius`` in N/A (equal to the back-EMF constant in V per m/s).

Numbers for consumer treadmill motors are not published (see
docs/references.md, marked [U]): the defaults are the
reference's engineering placeholders (Ke 0.15-0.3 V s/rad, Ra 1-3 ohm,
La 5-20 mH) and must be measured on a real motor (locked-rotor R and L,
back-EMF against rpm); calibration from logs does exactly that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb

from .params import param, validate

#: Temperature coefficient of copper resistance, 1/K (IEC 60228 annealed copper).
COPPER_TEMP_COEFF_PER_K = 0.00393
#: Temperature at which ``armature_resistance_ohm`` is specified.
RESISTANCE_REFERENCE_TEMP_C = 20.0


@dataclass(frozen=True, slots=True)
class MotorParams:
    """PMDC motor and its flywheel. A torque constant of 0 means no motor (manual machine)."""

    armature_resistance_ohm: float = param(1.5, 0.05, 50.0, "armature resistance at 20 C")
    armature_inductance_h: float = param(0.010, 1e-4, 0.5, "armature inductance")
    torque_constant_nm_per_a: float = param(
        0.25, 0.0, 3.0, "Kt = Ke in N m/A = V s/rad; 0 for no motor"
    )
    motor_inertia_kgm2: float = param(0.0015, 0.0, 0.1, "rotor inertia")
    flywheel_inertia_kgm2: float = param(0.008, 0.0, 1.0, "flywheel on the motor shaft")
    pulley_ratio: float = param(3.5, 1.0, 20.0, "motor turns per drive-roller turn")
    thermal_resistance_k_per_w: float = param(
        0.4, 0.01, 10.0, "winding-to-ambient thermal resistance"
    )
    thermal_time_constant_s: float = param(900.0, 10.0, 20000.0,
                                           "winding thermal time constant")
    ambient_temp_c: float = param(25.0, -20.0, 60.0, "ambient temperature",
                                  "[M] a condition of the run")
    winding_trip_temp_c: float = param(
        130.0, 60.0, 200.0, "thermal cut-out",
        "[C] insulation class B limit, 130 C (IEC 60085)"
    )

    def __post_init__(self) -> None:
        validate(self)

    @property
    def motorized(self) -> bool:
        """True when there is a motor to drive the belt."""
        return self.torque_constant_nm_per_a > 0.0


@nb.njit(cache=True)
def resistance_at(resistance_20c_ohm: float, winding_temp_c: float) -> float:
    """Armature resistance at the winding temperature (linear copper model)."""
    return resistance_20c_ohm * (
        1.0 + COPPER_TEMP_COEFF_PER_K * (winding_temp_c - RESISTANCE_REFERENCE_TEMP_C)
    )


@nb.njit(cache=True)
def winding_temp_after(
    winding_temp_c: float,
    copper_loss_w: float,
    ambient_temp_c: float,
    thermal_resistance_k_per_w: float,
    thermal_time_constant_s: float,
    dt_s: float,
) -> float:
    """Exact first-order thermal step with the copper loss held over ``dt_s``."""
    steady_c = ambient_temp_c + copper_loss_w * thermal_resistance_k_per_w
    return steady_c + (winding_temp_c - steady_c) * math.exp(-dt_s / thermal_time_constant_s)
