"""The twin's exact fixed-step plant against an independent solve_ivp integration.

benchmarks/reference_plant.py writes the empty-belt motorized plant as an
ODE right-hand side and integrates it with scipy at tight tolerance,
restarted at every 10 ms tick; it shares no numerical code with the compiled
stepper. Both run the same small program through the same program player;
belt speed must agree within 0.5 % once the ramps are over, and the motor
current at the end within a few percent. A third setpoint slows the belt,
which on the one-quadrant home machine means coasting with the converter's
diode blocking, so that path is cross-checked too.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.sim.engine import Engine
from treadtwin.sim.layout import pack_params
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill

DURATION_S = 20.0
TICK_S = 0.01
PROGRAM = (Setpoint(0.0, 1.0), Setpoint(8.0, 2.0), Setpoint(14.0, 1.2))
# Steady windows: after each ramp (1.0 m/s at 0.5 m/s^2 takes 2 s) plus settling.
STEADY_WINDOWS = ((4.0, 8.0), (12.0, 14.0))


def _load_reference():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "reference_plant.py"
    name = "treadtwin_benchmarks_reference_plant"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up by name
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, DURATION_S, physics_dt_s=0.001,
                                   record_period_s=TICK_S)
    twin = Engine(treadmill, ProgramController(PROGRAM, period_s=TICK_S)).run(DURATION_S).trace
    reference = _load_reference().ReferencePlant(machine, method="RK45", rtol=1e-6)
    ref = reference.run(ProgramController(PROGRAM, period_s=TICK_S).command_at, DURATION_S,
                        tick_s=TICK_S)
    return machine, twin, ref


def test_reference_derives_the_same_lumped_parameters():
    machine = preset("home-motorized")
    p = _load_reference().PlantParams.from_machine(machine)
    packed = pack_params(machine, 0.001, 10)[0]
    assert math.isclose(p.k_v_per_mps, packed["force_constant_n_per_a"], rel_tol=1e-12)
    assert math.isclose(p.mass_kg, packed["drive_side_mass_kg"] + packed["belt_side_mass_kg"],
                        rel_tol=1e-12)
    assert math.isclose(p.tach_pitch_m, packed["tach_belt_per_pulse_m"], rel_tol=1e-12)


def test_same_sample_instants(runs):
    _, twin, ref = runs
    assert len(twin) == len(ref.t_s) == round(DURATION_S / TICK_S)
    assert np.allclose(twin["t_s"], ref.t_s, atol=1e-9)


@pytest.mark.parametrize("window", STEADY_WINDOWS)
def test_belt_speed_agrees_on_steady_segments(runs, window):
    _, twin, ref = runs
    start, end = window
    mask = (ref.t_s >= start) & (ref.t_s < end)
    v_twin = twin["belt_speed_mps"][mask]
    v_ref = ref.belt_speed_mps[mask]
    rel = np.abs(v_twin - v_ref) / np.abs(v_ref)
    assert rel.max() < 0.005, f"max relative difference {rel.max():.2e} in {window}"
    # Both hold the board's quantised target (tach trim), not the raw command.
    assert abs(v_ref.mean() - ref.board_ref_mps[mask].mean()) < 0.02 * v_ref.mean()


def test_belt_speed_agrees_through_ramps_and_coasting(runs):
    _, twin, ref = runs
    moving = (ref.t_s >= 1.0) & (np.abs(ref.belt_speed_mps) > 0.1)
    rel = np.abs(twin["belt_speed_mps"][moving] - ref.belt_speed_mps[moving]) \
        / np.abs(ref.belt_speed_mps[moving])
    assert rel.max() < 0.005, f"max relative difference {rel.max():.2e}"
    # the slow-down coasts: the diode held the current at zero in both
    coasting = (ref.t_s > 15.0) & (ref.t_s < 17.0)
    assert np.all(ref.motor_current_a[coasting] == 0.0)
    assert np.all(twin["motor_current_a"][coasting] == 0.0)


def test_current_and_tach_agree(runs):
    _, twin, ref = runs
    # end of the 2 m/s plateau: the current holds the belt against friction
    row = int(np.argmin(np.abs(ref.t_s - 13.99)))
    i_twin, i_ref = twin["motor_current_a"][row], ref.motor_current_a[row]
    assert i_ref > 0.5
    assert abs(i_twin - i_ref) < 0.03 * abs(i_ref)
    # the final sample, mid-coast, and the pulse count over the whole run
    assert abs(twin["motor_current_a"][-1] - ref.motor_current_a[-1]) < 0.03 * max(
        abs(ref.motor_current_a[-1]), 0.1)
    assert abs(int(twin["tach_pulse_count"][-1]) - ref.tach_pulse_count) <= 1
    assert abs(twin["motor_temp_c"][-1] - ref.motor_temp_c[-1]) < 0.01
