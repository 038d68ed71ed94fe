"""Machine presets: the names scenario files use (a contract, see DESIGN.md).

Each preset is a :class:`~treadtwin.sim.machine.Machine` whose every number
has a tag from :data:`~treadtwin.sim.provenance.TAG_LEGEND`: the values a
preset sets carry the preset's own tag (its source, or ``[U]`` for an
assumption calibration should replace); values it leaves at the declared
default carry the default's tag. docs/references.md lists the sources.

Deadmill walking is ``home-motorized`` with the drive off: walk on it with
no speed command and the motor is back-driven.
"""

from __future__ import annotations

import math

from ..controllers.units import deg_to_grade_pct, kmh_to_mps, lb_to_kg, mph_to_mps
from .belt import BeltParams
from .brake import BrakeParams
from .drive import DriveParams
from .incline import InclineParams
from .machine import Machine, MachineKind
from .motor import MotorParams
from .sensors import SensorParams

#: MC-2100: the console's PWM duty is capped at 85 % of an 8-bit count (curiouspiano README).
MC2100_DUTY_COUNTS = 0.85 * 255
#: Rectified-mains peaks: 120 V and 230 V AC (IEC 60038 nominal voltages) times sqrt 2.
BUS_120VAC_V = round(120.0 * math.sqrt(2.0))
BUS_230VAC_V = round(230.0 * math.sqrt(2.0))
#: "Most home treadmills feature an MUW rating between 250 and 300 pounds, while commercial
#: models often support 350 to 450 pounds" (biologyinsights.com, treadmill weight capacity).
HOME_RATED_LB = 300.0
COMMERCIAL_RATED_LB = 350.0


def _no_motor(flywheel_inertia_kgm2: float) -> MotorParams:
    """A machine without a motor: only a flywheel on the front roller (pulley 1:1)."""
    return MotorParams(torque_constant_nm_per_a=0.0, motor_inertia_kgm2=0.0,
                       flywheel_inertia_kgm2=flywheel_inertia_kgm2, pulley_ratio=1.0)


_NO_MOTOR_TAGS = {
    "motor.torque_constant_nm_per_a": "[N] no motor",
    "motor.motor_inertia_kgm2": "[N] no motor",
    "motor.pulley_ratio": "[N] the flywheel sits on the front roller, 1:1",
}


#: The servo's integral acts this many times slower than its speed loop, so it removes the
#: steady error without moving the loop's poles.
SERVO_INTEGRAL_SEPARATION = 50.0


#: A regenerative drive on a 230 V bus that burns its braking energy in a chopper resistor.
_CHOPPER_DRIVE_TAGS = {
    "drive.bus_supply_v": "[D] 230 V AC mains (IEC 60038) times sqrt 2",
    "drive.brake_resistor_ohm": "[U] a brake-chopper resistor for regenerated energy",
    "drive.brake_chopper_off_v": "[U] below the chopper's on threshold",
    "drive.brake_chopper_on_v": "[U] above the 325 V bus",
    "drive.overvoltage_trip_v": "[U] above the chopper's on threshold",
    "drive.stop_brake_resistance_ohm": (
        "[U] a dynamic-brake resistor across the armature once power is removed"),
}


def servo_gains(motor: MotorParams, belt: BeltParams, natural_hz: float,
                damping_ratio: float) -> tuple[float, float, float]:
    """Speed gain (V per m/s), current feedback (ohm) and integral gain for a servo's poles.

    With the armature ``L di/dt = V - R i - k v``, the belt ``m dv/dt = k i - F`` and
    the drive's law ``V = k v_ref + Kp (v_ref - v) - Rf i`` (no IR compensation), the
    speed loop's characteristic equation is ``L m s^2 + (R + Rf) m s + k (k + Kp) = 0``:
    ``Kp = L m w^2 / k - k`` and ``Rf = 2 zeta w L - R`` put its poles at ``w`` with
    damping ``zeta``. The integral (the tach trim) puts its zero
    :data:`SERVO_INTEGRAL_SEPARATION` times below ``w``, where it leaves the poles be.
    """
    k = motor.torque_constant_nm_per_a * motor.pulley_ratio / belt.roller_radius_m
    mass_kg = belt.drive_side_mass_kg(motor) + belt.belt_side_mass_kg
    w = 2.0 * math.pi * natural_hz
    inductance = motor.armature_inductance_h
    speed_gain = inductance * mass_kg * w * w / k - k
    current_feedback = 2.0 * damping_ratio * w * inductance - motor.armature_resistance_ohm
    if speed_gain < 0.0 or current_feedback < 0.0:
        raise ValueError(f"{natural_hz} Hz at damping {damping_ratio} needs negative gains")
    integral_gain = (k + speed_gain) * w / SERVO_INTEGRAL_SEPARATION
    return speed_gain, current_feedback, integral_gain


