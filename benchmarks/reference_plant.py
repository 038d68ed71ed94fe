"""An independent, deliberately plain reference for the motorized empty-belt plant.

This is the plant a user would write with scipy in an afternoon: an ODE
right-hand side :func:`rhs` ``f(t, x, params, inputs)`` in plain Python,
integrated with :func:`scipy.integrate.solve_ivp` and restarted at every
control tick (10 ms), at every board command latch and at every tach pulse
or converter-diode switch inside a tick. It shares no numerical code with
the twin (it does not import :mod:`treadtwin.sim.stepper` or any of the
compiled helpers); it reads the same :class:`~treadtwin.sim.machine.Machine`
preset, so the two cannot drift apart silently, but derives the lumped
quantities (force constant, equivalent masses, tach pitch) from the raw part
parameters itself.

Scope: the belt stays locked to the drive roller (no slip), nobody is on the
belt, the board runs in normal mode with no stop latched (no key-out, trip or
dynamic brake), and the DC bus is held at its supply voltage (the belt never
drives the motor past the bus, so there is no regeneration). Within that
scope the physics is the twin's:

state ``x = [i, v, trim, T, s]``

- ``i``: armature current, ``L di/dt = V - R(T) i - k v`` with
  ``R(T) = R20 (1 + alpha_Cu (T - 20 C))``;
- ``v``: belt (= drive-roller surface) speed, one mass
  ``m = m_drive + m_belt``: ``m dv/dt = k i - c v - F_c tanh(v / v_eps)``
  where ``c`` is drive plus deck viscous drag and ``F_c`` drive plus empty
  deck dry friction. The dry friction is smoothed with ``tanh`` over a speed
  band ``v_eps = 1 mm/s`` (the twin holds it exactly, with stiction at
  rest); the smoothing changes the running force by less than 1e-12 of
  ``F_c`` above 15 mm/s and only lets the belt creep at about a millimetre
  per second while the armature current builds up from rest;
- ``trim``: the board's integral trim on the tach speed error,
  ``d trim/dt = g (ref - tach)``, frozen while ramping, while the converter
  saturates in the direction of the error or while the tach has no reading
  (no two pulses yet, or timed out) or a stale one (no pulse for twice the
  last pulse period), clamped to its limit;
- ``T``: winding temperature, ``tau dT/dt = T_amb + R(T) i^2 R_th - T``;
- ``s``: drive-roller surface travel, for the tach.

The board: the speed command is latched every ``command_update_period_s``,
clipped to the machine's speed range and quantised; the reference ramps to
it at ``accel``/``decel`` (a continuous ramp, where the twin moves it once per
physics step); the armature voltage is
``k ref + ir_comp i + trim``, clipped by the current limit
(``emf +/- R I_lim``) and by the converter's range (``0 .. duty_max *
bus`` for a one- or two-quadrant converter). A one-quadrant converter
cannot carry negative current: when the current reaches zero with the
voltage below the back-EMF, the diode blocks it (a state of its own, left
when the voltage rises above the back-EMF again). The tach pulses every
``2 pi r / pulses_per_turn`` of roller travel (exact crossing times from
solve_ivp's event location) and the board's estimate is
``pitch / max(last - previous, now - last)``, zero before two pulses or
after the timeout, as on the board; pulses found inside a tick count from
the instant they happen (each one ends an integration piece).

The board is off until the first command is latched, and goes idle (trim
reset) once target and reference are zero and the belt is below the stop
threshold; both are decided at the start of each piece.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from treadtwin.controllers.interface import BeltDirection, Command, DriveMode
from treadtwin.sim.machine import Machine

#: Copper resistance temperature coefficient, 1/K (IEC 60228 annealed copper).
ALPHA_COPPER_PER_K = 0.00393
#: Temperature at which the armature resistance is specified, C.
R_SPEC_TEMP_C = 20.0
#: Speed band of the tanh-smoothed dry friction, m/s.
COULOMB_SMOOTHING_MPS = 1e-3

#: Offsets of the diode events (A and V): a piece never starts on an event surface.
_EVENT_HAIR_A = 1e-12
_EVENT_HAIR_V = 1e-9

CURRENT, V, TRIM, TEMP, POS = range(5)
STATE_NAMES = ("motor_current_a", "belt_speed_mps", "board_trim_v", "motor_temp_c",
               "drive_travel_m")


@dataclass(frozen=True)
class PlantParams:
    """Everything the empty-belt plant needs, derived here from the machine's parts."""

    r20_ohm: float
    inductance_h: float
    k_v_per_mps: float  # back-EMF per belt speed = force per ampere at the belt
    mass_kg: float  # drive side (rotor, flywheel, front roller) + belt side (belt, rear roller)
    viscous_n_per_mps: float
    coulomb_n: float
    ambient_c: float
    thermal_resistance_k_per_w: float
    thermal_tau_s: float
    speed_min_mps: float
    speed_max_mps: float
    speed_step_mps: float
    latch_period_s: float
    accel_mps2: float
    decel_mps2: float
    ir_comp_ohm: float
    trim_gain_v_per_m: float
    trim_limit_v: float
    current_limit_a: float
    duty_max: float
    quadrants: int
    bus_v: float
    tach_pitch_m: float
    tach_timeout_s: float
    stop_speed_mps: float
    bidirectional: bool

    @classmethod
    def from_machine(cls, machine: Machine) -> PlantParams:
        """Lump a motorized machine's part parameters (computed here, not by the twin)."""
        mo, be, dr, se = machine.motor, machine.belt, machine.drive, machine.sensors
        if mo.torque_constant_nm_per_a <= 0.0:
            raise ValueError(f"{machine.name}: the reference plant is for motorized machines")
        r = be.roller_radius_m
        gear = mo.pulley_ratio / r  # motor rad/s per m/s of belt
        m_drive = (mo.motor_inertia_kgm2 + mo.flywheel_inertia_kgm2) * gear**2 \
            + be.front_roller_inertia_kgm2 / r**2
        m_belt = be.belt_mass_kg + be.rear_roller_inertia_kgm2 / r**2
        return cls(
            r20_ohm=mo.armature_resistance_ohm,
            inductance_h=mo.armature_inductance_h,
            k_v_per_mps=mo.torque_constant_nm_per_a * gear,
            mass_kg=m_drive + m_belt,
            viscous_n_per_mps=be.drive_viscous_n_per_mps + be.deck_viscous_n_per_mps,
            coulomb_n=be.drive_coulomb_n + be.deck_drag_empty_n,
            ambient_c=mo.ambient_temp_c,
            thermal_resistance_k_per_w=mo.thermal_resistance_k_per_w,
            thermal_tau_s=mo.thermal_time_constant_s,
            speed_min_mps=dr.speed_min_mps,
            speed_max_mps=dr.speed_max_mps,
            speed_step_mps=dr.command_speed_step_mps,
            latch_period_s=dr.command_update_period_s,
            accel_mps2=dr.accel_mps2,
            decel_mps2=dr.decel_mps2,
            ir_comp_ohm=dr.ir_comp_ohm,
            trim_gain_v_per_m=dr.tach_trim_gain_v_per_m,
            trim_limit_v=dr.tach_trim_limit_v,
            current_limit_a=dr.current_limit_a,
            duty_max=dr.armature_duty_max,
            quadrants=int(dr.quadrants),
            bus_v=dr.bus_supply_v,
            tach_pitch_m=2.0 * math.pi * r / se.tach_pulses_per_roller_turn,
            tach_timeout_s=se.tach_timeout_s,
            stop_speed_mps=dr.stop_speed_threshold_mps,
            bidirectional=bool(machine.bidirectional),
        )


