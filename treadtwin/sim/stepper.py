"""The fixed-step plant stepper: board, armature, belt, bus, lift and tach in one compiled loop.

The parts (:mod:`.motor`, :mod:`.belt`, :mod:`.drive`, :mod:`.brake`,
:mod:`.incline`, :mod:`.sensors`) declare parameters and the physics of
each piece; this module owns the step. Per step of ``dt_s``:

1. the board latches stops and trips, takes a new target at its command
   period, ramps its reference and computes the armature voltage;
2. the converter decides which voltage the armature sees (its switches,
   or the diodes when it is off) and which sign the current may take;
3. armature current and speed advance *exactly* for the linear part
   (:mod:`.discretize`), with dry friction, the walker's force and the slip
   force held over the step; a current that must stop at zero (diodes) is
   split at the instant it reaches zero;
4. energies are integrated alongside (Simpson's rule on exact mid-step
   states for the quadratic losses, exact integrals for the linear ones),
   so the energy balance tests the integration rather than restating it;
5. the DC bus, the winding temperature, the lift and the tach follow.

Every ``record_every_steps`` steps a row goes to the trace. The loop runs
in compiled code so that a 10-minute session at 1 kHz costs well under a
second.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .discretize import matrix_phi, scalar_step
from .drive import bus_voltage_after, ramp_toward
from .incline import incline_after
from .layout import (
    INCLINE_STALL,
    KEY_OUT,
    OVERCURRENT,
    OVERTEMP,
    OVERVOLTAGE,
    STOP_BUTTON,
)
from .motor import resistance_at, winding_temp_after
from .sensors import tach_speed_estimate

MODE_NORMAL = 0
MODE_RESISTANCE = 1
MODE_STOP = 2

HARD_STOPS = KEY_OUT | STOP_BUTTON | OVERCURRENT | OVERVOLTAGE | OVERTEMP
SAFETY_STOPS = KEY_OUT | STOP_BUTTON  # the user's stops; the rest are the drive's own trips
DRIVE_TRIPS = OVERCURRENT | OVERVOLTAGE | OVERTEMP
STOP_NONE = 0
STOP_RAMPING = 1  # a controlled (category 1) stop: the drive brakes the belt at its rate
STOP_POWER_OFF = 2  # the drive's power is removed
OVERTEMP_RESET_MARGIN_C = 10.0  # a thermal trip may be reset this far below the trip point

_TINY_SPEED_MPS = 1e-9
_CACHE_REL_TOL = 1e-5  # rediscretise when R, mass or damping change by more than this


@nb.njit(cache=True)
def _sign(x: float) -> float:
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


@nb.njit(cache=True)
def _quantize(value: float, step: float) -> float:
    if step <= 0.0:
        return value
    return math.floor(value / step + 0.5) * step


@nb.njit(cache=True)
def _fill(out, m11, m12, m21, m22):
    out[0] = m11
    out[1] = m12
    out[2] = m21
    out[3] = m22


@nb.njit(cache=True)
def _discretise(s, r_ohm, inductance_h, k, mass_kg, viscous, h):
    """Cache Phi, Psi, Lam over h and h/2 for the armature-plus-mass system."""
    a11 = -r_ohm / inductance_h
    a12 = -k / inductance_h
    a21 = k / mass_kg
    a22 = -viscous / mass_kg
    for half in range(2):
        hh = h * 0.5 if half else h
        m11, m12, m21, m22 = a11 * hh, a12 * hh, a21 * hh, a22 * hh
        f0 = matrix_phi(0, m11, m12, m21, m22)
        f1 = matrix_phi(1, m11, m12, m21, m22)
        f2 = matrix_phi(2, m11, m12, m21, m22)
        if half:
            _fill(s.phi_half, f0[0], f0[1], f0[2], f0[3])
            _fill(s.psi_half, hh * f1[0], hh * f1[1], hh * f1[2], hh * f1[3])
            _fill(s.lam_half, hh * hh * f2[0], hh * hh * f2[1], hh * hh * f2[2], hh * hh * f2[3])
        else:
            _fill(s.phi, f0[0], f0[1], f0[2], f0[3])
            _fill(s.psi, hh * f1[0], hh * f1[1], hh * f1[2], hh * f1[3])
            _fill(s.lam, hh * hh * f2[0], hh * hh * f2[1], hh * hh * f2[2], hh * hh * f2[3])
    s.cache_r_ohm = r_ohm
    s.cache_mass_kg = mass_kg
    s.cache_viscous = viscous


@nb.njit(cache=True)
def _changed(old: float, new: float) -> bool:
    return abs(new - old) > _CACHE_REL_TOL * max(abs(new), 1e-12)


@nb.njit(cache=True)
def _apply(ph, ps, x1, x2, bu1, bu2):
    """ph x + ps bu for 2x2 matrices stored row-major in length-4 arrays."""
    return (
        ph[0] * x1 + ph[1] * x2 + ps[0] * bu1 + ps[1] * bu2,
        ph[2] * x1 + ph[3] * x2 + ps[2] * bu1 + ps[3] * bu2,
    )


@nb.njit(cache=True)
def _propagate(ph, ps, lm, phh, psh, h, inductance_h, volts, force_n, mass_kg, i0, v0):
    """Apply a discretisation: end state, integrals of i and v, and of i^2 and v^2.

    The squared integrals use Simpson's rule on the exact start, middle and
    end states.
    """
    bu1 = volts / inductance_h
    bu2 = force_n / mass_kg
    i1, v1 = _apply(ph, ps, i0, v0, bu1, bu2)
    int_i, int_v = _apply(ps, lm, i0, v0, bu1, bu2)
    im, vm = _apply(phh, psh, i0, v0, bu1, bu2)
    int_i2 = h * (i0 * i0 + 4.0 * im * im + i1 * i1) / 6.0
    int_v2 = h * (v0 * v0 + 4.0 * vm * vm + v1 * v1) / 6.0
    return i1, v1, int_i, int_v, int_i2, int_v2


@nb.njit(cache=True)
def _armature_step(s, p, r_ohm, volts, force_n, mass_kg, viscous, i0, v0):
    """Exact (i, v) step over the plant step, reusing the cached discretisation."""
    if _changed(s.cache_r_ohm, r_ohm) or _changed(s.cache_mass_kg, mass_kg) or _changed(
        s.cache_viscous, viscous
    ):
        _discretise(s, r_ohm, p.armature_inductance_h, p.force_constant_n_per_a, mass_kg,
                    viscous, p.dt_s)
    return _propagate(s.phi, s.psi, s.lam, s.phi_half, s.psi_half, p.dt_s,
                      p.armature_inductance_h, volts, force_n, mass_kg, i0, v0)


@nb.njit(cache=True)
def _armature_substep(p, h, r_ohm, volts, force_n, mass_kg, viscous, i0, v0):
    """Exact (i, v) step over a fraction h of a step (discretised afresh)."""
    inductance = p.armature_inductance_h
    k = p.force_constant_n_per_a
    a11, a12 = -r_ohm / inductance, -k / inductance
    a21, a22 = k / mass_kg, -viscous / mass_kg
    ph = np.empty(4)
    ps = np.empty(4)
    lm = np.empty(4)
    phh = np.empty(4)
    psh = np.empty(4)
    f0 = matrix_phi(0, a11 * h, a12 * h, a21 * h, a22 * h)
    f1 = matrix_phi(1, a11 * h, a12 * h, a21 * h, a22 * h)
    f2 = matrix_phi(2, a11 * h, a12 * h, a21 * h, a22 * h)
    g0 = matrix_phi(0, a11 * h / 2, a12 * h / 2, a21 * h / 2, a22 * h / 2)
    g1 = matrix_phi(1, a11 * h / 2, a12 * h / 2, a21 * h / 2, a22 * h / 2)
    for j in range(4):
        ph[j] = f0[j]
        ps[j] = h * f1[j]
        lm[j] = h * h * f2[j]
        phh[j] = g0[j]
        psh[j] = 0.5 * h * g1[j]
    return _propagate(ph, ps, lm, phh, psh, h, inductance, volts, force_n, mass_kg, i0, v0)


@nb.njit(cache=True)
def _mass_step(v0, viscous, force_n, mass_kg, h):
    """Exact step of m v' = -c v + F; returns v1, int v, int v^2 (Simpson)."""
    v1, int_v = scalar_step(v0, -viscous / mass_kg, force_n / mass_kg, h)
    vm, _ = scalar_step(v0, -viscous / mass_kg, force_n / mass_kg, 0.5 * h)
    return v1, int_v, h * (v0 * v0 + 4.0 * vm * vm + v1 * v1) / 6.0