def _home_motorized() -> Machine:
    speed_max = mph_to_mps(12.0)
    motor = MotorParams(flywheel_inertia_kgm2=0.04)
    return Machine(
        name="home-motorized",
        kind=MachineKind.MOTORIZED,
        description=(
            "Consumer folding treadmill: PMDC motor on an MC-2100-class board (20 Hz PWM"
            " command, 85 % max duty, slow ramp, 1-quadrant chopper, no brake resistor),"
            " reed-switch tach, 0-15 % lift. A key pull or the stop button cuts the drive and"
            " the belt coasts to a stop: the board cannot brake."
        ),
        motor=motor,
        belt=BeltParams(belt_slack_tension_n=550.0),
        drive=DriveParams(
            ir_comp_ohm=1.35,
            speed_max_mps=speed_max,
            speed_min_mps=mph_to_mps(0.5),
            command_update_period_s=0.05,
            command_speed_step_mps=speed_max / MC2100_DUTY_COUNTS,
            quadrants=1,
            current_limit_a=30.0,
            overcurrent_trip_a=45.0,
            bus_supply_v=BUS_120VAC_V,
        ),
        incline=InclineParams(incline_min_pct=0.0, incline_max_pct=15.0),
        rated_user_mass_kg=round(lb_to_kg(HOME_RATED_LB)),
        tags={
            "motor.flywheel_inertia_kgm2": (
                "[U] a 70 kg walker at 1.2 m/s dips the belt a few percent per foot strike;"
                " Willwacher 2021 measured more than 5 % in running on most machines"),
            "belt.belt_slack_tension_n": (
                "[U] enough grip (capstan) to carry the rated user without roller slip"),
            "drive.ir_comp_ohm": "[U] the IR-comp trimmer, set below the armature resistance",
            "drive.decel_mps2": (
                "[U] the board's ramp down; it cannot brake, so the belt slows no faster than"
                " it coasts (Machine.coast_decel_mps2: 0.06 m/s^2 empty, 0.88 with 136 kg)"),
            "drive.speed_max_mps": "[S] 12 mph, the usual home console top speed (sportsrec)",
            "drive.speed_min_mps": "[S] 0.5 mph, the usual home console lowest speed (sportsrec)",
            "drive.command_update_period_s": "[C] 20 Hz PWM command (Sons of Invention, MC-2100)",
            "drive.command_speed_step_mps": (
                "[D] top speed over the 85 % of 255 duty counts the MC-2100 obeys (curiouspiano)"),
            "drive.quadrants": (
                "[S] a single-MOSFET chopper (the reverse-engineered MC-2100 schematic on the"
                " allaboutcircuits forum): it drives the motor, it cannot brake it"),
            "drive.current_limit_a": (
                "[U] the LIMIT trimmer, above the rated user's foot-strike peaks"),
            "drive.overcurrent_trip_a": "[U] 1.5 times the current limit",
            "drive.bus_supply_v": "[D] 120 V AC mains (IEC 60038) times sqrt 2",
            "incline.incline_min_pct": "[S] 0-15 % home lifts (engineerfix)",
            "incline.incline_max_pct": "[S] 0-15 % home lifts (engineerfix)",
        },
        sources=(
            "MC-2100 20 Hz PWM, 85 % duty cap, tach feedback: Sons of Invention; curiouspiano",
            "0.5-12 mph, 0-15 %: sportsrec; engineerfix",
            "0.251 m of belt per tach pulse (80 mm roller): ESP32_TTGO_FTMS README",
            "rated user 300 lb: biologyinsights.com (home MUW 250-300 lb)",
            "motor R, L, Ke and all inertias and frictions: assumptions [U]",
        ),
    )


