"""Walker energy model against its published sources (docs/references.md).

Expected values are the sheet's published or [D] numbers, written out here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadtwin.controllers.interface import BeltDirection
from treadtwin.controllers.units import mph_to_mps
from treadtwin.sim.walker.energy import (
    Equation,
    acsm_running_vo2_ml_kg_min,
    acsm_walking_vo2_ml_kg_min,
    backward_factor,
    lcda_walking_w_per_kg,
    metabolic_rate,
    vo2_to_kcal_per_min,
    vo2_to_mets,
    w_per_kg_to_vo2_ml_kg_min,
)

# Table A (ref. 3.1): speed m/s -> VO2 at 0, 5, 10, 15 % and METs at 0 %.
ACSM_TABLE_A = [
    (0.50, (6.50, 9.20, 11.90, 14.60), 1.86),
    (0.75, (8.00, 12.05, 16.10, 20.15), 2.29),
    (1.00, (9.50, 14.90, 20.30, 25.70), 2.71),
    (1.25, (11.00, 17.75, 24.50, 31.25), 3.14),
    (1.50, (12.50, 20.60, 28.70, 36.80), 3.57),
    (1.79, (14.24, 23.91, 33.57, 43.24), 4.07),
]

# LCDA [D] table (ref. 3.3): speed m/s -> W/kg at -10, -5, 0, +5, +10 %.
LCDA_TABLE = [
    (0.50, (2.39, 2.52, 2.89, 3.58, 4.47)),
    (1.00, (2.62, 2.86, 3.62, 4.98, 6.77)),
    (1.25, (2.91, 3.21, 4.16, 5.86, 8.10)),
    (1.50, (3.46, 3.83, 4.96, 7.00, 9.69)),
]

M_PER_MIN = 1.0 / 60.0  # one m/min in m/s, to feed the sheet's m/min speeds


@pytest.mark.parametrize(("speed_mps", "vo2_row", "mets_level"), ACSM_TABLE_A)
def test_acsm_walking_reproduces_table_a(speed_mps, vo2_row, mets_level):
    for grade_pct, expected in zip((0, 5, 10, 15), vo2_row, strict=True):
        assert acsm_walking_vo2_ml_kg_min(speed_mps, grade_pct) == pytest.approx(expected, abs=0.01)
    assert vo2_to_mets(acsm_walking_vo2_ml_kg_min(speed_mps, 0)) == pytest.approx(
        mets_level, abs=0.01
    )


def test_worked_example_3_5_mph_10_pct_70_kg():
    rate = metabolic_rate(93.8 * M_PER_MIN, 10.0, "console", 70.0)  # the sheet's 93.8 m/min
    assert rate.equation is Equation.ACSM_WALKING
    assert rate.vo2_ml_kg_min == pytest.approx(29.76, abs=0.01)
    assert rate.mets == pytest.approx(8.50, abs=0.01)
    assert rate.kcal_per_min == pytest.approx(10.42, abs=0.01)
    exact = metabolic_rate(mph_to_mps(3.5), 10.0, "console", 70.0)  # 93.88 m/min exactly
    assert exact.vo2_ml_kg_min == pytest.approx(29.76, abs=0.05)


@pytest.mark.parametrize(
    ("m_per_min", "grade_pct", "expected"),
    [(93.8, 0.0, 12.88), (93.8, 5.0, 21.32), (107.2, 0.0, 14.22)],  # ref. 5.2
)
def test_acsm_at_backward_study_protocols(m_per_min, grade_pct, expected):
    rate = metabolic_rate(m_per_min * M_PER_MIN, grade_pct, "console", 70.0)
    assert rate.equation is Equation.ACSM_WALKING  # 107.2 m/min: above 100 but truly walking
    assert rate.vo2_ml_kg_min == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("speed_mps", "row"), LCDA_TABLE)
def test_lcda_reproduces_the_derived_table(speed_mps, row):
    for grade_pct, expected in zip((-10, -5, 0, 5, 10), row, strict=True):
        assert lcda_walking_w_per_kg(speed_mps, grade_pct) == pytest.approx(expected, abs=0.0051)


def test_lcda_standing_cost_is_near_measured_standing():
    standing = w_per_kg_to_vo2_ml_kg_min(lcda_walking_w_per_kg(0.0, 0.0))
    assert standing == pytest.approx(4.8, abs=0.6)  # Horiuchi 2015 [C]: 4.8 +/- 0.4


def test_conversions():
    assert w_per_kg_to_vo2_ml_kg_min(20.1) == pytest.approx(60.0)
    assert vo2_to_mets(35.0) == pytest.approx(10.0)
    assert vo2_to_kcal_per_min(35.0, 70.0) == pytest.approx(10 * 3.5 * 70 / 200)  # METs form
    # 1 MET ~ 1 kcal/kg/h (Compendium); the x5 rule gives 1.05.
    assert vo2_to_kcal_per_min(3.5, 70.0) * 60 / 70 == pytest.approx(1.05)


def test_acsm_running_equation():
    assert acsm_running_vo2_ml_kg_min(2.5, 0.0) == pytest.approx(33.5)  # 3.5 + 0.2 * 150
    assert acsm_running_vo2_ml_kg_min(2.5, 10.0) == pytest.approx(33.5 + 0.9 * 150 * 0.1)


@pytest.mark.parametrize(
    ("speed_mps", "grade_pct", "facing", "equation", "running"),
    [
        (1.2, 0.0, "console", Equation.ACSM_WALKING, False),
        (1.9, 3.0, "console", Equation.ACSM_WALKING, False),
        (1.2, -5.0, "console", Equation.LCDA_WALKING, False),
        (0.5, 0.0, "console", Equation.LCDA_WALKING, False),  # 30 m/min, below ACSM
        (2.5, 0.0, "console", Equation.ACSM_RUNNING, True),
        (2.5, -5.0, "console", Equation.ACSM_RUNNING_DOWNHILL_AS_LEVEL, True),
        (1.70, 0.0, "rear", Equation.ACSM_RUNNING, True),  # above the BW walk-run speed
        (1.55, 0.0, "rear", Equation.ACSM_WALKING, False),
    ],
)
def test_equation_choice(speed_mps, grade_pct, facing, equation, running):
    rate = metabolic_rate(speed_mps, grade_pct, facing, 70.0)
    assert rate.equation is equation
    assert rate.running is running


def test_downhill_running_is_costed_as_level_running():
    rate = metabolic_rate(2.5, -5.0, "console", 70.0)
    assert rate.vo2_ml_kg_min == pytest.approx(33.5)


@pytest.mark.parametrize("grade_pct", [5.0, 7.5, 10.0])
def test_backward_factor_matches_hooper_on_grades(grade_pct):
    assert 1.17 <= backward_factor(1.2, grade_pct) <= 1.20  # Hooper 2004: +17-20 %


def test_backward_chaloupka_condition_is_1_2_times_acsm():
    bw = metabolic_rate(93.8 * M_PER_MIN, 5.0, "rear", 70.0)
    assert not bw.running
    assert bw.vo2_ml_kg_min == pytest.approx(1.2 * 21.32, abs=0.02)  # ref. 5.2


def test_backward_factor_rises_with_level_speed_into_quoted_range():
    factors = [backward_factor(v, 0.0) for v in (0.9, 1.2, 1.5, 1.79)]
    assert all(a < b for a, b in zip(factors, factors[1:], strict=False))
    for speed_mps in (1.3, 1.5, 1.79):
        assert 1.3 <= backward_factor(speed_mps, 0.0) <= 1.5  # [M] 1.3-1.5 at 1.3-1.8 m/s


def test_flynn_forced_backward_walk_costs_more_than_forward():
    speed_mps = 107.2 * M_PER_MIN
    fw = metabolic_rate(speed_mps, 0.0, "console", 70.0)
    bw = metabolic_rate(speed_mps, 0.0, "rear", 70.0, running=False)
    assert bw.equation is Equation.ACSM_WALKING
    assert 1.3 <= bw.vo2_ml_kg_min / fw.vo2_ml_kg_min <= 1.5


@settings(max_examples=300, deadline=None)
@given(
    speed_mps=st.floats(0.0, 1.6),
    grade_pct=st.floats(-40.0, 45.0),
    mass_kg=st.floats(40.0, 150.0),
)
def test_backward_costs_more_by_a_published_factor(speed_mps, grade_pct, mass_kg):
    fw = metabolic_rate(speed_mps, grade_pct, "console", mass_kg)
    bw = metabolic_rate(speed_mps, grade_pct, "rear", mass_kg)
    assert fw.equation is bw.equation
    ratio = bw.vo2_ml_kg_min / fw.vo2_ml_kg_min
    assert 1.17 <= ratio <= 1.5
    assert bw.kcal_per_min > fw.kcal_per_min > 0


def test_reversed_belt_rear_facing_is_forward_downhill_walking():
    rate = metabolic_rate(1.2, 10.0, "rear", 70.0, belt_direction=BeltDirection.REVERSE)
    assert rate.travel_grade_pct == -10.0
    assert rate.backward_factor == 1.0
    assert rate.equation is Equation.LCDA_WALKING


def test_uphill_costs_more_and_downhill_less_than_level():
    level = metabolic_rate(1.2, 0.0, "console", 70.0).vo2_ml_kg_min
    assert metabolic_rate(1.2, 10.0, "console", 70.0).vo2_ml_kg_min > level
    assert w_per_kg_to_vo2_ml_kg_min(lcda_walking_w_per_kg(1.2, -5.0)) < w_per_kg_to_vo2_ml_kg_min(
        lcda_walking_w_per_kg(1.2, 0.0)
    )


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: metabolic_rate(-1.0, 0.0, "console", 70.0), "speed_mps"),
        (lambda: metabolic_rate(float("nan"), 0.0, "console", 70.0), "speed_mps"),
        (lambda: metabolic_rate(1.0, 0.0, "console", 10.0), "mass_kg"),
        (lambda: metabolic_rate(1.0, 0.0, "console", 400.0), "mass_kg"),
        (lambda: metabolic_rate(1.0, -50.0, "console", 70.0), "grade_pct"),
        (lambda: metabolic_rate(1.0, 0.0, "backwards", 70.0), "facing"),
        (lambda: metabolic_rate(1.0, 0.0, "console", 70.0, running=True), "speed_mps"),
        (lambda: acsm_walking_vo2_ml_kg_min(1.0, -5.0), "grade_pct"),
        (lambda: acsm_running_vo2_ml_kg_min(3.0, -5.0), "grade_pct"),
        (lambda: backward_factor(1.0, float("inf")), "grade_pct"),
        (lambda: vo2_to_kcal_per_min(10.0, 0.0), "mass_kg"),
    ],
)
def test_bad_input_raises_naming_the_parameter(call, name):
    with pytest.raises(ValueError, match=name) as info:
        call()
    assert "\n" not in str(info.value)
