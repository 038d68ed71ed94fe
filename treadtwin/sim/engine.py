"""The engine: owns the clock, ticks the controller, injects faults, advances the plant.

simpy schedules the discrete events (controller ticks at their declared
period, fault starts and ends, the board's command timeout); between
events the plant advances in compiled fixed steps. The clock is either
lockstep (as fast as the machine allows) or scaled real time (simpy's
``RealtimeEnvironment``); the model code is the same for both, only the
environment changes. Every run reports its real-time factor; scaled runs
also report the measured controller period, its jitter and overruns.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy
import simpy.rt

from ..controllers.interface import Command, Controller, DriveMode, Fault
from .faults import PERSISTENT_KINDS, FaultKind, FaultSpec, apply_fault, end_fault
from .treadmill import SimulatedTreadmill
from .walker.balance import Walker

#: Balance error a ``walker_stumble`` fault puts in unless the scenario says otherwise [U].
DEFAULT_STUMBLE_ERROR_M = 0.25


class ClockMode(enum.Enum):
    """How simulated time relates to wall time."""

    LOCKSTEP = "lockstep"  # as fast as possible
    SCALED = "scaled"  # real time times a scale factor


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened during a run (fault, trip, stop, fall...)."""

    t_s: float
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class LoopTiming:
    """Measured controller period in a real-time run."""

    period_mean_s: float
    period_p99_s: float
    jitter_std_s: float
    overruns: int


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during :meth:`Engine.run`; ``run`` is what was reached.

    A :class:`KeyboardInterrupt`, so code that does not look for it still stops."""

    def __init__(self, run: RunResult) -> None:
        super().__init__(f"interrupted at {run.sim_time_s:.2f} s")
        self.run = run


@dataclass
class RunResult:
    """What a run produced: the trace, the events and how fast it ran."""

    trace: np.ndarray
    events: list[Event]
    sim_time_s: float
    wall_time_s: float
    timing: LoopTiming | None = None
    commands: list[tuple[float, Command]] = field(default_factory=list)
    interrupted: bool = False  # stopped short of its duration (Ctrl-C, SIGTERM)

    @property
    def real_time_factor(self) -> float:
        """Simulated seconds per wall-clock second."""
        return self.sim_time_s / self.wall_time_s if self.wall_time_s > 0 else float("inf")


class Engine:
    """Runs one controller against one simulated treadmill, with faults.

    Parameters
    ----------
    treadmill:
        The plant.
    controller:
        Ticked every ``controller.period_s``; its commands go to the board
        unless the link is down.
    faults:
        Faults to inject, in any order.
    walker:
        The person on the belt, acting at each foot contact; ``None`` for an
        empty belt.
    clock, time_scale:
        Lockstep, or scaled real time where ``time_scale`` simulated
        seconds pass per wall second.
    """

    def __init__(
        self,
        treadmill: SimulatedTreadmill,
        controller: Controller,
        faults: Sequence[FaultSpec] = (),
        clock: ClockMode = ClockMode.LOCKSTEP,
        time_scale: float = 1.0,
        walker: Walker | None = None,
        on_flush: Callable[[float], None] | None = None,
        flush_period_s: float = 1.0,
    ) -> None:
        if not controller.period_s >= treadmill.physics_dt_s:
            raise ValueError(
                f"controller period {controller.period_s} s is shorter than the physics step"
                f" {treadmill.physics_dt_s} s"
            )
        if not time_scale > 0.0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.treadmill = treadmill
        self.controller = controller
        self.faults = sorted(faults, key=lambda f: f.at_s)
        self.clock = clock
        self.time_scale = time_scale
        self.walker = walker
        # Called with the simulated time every ``flush_period_s`` (the plant brought there
        # first): a recorder streams what the run has made so far.
        self.on_flush = on_flush
        self.flush_period_s = flush_period_s
        self.events: list[Event] = []
        self.commands: list[tuple[float, Command]] = []
        self._link_up = True
        self._link_generation = 0
        self._last_sent: Command | None = None
        self._tick_wall_s: list[float] = []
        self._telemetry = None
        self.batch_ticks = True
        self._env: simpy.Environment | None = None

    # --- processes ----------------------------------------------------------------------
    def _control(self, env: simpy.Environment):
        """Tick the controller every period.

        In lockstep, ticks that fall before the next scheduled event (a fault, the
        walker's next step, the end of the run) are run back to back without going
        through the event queue: nothing can happen between them, so the order of
        events is the same as one event per tick, at a fraction of the cost.
        """
        period = self.controller.period_s
        batch = self.clock is ClockMode.LOCKSTEP and self.batch_ticks
        stamp = self._tick_wall_s.append if self.clock is ClockMode.SCALED else None
        tick_index = 0
        while True:
            self._tick(tick_index * period, period)
            if stamp is not None:
                stamp(time.perf_counter())
            tick_index += 1
            if batch:
                horizon = env.peek()
                while tick_index * period < horizon - 1e-9:
                    self._tick(tick_index * period, period)
                    tick_index += 1
            yield env.timeout(max(tick_index * period - env.now, 0.0))

    def _tick(self, now: float, period: float) -> None:
        treadmill = self.treadmill
        treadmill.advance_to(now)
        if self._link_up or self._telemetry is None:
            self._telemetry = treadmill.read()
        command = self.controller.tick(now, period, self._telemetry)
        if command is not None and command is not self._last_sent and self._link_up:
            treadmill.write(command)
            self._last_sent = command
            self.commands.append((now, command))

    def _fault(self, env: simpy.Environment, fault: FaultSpec):
        yield env.timeout(fault.at_s)
        self.treadmill.advance_to(env.now)
        if fault.kind is FaultKind.COMMS_LOSS:
            self._link_down(env)
            detail = "host-board link lost"
        elif fault.kind is FaultKind.WALKER_STUMBLE:
            if self.walker is None:
                raise ValueError("a walker_stumble fault needs a walker")
            error_m = DEFAULT_STUMBLE_ERROR_M if math.isnan(fault.severity) else fault.severity
            detail = self.walker.trip(env.now, error_m)
        else:
            detail = apply_fault(self.treadmill, fault)
        self.events.append(Event(env.now, fault.kind.value, detail))
        if fault.ends and fault.kind in PERSISTENT_KINDS:
            yield env.timeout(fault.duration_s)
            self.treadmill.advance_to(env.now)
            if fault.kind is FaultKind.COMMS_LOSS:
                self._link_up = True
                self._last_sent = None  # resend the controller's command
                detail = "host-board link back"
            else:
                detail = end_fault(self.treadmill, fault)
            self.events.append(Event(env.now, f"{fault.kind.value}_end", detail))

    def _walk(self, env: simpy.Environment):
        walker = self.walker
        yield env.timeout(walker.start(self.treadmill))
        while True:
            self.treadmill.advance_to(env.now)
            wait = walker.act(env.now, self.treadmill)
            if wait is None:
                return
            yield env.timeout(wait)

    def _flush(self, env: simpy.Environment):
        while True:
            yield env.timeout(self.flush_period_s)
            self.treadmill.advance_to(env.now)
            self.on_flush(env.now)

    def _link_down(self, env: simpy.Environment) -> None:
        self._link_up = False
        self._link_generation += 1
        timeout_s = self.treadmill.machine.drive.command_timeout_s
        if timeout_s > 0.0:
            env.process(self._board_timeout(env, timeout_s, self._link_generation))

    def _board_timeout(self, env: simpy.Environment, timeout_s: float, generation: int):
        yield env.timeout(timeout_s)
        if self._link_up or generation != self._link_generation:
            return
        self.treadmill.advance_to(env.now)
        self.treadmill.write(Command(mode=DriveMode.STOP))
        self.events.append(Event(env.now, "board_command_timeout",
                                 f"no command for {timeout_s:g} s: board stops the belt"))

    # --- running ------------------------------------------------------------------------
    def run(self, duration_s: float) -> RunResult:
        """Run to ``duration_s`` of simulated time and return the result."""
        self.start(duration_s)
        wall_start = time.perf_counter()
        try:
            self.advance(duration_s)
        except KeyboardInterrupt as stop:
            reached = self.treadmill.t_s
            run = self.finish(reached, time.perf_counter() - wall_start)
            run.interrupted = True
            raise RunInterrupted(run) from stop
        except BaseException:
            if self.walker is not None:
                self.walker.close()
            raise
        return self.finish(duration_s, time.perf_counter() - wall_start)

    def start(self, duration_s: float) -> None:
        """Set up the clock and the processes; then :meth:`advance` step by step.

        Running in steps lets a caller that owns the clock (the device
        emulator, which follows wall time or a host's ticks) interleave its own
        work between them; the order of events is the same as one ``run``.
        """
        if self.clock is ClockMode.SCALED:
            env: simpy.Environment = simpy.rt.RealtimeEnvironment(
                factor=1.0 / self.time_scale, strict=False)
        else:
            env = simpy.Environment()
        env.process(self._control(env))
        if self.on_flush is not None:
            env.process(self._flush(env))
        if self.walker is not None:
            env.process(self._walk(env))
        for fault in self.faults:
            if fault.at_s <= duration_s:
                env.process(self._fault(env, fault))
        self._env = env

    def advance(self, until_s: float) -> None:
        """Run every event up to ``until_s`` and bring the plant there."""
        if until_s > self._env.now:
            self._env.run(until=until_s)
        self.treadmill.advance_to(max(until_s, self.treadmill.t_s))

    def finish(self, duration_s: float, wall_s: float) -> RunResult:
        """Close the walker and collect the trace and every event into a :class:`RunResult`."""
        if self.walker is not None:
            self.walker.close()
        return RunResult(
            trace=self.treadmill.trace(),
            events=self.collect_events(),
            sim_time_s=duration_s,
            wall_time_s=wall_s,
            timing=self._timing(),
            commands=self.commands,
        )

    def collect_events(self, from_row: int = 0) -> list[Event]:
        """Every event so far, in time order: faults, the walker's, the supervisor's, and
        the trips and lanyard pulls the trace shows, those at trace rows ``from_row`` on
        (a recorder that has the earlier ones need not scan the whole trace again)."""
        trace = self.treadmill.trace()
        walker_events = [Event(e.t_s, e.kind, e.detail)
                         for e in (self.walker.events if self.walker else [])]
        supervisor_events = [Event(i.t_s, f"supervisor_{i.action}", f"{i.rule}: {i.reason}")
                             for i in getattr(self.controller, "interventions", ())]
        injected = [e.t_s for e in self.events if e.kind == FaultKind.LANYARD_PULL.value]
        return sorted(self.events + walker_events + supervisor_events
                      + trip_events(trace, from_row) + lanyard_events(trace, injected, from_row),
                      key=lambda e: e.t_s)

    def _timing(self) -> LoopTiming | None:
        stamps = np.asarray(self._tick_wall_s) * self.time_scale  # in simulated seconds
        return loop_timing(stamps, self.controller.period_s)


def loop_timing(tick_times_s, nominal_period_s: float) -> LoopTiming | None:
    """Measured period, its 99th percentile, jitter and overruns (later than 1.5 periods)
    of a loop's tick times; ``None`` for fewer than three ticks."""
    if len(tick_times_s) < 3:
        return None
    periods = np.diff(tick_times_s)
    return LoopTiming(
        period_mean_s=float(periods.mean()),
        period_p99_s=float(np.percentile(periods, 99)),
        jitter_std_s=float(periods.std()),
        overruns=int(np.count_nonzero(periods > 1.5 * nominal_period_s)),
    )


_TRIP_NAMES = {
    Fault.KEY_OUT: "key out: belt stopping, lift cut",
    Fault.STOP_BUTTON: "stop button: belt stopping, lift cut",
    Fault.OVERCURRENT: "drive tripped on over-current",
    Fault.OVERVOLTAGE: "drive tripped on bus over-voltage",
    Fault.OVERTEMP: "drive tripped on winding over-temperature",
    Fault.INCLINE_STALL: "incline lift stalled",
}


def lanyard_events(trace: np.ndarray, injected_s: list[float], from_row: int = 0) -> list[Event]:
    """The walker's lanyard pulling the key out: key-out edges no fault injected, at rows
    ``from_row`` on."""
    events: list[Event] = []
    first = max(from_row, 1)
    if len(trace) <= first:
        return events
    key = trace["key_present"]
    for row in np.flatnonzero((key[first:] == 0) & (key[first - 1:-1] == 1)) + first:
        t_s = float(trace["t_s"][row])
        if any(abs(t_s - s) < 0.05 for s in injected_s):
            continue
        pos = float(trace["walker_pos_m"][row - 1])
        where = f" with the walker {pos:.2f} m from the front" if math.isfinite(pos) else ""
        events.append(Event(t_s, "lanyard_pull", f"the lanyard pulled the key out{where}"))
    return events


def trip_events(trace: np.ndarray, from_row: int = 0) -> list[Event]:
    """Events for each fault flag the board raised or cleared, from the trace (the edges at
    rows ``from_row`` on; the first row is an edge from no flags)."""
    events: list[Event] = []
    if len(trace) <= from_row:
        return events
    all_flags = trace["faults"]
    flags = all_flags[from_row:]
    before = all_flags[from_row - 1:from_row] if from_row > 0 else np.zeros(1, all_flags.dtype)
    previous = np.concatenate((before, flags[:-1]))
    for row in np.flatnonzero(flags != previous) + from_row:
        now_flags, previous_flags = int(all_flags[row]), int(all_flags[row - 1]) if row else 0
        raised = now_flags & ~previous_flags
        cleared = previous_flags & ~now_flags
        t_s = float(trace["t_s"][row])
        for bit, text in _TRIP_NAMES.items():
            if raised & bit:
                events.append(Event(t_s, "safety_trip", text))
            if cleared & bit:
                events.append(Event(t_s, "safety_reset", f"cleared: {bit.name.lower()}"))
    return events
