"""Sensors and board behaviour as hardware has them: tach pulses, quantisation, latching."""

from __future__ import annotations

import numpy as np
import pytest
from support import at, hold, machine_with, run_program

from treadtwin.controllers.interface import Command, DriveMode, Fault, Treadmill
from treadtwin.controllers.program import Setpoint
from treadtwin.controllers.units import mph_to_mps
from treadtwin.sim.faults import FaultKind, FaultSpec
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill


def test_simulated_treadmill_implements_the_interface():
    assert isinstance(SimulatedTreadmill(preset("home-motorized"), 1.0), Treadmill)


def test_reed_switch_gives_one_pulse_per_roller_turn():
    machine = preset("home-motorized")
    pitch = machine.belt.roller_circumference_m
    trace = run_program(machine, [Setpoint(0, 1.0), Setpoint(20, 2.0)], 40.0).trace
    expected = np.floor(trace["belt_travel_m"] / pitch + 1e-9)
    assert np.all(np.abs(trace["tach_pulse_count"] - expected) <= 1)
    assert trace["tach_pulse_count"][-1] == expected[-1]


def test_slow_belt_gives_sparse_pulses_and_a_stepwise_speed_estimate():
    machine = preset("home-motorized")
    pitch = machine.belt.roller_circumference_m
    speed = mph_to_mps(0.5)  # the start speed for backward walking
    trace = run_program(machine, [Setpoint(0, speed)], 60.0).trace
    steady = trace[trace["t_s"] > 20.0]
    true_mps = float(np.mean(steady["belt_speed_mps"]))
    pulses = np.flatnonzero(np.diff(steady["tach_pulse_count"]) > 0)
    gaps_s = np.diff(steady["t_s"][pulses])
    assert np.median(gaps_s) == pytest.approx(pitch / true_mps, abs=0.011)  # 1.1 s apart
    assert pitch / true_mps > 1.0
    # Between pulses the estimate holds its value: a few distinct values, not a smooth signal.
    measured = steady["belt_speed_meas_mps"]
    changes = np.count_nonzero(np.diff(measured))
    assert changes <= len(pulses) + 1
    assert np.mean(measured) == pytest.approx(true_mps, rel=0.02)


def test_speed_estimate_decays_after_the_last_pulse_and_reads_zero_after_the_timeout():
    machine = preset("home-motorized")
    timeout_s = machine.sensors.tach_timeout_s
    pitch = machine.belt.roller_circumference_m
    trace = run_program(machine, [Setpoint(0, 1.0)], 60.0,
                        faults=(FaultSpec(FaultKind.LANYARD_PULL, 10.0),)).trace
    stopped_at = trace["t_s"][(trace["t_s"] > 10.0) & (trace["belt_speed_mps"] == 0.0)][0]
    last_pulse_row = np.flatnonzero(np.diff(trace["tach_pulse_count"]) > 0)[-1] + 1
    last_pulse_s = trace["t_s"][last_pulse_row]
    held = trace["belt_speed_meas_mps"][last_pulse_row]  # from the last two pulses
    later = trace[(trace["t_s"] > last_pulse_s) & (trace["t_s"] < last_pulse_s + timeout_s)]
    # Held, then capped by the time since the last pulse: pitch / (t - t_last).
    expected = np.minimum(held, pitch / (later["t_s"] - last_pulse_s))
    assert np.allclose(later["belt_speed_meas_mps"], expected, rtol=0.02)
    assert later["belt_speed_meas_mps"][-1] < held  # it decays rather than hold the old value
    assert np.all(trace["belt_speed_meas_mps"][trace["t_s"] > last_pulse_s + timeout_s + 0.02] == 0)
    assert stopped_at < last_pulse_s + timeout_s + 5.0


def test_telemetry_quantises_current_and_incline_like_an_adc():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 20.0)
    hold(treadmill, Command(belt_speed_mps=1.3, incline_pct=2.33), 15.0)
    telemetry = treadmill.read()
    assert telemetry.motor_current_a / machine.sensors.current_step_a == pytest.approx(
        round(telemetry.motor_current_a / machine.sensors.current_step_a), abs=1e-9)
    assert telemetry.incline_pct / 0.1 == pytest.approx(round(telemetry.incline_pct / 0.1),
                                                        abs=1e-9)
    assert telemetry.key_present is True and telemetry.faults == Fault.NONE


def test_board_quantises_the_pwm_speed_command():
    machine = preset("home-motorized")
    step = machine.drive.command_speed_step_mps
    assert step == pytest.approx(machine.drive.speed_max_mps / (0.85 * 255))  # MC-2100 8-bit, 85 %
    trace = run_program(machine, [Setpoint(0, 1.0)], 20.0).trace
    assert np.mean(trace["board_ref_mps"][-100:]) == pytest.approx(round(1.0 / step) * step)


