"""Metabolic cost of the walker: VO2, METs and kcal, forwards and backwards.

Numbers and labels ([C] confirmed, [M] memory/textbook, [D] derived or
assumed) come from the sources in docs/references.md, "Walker biomechanics and energy".

Which equation (:func:`metabolic_rate` picks; the choice is reported):

* walking, grade >= 0 and speed >= 50 m/min: ACSM walking equation [C]. Its
  validity is 50-100 m/min, and it may be used above 100 m/min "if truly
  walking"; the gait layer says whether the walker still walks.
* walking downhill or slower than 50 m/min: LCDA graded walking equation
  (Looney et al. 2019, Med Sci Sports Exerc 51(9):1954), built on -40 % to
  +45 % grades and speeds up to 1.96 m/s [C]. Its coefficients are marked
  [M, verify] in the reference sheet; they were not checked against the
  paper itself, but the same form and coefficients appear in several
  independent public implementations. It is converted to oxygen uptake at
  20.1 J per ml O2 [M].
* running (the gait says the speed is above the walk-run speed): ACSM
  running equation [C]; downhill running has no equation in the reference,
  so it is costed as level running (an overestimate, reported as such).

The two walking equations do not meet at their boundary (at 50 m/min level
ACSM gives 8.5 and LCDA 10.0 ml/kg/min), so the rate steps there.
Backward walking multiplies the gross rate by :func:`backward_factor`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from treadtwin.controllers.interface import BeltDirection
from treadtwin.sim.walker.gait import (
    GRADE_MAX_PCT,
    GRADE_MIN_PCT,
    MASS_RANGE_KG,
    MAX_HUMAN_SPEED_MPS,
    Facing,
    GaitParams,
    check_range,
    gait_at,
)

S_PER_MIN = 60.0  # seconds per minute: the ACSM equations take speed in m/min
ML_O2_PER_MET_KG_MIN = 3.5  # [C] 1 MET = 3.5 ml O2/kg/min (Compendium)
KCAL_PER_L_O2 = 5.0  # [C] kcal/min = VO2 (L/min) x 5 (Compendium, ACE)
J_PER_ML_O2 = 20.1  # [M] energy equivalent of oxygen, used for W/kg <-> ml/kg/min
ACSM_WALK_MIN_M_PER_MIN = 50.0  # [C] ACSM walking validity 50-100 m/min
ACSM_RUN_MIN_M_PER_MIN = 80.0  # [C] ACSM running: > 134 m/min, or 80-134 if truly running

HOOPER_BACKWARD_FACTOR = 1.20  # [C] %VO2max 17-20 % higher BW at 5-10 % (Hooper 2004)
FAST_LEVEL_BACKWARD_FACTOR = 1.45  # [M] 1.3-1.5 around 1.3-1.8 m/s (Flynn 1994 protocol)
SLOW_BACKWARD_SPEED_MPS = 0.89  # [C] slowest Myatt 1995 speed (2 mph); factor 1.2 below [D]
FAST_BACKWARD_SPEED_MPS = 1.79  # [C] Flynn 1994 / Myatt 1995 top speed (107.2 m/min)
HOOPER_MIN_GRADE_PCT = 5.0  # [C] lowest Hooper 2004 grade


class Equation(enum.StrEnum):
    """Which published equation produced a rate."""

    ACSM_WALKING = "acsm_walking"
    LCDA_WALKING = "lcda_walking"
    ACSM_RUNNING = "acsm_running"
    ACSM_RUNNING_DOWNHILL_AS_LEVEL = "acsm_running_downhill_as_level"


def _speed(speed_mps: float) -> float:
    return check_range("speed_mps", speed_mps, 0.0, MAX_HUMAN_SPEED_MPS, " m/s")


def acsm_walking_vo2_ml_kg_min(speed_mps: float, grade_pct: float) -> float:
    """ACSM walking: VO2 = 3.5 + 0.1 S + 1.8 S G (S m/min, G decimal, G >= 0) [C]."""
    s_m_per_min = S_PER_MIN * _speed(speed_mps)
    g = check_range("grade_pct", grade_pct, 0.0, GRADE_MAX_PCT, " % (ACSM: level or uphill)") / 100
    return 3.5 + 0.1 * s_m_per_min + 1.8 * s_m_per_min * g


def acsm_running_vo2_ml_kg_min(speed_mps: float, grade_pct: float) -> float:
    """ACSM running: VO2 = 3.5 + 0.2 S + 0.9 S G (S m/min, G decimal, G >= 0) [C]."""
    s_m_per_min = S_PER_MIN * _speed(speed_mps)
    g = check_range("grade_pct", grade_pct, 0.0, GRADE_MAX_PCT, " % (ACSM: level or uphill)") / 100
    return 3.5 + 0.2 * s_m_per_min + 0.9 * s_m_per_min * g


def lcda_walking_w_per_kg(speed_mps: float, grade_pct: float) -> float:
    """LCDA graded walking, gross W/kg (S m/s, G %), form as in the reference sheet [M].

    M = 1.44 + 1.94 S^0.43 + 0.24 S^4 + 0.34 S G (1 - 1.05^(1 - 1.1^(G + 32))).
    The last factor fades the grade term on steep descents, where walking
    down costs less than level walking but never goes below standing.
    """
    s = _speed(speed_mps)
    g = check_range("grade_pct", grade_pct, GRADE_MIN_PCT, GRADE_MAX_PCT, " %")
    grade_term = 0.34 * s * g * (1.0 - 1.05 ** (1.0 - 1.1 ** (g + 32.0)))
    return 1.44 + 1.94 * s**0.43 + 0.24 * s**4 + grade_term


def w_per_kg_to_vo2_ml_kg_min(power_w_per_kg: float) -> float:
    """Metabolic power to oxygen uptake: x 60 / 20.1 [M]."""
    return power_w_per_kg * S_PER_MIN / J_PER_ML_O2


def vo2_to_mets(vo2_ml_kg_min: float) -> float:
    """METs = VO2 / 3.5 [C]."""
    return vo2_ml_kg_min / ML_O2_PER_MET_KG_MIN


def vo2_to_kcal_per_min(vo2_ml_kg_min: float, mass_kg: float) -> float:
    """kcal/min = VO2 (L/min) x 5 [C]."""
    mass = check_range("mass_kg", mass_kg, *MASS_RANGE_KG, " kg")
    return vo2_ml_kg_min * mass / 1000.0 * KCAL_PER_L_O2


def backward_factor(speed_mps: float, grade_pct: float) -> float:
    """Backward / forward gross VO2 at equal speed and grade, 1.20-1.45.

    Derivation. Uphill: Hooper et al. 2004 [C] measured %VO2max 17-20 %
    higher backward at 5, 7.5 and 10 % with no direction x grade
    interaction; taking %VO2max proportional to VO2 gives 1.2 at >= 5 %
    (the reference's practical multiplier [D]). Level: Flynn 1994 and Myatt
    1995 [C] show the backward cost rising curvilinearly with speed, and the
    ratio is quoted as 1.3-1.5 around 1.3-1.8 m/s [M, not confirmed]. So on
    the level the factor rises linearly from 1.2 at 0.89 m/s (slowest Myatt
    speed; no data below, 1.2 held [D]) to 1.45 at 1.79 m/s (Flynn's speed)
    and is held there; between 0 and 5 % it blends linearly to Hooper's
    1.2. Downhill: no data [D]; the level value is used. The result stays
    inside the published 1.17-1.5.
    """
    v = _speed(speed_mps)
    g = check_range("grade_pct", grade_pct, GRADE_MIN_PCT, GRADE_MAX_PCT, " %")
    x = (v - SLOW_BACKWARD_SPEED_MPS) / (FAST_BACKWARD_SPEED_MPS - SLOW_BACKWARD_SPEED_MPS)
    level = HOOPER_BACKWARD_FACTOR + (FAST_LEVEL_BACKWARD_FACTOR - HOOPER_BACKWARD_FACTOR) * min(
        max(x, 0.0), 1.0
    )
    uphill_weight = min(max(g, 0.0) / HOOPER_MIN_GRADE_PCT, 1.0)
    return level + (HOOPER_BACKWARD_FACTOR - level) * uphill_weight


@dataclass(frozen=True, slots=True)
class MetabolicRate:
    """Gross metabolic rate of the walker, with the equation that gave it."""

    vo2_ml_kg_min: float
    mets: float
    kcal_per_min: float
    power_w: float  # gross metabolic power at 20.1 J per ml O2
    equation: Equation
    backward_factor: float  # 1.0 for forward walking
    running: bool
    travel_grade_pct: float  # grade climbed in the direction of travel


def metabolic_rate(
    speed_mps: float,
    grade_pct: float,
    facing: Facing | str,
    mass_kg: float,
    *,
    gait_params: GaitParams | None = None,
    leg_length_m: float | None = None,
    belt_direction: BeltDirection = BeltDirection.FORWARD,
    running: bool | None = None,
) -> MetabolicRate:
    """Metabolic rate on a belt at ``speed_mps`` and deck ``grade_pct``.

    ``running`` None lets the gait layer decide (running above the walk-run
    speed); False forces walking above it, as in the Flynn 1994 and Hreljac
    2005 protocols; True forces running (ACSM: at least 80 m/min).
    Backward running takes the same :func:`backward_factor` [D]: Flynn 1994
    [C] found backward running costlier too, but its ratio was not read.
    """
    mass = check_range("mass_kg", mass_kg, *MASS_RANGE_KG, " kg")
    gait = gait_at(
        speed_mps, facing, grade_pct, gait_params, leg_length_m, belt_direction=belt_direction
    )
    v, grade = gait.speed_mps, gait.travel_grade_pct
    is_running = gait.running_required if running is None else bool(running)
    if is_running:
        if S_PER_MIN * v < ACSM_RUN_MIN_M_PER_MIN:
            raise ValueError(
                f"speed_mps = {speed_mps!r} is below the ACSM running range "
                f"(>= {ACSM_RUN_MIN_M_PER_MIN / S_PER_MIN:.2f} m/s)"
            )
        equation = Equation.ACSM_RUNNING if grade >= 0 else Equation.ACSM_RUNNING_DOWNHILL_AS_LEVEL
        vo2 = acsm_running_vo2_ml_kg_min(v, max(grade, 0.0))
    elif grade >= 0 and S_PER_MIN * v >= ACSM_WALK_MIN_M_PER_MIN:
        equation, vo2 = Equation.ACSM_WALKING, acsm_walking_vo2_ml_kg_min(v, grade)
    else:
        equation = Equation.LCDA_WALKING
        vo2 = w_per_kg_to_vo2_ml_kg_min(lcda_walking_w_per_kg(v, grade))
    factor = backward_factor(v, grade) if gait.backward else 1.0
    vo2 *= factor
    return MetabolicRate(
        vo2_ml_kg_min=vo2,
        mets=vo2_to_mets(vo2),
        kcal_per_min=vo2_to_kcal_per_min(vo2, mass),
        power_w=vo2 * mass * J_PER_ML_O2 / S_PER_MIN,
        equation=equation,
        backward_factor=factor,
        running=is_running,
        travel_grade_pct=grade,
    )