@dataclass
class BoardInputs:
    """What the right-hand side needs besides the state, fixed over one integration piece."""

    ramp_t0_s: float = 0.0  # the reference is ref0 at ramp_t0 and ramps toward target
    ref0_mps: float = 0.0
    target_mps: float = 0.0
    enabled: bool = False
    blocked: bool = True  # a one-quadrant converter's diode holds the current at zero
    last_pulse_s: float = math.nan
    previous_pulse_s: float = math.nan


def board_target(p: PlantParams, command: Command) -> float:
    """The signed target the board latches for a command: clipped to the range, quantised."""
    if command.mode == DriveMode.STOP:
        return 0.0
    speed = min(command.belt_speed_mps, p.speed_max_mps)
    if speed > 0.0:
        speed = max(speed, p.speed_min_mps)
    if p.speed_step_mps > 0.0:
        speed = math.floor(speed / p.speed_step_mps + 0.5) * p.speed_step_mps
    reverse = command.belt_direction == BeltDirection.REVERSE and p.bidirectional
    return -speed if reverse else speed


def reference_speed(t: float, p: PlantParams, u: BoardInputs) -> float:
    """The board's ramped speed reference at ``t`` (continuous ramp)."""
    delta = u.target_mps - u.ref0_mps
    if delta == 0.0:
        return u.target_mps
    slowing = (u.ref0_mps > 0.0 and delta < 0.0) or (u.ref0_mps < 0.0 and delta > 0.0)
    rate = p.decel_mps2 if slowing else p.accel_mps2
    moved = rate * (t - u.ramp_t0_s)
    if moved >= abs(delta):
        return u.target_mps
    return u.ref0_mps + math.copysign(moved, delta)


