"""PROTOTYPE"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .interface import BeltDirection, Command, Controller, DriveMode, Telemetry

STANDARD_GRAVITY_MPS2 = 9.80665
SPEED_RESOLUTION_MPS = 0.001
MOVING_ABOVE_MPS = 0.02


@dataclass(frozen=True, slots=True)
class DriveModel:
    force_constant_n_per_a: float
    inertia_kg: float
    drag_n: float
    viscous_n_per_mps: float
    deck_friction_coeff: float
    speed_min_mps: float = 0.0
    can_brake: bool = True


@dataclass(frozen=True, slots=True)
class ManualEmulationParams:
    drive: DriveModel
    virtual_mass_kg: float = 39.2
    drag_n: float = 15.0
    viscous_n_per_mps: float = 3.0
    deck_friction_coeff: float = 0.05
    eddy_max_n_per_mps: float = 80.0
    pad_max_n: float = 0.0
    user_mass_kg: float = 70.0
    force_filter_s: float = 0.3
    speed_max_mps: float = 2.5
    accel_max_mps2: float = 0.5
    decel_max_mps2: float = 1.0
    incline_pct: float | None = None
    min_added_mass_kg: float = 0.0


class AdmittanceEmulator:
    def __init__(self, inner: Controller, params: ManualEmulationParams) -> None:
        self.inner = inner
        self.params = params
        self.period_s = inner.period_s
        self.added_mass_kg = params.virtual_mass_kg - params.drive.inertia_kg
        self.speed_mps = 0.0
        self.force_n = 0.0
        self.force_est_n = 0.0

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        base = self.inner.tick(now_s, dt_s, telemetry)
        if base is None:
            return None
        p = self.params
        d = p.drive
        incline = telemetry.incline_pct if telemetry.incline_pct is not None else 0.0
        cos_t = math.cos(math.atan(incline / 100.0))
        load = (telemetry.deck_force_n if telemetry.deck_force_n is not None
                else p.user_mass_kg * STANDARD_GRAVITY_MPS2 * cos_t)
        v_meas = telemetry.belt_speed_mps
        moving = v_meas > MOVING_ABOVE_MPS
        current = telemetry.motor_current_a or 0.0
        friction = (d.drag_n + d.deck_friction_coeff * load + d.viscous_n_per_mps * v_meas
                    if moving else 0.0)
        est = friction - d.force_constant_n_per_a * current
        self.force_est_n = est
        self.force_n += (est - self.force_n) * min(dt_s / p.force_filter_s, 1.0)
        level = base.resistance_level
        f_c = p.drag_n + p.deck_friction_coeff * load + level * p.pad_max_n
        c = p.viscous_n_per_mps + level * p.eddy_max_n_per_mps
        m = self.added_mass_kg
        v = self.speed_mps
        f = self.force_n
        if v > 0.0 or f > f_c:
            v_new = max((v + dt_s * (f - f_c) / m) / (1.0 + dt_s * c / m), 0.0)
        else:
            v_new = 0.0
        v_new = min(max(v_new, v - p.decel_max_mps2 * dt_s), v + p.accel_max_mps2 * dt_s,
                    p.speed_max_mps)
        self.speed_mps = v_new
        speed = v_new if v_new >= d.speed_min_mps else 0.0
        speed = round(speed / SPEED_RESOLUTION_MPS) * SPEED_RESOLUTION_MPS
        return Command(belt_speed_mps=speed,
                       incline_pct=base.incline_pct if p.incline_pct is None else p.incline_pct,
                       belt_direction=BeltDirection.FORWARD, mode=DriveMode.NORMAL,
                       resistance_level=level, reset=base.reset)
