"""The plant against independent references: analytic solutions and energy balance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import at, hold, machine_with, residual_pct, run_program

from treadtwin.controllers.interface import BeltDirection, Command, Fault
from treadtwin.controllers.program import Setpoint
from treadtwin.sim.faults import FaultKind, FaultSpec
from treadtwin.sim.motor import COPPER_TEMP_COEFF_PER_K
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill

# A home treadmill whose board applies V = k * target at once and holds it:
# no ramp, no IR compensation, no trim, no command period, no quantisation,
# no dry friction. What is left is the linear motor-plus-inertia system.
OPEN_LOOP = dict(
    drive=dict(accel_mps2=1000.0, decel_mps2=1000.0, ir_comp_ohm=0.0, tach_trim_gain_v_per_m=0.0,
               command_update_period_s=0.0, command_speed_step_mps=0.0, current_limit_a=200.0,
               overcurrent_trip_a=400.0),
    belt=dict(drive_coulomb_n=0.0, deck_drag_empty_n=0.0),
)


def _lumped(machine):
    """Mass, viscous coefficient, force constant and hot resistance of a locked belt."""
    mass = machine.belt.drive_side_mass_kg(machine.motor) + machine.belt.belt_side_mass_kg
    viscous = machine.belt.drive_viscous_n_per_mps + machine.belt.deck_viscous_n_per_mps
    k = machine.force_constant_n_per_a
    r = machine.motor.armature_resistance_ohm * (
        1 + COPPER_TEMP_COEFF_PER_K * (machine.motor.ambient_temp_c - 20.0))
    return mass, viscous, k, r


def test_motor_and_inertia_step_response_matches_the_analytic_solution():
    machine = machine_with("home-motorized", **OPEN_LOOP)
    target_mps = 1.0
    trace = run_program(machine, [Setpoint(0.0, target_mps)], duration_s=3.0).trace
    mass, viscous, k, r = _lumped(machine)
    inductance = machine.motor.armature_inductance_h
    volts = k * target_mps
    # (L s + R)(m s + b) + k^2 = 0; no zeros, so the step response is
    # v_ss [1 + (l2 e^{l1 t} - l1 e^{l2 t}) / (l1 - l2)].
    l1, l2 = np.roots([inductance * mass, inductance * viscous + r * mass, r * viscous + k * k])
    v_ss = k * volts / (r * viscous + k * k)
    t = trace["t_s"]
    expected = v_ss * (1 + (l2 * np.exp(l1 * t) - l1 * np.exp(l2 * t)) / (l1 - l2))
    assert np.max(np.abs(trace["belt_speed_mps"] - expected.real)) < 1e-4 * v_ss
    # The current too: i = (m v' + b v) / k.
    accel = v_ss * l1 * l2 * (np.exp(l1 * t) - np.exp(l2 * t)) / (l1 - l2)
    current = (mass * accel.real + viscous * expected.real) / k
    assert np.max(np.abs(trace["motor_current_a"] - current)) < 1e-3 * np.max(current)


def test_steady_speed_under_constant_load():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 70.0)
    hold(treadmill, Command(belt_speed_mps=1.5), 10.0)
    load_n = 80.0  # the walker's feet hold the belt back
    treadmill.set_walker_loads(force_n=-load_n, load_n=0.0)
    trace = hold(treadmill, Command(belt_speed_mps=1.5), 70.0)
    step = machine.drive.command_speed_step_mps
    board_target = math.floor(1.5 / step + 0.5) * step  # what the 8-bit PWM command can say
    end = trace[trace["t_s"] > 60.0]
    speed = float(np.mean(end["belt_speed_mps"]))
    assert speed == pytest.approx(board_target, rel=2e-3)  # the board's tach loop holds speed
    belt = machine.belt
    resisting_n = (load_n + belt.drive_coulomb_n + belt.deck_drag_empty_n
                   + (belt.drive_viscous_n_per_mps + belt.deck_viscous_n_per_mps) * speed)
    current = float(np.mean(end["motor_current_a"]))
    assert current == pytest.approx(resisting_n / machine.force_constant_n_per_a, rel=2e-3)
    r_hot = machine.motor.armature_resistance_ohm * (
        1 + COPPER_TEMP_COEFF_PER_K * (float(end["motor_temp_c"][-1]) - 20.0))
    volts = float(np.mean(end["motor_voltage_v"]))
    assert volts == pytest.approx(r_hot * current + machine.force_constant_n_per_a * speed,
                                  rel=2e-3)



@pytest.mark.parametrize("ir_comp_ohm", [0.0, 1.35])
def test_ir_compensation_cancels_its_share_of_the_load_droop(ir_comp_ohm):
    # Without the tach trim the board's armature voltage is k v_ref + R_comp i, and the
    # motor's is R i + k v at steady state: the roller droops by (R - R_comp) i / k.
    machine = machine_with("home-motorized", drive=dict(tach_trim_gain_v_per_m=0.0,
                                                        ir_comp_ohm=ir_comp_ohm))
    treadmill = SimulatedTreadmill(machine, 70.0)
    hold(treadmill, Command(belt_speed_mps=1.5), 10.0)
    treadmill.set_walker_loads(force_n=-80.0, load_n=0.0)
    end = hold(treadmill, Command(belt_speed_mps=1.5), 40.0)
    end = end[end["t_s"] > 30.0]
    current = float(np.mean(end["motor_current_a"]))
    r_hot = machine.motor.armature_resistance_ohm * (
        1 + COPPER_TEMP_COEFF_PER_K * (float(end["motor_temp_c"][-1]) - 20.0))
    droop_mps = float(np.mean(end["board_ref_mps"] - end["drive_speed_mps"]))
    expected_mps = (r_hot - ir_comp_ohm) * current / machine.force_constant_n_per_a
    assert current > 2.0
    assert droop_mps == pytest.approx(expected_mps, rel=0.02)


def test_coast_down_against_friction_matches_the_analytic_solution():
    machine = preset("home-motorized")
    pull_s = 15.0
    trace = run_program(machine, [Setpoint(0.0, 2.0)], duration_s=70.0,
                        faults=(FaultSpec(FaultKind.LANYARD_PULL, pull_s),)).trace
    mass, viscous, _, _ = _lumped(machine)
    dry_n = machine.belt.drive_coulomb_n + machine.belt.deck_drag_empty_n
    start = at(trace, pull_s + 0.05)  # the armature current has died out by then
    assert abs(start["motor_current_a"]) < 1e-6
    v0, t0 = float(start["belt_speed_mps"]), float(start["t_s"])
    # m v' = -c v - F  =>  v = (v0 + F/c) e^{-c t/m} - F/c, zero at t* = m/c ln(1 + c v0/F)
    stop_after_s = mass / viscous * math.log(1 + viscous * v0 / dry_n)
    coasting = trace[(trace["t_s"] >= t0) & (trace["t_s"] < t0 + stop_after_s - 0.05)]
    tau = coasting["t_s"] - t0
    expected = (v0 + dry_n / viscous) * np.exp(-viscous * tau / mass) - dry_n / viscous
    assert np.max(np.abs(coasting["belt_speed_mps"] - expected)) < 1e-6
    stopped = trace["t_s"][(trace["t_s"] > t0) & (trace["belt_speed_mps"] == 0.0)][0]
    assert stopped - t0 == pytest.approx(stop_after_s, abs=0.011)  # one trace period
    assert np.all(trace["belt_speed_mps"][trace["t_s"] > stopped] == 0.0)  # friction holds it


@pytest.mark.parametrize(
    "name, setpoints, faults",
    [
        ("home-motorized",
         [Setpoint(0, 0.5), Setpoint(5, 2.0), Setpoint(20, 2.0, 8.0), Setpoint(40, 0.9, 0.0)],
         (FaultSpec(FaultKind.LANYARD_PULL, 55.0),)),
        ("club-motorized", [Setpoint(0, 3.0)], (FaultSpec(FaultKind.STOP_BUTTON, 12.0),)),
        ("instrumented",
         [Setpoint(0, 2.0), Setpoint(8, 0.0), Setpoint(11, 1.0, direction=BeltDirection.REVERSE)],
         ()),
    ],
)
def test_energy_columns_balance(name, setpoints, faults):
    trace = run_program(preset(name), setpoints, duration_s=60.0, faults=faults).trace
    assert residual_pct(trace) < 0.5
    # The balance is not trivially satisfied: leaving out one term breaks it.
    broken = trace.copy()
    broken["e_friction_j"] = 0.0
    assert residual_pct(broken) > 10.0


def test_energy_balances_with_a_walker_force_and_belt_slip():
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 30.0)
    hold(treadmill, Command(belt_speed_mps=1.2), 8.0)
    treadmill.set_input("tension_scale", 0.2)
    treadmill.set_walker_loads(force_n=-120.0, load_n=700.0)
    trace = hold(treadmill, Command(belt_speed_mps=1.2), 30.0)
    late = trace[trace["t_s"] > 12.0]
    assert late["e_slip_j"][-1] > 10.0  # the belt slipped on the drive roller
    assert np.mean(late["drive_speed_mps"] - late["belt_speed_mps"]) > 0.05
    # The tach sits on the roller: it reports the roller, not the slower belt.
    assert np.mean(late["belt_speed_meas_mps"]) > np.mean(late["belt_speed_mps"]) + 0.05
    assert residual_pct(trace) < 0.5


def test_manual_machine_is_moved_by_the_walker_against_its_brake():
    machine = preset("manual-flat")
    treadmill = SimulatedTreadmill(machine, 40.0)
    push_n = 120.0  # more than the dry friction under a 700 N walker
    treadmill.set_walker_loads(force_n=push_n, load_n=700.0)
    trace = hold(treadmill, Command(resistance_level=0.5), 40.0)
    belt, brake = machine.belt, machine.brake
    dry_n = belt.drive_coulomb_n + belt.deck_drag_empty_n + belt.deck_friction_coeff * 700.0
    viscous = (belt.drive_viscous_n_per_mps + belt.deck_viscous_n_per_mps
               + 0.5 * brake.eddy_brake_max_n_per_mps)
    assert trace["belt_speed_mps"][-1] == pytest.approx((push_n - dry_n) / viscous, rel=1e-3)
    assert trace["e_brake_j"][-1] > 0.0
    assert trace["e_elec_j"][-1] == 0.0
    assert residual_pct(trace) < 0.5


def test_incline_moves_at_its_rate_and_stops_at_its_end_stops():
    machine = preset("club-motorized")  # -3 .. 15 %
    rate = machine.incline.incline_rate_pct_per_s
    treadmill = SimulatedTreadmill(machine, 80.0)
    trace = hold(treadmill, Command(incline_pct=40.0), 30.0)  # beyond the top end stop
    rising = trace[(trace["t_s"] > 1.0) & (trace["t_s"] < 10.0)]
    slope = np.polyfit(rising["t_s"], rising["incline_pct"], 1)[0]
    assert slope == pytest.approx(rate, rel=1e-3)
    assert trace["incline_pct"][-1] == machine.incline.incline_max_pct
    trace = hold(treadmill, Command(incline_pct=-40.0), 80.0)
    assert trace["incline_pct"][-1] == machine.incline.incline_min_pct
    assert np.min(trace["incline_pct"]) == machine.incline.incline_min_pct


def test_incline_sensor_is_off_by_its_calibration_error_until_homed():
    machine = machine_with("home-motorized", incline=dict(incline_sensor_offset_pct=1.2))
    treadmill = SimulatedTreadmill(machine, 40.0)
    trace = hold(treadmill, Command(incline_pct=5.0), 15.0)
    assert at(trace, 14.9)["incline_meas_pct"] == pytest.approx(6.2, abs=0.051)
    trace = hold(treadmill, Command(incline_pct=0.0), 40.0)  # down onto the end stop: homed
    assert at(trace, 39.9)["incline_meas_pct"] == pytest.approx(0.0, abs=0.051)


def test_regeneration_is_dumped_in_the_brake_resistor():
    machine = preset("club-motorized")  # 2-quadrant drive with a brake chopper
    treadmill = SimulatedTreadmill(machine, 30.0)
    hold(treadmill, Command(belt_speed_mps=1.0), 8.0)
    treadmill.set_walker_loads(force_n=150.0, load_n=0.0)  # downhill push
    trace = hold(treadmill, Command(belt_speed_mps=1.0), 30.0)
    late = trace[trace["t_s"] > 15.0]
    assert np.mean(late["motor_current_a"]) < 0.0  # the motor brakes: it is a generator
    assert np.max(late["bus_voltage_v"]) > machine.drive.brake_chopper_on_v
    assert np.max(late["bus_voltage_v"]) < machine.drive.overvoltage_trip_v
    assert late["e_brake_resistor_j"][-1] > 100.0
    assert np.all(late["faults"] == 0)
    assert np.mean(late["belt_speed_mps"]) == pytest.approx(1.0, rel=0.02)  # speed held
    assert residual_pct(trace) < 0.5


def test_regeneration_without_a_brake_resistor_trips_on_over_voltage():
    machine = machine_with("club-motorized", drive=dict(brake_resistor_ohm=math.inf))
    treadmill = SimulatedTreadmill(machine, 20.0)
    hold(treadmill, Command(belt_speed_mps=1.0), 8.0)
    treadmill.set_walker_loads(force_n=150.0, load_n=0.0)
    trace = hold(treadmill, Command(belt_speed_mps=1.0), 20.0)
    assert np.max(trace["bus_voltage_v"]) > machine.drive.overvoltage_trip_v
    assert trace["faults"][-1] & Fault.OVERVOLTAGE
    assert treadmill.read().drive_enabled is False


def test_back_driven_single_quadrant_motor_charges_the_bus_through_its_diodes():
    # "Deadmill": the drive is off and the belt is pushed. Once the back-EMF
    # exceeds the bus, current flows into it and, with no brake resistor,
    # the bus climbs past its trip (the damage the source articles warn of).
    machine = preset("home-motorized")
    treadmill = SimulatedTreadmill(machine, 40.0)
    treadmill.set_walker_loads(force_n=400.0, load_n=0.0)
    trace = hold(treadmill, Command(), 40.0)
    emf_exceeds_bus_mps = machine.drive.bus_supply_v / machine.force_constant_n_per_a
    fast = trace["belt_speed_mps"] > emf_exceeds_bus_mps
    assert fast.any()
    assert np.all(trace["motor_current_a"][~fast] == 0.0)  # below the bus, nothing conducts
    fast_rows = trace[fast]
    assert np.all(fast_rows["motor_current_a"] < 0.0)  # above it, current flows back
    # The diode ties the bus to the back-EMF: the capacitor charges as the belt speeds up.
    emf = machine.force_constant_n_per_a * fast_rows["drive_speed_mps"]
    assert np.allclose(fast_rows["bus_voltage_v"], emf, rtol=0.01)
    assert np.max(trace["bus_voltage_v"]) > machine.drive.overvoltage_trip_v
    assert trace["faults"][-1] & Fault.OVERVOLTAGE
    assert residual_pct(trace) < 0.5
