"""Control-quality benchmarks per controller and machine preset (issue 4).

    PYTHONPATH=. python benchmarks/bench_control_quality.py [--out FILE.md] [--quick]

For each motorized preset (``home-motorized``, ``club-motorized``,
``instrumented``) and each controller it can run, measures on the twin:

1. step response on the empty belt, 0.5 -> 1.5 m/s and back down: 10-90 %
   rise time, overshoot, 2 % settling time and the steady-state error;
2. disturbance rejection at foot strike, a 70 kg layer-2 walker at 1.2 m/s:
   mean and largest dip per step and the recovery time after each foot strike;
3. tracking error over each built-in routine (empty belt): mean and largest
   |belt - target| once settled;
4. self-paced position error (instrumented only): RMS of the walker's place
   minus the controller's reference, for walkers at 0.8, 1.2 and 1.6 m/s;
5. emulation of manual, curved and sled treadmills (instrumented, the only
   preset whose drive brakes, runs down to 0 m/s and has a distance sensor):
   a constant push against the analytic first-order response, the added mass
   at which the admittance loop starts to oscillate against the mass the
   controller refuses (also on ``club-motorized`` with its speed floor taken
   away), a walker's stride-average force against the emulated resistance,
   the sled's stop, and the curved law's position error.

Controllers:

- ``board loop only``: the program (``ProgramController``, 10 ms) straight to
  the board, whose own tach loop holds the speed; what ``treadtwin run`` does.
- ``outer speed loop``: :class:`~treadtwin.controllers.speed.SpeedController`
  in front of the board, configured for the machine (see ``speed_loop_for``).
- ``self-paced``: :class:`~treadtwin.controllers.self_paced.SelfPacedController`
  (instrumented only: it needs the walker distance sensor; only where a
  walker is on the belt).
- emulations (:mod:`treadtwin.controllers.emulation`), built by
  ``run_scenario`` from ``[controller] kind = "emulate_*"`` or directly.

Scenarios are written as TOML and validated by ``parse_scenario``; every run
has ``[supervisor] enabled = false`` so that only the controller acts. The
stack is built here as ``treadtwin/scenarios/runner.py`` builds it (the
runner knows only ``program`` and ``self_paced``); the script checks once that
its board-only build gives the runner's trace. Every metric is taken from the
true belt speed (``belt_speed_mps``), not the tach estimate.

Writes a markdown file (default ``benchmarks/control_quality.md``) with one
table per measurement. ``--quick`` shortens the sessions and the routines
(under a minute); the default is the full set (a few minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from treadtwin.controllers.emulation import (  # noqa: E402
    CurvedEmulationParams,
    ManualEmulationParams,
    ManualEmulator,
)
from treadtwin.controllers.estimation import TachSpeedEstimator  # noqa: E402
from treadtwin.controllers.interface import Controller  # noqa: E402
from treadtwin.controllers.program import ProgramController, Setpoint  # noqa: E402
from treadtwin.controllers.routines import ROUTINES  # noqa: E402
from treadtwin.controllers.self_paced import SelfPacedController, SelfPacedParams  # noqa: E402
from treadtwin.controllers.speed import SpeedController, SpeedControlParams  # noqa: E402
from treadtwin.scenarios.metrics import SETTLE_S, compute_metrics  # noqa: E402
from treadtwin.scenarios.runner import run_scenario  # noqa: E402
from treadtwin.scenarios.schema import Scenario, emulation_drive, parse_scenario  # noqa: E402
from treadtwin.scenarios.suite import builtin_suite_dir  # noqa: E402
from treadtwin.sim.engine import Engine, Event  # noqa: E402
from treadtwin.sim.machine import Machine  # noqa: E402
from treadtwin.sim.presets import preset  # noqa: E402
from treadtwin.sim.treadmill import SimulatedTreadmill  # noqa: E402
from treadtwin.sim.walker.balance import Walker, WalkerState  # noqa: E402

PRESETS = ("home-motorized", "club-motorized", "instrumented")
BOARD, SPEED, SELF_PACED = "board loop only", "outer speed loop", "self-paced"

# Step response.
STEP_LOW_MPS, STEP_HIGH_MPS = 0.5, 1.5
STEP_UP_S = 15.0  # time at the lower speed before the step up
STEP_HOLD_S = 40.0  # time after each step (an empty belt that cannot brake coasts ~20 s)
STEP_DOWN_S = STEP_UP_S + STEP_HOLD_S  # and back down
FINAL_WINDOW_S = 5.0  # the final value is the mean over the last 5 s
SETTLE_BAND = 0.02  # of the step size

# Foot strike.
WALK_MPS = 1.2
WALK_MASS_KG = 70.0
STEP_ON_S = 3.0
WALK_STEADY_FROM_S = 20.0
RECOVERY_BAND = 0.01  # of the mean speed

# Self-paced.
SELF_PACED_SPEEDS_MPS = (0.8, 1.2, 1.6)
SELF_PACED_STEADY_FROM_S = 30.0

# Emulation.
EMU_PUSH_N = 200.0  # constant push for the analytic and stability runs
EMU_PUSH_MASS_KG = 400.0  # felt mass of the analytic run (its 0.38 m/s^2 start stays in limits)
EMU_LOAD_N = 70.0 * 9.80665  # a 70 kg walker's weight on the deck (analytic run)
EMU_FILTERS_S = (0.1, 0.3, 0.5)  # force filters for the stability thresholds
EMU_OSCILLATING_MPS = 0.005  # speed swing around the local mean that counts as oscillating
CURVED_SPEEDS_MPS = (0.8, 1.2, 1.6)
EMU_STEADY_FROM_S = 30.0

#: Routine parameters: the full run uses each routine's defaults; --quick shortens them.
QUICK_ROUTINE_ARGS = {
    "beginner-backward-progression": {"hold_s": 30},
    "backward-warmup": {"minutes": 1, "ramp_hold_s": 10},
    "forward-backward-intervals": {"repeats": 1, "forward_s": 30, "backward_s": 30, "turn_s": 5},
    "hill": {"step_s": 20},
}


# --- building and running a controller stack ---------------------------------------------------
def speed_loop_for(machine: Machine) -> tuple[SpeedControlParams, Callable[[], TachSpeedEstimator]]:
    """The outer speed loop as it would be configured for ``machine``.

    Gains and trim limit are the defaults (written for the MC-2100 class
    board). From the machine: the tach pitch (belt per pulse) and the board's
    command step (dithering), the command period (the board's latch period),
    the lowest and top speeds, the estimator's model of the board ramp, and
    the command slew at 0.8 x the board's slower ramp (0.4 m/s^2 on
    home-motorized, the default). On home-motorized this is the configuration
    of tests/test_speed_control.py (defaults plus pitch and PWM step) with the
    output floor at the machine's lowest speed, as a user would set it. (An
    earlier version of the loop could send an exact 0, a stop, from a floor of
    0 while an empty belt coasted down; it no longer does.)
    """
    drive = machine.drive
    pitch_m = machine.belt.roller_circumference_m / machine.sensors.tach_pulses_per_roller_turn
    params = SpeedControlParams(
        period_s=drive.command_update_period_s,
        command_step_mps=drive.command_speed_step_mps,
        output_min_mps=drive.speed_min_mps,
        output_max_mps=drive.speed_max_mps,
        rate_limit_mps2=0.8 * min(drive.accel_mps2, drive.decel_mps2),
    )

    def estimator() -> TachSpeedEstimator:
        return TachSpeedEstimator(pitch_m, model_accel_mps2=drive.accel_mps2,
                                  model_decel_mps2=drive.decel_mps2)

    return params, estimator


class _StrikeWalker(Walker):
    """The layer-2 walker, noting the time of each foot contact while it walks."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.contacts_s: list[float] = []

    def act(self, now_s: float, treadmill) -> float | None:
        wait = super().act(now_s, treadmill)
        if self.state is WalkerState.WALKING:
            self.contacts_s.append(now_s)
        return wait