def test_key_pull_latches_until_reset_with_the_key_back():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 90.0)
    hold(treadmill, Command(belt_speed_mps=1.0, incline_pct=4.0), 8.0)
    treadmill.set_key_present(False)
    trace = hold(treadmill, Command(belt_speed_mps=1.0, incline_pct=8.0), 50.0)
    assert trace["faults"][-1] & Fault.KEY_OUT
    assert trace["belt_speed_mps"][-1] == 0.0
    lift_at_pull = at(trace, 8.0)["incline_pct"]
    assert trace["incline_pct"][-1] == pytest.approx(lift_at_pull)  # lift power is cut too
    treadmill.set_key_present(True)
    trace = hold(treadmill, Command(belt_speed_mps=1.0), 56.0)
    assert trace["belt_speed_mps"][-1] == 0.0  # key back, but still latched
    treadmill.write(Command(belt_speed_mps=1.0, reset=True))
    trace = hold(treadmill, Command(belt_speed_mps=1.0), 80.0)
    assert trace["faults"][-1] == 0
    assert trace["belt_speed_mps"][-1] == pytest.approx(1.0, rel=0.02)


def test_reset_does_not_clear_a_key_stop_while_the_key_is_out():
    treadmill = SimulatedTreadmill(preset("home-motorized"), 10.0)
    treadmill.set_key_present(False)
    hold(treadmill, Command(belt_speed_mps=1.0), 1.0)
    treadmill.write(Command(belt_speed_mps=1.0, reset=True))
    trace = hold(treadmill, Command(belt_speed_mps=1.0), 5.0)
    assert trace["faults"][-1] & Fault.KEY_OUT
    assert np.all(trace["belt_speed_mps"] == 0.0)


def test_controlled_stop_follows_the_board_ramp_on_a_drive_that_can_brake():
    machine = preset("club-motorized")
    treadmill = SimulatedTreadmill(machine, 20.0)
    hold(treadmill, Command(belt_speed_mps=3.0), 8.0)
    trace = hold(treadmill, Command(mode=DriveMode.STOP), 14.0)
    stopping = trace[(trace["t_s"] > 8.3) & (trace["belt_speed_mps"] > 0.3)]
    slope = np.polyfit(stopping["t_s"], stopping["belt_speed_mps"], 1)[0]
    assert slope == pytest.approx(-machine.drive.decel_mps2, rel=0.05)
    assert trace["belt_speed_mps"][-1] < 0.05
    assert treadmill.read().drive_enabled is False


def test_single_quadrant_drive_cannot_brake_faster_than_friction():
    machine = machine_with("home-motorized", drive=dict(decel_mps2=3.0))
    treadmill = SimulatedTreadmill(machine, 20.0)
    hold(treadmill, Command(belt_speed_mps=2.0), 8.0)
    trace = hold(treadmill, Command(mode=DriveMode.STOP), 9.0)
    assert np.min(trace["motor_current_a"]) >= 0.0
    assert at(trace, 9.0)["belt_speed_mps"] > 2.0 - 0.5  # far slower than the 3 m/s^2 asked


def test_over_current_trips_the_drive():
    machine = machine_with("home-motorized", drive=dict(current_limit_a=40.0,
                                                        overcurrent_trip_a=12.0,
                                                        accel_mps2=5.0))
    trace = run_program(machine, [Setpoint(0, 3.0)], 5.0).trace
    assert trace["faults"][-1] & Fault.OVERCURRENT
    assert trace["motor_current_a"][-1] == 0.0  # the drive is off; the belt coasts


def test_current_limit_caps_the_armature_current():
    machine = machine_with("home-motorized", drive=dict(current_limit_a=8.0, accel_mps2=5.0))
    trace = run_program(machine, [Setpoint(0, 3.0)], 5.0).trace
    assert np.max(trace["motor_current_a"]) < 8.0 * 1.05
    assert trace["faults"][-1] == 0


def test_the_winding_heats_with_the_copper_loss():
    machine = machine_with("home-motorized", motor=dict(thermal_time_constant_s=60.0))
    treadmill = SimulatedTreadmill(machine, 400.0)
    hold(treadmill, Command(belt_speed_mps=1.5), 5.0)
    treadmill.set_walker_loads(force_n=-150.0, load_n=0.0)
    trace = hold(treadmill, Command(belt_speed_mps=1.5), 400.0)
    end = trace[-1]
    r_hot = machine.motor.armature_resistance_ohm * (1 + 0.00393 * (end["motor_temp_c"] - 20))
    steady_c = (machine.motor.ambient_temp_c
                + r_hot * end["motor_current_a"] ** 2 * machine.motor.thermal_resistance_k_per_w)
    assert end["motor_temp_c"] == pytest.approx(steady_c, abs=0.2)  # six time constants in


def test_tach_dropout_leaves_the_board_blind():
    machine = preset("home-motorized")
    trace = run_program(machine, [Setpoint(0, 1.0)], 30.0,
                        faults=(FaultSpec(FaultKind.TACH_DROPOUT, 10.0),)).trace
    late = trace[trace["t_s"] > 10.0 + machine.sensors.tach_timeout_s + 0.1]
    assert np.all(late["belt_speed_meas_mps"] == 0.0)
    assert np.all(np.diff(late["tach_pulse_count"]) == 0)
    # The board stops trimming on a speed it cannot see and holds its last voltage: the
    # belt runs on at about the same speed, and nothing on the board notices.
    assert late["belt_speed_mps"][-1] == pytest.approx(at(trace, 10.0)["belt_speed_mps"], rel=0.05)
    assert late["faults"][-1] == 0