@nb.njit(cache=True)
def _board(s, p, u, h):
    """Stops, trips, command latching and the speed ramp; sets board_enabled."""
    if u.cmd_reset:
        keep = 0
        if not u.key_present:
            keep |= KEY_OUT
        if s.winding_temp_c > p.winding_trip_temp_c - OVERTEMP_RESET_MARGIN_C:
            keep |= s.latched_faults & OVERTEMP
        s.latched_faults &= keep
        u.cmd_reset = 0
        s.board_stopping = 0
    if not u.key_present:
        s.latched_faults |= KEY_OUT
    if u.stop_button or u.cmd_estop:
        s.latched_faults |= STOP_BUTTON
        u.stop_button = 0
        u.cmd_estop = 0

    if p.force_constant_n_per_a <= 0.0:  # manual machine: no board
        s.board_enabled = 0
        return
    if s.latched_faults & HARD_STOPS:
        if _controlled_stop(s, p, h):
            s.board_enabled = 1
            return
        s.board_enabled = 0
        s.board_target_mps = 0.0
        s.board_ref_mps = 0.0
        s.board_trim_v = 0.0
        return
    s.stop_phase = STOP_NONE

    if s.t_s >= s.board_next_latch_s - 1e-12:
        s.board_next_latch_s = s.t_s + p.command_update_period_s
        if u.cmd_mode == MODE_STOP:
            s.board_target_mps = 0.0
            s.board_stopping = 1
        else:
            speed = min(u.cmd_speed_mps, p.speed_max_mps)
            if speed > 0.0:
                speed = max(speed, p.speed_min_mps)
            speed = _quantize(speed, p.command_speed_step_mps)
            direction = -1.0 if (u.cmd_direction < 0.0 and p.bidirectional > 0.0) else 1.0
            s.board_target_mps = direction * speed
            s.board_stopping = 0

    s.board_ref_mps = ramp_toward(s.board_ref_mps, s.board_target_mps, p.accel_mps2,
                                  p.decel_mps2, h)
    if s.board_target_mps != 0.0 or s.board_ref_mps != 0.0:
        s.board_enabled = 1
    elif abs(s.drive_speed_mps) < p.stop_speed_threshold_mps or p.quadrants == 1:
        # Idle: the belt has stopped, or the ramp is down on a drive that cannot brake,
        # which has nothing left to do and cuts its output; the belt coasts on.
        s.board_enabled = 0
        s.board_trim_v = 0.0
        s.board_stopping = 0


