"""Named records shared by Python and the compiled stepper.

The stepper works on numpy records (structured scalars), so compiled code
reads ``p.roller_radius_m`` and ``s.belt_speed_mps`` by name, not by index.
Parameters are packed from the part dataclasses by field name, plus a few
derived quantities; state, inputs and trace rows are declared here once.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..controllers.interface import Fault
from .belt import BeltParams
from .brake import BrakeParams
from .drive import DriveParams
from .incline import InclineParams
from .machine import Machine
from .motor import MotorParams
from .params import numeric_fields
from .sensors import SensorParams

PART_TYPES = (MotorParams, BeltParams, DriveParams, BrakeParams, InclineParams, SensorParams)

DERIVED_PARAMS = (
    "force_constant_n_per_a",  # motor force at the belt per ampere
    "drive_side_mass_kg",  # motor, flywheel and drive roller at the belt surface
    "belt_side_mass_kg",  # belt and rear roller
    "tach_belt_per_pulse_m",  # belt travel per reed-switch pulse
    "slip_capacity_n",  # largest force the roller passes before the belt slips
    "bidirectional",  # 1.0 when the belt may run in reverse
    "dt_s",  # physics step
    "record_every_steps",  # a trace row every this many steps
)

PARAM_DTYPE = np.dtype(
    [(name, "f8") for part in PART_TYPES for name in numeric_fields(part)]
    + [(name, "f8") for name in DERIVED_PARAMS]
)

#: Cumulative energies in joules, kept in the state and copied to each trace
#: row: the terms of the energy balance (README, "trace.csv").
ENERGY_TOTAL_FIELDS = [
    ("e_elec_j", "f8"),
    ("e_copper_j", "f8"),
    ("e_friction_j", "f8"),
    ("e_brake_j", "f8"),
    ("e_slip_j", "f8"),
    ("e_walker_j", "f8"),
    ("e_brake_resistor_j", "f8"),
]

STATE_DTYPE = np.dtype(
    [
        ("t_s", "f8"),
        ("step", "i8"),
        # electrical and mechanical
        ("motor_current_a", "f8"),
        ("motor_voltage_v", "f8"),  # averaged armature terminal voltage over the last step
        ("drive_speed_mps", "f8"),  # drive-roller surface speed
        ("belt_speed_mps", "f8"),  # belt surface speed, positive in the normal direction
        ("slipping", "i8"),
        ("slip_direction", "f8"),  # +1: the roller outruns the belt, -1: the belt outruns it
        ("bus_voltage_v", "f8"),
        ("chopper_on", "i8"),
        ("belt_coasting", "i8"),  # moving, and the armature carries no current at all
        ("winding_temp_c", "f8"),
        ("incline_pct", "f8"),
        ("incline_sensor_offset_pct", "f8"),
        ("belt_travel_m", "f8"),  # signed distance the belt has moved
        ("walker_pos_m", "f8"),  # walker's centre of mass, metres from the front of the deck
        # the board
        ("board_target_mps", "f8"),  # latched, quantised, signed target
        ("board_ref_mps", "f8"),  # ramped reference
        ("board_trim_v", "f8"),  # integral of the tach speed error
        ("board_next_latch_s", "f8"),
        ("board_enabled", "i8"),
        ("board_stopping", "i8"),
        ("stop_phase", "i8"),  # safety stop: 0 none, 1 controlled ramp, 2 power removed
        ("stop_started_s", "f8"),  # when the safety stop latched
        ("latched_faults", "i8"),
        # tach and sensors
        ("tach_phase_m", "f8"),
        ("tach_pulse_count", "i8"),
        ("tach_last_pulse_s", "f8"),
        ("tach_previous_pulse_s", "f8"),
        ("current_filtered_a", "f8"),
    ]
    + ENERGY_TOTAL_FIELDS
    + [
        # cached discretisation of the armature and mechanics
        ("cache_r_ohm", "f8"),
        ("cache_mass_kg", "f8"),
        ("cache_viscous", "f8"),
        ("phi", "f8", (4,)),
        ("psi", "f8", (4,)),
        ("lam", "f8", (4,)),
        ("phi_half", "f8", (4,)),
        ("psi_half", "f8", (4,)),
        ("lam_half", "f8", (4,)),
        ("trace_row", "i8"),
    ]
)

INPUT_DTYPE = np.dtype(
    [
        # the command as the board received it
        ("cmd_speed_mps", "f8"),
        ("cmd_direction", "f8"),  # +1 forward, -1 reverse
        ("cmd_mode", "i8"),  # DriveMode
        ("cmd_incline_pct", "f8"),
        ("cmd_resistance_level", "f8"),
        ("cmd_estop", "i8"),
        ("cmd_reset", "i8"),  # consumed (cleared) by the stepper
        # the world acting on the machine
        ("key_present", "i8"),
        ("stop_button", "i8"),  # a press; latched by the stepper
        ("tach_ok", "i8"),
        ("incline_stuck", "i8"),
        ("tension_scale", "f8"),  # 1.0 normal, below 1 for a loose belt
        ("cooling_scale", "f8"),  # 1.0 normal, above 1 for a blocked motor fan
        ("walker_force_n", "f8"),  # steady fore-aft force on the belt, + toward the rear
        ("walker_load_n", "f8"),  # steady vertical load on the deck
        # the walker (sim/walker/balance.py) sets these once per step
        ("walker_present", "i8"),  # 1 while the walker is on the deck (walking, or lying)
        ("walker_speed_mps", "f8"),  # walker's speed relative to the belt, toward the console
        ("walker_profile_start_step", "i8"),  # plant step at which the force profile starts
        ("walker_profile_len", "i8"),  # rows of the profile that are valid
        ("walker_state", "i8"),  # code, for the trace
        ("walker_vo2_ml_kg_min", "f8"),  # metabolic rate, for the trace
        ("walker_balance_error_m", "f8"),  # extrapolated centre of mass off its base, for the trace
        ("lanyard_reach_m", "f8"),  # walker position at which the key pulls out; NaN: no lanyard
        ("walker_front_limit_m", "f8"),  # nearest the walker's centre of mass comes to the front
        ("walker_push_n", "f8"),  # push on a belt without a motor, at standstill
        ("walker_push_speed_mps", "f8"),  # belt speed at which that push falls to zero
    ]
)

TRACE_DTYPE = np.dtype(
    [
        ("t_s", "f8"),
        ("belt_speed_mps", "f8"),
        ("belt_speed_cmd_mps", "f8"),
        ("belt_speed_meas_mps", "f8"),
        ("drive_speed_mps", "f8"),
        ("board_ref_mps", "f8"),
        ("incline_pct", "f8"),
        ("incline_cmd_pct", "f8"),
        ("incline_meas_pct", "f8"),
        ("motor_current_a", "f8"),
        ("motor_current_meas_a", "f8"),
        ("motor_voltage_v", "f8"),
        ("bus_voltage_v", "f8"),
        ("motor_temp_c", "f8"),
        ("tach_pulse_count", "i8"),
        ("walker_pos_m", "f8"),
        ("walker_state", "i8"),
        ("walker_load_n", "f8"),
        ("walker_force_n", "f8"),
        ("vo2_ml_kg_min", "f8"),
        ("balance_error_m", "f8"),
        ("key_present", "i8"),
        ("faults", "i8"),
        ("belt_travel_m", "f8"),
        # stored energies, J; the running totals follow
        ("kinetic_j", "f8"),
        ("e_magnetic_j", "f8"),
    ]
    + ENERGY_TOTAL_FIELDS
)

# Fault bits as plain ints for compiled code.
KEY_OUT = int(Fault.KEY_OUT)
STOP_BUTTON = int(Fault.STOP_BUTTON)
OVERCURRENT = int(Fault.OVERCURRENT)
OVERVOLTAGE = int(Fault.OVERVOLTAGE)
OVERTEMP = int(Fault.OVERTEMP)
INCLINE_STALL = int(Fault.INCLINE_STALL)


def pack_params(machine: Machine, dt_s: float, record_every_steps: int) -> np.ndarray:
    """Pack a machine's parameters into a one-element record array for the stepper."""
    p = np.zeros(1, dtype=PARAM_DTYPE)
    for part in (machine.motor, machine.belt, machine.drive, machine.brake, machine.incline,
                 machine.sensors):
        for f in dataclasses.fields(part):
            if "range" in f.metadata:
                p[0][f.name] = float(getattr(part, f.name))
    p[0]["force_constant_n_per_a"] = machine.force_constant_n_per_a
    p[0]["drive_side_mass_kg"] = machine.belt.drive_side_mass_kg(machine.motor)
    p[0]["belt_side_mass_kg"] = machine.belt.belt_side_mass_kg
    p[0]["tach_belt_per_pulse_m"] = (
        machine.belt.roller_circumference_m / machine.sensors.tach_pulses_per_roller_turn)
    p[0]["slip_capacity_n"] = machine.belt.slip_capacity_n()
    p[0]["bidirectional"] = 1.0 if machine.bidirectional else 0.0
    p[0]["dt_s"] = dt_s
    p[0]["record_every_steps"] = float(record_every_steps)
    return p