@dataclass
class Run:
    """One finished run: trace, events, foot contacts, the program's target per row."""

    trace: np.ndarray
    events: list[Event]
    contacts_s: np.ndarray
    target_mps: np.ndarray
    wall_s: float
    metrics: dict = field(default_factory=dict)


def make_controller(kind: str, scenario: Scenario) -> Controller:
    """The controller stack ``kind`` for a scenario (no supervisor: benchmarks have it off)."""
    program = ProgramController(scenario.program, period_s=scenario.engine.control_period_s)
    if kind == BOARD:
        return program
    if kind == SPEED:
        params, estimator = speed_loop_for(scenario.machine)
        return SpeedController(program, params, estimator())
    if kind == SELF_PACED:
        return SelfPacedController(program, self_paced_params(scenario) or SelfPacedParams())
    raise ValueError(f"unknown controller {kind!r}")


def self_paced_params(scenario: Scenario) -> SelfPacedParams | None:
    """The scenario's ``[controller] kind = "self_paced"`` parameters, if any (the field
    is ``Scenario.controller``; older versions named it ``Scenario.self_paced``)."""
    for name in ("controller", "self_paced"):
        value = getattr(scenario, name, None)
        if isinstance(value, SelfPacedParams):
            return value
    return None


def program_target(setpoints: tuple[Setpoint, ...], t_s: np.ndarray) -> np.ndarray:
    """The program's speed at each time (ProgramController.command_at, vectorised)."""
    times = np.array([sp.at_s for sp in setpoints])
    speeds = np.array([0.0] + [sp.speed_mps for sp in setpoints])
    return speeds[np.searchsorted(times, t_s + 1e-9, side="right")]


def run_stack(scenario: Scenario, kind: str) -> Run:
    """Run ``scenario`` with controller ``kind``; built as scenarios/runner.py builds it."""
    if scenario.supervisor is not None:
        raise ValueError("benchmarks run with [supervisor] enabled = false")
    spec = scenario.engine
    machine = scenario.machine
    treadmill = SimulatedTreadmill(machine, duration_s=scenario.duration_s,
                                   physics_dt_s=spec.physics_dt_s,
                                   record_period_s=spec.record_period_s)
    walker = None
    if scenario.walker is not None:
        walker = _StrikeWalker(scenario.walker, machine.belt.running_length_m,
                               self_propelled=not machine.motorized,
                               physics_dt_s=spec.physics_dt_s,
                               record_period_s=spec.record_period_s)
    engine = Engine(treadmill, make_controller(kind, scenario), scenario.faults, walker=walker)
    start = time.perf_counter()
    result = engine.run(scenario.duration_s)
    wall_s = time.perf_counter() - start
    trace = result.trace
    metrics = compute_metrics(trace, result.events,
                              walker_mass_kg=scenario.walker.mass_kg if scenario.walker else None,
                              running_length_m=machine.belt.running_length_m)
    return Run(trace=trace, events=result.events,
               contacts_s=np.array(walker.contacts_s if walker else []),
               target_mps=program_target(scenario.program, trace["t_s"]), wall_s=wall_s,
               metrics=metrics)


def check_against_runner(preset_name: str) -> None:
    """The board-only stack built here runs the same as ``run_scenario``."""
    scenario = parse_scenario(step_scenario(preset_name), "check.toml")
    ours = run_stack(scenario, BOARD).trace
    theirs = run_scenario(scenario).run.trace
    if not np.array_equal(ours["belt_speed_mps"], theirs["belt_speed_mps"]):
        raise AssertionError(f"{preset_name}: the board-only stack differs from run_scenario")


# --- scenario text -----------------------------------------------------------------------------
def _head(name: str, duration_s: float, preset_name: str, record_s: float = 0.01) -> str:
    return (f'[scenario]\nname = "{name}"\nduration_s = {duration_s:g}\nseed = 1\n'
            f'[machine]\npreset = "{preset_name}"\n'
            f"[engine]\nrecord_period_s = {record_s:g}\n"
            "[supervisor]\nenabled = false\n")


def step_scenario(preset_name: str) -> str:
    return (_head("step", STEP_DOWN_S + STEP_HOLD_S, preset_name, record_s=0.001)
            + f"[[program]]\nat_s = 0\nspeed_mps = {STEP_LOW_MPS}\n"
            + f"[[program]]\nat_s = {STEP_UP_S:g}\nspeed_mps = {STEP_HIGH_MPS}\n"
            + f"[[program]]\nat_s = {STEP_DOWN_S:g}\nspeed_mps = {STEP_LOW_MPS}\n")


def walk_scenario(preset_name: str, duration_s: float, self_paced: bool) -> str:
    walker = f"[walker]\nmass_kg = {WALK_MASS_KG:g}\nstep_on_at_s = {STEP_ON_S:g}\n"
    if self_paced:
        walker += f"own_pace = true\npreferred_speed_mps = {WALK_MPS}\n"
        walker += '[controller]\nkind = "self_paced"\n'
    return (_head("foot-strike", duration_s, preset_name, record_s=0.001) + walker
            + f"[[program]]\nat_s = 0\nspeed_mps = {WALK_MPS}\n")