@nb.njit(cache=True)
def _controlled_stop(s, p, h):
    """Whether the drive still brakes the belt down under a latched stop (IEC 60204-1 cat. 1).

    A key pull or the stop button on a drive that can brake (2 or 4 quadrants) with a
    ``stop_decel_mps2`` ramps the reference to zero at that rate; power is removed once
    the belt has stopped, or ``stop_power_off_s`` after the stop at the latest (the
    hardware timer that does not rely on the drive's software). A drive trip, or a
    machine without a controlled stop, removes power at once (category 0).
    """
    if s.stop_phase == STOP_POWER_OFF:
        return False
    controlled = (p.stop_decel_mps2 > 0.0 and p.quadrants >= 2
                  and not (s.latched_faults & DRIVE_TRIPS)
                  and (s.latched_faults & SAFETY_STOPS) != 0)
    if not controlled:
        s.stop_phase = STOP_POWER_OFF
        return False
    if s.stop_phase == STOP_NONE:
        s.stop_phase = STOP_RAMPING
        s.stop_started_s = s.t_s
        s.board_target_mps = 0.0
        s.board_stopping = 1
    s.board_ref_mps = ramp_toward(s.board_ref_mps, 0.0, p.accel_mps2, p.stop_decel_mps2, h)
    stopped = s.board_ref_mps == 0.0 and abs(s.drive_speed_mps) < p.stop_speed_threshold_mps
    if stopped or s.t_s - s.stop_started_s >= p.stop_power_off_s - 1e-12:
        s.stop_phase = STOP_POWER_OFF
        return False
    return True