def tach_speed(t: float, p: PlantParams, u: BoardInputs) -> float:
    """The board's tach estimate (magnitude) at ``t``."""
    last, prev = u.last_pulse_s, u.previous_pulse_s
    if last != last or prev != prev or t - last > p.tach_timeout_s:
        return 0.0
    period = max(last - prev, t - last)
    return p.tach_pitch_m / period if period > 0.0 else 0.0


def resistance(p: PlantParams, temp_c: float) -> float:
    return p.r20_ohm * (1.0 + ALPHA_COPPER_PER_K * (temp_c - R_SPEC_TEMP_C))


def board_voltage(t: float, x, p: PlantParams, u: BoardInputs):
    """Armature voltage, and the trim's rate, at ``(t, x)``; (0, 0) with the board off."""
    if not u.enabled:
        return 0.0, 0.0
    i, v, trim = x[CURRENT], x[V], x[TRIM]
    r = resistance(p, x[TEMP])
    ref = reference_speed(t, p, u)
    emf = p.k_v_per_mps * v
    want = p.k_v_per_mps * ref + p.ir_comp_ohm * i + trim
    volts = min(want, emf + r * p.current_limit_a)
    if p.quadrants >= 2:
        volts = max(volts, emf - r * p.current_limit_a)
    v_max = p.duty_max * p.bus_v
    volts = min(max(volts, -v_max if p.quadrants == 4 else 0.0), v_max)
    direction = (ref > 0.0) - (ref < 0.0)
    tach = tach_speed(t, p, u)
    error = ref - direction * tach
    # Anti-windup: no trimming while ramping, while the converter saturates in the
    # error's direction (a 1-quadrant converter whose diode blocks cannot brake), or
    # while the tach has no reading or a stale one (no pulse for twice the last period).
    blind = tach == 0.0 or not (t - u.last_pulse_s < 2.0 * (u.last_pulse_s - u.previous_pulse_s))
    diode_blocked = p.quadrants == 1 and want < emf and i <= 0.0  # coasting, cannot brake
    frozen = (ref != u.target_mps or (volts < want and error > 0.0)
              or ((volts > want or diode_blocked) and error < 0.0) or blind)
    dtrim = 0.0 if frozen else p.trim_gain_v_per_m * error
    if (trim >= p.trim_limit_v and dtrim > 0.0) or (trim <= -p.trim_limit_v and dtrim < 0.0):
        dtrim = 0.0
    return volts, dtrim


def rhs(t: float, x, p: PlantParams, u: BoardInputs) -> list[float]:
    """``dx/dt`` of the empty-belt motorized plant."""
    i, v, temp = x[CURRENT], x[V], x[TEMP]
    r = resistance(p, temp)
    volts, dtrim = board_voltage(t, x, p, u)
    di = 0.0 if u.blocked else (volts - r * i - p.k_v_per_mps * v) / p.inductance_h
    force = (p.k_v_per_mps * i - p.viscous_n_per_mps * v
             - p.coulomb_n * math.tanh(v / COULOMB_SMOOTHING_MPS))
    dtemp = (p.ambient_c + r * i * i * p.thermal_resistance_k_per_w - temp) / p.thermal_tau_s
    return [di, force / p.mass_kg, dtrim, dtemp, abs(v)]


def _diode_can_block(p: PlantParams, u: BoardInputs) -> bool:
    # One quadrant (or board off, switches open): only a forward current can flow.
    return p.quadrants == 1 or not u.enabled


@dataclass
class ReferenceResult:
    """Samples at the end of every tick (as the twin's trace rows), and cost."""

    t_s: np.ndarray
    belt_speed_mps: np.ndarray
    motor_current_a: np.ndarray
    motor_voltage_v: np.ndarray
    board_ref_mps: np.ndarray
    board_trim_v: np.ndarray
    motor_temp_c: np.ndarray
    belt_speed_meas_mps: np.ndarray
    tach_pulse_count: int
    solver_calls: int
    rhs_evaluations: int
    wall_time_s: float

    @property
    def sim_time_s(self) -> float:
        return float(self.t_s[-1]) if len(self.t_s) else 0.0

    @property
    def real_time_factor(self) -> float:
        return self.sim_time_s / self.wall_time_s if self.wall_time_s > 0 else math.inf