def self_paced_scenario(speed_mps: float, duration_s: float) -> str:
    return (_head("self-paced", duration_s, "instrumented")
            + f"[walker]\nmass_kg = {WALK_MASS_KG:g}\nown_pace = true\n"
            + f"preferred_speed_mps = {speed_mps}\nstep_on_at_s = 2\n"
            + '[controller]\nkind = "self_paced"\n'
            + "[[program]]\nat_s = 0\nspeed_mps = 1.0\n")


def routine_scenario(preset_name: str, routine: str, args: dict) -> str:
    end_s = ROUTINES[routine](**args)[-1].at_s
    lines = "".join(f"{key} = {value}\n" for key, value in args.items())
    return (_head(routine, end_s + 10.0, preset_name)
            + f'[routine]\nname = "{routine}"\n{lines}')


# --- measurements ------------------------------------------------------------------------------
def _first_crossing(t: np.ndarray, y: np.ndarray, level: float) -> float:
    """First time ``y`` reaches ``level`` going up, interpolated between samples."""
    above = np.flatnonzero(y >= level)
    if len(above) == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(t[0])
    return float(t[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (t[i] - t[i - 1]))


def _step_metrics(t: np.ndarray, v: np.ndarray, at_s: float, until_s: float,
                  target_mps: float) -> dict:
    """Rise, overshoot and settling of the belt after a step at ``at_s`` (up or down).

    The response is normalised, y = (v - v0) / (vf - v0), so a step down is
    measured like a step up: overshoot is then an undershoot below vf.
    """
    before = (t >= at_s - 2.0) & (t < at_s)
    window = (t >= at_s) & (t < until_s)
    v0 = float(np.mean(v[before]))
    vf = float(np.mean(v[window & (t >= until_s - FINAL_WINDOW_S)]))
    tw = t[window]
    y = (v[window] - v0) / (vf - v0)
    rise = _first_crossing(tw, y, 0.9) - _first_crossing(tw, y, 0.1)
    overshoot = max(0.0, float(np.max(y)) - 1.0) * 100.0
    outside = np.flatnonzero(np.abs(y - 1.0) > SETTLE_BAND)
    settle = 0.0 if len(outside) == 0 else float(tw[min(outside[-1] + 1, len(tw) - 1)] - at_s)
    return {"rise_s": rise, "overshoot_pct": overshoot, "settle_s": settle,
            "final_mps": vf, "ss_error_mps": vf - target_mps}


def step_response(preset_name: str, kind: str) -> dict[str, dict]:
    """0.5 -> 1.5 -> 0.5 m/s on the empty belt: each step's rise, overshoot, settling."""
    run = run_stack(parse_scenario(step_scenario(preset_name), "step.toml"), kind)
    t, v = run.trace["t_s"], run.trace["belt_speed_mps"]
    return {
        "up": _step_metrics(t, v, STEP_UP_S, STEP_DOWN_S, STEP_HIGH_MPS),
        "down": _step_metrics(t, v, STEP_DOWN_S, STEP_DOWN_S + STEP_HOLD_S + 1.0, STEP_LOW_MPS),
    }


def foot_strike(preset_name: str, kind: str, duration_s: float) -> dict:
    """A 70 kg walker at 1.2 m/s: dip per step and recovery after each foot strike.

    Per step (from one foot contact to the next, over the steady part), the
    dip is the mean speed minus the lowest belt speed in that step, as % of
    the mean speed; the recovery time runs from that minimum until the belt
    is back within 1 % of the mean (0 if it never left the band); a step whose
    belt does not recover before the next step's minimum counts as not
    recovered.
    """
    text = walk_scenario(preset_name, duration_s, self_paced=kind == SELF_PACED)
    run = run_stack(parse_scenario(text, "walk.toml"), kind)
    t, v = run.trace["t_s"], run.trace["belt_speed_mps"]
    state = run.trace["walker_state"]
    contacts = run.contacts_s[run.contacts_s >= WALK_STEADY_FROM_S]
    span = (t >= contacts[0]) & (t < contacts[-1])  # whole steps only
    mean = float(np.mean(v[span]))
    minima = []
    for start, end in zip(contacts[:-1], contacts[1:], strict=True):
        rows = np.flatnonzero((t >= start) & (t < end))
        minima.append(int(rows[np.argmin(v[rows])]))
    dips = np.array([(mean - v[i]) / mean * 100.0 for i in minima])
    recoveries = []
    band = mean * (1.0 - RECOVERY_BAND)
    for k, i in enumerate(minima):
        if v[i] >= band:
            recoveries.append(0.0)
            continue
        stop = minima[k + 1] if k + 1 < len(minima) else len(v)
        back = np.flatnonzero(v[i:stop] >= band)
        recoveries.append(float(t[i + back[0]] - t[i]) if len(back) else np.nan)
    recoveries = np.array(recoveries)
    steps = np.diff(contacts)
    return {
        "steps": len(minima), "step_time_s": float(np.mean(steps)), "mean_mps": mean,
        "offset_pct": (mean - WALK_MPS) / WALK_MPS * 100.0,
        "dip_mean_pct": float(np.mean(dips)), "dip_max_pct": float(np.max(dips)),
        "recovery_mean_s": float(np.nanmean(recoveries)) if np.isfinite(recoveries).any()
        else float("nan"),
        "recovery_max_s": float(np.nanmax(recoveries)) if np.isfinite(recoveries).any()
        else float("nan"),
        "recovered": int(np.isfinite(recoveries).sum()),
        "walking_all_along": bool(np.all(state[t >= WALK_STEADY_FROM_S]
                                         == int(WalkerState.WALKING))),
        "wall_s": run.wall_s,
    }


def tracking(preset_name: str, kind: str, routine: str, args: dict) -> dict:
    """Mean and largest |belt - program target| once settled, over a routine.

    Settled is the metric ``mean_abs_speed_error_mps``'s rule: leave out the
    first SETTLE_S s and SETTLE_S s after each change of the target, and any
    row with a board fault. The runner's metric itself compares with the
    command the board received, which for the outer loop is its trimmed
    command, not the target; it is reported alongside.
    """
    run = run_stack(parse_scenario(routine_scenario(preset_name, routine, args), "r.toml"), kind)
    t, v, target = run.trace["t_s"], run.trace["belt_speed_mps"], run.target_mps
    settled = t >= t[0] + SETTLE_S
    for row in np.flatnonzero(np.diff(target) != 0.0) + 1:
        settled &= ~((t >= t[row]) & (t < t[row] + SETTLE_S))
    settled &= run.trace["faults"] == 0
    error = np.abs(v[settled] - target[settled])
    moving = settled & (target > 0.0)
    return {"mean_mps": float(np.mean(error)), "max_mps": float(np.max(error)),
            "mean_moving_mps": float(np.mean(np.abs(v[moving] - target[moving]))),
            "max_moving_mps": float(np.max(np.abs(v[moving] - target[moving]))),
            "metric_mps": run.metrics["mean_abs_speed_error_mps"],
            "sim_s": float(t[-1]), "wall_s": run.wall_s}


def self_paced_error(speed_mps: float, duration_s: float) -> dict:
    """RMS of walker position minus the reference over the steady part, own-pace walker."""
    scenario = parse_scenario(self_paced_scenario(speed_mps, duration_s), "sp.toml")
    run = run_stack(scenario, SELF_PACED)
    trace = run.trace
    steady = trace["t_s"] >= SELF_PACED_STEADY_FROM_S
    reference = self_paced_params(scenario).reference_position_m
    error = trace["walker_pos_m"][steady] - reference
    belt = trace["belt_speed_mps"][steady]
    return {"reference_m": reference, "rms_m": float(np.sqrt(np.mean(error**2))),
            "mean_m": float(np.mean(error)), "max_m": float(np.max(np.abs(error))),
            "belt_mps": float(np.mean(belt)), "fell": bool(run.metrics["walker_fell"]),
            "wall_s": run.wall_s}


def _push_run(machine: Machine, params: ManualEmulationParams, load_n: float,
              duration_s: float) -> np.ndarray:
    """A constant push and load on an empty twin under the manual emulation at full
    resistance, no supervisor."""
    treadmill = SimulatedTreadmill(machine, duration_s)
    treadmill.set_walker_loads(EMU_PUSH_N, load_n)
    controller = ManualEmulator(ProgramController([Setpoint(0.0, resistance_level=1.0)]),
                                params)
    return Engine(treadmill, controller).run(duration_s).trace


def emulation_push_response() -> dict:
    """A constant push on the instrumented twin against the analytic response of (2).

    The push estimate passes a first-order filter (tau_f) into
    m dv/dt = F - F_dry - c v: v = v_inf (1 - (tau e^(-t/tau) - tau_f e^(-t/tau_f)) /
    (tau - tau_f)), tau = m / c. Reported: the final speed against v_inf, the time constant
    fitted on 3-20 s against m / c, and the largest deviation from the analytic curve
    after 1 s once shifted by the dead time (the belt starts when the push beats the real
    belt's static friction and the tach shows motion), with that dead time.
    """
    machine = preset("instrumented")
    params = ManualEmulationParams(drive=emulation_drive(machine),
                                   virtual_mass_kg=EMU_PUSH_MASS_KG)
    trace = _push_run(machine, params, EMU_LOAD_N, 40.0)
    t, v = trace["t_s"], trace["belt_speed_mps"]
    c = params.viscous_n_per_mps + params.eddy_max_n_per_mps
    dry = params.drag_n + params.deck_friction_coeff * EMU_LOAD_N
    tau, tau_f = params.virtual_mass_kg / c, params.force_filter_s
    v_inf = (EMU_PUSH_N - dry) / c
    tail = (t > 3.0) & (t < 20.0)
    tau_fit = -1.0 / np.polyfit(t[tail], np.log(v_inf - v[tail]), 1)[0]
    analytic = v_inf * (1 - (tau * np.exp(-t / tau) - tau_f * np.exp(-t / tau_f))
                        / (tau - tau_f))
    errors = {shift: float(np.max(np.abs(v[t > 1.0] - np.interp(t[t > 1.0] - shift, t,
                                                                  analytic))))
              for shift in np.arange(0.0, 0.5, 0.01)}
    shift = min(errors, key=errors.get)
    return {"v_inf_mps": v_inf, "final_mps": float(np.mean(v[t > 38.0])), "tau_s": tau,
            "tau_fit_s": tau_fit, "dead_time_s": float(shift), "max_dev_mps": errors[shift]}


def _oscillation_mps(trace: np.ndarray) -> float:
    late = trace["belt_speed_cmd_mps"][trace["t_s"] > trace["t_s"][-1] - 10.0]
    smooth = np.convolve(late, np.ones(201) / 201, mode="valid")
    return float(np.std(late[100:-100] - smooth))


def emulation_threshold(preset_name: str, tau_f: float, iterations: int) -> dict:
    """The added mass at which the admittance loop starts to oscillate, by bisection.

    A 200 N push on the empty belt, full resistance, no rate limits; the loop counts as
    oscillating when its command swings by more than EMU_OSCILLATING_MPS (RMS) around
    its 2 s running mean over the last 10 s of 30 s. The controller's check is bypassed
    (a drive model claiming a 1 ms delay) so that refused masses can be run. Reported
    with the controller's own model (3) and its refusal limit (twice that).
    ``club-motorized`` runs with its 0.22 m/s speed floor taken away (the emulation
    refuses a drive with one).
    """
    machine = preset(preset_name)
    if machine.drive.speed_min_mps > 0.0:
        machine = replace(machine, drive=replace(machine.drive, speed_min_mps=0.0))
    drive = emulation_drive(machine)
    inertia = drive.inertia_kg
    bypass = replace(drive, response_delay_s=0.001)

    def oscillates(added_kg: float) -> bool:
        params = ManualEmulationParams(drive=bypass, virtual_mass_kg=inertia + added_kg,
                                       force_filter_s=tau_f, accel_max_mps2=10.0,
                                       decel_max_mps2=10.0, speed_max_mps=5.0)
        return _oscillation_mps(_push_run(machine, params, 0.0, 30.0)) > EMU_OSCILLATING_MPS

    lo, hi = 0.0, 3.0 * inertia
    if not oscillates(0.02 * inertia):  # the least the bypassed check lets through
        hi = 0.02 * inertia
    else:
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if oscillates(mid) else (lo, mid)
    model = drive.min_added_mass_kg(tau_f)
    return {"inertia_kg": inertia, "delay_s": drive.response_delay_s, "lo_kg": lo, "hi_kg": hi,
            "model_kg": model, "refused_below_kg": inertia + 2.0 * model}


def _suite_scenario(name: str, extra: str = "") -> Scenario:
    text = (builtin_suite_dir() / f"{name}.toml").read_text()
    return parse_scenario(text + "\n[supervisor]\nenabled = false\n" + extra, f"{name}.toml")


def emulated_walk(name: str, windows: tuple[tuple[float, float, float], ...]) -> dict:
    """A built-in emulation scenario with the supervisor off: per steady window (from, to,
    resistance level) the belt's mean speed and ripple, the walker's stride-average force
    on the belt against the emulated resistance at that speed and load; the largest bus
    voltage and the energy into the brake resistor."""
    scenario = _suite_scenario(name)
    start = time.perf_counter()
    result = run_scenario(scenario)
    wall_s = time.perf_counter() - start
    trace, p = result.run.trace, scenario.controller
    rows = []
    for lo_s, hi_s, level in windows:
        w = trace[(trace["t_s"] >= lo_s) & (trace["t_s"] < hi_s)]
        resistance = (p.drag_n + p.deck_friction_coeff * w["walker_load_n"]
                      + level * p.pad_max_n
                      + (p.viscous_n_per_mps + level * p.eddy_max_n_per_mps)
                      * w["belt_speed_mps"])
        force, res = float(np.mean(w["walker_force_n"])), float(np.mean(resistance))
        rows.append({"window": (lo_s, hi_s), "level": level,
                     "speed_mps": float(np.mean(w["belt_speed_mps"])),
                     "ripple_mps": float(np.std(w["belt_speed_mps"])),
                     "force_n": force, "resistance_n": res,
                     "error_pct": (force - res) / res * 100.0})
    off = [e.t_s for e in result.run.events if e.kind == "step_off"]
    stop_s = None
    if off:
        t, v = trace["t_s"], np.abs(trace["belt_speed_mps"])
        stopped = t[(t > off[0]) & (v < 0.01)]
        stop_s = float(stopped[0] - off[0]) if len(stopped) else None
    return {"rows": rows, "max_bus_v": float(np.max(trace["bus_voltage_v"])),
            "brake_resistor_kj": float(trace["e_brake_resistor_j"][-1]) / 1000.0,
            "stumbles": sum(e.kind == "stumble" for e in result.run.events),
            "fell": bool(result.metrics["walker_fell"]), "stop_after_step_off_s": stop_s,
            "wall_s": wall_s}


def emulated_curved(speed_mps: float) -> dict:
    """The built-in curved scenario (supervisor off) with the walker at ``speed_mps``:
    position error against the reference and belt speed per grade, and how far the walker
    got ahead of the reference while the belt started."""
    text = (builtin_suite_dir() / "emulated-curved.toml").read_text()
    text = text.replace("preferred_speed_mps = 1.2", f"preferred_speed_mps = {speed_mps}")
    scenario = parse_scenario(text + "\n[supervisor]\nenabled = false\n", "c.toml")
    result = run_scenario(scenario)
    trace = result.run.trace
    reference = CurvedEmulationParams().reference_position_m
    rows = []
    for lo_s, hi_s, grade in ((EMU_STEADY_FROM_S, 50.0, 0.0), (70.0, 100.0, 5.0),
                              (120.0, 150.0, -5.0)):
        w = trace[(trace["t_s"] >= lo_s) & (trace["t_s"] < hi_s)]
        error = w["walker_pos_m"] - reference
        rows.append({"grade_pct": grade, "rms_m": float(np.sqrt(np.mean(error**2))),
                     "max_m": float(np.max(np.abs(error))),
                     "belt_mps": float(np.mean(w["belt_speed_mps"]))})
    start = trace[(trace["t_s"] > 2.0) & (trace["t_s"] < EMU_STEADY_FROM_S)]
    return {"rows": rows, "start_ahead_m": float(reference - np.nanmin(start["walker_pos_m"])),
            "stumbles": sum(e.kind == "stumble" for e in result.run.events),
            "fell": bool(result.metrics["walker_fell"])}


# --- output ------------------------------------------------------------------------------------
def _fmt(value: float, digits: int) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text  # no "-0.0"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()},"
            f" Python {platform.python_version()}, numpy {np.__version__}")