def _club_motorized() -> Machine:
    speed_max = mph_to_mps(15.0)
    return Machine(
        name="club-motorized",
        kind=MachineKind.MOTORIZED,
        description=(
            "Commercial gym treadmill: larger motor and flywheel on a 230 V bus, digital speed"
            " command (0.01 km/h, as FTMS), 2-quadrant drive with brake resistor, -3 to 15 %"
            " lift. A key pull or the stop button brakes the belt to a stop at 1.5 m/s^2,"
            " then removes power and shorts the armature through a dynamic-brake resistor."
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
            roller_radius_m=0.0325,
            front_roller_inertia_kgm2=0.0025,
            rear_roller_inertia_kgm2=0.0025,
            belt_mass_kg=6.0,
            drive_coulomb_n=6.0,
            deck_drag_empty_n=12.0,
            belt_slack_tension_n=800.0,
            running_length_m=1.55,
        ),
        drive=DriveParams(
            speed_max_mps=speed_max,
            speed_min_mps=mph_to_mps(0.5),
            accel_mps2=1.0,
            decel_mps2=1.5,
            command_update_period_s=0.01,
            command_speed_step_mps=kmh_to_mps(0.01),
            command_timeout_s=1.0,
            ir_comp_ohm=0.6,
            current_limit_a=30.0,
            overcurrent_trip_a=50.0,
            quadrants=2,
            bus_supply_v=BUS_230VAC_V,
            brake_resistor_ohm=40.0,
            brake_chopper_off_v=370.0,
            brake_chopper_on_v=380.0,
            overvoltage_trip_v=420.0,
            stop_decel_mps2=1.5,
            stop_power_off_s=10.0,
            stop_brake_resistance_ohm=15.0,
        ),
        incline=InclineParams(incline_min_pct=-3.0, incline_max_pct=15.0,
                              incline_rate_pct_per_s=1.0),
        rated_user_mass_kg=round(lb_to_kg(COMMERCIAL_RATED_LB)),
        tags={
            "motor.armature_resistance_ohm": "[U] a larger motor than the home machine's",
            "motor.armature_inductance_h": "[U] a larger motor than the home machine's",
            "motor.torque_constant_nm_per_a": "[U] a larger motor than the home machine's",
            "motor.motor_inertia_kgm2": "[U] a larger rotor than the home machine's",
            "motor.flywheel_inertia_kgm2": "[U] a lighter flywheel; the drive holds the speed",
            "motor.pulley_ratio": "[U] commercial motors turn slower at top speed",
            "motor.thermal_resistance_k_per_w": "[U] a fan-cooled continuous-duty motor",
            "belt.roller_radius_m": "[U] 65 mm rollers",
            "belt.front_roller_inertia_kgm2": "[U] lighter rollers than the home machine's",
            "belt.rear_roller_inertia_kgm2": "[U] lighter rollers than the home machine's",
            "belt.belt_mass_kg": "[U] a longer, heavier commercial belt",
            "belt.drive_coulomb_n": "[U] larger bearings",
            "belt.deck_drag_empty_n": "[U] a longer deck",
            "belt.belt_slack_tension_n": (
                "[U] enough grip (capstan) to carry the rated user without roller slip"),
            "belt.running_length_m": "[U] a 155 cm running surface",
            "drive.speed_max_mps": "[U] 15 mph, a commercial console top speed",
            "drive.speed_min_mps": "[U] 0.5 mph, as the home machines",
            "drive.accel_mps2": "[U] a commercial drive's ramp up",
            "drive.decel_mps2": "[U] a commercial drive's ramp down",
            "drive.command_update_period_s": "[U] a digital command taken every 10 ms",
            "drive.command_speed_step_mps": "[C] 0.01 km/h, the FTMS speed unit (Bluetooth FTMS)",
            "drive.command_timeout_s": "[U] the board stops 1 s after the console goes silent",
            "drive.ir_comp_ohm": "[U] the IR-comp trimmer, set below the armature resistance",
            "drive.current_limit_a": "[U] above the rated user's foot-strike peaks",
            "drive.overcurrent_trip_a": "[U] above the current limit",
            "drive.quadrants": "[U] a regenerative drive that can brake",
            **_CHOPPER_DRIVE_TAGS,
            "drive.stop_decel_mps2": (
                "[U] the belt 'slows to a stop' on a lanyard pull or STOP (Precor TRM 800"
                " manual); the rate is not published, the drive's own ramp down assumed"),
            "drive.stop_power_off_s": (
                "[U] the power cut EN 957-6 requires, on a timer: a 15 mph stop at 1.5 m/s^2"
                " takes 4.5 s"),
            "incline.incline_min_pct": "[U] a -3 % decline, as commercial lifts offer",
            "incline.incline_max_pct": "[U] 15 %, as commercial lifts offer",
            "incline.incline_rate_pct_per_s": "[U] a faster lift than the home machine's",
        },
        sources=(
            "0.01 km/h speed unit: Bluetooth FTMS",
            "a key pull or STOP slows the belt to a stop: Precor TRM 800 manual",
            "stop cuts motor and incline power, no automatic restart: EN 957-6",
            "rated user 350 lb: biologyinsights.com (commercial MUW 350-450 lb)",
            "everything else: assumptions [U]",
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
        motor=_no_motor(0.05),
        belt=BeltParams(deck_friction_coeff=0.05),
        brake=BrakeParams(eddy_brake_max_n_per_mps=80.0),
        drive=DriveParams(speed_min_mps=0.0),
        incline=InclineParams(incline_min_pct=0.0, incline_max_pct=0.0),
        unused_parts=("drive",),
        tags={
            **_NO_MOTOR_TAGS,
            "motor.flywheel_inertia_kgm2": "[U] a flywheel that smooths the walker's pushes",
            "belt.deck_friction_coeff": (
                "[U] a belt the walker can push at all runs over a low-friction deck"),
            "brake.eddy_brake_max_n_per_mps": "[U] a magnetic resistance brake",
            "incline.incline_min_pct": "[C] a level deck (the source articles)",
            "incline.incline_max_pct": "[C] a level deck (the source articles)",
        },
        sources=("belt moved by the walker, resistance adjustable: the source articles [C]",
                 "all numbers: assumptions [U]"),
    )


def _curved_manual() -> Machine:
    return Machine(
        name="curved-manual",
        kind=MachineKind.CURVED,
        description=(
            "Curved non-motorized slat treadmill: heavy slat belt on ball-bearing rails (low"
            " deck friction); optional pad-brake resistance. The walker pushes the belt to"
            " its own pace, as on the flat manual machine: the twin does not model the"
            " curve's slope under the feet, so speed does not come from where they land."
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
        unused_parts=("drive",),
        tags={
            **_NO_MOTOR_TAGS,
            "motor.flywheel_inertia_kgm2": "[U] no flywheel: the heavy slat belt carries on",
            "belt.roller_radius_m": "[U] large slat sprockets",
            "belt.front_roller_inertia_kgm2": "[U] large slat sprockets",
            "belt.rear_roller_inertia_kgm2": "[U] large slat sprockets",
            "belt.belt_mass_kg": "[U] a slat belt is heavy",
            "belt.deck_friction_coeff": "[U] slats on ball-bearing rails",
            "belt.deck_drag_empty_n": "[U] slats on ball-bearing rails",
            "belt.running_length_m": "[U] a 170 cm curve",
            "brake.friction_brake_max_n": "[U] an optional pad brake",
            "incline.incline_min_pct": "[C] no lift: the curve sets the slope (source articles)",
            "incline.incline_max_pct": "[C] no lift: the curve sets the slope (source articles)",
        },
        sources=("self-propelled, speed follows foot position: the source articles [C]",
                 "all numbers: assumptions [U]"),
    )


def _backward_sled() -> Machine:
    grade = deg_to_grade_pct(8.0)
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
        unused_parts=("drive",),
        tags={
            **_NO_MOTOR_TAGS,
            "motor.flywheel_inertia_kgm2": "[U] a light flywheel",
            "belt.running_length_m": "[U] a short sled deck",
            "brake.friction_brake_max_n": "[U] an adjustable pad brake (source articles)",
            "brake.eddy_brake_max_n_per_mps": "[U] a magnetic brake alongside",
            "incline.incline_min_pct": "[C] a deck fixed at about 8 degrees (source articles)",
            "incline.incline_max_pct": "[C] a deck fixed at about 8 degrees (source articles)",
            "incline.incline_rate_pct_per_s": "[C] a fixed deck does not move",
        },
        sources=("manual, fixed ~8 degree deck, adjustable resistance: the source articles [C]",
                 "brake and belt numbers: assumptions [U]"),
    )


#: The instrumented servo's speed loop: natural frequency and damping ratio. Makers publish
#: no bandwidth (see docs/references.md); 50 Hz is an industrial servo speed loop's order.
INSTRUMENTED_SPEED_LOOP_HZ = 100.0
INSTRUMENTED_DAMPING_RATIO = 1.0


def _instrumented() -> Machine:
    motor = MotorParams(
        armature_resistance_ohm=0.3,
        armature_inductance_h=0.003,
        torque_constant_nm_per_a=0.5,
        motor_inertia_kgm2=0.004,
        flywheel_inertia_kgm2=0.0,
        pulley_ratio=2.0,
        thermal_resistance_k_per_w=0.1,
    )
    belt = BeltParams(roller_radius_m=0.05, front_roller_inertia_kgm2=0.005,
                      rear_roller_inertia_kgm2=0.005, belt_mass_kg=6.0,
                      belt_slack_tension_n=1500.0, running_length_m=2.0)
    speed_gain, current_feedback, integral_gain = servo_gains(
        motor, belt, INSTRUMENTED_SPEED_LOOP_HZ, INSTRUMENTED_DAMPING_RATIO)
    servo = (f"[D] a {INSTRUMENTED_SPEED_LOOP_HZ:g} Hz speed loop at damping"
             f" {INSTRUMENTED_DAMPING_RATIO:g} (servo_gains; the bandwidth is [U])")
    return Machine(
        name="instrumented",
        kind=MachineKind.MOTORIZED,
        description=(
            "Research treadmill: bidirectional belt on a 4-quadrant servo drive (a well-damped"
            " speed loop on an encoder) with fast acceleration, 100 Hz digital command,"
            " force-sensing deck and a walker distance sensor for self-paced control. A key"
            " pull or the stop button brakes the belt to a stop at 10 m/s^2."
        ),
        motor=motor,
        belt=belt,
        drive=DriveParams(
            speed_max_mps=6.0,
            speed_min_mps=0.0,
            accel_mps2=10.0,
            decel_mps2=10.0,
            command_update_period_s=0.01,
            command_speed_step_mps=0.001,
            command_timeout_s=0.5,
            ir_comp_ohm=0.0,
            speed_gain_v_per_mps=round(speed_gain, 1),
            current_feedback_ohm=round(current_feedback, 3),
            tach_trim_gain_v_per_m=round(integral_gain, 1),
            tach_trim_limit_v=round(current_feedback * 60.0, 1),
            current_limit_a=60.0,
            overcurrent_trip_a=90.0,
            quadrants=4,
            bus_supply_v=BUS_230VAC_V,
            brake_resistor_ohm=20.0,
            brake_chopper_off_v=370.0,
            brake_chopper_on_v=380.0,
            overvoltage_trip_v=420.0,
            stop_decel_mps2=10.0,
            stop_power_off_s=2.0,
            stop_brake_resistance_ohm=2.0,
        ),
        incline=InclineParams(incline_min_pct=-15.0,
                              incline_max_pct=round(100 * math.tan(math.radians(15.0)), 2),
                              incline_rate_pct_per_s=2.0),
        sensors=SensorParams(tach_pulses_per_roller_turn=10000.0, tach_timeout_s=0.05),
        bidirectional=True,
        has_distance_sensor=True,
        has_force_deck=True,
        rated_user_mass_kg=150.0,
        tags={
            "motor.armature_resistance_ohm": "[U] a servo motor",
            "motor.armature_inductance_h": "[U] a servo motor",
            "motor.torque_constant_nm_per_a": "[U] a servo motor",
            "motor.motor_inertia_kgm2": "[U] a servo motor",
            "motor.flywheel_inertia_kgm2": "[U] no flywheel: the servo holds the speed",
            "motor.pulley_ratio": "[U] a servo motor on a short belt drive",
            "motor.thermal_resistance_k_per_w": "[U] a fan-cooled servo motor",
            "belt.roller_radius_m": "[U] 100 mm drums",
            "belt.front_roller_inertia_kgm2": "[U] 100 mm drums",
            "belt.rear_roller_inertia_kgm2": "[U] 100 mm drums",
            "belt.belt_mass_kg": "[U] a research belt",
            "belt.belt_slack_tension_n": "[U] a tight belt for fast accelerations",
            "belt.running_length_m": "[U] a 2 m research deck",
            "drive.speed_max_mps": "[U] 6 m/s (Bertec FIT5 reaches 11.5 m/s)",
            "drive.speed_min_mps": "[U] the servo holds any speed down to standstill",
            "drive.accel_mps2": "[U] 10 m/s^2 (Bertec FIT5 reaches 25 m/s^2)",
            "drive.decel_mps2": "[U] 10 m/s^2 (Bertec FIT5 reaches 25 m/s^2)",
            "drive.command_update_period_s": (
                "[C] 100 Hz speed commands (self-paced Bertec control)"),
            "drive.command_speed_step_mps": "[U] 1 mm/s command resolution",
            "drive.command_timeout_s": "[U] the drive stops 0.5 s after the host goes silent",
            "drive.ir_comp_ohm": "[U] a servo closes its loop on the encoder, not on IR drop",
            "drive.speed_gain_v_per_mps": servo,
            "drive.current_feedback_ohm": servo,
            "drive.tach_trim_gain_v_per_m": servo,
            "drive.tach_trim_limit_v": (
                "[D] the current feedback's drop at the current limit: the integral can"
                " always make it up"),
            "drive.current_limit_a": "[U] a servo drive's peak current",
            "drive.overcurrent_trip_a": "[U] above the current limit",
            "drive.quadrants": "[C] belts driven in both directions (Bertec, NJIT mocap lab)",
            **_CHOPPER_DRIVE_TAGS,
            "drive.stop_decel_mps2": (
                "[U] the machine 'stops immediately' when the magnet is pulled (h/p/cosmos);"
                " the servo's own 10 m/s^2 ramp assumed"),
            "drive.stop_power_off_s": "[U] a 6 m/s stop at 10 m/s^2 takes 0.6 s",
            "incline.incline_min_pct": "[U] -15 %: research decks decline for downhill walking",
            "incline.incline_max_pct": "[D] 15 degrees (Bertec FIT5) as a grade",
            "incline.incline_rate_pct_per_s": "[U] a fast research lift",
            "sensors.tach_pulses_per_roller_turn": (
                "[U] a 2500-line encoder read in quadrature: 10000 counts per turn"),
            "sensors.tach_timeout_s": "[U] an encoder reads standstill within 50 ms",
        },
        sources=(
            "up to 25 m/s^2 and 15 degrees, force plates: Bertec FIT5",
            "100 Hz speed command loop: self-paced Bertec control (smsong/self-paced-treadmill)",
            "'stops immediately' when the e-stop magnet is pulled: h/p/cosmos",
            "motor, drive and servo numbers: assumptions [U]",
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