class ReferencePlant:
    """The empty-belt plant of one machine, integrated tick by tick with ``solve_ivp``.

    Parameters
    ----------
    machine:
        A motorized preset (``treadtwin.sim.presets.preset(...)``).
    method, rtol, atol:
        Passed to ``solve_ivp``.
    """

    def __init__(self, machine: Machine, method: str = "RK45", rtol: float = 1e-6,
                 atol: float | list[float] | None = None) -> None:
        self.params = PlantParams.from_machine(machine)
        self.method = method
        self.rtol = rtol
        # i [A], v [m/s], trim [V], T [C], travel [m]
        self.atol = atol if atol is not None else [1e-6, 1e-8, 1e-6, 1e-6, 1e-8]

    def run(self, command_at: Callable[[float], Command], duration_s: float,
            tick_s: float = 0.01) -> ReferenceResult:
        """Run from rest for ``duration_s``; ``command_at(t)`` is the command sent at tick t."""
        p = self.params
        n_ticks = int(round(duration_s / tick_s))
        x = np.array([0.0, 0.0, 0.0, p.ambient_c, 0.0])
        u = BoardInputs()
        next_latch = 0.0
        next_pulse_pos = p.tach_pitch_m
        pulses = 0
        calls = 0
        nfev = 0
        out = np.empty((n_ticks, 8))
        command = Command()
        stalled = 0

        def pulse_event(t, y, *args):
            return y[POS] - next_pulse_pos
        pulse_event.terminal = True
        pulse_event.direction = 1.0

        # The diode events are offset by a hair so that a piece never starts on one.
        def current_zero(t, y, *args):
            return y[CURRENT] + _EVENT_HAIR_A
        current_zero.terminal = True
        current_zero.direction = -1.0

        def diode_unblocks(t, y, *args):
            volts, _ = board_voltage(t, y, p, u)
            return volts - p.k_v_per_mps * y[V] - _EVENT_HAIR_V
        diode_unblocks.terminal = True
        diode_unblocks.direction = 1.0

        wall0 = time.perf_counter()
        for k in range(n_ticks):
            t = k * tick_s
            t_tick_end = (k + 1) * tick_s
            command = command_at(t)
            while t < t_tick_end - 1e-12:
                if t >= next_latch - 1e-12:  # the board latches the command
                    u.ref0_mps = reference_speed(t, p, u)
                    u.ramp_t0_s = t
                    u.target_mps = board_target(p, command)
                    next_latch = t + p.latch_period_s if p.latch_period_s > 0 else math.inf
                # board enable / idle, as the board decides it
                ref_now = reference_speed(t, p, u)
                if u.target_mps != 0.0 or ref_now != 0.0:
                    u.enabled = True
                elif abs(x[V]) < p.stop_speed_mps and u.enabled:
                    u.enabled = False
                    x[TRIM] = 0.0
                # Converter: the diode state changes only at its events (current down to
                # zero; voltage up past the back-EMF); a converter that can reverse the
                # current has no such state.
                if not _diode_can_block(p, u):
                    u.blocked = False
                events = [pulse_event]
                if _diode_can_block(p, u):
                    events.append(diode_unblocks if u.blocked else current_zero)
                t_end = min(t_tick_end, next_latch)
                sol = solve_ivp(rhs, (t, t_end), x, method=self.method, rtol=self.rtol,
                                atol=self.atol, events=events, args=(p, u))
                calls += 1
                nfev += sol.nfev
                if sol.status < 0:
                    raise RuntimeError(f"solve_ivp failed at t = {t:.4f} s: {sol.message}")
                t_new = float(sol.t[-1])
                x = sol.y[:, -1].copy()
                if sol.status == 1:  # a terminal event
                    if len(sol.t_events[0]):  # tach pulse
                        u.previous_pulse_s = u.last_pulse_s
                        u.last_pulse_s = t_new
                        next_pulse_pos += p.tach_pitch_m
                        pulses += 1
                    elif u.blocked:
                        u.blocked = False
                    else:
                        x[CURRENT] = 0.0
                        u.blocked = True
                    stalled = stalled + 1 if t_new <= t else 0
                    if stalled > 3:
                        raise RuntimeError(f"events keep firing at t = {t!r} s without progress")
                t = t_new
            volts, _ = board_voltage(t_tick_end, x, p, u)  # what the board applies
            out[k] = (t_tick_end, x[V], x[CURRENT], volts, reference_speed(t_tick_end, p, u),
                      x[TRIM], x[TEMP], tach_speed(t_tick_end, p, u))
        wall = time.perf_counter() - wall0
        return ReferenceResult(
            t_s=out[:, 0], belt_speed_mps=out[:, 1], motor_current_a=out[:, 2],
            motor_voltage_v=out[:, 3], board_ref_mps=out[:, 4], board_trim_v=out[:, 5],
            motor_temp_c=out[:, 6], belt_speed_meas_mps=out[:, 7], tach_pulse_count=pulses,
            solver_calls=calls, rhs_evaluations=nfev, wall_time_s=wall)