@nb.njit(cache=True)
def _terminal(s, p, r_ohm, h):
    """Armature source voltage, extra series resistance and the allowed current sign.

    Returns (volts, series_ohm, sign) where sign is +1 (i >= 0), -1 (i <= 0)
    or 0 (either); series_ohm is a dynamic-brake resistor in the loop.
    """
    k = p.force_constant_n_per_a
    i = s.motor_current_a
    emf = k * s.drive_speed_mps
    bus = s.bus_voltage_v
    v_max = p.armature_duty_max * bus
    if s.board_enabled:
        tach_mps = tach_speed_estimate(s.t_s, s.tach_last_pulse_s, s.tach_previous_pulse_s,
                                       p.tach_belt_per_pulse_m, p.tach_timeout_s)
        direction = _sign(s.board_ref_mps)
        if direction == 0.0:  # stopping: the error is the motion left, whichever way it goes
            direction = _sign(s.drive_speed_mps)
        error = s.board_ref_mps - direction * tach_mps
        period = s.tach_last_pulse_s - s.tach_previous_pulse_s
        # No valid reading, or one gone stale (no pulse for twice the last period: a
        # stopping belt or a dead tach, the board cannot tell): nothing to close a loop on.
        blind = tach_mps == 0.0 or not (s.t_s - s.tach_last_pulse_s < 2.0 * period)
        # A servo's speed loop acts on a zero reading too: its encoder says "standstill".
        want = (k * s.board_ref_mps + (p.ir_comp_ohm - p.current_feedback_ohm) * i
                + s.board_trim_v + p.speed_gain_v_per_mps * error)
        limited = min(want, emf + r_ohm * p.current_limit_a)
        if p.quadrants >= 2:
            limited = max(limited, emf - r_ohm * p.current_limit_a)
        v_lo = -v_max if p.quadrants == 4 else 0.0
        volts = min(max(limited, v_lo), v_max)
        saturated_up = volts < want and error > 0.0
        # A 1-quadrant converter cannot brake: while its diode blocks (asking for less than
        # the back-EMF, no current) the belt coasts and slowing down is not the trim's job.
        diode_blocked = p.quadrants == 1 and want < emf and i <= 0.0
        saturated_down = (volts > want or diode_blocked) and error < 0.0
        ramping = s.board_ref_mps != s.board_target_mps or s.stop_phase == STOP_RAMPING
        if not (saturated_up or saturated_down or ramping or blind):  # anti-windup
            trim = s.board_trim_v + p.tach_trim_gain_v_per_m * error * h
            s.board_trim_v = min(max(trim, -p.tach_trim_limit_v), p.tach_trim_limit_v)
        if p.quadrants == 1:
            if emf > bus:
                return bus, 0.0, -1.0  # overdriven past the bus: body diode into the bus
            return volts, 0.0, 1.0
        return volts, 0.0, 0.0
    # Board off. A latched stop may short the armature through a brake resistor.
    if (s.latched_faults & HARD_STOPS) and math.isfinite(p.stop_brake_resistance_ohm):
        return 0.0, p.stop_brake_resistance_ohm, 0.0
    # Open switches: only the diodes conduct.
    if i > 0.0:
        return (-bus if p.quadrants == 4 else 0.0), 0.0, 1.0
    if i < 0.0:
        return bus, 0.0, -1.0
    if emf > bus:
        return bus, 0.0, -1.0
    if emf < -bus and p.quadrants >= 2:
        return -bus, 0.0, 1.0
    if emf < 0.0 and p.quadrants == 1:
        return 0.0, 0.0, 1.0  # freewheel diode shorts a backward-turning motor
    return 0.0, 0.0, 2.0  # 2.0: no conduction at all


@nb.njit(cache=True)
def _walker_forces(s, u, profile):
    """The walker's fore-aft force on the belt and vertical load for this step."""
    force = u.walker_force_n
    load = u.walker_load_n
    if u.walker_present and u.walker_push_n > 0.0:
        # A person pushing a belt has a force-velocity curve: full push at rest, none at
        # the speed their legs cannot keep up with.
        force += u.walker_push_n * max(0.0, 1.0 - s.belt_speed_mps / u.walker_push_speed_mps)
    if u.walker_present and u.walker_profile_len > 0:
        row = s.step - u.walker_profile_start_step
        row = min(max(row, 0), u.walker_profile_len - 1)  # hold the ends
        force += profile[row, 0]
        load += profile[row, 1]
    return force, load


