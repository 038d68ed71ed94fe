"""Machine presets: the names scenario files use (a contract, see DESIGN.md).

Each preset is a :class:`~treadtwin.sim.machine.Machine` with every number
traceable: ``[C]`` read in a source, ``[S]`` a secondary source, ``[U]`` an
engineering assumption to be replaced by calibration from logs. Sources are
in reference/standards-hardware.md (sections in brackets below).

Deadmill walking is ``home-motorized`` with the drive off: walk on it with
no speed command and the motor is back-driven.
"""

from __future__ import annotations

import math

from ..controllers.units import deg_to_grade_pct, kmh_to_mps, mph_to_mps
from .belt import BeltParams
from .brake import BrakeParams
from .drive import DriveParams
from .incline import InclineParams
from .machine import Machine, MachineKind
from .motor import MotorParams
from .sensors import SensorParams

#: MC-2100: the console's PWM duty is capped at 85 % of an 8-bit count [C, 2.3].
MC2100_DUTY_COUNTS = 0.85 * 255


def _no_motor(flywheel_inertia_kgm2: float) -> MotorParams:
    """A machine without a motor: only a flywheel on the front roller (pulley 1:1)."""
    return MotorParams(torque_constant_nm_per_a=0.0, motor_inertia_kgm2=0.0,
                       flywheel_inertia_kgm2=flywheel_inertia_kgm2, pulley_ratio=1.0)


def _home_motorized() -> Machine:
    speed_max = mph_to_mps(12.0)  # 0.5-12 mph home consoles [S, 2.2]
    return Machine(
        name="home-motorized",
        kind=MachineKind.MOTORIZED,
        description=(
            "Consumer folding treadmill: PMDC motor on an MC-2100-class board (20 Hz PWM"
            " command, 85 % max duty, slow ramp, 1-quadrant chopper, no brake resistor),"
            " reed-switch tach, 0-15 % lift. The belt coasts when the key is pulled."
        ),
        # Flywheel and IR compensation are [U]; chosen so that a 70 kg walker at 1.2 m/s
        # dips the belt by a few percent at each foot strike, within the 1-5 % reported for
        # consumer machines (standards-hardware.md 4, 5).
        motor=MotorParams(flywheel_inertia_kgm2=0.04),
        belt=BeltParams(),
        drive=DriveParams(
            ir_comp_ohm=1.35,
            speed_max_mps=speed_max,
            speed_min_mps=mph_to_mps(0.5),
            command_update_period_s=0.05,  # 20 Hz PWM [C, 2.3]
            command_speed_step_mps=speed_max / MC2100_DUTY_COUNTS,
            quadrants=1,
        ),
        incline=InclineParams(incline_min_pct=0.0, incline_max_pct=15.0),  # [S, 2.2]
        sources=(
            "MC-2100 PWM command, 85 % cap, tach feedback: standards-hardware.md 2.3 [C]",
            "0.5-12 mph, 0-15 %: standards-hardware.md 2.2 [S]",
            "0.251 m of belt per tach pulse (80 mm roller): standards-hardware.md 2.2 [C]",
            "motor R, L, Ke and all inertias and frictions: placeholders [U]",
        ),
    )


def _club_motorized() -> Machine:
    speed_max = mph_to_mps(15.0)
    return Machine(
        name="club-motorized",
        kind=MachineKind.MOTORIZED,
        description=(
            "Commercial gym treadmill: larger motor and flywheel on a 230 V bus, digital speed"
            " command (0.01 km/h, as FTMS), 2-quadrant drive with brake resistor, dynamic"
            " braking on stop, -3 to 15 % lift."
        ),
        motor=MotorParams(
            armature_resistance_ohm=0.8,
            armature_inductance_h=0.008,
            torque_constant_nm_per_a=0.45,
            motor_inertia_kgm2=0.003,
            flywheel_inertia_kgm2=0.015,
            pulley_ratio=3.0,
            thermal_resistance_k_per_w=0.25,
        ),
        belt=BeltParams(
            roller_radius_m=0.0325,  # 65 mm roller
            front_roller_inertia_kgm2=0.0025,
            rear_roller_inertia_kgm2=0.0025,
            belt_mass_kg=6.0,
            drive_coulomb_n=6.0,
            deck_drag_empty_n=12.0,
            belt_slack_tension_n=450.0,
            running_length_m=1.55,
        ),
        drive=DriveParams(
            speed_max_mps=speed_max,
            speed_min_mps=mph_to_mps(0.5),
            accel_mps2=1.0,
            decel_mps2=1.5,
            command_update_period_s=0.01,
            command_speed_step_mps=kmh_to_mps(0.01),  # FTMS unit [C, 3.1]
            command_timeout_s=1.0,
            ir_comp_ohm=0.6,
            current_limit_a=30.0,
            overcurrent_trip_a=50.0,
            quadrants=2,
            bus_supply_v=325.0,  # 230 V AC peak [D]
            brake_resistor_ohm=40.0,
            brake_chopper_off_v=370.0,
            brake_chopper_on_v=380.0,
            overvoltage_trip_v=420.0,
            stop_brake_resistance_ohm=15.0,
        ),
        incline=InclineParams(incline_min_pct=-3.0, incline_max_pct=15.0,
                              incline_rate_pct_per_s=1.0),
        sources=(
            "0.01 km/h speed unit: FTMS, standards-hardware.md 3.1 [C]",
            "stop cuts motor and incline power, no automatic restart: EN 957-6, 1.2 [C]",
            "everything else: placeholders [U]",
        ),
    )


