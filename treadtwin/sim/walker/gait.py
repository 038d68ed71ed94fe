"""Gait pattern of a treadmill walker, forwards and backwards.

Pure functions and frozen dataclasses, no time stepping: given a belt speed,
a facing and a grade, :func:`gait_at` returns the gait timing and
:func:`foot_forces` the force each foot puts on the belt at any time.
Numbers and their labels ([C] confirmed, [M] textbook/memory, [D] derived or
assumed) come from the sources in docs/references.md, "Walker biomechanics and energy".

Forward versus backward (the choice, and why)
    Laufer 2005 [C] compared the two directions at *self-selected* speeds:
    backward walking is slower, with shorter strides, shorter swing and more
    double support, and the *cadence does not change*. It did not compare
    them at equal speed, and no equal-speed table exists (ref. 1.2). The
    model that reproduces all of this and keeps the kinematics closed
    (speed = step length x cadence / 60 in both directions, always) is:

    * forward: cadence from the walk ratio, C = sqrt(60 v / walk_ratio)
      (ref. 1.3 [D] on a [M] ratio), clamped to [80, 135] steps/min; step
      length = 60 v / C.
    * backward: at every cadence the steps are ``backward_step_length_factor``
      (k = 0.8) times the forward ones (ref. 1.3: 20-30 % shorter at the same
      cadence [M]). So a backward walker at belt speed v moves like a forward
      walker at the *forward-equivalent speed* v / k with every step scaled
      by k. Consequences: at self-selected speeds (backward = k x forward)
      the cadence is identical and the strides are k times shorter (Laufer
      [C]); at equal belt speed the backward walker takes shorter, quicker
      steps. k = 0.8 also puts the backward walk-run switch (1.63 m/s,
      Hreljac 2005 [C]) at the forward-equivalent 2.04 m/s, next to the
      forward switch (2.0 m/s [C]), i.e. at the same cadence: a cross-check,
      not a fit.
    * double support: forward value (22 % at 1.3 m/s [M]) falling linearly
      with speed [D]; backward adds 7.5 points [M, 5-10] at the
      forward-equivalent speed, so at self-selected speeds the difference is
      exactly that parameter.

Walk-run: above the walk-run speed of the direction, :class:`GaitState`
says ``running_required``; nothing is clipped. Leg length scales the walk
ratio (geometric similarity) and the walk-run speed (Froude similarity;
Hum Mov Sci 2023 [C]: transition near Froude 0.5) [D]; at the reference leg
length the defaults apply unchanged.

Forces (see :func:`foot_forces` for the sign convention)
    Deck-normal force of one footfall over its stance, in three smooth
    (C1) pieces: a half-cosine rise from 0 to the first hump while the other
    foot is still down (the double-support period that opens the stance), a
    cosine dip to the midstance valley and back up to the second hump, and a
    half-cosine fall to 0 during the closing double support. Because the
    leading foot's rise and the trailing foot's fall span the same interval
    with complementary ramps, the total passes smoothly from one hump to the
    next instead of piling up during double support. Hump heights are
    1 +/- ``vertical_loading_skew`` (loading hump a little higher), the
    valley is ``vertical_valley_ratio`` times their mean; the valley deepens
    with belt speed [C qualitative, Fukuchi 2019]. The whole footfall is
    scaled so it carries half the stride's impulse m g cos(theta) T; the
    shape's integral is analytic, so the stride mean is exact by
    construction (tuned result at 1.3 m/s: humps ~1.19 and ~1.10 BW, valley
    ~0.78 BW; textbook 1.1-1.2 / 0.7-0.8 [M]).
    Fore-aft per footfall: braking then propulsion, A m g sin(2 pi u) along
    the walker's facing (zero mean exactly; A = 0.20 BW at 1.3 m/s [M],
    growing with speed), plus tan(theta) times the normal force, which keeps
    the mean support force vertical: stride mean = m g sin(theta) along the
    deck; uphill this enlarges propulsion and shrinks braking, downhill the
    reverse ([M] expectation, ref. 2.3). Backward gait is the forward
    footfall time-reversed (ref. 2.2: joint angles [C], forces a working
    assumption [D/M]; toe first, heel last): the hump
    heights swap and the fore-aft curve runs backwards in time, which in
    deck coordinates again gives braking first relative to travel. Force
    shapes follow the true belt speed (backward peaks lower because backward
    speeds are lower, ref. 2.2), timing follows the forward-equivalent speed.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from treadtwin.controllers.interface import BeltDirection
from treadtwin.controllers.units import STANDARD_GRAVITY_MPS2, grade_pct_to_rad

MAX_HUMAN_SPEED_MPS = 12.0  # [D] above any human sprint; a typo guard, not a model limit
GRADE_MIN_PCT = -40.0  # [C] LCDA data span -40 % to +45 % (Looney 2019)
GRADE_MAX_PCT = 45.0
LEG_LENGTH_RANGE_M = (0.40, 1.30)  # [D] small child to very tall adult
HEIGHT_RANGE_M = (1.00, 2.30)  # [D] human stature range accepted
MASS_RANGE_KG = (20.0, 300.0)  # [D] human body-mass range accepted
LEG_LENGTH_PER_HEIGHT = 0.53  # [M] greater-trochanter height / stature (Winter anthropometry)


class Facing(enum.StrEnum):
    """Where the walker's chest points (scenario key ``walker.facing``)."""

    CONSOLE = "console"  # forward walking on a normally running belt
    REAR = "rear"  # backward walking on a normally running belt