@nb.njit(cache=True)
def _walker_motion(s, p, u, int_vb, h):
    """The walker's place on the deck, and the lanyard pulling the key out."""
    if not u.walker_present:
        return
    # The console is a wall: a walker carried to it, or walking faster than the belt, is held
    # there with the body against it (the centre of mass half a body's depth behind).
    s.walker_pos_m = max(s.walker_pos_m + int_vb - u.walker_speed_mps * h,
                         u.walker_front_limit_m)
    if s.walker_pos_m > u.lanyard_reach_m:  # False while the reach is NaN
        u.key_present = 0


@nb.njit(cache=True)
def _mechanics(s, p, u, h, f_walk, walker_load_n):
    """Armature, drive side and belt side over one step, with the energy integrals."""
    k = p.force_constant_n_per_a
    r_ohm = resistance_at(p.armature_resistance_ohm, s.winding_temp_c)
    level = u.cmd_resistance_level
    eddy = p.eddy_brake_max_n_per_mps * level
    pad = p.friction_brake_max_n * level
    m_d = p.drive_side_mass_kg
    m_b = p.belt_side_mass_kg
    c_d = p.drive_viscous_n_per_mps
    c_b = p.deck_viscous_n_per_mps
    fc_d = p.drive_coulomb_n
    fc_b = p.deck_drag_empty_n + p.deck_friction_coeff * max(walker_load_n, 0.0)

    if k > 0.0:
        volts, series_ohm, sign = _terminal(s, p, r_ohm, h)
    else:
        volts, series_ohm, sign = 0.0, 0.0, 2.0

    i0 = s.motor_current_a
    vd0 = s.drive_speed_mps
    vb0 = s.belt_speed_mps
    slipping = s.slipping == 1

    conducting = sign != 2.0
    r_loop = r_ohm + series_ohm

    # At rest, the armature alone moves first; dry friction holds the belt
    # while the force at the end of that step stays within it.
    i_rest = 0.0
    int_i_rest = 0.0
    int_i2_rest = 0.0
    if conducting and k > 0.0 and vd0 == 0.0:
        a = -r_loop / p.armature_inductance_h
        i_rest, int_i_rest = scalar_step(i0, a, volts / p.armature_inductance_h, h)
        i_mid, _ = scalar_step(i0, a, volts / p.armature_inductance_h, 0.5 * h)
        int_i2_rest = h * (i0 * i0 + 4.0 * i_mid * i_mid + i_rest * i_rest) / 6.0
        if (sign == 1.0 and i_rest < 0.0) or (sign == -1.0 and i_rest > 0.0):
            i_rest, int_i_rest, int_i2_rest = 0.0, 0.0, 0.0

    # Dry friction acts against the motion, or against the net drive when at rest.
    if slipping:
        dir_d = _sign(vd0)
        dir_b = _sign(vb0)
        rel = _sign(vd0 - vb0)
        if rel == 0.0:
            rel = s.slip_direction
    else:
        dir_d = _sign(vd0)
        if dir_d == 0.0:
            drive = k * i_rest + f_walk
            if abs(drive) > fc_d + pad + fc_b:
                dir_d = _sign(drive)
        dir_b = dir_d
        rel = 0.0
    stuck = (not slipping) and dir_d == 0.0
    f_slip = p.slip_capacity_n * u.tension_scale if slipping else 0.0

    int_i = 0.0
    int_i2 = 0.0
    int_vd = 0.0
    int_vd2 = 0.0
    int_vb = 0.0
    int_vb2 = 0.0
    i1 = 0.0
    elec_j = 0.0

    # Drive side (with the belt when locked) coupled to the armature.
    mass = m_d if slipping else m_d + m_b
    visc = c_d + eddy + (0.0 if slipping else c_b)
    if slipping:
        force = -(fc_d + pad) * dir_d - f_slip * rel
    else:
        force = -(fc_d + pad + fc_b) * dir_d + f_walk
    if stuck:
        i1, int_i, int_i2 = i_rest, int_i_rest, int_i2_rest
        vd1 = 0.0
    elif conducting and k > 0.0:
        i1, vd1, int_i, int_vd, int_i2, int_vd2 = _armature_step(
            s, p, r_loop, volts, force, mass, visc, i0, vd0)
        if (sign == 1.0 and i1 < 0.0) or (sign == -1.0 and i1 > 0.0):
            # A diode holds the current at zero once it gets there: split the step
            # at that instant, estimated with the speed frozen over the step.
            i_ss = (volts - k * vd0) / r_loop
            t1 = h
            if i0 == 0.0:
                t1 = 0.0
            elif i_ss * i0 < 0.0:
                tau = p.armature_inductance_h / r_loop
                t1 = min(tau * math.log(1.0 + i0 / -i_ss), h)
            if 0.0 < t1 < h:
                i1, vd1, int_i, int_vd, int_i2, int_vd2 = _armature_substep(
                    p, t1, r_loop, volts, force, mass, visc, i0, vd0)
            elif t1 == 0.0:
                vd1, int_i, int_vd, int_i2, int_vd2 = vd0, 0.0, 0.0, 0.0, 0.0
            i1 = 0.0
            if t1 < h:
                vd1, iv, iv2 = _mass_step(vd1, visc, force, mass, h - t1)
                int_vd += iv
                int_vd2 += iv2
    else:
        vd1, int_vd, int_vd2 = _mass_step(vd0, visc, force, mass, h)
        i1 = 0.0

    if series_ohm > 0.0:
        elec_j = -series_ohm * int_i2  # the terminal sees only the brake resistor's drop
    else:
        elec_j = volts * int_i

    # Dry friction stops motion; it does not reverse it.
    if dir_d != 0.0 and _sign(vd1) == -dir_d:
        vd1 = 0.0

    if slipping:
        force_b = -fc_b * dir_b + f_walk + f_slip * rel
        if dir_b == 0.0 and abs(f_walk + f_slip * rel) <= fc_b:
            vb1, int_vb, int_vb2 = 0.0, 0.0, 0.0
        else:
            if dir_b == 0.0:
                force_b = -fc_b * _sign(f_walk + f_slip * rel) + f_walk + f_slip * rel
            vb1, int_vb, int_vb2 = _mass_step(vb0, c_b, force_b, m_b, h)
            if dir_b != 0.0 and _sign(vb1) == -dir_b:
                vb1 = 0.0
    else:
        vb1, int_vb, int_vb2 = vd1, int_vd, int_vd2

    # Energies over the step.
    s.e_elec_j += elec_j
    s.e_copper_j += r_ohm * int_i2
    if slipping:
        s.e_friction_j += (c_d * int_vd2 + c_b * int_vb2 + fc_d * abs(int_vd)
                           + fc_b * abs(int_vb))
        s.e_slip_j += f_slip * rel * (int_vd - int_vb)
    else:
        s.e_friction_j += (c_d + c_b) * int_vd2 + (fc_d + fc_b) * abs(int_vd)
    s.e_brake_j += eddy * int_vd2 + pad * abs(int_vd)
    s.e_walker_j += f_walk * int_vb

    # Slip: lock <-> slip transitions.
    if slipping:
        if _sign(vd1 - vb1) != rel or vd1 == vb1:
            common = (m_d * vd1 + m_b * vb1) / (m_d + m_b)
            s.e_slip_j += 0.5 * m_d * (vd1 - common) ** 2 + 0.5 * m_b * (vb1 - common) ** 2
            vd1 = common
            vb1 = common
            s.slipping = 0
    else:
        accel = (vd1 - vd0) / h
        belt_load = f_walk - fc_b * dir_b - c_b * int_vd / h
        transmitted = m_b * accel - belt_load
        if abs(transmitted) > p.slip_capacity_n * u.tension_scale:
            s.slipping = 1
            s.slip_direction = _sign(transmitted)

    s.motor_current_a = i1
    # Coasting: the belt runs down on friction alone, the motor neither drives nor brakes it
    # (switches open, or a chopper that cannot brake blocked by its diode).
    s.belt_coasting = 1 if (k > 0.0 and i1 == 0.0
                            and abs(vb1) >= p.stop_speed_threshold_mps) else 0
    if series_ohm > 0.0:
        s.motor_voltage_v = -series_ohm * i1
    elif conducting:
        s.motor_voltage_v = volts
    else:
        s.motor_voltage_v = k * vd1  # open circuit: the terminals show the back-EMF
    s.drive_speed_mps = vd1
    s.belt_speed_mps = vb1
    s.belt_travel_m += int_vb

    # Trips.
    if k > 0.0:
        if abs(i1) > p.overcurrent_trip_a:
            s.latched_faults |= OVERCURRENT
        copper_w = r_ohm * int_i2 / h
        s.winding_temp_c = winding_temp_after(
            s.winding_temp_c, copper_w, p.ambient_temp_c,
            p.thermal_resistance_k_per_w * u.cooling_scale, p.thermal_time_constant_s, h)
        if s.winding_temp_c > p.winding_trip_temp_c:
            s.latched_faults |= OVERTEMP
        _bus(s, p, elec_j, series_ohm, h)
    return int_vd, int_vb


