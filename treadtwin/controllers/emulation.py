"""Emulation of manual, curved and sled treadmills on a motorized one.

A walker who pushes a switched-off motorized treadmill ("deadmill") back-drives
its motor, which then regenerates into a board not built for it
(the kinds of treadmill in the backward-walking guides, docs/references.md). Emulation keeps the
drive in control: the controller decides the belt speed from what the walker
does, and the drive makes it, braking (and dumping into its brake resistor)
where the emulated machine would absorb the walker's work. Each controller
wraps an inner controller (a program) that gives the incline and the
resistance level, and sends the belt speed itself.

Manual and sled: admittance on the walker's push
------------------------------------------------
:class:`ManualEmulator` makes the belt behave as a belt of mass ``M`` with the
emulated machine's resistance ``F_res(v) = F_dry + c v`` (dry drag, deck
friction on the walker's load and a pad brake; viscous drag and an
eddy-current brake, both scaled by the command's ``resistance_level``). The
walker's fore-aft force on the belt is not measured directly: it is what the
motor does not have to do. With the belt at speed ``v``

    F_walker = m_r a + F_fric(v, load) - k i                            (1)

where ``k i`` is the motor's force (force constant times the measured
current) and ``F_fric`` the drive's own friction (dry, viscous and deck
friction on the walker's load from the force-sensing deck, or the user's
weight entered at the console). The controller leaves out ``m_r a``, the
drive's own inertia (motor, flywheel, rollers and belt referred to the belt,
``m_r``), which the current carries, so the walker feels ``m_r`` plus the
mass the controller integrates, ``m_add = M - m_r``:

    m_add dv/dt = LP[F_fric(v) - k i] - F_res(v)                         (2)

``LP`` is a first-order low-pass of ``force_filter_s`` (0.5 s, about a
step [U]): it takes out most of the foot-strike ripple (the fore-aft force
swings by about +-0.2 body weights within each step, Winter [M]; see
docs/references.md), so the belt follows the stride-average push within the
acceleration limits (0.5 m/s^2 both ways, the supervisor's default; a
symmetric limit clips what ripple is left evenly, and still biases the
walker's stride-average force by +2 to +3 % on the twin). ``M`` cannot be
below ``m_r``: inertia the controller cannot measure it cannot take away.

Stability. The drive answers a speed command after an effective delay ``T``
(command latch, the board's speed loop, the current filter), and its inertial
reaction ``m_r a`` comes back through (1). The loop gain of (2) at frequencies
well above ``c / m_add`` is

    L(jw) = (m_r / m_add) e^(-jwT) / (1 + jw tau)                        (3)

which reaches -180 degrees at ``w*`` with ``w* T + atan(w* tau) = pi``. The
loop oscillates when ``|L(jw*)| >= 1``, so the smallest stable added mass is
``m_r / sqrt(1 + (w* tau)^2)``; the controller refuses less than twice that
(6 dB of gain margin [U]). Without the filter (``tau -> 0``) the bound is
``m_add > m_r``, the small-gain limit. ``T`` is a property of the drive
(:class:`DriveModel`), measured on the twin by bisection on ``m_add`` under a
constant 200 N push (benchmarks/control_quality.md, to be done the same way
on hardware): ``club-motorized`` (speed floor removed) follows (3) with
``T = 0.06 s``; ``instrumented``, whose fast servo has a resonance that a
pure delay describes less well, stays at or below (3) with ``T = 0.15 s``.
For tau 0.1-0.5 s the measured threshold is at most 8 % above the model's
(tau 0.1 s) and otherwise below it, so the refusal at twice the model keeps
at least a factor 1.85 from it.

A drive must also brake (two or more quadrants: the walker's push beyond the
emulated resistance is power to absorb) and run down to zero speed (a drive
with a lowest speed lets a belt the walker starts move unmeasured and
uncontrolled below it: the deadmill again); :class:`ManualEmulationParams`
refuses a drive that cannot. The push is estimated only while the tach
shows the belt moving (kinetic friction): at rest the belt's static friction
takes an unknown share, so the belt starts when the walker's push overcomes
the *real* belt's static friction, whatever the emulated machine's (on the
twin, 15 N + 0.2 x the load, 152 N for 70 kg, against 49 N on
``manual-flat``). A belt the emulated machine would hold but the walker has
moved is braked back by the drive (a command of one speed step keeps the
board engaged; a zero would idle it and leave the belt free).

:class:`SledEmulator` is the same law with the backward sled's numbers on the
sled's fixed grade: the walker faces the rear, the deck is raised to 8
degrees (the backward-walking guides [C]) and the belt moves towards the rear (the
rear of the walker's travel, which is towards the console) only while the
walker's push beats the pad brake. The belt is held until the lift has
reached the grade. The walker's weight along the deck (``W sin(theta)``) is
part of its push, as on the real sled, where the dry resistance (deck
friction and pad) holds a walker who only stands.

Curved: acceleration follows the walker's position
--------------------------------------------------
On a curved treadmill the walker's weight on the rising front of the curve
drives the belt: a walker further forward, on steeper slats, speeds it up;
one who drops back slows it (the guides: "speed emerges from foot
position" [C]). :class:`CurvedEmulator` does the same with a virtual curve
read by the distance sensor at the console:

    dv/dt = w_c^2 (p_ref - p) - 2 zeta w_c dp/dt                          (4)

The first term is the slope of the curve ahead of its lowest point
``p_ref``; the second damps the walker's motion along the deck. With
``dp/dt = v - u`` (``u`` the walker's own speed) the walker's place obeys
``e'' + 2 zeta w_c e' + w_c^2 e = -du/dt``: whatever the speed, level or on a
grade, the walker settles at ``p_ref`` and the belt at the walker's speed. A
change of pace ``du`` moves the walker by at most ``0.46 s x du`` with the
defaults (``w_c = 0.6 rad/s``, ``zeta = 1.5``: overdamped, so that the belt
does not overshoot the walker's speed, which on the twin makes the walker
stumble) before the belt catches up. It is robust because the sensor sees the
walker itself, not a force through the drive. Position and rate come through
one low-pass (the rate is ``(p - p_f) / tau``), so the loop is
``(w_c^2 + 2 zeta w_c s) e^(-sT) / (s^2 (1 + tau s))``. Unlike a real curve, where
the belt's friction makes a faster walker settle further up the slope, the
damping acts on the walker's motion, so there is no speed-dependent offset.
The parameters are refused when the loop through the position filter and
the drive's delay ``T`` has less than 30 degrees of phase margin [U].
Related: the self-paced controller (:mod:`.self_paced`) sets the *speed*
from the position; here the position sets the *acceleration*, so the belt
has the inertia of a curved belt and starts and stops with the walker.

Numbers marked [U] are assumptions; the emulated machines' numbers are the
twin's presets (``manual-flat``, ``backward-sled``), themselves placeholders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .belt_command import BeltCommand
from .estimation import DRIVE_STOPPING_FAULTS
from .interface import BeltDirection, Command, Controller, DriveMode, Telemetry
from .units import STANDARD_GRAVITY_MPS2
from .validation import check_range

#: A tach reading above this means the belt slides on the deck (kinetic friction applies).
MOVING_ABOVE_MPS = 0.0
#: Gain margin demanded of the admittance loop (2 = 6 dB) [U].
ADMITTANCE_GAIN_MARGIN = 2.0
#: Phase margin demanded of the curved loop, degrees [U].
CURVED_PHASE_MARGIN_DEG = 30.0
#: The backward sled's deck: 8 degrees (the backward-walking guides [C]) as a grade.
SLED_GRADE_PCT = 100.0 * math.tan(math.radians(8.0))
#: The sled's belt stays held until the lift is this close to the grade.
SLED_GRADE_TOLERANCE_PCT = 0.5


def _check_all(owner: object, ranges: dict[str, tuple[float, float]]) -> None:
    for name, (lo, hi) in ranges.items():
        check_range(type(owner).__name__, name, getattr(owner, name), lo, hi)


@dataclass(frozen=True, slots=True)
class DriveModel:
    """What an emulation must know of the motorized treadmill under it.

    From the data sheet, a run-down test (friction, inertia) and a stability
    sweep (``response_delay_s``, see the module docstring). Forces at the
    belt surface; ``quadrants`` as the drive's converter (1 cannot brake).
    """

    force_constant_n_per_a: float  # 0.1..1000 N/A: motor force at the belt per ampere
    inertia_kg: float  # 0.1..5000 kg: motor, flywheel, rollers and belt at the belt surface
    drag_n: float  # 0..1000 N: dry friction of the drive side and the empty deck
    viscous_n_per_mps: float  # 0..1000 N/(m/s)
    deck_friction_coeff: float  # 0..1: deck friction per newton of walker load
    response_delay_s: float = 0.15  # 0.001..2 s: effective delay, command to drive force
    speed_min_mps: float = 0.0  # 0..5 m/s: the board's lowest non-zero speed
    hold_speed_mps: float = 0.001  # 0.001..0.1 m/s: sent to brake to rest (its command step)
    quadrants: int = 4  # 1, 2 or 4

    def __post_init__(self) -> None:
        _check_all(self, {"force_constant_n_per_a": (0.1, 1000.0), "inertia_kg": (0.1, 5000.0),
                          "drag_n": (0.0, 1000.0), "viscous_n_per_mps": (0.0, 1000.0),
                          "deck_friction_coeff": (0.0, 1.0), "response_delay_s": (0.001, 2.0),
                          "speed_min_mps": (0.0, 5.0), "hold_speed_mps": (0.001, 0.1)})
        if self.quadrants not in (1, 2, 4):
            raise ValueError(f"DriveModel.quadrants = {self.quadrants!r} is not one of 1, 2, 4")

    def friction_n(self, speed_mps: float, load_n: float) -> float:
        """The drive's own friction on a moving belt under a walker's load."""
        return (self.drag_n + self.deck_friction_coeff * max(load_n, 0.0)
                + self.viscous_n_per_mps * speed_mps)

    def min_added_mass_kg(self, force_filter_s: float) -> float:
        """Smallest integrated mass for which the admittance loop (3) does not oscillate."""
        delay, tau = self.response_delay_s, force_filter_s
        lo, hi = 0.0, math.pi / delay  # w T + atan(w tau) rises from 0 through pi in here
        for _ in range(60):
            w = 0.5 * (lo + hi)
            lo, hi = (w, hi) if w * delay + math.atan(w * tau) < math.pi else (lo, w)
        return self.inertia_kg / math.sqrt(1.0 + (lo * tau) ** 2)


def _check_resistance_drive(owner: str, drive: DriveModel) -> None:
    """A drive that cannot brake or cannot run down to zero cannot emulate a resisting belt."""
    if drive.quadrants < 2:
        raise ValueError(f"{owner}.drive.quadrants = 1: a drive that cannot brake cannot absorb"
                         " the walker's push; allowed: 2 or 4")
    if drive.speed_min_mps > 0.0:
        raise ValueError(f"{owner}.drive.speed_min_mps = {drive.speed_min_mps:g}: below it the"
                         " belt would move uncontrolled; allowed: 0")


#: Ranges of the admittance parameters (both machines).
_ADMITTANCE_RANGES = {
    "virtual_mass_kg": (1.0, 5000.0), "drag_n": (0.0, 1000.0), "viscous_n_per_mps": (0.0, 1000.0),
    "deck_friction_coeff": (0.0, 1.0), "eddy_max_n_per_mps": (0.0, 2000.0),
    "pad_max_n": (0.0, 2000.0), "user_mass_kg": (20.0, 250.0), "force_filter_s": (0.1, 5.0),
    "speed_max_mps": (0.1, 6.0), "accel_max_mps2": (0.05, 10.0), "decel_max_mps2": (0.05, 10.0),
}


def _check_admittance(params: ManualEmulationParams | SledEmulationParams) -> None:
    owner = type(params).__name__
    _check_all(params, _ADMITTANCE_RANGES)
    _check_resistance_drive(owner, params.drive)
    drive = params.drive
    least = drive.inertia_kg + ADMITTANCE_GAIN_MARGIN * drive.min_added_mass_kg(
        params.force_filter_s)
    if params.virtual_mass_kg < least:
        raise ValueError(
            f"{owner}.virtual_mass_kg = {params.virtual_mass_kg:g} is below what this drive"
            f" emulates stably with force_filter_s = {params.force_filter_s:g} s (its own"
            f" {drive.inertia_kg:.1f} kg plus margin); allowed: {least:.1f}..5000")


@dataclass(frozen=True, slots=True)
class ManualEmulationParams:
    """A manual (non-motorized) flat treadmill to emulate, and the drive that emulates it.

    Defaults are the twin's ``manual-flat`` preset: 39.2 kg at the belt
    (flywheel 0.05 kg m^2 on a 40 mm roller, rollers and belt), 15 N of dry
    drag, 3 N/(m/s) viscous, deck friction 0.05 of the load and an
    eddy-current brake of 80 N/(m/s) at full resistance, all [U] there.
    """

    drive: DriveModel
    virtual_mass_kg: float = 39.2  # mass the walker feels; at least the drive's own
    drag_n: float = 15.0  # dry drag of the emulated belt
    viscous_n_per_mps: float = 3.0
    deck_friction_coeff: float = 0.05  # per newton of walker load
    eddy_max_n_per_mps: float = 80.0  # eddy-current brake at resistance_level 1
    pad_max_n: float = 0.0  # friction (pad) brake at resistance_level 1
    user_mass_kg: float = 70.0  # the weight entered at the console (no force deck)
    force_filter_s: float = 0.5  # [U] about a step: smooths the foot-strike ripple
    speed_max_mps: float = 2.5  # [U] a manual treadmill is walked, not sprinted, here
    accel_max_mps2: float = 0.5  # [U] within the supervisor's default 0.5 m/s^2
    decel_max_mps2: float = 0.5  # [U] equal to accel: clips the ripple left evenly

    def __post_init__(self) -> None:
        _check_admittance(self)


@dataclass(frozen=True, slots=True)
class SledEmulationParams:
    """The backward sled to emulate, and the drive that emulates it.

    Resistances are the twin's ``backward-sled`` preset (15 N dry drag, deck
    friction 0.2 of the load, 40 N/(m/s) eddy and 250 N pad brake at full
    resistance, all [U] there). Its belt is 14 kg at the surface, less than
    the instrumented drive's own 16 kg, so the default mass is 30 kg [U].
    The speed cap is the backward-walking 2.5 mph (the backward-walking guides [C]).
    """

    drive: DriveModel
    virtual_mass_kg: float = 30.0
    drag_n: float = 15.0
    viscous_n_per_mps: float = 3.0
    deck_friction_coeff: float = 0.2
    eddy_max_n_per_mps: float = 40.0
    pad_max_n: float = 250.0
    user_mass_kg: float = 70.0
    force_filter_s: float = 0.5
    speed_max_mps: float = 1.12  # 2.5 mph
    accel_max_mps2: float = 0.5
    decel_max_mps2: float = 0.5
    deck_incline_pct: float = SLED_GRADE_PCT  # 0..50 %: the sled's fixed grade (8 degrees)

    def __post_init__(self) -> None:
        _check_admittance(self)
        check_range(type(self).__name__, "deck_incline_pct", self.deck_incline_pct, 0.0, 50.0)


class ManualEmulator:
    """Belt speed from the walker's push on a virtual manual belt (see the module docstring).

    ``inner`` gives the incline and the ``resistance_level``; its speed is
    ignored (the walker moves the belt). After each tick ``speed_mps`` is the
    virtual belt's speed, ``force_n`` the filtered push estimate and
    ``resistance_n`` the emulated resistance.
    """

    def __init__(self, inner: Controller,
                 params: ManualEmulationParams | SledEmulationParams) -> None:
        self.inner = inner
        self.params = params
        self.period_s = inner.period_s
        self.added_mass_kg = params.virtual_mass_kg - params.drive.inertia_kg
        self.speed_mps = 0.0  # the virtual belt
        self.force_n = 0.0  # the filtered push estimate
        self.resistance_n = 0.0  # the emulated resistance at the last tick
        self._out = BeltCommand()

    def _incline_pct(self, base: Command) -> float:
        return base.incline_pct

    def _held(self, telemetry: Telemetry, incline_pct: float) -> bool:
        return False

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        base = self.inner.tick(now_s, dt_s, telemetry)
        if base is None:
            return None
        p = self.params
        drive = p.drive
        incline = self._incline_pct(base)
        grade = telemetry.incline_pct if telemetry.incline_pct is not None else incline
        load = telemetry.deck_force_n
        if load is None:
            load = p.user_mass_kg * STANDARD_GRAVITY_MPS2 * math.cos(math.atan(grade / 100.0))
        level = base.resistance_level
        dry = p.drag_n + p.deck_friction_coeff * load + level * p.pad_max_n
        viscous = p.viscous_n_per_mps + level * p.eddy_max_n_per_mps
        stopped = (bool(telemetry.faults & DRIVE_STOPPING_FAULTS)
                   or telemetry.motor_current_a is None)
        if stopped or self._held(telemetry, incline):
            self.speed_mps = self.force_n = 0.0  # no drive, or not ready: nothing to emulate
        else:
            # Only a moving belt shows the push: at rest, static friction takes an unknown share.
            belt = telemetry.belt_speed_mps
            push = 0.0
            if belt > MOVING_ABOVE_MPS:
                push = (drive.friction_n(belt, load)
                        - drive.force_constant_n_per_a * telemetry.motor_current_a)
            self.force_n += (push - self.force_n) * min(dt_s / p.force_filter_s, 1.0)
            self.speed_mps = self._advance(self.speed_mps, self.force_n, dry, viscous, dt_s)
        self.resistance_n = dry + viscous * self.speed_mps if self.speed_mps > 0.0 else 0.0
        speed = 0.0
        if not stopped and (self.speed_mps > 0.0 or telemetry.belt_speed_mps > MOVING_ABOVE_MPS):
            # Never less than the hold speed while the belt moves: a belt the emulated machine
            # would hold is braked by the drive (a zero would idle the board and leave the
            # belt free); at rest, static friction holds it.
            speed = max(self.speed_mps, drive.hold_speed_mps)
        return self._out.command(speed, base, incline_pct=incline,
                                 direction=BeltDirection.FORWARD, mode=DriveMode.NORMAL)

    def _advance(self, v: float, force: float, dry: float, viscous: float, dt_s: float) -> float:
        """One step of (2): dry resistance holds a belt at rest and never reverses it."""
        p = self.params
        m = self.added_mass_kg
        if v <= 0.0 and force <= dry:
            return 0.0
        wanted = max((v + dt_s * (force - dry) / m) / (1.0 + dt_s * viscous / m), 0.0)
        wanted = min(max(wanted, v - p.decel_max_mps2 * dt_s), v + p.accel_max_mps2 * dt_s)
        return min(wanted, p.speed_max_mps)


class SledEmulator(ManualEmulator):
    """The backward sled: :class:`ManualEmulator` on the sled's fixed grade, with the belt
    held until the lift has reached it."""

    def __init__(self, inner: Controller, params: SledEmulationParams) -> None:
        super().__init__(inner, params)

    def _incline_pct(self, base: Command) -> float:
        return self.params.deck_incline_pct

    def _held(self, telemetry: Telemetry, incline_pct: float) -> bool:
        reading = telemetry.incline_pct
        return reading is not None and abs(reading - incline_pct) > SLED_GRADE_TOLERANCE_PCT


def curved_phase_margin_deg(curve_frequency_per_s: float, damping_ratio: float,
                            position_filter_s: float, delay_s: float) -> float:
    """Phase margin of the curved loop (4) through the position filter and the drive's delay.

    Open loop from the belt back to itself: ``(2 zeta w s + w^2) / s^2`` times
    ``e^(-sT) / (1 + s tau)``; its gain falls with frequency, so the crossover is
    found by bisection.
    """
    w, z, tau = curve_frequency_per_s, damping_ratio, position_filter_s

    def gain(x: float) -> float:
        return math.hypot(w * w, 2.0 * z * w * x) / (x * x * math.hypot(1.0, x * tau))

    lo, hi = 1e-6, 1e6
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if gain(mid) > 1.0 else (lo, mid)
    x = lo
    phase = -math.pi + math.atan2(2.0 * z * w * x, w * w) - x * delay_s - math.atan(x * tau)
    return math.degrees(phase + math.pi)


@dataclass(frozen=True, slots=True)
class CurvedEmulationParams:
    """The virtual curve (4) and its limits."""

    reference_position_m: float = 1.0  # 0.1..3 m from the front: the bottom of the curve
    curve_frequency_per_s: float = 0.6  # [U] 0.05..5 rad/s: w_c, how steep the curve is
    damping_ratio: float = 1.5  # [U] 0.3..3: zeta; overdamped, so the belt does not overshoot
    position_filter_s: float = 0.1  # [U] 0.01..2 s: smooths the sway of the steps
    speed_max_mps: float = 2.5  # 0.1..6 m/s
    accel_max_mps2: float = 0.5  # [U] 0.05..10, within the supervisor's default
    decel_max_mps2: float = 0.5  # [U] 0.05..10
    response_delay_s: float = 0.15  # 0.001..2 s: the drive's, as DriveModel.response_delay_s

    def __post_init__(self) -> None:
        _check_all(self, {"reference_position_m": (0.1, 3.0),
                          "curve_frequency_per_s": (0.05, 5.0), "damping_ratio": (0.3, 3.0),
                          "position_filter_s": (0.01, 2.0), "speed_max_mps": (0.1, 6.0),
                          "accel_max_mps2": (0.05, 10.0), "decel_max_mps2": (0.05, 10.0),
                          "response_delay_s": (0.001, 2.0)})
        margin = curved_phase_margin_deg(self.curve_frequency_per_s, self.damping_ratio,
                                         self.position_filter_s, self.response_delay_s)
        if margin < CURVED_PHASE_MARGIN_DEG:
            raise ValueError(
                f"CurvedEmulationParams.curve_frequency_per_s = {self.curve_frequency_per_s:g}"
                f" leaves {margin:.0f} degrees of phase margin with position_filter_s ="
                f" {self.position_filter_s:g} s and a {self.response_delay_s:g} s drive;"
                f" allowed: at least {CURVED_PHASE_MARGIN_DEG:g} degrees")


class CurvedEmulator:
    """Belt acceleration from the walker's position on a virtual curve (see the module
    docstring); incline and the rest from ``inner``."""

    def __init__(self, inner: Controller, params: CurvedEmulationParams | None = None) -> None:
        self.inner = inner
        self.params = params or CurvedEmulationParams()
        self.period_s = inner.period_s
        self.speed_mps = 0.0
        self._pos_m: float | None = None
        self._rate_mps = 0.0
        self._out = BeltCommand()

    @property
    def position_m(self) -> float | None:
        """The filtered walker position (m from the front), while a walker is seen."""
        return self._pos_m

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        base = self.inner.tick(now_s, dt_s, telemetry)
        if base is None:
            return None
        p = self.params
        v = self.speed_mps
        distance = telemetry.walker_distance_m
        if telemetry.faults & DRIVE_STOPPING_FAULTS:
            self.speed_mps, self._pos_m = 0.0, None
        elif distance is None:  # nobody on the curve: the belt runs down
            self._pos_m = None
            self.speed_mps = max(v - p.decel_max_mps2 * dt_s, 0.0)
        else:
            if self._pos_m is None:
                self._pos_m = distance
            # The filtered position and its rate of change, (p - p_f) / tau: one lag for both.
            self._rate_mps = (distance - self._pos_m) / p.position_filter_s
            self._pos_m += (distance - self._pos_m) * min(dt_s / p.position_filter_s, 1.0)
            w = p.curve_frequency_per_s
            accel = (w * w * (p.reference_position_m - self._pos_m)
                     - 2.0 * p.damping_ratio * w * self._rate_mps)
            accel = min(max(accel, -p.decel_max_mps2), p.accel_max_mps2)
            self.speed_mps = min(max(v + accel * dt_s, 0.0), p.speed_max_mps)
        return self._out.command(self.speed_mps, base, direction=BeltDirection.FORWARD,
                                 mode=DriveMode.NORMAL, resistance_level=0.0)