def check_range(name: str, value: float, low: float, high: float, unit: str = "") -> float:
    """Return ``value`` as float, or raise naming the parameter and its range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number in [{low}, {high}]{unit}, got {value!r}"
        ) from None
    if not (math.isfinite(v) and low <= v <= high):
        raise ValueError(f"{name} = {value!r} is outside the allowed range [{low}, {high}]{unit}")
    return v


def parse_facing(facing: Facing | str) -> Facing:
    """Accept a :class:`Facing` or its scenario string."""
    try:
        return Facing(facing)
    except ValueError:
        raise ValueError(f"facing must be 'console' or 'rear', got {facing!r}") from None


def walks_backward(
    facing: Facing | str, belt_direction: BeltDirection = BeltDirection.FORWARD
) -> bool:
    """True when the walker travels (relative to the belt) towards their back.

    The walker always travels against the belt's top surface. On a normally
    running belt (top towards the rear) that is towards the console, so
    facing the rear means backward walking; on a reversed belt (downhill
    training, the backward-walking guides) facing the rear is forward walking.
    """
    toward_rear = parse_facing(facing) is Facing.REAR
    return toward_rear == (_parse_belt(belt_direction) is BeltDirection.FORWARD)


def _parse_belt(belt_direction: BeltDirection | int) -> BeltDirection:
    try:
        return BeltDirection(belt_direction)
    except ValueError:
        raise ValueError(f"belt_direction must be +1 or -1, got {belt_direction!r}") from None


def leg_length_from_height_m(height_m: float) -> float:
    """Leg length (floor to greater trochanter) from stature, 0.53 x H [M]."""
    return LEG_LENGTH_PER_HEIGHT * check_range("height_m", height_m, *HEIGHT_RANGE_M, " m")


@dataclass(frozen=True, slots=True)
class GaitParams:
    """Walker gait parameters; units in names, label and source beside each."""

    walk_ratio_m_per_steps_per_min: float = 0.0064  # [M] young adults (ref. 1.2)
    reference_leg_length_m: float = 0.90  # [M] the walk ratio's leg: 0.53 x 1.70 m
    reference_speed_mps: float = 1.3  # [C] in the healthy preferred 1.2-1.4 (Sci Rep 2019)
    cadence_min_steps_per_min: float = 80.0  # [M/D] ref. 1.3: slow cadence is 80-90
    cadence_max_steps_per_min: float = 135.0  # [C] walk-run cadence 135-140 (HMS 2023)
    backward_step_length_factor: float = 0.80  # [M] 20-30 % shorter at equal cadence
    forward_double_support_pct: float = 22.0  # [M] 20-24 % at ~1.3 m/s (Perry; Whittle)
    double_support_slope_pct_per_mps: float = -8.0  # [D] assumption: less with speed
    double_support_min_pct: float = 14.0  # [D] floor of the linear relation
    double_support_max_pct: float = 40.0  # [D] ceiling of the linear relation
    backward_extra_double_support_pct: float = 7.5  # [M] +5-10 points; more DS [C] Laufer
    forward_walk_run_speed_mps: float = 2.0  # [C] 2.0-2.1 m/s (HMS 2023, PMID 37336086)
    backward_walk_run_speed_mps: float = 1.63  # [C] BPTS 1.63 +/- 0.11 (Hreljac 2005)
    step_length_asymmetry: float = 1.0  # [D] left/right step length ratio (rehab users)
    stance_asymmetry: float = 1.0  # [D] left/right stance time ratio (rehab users)
    vertical_valley_ratio_at_ref: float = 0.68  # [D] tuned: humps 1.1-1.2, valley ~0.78 BW [M]
    vertical_loading_skew: float = 0.04  # [D] loading hump slightly above push-off [M]
    fore_aft_peak_bw_at_ref: float = 0.20  # [M] braking/propulsion 0.15-0.25 BW

    def __post_init__(self) -> None:
        for name, low, high in _PARAM_RANGES:
            check_range(name, getattr(self, name), low, high)
        cadence_floor = self.cadence_min_steps_per_min + 1.0
        check_range(
            "cadence_max_steps_per_min", self.cadence_max_steps_per_min, cadence_floor, 180.0
        )
        ds_floor = self.double_support_min_pct
        check_range("double_support_max_pct", self.double_support_max_pct, ds_floor, 60.0)
        # The shorter-stance foot must still overlap the other (no flight
        # phase) at the least double support the model can produce:
        # 2 s / (1 + r) > 0.5 with s the least mean stance fraction.
        r_limit = 4.0 * (0.5 + self.double_support_min_pct / 200.0) - 1.0
        r_low, r_high = math.ceil(1e4 / r_limit) / 1e4, math.floor(1e4 * r_limit - 1e-6) / 1e4
        check_range("stance_asymmetry", self.stance_asymmetry, r_low, r_high)


# Allowed ranges of the GaitParams fields whose bounds do not depend on others.
_PARAM_RANGES = (
    ("walk_ratio_m_per_steps_per_min", 0.003, 0.012),
    ("reference_leg_length_m", *LEG_LENGTH_RANGE_M),
    ("reference_speed_mps", 0.5, 2.0),
    ("cadence_min_steps_per_min", 40.0, 120.0),
    ("backward_step_length_factor", 0.5, 1.0),
    ("forward_double_support_pct", 5.0, 50.0),
    ("double_support_slope_pct_per_mps", -30.0, 0.0),
    ("double_support_min_pct", 2.0, 30.0),
    ("backward_extra_double_support_pct", 0.0, 20.0),
    ("forward_walk_run_speed_mps", 1.0, 3.5),
    ("backward_walk_run_speed_mps", 0.5, 3.0),
    ("step_length_asymmetry", 0.5, 2.0),
    ("vertical_valley_ratio_at_ref", 0.3, 1.0),
    ("vertical_loading_skew", -0.2, 0.2),
    ("fore_aft_peak_bw_at_ref", 0.0, 0.4),
)


@dataclass(frozen=True, slots=True)
class GaitState:
    """Steady gait at one speed. Fractions are of one stride (gait cycle).

    When ``running_required`` is true the timing fields describe the walking
    pattern pushed past its limit and are for reporting only;
    :func:`foot_forces` refuses such a state.
    """

    speed_mps: float
    facing: Facing
    belt_direction: BeltDirection
    backward: bool
    grade_pct: float  # deck grade, front (console) end up is positive
    travel_grade_pct: float  # grade the walker climbs in their direction of travel
    leg_length_m: float
    forward_equivalent_speed_mps: float
    cadence_steps_per_min: float
    step_length_m: float  # mean of left and right
    left_step_length_m: float
    right_step_length_m: float
    stride_length_m: float
    step_time_s: float
    stride_time_s: float
    stance_fraction: float  # mean of both feet
    swing_fraction: float
    double_support_fraction: float  # both periods together
    left_stance_fraction: float
    right_stance_fraction: float
    walk_run_speed_mps: float
    running_required: bool
    froude_number: float
    vertical_valley_ratio: float  # midstance valley / mean hump height
    vertical_loading_skew: float  # forward humps are 1 + skew (loading), 1 - skew (push-off)
    fore_aft_peak_bw: float  # A of the fore-aft shape, body weights


def gait_at(
    speed_mps: float,
    facing: Facing | str,
    grade_pct: float = 0.0,
    params: GaitParams | None = None,
    leg_length_m: float | None = None,
    *,
    belt_direction: BeltDirection = BeltDirection.FORWARD,
) -> GaitState:
    """Gait at belt speed ``speed_mps`` (>= 0; 0 means stepping in place)."""
    p = GaitParams() if params is None else params
    v = check_range("speed_mps", speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")
    grade = check_range("grade_pct", grade_pct, GRADE_MIN_PCT, GRADE_MAX_PCT, " %")
    leg = p.reference_leg_length_m if leg_length_m is None else leg_length_m
    leg = check_range("leg_length_m", leg, *LEG_LENGTH_RANGE_M, " m")
    face, belt = parse_facing(facing), _parse_belt(belt_direction)
    backward = walks_backward(face, belt)

    size = leg / p.reference_leg_length_m
    k = p.backward_step_length_factor if backward else 1.0
    v_eq = v / k  # forward-equivalent speed: same cadence and timing
    walk_ratio = p.walk_ratio_m_per_steps_per_min * size  # [D] geometric similarity
    cadence = math.sqrt(60.0 * v_eq / walk_ratio)  # ref. 1.3: step = ratio x cadence
    cadence = min(max(cadence, p.cadence_min_steps_per_min), p.cadence_max_steps_per_min)
    step_m = 60.0 * v / cadence  # closes the kinematics in both directions
    step_time_s = 60.0 / cadence

    ds_pct = p.forward_double_support_pct + p.double_support_slope_pct_per_mps * (
        v_eq - p.reference_speed_mps
    )
    ds_pct = min(max(ds_pct, p.double_support_min_pct), p.double_support_max_pct)
    if backward:
        ds_pct += p.backward_extra_double_support_pct
    stance = 0.5 + ds_pct / 200.0  # symmetric gait: double support = 2 stance - 1
    r = p.stance_asymmetry
    left_stance, right_stance = 2.0 * stance * r / (1.0 + r), 2.0 * stance / (1.0 + r)
    if (
        min(left_stance, right_stance) <= max(0.5, 2.0 * stance - 1.0)
        or max(left_stance, right_stance) >= 1.0
    ):
        raise ValueError(
            f"stance_asymmetry = {r!r} gives stance fractions {left_stance:.3f}/"
            f"{right_stance:.3f}; each must exceed 0.5 and the double support "
            f"{2.0 * stance - 1.0:.3f}, and stay below 1"
        )
    s = p.step_length_asymmetry
    base_run_mps = p.backward_walk_run_speed_mps if backward else p.forward_walk_run_speed_mps
    walk_run_mps = base_run_mps * math.sqrt(size)  # [D] Froude similarity
    ratio_ref = v / p.reference_speed_mps  # force shapes follow true belt speed (ref. 2.2)
    return GaitState(
        speed_mps=v,
        facing=face,
        belt_direction=belt,
        backward=backward,
        grade_pct=grade,
        travel_grade_pct=grade * int(belt),
        leg_length_m=leg,
        forward_equivalent_speed_mps=v_eq,
        cadence_steps_per_min=cadence,
        step_length_m=step_m,
        left_step_length_m=2.0 * step_m * s / (1.0 + s),
        right_step_length_m=2.0 * step_m / (1.0 + s),
        stride_length_m=2.0 * step_m,
        step_time_s=step_time_s,
        stride_time_s=2.0 * step_time_s,
        stance_fraction=stance,
        swing_fraction=1.0 - stance,
        double_support_fraction=2.0 * stance - 1.0,
        left_stance_fraction=left_stance,
        right_stance_fraction=right_stance,
        walk_run_speed_mps=walk_run_mps,
        running_required=v > walk_run_mps,
        froude_number=v * v / (STANDARD_GRAVITY_MPS2 * leg),
        vertical_valley_ratio=max(1.0 - (1.0 - p.vertical_valley_ratio_at_ref) * ratio_ref, 0.3),
        vertical_loading_skew=p.vertical_loading_skew,
        fore_aft_peak_bw=min(p.fore_aft_peak_bw_at_ref * ratio_ref, 0.4),
    )


@dataclass(frozen=True, slots=True)
class FootForces:
    """Forces the feet exert on the belt at times ``t_s`` (arrays, newtons).

    ``*_normal_n``: normal to the deck, pressing into it (vertical on a level
    deck). ``*_fore_aft_n``: along the deck, positive towards the rear of
    the deck, i.e. the direction a normally running belt's top moves. The
    ground reaction force on the walker is the negative of both.
    """

    t_s: np.ndarray
    left_normal_n: np.ndarray
    right_normal_n: np.ndarray
    left_fore_aft_n: np.ndarray
    right_fore_aft_n: np.ndarray

    @property
    def total_normal_n(self) -> np.ndarray:
        """Both feet together, normal to the deck."""
        return self.left_normal_n + self.right_normal_n

    @property
    def total_fore_aft_n(self) -> np.ndarray:
        """Both feet together, along the deck (positive towards the rear)."""
        return self.left_fore_aft_n + self.right_fore_aft_n


def foot_forces(t_s: np.ndarray | float, gait: GaitState, mass_kg: float) -> FootForces:
    """Per-foot forces on the belt over times ``t_s`` (s; left heel/toe strike at 0).

    The right foot lands half a stride after the left. Over any whole
    stride the mean total normal force is m g cos(theta) and the mean total
    fore-aft force is +m g sin(theta): the feet push the belt down-slope
    (towards the rear when the console end is up), so the belt holds the
    walker up-slope. On level ground the fore-aft mean is zero.
    """
    mass = check_range("mass_kg", mass_kg, *MASS_RANGE_KG, " kg")
    if gait.running_required:
        raise ValueError(
            f"speed_mps = {gait.speed_mps!r} needs running (walk-run speed "
            f"{gait.walk_run_speed_mps:.2f} m/s); the walking force profile does not apply"
        )
    t = np.asarray(t_s, dtype=float)
    if not np.all(np.isfinite(t)):
        raise ValueError("t_s must be finite times in seconds, got a NaN or infinity")
    phase = np.mod(t / gait.stride_time_s, 1.0)
    weight_n = mass * STANDARD_GRAVITY_MPS2
    s_left, s_right = gait.left_stance_fraction, gait.right_stance_fraction
    # The left stance opens with the double support in which the right foot
    # is still down (length s_right - 0.5) and closes with the other one.
    left_n, left_x = _footfall(phase, s_left, s_right - 0.5, s_left - 0.5, gait, weight_n)
    right_phase = np.mod(phase - 0.5, 1.0)
    right_n, right_x = _footfall(right_phase, s_right, s_left - 0.5, s_right - 0.5, gait, weight_n)
    return FootForces(t, left_n, right_n, left_x, right_x)


def _footfall(
    phase: np.ndarray,
    stance: float,
    ds_on: float,
    ds_off: float,
    gait: GaitState,
    weight_n: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal and fore-aft force of one foot whose contact starts at phase 0.

    ``ds_on`` and ``ds_off`` are the opening and closing double-support
    periods, as fractions of the stride.
    """
    theta = grade_pct_to_rad(gait.grade_pct)
    in_stance = phase < stance
    u = np.where(in_stance, phase / stance, 0.0)
    d_on, d_off = ds_on / stance, ds_off / stance
    skew = -gait.vertical_loading_skew if gait.backward else gait.vertical_loading_skew
    p_on, p_off, q = 1.0 + skew, 1.0 - skew, gait.vertical_valley_ratio
    mid_len = 1.0 - d_on - d_off
    x = np.clip((u - d_on) / mid_len, 0.0, 1.0)
    dip = 0.5 * (1.0 + np.cos(2.0 * np.pi * x))  # 1 -> 0 -> 1 across midstance
    shape = np.where(
        u < d_on,
        p_on * 0.5 * (1.0 - np.cos(np.pi * u / d_on)),
        np.where(
            u > 1.0 - d_off,
            p_off * 0.5 * (1.0 - np.cos(np.pi * (1.0 - u) / d_off)),
            q + (np.where(x <= 0.5, p_on, p_off) - q) * dip,
        ),
    )
    # Exact integral of the shape over u in [0, 1] (each piece integrates in closed form).
    shape_mean = 0.5 * (p_on * d_on + p_off * d_off) + mid_len * (0.5 * q + 0.25 * (p_on + p_off))
    # Each footfall carries half of the stride's impulse m g cos(theta) T.
    scale_n = weight_n * math.cos(theta) / (2.0 * stance * shape_mean)
    normal = np.where(in_stance, scale_n * shape, 0.0)
    # Along the walker's facing: braking (negative) then propulsion, zero mean;
    # backward gait runs the forward curve backwards in time.
    w = 1.0 - u if gait.backward else u
    ap_body = -gait.fore_aft_peak_bw * weight_n * np.sin(2.0 * np.pi * w)
    anterior_sign = 1.0 if gait.facing is Facing.REAR else -1.0  # +x is towards the rear
    on_belt_x = -anterior_sign * ap_body + math.tan(theta) * normal
    return normal, np.where(in_stance, on_belt_x, 0.0)
