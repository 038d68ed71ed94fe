"""``treadtwin hil``: a scenario's program, controllers and supervisor against a real treadmill.

The controller stack is built exactly as for a simulated run
(:func:`.runner.build_controller`) and talks to the treadmill through a
serial :class:`~treadtwin.controllers.interface.Treadmill`: the adapter
board over treadtwin's protocol, or a Woodway or Trackmaster treadmill
directly. The run records the same ``trace.csv`` and ``summary.json`` as
a simulated one, from what the treadmill reports:

- ``belt_speed_mps``, ``incline_pct`` and ``motor_current_a`` hold the
  measured values (the hardware's best knowledge); the ``*_meas_*``
  columns repeat them;
- what hardware cannot know (the energies, the walker's position and
  state, the armature voltage, the drive's internal reference) is left
  empty, and so is anything the protocol profile cannot report (the lab
  profiles report neither current nor the key);
- criteria whose metric cannot be measured are listed under
  ``not_judged`` and do not count towards the verdict.

On the wall clock the loop's measured period, jitter and overruns go into
``loop_timing``; the link's counters into ``link``. In lockstep (the
emulator only) the board clock steps once per control period, so the run
is repeatable and directly comparable with an in-process run.
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from ..controllers.emulation import (
    CurvedEmulationParams,
    ManualEmulationParams,
    SledEmulationParams,
)
from ..controllers.interface import (
    BeltDirection,
    Command,
    Controller,
    DriveMode,
    Telemetry,
    Treadmill,
)
from ..controllers.lab_protocols import LabProfile
from ..controllers.lab_serial import LabSerialTreadmill
from ..controllers.loop import run_wall_clock
from ..controllers.self_paced import SelfPacedParams
from ..controllers.serial_adapter import LinkCounters, SerialAdapterTreadmill
from ..controllers.speed import SpeedControlParams
from ..sim.engine import Event, RunResult, lanyard_events, loop_timing, trip_events
from ..sim.layout import TRACE_DTYPE
from .criteria import CRITERIA, evaluate, interrupted_criterion
from .metrics import compute_metrics
from .runner import Recorder, ScenarioInterrupted, ScenarioResult, build_controller
from .schema import Scenario

#: Trace columns a hil run fills; the rest stay empty (NaN, or -1 for whole numbers).
MEASURED_COLUMNS = ("t_s", "belt_speed_mps", "belt_speed_cmd_mps", "belt_speed_meas_mps",
                    "incline_pct", "incline_cmd_pct", "incline_meas_pct", "motor_current_a",
                    "motor_current_meas_a", "bus_voltage_v", "motor_temp_c", "tach_pulse_count",
                    "key_present", "faults")
#: Metrics a hil run cannot compute: they need the twin's ground truth or the walker model.
UNMEASURABLE_METRICS = ("walker_fell", "min_rear_margin_m", "mean_vo2_ml_kg_min",
                        "energy_kcal", "max_balance_error_m", "energy_residual_pct",
                        "distance_m", "energy_in_j")


class Protocol(enum.Enum):
    """Which protocol the treadmill speaks."""

    TREADTWIN = "treadtwin"
    WOODWAY = "woodway"
    TRACKMASTER = "trackmaster"

    @property
    def default_baud(self) -> int:
        """The protocol's usual baud rate."""
        return 115200 if self is Protocol.TREADTWIN else LabProfile(self.value).spec.baudrate


def unreportable_needs(scenario: Scenario) -> str:
    """What the scenario's controller needs that a lab treadmill cannot report ('' if nothing)."""
    controller = scenario.controller
    if isinstance(controller, SpeedControlParams):
        return "tach pulses"
    if isinstance(controller, SelfPacedParams | CurvedEmulationParams):
        return "a walker distance sensor"
    if isinstance(controller, ManualEmulationParams | SledEmulationParams):
        return "the motor current"
    return ""


