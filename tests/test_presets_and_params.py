"""Presets (a contract) and parameter declarations."""

from __future__ import annotations

import dataclasses
import math

import pytest

from treadtwin.sim.belt import BeltParams
from treadtwin.sim.drive import DriveParams
from treadtwin.sim.machine import CapabilityError, MachineKind
from treadtwin.sim.params import ParameterError, describe
from treadtwin.sim.presets import PRESETS, preset

CONTRACT_NAMES = {"home-motorized", "club-motorized", "manual-flat", "curved-manual",
                  "backward-sled", "instrumented"}


def test_preset_names_are_the_contract():
    assert set(PRESETS) == CONTRACT_NAMES


@pytest.mark.parametrize("name", sorted(CONTRACT_NAMES))
def test_every_parameter_has_a_unit_suffix_range_and_doc(name):
    machine = preset(name)
    units = ("_ohm", "_h", "_a", "_v", "_f", "_s", "_mps", "_mps2", "_m", "_kg", "_kgm2", "_n",
             "_n_per_mps", "_pct", "_pct_per_s", "_c", "_k_per_w", "_rad", "_v_per_m",
             "_nm_per_a", "_per_k")
    dimensionless = {"pulley_ratio", "deck_friction_coeff", "roller_belt_friction_coeff",
                     "armature_duty_max", "quadrants", "tach_pulses_per_roller_turn"}
    for part in (machine.motor, machine.belt, machine.drive, machine.brake, machine.incline,
                 machine.sensors):
        for field_name, _default, lo, hi, doc in describe(type(part)):
            assert field_name in dimensionless or field_name.endswith(units), field_name
            assert lo <= getattr(part, field_name) <= hi
            assert doc


def test_tach_pitch_matches_the_published_reed_switch_figure():
    # 90.4 ms per pulse at 10 km/h on a Taurus 9.5: 0.251 m of belt per pulse.
    assert BeltParams().roller_circumference_m == pytest.approx(10 / 3.6 * 0.0904, rel=0.005)


def test_backward_sled_deck_is_fixed_at_eight_degrees():
    sled = preset("backward-sled")
    assert sled.kind is MachineKind.SLED and not sled.motorized
    assert sled.incline.fixed
    assert math.degrees(math.atan(sled.incline.incline_min_pct / 100)) == pytest.approx(8.0)


def test_only_the_instrumented_preset_runs_in_reverse():
    for name in CONTRACT_NAMES - {"instrumented"}:
        with pytest.raises(CapabilityError):
            preset(name).check_reverse()
    preset("instrumented").check_reverse()


def test_parameters_are_validated_at_construction():
    with pytest.raises(ParameterError, match=r"DriveParams.accel_mps2 = -1 is outside"):
        DriveParams(accel_mps2=-1)
    with pytest.raises(ParameterError, match="quadrants"):
        DriveParams(quadrants=3)
    with pytest.raises(ParameterError, match="brake_chopper"):
        DriveParams(brake_chopper_on_v=100.0)
    with pytest.raises(ParameterError, match="kind 'manual'"):
        dataclasses.replace(preset("manual-flat"), motor=preset("home-motorized").motor)


def test_unknown_preset_lists_the_allowed_names():
    with pytest.raises(KeyError, match="allowed: backward-sled, club-motorized"):
        preset("treadmill-9000")
