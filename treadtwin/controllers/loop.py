"""The control loop: a controller and the safety supervisor, ticked at a declared period.

:class:`ControlLoop` is itself a :class:`~.interface.Controller`, so the same
object runs inside the simulation engine (which owns simulated time) and
against hardware under :func:`run_wall_clock` (which owns wall time). Each
tick gets the *measured* time since the previous one, not the nominal
period; ticks later than one period are counted as overruns.

A controller that raises an exception, or that stops answering (returns
no command) for longer than ``silence_timeout_s``, does not leave the belt
running: the supervisor latches a ``controller_fault`` stop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from .interface import Command, Controller, Telemetry, Treadmill
from .supervisor import SafetySupervisor


class ControlLoop:
    """A controller behind a supervisor; see the module docstring."""

    def __init__(self, controller: Controller, supervisor: SafetySupervisor | None = None,
                 period_s: float | None = None, silence_timeout_s: float = 0.5) -> None:
        self.controller = controller
        self.supervisor = supervisor
        self.period_s = controller.period_s if period_s is None else period_s
        if not self.period_s > 0.0:
            raise ValueError(f"period_s must be > 0, got {self.period_s!r}")
        if not silence_timeout_s > 0.0:
            raise ValueError(f"silence_timeout_s must be > 0, got {silence_timeout_s!r}")
        self.silence_timeout_s = silence_timeout_s
        self.ticks = 0
        self.overruns = 0
        self.errors: list[str] = []
        self._last_tick_s: float | None = None
        self._last_answer_s: float | None = None
        self._last_command = Command()

    @property
    def interventions(self) -> list:
        """What the supervisor did, in order (empty without a supervisor)."""
        return self.supervisor.interventions if self.supervisor is not None else []

    def tick(self, now_s: float, dt_s: float, telemetry: Telemetry) -> Command | None:
        if self._last_tick_s is not None:
            dt_s = now_s - self._last_tick_s  # measured, not nominal
            if dt_s > 1.5 * self.period_s:
                self.overruns += 1
        self._last_tick_s = now_s
        self.ticks += 1
        command: Command | None
        try:
            command = self.controller.tick(now_s, dt_s, telemetry)
        except Exception as exc:  # noqa: BLE001 - any failure of the controller stops the belt
            command = None
            self.errors.append(f"{now_s:.3f} s: {type(exc).__name__}: {exc}")
            if self.supervisor is not None:
                self.supervisor.force_stop("controller_fault",
                                           f"controller raised {type(exc).__name__}: {exc}")
        if command is not None:
            self._last_answer_s = now_s
            self._last_command = command
        elif self._last_answer_s is None:
            self._last_answer_s = now_s
        silent_s = now_s - self._last_answer_s
        if self.supervisor is None:
            return command
        if silent_s > self.silence_timeout_s:
            self.supervisor.force_stop("controller_fault",
                                       f"controller silent for {silent_s:.2f} s")
        elif command is not None:
            self.supervisor.clear_forced("controller_fault")  # healthy again; a reset may clear
        return self.supervisor.filter(now_s, dt_s, telemetry, self._last_command)


def wall_clock_ticks(period_s: float, duration_s: float,
                     clock: Callable[[], float] = time.monotonic,
                     sleep: Callable[[float], None] = time.sleep) -> Iterator[float]:
    """Sleep to each deadline, every ``period_s`` up to ``duration_s``; yield the time (s from
    the start) the tick really began. Deadlines missed while the caller worked are skipped,
    not caught up."""
    if not period_s > 0.0:
        raise ValueError(f"period_s must be > 0, got {period_s!r}")
    if not duration_s > 0.0:
        raise ValueError(f"duration_s must be > 0, got {duration_s!r}")
    start = clock()
    next_s = 0.0
    while next_s <= duration_s:
        now = clock() - start
        if now < next_s:
            sleep(next_s - now)
            now = clock() - start
        yield now
        next_s += period_s
        while next_s < clock() - start:
            next_s += period_s


def run_wall_clock(loop: Controller, treadmill: Treadmill, duration_s: float,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> list[float]:
    """Run a controller (usually a :class:`ControlLoop`) against a (real) treadmill in
    wall-clock time.

    Returns the measured tick times (s, from the start) for period and jitter
    statistics. Deadline overruns are counted by the loop itself.
    """
    ticks: list[float] = []
    for now in wall_clock_ticks(loop.period_s, duration_s, clock, sleep):
        ticks.append(now)
        command = loop.tick(now, loop.period_s, treadmill.read())
        if command is not None:
            treadmill.write(command)
    return ticks
