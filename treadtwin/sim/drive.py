"""The motor board: command input, speed ramp, speed loop, converter and DC bus.

Modelled on the ICON MC-2100 class of consumer boards (Sons of Invention,
curiouspiano, allaboutcircuits; docs/references.md): the console sends a 20 Hz PWM speed
command whose duty is capped at 85 %, so the board sees a new, quantised
target every 50 ms; the board ramps slowly to it ("normal in the treadmill
industry") and closes its own loop on the reed-switch tach. The loop here is
the usual DC-drive structure: armature voltage from the ramped reference
through the back-EMF constant, IR compensation (the boards' IR-comp trimmer),
a slow integral trim on the tach error, and a fast current limit (the
LIMIT trimmer).

The converter is an averaged chopper fed from a rectified-mains DC bus:

- 1 quadrant (MC-2100): positive voltage, positive current; when the belt is
  driven faster than the applied voltage, current stops; once the back-EMF
  exceeds the bus, current flows back through the switch's body diode and
  charges the bus (the "deadmill" regeneration the source articles warn of);
- 2 quadrants: current may reverse (regenerative braking) at positive voltage;
- 4 quadrants: either polarity (bidirectional research machines).

Regenerated energy raises the bus; a brake chopper dumps it into a resistor
above its threshold, and without one the board trips on over-voltage.
A key pull or the stop button on a drive that can brake and states a
``stop_decel_mps2`` is a controlled stop (IEC 60204-1 category 1): the drive
ramps the belt down at that rate and then removes power, at the latest
``stop_power_off_s`` after the stop. Otherwise, and on any drive trip, power
goes at once (category 0). Without power the armature is open (the belt
coasts), or shorted through a dynamic-brake resistor when the board has one.

A servo drive (the instrumented preset) closes a proportional speed loop on
its encoder (``speed_gain_v_per_mps``) and damps the armature with current
feedback (``current_feedback_ohm``); its tach trim is the loop's integral.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb

from .params import ParameterError, param, validate

INF = math.inf


@dataclass(frozen=True, slots=True)
class DriveParams:
    """Motor board: command path, ramp, speed loop, limits, converter and bus."""

    speed_max_mps: float = param(5.36, 0.5, 12.0, "top speed")
    speed_min_mps: float = param(0.22, 0.0, 2.0, "lowest non-zero speed")
    accel_mps2: float = param(0.5, 0.05, 1000.0, "board ramp up")
    decel_mps2: float = param(
        0.8, 0.05, 1000.0,
        "board ramp down (a 1-quadrant board slows no faster than the belt coasts)",
    )
    command_update_period_s: float = param(
        0.05, 0.0, 1.0, "how often the board takes a new target"
    )
    command_speed_step_mps: float = param(
        0.0248, 0.0, 0.5, "target quantum: the command's speed resolution",
    )
    command_timeout_s: float = param(
        0.1, 0.0, 10.0,
        "no command for this long and the board stops; 0 = never",
    )
    ir_comp_ohm: float = param(
        1.2, 0.0, 50.0, "IR compensation: volts added per ampere (the boards' IR-comp trimmer)"
    )
    speed_gain_v_per_mps: float = param(
        0.0, 0.0, 5000.0, "volts per m/s of tach speed error: a servo's speed loop"
    )
    current_feedback_ohm: float = param(
        0.0, 0.0, 50.0, "volts taken off per ampere: a servo's current feedback, which damps"
    )
    tach_trim_gain_v_per_m: float = param(
        8.0, 0.0, 20000.0, "integral gain on tach speed error, V per (m/s s)"
    )
    tach_trim_limit_v: float = param(20.0, 0.0, 800.0, "authority of the tach trim")
    current_limit_a: float = param(20.0, 0.5, 200.0, "fast current limit (the LIMIT trimmer)")
    overcurrent_trip_a: float = param(35.0, 0.5, 400.0, "armature over-current trip")
    armature_duty_max: float = param(0.95, 0.1, 1.0, "largest chopper duty on the armature")
    quadrants: int = param(1, 1, 4, "converter quadrants: 1, 2 or 4")
    bus_supply_v: float = param(170.0, 12.0, 800.0, "DC bus: the rectified mains peak")
    bus_capacitance_f: float = param(0.00094, 1e-5, 0.1, "DC-bus capacitor")
    bus_source_resistance_ohm: float = param(0.5, 0.01, 20.0, "mains and rectifier resistance")
    brake_resistor_ohm: float = param(INF, 1.0, INF, "brake-chopper resistor; inf = none")
    brake_chopper_on_v: float = param(200.0, 12.0, 900.0, "brake chopper switches on above")
    brake_chopper_off_v: float = param(190.0, 12.0, 900.0, "brake chopper switches off below")
    overvoltage_trip_v: float = param(230.0, 12.0, 1000.0, "bus over-voltage trip")
    stop_brake_resistance_ohm: float = param(
        INF, 0.1, INF, "armature short once a stop removes power; inf = open (coast)"
    )
    stop_decel_mps2: float = param(
        0.0, 0.0, 1000.0,
        "controlled stop on key out or stop button (IEC 60204-1 category 1); 0: power cut at"
        " once",
    )
    stop_power_off_s: float = param(
        10.0, 0.0, 120.0, "a controlled stop's power is removed this long after it began"
    )
    stop_speed_threshold_mps: float = param(0.05, 0.001, 0.5, "a stop completes below this speed",
        "[M] the twin's definition of stopped")

    def __post_init__(self) -> None:
        validate(self)
        if self.quadrants not in (1, 2, 4):
            raise ParameterError(
                f"DriveParams.quadrants = {self.quadrants!r} is not one of 1, 2, 4")
        if self.speed_min_mps > self.speed_max_mps:
            raise ParameterError(
                f"DriveParams.speed_min_mps = {self.speed_min_mps} exceeds speed_max_mps ="
                f" {self.speed_max_mps}"
            )
        if not (
            self.bus_supply_v < self.brake_chopper_off_v < self.brake_chopper_on_v
            < self.overvoltage_trip_v
        ):
            raise ParameterError(
                "DriveParams needs bus_supply_v < brake_chopper_off_v < brake_chopper_on_v <"
                f" overvoltage_trip_v, got {self.bus_supply_v}, {self.brake_chopper_off_v},"
                f" {self.brake_chopper_on_v}, {self.overvoltage_trip_v}"
            )


@nb.njit(cache=True)
def ramp_toward(ref: float, target: float, accel: float, decel: float, dt_s: float) -> float:
    """Move a signed speed reference toward its target at the board's rates.

    Speeding up (away from zero) uses ``accel``; slowing down (toward zero,
    including through zero on a direction change) uses ``decel``.
    """
    delta = target - ref
    if delta == 0.0:
        return ref
    slowing = (ref > 0.0 and delta < 0.0) or (ref < 0.0 and delta > 0.0)
    rate = decel if slowing else accel
    step = rate * dt_s
    if abs(delta) <= step:
        return target
    return ref + step if delta > 0.0 else ref - step


@nb.njit(cache=True)
def bus_voltage_after(
    bus_v: float,
    drive_current_a: float,
    supply_v: float,
    source_resistance_ohm: float,
    brake_conductance_s: float,
    capacitance_f: float,
    dt_s: float,
) -> float:
    """Exact step of the DC-bus capacitor with the drive's current held over ``dt_s``.

    ``C dV/dt = g_src (E - V) - i_drive - g_brake V`` where the rectifier
    conducts (``g_src = 1/R_src``) only while the bus is below the supply.
    """
    g_src = 1.0 / source_resistance_ohm if bus_v < supply_v else 0.0
    g = g_src + brake_conductance_s
    if g <= 0.0:
        return bus_v - drive_current_a * dt_s / capacitance_f
    v_eq = (g_src * supply_v - drive_current_a) / g
    v_new = v_eq + (bus_v - v_eq) * math.exp(-g * dt_s / capacitance_f)
    if g_src > 0.0 and v_new > supply_v and v_eq <= supply_v:
        v_new = supply_v  # the rectifier stops conducting exactly at the supply voltage
    return v_new