def open_treadmill(port: str, protocol: Protocol, baud: int | None = None, *,
                   lockstep: bool = False, telemetry_period_ms: int = 20,
                   seed: int | None = None) -> Any:
    """Open a serial treadmill of the given protocol (closed with ``.close()``)."""
    baud = baud or protocol.default_baud
    if protocol is Protocol.TREADTWIN:
        return SerialAdapterTreadmill(port, baudrate=baud, telemetry_period_ms=telemetry_period_ms,
                                      seed=seed).open(lockstep=lockstep)
    if lockstep:
        raise ValueError(f"--lockstep needs the treadtwin protocol; {protocol.value} treadmills"
                         " answer requests and have no board clock to step")
    return LabSerialTreadmill(port, LabProfile(protocol.value), baudrate=baud).open()


def _known(value: float | None) -> float:
    return math.nan if value is None else float(value)


#: How long an interrupted hil run waits for the belt to report standstill after its STOP.
STOP_WAIT_S = 30.0
STOPPED_BELOW_MPS = 0.05


class _Recording:
    """The controller stack, recording one trace row per tick from telemetry and command,
    and handing the new rows to a recorder once a second of run time."""

    def __init__(self, controller: Controller, treadmill: Treadmill,
                 recorder: Recorder | None = None) -> None:
        self.controller = controller
        self.treadmill = treadmill
        self.recorder = recorder
        self.period_s = controller.period_s
        self.rows: list[tuple[Any, ...]] = []
        self.commands: list[tuple[float, Command]] = []
        self.t0_s: float | None = None  # lockstep: the board time of the first tick
        self._command = Command()
        self._flushed_s = 0.0

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        command = self.controller.tick(now_s, dt_s, telemetry)
        if command is not None:
            self.commands.append((now_s, command))
            self._command = command
        sent = self._command
        sign = -1.0 if telemetry.belt_direction is BeltDirection.REVERSE else 1.0
        speed = sign * telemetry.belt_speed_mps
        cmd_sign = -1.0 if sent.belt_direction is BeltDirection.REVERSE else 1.0
        key = -1 if telemetry.key_present is None else int(telemetry.key_present)
        self.rows.append((now_s, speed, cmd_sign * sent.belt_speed_mps, speed,
                          _known(telemetry.incline_pct), sent.incline_pct,
                          _known(telemetry.incline_pct), _known(telemetry.motor_current_a),
                          _known(telemetry.motor_current_a), _known(telemetry.bus_voltage_v),
                          _known(telemetry.motor_temp_c), int(telemetry.tach_pulse_count), key,
                          int(telemetry.faults)))
        if self.recorder is not None and now_s - self._flushed_s >= 1.0:
            self._flushed_s = now_s
            self.flush(now_s)
        return command

    def trace(self, from_row: int = 0) -> np.ndarray:
        rows = self.rows[from_row:]
        trace = np.zeros(len(rows), dtype=TRACE_DTYPE)
        for name in TRACE_DTYPE.names:
            trace[name] = -1 if TRACE_DTYPE[name].kind == "i" else np.nan
        trace["walker_state"] = 0  # no walker model on hardware
        if rows:
            columns = list(zip(*rows, strict=True))
            for name, values in zip(MEASURED_COLUMNS, columns, strict=True):
                trace[name] = values
        return trace

    def events(self, trace: np.ndarray, from_row: int = 0) -> list[Event]:
        """The supervisor's interventions, the adapter's STOPPED reports (lockstep: on the
        run's clock) and the trips the reported fault flags show at rows ``from_row`` on."""
        events = [Event(i.t_s, f"supervisor_{i.action}", f"{i.rule}: {i.reason}")
                  for i in getattr(self.controller, "interventions", ())]
        events += trip_events(trace, from_row) + lanyard_events(trace, [], from_row)
        counters = getattr(self.treadmill, "counters", None)
        if self.t0_s is not None and isinstance(counters, LinkCounters):
            events += [Event(t_s - self.t0_s, "adapter_stopped", reason)
                       for t_s, reason in counters.stops]
        return sorted(events, key=lambda e: e.t_s)

    def flush(self, now_s: float) -> None:
        """The rows the recorder has not written, with one row before them for the edges."""
        recorder = self.recorder
        start = max(recorder.rows_written - 1, 0)
        chunk = self.trace(start)
        skip = recorder.rows_written - start
        recorder.append(chunk[skip:], self.events(chunk, skip), now_s)