def _manual_flat() -> Machine:
    return Machine(
        name="manual-flat",
        kind=MachineKind.MANUAL,
        description=(
            "Non-motorized flat-belt treadmill with a flywheel on the front roller and a"
            " magnetic (eddy-current) resistance brake; level deck, no lift."
        ),
        # A non-motorized belt runs over rollers or a low-friction deck so it can be
        # pushed at all: a lower friction coefficient than a motorized deck [U].
        motor=_no_motor(0.05),
        belt=BeltParams(deck_friction_coeff=0.05),
        brake=BrakeParams(eddy_brake_max_n_per_mps=80.0),
        drive=DriveParams(speed_min_mps=0.0),
        incline=InclineParams(incline_min_pct=0.0, incline_max_pct=0.0),
        sources=("belt moved by the walker, resistance adjustable: seeds-guidance.md [C]",
                 "all numbers: placeholders [U]"),
    )


def _curved_manual() -> Machine:
    return Machine(
        name="curved-manual",
        kind=MachineKind.CURVED,
        description=(
            "Curved non-motorized slat treadmill: heavy slat belt on ball-bearing rails (low"
            " deck friction), speed emerges from where the feet land on the curve; optional"
            " pad-brake resistance."
        ),
        motor=_no_motor(0.0),
        belt=BeltParams(
            roller_radius_m=0.06,
            front_roller_inertia_kgm2=0.01,
            rear_roller_inertia_kgm2=0.01,
            belt_mass_kg=40.0,
            deck_friction_coeff=0.02,
            deck_drag_empty_n=6.0,
            running_length_m=1.7,
        ),
        brake=BrakeParams(friction_brake_max_n=120.0),
        drive=DriveParams(speed_min_mps=0.0),
        incline=InclineParams(incline_min_pct=0.0, incline_max_pct=0.0),
        sources=("self-propelled, speed follows foot position: seeds-guidance.md [C]",
                 "all numbers: placeholders [U]"),
    )


def _backward_sled() -> Machine:
    grade = deg_to_grade_pct(8.0)  # fixed 8 degree deck [C, seeds-guidance.md]
    return Machine(
        name="backward-sled",
        kind=MachineKind.SLED,
        description=(
            "Dedicated backward treadmill: manual, deck fixed at 8 degrees (front high), the"
            " walker faces the rear and pushes the belt uphill backwards against an adjustable"
            " pad brake."
        ),
        motor=_no_motor(0.01),
        belt=BeltParams(running_length_m=1.3),
        brake=BrakeParams(friction_brake_max_n=250.0, eddy_brake_max_n_per_mps=40.0),
        drive=DriveParams(speed_min_mps=0.0),
        incline=InclineParams(incline_min_pct=grade, incline_max_pct=grade,
                              incline_rate_pct_per_s=0.0),
        sources=("manual, fixed ~8 degree deck, adjustable resistance: seeds-guidance.md [C]",
                 "brake and belt numbers: placeholders [U]"),
    )


def _instrumented() -> Machine:
    return Machine(
        name="instrumented",
        kind=MachineKind.MOTORIZED,
        description=(
            "Research treadmill: bidirectional belt on a 4-quadrant servo drive with fast"
            " acceleration, 100 Hz digital command, force-sensing deck and a walker distance"
            " sensor for self-paced control."
        ),
        motor=MotorParams(
            armature_resistance_ohm=0.3,
            armature_inductance_h=0.003,
            torque_constant_nm_per_a=0.5,
            motor_inertia_kgm2=0.004,
            flywheel_inertia_kgm2=0.0,
            pulley_ratio=2.0,
            thermal_resistance_k_per_w=0.1,
        ),
        belt=BeltParams(roller_radius_m=0.05, front_roller_inertia_kgm2=0.005,
                        rear_roller_inertia_kgm2=0.005, belt_mass_kg=6.0,
                        belt_slack_tension_n=1500.0, running_length_m=2.0),
        drive=DriveParams(
            speed_max_mps=6.0,
            speed_min_mps=0.0,
            accel_mps2=10.0,  # Bertec FIT5 reaches 25 m/s^2 [C, 2.4]
            decel_mps2=10.0,
            command_update_period_s=0.01,  # 100 Hz speed commands [C, 2.4]
            command_speed_step_mps=0.001,
            command_timeout_s=0.5,
            ir_comp_ohm=0.25,
            tach_trim_gain_v_per_m=60.0,
            current_limit_a=60.0,
            overcurrent_trip_a=90.0,
            quadrants=4,
            bus_supply_v=325.0,
            brake_resistor_ohm=20.0,
            brake_chopper_off_v=370.0,
            brake_chopper_on_v=380.0,
            overvoltage_trip_v=420.0,
            stop_brake_resistance_ohm=2.0,
        ),
        incline=InclineParams(incline_min_pct=-15.0,
                              incline_max_pct=round(100 * math.tan(math.radians(15.0)), 2),
                              incline_rate_pct_per_s=2.0),
        sensors=SensorParams(tach_pulses_per_roller_turn=1000.0, tach_timeout_s=0.05),
        bidirectional=True,
        has_distance_sensor=True,
        has_force_deck=True,
        sources=(
            "up to 25 m/s^2 and 15 degrees, force plates: Bertec FIT5, 2.4 [C]",
            "100 Hz speed command loop: self-paced Bertec control, 2.4 [C]",
            "motor and drive numbers: placeholders [U]",
        ),
    )


PRESETS = {
    "home-motorized": _home_motorized,
    "club-motorized": _club_motorized,
    "manual-flat": _manual_flat,
    "curved-manual": _curved_manual,
    "backward-sled": _backward_sled,
    "instrumented": _instrumented,
}


def preset(name: str) -> Machine:
    """The machine for a preset name; raises KeyError listing the names allowed."""
    try:
        return PRESETS[name]()
    except KeyError:
        raise KeyError(
            f"unknown preset {name!r}; allowed: {', '.join(sorted(PRESETS))}"
        ) from None