@nb.njit(cache=True)
def _bus(s, p, elec_j, series_ohm, h):
    """DC bus: the drive's mean current, the brake chopper and the over-voltage trip."""
    bus0 = s.bus_voltage_v
    drive_current_a = 0.0 if series_ohm > 0.0 else elec_j / h / max(bus0, 1.0)
    if math.isfinite(p.brake_resistor_ohm):
        if bus0 > p.brake_chopper_on_v:
            s.chopper_on = 1
        elif bus0 < p.brake_chopper_off_v:
            s.chopper_on = 0
    g_brake = 1.0 / p.brake_resistor_ohm if s.chopper_on else 0.0
    bus1 = bus_voltage_after(bus0, drive_current_a, p.bus_supply_v, p.bus_source_resistance_ohm,
                             g_brake, p.bus_capacitance_f, h)
    s.e_brake_resistor_j += g_brake * h * (bus0 * bus0 + bus1 * bus1) / 2.0
    s.bus_voltage_v = bus1
    if bus1 > p.overvoltage_trip_v:
        s.latched_faults |= OVERVOLTAGE


@nb.njit(cache=True)
def _lift(s, p, u, h):
    """Incline lift (powered only while no stop is latched) and homing."""
    powered = (s.latched_faults & (KEY_OUT | STOP_BUTTON)) == 0
    target = u.cmd_incline_pct
    goal = min(max(target, p.incline_min_pct), p.incline_max_pct)
    if powered and not u.incline_stuck:
        s.incline_pct = incline_after(s.incline_pct, target, p.incline_min_pct, p.incline_max_pct,
                                      p.incline_rate_pct_per_s, p.incline_deadband_pct, h)
    if u.incline_stuck and abs(goal - s.incline_pct) > p.incline_deadband_pct and powered:
        s.latched_faults |= INCLINE_STALL
    elif not u.incline_stuck:
        s.latched_faults &= ~INCLINE_STALL
    lift_exists = p.incline_max_pct > p.incline_min_pct
    if lift_exists and s.incline_pct <= p.incline_min_pct and target <= p.incline_min_pct:
        s.incline_sensor_offset_pct = 0.0  # homed on the lower end stop