def _stop_belt(treadmill: Treadmill, lockstep: bool) -> str:
    """After an interrupt: command a normal stop and wait (bounded) for the belt to report
    standstill. Returns what happened, in words."""
    start = time.monotonic()
    newer_than: float | None = None
    while time.monotonic() - start < STOP_WAIT_S:
        treadmill.write(Command(mode=DriveMode.STOP))
        if lockstep:  # the board clock moves only on the host's frames
            telemetry = treadmill.wait_telemetry(newer_than)  # type: ignore[attr-defined]
            newer_than = telemetry.t_s
        else:
            time.sleep(0.05)
            telemetry = treadmill.read()
        if abs(telemetry.belt_speed_mps) < STOPPED_BELOW_MPS and not telemetry.drive_enabled:
            return (f"commanded a normal stop; the belt reported standstill after"
                    f" {time.monotonic() - start:.1f} s")
    return (f"commanded a normal stop; the belt did not report standstill within"
            f" {STOP_WAIT_S:g} s: check the treadmill")


def run_hil(scenario: Scenario, treadmill: Treadmill, *, lockstep: bool = False,
            duration_s: float | None = None,
            recorder: Recorder | None = None) -> ScenarioResult:
    """Run the scenario's controller stack against ``treadmill`` and judge what can be judged.

    A ``recorder`` gets the new trace rows and events once a second of run time. On
    Ctrl-C (or SIGTERM) the belt is stopped first, then :class:`ScenarioInterrupted`
    carries the run so far, judged, with ``stopping`` saying how the belt came to rest."""
    duration_s = scenario.duration_s if duration_s is None else duration_s
    controller = build_controller(scenario)
    recording = _Recording(controller, treadmill, recorder)
    period_s = recording.period_s
    tick_times: list[float] = []
    start = time.monotonic()
    stopping: str | None = None
    try:
        if lockstep:  # the board clock steps once per frame the host sends: one per period
            newer_than: float | None = None
            for _ in range(math.ceil(duration_s / period_s - 1e-9)):  # k * period < duration
                telemetry = treadmill.wait_telemetry(newer_than)  # type: ignore[attr-defined]
                newer_than = telemetry.t_s
                if recording.t0_s is None:
                    recording.t0_s = telemetry.t_s
                command = recording.tick(round(telemetry.t_s - recording.t0_s, 9), period_s,
                                         telemetry)
                if command is not None:
                    treadmill.write(command)
                else:
                    treadmill.heartbeat()  # type: ignore[attr-defined]
        else:
            tick_times = run_wall_clock(recording, treadmill, duration_s)
    except KeyboardInterrupt:
        stopping = _stop_belt(treadmill, lockstep)
    wall_s = time.monotonic() - start
    trace = recording.trace()
    events = recording.events(trace)
    counters = getattr(treadmill, "counters", None)
    reached_s = float(trace["t_s"][-1]) if len(trace) else 0.0
    run = RunResult(trace=trace, events=events, sim_time_s=reached_s, wall_time_s=wall_s,
                    timing=loop_timing(tick_times, period_s), commands=recording.commands,
                    interrupted=stopping is not None)
    metrics = compute_metrics(trace, events, walker_mass_kg=None,
                              running_length_m=scenario.machine.belt.running_length_m)
    for name in UNMEASURABLE_METRICS:
        metrics[name] = None
    judged = [c for c in scenario.criteria if CRITERIA[c.kind].metric not in UNMEASURABLE_METRICS]
    extra: dict[str, Any] = {"mode": "hil-lockstep" if lockstep else "hil",
                             "not_judged": [c.kind for c in scenario.criteria if c not in judged]}
    if counters is not None:
        extra["link"] = counters.as_dict() if hasattr(counters, "as_dict") else asdict(counters)
    criteria = evaluate(judged, metrics, events, scenario.faults)
    if stopping is not None:
        extra["stopping"] = stopping
        criteria.append(interrupted_criterion(reached_s, duration_s))
    result = ScenarioResult(scenario=scenario, run=run, metrics=metrics, criteria=criteria,
                            extra=extra)
    if stopping is not None:
        raise ScenarioInterrupted(result)
    return result
