"""The motorized presets behave as they state: stops, carrying the rated user, the servo, tags.

Every figure is read off the trace (the rows trace.csv holds), as a user would
measure a real machine; benchmarks/bench_preset_behaviour.py prints them all.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.controllers.units import mph_to_mps
from treadtwin.scenarios.metrics import mean_decel_between, step_response
from treadtwin.scenarios.runner import run_scenario
from treadtwin.scenarios.schema import parse_scenario
from treadtwin.sim.engine import Engine
from treadtwin.sim.machine import PART_NAMES, STANDARD_GRAVITY_MPS2
from treadtwin.sim.params import default_tag
from treadtwin.sim.presets import PRESETS, preset, servo_gains
from treadtwin.sim.provenance import TAG_LEGEND, tag_code
from treadtwin.sim.treadmill import SimulatedTreadmill

MOTORIZED = [name for name in PRESETS if preset(name).motorized]
STOP_FROM_MPH = 3.0
STOP_AT_S = 30.0


def _run(name: str, program: str, duration_s: float, walker: str = "", extra: str = ""):
    text = (f'[scenario]\nname = "t"\nduration_s = {duration_s}\n[machine]\npreset = "{name}"\n'
            f"{walker}{program}{extra}")
    return run_scenario(parse_scenario(text, "t.toml"))


def _walker(mass_kg: float, facing: str = "console") -> str:
    return f'[walker]\nmass_kg = {mass_kg}\nheight_m = 1.80\nfacing = "{facing}"\n'


def _stop(name: str, mass_kg: float | None):
    program = f"[[program]]\nat_s = 0\nspeed_mph = {STOP_FROM_MPH}\n"
    fault = f'[[faults]]\nat_s = {STOP_AT_S}\nkind = "stop_button"\n'
    walker = _walker(mass_kg) if mass_kg else ""
    return _run(name, program, STOP_AT_S + 60.0, walker, fault)


def _coast_decel_mps2(machine, user_mass_kg: float, walker_force_n: float = 0.0) -> float:
    """Mean deceleration from 90 % to 10 % of 3 mph of a coasting belt, integrated in closed
    form: m dv/dt = -(F0 + c v), F0 the dry drag and the deck friction under the user."""
    belt = machine.belt
    mass = belt.drive_side_mass_kg(machine.motor) + belt.belt_side_mass_kg
    dry = (belt.drive_coulomb_n + belt.deck_drag_empty_n - walker_force_n
           + belt.deck_friction_coeff * user_mass_kg * STANDARD_GRAVITY_MPS2)
    viscous = belt.drive_viscous_n_per_mps + belt.deck_viscous_n_per_mps
    v0 = mph_to_mps(STOP_FROM_MPH)
    span_s = mass / viscous * math.log((dry + viscous * 0.9 * v0) / (dry + viscous * 0.1 * v0))
    return 0.8 * v0 / span_s


@pytest.mark.parametrize("name", MOTORIZED)
def test_a_stop_decelerates_as_the_preset_states_empty_and_at_its_rated_user(name):
    machine = preset(name)
    for mass in (None, machine.rated_user_mass_kg):
        decel = _stop(name, mass).metrics["stop_decel_mps2"]
        if machine.stop_kind == "controlled":
            stated = machine.drive.stop_decel_mps2
        else:  # a board that cannot brake: the belt coasts on its drag
            assert machine.stop_kind == "coast"
            stated = _coast_decel_mps2(machine, mass or 0.0)
        assert decel == pytest.approx(stated, rel=0.10), (mass, decel, stated)


def test_a_coasting_belt_obeys_its_force_balance():
    # The home machine coasts: empty, the closed-form run-down is exact; under a walker,
    # the walker's own mean fore-aft force during the coast enters the same balance.
    machine = preset("home-motorized")
    empty = _stop("home-motorized", None).metrics["stop_decel_mps2"]
    assert empty == pytest.approx(_coast_decel_mps2(machine, 0.0), rel=0.005)
    rated = machine.rated_user_mass_kg
    result = _stop("home-motorized", rated)
    trace = result.run.trace
    t, speed = trace["t_s"], trace["belt_speed_mps"]
    after = t >= STOP_AT_S
    v0 = speed[after][0]
    band = after & (speed < 0.9 * v0) & (speed > 0.1 * v0)
    walker_force = float(np.mean(trace["walker_force_n"][band]))
    load_frac = float(np.mean(trace["walker_load_n"][band])) / (rated * STANDARD_GRAVITY_MPS2)
    measured = mean_decel_between(t[after], speed[after], 0.9, 0.1)
    balance = _coast_decel_mps2(machine, rated * load_frac, walker_force)
    assert measured == pytest.approx(balance, rel=0.03)


@pytest.mark.parametrize("name", MOTORIZED)
def test_the_rated_user_walks_at_every_walking_speed_without_limit_or_slip(name):
    # Steady walking, both facings, up to the walker's ceiling forwards and the supervisor's
    # backward cap: the belt holds its speed within 2 %, the drive stays off its current
    # limit and the belt does not slip on the roller.
    machine = preset(name)
    speeds = {"console": (0.5, 1.5, 2.5, 3.5, 4.5), "rear": (0.5, 1.0, 1.5, 2.0, 2.5)}
    for facing, mphs in speeds.items():
        for mph in mphs:
            program = f"[[program]]\nat_s = 0\nspeed_mph = {mph}\n"
            result = _run(name, program, 50.0, _walker(machine.rated_user_mass_kg, facing))
            assert result.passed, (facing, mph, result.reason)
            trace = result.run.trace
            late = trace["t_s"] > 30.0
            mean = float(np.mean(trace["belt_speed_mps"][late]))
            assert mean == pytest.approx(mph_to_mps(mph), rel=0.02), (facing, mph)
            peak_a = float(np.abs(trace["motor_current_a"][late]).max())
            assert peak_a < 0.95 * machine.drive.current_limit_a, (facing, mph, peak_a)
            assert trace["e_slip_j"][-1] - trace["e_slip_j"][late][0] == 0.0, (facing, mph)


@pytest.mark.parametrize("name", MOTORIZED)
def test_the_drive_carries_the_rated_users_weight_at_every_speed_it_offers(name):
    # Above walking speed, the rated user's weight on the deck (a runner's mean load) at
    # speeds from the lowest to the top one: held within 2 %, within the current limit.
    machine = preset(name)
    load_n = machine.rated_user_mass_kg * STANDARD_GRAVITY_MPS2
    low = max(machine.drive.speed_min_mps, 0.2)
    for speed in np.linspace(low, machine.drive.speed_max_mps, 5):
        treadmill = SimulatedTreadmill(machine, 40.0)
        treadmill.set_walker_loads(0.0, load_n)
        program = ProgramController([Setpoint(0.0, speed_mps=float(speed))])
        trace = Engine(treadmill, program).run(40.0).trace
        late = trace["t_s"] > 30.0
        mean = float(np.mean(trace["belt_speed_mps"][late]))
        assert mean == pytest.approx(speed, rel=0.02), speed
        assert np.abs(trace["motor_current_a"][late]).max() < machine.drive.current_limit_a
        assert trace["faults"][-1] == 0


def test_the_instrumented_servo_is_well_damped():
    for extra in ("", "[machine.drive]\naccel_mps2 = 1000\n"):  # through its ramp; a raw step
        program = ("[[program]]\nat_s = 0\nspeed_mps = 1.0\n"
                   "[[program]]\nat_s = 10\nspeed_mps = 1.1\n")
        result = _run("instrumented", program, 15.0, "", "[supervisor]\nenabled = false\n" + extra)
        trace = result.run.trace
        overshoot, zeta = step_response(trace["t_s"], trace["belt_speed_mps"], 10.0, 1.0, 1.1)
        assert zeta >= 0.7, extra
        if not extra:
            assert overshoot < 0.01  # a commanded step, as a user sends one


def test_servo_gains_place_the_poles_they_promise():
    machine = preset("instrumented")
    motor, belt = machine.motor, machine.belt
    kp, rf, _ = servo_gains(motor, belt, 100.0, 1.0)
    k = machine.force_constant_n_per_a
    mass = belt.drive_side_mass_kg(motor) + belt.belt_side_mass_kg
    inductance, r = motor.armature_inductance_h, motor.armature_resistance_ohm
    roots = np.roots([inductance * mass, (r + rf) * mass, k * (k + kp)])
    w = math.sqrt(abs(roots[0] * roots[1]))
    assert w == pytest.approx(2 * math.pi * 100.0, rel=1e-9)
    assert -float(np.sum(roots.real)) / (2 * w) == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="negative gains"):
        servo_gains(motor, belt, 1.0, 0.1)


def test_every_preset_parameter_has_a_legend_tag_of_its_own():
    sourced: dict[tuple[str, str], dict[str, float]] = {}
    for name in PRESETS:
        machine = preset(name)
        for part_name, field, value, tag in machine.parameters():
            assert tag_code(tag) in TAG_LEGEND
            part = getattr(machine, part_name)
            declared = next(f for f in dataclasses.fields(part) if f.name == field).default
            own = machine.tags.get(f"{part_name}.{field}")
            if value != declared and part_name not in machine.unused_parts:
                assert own is not None, f"{name}: {part_name}.{field} = {value} has no tag"
            if tag_code(tag) in "CSD":
                sourced.setdefault((part_name, field), {}).setdefault(tag, value)
                # one source, one figure: a tag copied onto another value is not its source
                assert sourced[(part_name, field)][tag] == value, (name, part_name, field, tag)
    for part_name in PART_NAMES:  # a declared default is a placeholder or a convention
        for f in dataclasses.fields(type(getattr(preset("home-motorized"), part_name))):
            if "range" in f.metadata:
                assert tag_code(default_tag(type(getattr(preset("home-motorized"), part_name)),
                                            f.name)) in "UMC"


def test_a_scenario_file_value_is_tagged_as_the_files():
    result = parse_scenario('[scenario]\nname = "t"\nduration_s = 1\n[machine]\n'
                            'preset = "club-motorized"\n[machine.drive]\nstop_decel_mps2 = 1.0\n',
                            "t.toml")
    assert result.machine.tag("drive", "stop_decel_mps2").startswith("[F]")
    assert result.machine.tag("drive", "speed_max_mps") == preset("club-motorized").tag(
        "drive", "speed_max_mps")


def test_a_walker_carried_to_the_front_stops_at_the_console_and_says_so():
    # A 10 m/s^2 stop under a forward walker at 4 mph carries it forward: the body meets
    # the console, its centre of mass half a torso's depth behind the front of the deck.
    program = "[[program]]\nat_s = 0\nspeed_mph = 4.0\n"
    fault = '[[faults]]\nat_s = 30\nkind = "stop_button"\n'
    result = _run("instrumented", program, 40.0, _walker(70.0), fault)
    contacts = [e for e in result.run.events if e.kind == "console_contact"]
    assert contacts and "against the console" in contacts[0].detail
    clearance = 0.07 * 1.80
    assert np.nanmin(result.run.trace["walker_pos_m"]) == pytest.approx(clearance, abs=1e-9)
