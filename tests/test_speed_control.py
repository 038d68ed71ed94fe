"""Speed and incline control: tach estimator, outer speed loop, incline homing and calibration.

Unit tests run on the mock (and small test doubles that add what the mock
lacks: tach pulse times, a droop, a lift with a drifted sensor); closed-loop
tests run on the twin's MC-2100-class home treadmill.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from tests.support import machine_with
from treadtwin.controllers.estimation import TachSpeedEstimator
from treadtwin.controllers.incline import (
    InclineCalibration,
    InclineController,
    InclineControlParams,
    InclineState,
)
from treadtwin.controllers.interface import BeltDirection, Command, DriveMode, Telemetry
from treadtwin.controllers.mock import MockTreadmill
from treadtwin.controllers.program import ProgramController, Setpoint
from treadtwin.controllers.speed import SpeedController, SpeedControlParams
from treadtwin.controllers.units import mph_to_mps
from treadtwin.sim.engine import Engine
from treadtwin.sim.machine import Machine
from treadtwin.sim.presets import preset
from treadtwin.sim.treadmill import SimulatedTreadmill

PITCH_M = 0.251
HALF_MPH_MPS = mph_to_mps(0.5)


# --- test doubles and drivers ---------------------------------------------------------------
def _telemetry(t_s: float, pulses: int, last_pulse_t_s: float | None,
               incline_pct: float | None = None, drive_enabled: bool = True) -> Telemetry:
    return Telemetry(t_s=t_s, belt_speed_mps=0.0, belt_direction=BeltDirection.FORWARD,
                     tach_pulse_count=pulses, tach_last_pulse_t_s=last_pulse_t_s,
                     incline_pct=incline_pct, motor_current_a=None, bus_voltage_v=None,
                     key_present=True, drive_enabled=drive_enabled)


def _belt_reports(speed_mps, duration_s: float, tick_s: float = 0.05):
    """Telemetry every tick from a belt moving at ``speed_mps(t)``: exact pulse times."""
    step_s = 0.0005
    travel_m, pulses, last_pulse_t_s = 0.0, 0, None
    reports, truth = [], []
    for k in range(int(round(duration_s / step_s)) + 1):
        t_s = k * step_s
        if k % int(round(tick_s / step_s)) == 0:
            reports.append(_telemetry(t_s, pulses, last_pulse_t_s))
            truth.append(speed_mps(t_s))
        v = speed_mps(t_s + 0.5 * step_s)
        travel_m += v * step_s
        while travel_m >= (pulses + 1) * PITCH_M:
            pulses += 1
            last_pulse_t_s = t_s + step_s - (travel_m - pulses * PITCH_M) / v
    return reports, np.array(truth)


class TimedMock(MockTreadmill):
    """The mock plus the time of the last tach pulse, as a board with a timestamped tach."""

    def __init__(self, droop: float = 0.0) -> None:
        super().__init__(tach_belt_per_pulse_m=PITCH_M)
        self.droop = droop
        self._travel_m = 0.0
        self._pulse_t_s: float | None = None

    def write(self, command: Command) -> None:  # the belt runs (1 - droop) slow
        super().write(replace(command, belt_speed_mps=command.belt_speed_mps * (1 - self.droop)))

    def advance(self, dt_s: float) -> None:
        speed = super().read().belt_speed_mps
        before, after = self._travel_m, self._travel_m + speed * dt_s
        if math.floor(after / PITCH_M) > math.floor(before / PITCH_M):
            self._pulse_t_s = self.t_s + (math.floor(after / PITCH_M) * PITCH_M - before) / speed
        self._travel_m = after
        super().advance(dt_s)

    def read(self) -> Telemetry:
        return super().read()._replace(tach_last_pulse_t_s=self._pulse_t_s)


class LiftDouble:
    """A lift that positions itself at ``gain * command`` between 0 and 15 %, at 0.6 %/s;
    its sensor reads ``offset_pct`` high in 0.1 % steps (a drifted potentiometer: it keeps
    its offset on the end stop), or is absent."""

    def __init__(self, offset_pct: float = 0.0, gain: float = 1.0, sensor: bool = True,
                 start_pct: float = 4.0) -> None:
        self.t_s, self.position_pct, self.command_pct = 0.0, start_pct, start_pct
        self.offset_pct, self.gain, self.sensor = offset_pct, gain, sensor

    def read(self) -> Telemetry:
        reading = round((self.position_pct + self.offset_pct) / 0.1) * 0.1 if self.sensor else None
        return _telemetry(self.t_s, 0, None, incline_pct=reading, drive_enabled=False)

    def write(self, command: Command) -> None:
        self.command_pct = command.incline_pct

    def advance(self, dt_s: float) -> None:
        goal = min(max(self.gain * self.command_pct, 0.0), 15.0)
        error = goal - self.position_pct
        if abs(error) > 0.05 or goal in (0.0, 15.0):
            self.position_pct += max(-0.6 * dt_s, min(0.6 * dt_s, error))
        self.t_s += dt_s


def _drive(controller, treadmill, until_s: float, from_s: float = 0.0):
    """Tick a controller against a mock or double from ``from_s`` to ``until_s``; returns
    (t, command, telemetry) per tick."""
    period = controller.period_s
    log = []
    for k in range(int(round(from_s / period)), int(round(until_s / period))):
        telemetry = treadmill.read()
        command = controller.tick(k * period, period, telemetry)
        treadmill.write(command)
        log.append((k * period, command, telemetry))
        treadmill.advance(period)
    return log


def _run_twin(machine: Machine, controller, duration_s: float,
              loads: tuple[float, float] = (-80.0, 700.0)) -> np.ndarray:
    treadmill = SimulatedTreadmill(machine, duration_s)
    treadmill.set_walker_loads(force_n=loads[0], load_n=loads[1])
    return Engine(treadmill, controller).run(duration_s).trace


# --- the estimator --------------------------------------------------------------------------
def test_estimator_validates_its_inputs():
    with pytest.raises(ValueError, match=r"belt_per_pulse_m = 0.0 is outside"):
        TachSpeedEstimator(belt_per_pulse_m=0.0)
    with pytest.raises(ValueError, match="stopped_after_s"):
        TachSpeedEstimator(stopped_after_s=-1.0)
    with pytest.raises(ValueError, match="went back"):
        estimator = TachSpeedEstimator()
        estimator.update(_telemetry(1.0, 0, None))
        estimator.update(_telemetry(0.5, 0, None))


@pytest.mark.parametrize("commanded_mps", [None, HALF_MPH_MPS])
def test_estimator_at_half_mph_is_within_half_a_percent_after_two_pulses(commanded_mps):
    true_mps = PITCH_M / 1.1  # pulses 1.1 s apart: 0.228 m/s, 0.51 mph
    reports, truth = _belt_reports(lambda t: true_mps, 8.0)
    estimator = TachSpeedEstimator(PITCH_M)
    second_pulse_s = None
    for telemetry, v in zip(reports, truth, strict=True):
        estimate = estimator.update(telemetry, commanded_mps)
        if telemetry.tach_pulse_count >= 2:
            second_pulse_s = second_pulse_s or telemetry.t_s
            assert estimator.measured
            assert abs(estimate - v) / v < 0.005, (telemetry.t_s, estimate, v)
    assert 2.2 <= second_pulse_s <= 2.3


def test_estimator_falls_as_pitch_over_time_when_the_belt_stops_between_pulses():
    true_mps = PITCH_M / 1.1
    stop_s = 4.0  # the belt jams; the command (the model) still says 0.5 mph
    reports, _ = _belt_reports(lambda t: true_mps if t < stop_s else 0.0, 10.0)
    estimator = TachSpeedEstimator(PITCH_M, stopped_after_s=3.0)
    last_pulse_s = max(r.tach_last_pulse_t_s for r in reports if r.tach_last_pulse_t_s)
    after = []
    for telemetry in reports:
        estimate = estimator.update(telemetry, HALF_MPH_MPS)
        if telemetry.t_s > last_pulse_s:
            age_s = telemetry.t_s - last_pulse_s
            assert estimate <= PITCH_M / age_s + 1e-12
            after.append((age_s, estimate))
    ages, estimates = np.array(after).T
    assert np.all(np.diff(estimates) <= 1e-12)  # never rises again
    assert estimates[np.searchsorted(ages, 2.0)] < 0.126  # pitch / 2 s
    assert np.all(estimates[ages > 3.0] == 0.0)  # timed out: stopped
    assert estimator.measured  # "stopped" is a reading the speed loop may act on


def test_model_carries_the_estimate_through_a_ramp_between_pulses():
    def speed(t_s):  # 0.5 mph, then the board ramps at 0.5 m/s^2 to 1 m/s, 3 % slow
        return 0.97 * min(HALF_MPH_MPS + 0.5 * max(t_s - 5.0, 0.0), 1.0)

    reports, truth = _belt_reports(speed, 9.0)
    with_model, tach_only = TachSpeedEstimator(PITCH_M), TachSpeedEstimator(PITCH_M)
    errors = {"model": [], "tach": []}
    for telemetry, v in zip(reports, truth, strict=True):
        command = HALF_MPH_MPS if telemetry.t_s < 5.0 else 1.0
        e_model = with_model.update(telemetry, command) - v
        e_tach = tach_only.update(telemetry) - v
        if 5.0 <= telemetry.t_s < 7.0:  # the ramp
            errors["model"].append(e_model)
            errors["tach"].append(e_tach)
    rms = {k: float(np.sqrt(np.mean(np.square(e)))) for k, e in errors.items()}
    assert rms["model"] < 0.02
    assert rms["model"] < rms["tach"] / 4


def test_estimator_on_the_mock_without_pulse_times_uses_the_tick_times():
    mock = MockTreadmill(tach_belt_per_pulse_m=PITCH_M)
    mock.write(Command(belt_speed_mps=HALF_MPH_MPS))
    estimator = TachSpeedEstimator(PITCH_M)
    errors = []
    for _ in range(500):  # 10 s at 50 Hz
        estimate = estimator.update(mock.read(), HALF_MPH_MPS)
        if mock.read().tach_pulse_count >= 2:
            errors.append(abs(estimate - HALF_MPH_MPS) / HALF_MPH_MPS)
        mock.advance(0.02)
    assert errors and max(errors) < 0.02  # one 20 ms tick in a 1.12 s pulse interval


# --- the speed loop on the mock -------------------------------------------------------------
def test_speed_params_name_the_bad_field():
    with pytest.raises(ValueError, match=r"SpeedControlParams.kp = 1.5 is outside 0..0.9"):
        SpeedControlParams(kp=1.5)
    with pytest.raises(ValueError, match="output_min_mps"):
        SpeedControlParams(output_min_mps=3.0, output_max_mps=2.0)


def test_rate_limit_is_honoured_and_a_stop_is_not_delayed():
    params = SpeedControlParams(rate_limit_mps2=0.4)

    def target(t_s):
        return 0.0 if t_s >= 12.0 else (3.0 if t_s >= 2.0 else 0.5)

    log = _drive(SpeedController(target, params), TimedMock(), 14.0)
    speeds = np.array([c.belt_speed_mps for _, c, _ in log])
    times = np.array([t for t, _, _ in log])
    running = times < 12.0
    assert np.max(np.abs(np.diff(speeds[running]))) <= 0.4 * params.period_s + 1e-9
    assert abs(speeds[np.searchsorted(times, 11.9)] - 3.0) < 0.01  # and it got there
    assert np.all(speeds[~running] == 0.0)  # the stop goes straight through


def test_anti_windup_no_overshoot_after_saturation():
    params = SpeedControlParams(output_max_mps=2.0)
    controller = SpeedController(lambda t: 3.0 if t < 8.0 else 1.5, params)
    mock = TimedMock()
    saturated = _drive(controller, mock, 8.0)
    assert saturated[-1][1].belt_speed_mps == pytest.approx(2.0)  # held at the output limit
    assert controller.integral_mps == 0.0  # 1 m/s of error for 3 s, and nothing wound up
    after = _drive(controller, mock, 16.0, from_s=8.0)
    settled = np.array([c.belt_speed_mps for t, c, _ in after if t >= 9.5])
    # A wound-up integral would hold the command up to the trim limit (0.3 m/s) high; what
    # is left is the estimator's window lagging the end of the ramp down (2 mm/s).
    assert np.all(np.abs(settled - 1.5) < 0.005)


@pytest.mark.parametrize("droop", [0.1, 0.4])
def test_outer_loop_removes_a_droop_within_its_trim_limit(droop):
    params = SpeedControlParams()
    log = _drive(SpeedController(lambda t: 1.0, params), TimedMock(droop=droop), 20.0)
    commands = np.array([c.belt_speed_mps for _, c, _ in log])
    belt = np.array([tm.belt_speed_mps for *_, tm in log])[-40:]  # the last 2 s
    assert np.max(commands) <= 1.0 + params.trim_limit_mps + 1e-12
    if droop * 1.0 / (1.0 - droop) <= params.trim_limit_mps:  # within authority: removed
        assert np.all(np.abs(belt - 1.0) < 0.003)
    else:  # beyond it: the trim stops at its limit
        assert commands[-1] == pytest.approx(1.0 + params.trim_limit_mps)


def test_speed_loop_keeps_the_sources_other_fields_and_passes_a_stop_through():
    class Source:  # a workout that asks for a controlled stop at 2 s
        period_s = 0.05

        def tick(self, now_s, dt_s, telemetry):
            mode = DriveMode.NORMAL if now_s < 2.0 else DriveMode.STOP
            return Command(1.2, incline_pct=3.0, resistance_level=0.2, mode=mode)

    controller = SpeedController(Source())
    log = _drive(controller, TimedMock(droop=0.05), 4.0)
    assert all(c.incline_pct == 3.0 and c.resistance_level == 0.2 for _, c, _ in log)
    assert all(c == Command(1.2, 3.0, mode=DriveMode.STOP, resistance_level=0.2)
               for t, c, _ in log if t >= 2.0)  # untouched: the board ramps it down
    assert controller.integral_mps == 0.0


# --- closed loop on the twin ----------------------------------------------------------------
def _steady_error_mps(trace: np.ndarray, target_mps: float, from_s: float) -> tuple[float, float]:
    """(mean, rms) of true belt speed minus target after ``from_s``."""
    error = trace["belt_speed_mps"][trace["t_s"] >= from_s] - target_mps
    return float(np.mean(error)), float(np.sqrt(np.mean(error**2)))


@pytest.mark.parametrize("target_mps", [HALF_MPH_MPS, 0.6, 1.0, 1.5])
def test_outer_loop_removes_the_mc2100_steady_error_under_load(target_mps):
    machine = preset("home-motorized")
    program = [Setpoint(0.0, target_mps)]
    # The controller is configured with the machine's pitch and PWM step, as it would be from
    # the board's data and a calibration run; the reference's 0.251 m against the twin's
    # 0.2513 m would leave a 0.13 % scale error.
    estimator = TachSpeedEstimator(machine.belt.roller_circumference_m)
    params = SpeedControlParams(command_step_mps=machine.drive.command_speed_step_mps)
    alone = _run_twin(machine, ProgramController(program, period_s=0.05), 35.0)
    looped = _run_twin(machine, SpeedController(ProgramController(program), params, estimator),
                       35.0)
    mean_alone, rms_alone = _steady_error_mps(alone, target_mps, 15.0)
    mean_looped, rms_looped = _steady_error_mps(looped, target_mps, 15.0)
    assert abs(mean_alone) > 0.001  # the 8-bit PWM step and the board's loop leave an offset
    assert abs(mean_looped) < 0.001
    assert abs(mean_looped) < abs(mean_alone) / 2
    assert rms_looped < max(rms_alone / 2, 0.002)  # dithered fast: no slow wander either


def test_without_the_pwm_step_the_loop_still_fixes_the_mean_by_a_slow_limit_cycle():
    machine = preset("home-motorized")
    program = [Setpoint(0.0, 1.0)]
    estimator = TachSpeedEstimator(machine.belt.roller_circumference_m)
    looped = _run_twin(machine, SpeedController(ProgramController(program), estimator=estimator),
                       35.0)
    mean_looped, rms_looped = _steady_error_mps(looped, 1.0, 15.0)
    assert abs(mean_looped) < 0.002  # the board alone: -0.0107 m/s
    assert rms_looped < 0.0125  # but it wanders across one PWM step (0.0248 m/s)


def test_outer_loop_holds_speed_on_a_drive_without_its_own_loop():
    machine = machine_with("home-motorized", drive={"tach_trim_gain_v_per_m": 0.0,
                                                    "ir_comp_ohm": 0.0})
    program = [Setpoint(0.0, 1.0)]
    params = SpeedControlParams(kp=0.5, ki_per_s=2.0, trim_limit_mps=1.5)
    estimator = TachSpeedEstimator(machine.belt.roller_circumference_m)
    alone = _run_twin(machine, ProgramController(program, period_s=0.05), 30.0)
    looped = _run_twin(machine, SpeedController(ProgramController(program), params, estimator),
                       30.0)
    assert _steady_error_mps(alone, 1.0, 15.0)[0] < -0.5  # open loop: the load stalls it half
    assert abs(_steady_error_mps(looped, 1.0, 15.0)[0]) < 0.002


def test_estimator_tracks_the_twin_at_half_mph_and_after_a_stop():
    machine = preset("home-motorized")
    program = ProgramController([Setpoint(0.0, HALF_MPH_MPS), Setpoint(20.0, 0.0)],
                                period_s=0.05)
    estimator = TachSpeedEstimator(machine.belt.roller_circumference_m)
    treadmill = SimulatedTreadmill(machine, 26.0)
    treadmill.set_walker_loads(force_n=-80.0, load_n=700.0)
    rows = []

    class Recorder:  # the program drives; the estimator watches, told the commanded speed
        period_s = program.period_s

        def tick(self, now_s, dt_s, telemetry):
            commanded = program.command_at(now_s - dt_s).belt_speed_mps
            rows.append((now_s, estimator.update(telemetry, commanded),
                         treadmill.truth_belt_speed_mps(), telemetry.belt_speed_mps,
                         telemetry.tach_pulse_count))
            return program.tick(now_s, dt_s, telemetry)

    Engine(treadmill, Recorder()).run(26.0)
    t_s, estimate, truth, board, pulses = np.array(rows).T
    # The load holds the belt at 0.13 m/s for seconds while the model says 0.22: the first
    # pulse, 2.4 s after the start, bounds the mean since the start and pulls the estimate down.
    first_interval = pulses == 1
    assert np.max(estimate[first_interval] - truth[first_interval]) < 0.01
    # Under this load the board itself takes ~10 s to settle at 0.5 mph; from there on:
    steady = (t_s > 12.0) & (t_s < 20.0)
    assert np.max(np.abs(estimate[steady] - truth[steady]) / truth[steady]) < 0.01
    stopping = t_s >= 20.0
    assert np.max(estimate[stopping] - truth[stopping]) < 0.02  # never stale-high...
    assert np.max(board[stopping] - truth[stopping]) > 0.1  # ...as the board's own reading is
    assert np.all(estimate[t_s > 20.5] < 0.005)


# --- incline --------------------------------------------------------------------------------
def test_incline_params_and_table_are_validated():
    with pytest.raises(ValueError, match=r"deadband_pct = 5 is outside"):
        InclineControlParams(deadband_pct=5)
    with pytest.raises(ValueError, match="must rise"):
        InclineCalibration(((0.0, 0.0), (5.0, 6.0), (10.0, 5.5)))
    table = InclineCalibration(((10.0, 9.0), (0.0, 0.0), (15.0, 13.0)))
    assert table.command_for_pct(4.5) == pytest.approx(5.0)
    assert table.command_for_pct(11.0) == pytest.approx(12.5)


def _incline_twin(home: bool) -> tuple[np.ndarray, InclineController]:
    machine = preset("home-motorized")
    machine = replace(machine, incline=replace(machine.incline, incline_sensor_offset_pct=1.2))
    controller = InclineController(ProgramController([Setpoint(0.0, 0.0, incline_pct=5.0)]),
                                   InclineControlParams(home_on_start=home))
    return _run_twin(machine, controller, 15.0, loads=(0.0, 0.0)), controller


def test_incline_homing_zeroes_a_sensor_offset_on_the_twin():
    trace, controller = _incline_twin(home=True)
    unhomed, _ = _incline_twin(home=False)
    assert controller.state is InclineState.TRACKING
    assert abs(trace["incline_pct"][-1] - 5.0) <= 0.1
    assert abs(trace["incline_meas_pct"][-1] - controller.sensor_offset_pct - 5.0) <= 0.1
    # Not homed, the loop trusts a sensor that reads 1.2 % high and sets the deck 1.2 % low.
    assert abs(unhomed["incline_pct"][-1] - 3.8) <= 0.1


def test_homing_records_a_potentiometer_offset_that_stays():
    lift = LiftDouble(offset_pct=1.2, start_pct=4.0)
    controller = InclineController(lambda t: 6.0)
    log = _drive(controller, lift, 30.0)
    assert controller.sensor_offset_pct == pytest.approx(1.2, abs=0.05)
    assert abs(lift.position_pct - 6.0) <= 0.15
    homed_at = next(t for t, c, _ in log if c.incline_pct >= 0.0)
    assert 7.0 < homed_at < 9.0  # 4 % down at 0.6 %/s, then 1 s still on the stop


def test_homing_fails_on_an_implausible_offset_and_holds_the_lift_down():
    lift = LiftDouble(offset_pct=7.0, start_pct=3.0)
    controller = InclineController(lambda t: 6.0, InclineControlParams(max_sensor_offset_pct=5.0))
    _drive(controller, lift, 20.0)
    assert controller.state is InclineState.HOMING_FAILED
    assert lift.position_pct == 0.0 and controller.sensor_offset_pct == 0.0


def test_incline_loop_corrects_a_settled_lift_and_does_not_wind_up_while_it_moves():
    lift = LiftDouble(gain=0.9, start_pct=0.0)
    controller = InclineController(lambda t: 10.0, InclineControlParams(home_on_start=False))
    log = _drive(controller, lift, 40.0)
    trims = [(t, c.incline_pct - 10.0) for t, c, _ in log]
    assert all(trim == 0.0 for t, trim in trims if t < 15.0)  # climbing: no correction yet
    assert abs(lift.position_pct - 10.0) <= 0.15
    assert abs(controller.trim_pct - 10.0 / 0.9 + 10.0) < 0.2


def test_calibration_table_corrects_commands_without_a_sensor():
    table = InclineCalibration(((0.0, 0.0), (10.0, 9.0), (15.0, 13.5)))
    for calibration, expected_pct in ((None, 4.5), (table, 5.0)):
        lift = LiftDouble(gain=0.9, sensor=False, start_pct=0.0)
        controller = InclineController(lambda t: 5.0, InclineControlParams(calibration=calibration))
        _drive(controller, lift, 15.0)
        assert controller.state is InclineState.OPEN_LOOP
        assert lift.position_pct == pytest.approx(expected_pct, abs=0.06)


def test_on_a_drive_that_cannot_brake_the_loop_lets_the_belt_coast_without_undershoot():
    # Found by benchmarks/bench_control_quality.py: on the 1-quadrant home board an empty
    # belt coasts down at about 0.06 m/s^2; the loop used to wind its trim down meanwhile
    # and the belt undershot the lower target by 15 %.
    machine = preset("home-motorized")
    params = SpeedControlParams(command_step_mps=machine.drive.command_speed_step_mps)
    estimator = TachSpeedEstimator(machine.belt.roller_circumference_m)
    program = ProgramController([Setpoint(0.0, 1.5), Setpoint(15.0, 0.5)],
                                period_s=params.period_s)
    controller = SpeedController(program, params, estimator)
    treadmill = SimulatedTreadmill(machine, 60.0)
    result = Engine(treadmill, controller).run(60.0)
    after = result.trace[result.trace["t_s"] > 15.0]
    assert np.min(after["belt_speed_mps"]) > 0.5 * (1 - 0.05)
    assert np.mean(after["belt_speed_mps"][-500:]) == pytest.approx(0.5, abs=0.01)
    # And it never asks for a zero (a stop) while the program wants the belt running.
    assert all(c.belt_speed_mps > 0.0 for _, c in result.commands)


def _scenario_speed(kind: str) -> float:
    from treadtwin.scenarios.runner import run_scenario
    from treadtwin.scenarios.schema import parse_scenario

    text = ('[scenario]\nname = "s"\nduration_s = 90\n[machine]\npreset = "home-motorized"\n'
            f'[walker]\nmass_kg = 70\nstep_on_at_s = 3\n[controller]\nkind = "{kind}"\n'
            + "".join(f"[[program]]\nat_s = {15 * i}\nspeed_mph = {0.5 * (i + 1)}\n"
                      for i in range(4)))
    trace = run_scenario(parse_scenario(text, "s.toml")).run.trace
    return float(np.mean(trace["belt_speed_mps"][trace["t_s"] > 60.0]))


def test_a_scenario_can_put_the_outer_loop_in_front_of_the_board():
    target = mph_to_mps(2.0)
    board_alone = _scenario_speed("program")
    with_loop = _scenario_speed("speed_loop")
    assert abs(with_loop - target) < 0.5 * abs(board_alone - target)
    assert with_loop == pytest.approx(target, abs=0.002)


def test_speed_loop_is_refused_on_a_machine_without_a_motor():
    from treadtwin.scenarios.schema import ScenarioError, parse_scenario

    text = ('[scenario]\nname = "s"\nduration_s = 10\n[machine]\npreset = "manual-flat"\n'
            '[controller]\nkind = "speed_loop"\n')
    with pytest.raises(ScenarioError, match="no motor to control"):
        parse_scenario(text, "s.toml")