@nb.njit(cache=True)
def _tach(s, p, u, t_end, int_vd):
    """Tach on the drive roller (reed switch or encoder), blind to direction.

    Pulses inside the step are counted at once; the last two pulse times are
    placed on the step's constant-speed line.
    """
    pitch = p.tach_belt_per_pulse_m
    s.tach_phase_m += abs(int_vd)
    if s.tach_phase_m < pitch:
        return
    pulses = math.floor(s.tach_phase_m / pitch)
    s.tach_phase_m -= pulses * pitch
    if not u.tach_ok:
        return
    speed = abs(int_vd) / p.dt_s
    if speed <= _TINY_SPEED_MPS:
        return
    last_s = t_end - min(s.tach_phase_m / speed, p.dt_s)
    s.tach_previous_pulse_s = last_s - pitch / speed if pulses >= 2 else s.tach_last_pulse_s
    s.tach_last_pulse_s = last_s
    s.tach_pulse_count += int(pulses)


@nb.njit(cache=True)
def _record(s, p, u, trace, profile):
    row = s.trace_row
    if row >= trace.shape[0]:
        return
    r = trace[row]
    r.t_s = s.t_s
    r.belt_speed_mps = s.belt_speed_mps
    r.belt_speed_cmd_mps = u.cmd_speed_mps * (1.0 if u.cmd_direction >= 0.0 else -1.0)
    if u.cmd_mode == MODE_STOP:
        r.belt_speed_cmd_mps = 0.0
    direction = -1.0 if s.board_ref_mps < 0.0 else 1.0
    r.belt_speed_meas_mps = direction * tach_speed_estimate(
        s.t_s, s.tach_last_pulse_s, s.tach_previous_pulse_s, p.tach_belt_per_pulse_m,
        p.tach_timeout_s)
    r.drive_speed_mps = s.drive_speed_mps
    r.board_ref_mps = s.board_ref_mps
    r.incline_pct = s.incline_pct
    r.incline_cmd_pct = u.cmd_incline_pct
    r.incline_meas_pct = _quantize(s.incline_pct + s.incline_sensor_offset_pct,
                                   p.incline_sensor_step_pct)
    r.motor_current_a = s.motor_current_a
    r.motor_current_meas_a = _quantize(s.current_filtered_a, p.current_step_a)
    r.motor_voltage_v = s.motor_voltage_v
    r.bus_voltage_v = s.bus_voltage_v
    r.motor_temp_c = s.winding_temp_c
    r.tach_pulse_count = s.tach_pulse_count
    r.walker_pos_m = s.walker_pos_m
    r.walker_state = u.walker_state
    r.walker_force_n, r.walker_load_n = _walker_forces(s, u, profile)
    r.vo2_ml_kg_min = u.walker_vo2_ml_kg_min
    r.balance_error_m = u.walker_balance_error_m
    r.key_present = u.key_present
    r.faults = s.latched_faults
    r.belt_travel_m = s.belt_travel_m
    r.e_elec_j = s.e_elec_j
    r.e_copper_j = s.e_copper_j
    r.e_friction_j = s.e_friction_j
    r.e_brake_j = s.e_brake_j
    r.e_slip_j = s.e_slip_j
    r.e_walker_j = s.e_walker_j
    r.kinetic_j = kinetic_energy_j(s, p)
    r.e_magnetic_j = 0.5 * p.armature_inductance_h * s.motor_current_a ** 2
    r.e_brake_resistor_j = s.e_brake_resistor_j
    s.trace_row = row + 1