def _commit() -> str:
    """The commit the code is at, and whether tracked files differ from it."""
    root = Path(__file__).resolve().parents[1]

    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=root, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" with uncommitted changes to tracked files" if dirty
                     else ", no changes to tracked files")


def controller_table() -> str:
    rows = []
    for name in PRESETS:
        machine = parse_scenario(step_scenario(name), "m.toml").machine
        params, estimator = speed_loop_for(machine)
        est = estimator()
        rows.append([name, f"{params.period_s * 1000:g}", f"{est.belt_per_pulse_m:.5g}",
                     f"{params.command_step_mps:.4g}", f"{params.rate_limit_mps2:g}",
                     f"{est.model_accel_mps2:g} / {est.model_decel_mps2:g}",
                     f"{params.output_min_mps:.4g} / {params.output_max_mps:.3g}",
                     f"{params.kp:g}", f"{params.ki_per_s:g}",
                     f"{params.trim_limit_mps:g}"])
    return _table(["preset", "period (ms)", "tach pitch (m)", "command step (m/s)",
                   "slew (m/s^2)", "board ramp model up / down (m/s^2)",
                   "output min / max (m/s)", "kp",
                   "ki (1/s)", "trim limit (m/s)"], rows)


def write_report(path: Path, results: dict, args: argparse.Namespace, total_s: float,
                 routine_args: dict, walk_s: float, sp_s: float) -> None:
    command = "PYTHONPATH=. python benchmarks/bench_control_quality.py"
    if args.out != DEFAULT_OUT:
        command += f" --out {args.out}"
    if args.quick:
        command += " --quick"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Control-quality benchmarks",
        "",
        f"- Date: {now}",
        f"- Machine: {_machine_line()}",
        f"- Code: commit {_commit()}",
        f"- Command: `{command}`"
        + (" (quick: short sessions and shortened routines)" if args.quick else ""),
        f"- Run time: {total_s:.0f} s",
        "",
        "Every number below comes from one run of the command above on the twin"
        " (lockstep clock, 1 ms physics, 10 ms program tick). All runs have the safety"
        " supervisor off (`[supervisor] enabled = false`) so that only the controller acts;"
        " every metric uses the true belt speed (`belt_speed_mps`), not the tach estimate.",
        "",
        "Controllers:",
        "",
        "- **board loop only**: the program (`ProgramController`) sends its setpoint to the"
        " board, whose own tach loop (ramp, IR compensation, tach trim) holds the speed;"
        " this is what `treadtwin run` does by default.",
        "- **outer speed loop**: `SpeedController(ProgramController(...))` in front of the"
        " board (`treadtwin/controllers/speed.py`): feedforward plus PI on the"
        " `TachSpeedEstimator`'s estimate, dithering the board's command step. Gains and"
        " trim limit are the defaults; tach pitch, command step, period, lowest and top"
        " speed, the estimator's ramp model and the command slew (0.8 x the board's slower"
        " ramp) follow the machine. On `home-motorized` this is the configuration of"
        " `tests/test_speed_control.py` (defaults plus pitch and PWM step) with the output"
        " floor at the machine's lowest speed instead of 0 (a 0 is a stop to the board):",
        "",
        controller_table(),
        "",
        "- **self-paced**: `SelfPacedController` with its default parameters (reference"
        " 0.8 m from the front); instrumented only (it needs the walker distance sensor),"
        " and only with a walker on the belt.",
        "- **emulations** of manual, curved and sled treadmills"
        " (`treadtwin/controllers/emulation.py`): see the last section.",
        "",
    ]

    parts += [
        "## Step response (empty belt, 0.5 -> 1.5 -> 0.5 m/s)",
        "",
        f"The program holds {STEP_LOW_MPS} m/s for {STEP_UP_S:g} s, asks for"
        f" {STEP_HIGH_MPS} m/s for {STEP_HOLD_S:g} s, then for {STEP_LOW_MPS} m/s again for"
        f" {STEP_HOLD_S:g} s (trace at 1 ms). For each step the initial value v0 is the mean"
        " belt speed over the 2 s before it and the final value vf the mean over the last"
        f" {FINAL_WINDOW_S:g} s before the next change (or the end); with y = (v - v0) /"
        " (vf - v0), the step down is measured like the step up:",
        "",
        "- rise time: from y reaching 0.1 to y reaching 0.9 (10-90 % of the change),"
        " interpolated between samples;",
        "- overshoot: the largest y - 1 after the step, in % of the change (for the step"
        " down, how far the belt dips below vf);",
        f"- settling time: from the step until |y - 1| stays within {SETTLE_BAND:.0%};",
        "- steady-state error: vf minus the asked speed.",
        "",
    ]
    rows = [[p, c, direction, _fmt(r["rise_s"], 3), _fmt(r["overshoot_pct"], 2),
             _fmt(r["settle_s"], 2), _fmt(r["final_mps"], 4), _fmt(r["ss_error_mps"] * 1000, 1)]
            for (p, c), both in results["step"].items() for direction, r in both.items()]
    parts += [_table(["preset", "controller", "step", "rise 10-90 % (s)", "overshoot (%)",
                      "settling 2 % (s)", "final value (m/s)", "steady-state error (mm/s)"],
                     rows), ""]

    parts += [
        "## Disturbance rejection at foot strike (70 kg walker at 1.2 m/s)",
        "",
        f"A {WALK_MASS_KG:g} kg, 1.75 m layer-2 walker (`[walker]` with its defaults: the"
        f" `balance` layer, facing the console) steps"
        f" on at {STEP_ON_S:g} s onto a belt asked for {WALK_MPS} m/s; the session runs"
        f" {walk_s:g} s and the measurement covers the whole steps from {WALK_STEADY_FROM_S:g} s"
        " on (trace at 1 ms). The foot contacts are the walker's own (each call of"
        " `Walker.act` while walking). For the self-paced row the walker walks at its own"
        " 1.2 m/s (`own_pace = true`) and the belt follows it.",
        "",
        "- mean speed: mean belt speed over those steps; offset: its error against 1.2 m/s;",
        "- dip: per step (one foot contact to the next), the mean speed minus the lowest"
        " belt speed in that step, in % of the mean speed; mean and largest over the steps;",
        f"- recovery: from that minimum until the belt is back within {RECOVERY_BAND:.0%} of"
        " the mean speed (0 if the dip stayed within it); a step that is not back before"
        " the next step's minimum does not recover (the `recovered` column counts those that"
        " did; the times average those).",
        "",
    ]
    rows = [[p, c, str(r["steps"]), _fmt(r["step_time_s"], 3), _fmt(r["mean_mps"], 4),
             _fmt(r["offset_pct"], 2), _fmt(r["dip_mean_pct"], 2), _fmt(r["dip_max_pct"], 2),
             _fmt(r["recovery_mean_s"], 3), _fmt(r["recovery_max_s"], 3),
             f"{r['recovered']}/{r['steps']}"]
            for (p, c), r in results["walk"].items()]
    parts += [_table(["preset", "controller", "steps", "step time (s)", "mean speed (m/s)",
                      "offset (%)", "mean dip (%)", "largest dip (%)", "mean recovery (s)",
                      "longest recovery (s)", "recovered"], rows), ""]
    not_walking = [f"{p} / {c}" for (p, c), r in results["walk"].items()
                   if not r["walking_all_along"]]
    if not_walking:
        parts += ["The walker did not walk steadily throughout in: " + ", ".join(not_walking)
                  + ".", ""]

    listed = "; ".join(f"`{name}` ({', '.join(f'{k} = {v}' for k, v in a.items()) or 'defaults'})"
                       for name, a in routine_args.items())
    parts += [
        "## Tracking error over the built-in routines (empty belt)",
        "",
        f"Each routine of `treadtwin.controllers.routines.ROUTINES` by its `[routine]` table:"
        f" {listed}; the session ends 10 s after the routine's last row.",
        "",
        f"- mean and max |v - target|: the true belt speed against the program's target speed,"
        f" leaving out the first {SETTLE_S:g} s, {SETTLE_S:g} s after each change of the target"
        " and rows with a board fault (the rule of the metric `mean_abs_speed_error_mps`);"
        " the stops between blocks (target 0) count;",
        "- while moving: the same, over the rows whose target is above 0 (without the"
        " stops, where an empty belt on a drive that cannot brake coasts for longer than"
        f" {SETTLE_S:g} s);",
        "- metric: the runner's `mean_abs_speed_error_mps` on the same trace, which compares"
        " with the command the board received: for the board loop that is the target, for"
        " the outer loop its trimmed, dithered command (so not a tracking error).",
        "",
    ]
    rows = [[p, c, f"`{routine}`", _fmt(r["sim_s"], 0), _fmt(r["mean_mps"] * 1000, 2),
             _fmt(r["max_mps"] * 1000, 1), _fmt(r["mean_moving_mps"] * 1000, 2),
             _fmt(r["max_moving_mps"] * 1000, 1),
             _fmt(r["metric_mps"] * 1000 if r["metric_mps"] is not None else None, 2)]
            for (p, c, routine), r in results["routine"].items()]
    parts += [_table(["preset", "controller", "routine", "session (s)",
                      "mean abs v - target (mm/s)", "max abs v - target (mm/s)",
                      "mean while moving (mm/s)", "max while moving (mm/s)", "metric (mm/s)"],
                     rows), ""]

    parts += [
        "## Self-paced position error (instrumented)",
        "",
        f"A {WALK_MASS_KG:g} kg walker with `own_pace = true` at its preferred speed steps on"
        " at 2 s; the program starts the belt at 1.0 m/s and the self-paced controller"
        f" (defaults) follows. Session {sp_s:g} s; steady part from"
        f" {SELF_PACED_STEADY_FROM_S:g} s. Position error: `walker_pos_m` minus the"
        " controller's reference position (RMS, mean and largest |error|).",
        "",
    ]
    rows = [[f"{speed:g}", _fmt(r["reference_m"], 2), _fmt(r["rms_m"] * 1000, 1),
             _fmt(r["mean_m"] * 1000, 1), _fmt(r["max_m"] * 1000, 1), _fmt(r["belt_mps"], 4),
             "yes" if r["fell"] else "no"]
            for speed, r in results["self_paced"].items()]
    parts += [_table(["walker speed (m/s)", "reference (m)", "RMS error (mm)", "mean error (mm)",
                      "largest error (mm)", "mean belt speed (m/s)", "fell"], rows), ""]
    parts += emulation_report(results["emulation"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


def emulation_report(emu: dict) -> list[str]:
    """The emulation sections of the report."""
    push = emu["push"]
    parts = [
        "## Emulation of manual, curved and sled treadmills (instrumented)",
        "",
        "`treadtwin/controllers/emulation.py`; its docstring gives the laws and the stability"
        " analysis. Only `instrumented` can run the manual and sled emulations (a drive that"
        " brakes and runs down to 0 m/s) and the curved one (a walker distance sensor).",
        "",
        "### Constant push against the analytic response",
        "",
        f"A steady {EMU_PUSH_N:g} N push with a 70 kg walker's load on the deck (no walker"
        f" model), a {EMU_PUSH_MASS_KG:g} kg emulated belt at full eddy brake, supervisor off."
        " Analytic: the filtered push into m dv/dt = F - F_dry - c v. Time constant fitted on"
        " 3-20 s; deviation after 1 s from the analytic curve shifted by the dead time (the"
        " belt starts once the push beats the real belt's static friction).",
        "",
        _table(["final speed (m/s)", "analytic (m/s)", "time constant (s)", "m / c (s)",
                "dead time (s)", "largest deviation (mm/s)"],
               [[_fmt(push["final_mps"], 4), _fmt(push["v_inf_mps"], 4),
                 _fmt(push["tau_fit_s"], 3), _fmt(push["tau_s"], 3),
                 _fmt(push["dead_time_s"], 2), _fmt(push["max_dev_mps"] * 1000, 1)]]),
        "",
        "### Stability: added mass at which the admittance loop oscillates",
        "",
        f"A {EMU_PUSH_N:g} N push on the empty belt, no rate limits, the controller's check"
        " bypassed; bisection on the added (integrated) mass m_add, oscillating when the"
        f" command swings by more than {EMU_OSCILLATING_MPS * 1000:g} mm/s RMS about its"
        " running mean over the last 10 s of 30 s. Model: (3) of the module docstring with"
        " the drive's delay T; the controller refuses a felt mass below the drive's inertia"
        " plus twice the model's m_add. `club-motorized` with its speed floor taken away"
        " (the emulation refuses it as it is).",
        "",
    ]
    rows = []
    for (name, tau_f), r in emu["threshold"].items():
        measured = (f"< {r['hi_kg']:.2f}" if r["lo_kg"] == 0.0
                    else f"{r['lo_kg']:.2f}-{r['hi_kg']:.2f}")
        rows.append([name, _fmt(r["inertia_kg"], 1), f"{r['delay_s']:g}", f"{tau_f:g}",
                     measured, _fmt(r["model_kg"], 2), _fmt(r["refused_below_kg"], 1)])
    parts += [_table(["preset", "drive inertia (kg)", "T (s)", "force filter (s)",
                      "oscillates below m_add (kg)", "model m_add (kg)",
                      "refused below, felt (kg)"], rows), ""]
    parts += [
        "### Walker on the emulated manual treadmill and sled",
        "",
        "The built-in `emulated-manual` (70 kg walker pushing to 1.1 m/s, level 0.1 then"
        " 0.3) and `emulated-sled` (75 kg walker backwards at 0.7 m/s on 8 degrees, level"
        " 0.1, steps off at 100 s) scenarios with the supervisor off. Per steady window: belt"
        " speed and its ripple (standard deviation), the walker's mean fore-aft force on the"
        " belt against the emulated resistance at the same speed and load.",
        "",
    ]
    rows = []
    for kind in ("manual", "sled"):
        r = emu[kind]
        for row in r["rows"]:
            rows.append([kind, f"{row['window'][0]:g}-{row['window'][1]:g}", f"{row['level']:g}",
                         _fmt(row["speed_mps"], 4), _fmt(row["ripple_mps"] * 1000, 1),
                         _fmt(row["force_n"], 1), _fmt(row["resistance_n"], 1),
                         _fmt(row["error_pct"], 2), _fmt(r["max_bus_v"], 0),
                         _fmt(r["brake_resistor_kj"], 2),
                         _fmt(r["stop_after_step_off_s"], 2)
                         if r["stop_after_step_off_s"] is not None else "-",
                         str(r["stumbles"]), "yes" if r["fell"] else "no"])
    parts += [_table(["machine", "window (s)", "level", "belt (m/s)", "ripple (mm/s)",
                      "force (N)", "resistance (N)", "force error (%)", "max bus (V)",
                      "brake resistor (kJ)", "stop after step-off (s)", "stumbles", "fell"],
                     rows), ""]
    parts += [
        "### Curved: position error",
        "",
        "The built-in `emulated-curved` scenario (own-pace walker starting from a standing"
        " belt at 0.5 m/s^2, level 0-50 s, +5 % 50-100 s, -5 % 100-150 s) with the supervisor"
        " off, for walkers at three speeds. Position error: `walker_pos_m` minus the"
        " reference (1.0 m) over each grade's steady part; ahead at the start: how far the"
        " walker got in front of the reference while the belt started.",
        "",
    ]
    rows = []
    for speed, r in emu["curved"].items():
        for row in r["rows"]:
            rows.append([f"{speed:g}", f"{row['grade_pct']:+g}", _fmt(row["rms_m"] * 1000, 1),
                         _fmt(row["max_m"] * 1000, 1), _fmt(row["belt_mps"], 4),
                         _fmt(r["start_ahead_m"], 2), str(r["stumbles"]),
                         "yes" if r["fell"] else "no"])
    parts += [_table(["walker speed (m/s)", "grade (%)", "RMS error (mm)", "largest error (mm)",
                      "mean belt speed (m/s)", "ahead at the start (m)", "stumbles", "fell"],
                     rows), ""]
    return parts


# --- main --------------------------------------------------------------------------------------
DEFAULT_OUT = "benchmarks/control_quality.md"


def controllers_for(preset_name: str, walker: bool) -> list[str]:
    kinds = [BOARD, SPEED]
    if walker and parse_scenario(step_scenario(preset_name), "m.toml").machine.has_distance_sensor:
        kinds.append(SELF_PACED)
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="markdown file to write")
    parser.add_argument("--quick", action="store_true",
                        help="short sessions and shortened routines (under a minute)")
    args = parser.parse_args(argv)
    walk_s = 40.0 if args.quick else 90.0
    sp_s = 60.0 if args.quick else 120.0
    routine_args = QUICK_ROUTINE_ARGS if args.quick else {name: {} for name in ROUTINES}
    start = time.perf_counter()

    print("checking the stack against run_scenario (and loading the compiled plant)...",
          flush=True)
    for name in PRESETS:
        check_against_runner(name)
    results: dict[str, dict] = {"step": {}, "walk": {}, "routine": {}, "self_paced": {},
                                "emulation": {}}

    print("step response, 0.5 -> 1.5 -> 0.5 m/s, empty belt", flush=True)
    for name in PRESETS:
        for kind in controllers_for(name, walker=False):
            results["step"][name, kind] = step_response(name, kind)
            for direction, r in results["step"][name, kind].items():
                print(f"  {name:15s} {kind:17s} {direction:4s} rise {r['rise_s']:.3f} s,"
                      f" overshoot {r['overshoot_pct']:.2f} %, settling {r['settle_s']:.2f} s,"
                      f" final {r['final_mps']:.4f} m/s", flush=True)

    print(f"foot strike, {WALK_MASS_KG:g} kg walker at {WALK_MPS} m/s, {walk_s:g} s", flush=True)
    for name in PRESETS:
        for kind in controllers_for(name, walker=True):
            r = results["walk"][name, kind] = foot_strike(name, kind, walk_s)
            print(f"  {name:15s} {kind:17s} mean {r['mean_mps']:.4f} m/s, dip"
                  f" {r['dip_mean_pct']:.2f} % (max {r['dip_max_pct']:.2f} %), recovery"
                  f" {r['recovery_mean_s']:.3f} s ({r['recovered']}/{r['steps']} steps)",
                  flush=True)

    print("tracking over the built-in routines, empty belt", flush=True)
    for name in PRESETS:
        for kind in controllers_for(name, walker=False):
            for routine, rargs in routine_args.items():
                r = results["routine"][name, kind, routine] = tracking(name, kind, routine, rargs)
                print(f"  {name:15s} {kind:17s} {routine:30s} mean {r['mean_mps'] * 1000:.2f}"
                      f" mm/s, max {r['max_mps'] * 1000:.1f} mm/s; moving: mean"
                      f" {r['mean_moving_mps'] * 1000:.2f}, max {r['max_moving_mps'] * 1000:.1f}"
                      f" mm/s ({r['sim_s']:.0f} s in {r['wall_s']:.2f} s)", flush=True)

    print(f"self-paced position error, instrumented, {sp_s:g} s", flush=True)
    for speed in SELF_PACED_SPEEDS_MPS:
        r = results["self_paced"][speed] = self_paced_error(speed, sp_s)
        print(f"  walker {speed:g} m/s: RMS {r['rms_m'] * 1000:.1f} mm, mean"
              f" {r['mean_m'] * 1000:.1f} mm, belt {r['belt_mps']:.4f} m/s", flush=True)

    print("emulation (instrumented)", flush=True)
    emu = results["emulation"] = {}
    r = emu["push"] = emulation_push_response()
    print(f"  constant push: final {r['final_mps']:.4f} m/s (analytic {r['v_inf_mps']:.4f}),"
          f" tau {r['tau_fit_s']:.3f} s (m/c {r['tau_s']:.3f}), dead time"
          f" {r['dead_time_s']:.2f} s, largest deviation {r['max_dev_mps'] * 1000:.1f} mm/s",
          flush=True)
    filters = EMU_FILTERS_S[-1:] if args.quick else EMU_FILTERS_S
    iterations = 4 if args.quick else 7
    emu["threshold"] = {}
    for name in ("instrumented", "club-motorized"):
        for tau_f in filters:
            r = emu["threshold"][name, tau_f] = emulation_threshold(name, tau_f, iterations)
            print(f"  {name:15s} tau_f {tau_f:g} s: oscillates below {r['lo_kg']:.2f}-"
                  f"{r['hi_kg']:.2f} kg added (model {r['model_kg']:.2f} kg); refused below"
                  f" {r['refused_below_kg']:.1f} kg felt", flush=True)
    emu["manual"] = emulated_walk("emulated-manual", ((EMU_STEADY_FROM_S, 60.0, 0.1),
                                                      (90.0, 120.0, 0.3)))
    emu["sled"] = emulated_walk("emulated-sled", ((40.0, 100.0, 0.1),))
    for kind in ("manual", "sled"):
        r = emu[kind]
        for row in r["rows"]:
            print(f"  {kind:6s} level {row['level']:g}: belt {row['speed_mps']:.4f} m/s"
                  f" (ripple {row['ripple_mps'] * 1000:.1f} mm/s), force {row['force_n']:.1f} N"
                  f" against {row['resistance_n']:.1f} N ({row['error_pct']:+.2f} %)",
                  flush=True)
        print(f"  {kind:6s} bus max {r['max_bus_v']:.0f} V, brake resistor"
              f" {r['brake_resistor_kj']:.2f} kJ, stop after step-off"
              f" {r['stop_after_step_off_s']}", flush=True)
    emu["curved"] = {}
    for speed in CURVED_SPEEDS_MPS:
        r = emu["curved"][speed] = emulated_curved(speed)
        print(f"  curved walker {speed:g} m/s: "
              + ", ".join(f"{row['grade_pct']:+g} %: RMS {row['rms_m'] * 1000:.1f} mm,"
                          f" belt {row['belt_mps']:.4f}" for row in r["rows"])
              + f"; ahead at the start {r['start_ahead_m']:.2f} m", flush=True)

    total_s = time.perf_counter() - start
    out = Path(args.out)
    write_report(out, results, args, total_s, routine_args, walk_s, sp_s)
    print(f"wrote {out} ({total_s:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
