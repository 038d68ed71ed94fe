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
from ..controllers.interface import BeltDirection, Command, Controller, Telemetry, Treadmill
from ..controllers.lab_protocols import LabProfile
from ..controllers.lab_serial import LabSerialTreadmill
from ..controllers.loop import run_wall_clock
from ..controllers.self_paced import SelfPacedParams
from ..controllers.serial_adapter import LinkCounters, SerialAdapterTreadmill
from ..controllers.speed import SpeedControlParams
from ..sim.engine import Event, RunResult, lanyard_events, loop_timing, trip_events
from ..sim.layout import TRACE_DTYPE
from .criteria import CRITERIA, evaluate
from .metrics import compute_metrics
from .runner import ScenarioResult, build_controller
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


class _Recording:
    """The controller stack, recording one trace row per tick from telemetry and command."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.period_s = controller.period_s
        self.rows: list[tuple[Any, ...]] = []
        self.commands: list[tuple[float, Command]] = []
        self._command = Command()

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
        return command

    def trace(self) -> np.ndarray:
        trace = np.zeros(len(self.rows), dtype=TRACE_DTYPE)
        for name in TRACE_DTYPE.names:
            trace[name] = -1 if TRACE_DTYPE[name].kind == "i" else np.nan
        trace["walker_state"] = 0  # no walker model on hardware
        if self.rows:
            columns = list(zip(*self.rows, strict=True))
            for name, values in zip(MEASURED_COLUMNS, columns, strict=True):
                trace[name] = values
        return trace


def run_hil(scenario: Scenario, treadmill: Treadmill, *, lockstep: bool = False,
            duration_s: float | None = None) -> ScenarioResult:
    """Run the scenario's controller stack against ``treadmill`` and judge what can be judged."""
    duration_s = scenario.duration_s if duration_s is None else duration_s
    controller = build_controller(scenario)
    recording = _Recording(controller)
    period_s = recording.period_s
    tick_times: list[float] = []
    start = time.monotonic()
    t0: float | None = None
    if lockstep:  # the board clock steps once per frame the host sends: one per period
        newer_than: float | None = None
        for _ in range(math.ceil(duration_s / period_s - 1e-9)):  # ticks at k * period < duration
            telemetry = treadmill.wait_telemetry(newer_than)  # type: ignore[attr-defined]
            newer_than = telemetry.t_s
            t0 = telemetry.t_s if t0 is None else t0
            command = recording.tick(round(telemetry.t_s - t0, 9), period_s, telemetry)
            if command is not None:
                treadmill.write(command)
            else:
                treadmill.heartbeat()  # type: ignore[attr-defined]
    else:
        tick_times = run_wall_clock(recording, treadmill, duration_s)
    wall_s = time.monotonic() - start
    trace = recording.trace()
    events = [Event(i.t_s, f"supervisor_{i.action}", f"{i.rule}: {i.reason}")
              for i in getattr(controller, "interventions", ())]
    events += trip_events(trace) + lanyard_events(trace, [])  # from the reported fault flags
    counters = getattr(treadmill, "counters", None)
    if lockstep and isinstance(counters, LinkCounters):  # board time is the run's time
        events += [Event(t_s - (t0 or 0.0), "adapter_stopped", reason)
                   for t_s, reason in counters.stops]
    events.sort(key=lambda e: e.t_s)
    run = RunResult(trace=trace, events=events, sim_time_s=float(trace["t_s"][-1]) if len(trace)
                    else 0.0, wall_time_s=wall_s, timing=loop_timing(tick_times, period_s),
                    commands=recording.commands)
    metrics = compute_metrics(trace, events, walker_mass_kg=None,
                              running_length_m=scenario.machine.belt.running_length_m)
    for name in UNMEASURABLE_METRICS:
        metrics[name] = None
    judged = [c for c in scenario.criteria if CRITERIA[c.kind].metric not in UNMEASURABLE_METRICS]
    extra: dict[str, Any] = {"mode": "hil-lockstep" if lockstep else "hil",
                             "not_judged": [c.kind for c in scenario.criteria if c not in judged]}
    if counters is not None:
        extra["link"] = counters.as_dict() if hasattr(counters, "as_dict") else asdict(counters)
    return ScenarioResult(scenario=scenario, run=run, metrics=metrics,
                          criteria=evaluate(judged, metrics, events, scenario.faults), extra=extra)