@nb.njit(cache=True)
def kinetic_energy_j(s, p) -> float:
    """Kinetic energy of the drive side and the belt side."""
    return 0.5 * (p.drive_side_mass_kg * s.drive_speed_mps ** 2
                  + p.belt_side_mass_kg * s.belt_speed_mps ** 2)


@nb.njit(cache=True)
def advance(state, params, inputs, trace, profile, n_steps):
    """Advance the plant by ``n_steps`` fixed steps, recording trace rows as due.

    ``state``, ``params`` and ``inputs`` are one-element record arrays laid
    out in :mod:`.layout`; ``trace`` is a record array with room for the
    rows this call will write; ``profile`` holds the walker's forces per
    step. Returns the number of trace rows written so far.
    """
    s = state[0]
    p = params[0]
    u = inputs[0]
    h = p.dt_s
    every = int(p.record_every_steps)
    tau = p.current_filter_tau_s
    filter_gain = 1.0 - math.exp(-h / tau) if tau > 0.0 else 1.0
    for _ in range(n_steps):
        _board(s, p, u, h)
        f_walk, walker_load_n = _walker_forces(s, u, profile)
        int_vd, int_vb = _mechanics(s, p, u, h, f_walk, walker_load_n)
        _walker_motion(s, p, u, int_vb, h)
        _lift(s, p, u, h)
        s.step += 1
        s.t_s = s.step * h
        _tach(s, p, u, s.t_s, int_vd)
        s.current_filtered_a += (s.motor_current_a - s.current_filtered_a) * filter_gain
        if s.step % every == 0:
            _record(s, p, u, trace, profile)
    return s.trace_row


@nb.njit(cache=True)
def sample(state, params, inputs, profile):
    """What the board reports now, as plain numbers (see ``SimulatedTreadmill.read``)."""
    s = state[0]
    p = params[0]
    u = inputs[0]
    _, walker_load = _walker_forces(s, u, profile)
    speed = tach_speed_estimate(s.t_s, s.tach_last_pulse_s, s.tach_previous_pulse_s,
                                p.tach_belt_per_pulse_m, p.tach_timeout_s)
    current = _quantize(s.current_filtered_a, p.current_step_a)
    incline = _quantize(s.incline_pct + s.incline_sensor_offset_pct, p.incline_sensor_step_pct)
    return (s.t_s, speed, s.board_ref_mps < 0.0, s.tach_pulse_count, s.tach_last_pulse_s,
            incline, current, s.bus_voltage_v, s.board_enabled != 0, s.latched_faults,
            s.winding_temp_c, u.key_present != 0, s.walker_pos_m, walker_load,
            s.belt_coasting != 0)


@nb.njit(cache=True)
def advance_and_sample(state, params, inputs, trace, profile, n_steps):
    """:func:`advance`, then :func:`sample`: one compiled call per controller tick."""
    advance(state, params, inputs, trace, profile, n_steps)
    return sample(state, params, inputs, profile)
