"""The engine: clock modes, tick batching, comms loss and determinism."""

from __future__ import annotations

import numpy as np

from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.scenarios.schema import load_scenario
from treadtwin.scenarios.suite import builtin_suite_dir
from treadtwin.sim.engine import ClockMode, Engine
from treadtwin.sim.faults import FaultKind, FaultSpec
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill
from treadtwin.sim.walker.balance import Walker


def _run(name: str, batch: bool):
    scenario = load_scenario(builtin_suite_dir() / f"{name}.toml")
    treadmill = SimulatedTreadmill(scenario.machine, scenario.duration_s)
    walker = Walker(scenario.walker, scenario.machine.belt.running_length_m,
                    self_propelled=False, physics_dt_s=0.001, record_period_s=0.01)
    engine = Engine(treadmill, ProgramController(scenario.program), scenario.faults,
                    walker=walker)
    engine.batch_ticks = batch
    return engine.run(scenario.duration_s)


def test_batched_ticks_give_exactly_the_same_run_as_one_event_per_tick():
    one_by_one = _run("comms-loss-home", batch=False)
    batched = _run("comms-loss-home", batch=True)
    for field in one_by_one.trace.dtype.names:
        assert np.array_equal(one_by_one.trace[field], batched.trace[field], equal_nan=True), field
    assert one_by_one.events == batched.events
    assert one_by_one.commands == batched.commands


def test_scaled_clock_runs_in_wall_time_and_reports_loop_timing():
    treadmill = SimulatedTreadmill(preset("home-motorized"), 2.0)
    engine = Engine(treadmill, ProgramController([Setpoint(0, 1.0)], period_s=0.02), (),
                    clock=ClockMode.SCALED, time_scale=10.0)
    result = engine.run(2.0)
    assert 0.15 < result.wall_time_s < 1.0  # 2 s at 10x is 0.2 s of wall time
    assert result.timing is not None
    assert abs(result.timing.period_mean_s - 0.02) < 0.005


def test_comms_loss_drops_commands_and_the_board_times_out():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 30.0)
    program = ProgramController([Setpoint(0, 1.0), Setpoint(12, 2.0)])
    result = Engine(treadmill, program,
                    (FaultSpec(FaultKind.COMMS_LOSS, 10.0, duration_s=10.0),)).run(30.0)
    kinds = [e.kind for e in result.events]
    assert kinds.index("comms_loss") < kinds.index("board_command_timeout")
    timeout = next(e for e in result.events if e.kind == "board_command_timeout")
    assert abs(timeout.t_s - 10.0 - machine.drive.command_timeout_s) < 0.011
    sent = [t for t, _ in result.commands]
    assert not any(10.0 <= t < 20.0 for t in sent)  # nothing crossed the dead link
    assert any(t >= 20.0 for t in sent)  # the command is re-sent when the link is back
    trace = result.trace
    assert trace["belt_speed_mps"][-1] > 1.5  # and the board obeys it again