def parked_incline_pct(machine: Machine) -> float:
    """Where the deck rests when the machine is switched on: level, if the lift reaches it."""
    return min(max(0.0, machine.incline.incline_min_pct), machine.incline.incline_max_pct)


def initial_state(machine: Machine) -> np.ndarray:
    """A machine at rest, powered, bus charged, deck parked (see parked_incline_pct)."""
    s = np.zeros(1, dtype=STATE_DTYPE)
    s0 = s[0]
    s0["bus_voltage_v"] = machine.drive.bus_supply_v
    s0["winding_temp_c"] = machine.motor.ambient_temp_c
    s0["incline_pct"] = parked_incline_pct(machine)
    s0["incline_sensor_offset_pct"] = machine.incline.incline_sensor_offset_pct
    s0["tach_last_pulse_s"] = np.nan
    s0["tach_previous_pulse_s"] = np.nan
    s0["walker_pos_m"] = np.nan
    s0["board_enabled"] = 0
    s0["cache_r_ohm"] = -1.0  # forces the first discretisation
    return s


def initial_inputs(machine: Machine) -> np.ndarray:
    """Inputs of a machine nobody has touched: key in, belt stopped, no walker."""
    u = np.zeros(1, dtype=INPUT_DTYPE)
    u0 = u[0]
    u0["cmd_direction"] = 1.0
    u0["cmd_incline_pct"] = parked_incline_pct(machine)
    u0["key_present"] = 1
    u0["tach_ok"] = 1
    u0["tension_scale"] = 1.0
    u0["cooling_scale"] = 1.0
    u0["lanyard_reach_m"] = np.nan
    u0["walker_vo2_ml_kg_min"] = np.nan
    u0["walker_balance_error_m"] = np.nan
    return u


#: Rows in the walker's force-profile buffer: one per plant step, 4 s at 1 kHz.
PROFILE_ROWS = 4096


def empty_profile() -> np.ndarray:
    """The walker's force profile: per plant step, fore-aft force and normal load (N)."""
    return np.zeros((PROFILE_ROWS, 2))
