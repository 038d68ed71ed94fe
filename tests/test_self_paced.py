"""Self-paced control: the belt follows a walker who walks at a speed of their own."""

from __future__ import annotations

import numpy as np
import pytest

from treadtwin.controllers.interface import BeltDirection, Command, Telemetry
from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.controllers.self_paced import SelfPacedController, SelfPacedParams
from treadtwin.scenarios.runner import run_scenario
from treadtwin.scenarios.schema import ScenarioError, parse_scenario


def session(incline_pct: float = 0.0, asymmetry: float = 1.0, speed_mps: float = 1.2):
    text = ('[scenario]\nname = "sp"\nduration_s = 60\n[machine]\npreset = "instrumented"\n'
            f"[walker]\nown_pace = true\npreferred_speed_mps = {speed_mps}\nstep_on_at_s = 2\n"
            f"step_length_asymmetry = {asymmetry}\n"
            '[controller]\nkind = "self_paced"\n'
            f"[[program]]\nat_s = 0\nspeed_mps = 1.0\nincline_pct = {incline_pct}\n")
    return run_scenario(parse_scenario(text, "sp.toml"))


@pytest.mark.parametrize("incline_pct, asymmetry", [(0.0, 1.0), (5.0, 1.0), (-5.0, 1.0),
                                                    (0.0, 1.3)])
def test_belt_settles_at_the_walkers_own_speed_and_keeps_it_in_place(incline_pct, asymmetry):
    result = session(incline_pct, asymmetry)
    late = result.run.trace[result.run.trace["t_s"] > 30.0]
    assert np.mean(late["belt_speed_mps"]) == pytest.approx(1.2, rel=0.03)
    error = late["walker_pos_m"] - SelfPacedParams().reference_position_m
    assert np.sqrt(np.mean(error ** 2)) < 0.05
    assert not result.metrics["walker_fell"]


def test_belt_follows_a_slower_walker_too():
    result = session(speed_mps=0.8)
    late = result.run.trace[result.run.trace["t_s"] > 30.0]
    assert np.mean(late["belt_speed_mps"]) == pytest.approx(0.8, rel=0.03)


def _telemetry(t_s, speed, distance):
    return Telemetry(t_s, speed, BeltDirection.FORWARD, 0, None, 0.0, 1.0, 170.0, True, True,
                     walker_distance_m=distance)


def test_without_a_distance_reading_the_program_command_passes_through():
    program = ProgramController([Setpoint(0.0, 1.0, 3.0)])
    controller = SelfPacedController(program)
    command = controller.tick(0.0, 0.01, _telemetry(0.0, 1.0, None))
    assert command == Command(belt_speed_mps=1.0, incline_pct=3.0)


def test_a_walker_ahead_of_the_reference_speeds_the_belt_up():
    controller = SelfPacedController(ProgramController([Setpoint(0.0, 1.0)]),
                                     SelfPacedParams(reference_position_m=0.8))
    speeds = []
    for k in range(300):  # the walker stays 0.3 m ahead while the belt runs at 1.0 m/s
        command = controller.tick(k * 0.01, 0.01, _telemetry(k * 0.01, 1.0, 0.5))
        speeds.append(command.belt_speed_mps)
    assert speeds[-1] > 1.05
    assert np.all(np.diff(speeds) <= SelfPacedParams().accel_max_mps2 * 0.01 + 1e-12)


def test_self_paced_needs_a_distance_sensor():
    text = ('[scenario]\nname = "sp"\nduration_s = 10\n[machine]\npreset = "home-motorized"\n'
            '[controller]\nkind = "self_paced"\n[[program]]\nat_s = 0\nspeed_mph = 1\n')
    with pytest.raises(ScenarioError, match="no walker distance sensor"):
        parse_scenario(text, "x.toml")


def test_bad_gain_is_refused():
    with pytest.raises(ValueError, match="position_gain_per_s"):
        SelfPacedParams(position_gain_per_s=-1.0)
